/* trace_int.h - private interface of the trace layer: reading trace files
 * (jread.c, load.c) and what strata_trace_summary / strata_trace_svg build
 * from them. Depends on the platform layer only; it never runs a chip. */
#ifndef STRATA_TRACE_LAYER_INT_H
#define STRATA_TRACE_LAYER_INT_H

#include <stddef.h>

#include "platform/platform_int.h"
#include "strata/trace.h"

/* ---- jread.c: JSON values ---- */
enum { J_NULL = 0, J_NUMBER, J_STRING, J_ARRAY, J_OBJECT };

typedef struct jval {
  int type;
  double num;
  char *str;
  struct jval **items; /* array items or object values */
  char **keys;         /* object keys (NULL for arrays) */
  size_t n, cap;
} jval;

STRATA_HIDDEN jval *jparse(const char *text, size_t len);
STRATA_HIDDEN void jfree(jval *v);
STRATA_HIDDEN const jval *jget(const jval *obj, const char *key);
STRATA_HIDDEN double jnum(const jval *v, double def);
STRATA_HIDDEN const char *jstr(const jval *v, const char *def);

/* ---- load.c: the events a summary or a picture needs ---- */
typedef struct ttask {
  const char *name, *key;  /* kernel, "pid.run.id" */
  double ts, dur, ready;   /* us; ready < 0: not recorded */
  int pid, level;          /* level: a level-worker task (cat "level") */
  unsigned tid;
  size_t *deps, ndeps;     /* indices of producers in the trace's tasks */
} ttask;

typedef struct tmark {     /* STALL, latch, stream-sync timeout, ... */
  const char *name, *msg, *task;
  double ts;
  int pid;
} tmark;

typedef struct trace {
  jval *root;
  ttask *tasks;
  size_t ntasks;
  tmark *marks;
  size_t nmarks;
  double dropped;
  int has_deps, has_ready;
} trace;

/* Read and index a trace file; EINVAL naming the problem. */
STRATA_HIDDEN int strata__trace_load(const char *path, trace *t);
STRATA_HIDDEN void strata__trace_free(trace *t);
/* The longest path through the task graph (sum of durations): its length in
 * us, and its tasks (indices, first to last) in *path / *n (malloc'ed). */
STRATA_HIDDEN double strata__critical_path(const trace *t, size_t **path, size_t *n);

#endif
