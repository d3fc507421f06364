/* merge.c - strata_trace_merge: join trace files of several MPI ranks (each
 * already on rank 0's clock, see platform/trace.c) into one timeline. The
 * files are strata's own (one event per line); the process ids of input i
 * move by i x STRATA_TRACE_PID_STRIDE so processes of different hosts never
 * collide, flow ids with them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/platform_int.h"
#include "strata/trace.h"
#include "strata/version.h"

#define PID_STRIDE 10000000L /* above Linux's largest pid (4194304) */
#define LINE_MAX_BYTES 8192

/* Add `by` to the integer after every occurrence of key in line. */
static void bump(char *line, size_t cap, const char *key, long by) {
  for (char *p = strstr(line, key); p; p = strstr(p + 1, key)) {
    char *num = p + strlen(key), *end, rest[LINE_MAX_BYTES];
    long v = strtol(num, &end, 10);
    if (end == num) continue;
    snprintf(rest, sizeof(rest), "%s", end);
    snprintf(num, cap - (size_t)(num - line), "%ld%s", v + by, rest);
  }
}

static int copy_events(FILE *o, const char *path, long by, int *first) {
  FILE *in = fopen(path, "r");
  if (!in) return strata__fail(STRATA_ENOENT, "trace_merge: cannot read %s", path);
  char line[LINE_MAX_BYTES];
  while (fgets(line, sizeof(line), in)) {
    if (strncmp(line, "{\"name\"", 7) != 0) continue; /* the header and footer lines */
    line[strcspn(line, "\n")] = '\0';
    size_t n = strlen(line);
    if (n && line[n - 1] == ',') line[n - 1] = '\0';
    bump(line, sizeof(line), "\"pid\":", by);
    bump(line, sizeof(line), "\"id\":\"", by);
    fprintf(o, "%s%s", *first ? "" : ",\n", line);
    *first = 0;
  }
  fclose(in);
  return 0;
}

int strata_trace_merge(const char *out, const char *const *inputs, int n) {
  if (!out || !inputs || n < 1)
    return strata__fail(STRATA_EINVAL, "trace_merge: give an output file and 1+ input files "
                        "(rank 0's first: <file>, then <file>.rank1 ...)");
  FILE *o = fopen(out, "w");
  if (!o) return strata__fail(STRATA_EINVAL, "trace_merge: cannot write %s", out);
  fprintf(o, "{\"traceEvents\":[\n");
  int first = 1, rc = 0;
  for (int i = 0; rc == 0 && i < n; i++) rc = copy_events(o, inputs[i], i * PID_STRIDE, &first);
  fprintf(o, "\n],\"displayTimeUnit\":\"ms\",\"otherData\":{\"producer\":\"strata %s\","
          "\"clock\":\"rank 0's CLOCK_MONOTONIC\",\"merged_files\":%d}}\n", STRATA_VERSION_STRING, n);
  if (fclose(o) != 0 && rc == 0) rc = strata__fail(STRATA_EINVAL, "trace_merge: writing %s failed", out);
  return rc;
}
