/* rank.c - where this process stands under mpirun (from Open MPI's
 * environment, before any MPI call) and the claim that makes a root worker
 * of level >= 4 multi-host (level_ext.h): rank 0 keeps the worker with
 * remote children, every other rank serves its child and never returns.
 * Compiled without MPI too: then the queries work and nothing is claimed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "strata/mpi.h"
#include "platform/platform_int.h"
#if STRATA_HAVE_MPI
#include "mpi/mpi_int.h"
#endif

int strata_mpi_rank(void) { return strata__launcher_rank(); }

int strata_mpi_size(void) { return strata__launcher_size(); }

int strata_mpi_available(void) { return STRATA_HAVE_MPI; }

#if STRATA_HAVE_MPI
void strata_mpi_serve_return(int on) { strata__mpi_session.serve_return = on != 0; }
#else
void strata_mpi_serve_return(int on) { (void)on; }
#endif

#if STRATA_HAVE_MPI
int strata__mpi_env(int *rank, int *size) {
  *rank = strata_mpi_rank();
  *size = strata_mpi_size();
  return *size > 1 && *rank < *size;
}

static int active; /* one multi-host worker at a time (rank 0: until its close) */

static int claim(strata_node *n) {
  int rank = 0, size = 1;
  if (!strata__mpi_env(&rank, &size)) return 0;
  if (size > STRATA_MPI_MAX_RANKS)
    return strata__fail(STRATA_EINVAL, "mpirun started %d ranks; at most %d", size,
                        STRATA_MPI_MAX_RANKS);
  if (active)
    return strata__fail(STRATA_EBUSY, "another multi-host worker is open in this process; "
                        "close it first (one at a time, the same sequence on every rank)");
  if (strata__mpi_session.failed)
    return strata__fail(STRATA_ENDPOINT_FAILURE, "an earlier multi-host worker lost a rank; "
                        "MPI cannot be used again in this job");
  int rc = strata__level_set_workers(n, (uint32_t)size, "mpirun -np");
  if (rc == 0) rc = strata__host_start(); /* before MPI_Init and any thread */
  strata__mpi *st = rc ? NULL : strata__calloc(1, sizeof(*st));
  if (!st) return rc ? rc : strata__fail(STRATA_ENOMEM, "out of memory for the MPI transport");
  st->rank = rank;
  st->size = size;
  st->peer_timeout_ns = strata__env_u64("STRATA_MPI_PEER_TIMEOUT_MS", 5000, 100, 3600000, 0) *
                        STRATA_NS_PER_MS;
  strata__event_init(&st->wake, 0);
  if (gethostname(st->host, sizeof(st->host) - 1) != 0) st->host[0] = '\0';
  if (rank != 0) return strata__serve_rank(n, st); /* or ends the process */
  active = 1;
  st->root = n;
  strata__level_set_remote(n, &strata__bridge_ops, st);
  return 0;
}

void strata__mpi_worker_closed(void) { active = 0; }

__attribute__((constructor)) static void register_transport(void) {
  strata__level_register_transport(claim);
}
#endif
