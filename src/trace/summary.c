/* summary.c - `strata trace summary`: per-kernel count and duration (mean,
 * p50, p99), core utilisation per chip, dispatch latency (ready to start,
 * level >= 2), the critical path (level 3) and the stall marks; as text or
 * JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace/trace_int.h"

typedef struct stats {
  double mean, p50, p99, sum;
  size_t n;
} stats;

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static stats stats_of(double *v, size_t n) {
  stats s = {0, 0, 0, 0, n};
  if (!n) return s;
  qsort(v, n, sizeof(double), cmp_d);
  for (size_t i = 0; i < n; i++) s.sum += v[i];
  s.mean = s.sum / (double)n;
  s.p50 = v[(n - 1) / 2];
  s.p99 = v[(size_t)((double)(n - 1) * 0.99)];
  return s;
}

/* ---- per kernel -------------------------------------------------------------- */
static int by_name(const void *a, const void *b) {
  return strcmp((*(ttask *const *)a)->name, (*(ttask *const *)b)->name);
}

static void kernels(const trace *t, FILE *out, int json) {
  ttask **v = malloc((t->ntasks + 1) * sizeof(*v));
  double *d = malloc((t->ntasks + 1) * sizeof(double));
  size_t m = 0;
  for (size_t i = 0; v && i < t->ntasks; i++)
    if (!t->tasks[i].level) v[m++] = &t->tasks[i];
  if (v) qsort(v, m, sizeof(*v), by_name);
  fprintf(out, json ? "\"kernels\":[" : "kernel                 count   mean us    p50 us    p99 us\n");
  for (size_t i = 0, first = 1; v && d && i < m;) {
    size_t j = i, k = 0;
    for (; j < m && strcmp(v[j]->name, v[i]->name) == 0; j++) d[k++] = v[j]->dur;
    stats s = stats_of(d, k);
    char nb[256];
    if (json)
      fprintf(out, "%s{\"name\":\"%s\",\"count\":%zu,\"mean_us\":%.3f,\"p50_us\":%.3f,\"p99_us\":%.3f}",
              first ? "" : ",", strata__json_escape(v[i]->name, nb, sizeof(nb)), s.n, s.mean, s.p50, s.p99);
    else
      fprintf(out, "%-20s %7zu %9.3f %9.3f %9.3f\n", v[i]->name, s.n, s.mean, s.p50, s.p99);
    first = 0;
    i = j;
  }
  fprintf(out, json ? "]," : "");
  free(v);
  free(d);
}

/* ---- utilisation per chip (process) -------------------------------------------- */
static void utilisation(const trace *t, FILE *out, int json) {
  fprintf(out, json ? "\"chips\":[" : "\nchip (pid)    tracks  busy ms   span ms  utilisation\n");
  int first = 1;
  for (size_t i = 0; i < t->ntasks; i++) {
    const ttask *a = &t->tasks[i];
    int seen = 0;
    for (size_t k = 0; k < i && !seen; k++) seen = !t->tasks[k].level && t->tasks[k].pid == a->pid;
    if (seen || a->level) continue;
    double lo = a->ts, hi = a->ts + a->dur, busy = 0;
    unsigned tids[256];
    size_t ntid = 0;
    for (size_t k = i; k < t->ntasks; k++) {
      const ttask *b = &t->tasks[k];
      if (b->level || b->pid != a->pid) continue;
      busy += b->dur;
      lo = b->ts < lo ? b->ts : lo;
      hi = b->ts + b->dur > hi ? b->ts + b->dur : hi;
      size_t j = 0;
      while (j < ntid && tids[j] != b->tid) j++;
      if (j == ntid && ntid < 256) tids[ntid++] = b->tid;
    }
    double util = hi > lo ? busy / ((hi - lo) * (double)ntid) : 0;
    if (json)
      fprintf(out, "%s{\"pid\":%d,\"tracks\":%zu,\"busy_ms\":%.3f,\"span_ms\":%.3f,\"utilisation\":%.4f}",
              first ? "" : ",", a->pid, ntid, busy / 1e3, (hi - lo) / 1e3, util);
    else
      fprintf(out, "%-12d %7zu %8.3f %9.3f %11.1f%%\n", a->pid, ntid, busy / 1e3, (hi - lo) / 1e3,
              100 * util);
    first = 0;
  }
  fprintf(out, json ? "]," : "");
}

