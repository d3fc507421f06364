/* strata/mpi.h - multi-host runs (SPEC §6). Under `mpirun -np H`, a root
 * worker of level >= 4 (cfg.level = 4) gets H worker children, child r hosted
 * by rank r: rank 0 runs the program's orchestration, every rank hosts one
 * L3 node (its chips and subs). The same program without mpirun forks its
 * worker children on this machine.
 *
 * On ranks other than 0, strata_node_init() does not return: the rank
 * serves its subtree for rank 0 and exits (status 0, or 1 after a failure)
 * when rank 0 closes the worker. So only rank 0 runs the code after init
 * (and prints). A program that creates several multi-host workers one after
 * the other calls strata_mpi_serve_return(1) on every rank: then init on a
 * rank other than 0 returns STRATA_MPI_SERVED once rank 0 closed the worker
 * (close it and go on to the next, as rank 0 does); MPI stays up until the
 * process exits. Registrations before init happen on every rank (same
 * program, same ids); callables registered later travel by name.
 *
 * Environment: STRATA_MPI=0 runs a local tree even under mpirun;
 * STRATA_MPI_PEER_TIMEOUT_MS (default 5000): a rank silent that long is
 * lost and the job ends naming it.
 */
#ifndef STRATA_MPI_H
#define STRATA_MPI_H

#include "strata/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* This process's rank under mpirun (read from the environment, valid before
 * any MPI call), 0 otherwise (or with STRATA_MPI=0). */
STRATA_API int strata_mpi_rank(void);
/* Number of ranks under mpirun, 1 otherwise. */
STRATA_API int strata_mpi_size(void);
/* 1 if this build carries the MPI transport. */
STRATA_API int strata_mpi_available(void);
/* on = 1: strata_node_init on ranks other than 0 returns STRATA_MPI_SERVED
 * after serving instead of ending the process (see above). */
STRATA_API void strata_mpi_serve_return(int on);

#ifdef __cplusplus
}
#endif
#endif
