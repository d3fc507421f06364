/* svg.c - `strata trace svg`: a swimlane picture of a trace for a quick look
 * without a browser: a row per (process, thread) that ran tasks, a box per
 * task coloured by kernel, dependency lines when the trace has them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace/trace_int.h"

#define SVG_W 1400.0
#define ROW_H 18.0
#define LEFT 190.0
#define MAX_ROWS 512
#define MAX_LINES 4000

typedef struct lane {
  int pid;
  unsigned tid;
} lane;

static unsigned hue(const char *s) {
  unsigned h = 2166136261u;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
  return h % 360;
}

static int lane_cmp(const void *a, const void *b) {
  const lane *x = a, *y = b;
  if (x->pid != y->pid) return x->pid < y->pid ? -1 : 1;
  return x->tid < y->tid ? -1 : x->tid > y->tid;
}

/* The distinct (pid, tid) of the tasks, sorted: one row each. */
static size_t make_lanes(const trace *t, lane *l) {
  size_t n = 0;
  for (size_t i = 0; i < t->ntasks; i++) {
    lane k = {t->tasks[i].pid, t->tasks[i].tid};
    size_t j = 0;
    while (j < n && lane_cmp(&l[j], &k) != 0) j++;
    if (j == n && n < MAX_ROWS) l[n++] = k;
  }
  qsort(l, n, sizeof(*l), lane_cmp);
  return n;
}

static size_t lane_of(const lane *l, size_t n, const ttask *k) {
  lane key = {k->pid, k->tid};
  const lane *hit = bsearch(&key, l, n, sizeof(*l), lane_cmp);
  return hit ? (size_t)(hit - l) : (n ? n - 1 : 0);
}

static void bounds(const trace *t, double *lo, double *hi) {
  *lo = t->ntasks ? t->tasks[0].ts : 0;
  *hi = *lo + 1;
  for (size_t i = 0; i < t->ntasks; i++) {
    if (t->tasks[i].ts < *lo) *lo = t->tasks[i].ts;
    if (t->tasks[i].ts + t->tasks[i].dur > *hi) *hi = t->tasks[i].ts + t->tasks[i].dur;
  }
}

static void boxes(FILE *o, const trace *t, const size_t *row, double lo, double sx) {
  for (size_t i = 0; i < t->ntasks; i++) {
    const ttask *k = &t->tasks[i];
    double w = k->dur * sx < 0.5 ? 0.5 : k->dur * sx;
    fprintf(o, "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" fill=\"hsl(%u,65%%,55%%)\">"
            "<title>%s %s %.3f us</title></rect>\n", LEFT + (k->ts - lo) * sx,
            30 + (double)row[i] * ROW_H + 2, w, ROW_H - 4, hue(k->name), k->name, k->key, k->dur);
  }
}

static void lines(FILE *o, const trace *t, const size_t *row, double lo, double sx) {
  size_t drawn = 0;
  for (size_t i = 0; i < t->ntasks && drawn < MAX_LINES; i++)
    for (size_t d = 0; d < t->tasks[i].ndeps && drawn < MAX_LINES; d++, drawn++) {
      const ttask *p = &t->tasks[t->tasks[i].deps[d]], *c = &t->tasks[i];
      fprintf(o, "<line x1=\"%.2f\" y1=\"%.1f\" x2=\"%.2f\" y2=\"%.1f\" stroke=\"#555\" "
              "stroke-width=\"0.6\" stroke-opacity=\"0.6\"/>\n", LEFT + (p->ts + p->dur - lo) * sx,
              30 + (double)row[t->tasks[i].deps[d]] * ROW_H + ROW_H / 2, LEFT + (c->ts - lo) * sx,
              30 + (double)row[i] * ROW_H + ROW_H / 2);
    }
}

static void labels(FILE *o, const lane *l, size_t nl, const trace *t, double span) {
  for (size_t i = 0; i < nl; i++) {
    unsigned r = l[i].tid;
    fprintf(o, "<text x=\"4\" y=\"%.1f\" font-size=\"11\" font-family=\"monospace\">pid %d %s %u</text>\n",
            30 + (double)i * ROW_H + 13, l[i].pid,
            r >= 5000 ? "child" : r >= 4000 ? "loop" : r >= 3000 ? "orch" : r >= 2000 ? "sched" : "core",
            r % 1000);
  }
  fprintf(o, "<text x=\"4\" y=\"18\" font-size=\"13\" font-family=\"sans-serif\">%zu tasks over %.3f ms"
          "%s</text>\n", t->ntasks, span / 1e3, t->has_deps ? ", lines: dependencies" : "");
}

int strata_trace_svg(const char *path, const char *svg_path) {
  if (!svg_path) return strata__fail(STRATA_EINVAL, "trace_svg: give an output file (-o out.svg)");
  trace t;
  int rc = strata__trace_load(path, &t);
  if (rc) return rc;
  FILE *o = fopen(svg_path, "w");
  lane *l = calloc(MAX_ROWS, sizeof(*l));
  size_t *row = calloc(t.ntasks + 1, sizeof(size_t)), nl = 0;
  if (!o || !l || !row) rc = strata__fail(STRATA_EINVAL, "trace_svg: cannot write '%s'", svg_path);
  double lo, hi;
  bounds(&t, &lo, &hi);
  double sx = (SVG_W - LEFT - 10) / (hi - lo);
  if (rc == 0) nl = make_lanes(&t, l);
  for (size_t i = 0; rc == 0 && i < t.ntasks; i++) row[i] = lane_of(l, nl, &t.tasks[i]);
  if (rc == 0) {
    fprintf(o, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", SVG_W,
            40 + ROW_H * (double)nl);
    boxes(o, &t, row, lo, sx);
    if (t.has_deps) lines(o, &t, row, lo, sx);
    labels(o, l, nl, &t, hi - lo);
    fprintf(o, "</svg>\n");
  }
  if (o) fclose(o);
  free(l);
  free(row);
  strata__trace_free(&t);
  return rc;
}
