/* opts.h - command-line option parsing shared by every `strata` command:
 * numbers checked against their range at parse time (usage errors exit 2
 * and name the flag, the value and the valid range), and the help flags.
 * Uses only the public API. */
#ifndef STRATA_CLI_OPTS_H
#define STRATA_CLI_OPTS_H

#include <stdint.h>
#include <stdio.h>

#define CLI_USAGE 2 /* exit status of a usage error */
#define CLI_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Parse the value of `flag` (decimal, optional K/M/G suffix) into *out,
 * within [min, max]. val NULL means the value is missing. On error prints
 * one line naming the flag and the range and returns CLI_USAGE; else 0. */
int cli_number(const char *flag, const char *val, uint64_t min, uint64_t max, uint64_t *out);

/* 1 if s is -h or --help. */
int cli_is_help(const char *s);

/* `strata <cmd> allreduce [options]`: argv[2] must be the collective; each
 * option goes through one(ctx, argc, argv, &i) (0, or a usage error's exit
 * status). Returns 0 to run, -1 after printing help (usage(stdout)), else
 * the exit status of a usage error (usage(stderr) when the collective is
 * missing). */
int cli_parse_collective_cmd(int argc, char **argv, const char *cmd, void (*usage)(FILE *),
                             int (*one)(void *ctx, int argc, char **argv, int *i), void *ctx);

#endif
