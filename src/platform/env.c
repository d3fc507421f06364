/* env.c - parsing of numeric environment variables (with aliases), and
 * warnings that are printed once per process whatever number of objects
 * resolve the same variable. */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/platform_int.h"

static int apply_suffix(char c, uint64_t *v) {
  unsigned shift = 0;
  switch (toupper((unsigned char)c)) {
    case 'K': shift = 10; break;
    case 'M': shift = 20; break;
    case 'G': shift = 30; break;
    default: return -1;
  }
  if (*v > (UINT64_MAX >> shift)) return -1;
  *v <<= shift;
  return 0;
}

int strata_parse_u64(const char *s, uint64_t *out) {
  if (!s || !out || !isdigit((unsigned char)*s))
    return strata__fail(STRATA_EINVAL, "'%s' is not a whole number (digits with an "
                        "optional K, M or G suffix)", s ? s : "(null)");
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  uint64_t r = v;
  if (errno != 0 || (*end && (end[1] != '\0' || apply_suffix(*end, &r) != 0)))
    return strata__fail(STRATA_EINVAL, "'%s' is not a whole number below 2^64 (digits with "
                        "an optional K, M or G suffix)", s);
  *out = r;
  return 0;
}

/* ---- warn once per process -------------------------------------------------- */
#define WARNED_MAX 128
static pthread_mutex_t warned_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t warned[WARNED_MAX];
static unsigned nwarned;

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h | 1; /* never 0 */
}

/* 1 the first time `key` is seen in this process (forked children inherit
 * what their parent has already warned about). */
static int first_time(const char *key) {
  uint64_t h = hash_str(key);
  int first = 1;
  pthread_mutex_lock(&warned_lock);
  for (unsigned i = 0; i < nwarned && first; i++) first = warned[i] != h;
  if (first && nwarned < WARNED_MAX) warned[nwarned++] = h;
  pthread_mutex_unlock(&warned_lock);
  return first;
}

void strata__warn_once(const char *key, const char *fmt, ...) {
  if (!first_time(key)) return;
  va_list ap;
  va_start(ap, fmt);
  strata__vlog(STRATA_LOG_WARN, fmt, ap);
  va_end(ap);
}

/* ---- lookups ------------------------------------------------------------------ */
const char *strata__env_pick(const char *name, const char *alias, const char **used) {
  const char *s = getenv(name);
  *used = name;
  if ((!s || !*s) && alias) {
    s = getenv(alias);
    *used = alias;
  }
  return s && *s ? s : NULL;
}

uint64_t strata__env_u64_alias(const char *name, const char *alias, uint64_t def,
                               uint64_t min, uint64_t max, int pow2) {
  const char *used;
  const char *s = strata__env_pick(name, alias, &used);
  uint64_t v;
  if (!s) return def;
  if (strata_parse_u64(s, &v) != 0 || v < min || v > max ||
      (pow2 && (v & (v - 1)) != 0)) {
    char key[160];
    snprintf(key, sizeof(key), "env:%s=%s", used, s);
    strata__warn_once(key, "%s='%s' is invalid (want %s%llu..%llu); keeping default %llu",
                      used, s, pow2 ? "a power of two in " : "", (unsigned long long)min,
                      (unsigned long long)max, (unsigned long long)def);
    return def;
  }
  return v;
}

uint64_t strata__env_u64(const char *name, uint64_t def, uint64_t min,
                         uint64_t max, int pow2) {
  return strata__env_u64_alias(name, NULL, def, min, max, pow2);
}

/* ---- the launcher ---------------------------------------------------------------- */
static int env_count(const char *name, int def) {
  const char *s = getenv(name);
  char *end;
  long v = s ? strtol(s, &end, 10) : def;
  return s && (*end || end == s || v < 0 || v > 1 << 20) ? def : (int)v;
}

static int launched(void) {
  const char *off = getenv("STRATA_MPI");
  return !(off && strcmp(off, "0") == 0);
}

int strata__launcher_rank(void) { return launched() ? env_count("OMPI_COMM_WORLD_RANK", 0) : 0; }

int strata__launcher_size(void) {
  int n = launched() ? env_count("OMPI_COMM_WORLD_SIZE", 1) : 1;
  return n > 0 ? n : 1;
}
