/* opts.c - range-checked numeric options and help flags for the CLI. */
#include <stdio.h>
#include <string.h>

#include "cli/opts.h"
#include "strata.h"

int cli_number(const char *flag, const char *val, uint64_t min, uint64_t max, uint64_t *out) {
  uint64_t v = 0;
  const char *why = NULL;
  if (!val) why = "is missing its value";
  else if (strata_parse_u64(val, &v) != 0) why = "needs a whole number";
  else if (v < min || v > max) why = "is out of range";
  if (!why) return *out = v, 0;
  fprintf(stderr, "strata: %s %s%s%s%s: valid %llu..%llu\n", flag, why, val ? " (got '" : "",
          val ? val : "", val ? "')" : "", (unsigned long long)min, (unsigned long long)max);
  return CLI_USAGE;
}

int cli_is_help(const char *s) { return s && (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0); }

int cli_parse_collective_cmd(int argc, char **argv, const char *cmd, void (*usage)(FILE *),
                             int (*one)(void *ctx, int argc, char **argv, int *i), void *ctx) {
  if (argc >= 3 && cli_is_help(argv[2])) return usage(stdout), -1;
  if (argc < 3 || strcmp(argv[2], "allreduce") != 0) {
    fprintf(stderr, "strata: %s needs a collective: allreduce\n", cmd);
    return usage(stderr), CLI_USAGE;
  }
  for (int i = 3; i < argc; i++) {
    if (cli_is_help(argv[i])) return usage(stdout), -1;
    int rc = one(ctx, argc, argv, &i);
    if (rc) return rc;
  }
  return 0;
}
