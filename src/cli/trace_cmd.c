/* trace_cmd.c - `strata trace summary <file> [--json]`, `strata trace svg
 * <file> -o <out.svg>`, and the --trace flag of run and stress. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_int.h"
#include "cli/opts.h"
#include "strata.h"

static void trace_usage(FILE *out) {
  fprintf(out, "usage: strata trace summary <file> [--json]\n"
               "       strata trace svg <file> -o <out.svg>\n"
               "       strata trace merge -o <out> <file> [<file>.rank1 ...]   (mpirun runs)\n");
}

int cli_trace_flag(int argc, char **argv, int *i, const char **file) {
  if (*i + 1 >= argc) {
    fprintf(stderr, "strata: --trace is missing its value: a file to write\n");
    return CLI_USAGE;
  }
  *file = argv[++*i];
  return 0;
}

int cli_trace_begin(const char *file) {
  uint64_t level = 1;
  const char *l = getenv("STRATA_TRACE_LEVEL");
  if (l && *l && cli_number("STRATA_TRACE_LEVEL", l, 1, 3, &level) != 0) return CLI_USAGE;
  if (strata_trace_start(file, (int)level) == 0) return 0;
  fprintf(stderr, "strata: %s\n", strata_last_error());
  return 1;
}

static int summary(int argc, char **argv) {
  int json = argc > 4 && strcmp(argv[4], "--json") == 0;
  if (argc < 4 || argc > 5 || (argc == 5 && !json)) return trace_usage(stderr), CLI_USAGE;
  if (strata_trace_summary(argv[3], stdout, json) == 0) return 0;
  fprintf(stderr, "strata: %s\n", strata_last_error());
  return 1;
}

static int svg(int argc, char **argv) {
  if (argc != 6 || strcmp(argv[4], "-o") != 0) {
    fprintf(stderr, "strata: trace svg needs <file> -o <out.svg>\n");
    return CLI_USAGE;
  }
  if (strata_trace_svg(argv[3], argv[5]) == 0) return 0;
  fprintf(stderr, "strata: %s\n", strata_last_error());
  return 1;
}

static int merge(int argc, char **argv) {
  if (argc < 6 || strcmp(argv[3], "-o") != 0) {
    fprintf(stderr, "strata: trace merge needs -o <out> and 1+ trace files\n");
    return CLI_USAGE;
  }
  if (strata_trace_merge(argv[4], (const char *const *)(argv + 5), argc - 5) == 0) return 0;
  fprintf(stderr, "strata: %s\n", strata_last_error());
  return 1;
}

int cli_trace(int argc, char **argv) {
  if (argc >= 3 && cli_is_help(argv[2])) return trace_usage(stdout), 0;
  if (argc >= 3 && strcmp(argv[2], "summary") == 0) return summary(argc, argv);
  if (argc >= 3 && strcmp(argv[2], "svg") == 0) return svg(argc, argv);
  if (argc >= 3 && strcmp(argv[2], "merge") == 0) return merge(argc, argv);
  trace_usage(stderr);
  return CLI_USAGE;
}
