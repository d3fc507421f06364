/* bench_mpi_pingpong.c - 8-byte MPI_Send/MPI_Recv round trip between two
 * ranks on one machine (Open MPI's shared-memory transport). */
#include <mpi.h>

#include "latency.h"

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, n = argc > 1 ? atoi(argv[1]) : 20000;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  double *s = calloc((size_t)n, sizeof(double));
  int64_t v = 0;
  for (int i = 0; i < n + 1000; i++) {
    double t0 = bench_now();
    if (rank == 0) {
      MPI_Send(&v, 1, MPI_INT64_T, 1, 0, MPI_COMM_WORLD);
      MPI_Recv(&v, 1, MPI_INT64_T, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    } else {
      MPI_Recv(&v, 1, MPI_INT64_T, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      MPI_Send(&v, 1, MPI_INT64_T, 0, 0, MPI_COMM_WORLD);
    }
    if (i >= 1000) s[i - 1000] = bench_now() - t0;
  }
  if (rank == 0) latency_report("mpi", s, n);
  free(s);
  MPI_Finalize();
  return 0;
}
