/* bench_matmul_views.c - cost per task of a tiled matmul whose tiles are
 * views of one buffer per matrix ("views") against the same DAG with one
 * buffer per tile ("tiles"): the interval index should make both cost the
 * same. Tile-major storage, 16x16 float tiles, one AIC kernel per
 * (i, j, k); the chip shape comes from the environment.
 *   bench_matmul_views views|tiles <tiles per side> */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "examples.h"
#include "strata.h"

#define TILE STRATA_EXAMPLE_TILE
#define TB (TILE * TILE * sizeof(float))

typedef struct job {
  int views;
  uint32_t nt, kernel;
  float *a, *b, *c;
} job;

/* Tile (r, c) of matrix m: a view of the whole matrix, or its own buffer. */
static strata_tensor tile(const job *j, float *m, uint32_t r, uint32_t c) {
  size_t off = ((size_t)r * j->nt + c) * TB;
  if (!j->views) return strata_tensor_external((char *)m + off, TB, STRATA_DT_F32);
  strata_tensor all = strata_tensor_external(m, TB * j->nt * j->nt, STRATA_DT_F32);
  return strata_tensor_view(&all, off, TB);
}

static void orch(strata_orch *o, void *arg) {
  const job *j = arg;
  for (uint32_t k = 0; k < j->nt; k++)
    for (uint32_t i = 0; i < j->nt; i++)
      for (uint32_t jj = 0; jj < j->nt; jj++) {
        strata_tensor a = tile(j, j->a, i, k), b = tile(j, j->b, k, jj), c = tile(j, j->c, i, jj);
        strata_args g;
        strata_args_init(&g);
        strata_args_tensor(&g, STRATA_INPUT, &a);
        strata_args_tensor(&g, STRATA_INPUT, &b);
        strata_args_tensor(&g, k ? STRATA_INOUT : STRATA_OUTPUT_EXISTING, &c);
        strata_args_scalar(&g, k != 0);
        strata_orch_submit(o, j->kernel, &g, NULL);
      }
}

int main(int argc, char **argv) {
  if (argc < 3 || (strcmp(argv[1], "views") && strcmp(argv[1], "tiles")) || atoi(argv[2]) < 1) {
    fprintf(stderr, "usage: %s views|tiles <tiles per side >= 1>\n", argv[0]);
    return 2;
  }
  job j = {strcmp(argv[1], "views") == 0, (uint32_t)atoi(argv[2]), 0, NULL, NULL, NULL};
  size_t n = (size_t)j.nt * j.nt * TILE * TILE;
  j.a = malloc(n * sizeof(float));
  j.b = malloc(n * sizeof(float));
  j.c = calloc(n, sizeof(float));
  if (!j.a || !j.b || !j.c) return 1;
  for (size_t i = 0; i < n; i++) j.a[i] = j.b[i] = (float)(i % 7) * 0.25f;
  strata_chip_config cfg;
  strata_chip_config_init(&cfg);
  strata_chip *chip;
  if (strata_chip_create(&cfg, &chip) != 0) return 1;
  strata_chip_register_kernel(chip, "gemm", strata_example_gemm_tile, STRATA_CORE_AIC, &j.kernel);
  strata_run_info info;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  int rc = strata_chip_run(chip, orch, &j, &info);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
  printf("impl=strata mode=%s tasks=%llu seconds=%.6f us_per_task=%.3f check=%s\n", argv[1],
         (unsigned long long)info.tasks_completed, s, s * 1e6 / (double)info.tasks_completed,
         rc == 0 && info.tasks_completed == (uint64_t)j.nt * j.nt * j.nt ? "ok" : "FAIL");
  strata_chip_destroy(chip);
  free(j.a);
  free(j.b);
  free(j.c);
  return rc == 0 ? 0 : 1;
}
