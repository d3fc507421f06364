/* env.c - parsing of numeric environment variables with warnings. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

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

int strata__parse_u64(const char *s, uint64_t *out) {
  if (!s || !isdigit((unsigned char)*s)) return STRATA_EINVAL;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno != 0) return STRATA_EINVAL;
  uint64_t r = v;
  if (*end && (end[1] != '\0' || apply_suffix(*end, &r) != 0)) return STRATA_EINVAL;
  *out = r;
  return 0;
}

uint64_t strata__env_u64(const char *name, uint64_t def, uint64_t min,
                         uint64_t max, int pow2) {
  const char *s = getenv(name);
  uint64_t v;
  if (!s || !*s) return def;
  if (strata__parse_u64(s, &v) != 0 || v < min || v > max ||
      (pow2 && (v & (v - 1)) != 0)) {
    strata__warn("%s='%s' is invalid (want %s%llu..%llu); keeping default %llu",
                 name, s, pow2 ? "a power of two in " : "",
                 (unsigned long long)min, (unsigned long long)max,
                 (unsigned long long)def);
    return def;
  }
  return v;
}
