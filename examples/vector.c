/* vector.c - the vector example: c=a+b; d=c+1; e=c+2; g=d*e; f=g+c, with
 * c, d, e, g runtime-allocated intermediates and f an external result. */
#include <stdlib.h>

#include "examples.h"

static void k_add(strata_kernel_ctx *k) { /* out = x + y */
  const float *x = strata_kernel_tensor(k, 0)->data, *y = strata_kernel_tensor(k, 1)->data;
  const strata_tensor *o = strata_kernel_tensor(k, 2);
  float *out = o->data;
  for (size_t i = 0; i < o->bytes / sizeof(float); i++) out[i] = x[i] + y[i];
}

static void k_mul(strata_kernel_ctx *k) { /* out = x * y */
  const float *x = strata_kernel_tensor(k, 0)->data, *y = strata_kernel_tensor(k, 1)->data;
  const strata_tensor *o = strata_kernel_tensor(k, 2);
  float *out = o->data;
  for (size_t i = 0; i < o->bytes / sizeof(float); i++) out[i] = x[i] * y[i];
}

static void k_adds(strata_kernel_ctx *k) { /* out = x + scalar */
  const float *x = strata_kernel_tensor(k, 0)->data;
  const strata_tensor *o = strata_kernel_tensor(k, 1);
  float s = (float)strata_kernel_scalar_f64(k, 0), *out = o->data;
  for (size_t i = 0; i < o->bytes / sizeof(float); i++) out[i] = x[i] + s;
}

typedef struct vec_job {
  uint32_t add, mul, adds, n;
  float *a, *b, *f;
} vec_job;

static void binary(strata_orch *o, uint32_t k, const strata_tensor *x, const strata_tensor *y,
                   strata_tensor *out, int existing, size_t bytes) {
  strata_args a;
  strata_args_init(&a);
  strata_args_tensor(&a, STRATA_INPUT, x);
  strata_args_tensor(&a, STRATA_INPUT, y);
  if (existing)
    strata_args_tensor(&a, STRATA_OUTPUT_EXISTING, out);
  else
    strata_args_output(&a, out, bytes, STRATA_DT_F32);
  strata_orch_submit(o, k, &a, NULL);
}

static void add_scalar(strata_orch *o, uint32_t k, const strata_tensor *x, double s,
                       strata_tensor *out, size_t bytes) {
  strata_args a;
  strata_args_init(&a);
  strata_args_tensor(&a, STRATA_INPUT, x);
  strata_args_output(&a, out, bytes, STRATA_DT_F32);
  strata_args_scalar_f64(&a, s);
  strata_orch_submit(o, k, &a, NULL);
}

static void vec_orch(strata_orch *o, void *arg) {
  vec_job *j = arg;
  size_t bytes = (size_t)j->n * sizeof(float);
  strata_tensor a = strata_tensor_external(j->a, bytes, STRATA_DT_F32);
  strata_tensor b = strata_tensor_external(j->b, bytes, STRATA_DT_F32);
  strata_tensor f = strata_tensor_external(j->f, bytes, STRATA_DT_F32);
  strata_tensor c, d, e, g;
  binary(o, j->add, &a, &b, &c, 0, bytes); /* c = a + b */
  add_scalar(o, j->adds, &c, 1.0, &d, bytes); /* d = c + 1 */
  add_scalar(o, j->adds, &c, 2.0, &e, bytes); /* e = c + 2 */
  binary(o, j->mul, &d, &e, &g, 0, bytes); /* g = d * e */
  binary(o, j->add, &g, &c, &f, 1, bytes); /* f = g + c */
}

static int register_all(strata_chip *chip, vec_job *j) {
  int rc = strata_chip_register_kernel(chip, "add", k_add, STRATA_CORE_AIV, &j->add);
  if (rc == 0) rc = strata_chip_register_kernel(chip, "mul", k_mul, STRATA_CORE_AIV, &j->mul);
  if (rc == 0) rc = strata_chip_register_kernel(chip, "adds", k_adds, STRATA_CORE_AIV, &j->adds);
  return rc;
}

static void check(vec_job *j, strata_example_result *r) {
  r->check = 1;
  for (uint32_t i = 0; i < j->n; i++) {
    float c = j->a[i] + j->b[i], want = (c + 1.0f) * (c + 2.0f) + c;
    if (j->f[i] != want) {
      r->check = 0;
      snprintf(r->detail, sizeof(r->detail), "f[%u] = %g, want %g", i, j->f[i], want);
      break;
    }
  }
  if (r->check) snprintf(r->detail, sizeof(r->detail), "f = (a+b+1)*(a+b+2)+(a+b) for %u elements", j->n);
  for (r->nvalues = 0; r->nvalues < 8 && r->nvalues < (int)j->n; r->nvalues++)
    r->values[r->nvalues] = j->f[r->nvalues];
}

int strata_example_vector(const strata_example_opts *o, strata_example_result *r) {
  vec_job j = {0, 0, 0, o->size ? o->size : 16, NULL, NULL, NULL};
  strata_chip *chip;
  if (strata_example_chip(o, r, &chip)) return r->status;
  j.a = calloc(j.n, sizeof(float));
  j.b = calloc(j.n, sizeof(float));
  j.f = calloc(j.n, sizeof(float));
  if (!j.a || !j.b || !j.f) {
    strata_example_nomem(r, "the input and result vectors", "--size");
    goto out;
  }
  for (uint32_t i = 0; i < j.n; i++) {
    j.a[i] = (float)i;
    j.b[i] = 2.0f * (float)i;
  }
  r->status = register_all(chip, &j);
  if (r->status == 0) r->status = strata_chip_run(chip, vec_orch, &j, &r->info);
  if (r->status == 0) check(&j, r);
out:
  strata_chip_destroy(chip);
  free(j.a);
  free(j.b);
  free(j.f);
  return r->status;
}
