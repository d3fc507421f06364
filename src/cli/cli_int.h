/* cli_int.h - commands of the `strata` CLI implemented outside main.c. */
#ifndef STRATA_CLI_INT_H
#define STRATA_CLI_INT_H

#include <stdio.h>

/* `strata stress allreduce ...`; returns the process exit status. */
int cli_stress(int argc, char **argv);
/* The stress options, for `strata help`. */
void cli_stress_usage(FILE *out);
/* `strata bench allreduce ...`; returns the process exit status. */
int cli_bench(int argc, char **argv);
/* The bench options, for `strata help`. */
void cli_bench_usage(FILE *out);
/* `strata trace summary|svg ...`; returns the process exit status. */
int cli_trace(int argc, char **argv);
/* --trace <file> at argv[*i]: *file set, *i advanced; CLI_USAGE if missing. */
int cli_trace_flag(int argc, char **argv, int *i, const char **file);
/* Start tracing into file at STRATA_TRACE_LEVEL (1..3, default 1). */
int cli_trace_begin(const char *file);

#endif
