/* bench_starpu.c - the same tiny-task workloads on StarPU (task_insert with
 * data handles in R/RW/W modes; dependencies are StarPU's sequential
 * consistency). Worker count from STARPU_NCPU. */
#include <starpu.h>
#include <stdatomic.h>

#include "bench.h"

static _Atomic uint64_t hits;

static void tiny(void *buffers[], void *cl_arg) {
  (void)buffers;
  (void)cl_arg;
  atomic_fetch_add_explicit(&hits, 1, memory_order_relaxed);
}

static struct starpu_codelet cl = {
    .cpu_funcs = {tiny}, .nbuffers = STARPU_VARIABLE_NBUFFERS, .name = "tiny"};

static void fan(uint64_t n, starpu_data_handle_t x, starpu_data_handle_t *y) {
  struct starpu_data_descr join[FAN_W + 1];
  for (int i = 0; i < FAN_W; i++) join[i] = (struct starpu_data_descr){y[i], STARPU_R};
  join[FAN_W] = (struct starpu_data_descr){x, STARPU_RW};
  for (uint64_t g = 0; g < fan_groups(n); g++) {
    starpu_task_insert(&cl, STARPU_RW, x, 0);
    for (int i = 0; i < FAN_W; i++) starpu_task_insert(&cl, STARPU_R, x, STARPU_W, y[i], 0);
    starpu_task_insert(&cl, STARPU_DATA_MODE_ARRAY, join, FAN_W + 1, 0);
  }
}

int main(int argc, char **argv) {
  const char *w;
  uint64_t n;
  if (bench_args(argc, argv, &w, &n)) return 2;
  if (starpu_init(NULL) != 0) return 77;
  int64_t cell = 0, ys[FAN_W] = {0};
  starpu_data_handle_t x, y[FAN_W];
  starpu_variable_data_register(&x, STARPU_MAIN_RAM, (uintptr_t)&cell, sizeof(cell));
  for (int i = 0; i < FAN_W; i++)
    starpu_variable_data_register(&y[i], STARPU_MAIN_RAM, (uintptr_t)&ys[i], sizeof(ys[i]));
  double t0 = bench_now();
  uint64_t tasks = n;
  if (strcmp(w, "fan") == 0) {
    fan(n, x, y);
    tasks = fan_groups(n) * (FAN_W + 2);
  } else {
    int chain = strcmp(w, "chain") == 0;
    for (uint64_t i = 0; i < n; i++)
      chain ? starpu_task_insert(&cl, STARPU_RW, x, 0) : starpu_task_insert(&cl, 0);
  }
  starpu_task_wait_for_all();
  double dt = bench_now() - t0;
  bench_report("starpu", w, tasks, dt, atomic_load(&hits) == tasks);
  starpu_data_unregister(x);
  for (int i = 0; i < FAN_W; i++) starpu_data_unregister(y[i]);
  starpu_shutdown();
  return 0;
}
