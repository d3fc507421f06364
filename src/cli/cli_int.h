/* cli_int.h - commands of the `strata` CLI implemented outside main.c. */
#ifndef STRATA_CLI_INT_H
#define STRATA_CLI_INT_H

/* `strata stress allreduce ...`; returns the process exit status. */
int cli_stress(int argc, char **argv);

#endif
