/* load.c - a trace file as tasks (complete events of cat "task"/"level",
 * with their dependencies resolved to indices), marks (STALL, latches,
 * timeouts) and the drop counter; and the critical path through the tasks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace/trace_int.h"

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) free(buf), buf = NULL;
  fclose(f);
  if (buf) buf[n] = '\0', *len = (size_t)n;
  return buf;
}

static void add_task(trace *t, const jval *e) {
  const jval *args = jget(e, "args");
  ttask *k = &t->tasks[t->ntasks++];
  *k = (ttask){jstr(jget(e, "name"), "?"), jstr(jget(args, "task"), ""), jnum(jget(e, "ts"), 0),
               jnum(jget(e, "dur"), 0), jnum(jget(args, "ready_ts"), -1),
               (int)jnum(jget(e, "pid"), 0), strcmp(jstr(jget(e, "cat"), ""), "level") == 0,
               (unsigned)jnum(jget(e, "tid"), 0), NULL, 0};
  t->has_ready |= k->ready >= 0;
}

static void add_mark(trace *t, const jval *e) {
  const jval *args = jget(e, "args");
  t->marks[t->nmarks++] = (tmark){jstr(jget(e, "name"), "?"), jstr(jget(args, "msg"), ""),
                                  jstr(jget(args, "task"), ""), jnum(jget(e, "ts"), 0),
                                  (int)jnum(jget(e, "pid"), 0)};
}

static int is_task(const jval *e) {
  const char *cat = jstr(jget(e, "cat"), "");
  return strcmp(jstr(jget(e, "ph"), ""), "X") == 0 &&
         (strcmp(cat, "task") == 0 || strcmp(cat, "level") == 0);
}

static int is_mark(const jval *e) {
  return strcmp(jstr(jget(e, "ph"), ""), "i") == 0 &&
         strcmp(jstr(jget(e, "cat"), ""), "sched") != 0;
}

static int cmp_key(const void *a, const void *b) {
  const ttask *x = *(ttask *const *)a, *y = *(ttask *const *)b;
  return strcmp(x->key, y->key);
}

/* Resolve args.deps (keys) into indices, through the tasks sorted by key. */
static int resolve_deps(trace *t, const jval *const *src) {
  ttask **by = malloc((t->ntasks ? t->ntasks : 1) * sizeof(*by));
  if (!by) return -1;
  for (size_t i = 0; i < t->ntasks; i++) by[i] = &t->tasks[i];
  qsort(by, t->ntasks, sizeof(*by), cmp_key);
  for (size_t i = 0; i < t->ntasks; i++) {
    const jval *deps = jget(jget(src[i], "args"), "deps");
    if (deps) t->has_deps = 1; /* traced at level 3, even with no producer */
    for (size_t d = 0; deps && d < deps->n; d++) {
      ttask probe = {.key = jstr(deps->items[d], "")}, *pp = &probe;
      ttask **hit = bsearch(&pp, by, t->ntasks, sizeof(*by), cmp_key);
      if (!hit) continue;
      size_t *nd = realloc(t->tasks[i].deps, (t->tasks[i].ndeps + 1) * sizeof(size_t));
      if (!nd) return free(by), -1;
      t->tasks[i].deps = nd;
      t->tasks[i].deps[t->tasks[i].ndeps++] = (size_t)(*hit - t->tasks);
      t->has_deps = 1;
    }
  }
  free(by);
  return 0;
}

static int index_events(trace *t, const jval *ev) {
  t->tasks = calloc(ev->n + 1, sizeof(*t->tasks));
  t->marks = calloc(ev->n + 1, sizeof(*t->marks));
  const jval **src = calloc(ev->n + 1, sizeof(*src));
  if (!t->tasks || !t->marks || !src) return free(src), -1;
  for (size_t i = 0; i < ev->n; i++) {
    const jval *e = ev->items[i];
    if (is_task(e)) src[t->ntasks] = e, add_task(t, e);
    else if (is_mark(e)) add_mark(t, e);
    else if (strcmp(jstr(jget(e, "name"), ""), "strata.dropped") == 0)
      t->dropped += jnum(jget(jget(e, "args"), "dropped"), 0);
  }
  int rc = resolve_deps(t, src);
  free(src);
  return rc;
}

int strata__trace_load(const char *path, trace *t) {
  memset(t, 0, sizeof(*t));
  size_t len = 0;
  char *text = path ? slurp(path, &len) : NULL;
  if (!text) return strata__fail(STRATA_EINVAL, "cannot read trace file '%s'", path ? path : "(null)");
  t->root = jparse(text, len);
  free(text);
  const jval *ev = t->root && t->root->type == J_ARRAY ? t->root : jget(t->root, "traceEvents");
  if (!ev || ev->type != J_ARRAY) {
    strata__trace_free(t);
    return strata__fail(STRATA_EINVAL, "'%s' is not a Chrome trace-event JSON file (no "
                        "traceEvents array); write one with --trace or STRATA_TRACE", path);
  }
  if (index_events(t, ev) != 0) {
    strata__trace_free(t);
    return strata__fail(STRATA_ENOMEM, "out of memory reading '%s'", path);
  }
  return 0;
}

void strata__trace_free(trace *t) {
  for (size_t i = 0; t->tasks && i < t->ntasks; i++) free(t->tasks[i].deps);
  free(t->tasks);
  free(t->marks);
  jfree(t->root);
  memset(t, 0, sizeof(*t));
}

static int by_start(const void *a, const void *b, void *ctx) {
  const ttask *x = (const ttask *)ctx + *(const size_t *)a, *y = (const ttask *)ctx + *(const size_t *)b;
  return x->ts < y->ts ? -1 : x->ts > y->ts;
}

/* Producers start before their consumers, so start order is topological. */
double strata__critical_path(const trace *t, size_t **path, size_t *n) {
  size_t *order = malloc((t->ntasks + 1) * sizeof(size_t)), *prev = malloc((t->ntasks + 1) * sizeof(size_t));
  double *best = calloc(t->ntasks + 1, sizeof(double)), len = 0;
  size_t last = SIZE_MAX;
  *path = NULL;
  *n = 0;
  for (size_t i = 0; order && i < t->ntasks; i++) order[i] = i;
  if (order) qsort_r(order, t->ntasks, sizeof(size_t), by_start, t->tasks);
  for (size_t k = 0; order && prev && best && k < t->ntasks; k++) {
    size_t i = order[k];
    best[i] = t->tasks[i].dur;
    prev[i] = SIZE_MAX;
    for (size_t d = 0; d < t->tasks[i].ndeps; d++) {
      size_t p = t->tasks[i].deps[d];
      if (best[p] + t->tasks[i].dur > best[i]) best[i] = best[p] + t->tasks[i].dur, prev[i] = p;
    }
    if (best[i] > len) len = best[i], last = i;
  }
  size_t count = 0;
  for (size_t i = last; i != SIZE_MAX && prev; i = prev[i]) count++;
  *path = malloc((count + 1) * sizeof(size_t));
  for (size_t i = last, k = count; *path && i != SIZE_MAX; i = prev[i]) (*path)[--k] = i;
  *n = *path ? count : 0;
  free(order), free(prev), free(best);
  return len;
}
