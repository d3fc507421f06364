/* matmul.c - tiled matrix multiply C = A * B on AIC cores. Matrices are
 * stored tile-major in one buffer each; every task names its tiles as views
 * of that buffer, so ordering comes from address-range overlap. */
#include <math.h>
#include <stdlib.h>

#include "examples.h"

#define TILE 16

/* C_tile (+)= A_tile * B_tile; scalar 0 = accumulate flag (also the
 * kernel of bench/bench_matmul_views.c). */
void strata_example_gemm_tile(strata_kernel_ctx *k) {
  const float *a = strata_kernel_tensor(k, 0)->data, *b = strata_kernel_tensor(k, 1)->data;
  float *c = strata_kernel_tensor(k, 2)->data;
  int acc = strata_kernel_scalar(k, 0) != 0;
  for (int i = 0; i < TILE; i++)
    for (int j = 0; j < TILE; j++) {
      float s = acc ? c[i * TILE + j] : 0.0f;
      for (int x = 0; x < TILE; x++) s += a[i * TILE + x] * b[x * TILE + j];
      c[i * TILE + j] = s;
    }
}

typedef struct mm_job {
  uint32_t kernel, nt; /* tiles per side */
  float *a, *b, *c;
} mm_job;

static size_t tile_off(const mm_job *j, uint32_t ti, uint32_t tj) {
  return ((size_t)ti * j->nt + tj) * TILE * TILE * sizeof(float);
}

static void mm_orch(strata_orch *o, void *arg) {
  mm_job *j = arg;
  size_t tb = TILE * TILE * sizeof(float), all = tb * j->nt * j->nt;
  strata_tensor A = strata_tensor_external(j->a, all, STRATA_DT_F32);
  strata_tensor B = strata_tensor_external(j->b, all, STRATA_DT_F32);
  strata_tensor C = strata_tensor_external(j->c, all, STRATA_DT_F32);
  for (uint32_t k = 0; k < j->nt; k++)
    for (uint32_t i = 0; i < j->nt; i++)
      for (uint32_t jj = 0; jj < j->nt; jj++) {
        strata_tensor a = strata_tensor_view(&A, tile_off(j, i, k), tb);
        strata_tensor b = strata_tensor_view(&B, tile_off(j, k, jj), tb);
        strata_tensor c = strata_tensor_view(&C, tile_off(j, i, jj), tb);
        strata_args g;
        strata_args_init(&g);
        strata_args_tensor(&g, STRATA_INPUT, &a);
        strata_args_tensor(&g, STRATA_INPUT, &b);
        strata_args_tensor(&g, k ? STRATA_INOUT : STRATA_OUTPUT_EXISTING, &c);
        strata_args_scalar(&g, k != 0);
        strata_orch_submit(o, j->kernel, &g, NULL);
      }
}

/* Element (r, c) of a tile-major matrix. */
static float *at(const mm_job *j, float *m, uint32_t r, uint32_t c) {
  return m + tile_off(j, r / TILE, c / TILE) / sizeof(float) + (r % TILE) * TILE + c % TILE;
}

static void check(const mm_job *j, strata_example_result *r) {
  uint32_t n = j->nt * TILE;
  double worst = 0;
  for (uint32_t x = 0; x < n; x++)
    for (uint32_t y = 0; y < n; y++) {
      double s = 0;
      for (uint32_t z = 0; z < n; z++) s += (double)*at(j, j->a, x, z) * *at(j, j->b, z, y);
      double err = fabs(s - *at(j, j->c, x, y)) / (fabs(s) + 1.0);
      if (err > worst) worst = err;
    }
  r->check = worst < 1e-4;
  snprintf(r->detail, sizeof(r->detail), "%ux%u matrix, %u^3 tile tasks, max rel err %.2e",
           n, n, j->nt, worst);
  for (r->nvalues = 0; r->nvalues < 4; r->nvalues++) r->values[r->nvalues] = *at(j, j->c, 0, (uint32_t)r->nvalues);
}

int strata_example_matmul(const strata_example_opts *o, strata_example_result *r) {
  uint32_t n = o->size ? o->size : 128;
  mm_job j = {0, (n + TILE - 1) / TILE, NULL, NULL, NULL};
  size_t elems = (size_t)j.nt * j.nt * TILE * TILE;
  strata_chip *chip;
  if (strata_example_chip(o, r, &chip)) return r->status;
  j.a = malloc(elems * sizeof(float));
  j.b = malloc(elems * sizeof(float));
  j.c = calloc(elems, sizeof(float));
  if (!j.a || !j.b || !j.c) {
    strata_example_nomem(r, "the three matrices", "--size");
    goto out;
  }
  srand((unsigned)o->seed);
  for (size_t i = 0; i < elems; i++) {
    j.a[i] = (float)(rand() % 17) / 8.0f - 1.0f;
    j.b[i] = (float)(rand() % 13) / 6.0f - 1.0f;
  }
  r->status = strata_chip_register_kernel(chip, "gemm_tile", strata_example_gemm_tile, STRATA_CORE_AIC, &j.kernel);
  if (r->status == 0) r->status = strata_chip_run(chip, mm_orch, &j, &r->info);
  if (r->status == 0) check(&j, r);
out:
  strata_chip_destroy(chip);
  free(j.a);
  free(j.b);
  free(j.c);
  return r->status;
}
