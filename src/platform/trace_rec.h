/* trace_rec.h - the event recorder behind STRATA_TRACE (SPEC §7): per-thread
 * buffers of fixed-size records, no lock on the hot path, bounded memory
 * with a drop counter. Layers above record through the inline helpers; a
 * flush (after a run, when the recording threads are joined) turns the
 * process's records into Chrome trace-event JSON lines appended to
 * <file>.lines; the process that started tracing writes <file> when it
 * stops (strata_trace_stop or exit), merging every process's lines: all
 * chips of a node share one host clock (CLOCK_MONOTONIC).
 *
 * Levels: 0 off, 1 tasks (+ stalls, latches, timeouts), 2 + dispatch and
 * ready times, 3 + dependency edges (flows). Compiled out entirely with
 * -DSTRATA_TRACE_COMPILED=0 (the overhead baseline).
 */
#ifndef STRATA_TRACE_INT_H
#define STRATA_TRACE_INT_H

#include <stdint.h>

#include "platform/atomics.h"
#include "platform/platform_int.h"

#ifndef STRATA_TRACE_COMPILED
#define STRATA_TRACE_COMPILED 1
#endif

/* Record types. */
enum {
  STRATA_TEV_TASK = 1, /* a task ran: ts, dur, id, name, aux = core, a = ready ts */
  STRATA_TEV_DISPATCH, /* level 2: a scheduler handed task id to core aux */
  STRATA_TEV_EDGE,     /* level 3: task id waits for task a */
  STRATA_TEV_INSTANT,  /* name = a string id, id = task (or 0), a = class/detail */
  STRATA_TEV_SPAN,     /* a level task: ts, dur, id, name = function, aux = child */
  STRATA_TEV_STEP      /* a collective step: ts, dur, id = epoch, a = rank, name = domain,
                          aux = ranks */
};

/* Thread roles, so tracks read "core 3", "scheduler 1", "orchestrator". */
enum { STRATA_TT_CORE = 1000, STRATA_TT_SCHED = 2000, STRATA_TT_ORCH = 3000, STRATA_TT_LEVEL = 4000,
       STRATA_TT_CHILD = 5000 };

typedef struct strata__tev {
  uint64_t ts, dur, id, a;
  uint32_t type, tid, name, aux;
  uint64_t b; /* TASK: tensor count << 56 | bytes of its tensors */
} strata__tev;

/* Current level (0 when tracing is off or not compiled). */
STRATA_HIDDEN extern _Atomic int strata__trace_level_v;
static inline int strata__trace_on(int level) {
#if STRATA_TRACE_COMPILED
  return READ_ONCE(strata__trace_level_v) >= level;
#else
  (void)level;
  return 0;
#endif
}

/* Append one record to the calling thread's buffer (drops when full). */
STRATA_HIDDEN void strata__trace_record(const strata__tev *e);
/* Record an instant event `name` with message `msg` (both copied), about
 * task `task` (0: none), on thread role `tid`. */
STRATA_HIDDEN void strata__trace_instant(const char *name, const char *msg, uint64_t task,
                                         uint32_t tid);
/* Start tracing from STRATA_TRACE / STRATA_TRACE_LEVEL if set (once). */
STRATA_HIDDEN void strata__trace_env_init(void);
/* Rank 0's clock minus this process's (multi-host): applied when the trace is merged. */
STRATA_HIDDEN void strata__trace_set_clock_offset(int64_t ns);
/* An interned string for INSTANT names and messages. */
STRATA_HIDDEN uint32_t strata__trace_intern(const char *s);

/* Name this process in the trace ("L4 child 1 / chip 0"); the default is
 * what the flush is told. */
STRATA_HIDDEN void strata__trace_set_process(const char *label);
/* How a flush names things: kernel / function `idx` of the records. */
typedef const char *(*strata__trace_namer)(void *ctx, uint32_t idx);
/* Turn every record of this process into JSON lines, under process name
 * `pname`; records are consumed. Call when the recording threads are joined. */
STRATA_HIDDEN void strata__trace_flush(const char *pname, strata__trace_namer namer, void *ctx);

#endif
