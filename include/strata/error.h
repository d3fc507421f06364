/* strata/error.h - the one error table: status codes, names and messages.
 *
 * Every strata call returns an int: STRATA_OK (0), the positive
 * STRATA_INPROGRESS, or a negative code. Codes below -1000 are grouped in
 * ranges: -1000..-1199 chip orchestrator/scheduler codes (SPEC §2: the chip
 * code N maps to -(1000 + N)), -1200..-1299 host-side run failures,
 * -2000.. task failures, -3000.. node failures. The remaining negative codes
 * equal -errno. The detailed message of the last failure on the calling
 * thread is available from strata_last_error().
 */
#ifndef STRATA_ERROR_H
#define STRATA_ERROR_H

#include <stdint.h>

#include "strata/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* XX(NAME, value, generic message). */
#define STRATA_ERROR_MAP(XX)                                                    \
  XX(OK, 0, "success")                                                          \
  XX(INPROGRESS, 1, "operation in progress")                                    \
  XX(ENOENT, -2, "no such object")                                              \
  XX(ENOMEM, -12, "out of memory")                                              \
  XX(EBUSY, -16, "object is busy")                                              \
  XX(EEXIST, -17, "object already exists")                                      \
  XX(EINVAL, -22, "invalid argument")                                           \
  XX(ENOSPC, -28, "no space left")                                              \
  XX(ENOSYS, -38, "not implemented")                                            \
  XX(ETIMEDOUT, -110, "timed out")                                              \
  XX(ECANCELED, -125, "operation canceled")                                     \
  XX(SCOPE_DEADLOCK, -1001, "ring full of tasks held by an open scope")         \
  XX(HEAP_RING_DEADLOCK, -1002, "heap ring cannot fit the task outputs")        \
  XX(FLOW_CONTROL_DEADLOCK, -1003, "task window full with no retirement")       \
  XX(DEP_POOL_OVERFLOW, -1004, "dependency pool exhausted")                     \
  XX(INVALID_ARGS, -1005, "invalid task arguments")                             \
  XX(DEPENDENCY_OVERFLOW, -1006, "task has too many producers")                 \
  XX(REQUIRE_SYNC_START_INVALID, -1007, "sync_start task exceeds the cores")    \
  XX(TENSOR_WAIT_TIMEOUT, -1008, "waiting for a tensor timed out")              \
  XX(EXPLICIT_ORCH_FATAL, -1009, "orchestration reported a fatal error")        \
  XX(SCOPE_TASKS_OVERFLOW, -1010, "too many tasks in one scope")                \
  XX(TENSORMAP_OVERFLOW, -1011, "dependency map full")                          \
  XX(SCHEDULER_TIMEOUT, -1100, "scheduler hang detected")                       \
  XX(READY_QUEUE_OVERFLOW, -1104, "ready queue full")                           \
  XX(STREAM_SYNC_TIMEOUT, -1200, "host stream sync timed out")                  \
  XX(CHIP_WEDGED, -1201, "a thread did not stop after cancellation")            \
  XX(TASK_FAILED, -2001, "a kernel reported failure")                           \
  XX(TASK_POISONED, -2002, "task skipped: a producer failed")                   \
  XX(ENDPOINT_FAILURE, -3001, "a child endpoint died")                          \
  XX(CHILD_INIT_FAILED, -3002, "a child failed to initialise")                 \
  XX(MPI_SERVED, -3003, "this rank served its subtree for rank 0")

typedef enum strata_status {
#define STRATA_ERR_ENUM_(name, val, msg) STRATA_##name = (val),
  STRATA_ERROR_MAP(STRATA_ERR_ENUM_)
#undef STRATA_ERR_ENUM_
} strata_status;

/* Offset between a chip code of SPEC §2 (1..10, 100) and its status. */
#define STRATA_CHIP_CODE_BASE 1000

/* Generic message for a status; "unknown strata status" if not in the table.
 * Never NULL, never freed. */
STRATA_API const char *strata_strerror(int status);

/* Symbolic name ("SCHEDULER_TIMEOUT"); "UNKNOWN" if not in the table. */
STRATA_API const char *strata_err_name(int status);

/* Detailed message of the last failure reported on this thread: what went
 * wrong and how to fix it. Empty string if none. Valid until the next
 * strata call on this thread. */
STRATA_API const char *strata_last_error(void);

/* Parse the number syntax of every strata environment variable and CLI
 * option: decimal digits with an optional K, M or G suffix (x 2^10, 2^20,
 * 2^30). 0 and *out set, or EINVAL (overflow, junk, NULL) with a message. */
STRATA_API int strata_parse_u64(const char *s, uint64_t *out);

/* Chip code of SPEC §2 for a status (e.g. 100 for SCHEDULER_TIMEOUT), or 0
 * if the status is not a chip orchestrator/scheduler code. */
STRATA_API int strata_chip_code(int status);

#ifdef __cplusplus
}
#endif
#endif
