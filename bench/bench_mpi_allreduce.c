/* bench_mpi_allreduce.c - MPI_Allreduce (f32 sum) on one machine, timed as
 * in `strata bench allreduce` (src/cli/bench.c): warm-up, barrier, ITERS calls, slowest rank. */
#include <mpi.h>

#include "bench.h"

#define ITERS 20
#define MAX_BYTES (64u << 20)

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, n;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  float *in = malloc(MAX_BYTES), *out = malloc(MAX_BYTES);
  for (size_t i = 0; i < MAX_BYTES / sizeof(float); i++) in[i] = 1.0f;
  for (size_t bytes = 8; bytes <= MAX_BYTES; bytes = bytes == MAX_BYTES ? 2 * MAX_BYTES : (bytes * 4 < MAX_BYTES ? bytes * 4 : MAX_BYTES)) {
    int count = (int)(bytes / sizeof(float));
    MPI_Allreduce(in, out, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = bench_now();
    for (int i = 0; i < ITERS; i++) MPI_Allreduce(in, out, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    double t = (bench_now() - t0) / ITERS, tmax;
    MPI_Reduce(&t, &tmax, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    if (rank == 0)
      printf("impl=mpi ranks=%d bytes=%zu time_us=%.2f algbw_gbs=%.3f busbw_gbs=%.3f check=%s\n",
             n, bytes, tmax * 1e6, bytes / tmax / 1e9, bytes / tmax / 1e9 * 2.0 * (n - 1) / n,
             out[count - 1] == (float)n ? "ok" : "FAIL");
  }
  free(in);
  free(out);
  MPI_Finalize();
  return 0;
}
