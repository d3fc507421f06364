/* cli_int.h - commands of the `strata` CLI implemented outside main.c. */
#ifndef STRATA_CLI_INT_H
#define STRATA_CLI_INT_H

#include <stdio.h>

/* `strata stress allreduce ...`; returns the process exit status. */
int cli_stress(int argc, char **argv);
/* The stress options, for `strata help`. */
void cli_stress_usage(FILE *out);

#endif
