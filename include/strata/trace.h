/* strata/trace.h - timelines (SPEC §7): record a run as Chrome trace-event
 * JSON (Perfetto UI and chrome://tracing load it), and read one back.
 *
 *   STRATA_TRACE=t.json [STRATA_TRACE_LEVEL=1..3] ./app     (or strata_trace_start)
 *   strata trace summary t.json [--json];  strata trace svg t.json -o t.svg
 *
 * A process per chip (and per level worker), a track per core, scheduler
 * and orchestrator thread; complete events for kernels (task id, kernel,
 * core, deps); STALL reports, latches and stream-sync timeouts as instant
 * events. Every chip of a node (each its own process) lands in one file, on
 * the host's one monotonic clock. Levels: 1 tasks, 2 + dispatch events and
 * ready times, 3 + dependency flows. Memory is bounded per thread
 * (STRATA_TRACE_BUFFER records of 56 B, default 262144); drops are counted in
 * the trace ("strata.dropped").
 */
#ifndef STRATA_TRACE_H
#define STRATA_TRACE_H

#include <stdio.h>

#include "strata/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Trace this process and the children it forks from now on into `path`
 * (level 1..3). EINVAL for a bad argument or an unwritable file, EBUSY if
 * already tracing, ENOSYS in a build without tracing code. */
STRATA_API int strata_trace_start(const char *path, int level);
/* Write the trace file (merging every process's events); 0 if not tracing.
 * Called at exit too. Call it once the runs (and node children) are done. */
STRATA_API int strata_trace_stop(void);

/* Summary of a trace file: per-kernel count and duration (mean, p50, p99),
 * core utilisation per chip, dispatch latency (level >= 2), the critical
 * path (level 3: its length and tasks), stall intervals. Text or JSON
 * (json != 0) to out. EINVAL naming the problem for an unreadable file. */
STRATA_API int strata_trace_summary(const char *path, FILE *out, int json);
/* A swimlane picture of a trace: a row per core, a colour per kernel,
 * dependency lines when the trace has them. */
STRATA_API int strata_trace_svg(const char *path, const char *svg_path);
/* Join the trace files of several MPI ranks into one timeline (rank 0's
 * file first, then <file>.rank1, ...: each rank writes its own, already on
 * rank 0's clock); process ids of input i are moved by i x 10^7. */
STRATA_API int strata_trace_merge(const char *out, const char *const *inputs, int n);

#ifdef __cplusplus
}
#endif
#endif