/* ---- dispatch latency, critical path, stalls ------------------------------------- */
static void latency(const trace *t, FILE *out, int json) {
  double *d = malloc((t->ntasks + 1) * sizeof(double));
  size_t k = 0;
  for (size_t i = 0; d && i < t->ntasks; i++)
    if (t->tasks[i].ready >= 0) d[k++] = t->tasks[i].ts - t->tasks[i].ready;
  stats s = d ? stats_of(d, k) : (stats){0, 0, 0, 0, 0};
  if (json)
    fprintf(out, "\"dispatch_latency\":{\"tasks\":%zu,\"mean_us\":%.3f,\"p50_us\":%.3f,\"p99_us\":%.3f},",
            s.n, s.mean, s.p50, s.p99);
  else if (k)
    fprintf(out, "\ndispatch latency (ready -> start): mean %.3f us, p50 %.3f us, p99 %.3f us over "
            "%zu tasks\n", s.mean, s.p50, s.p99, s.n);
  else
    fprintf(out, "\ndispatch latency: not recorded (trace at STRATA_TRACE_LEVEL >= 2)\n");
  free(d);
}

static void critical(const trace *t, FILE *out, int json) {
  size_t *path = NULL, n = 0;
  double len = t->has_deps ? strata__critical_path(t, &path, &n) : 0;
  if (json) fprintf(out, "\"critical_path\":{\"length_us\":%.3f,\"tasks\":[", len);
  else if (t->has_deps) fprintf(out, "\ncritical path: %.3f us over %zu tasks:", len, n);
  else fprintf(out, "\ncritical path: needs dependencies (trace at STRATA_TRACE_LEVEL=3)\n");
  for (size_t i = 0; i < n; i++) {
    char kb[256], nb[256];
    const ttask *k = &t->tasks[path[i]];
    fprintf(out, json ? "%s{\"task\":\"%s\",\"name\":\"%s\",\"dur_us\":%.3f}" : "%s%s %s (%.3f us)",
            json ? (i ? "," : "") : (i ? " ->" : " "), json ? strata__json_escape(k->key, kb, sizeof(kb)) : k->key,
            json ? strata__json_escape(k->name, nb, sizeof(nb)) : k->name, k->dur);
  }
  fprintf(out, json ? "]}," : (t->has_deps ? "\n" : ""));
  free(path);
}

static void marks(const trace *t, FILE *out, int json) {
  fprintf(out, json ? "\"stalls\":[" : "\nstalls, latches and timeouts: %zu\n", t->nmarks);
  for (size_t i = 0; i < t->nmarks; i++) {
    const tmark *m = &t->marks[i];
    char nb[256], kb[256];
    if (json)
      fprintf(out, "%s{\"name\":\"%s\",\"ts_us\":%.3f,\"pid\":%d,\"task\":\"%s\"}", i ? "," : "",
              strata__json_escape(m->name, nb, sizeof(nb)), m->ts, m->pid, strata__json_escape(m->task, kb, sizeof(kb)));
    else
      fprintf(out, "  %.3f us  pid %d  %s: %.160s\n", m->ts, m->pid, m->name, m->msg);
  }
  fprintf(out, json ? "]," : "");
}

static int cmp_task_key(const void *a, const void *b) {
  const ttask *x = *(const ttask *const *)a, *y = *(const ttask *const *)b;
  return x->pid != y->pid ? (x->pid < y->pid ? -1 : 1) : strcmp(x->key, y->key);
}

/* Tasks, not kernel executions: the blocks of an SPMD task and the lanes of
 * a MIX task are executions of one task (one key "pid.run.id" in one
 * process of the file: a merged file moves pids, not keys). */
static size_t distinct_tasks(const trace *t) {
  const ttask **v = malloc((t->ntasks ? t->ntasks : 1) * sizeof(*v));
  size_t n = 0, distinct = 0;
  if (!v) return t->ntasks;
  for (size_t i = 0; i < t->ntasks; i++)
    if (t->tasks[i].key[0]) v[n++] = &t->tasks[i];
    else distinct++; /* no key: a task of its own */
  qsort(v, n, sizeof(*v), cmp_task_key);
  for (size_t i = 0; i < n; i++) distinct += i == 0 || cmp_task_key(&v[i], &v[i - 1]) != 0;
  free(v);
  return distinct;
}

int strata_trace_summary(const char *path, FILE *out, int json) {
  if (!out) return strata__fail(STRATA_EINVAL, "trace_summary: out is NULL");
  trace t;
  int rc = strata__trace_load(path, &t);
  if (rc) return rc;
  char pb[1024];
  size_t tasks = distinct_tasks(&t);
  if (json)
    fprintf(out, "{\"file\":\"%s\",\"tasks\":%zu,\"kernel_executions\":%zu,",
            strata__json_escape(path, pb, sizeof(pb)), tasks, t.ntasks);
  else
    fprintf(out, "trace %s: %zu tasks, %zu kernel executions (an SPMD task "
            "runs once per block, a MIX task once per lane)\n\n", path, tasks, t.ntasks);
  kernels(&t, out, json);
  utilisation(&t, out, json);
  latency(&t, out, json);
  critical(&t, out, json);
  marks(&t, out, json);
  fprintf(out, json ? "\"dropped_events\":%.0f}\n" : "dropped events: %.0f\n", t.dropped);
  strata__trace_free(&t);
  return 0;
}
