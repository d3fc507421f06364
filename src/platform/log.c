/* log.c - leveled logging to stderr; STRATA_LOG selects the level. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/atomics.h"
#include "platform/platform_int.h"

static _Atomic int log_level = -1; /* -1: not read from the environment yet */

static int parse_level(const char *s) {
  static const char *const names[] = {"error", "warn", "info", "debug"};
  for (int i = 0; s && i < (int)STRATA_ARRAY_SIZE(names); i++)
    if (strcmp(s, names[i]) == 0) return i;
  return STRATA_LOG_WARN;
}

int strata__log_enabled(int level) {
  int cur = READ_ONCE(log_level);
  if (cur < 0) {
    cur = parse_level(getenv("STRATA_LOG"));
    WRITE_ONCE(log_level, cur);
  }
  return level <= cur;
}

void strata__vlog(int level, const char *fmt, va_list ap) {
  static const char *const tags[] = {"error", "warn", "info", "debug"};
  if (!strata__log_enabled(level)) return;
  char buf[2048];
  vsnprintf(buf, sizeof(buf), fmt, ap);
  fprintf(stderr, "strata %s: %s\n", tags[level], buf);
}

void strata__log(int level, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  strata__vlog(level, fmt, ap);
  va_end(ap);
}
