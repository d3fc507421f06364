/* kernels.c - the compiled kernels of the Python package
 * (libstrata_pykernels.so), loaded by name: "libstrata_pykernels.so:strata_py_add".
 * Tensors are f32 (vector example) or f64 (stage); scalars as documented. */
#include <stddef.h>

#include "strata.h"

void strata_py_add(strata_kernel_ctx *k);
void strata_py_adds(strata_kernel_ctx *k);
void strata_py_mul(strata_kernel_ctx *k);
void strata_py_stage(strata_kernel_ctx *k);
void strata_py_fail(strata_kernel_ctx *k);
void strata_py_one_kernel(strata_orch *o, void *arg);

static size_t count(strata_kernel_ctx *k, uint32_t t, size_t size) {
  return strata_kernel_tensor(k, t)->bytes / size;
}

void strata_py_add(strata_kernel_ctx *k) { /* t2 = t0 + t1 (f32) */
  const float *a = strata_kernel_tensor(k, 0)->data, *b = strata_kernel_tensor(k, 1)->data;
  float *c = strata_kernel_tensor(k, 2)->data;
  for (size_t i = 0; i < count(k, 2, sizeof(float)); i++) c[i] = a[i] + b[i];
}

void strata_py_adds(strata_kernel_ctx *k) { /* t1 = t0 + s0 (f32; s0 an f64) */
  const float *a = strata_kernel_tensor(k, 0)->data;
  float *c = strata_kernel_tensor(k, 1)->data, s = (float)strata_kernel_scalar_f64(k, 0);
  for (size_t i = 0; i < count(k, 1, sizeof(float)); i++) c[i] = a[i] + s;
}

void strata_py_mul(strata_kernel_ctx *k) { /* t2 = t0 * t1 (f32) */
  const float *a = strata_kernel_tensor(k, 0)->data, *b = strata_kernel_tensor(k, 1)->data;
  float *c = strata_kernel_tensor(k, 2)->data;
  for (size_t i = 0; i < count(k, 2, sizeof(float)); i++) c[i] = a[i] * b[i];
}

void strata_py_stage(strata_kernel_ctx *k) { /* t1 = 2 t0 + s0 (f64) */
  const double *x = strata_kernel_tensor(k, 0)->data;
  double *y = strata_kernel_tensor(k, 1)->data, s = strata_kernel_scalar_f64(k, 0);
  for (size_t i = 0; i < count(k, 1, sizeof(double)); i++) y[i] = 2.0 * x[i] + s;
}

void strata_py_fail(strata_kernel_ctx *k) { strata_kernel_fail(k, "strata_py_fail: asked to fail"); }

/* A chip orchestration for node tasks: one kernel, named by the last
 * scalar (make_args(kernel=...) appends it: only the scalars a task has
 * travel), over the task's own args without it. */
void strata_py_one_kernel(strata_orch *o, void *arg) {
  strata_args a = *(const strata_args *)arg;
  if (a.nscalars == 0) {
    strata_orch_fatal(o, "one_kernel: the task names no kernel (make_args(kernel=...))");
    return;
  }
  uint32_t kernel = (uint32_t)a.scalars[--a.nscalars];
  a.ndeps = 0;
  strata_orch_submit(o, kernel, &a, NULL);
}
