/* opts.c - range-checked numeric options and help flags for the CLI. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/opts.h"

static int scale(char suffix, uint64_t *v) {
  unsigned shift = 0;
  switch (toupper((unsigned char)suffix)) {
    case 'K': shift = 10; break;
    case 'M': shift = 20; break;
    case 'G': shift = 30; break;
    default: return -1;
  }
  if (*v > (UINT64_MAX >> shift)) return -1;
  *v <<= shift;
  return 0;
}

static int parse(const char *s, uint64_t *out) {
  if (!isdigit((unsigned char)*s)) return -1;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno != 0) return -1;
  uint64_t r = v;
  if (*end && (end[1] != '\0' || scale(*end, &r) != 0)) return -1;
  *out = r;
  return 0;
}

int cli_number(const char *flag, const char *val, uint64_t min, uint64_t max, uint64_t *out) {
  uint64_t v = 0;
  const char *why = NULL;
  if (!val) why = "is missing its value";
  else if (parse(val, &v) != 0) why = "needs a whole number";
  else if (v < min || v > max) why = "is out of range";
  if (!why) return *out = v, 0;
  fprintf(stderr, "strata: %s %s%s%s%s: valid %llu..%llu\n", flag, why, val ? " (got '" : "",
          val ? val : "", val ? "')" : "", (unsigned long long)min, (unsigned long long)max);
  return CLI_USAGE;
}

int cli_is_help(const char *s) { return s && (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0); }
