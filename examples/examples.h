/* examples.h - the built-in example workloads run by `strata run` and the
 * tests: each builds a chip, runs an orchestration and checks the result
 * against a sequential reference. */
#ifndef STRATA_EXAMPLES_H
#define STRATA_EXAMPLES_H

#include <stdio.h>

#include "strata.h"

/* Options shared by the examples (from the CLI). */
typedef struct strata_example_opts {
  strata_chip_config cfg; /* chip configuration (field_mask selects fields) */
  uint64_t tasks;         /* workload size (random DAG: tasks) */
  uint64_t seed;          /* random seed */
  uint32_t size;          /* matmul: matrix order; vector/pipeline: length */
  uint32_t chips, subs;   /* node examples: chip and sub children */
  uint32_t nodes;         /* node examples: 0 = an L3 node, N = an L4 of N nodes */
} strata_example_opts;

/* Result of one example run. */
typedef struct strata_example_result {
  int status;              /* run status (0 = ok) */
  int check;               /* 1 = matches the sequential reference */
  strata_run_info info;    /* run details */
  double values[8];        /* first result values, for display */
  int nvalues;
  char detail[256];        /* what was checked / what mismatched */
} strata_example_result;

typedef int (*strata_example_fn)(const strata_example_opts *opts, strata_example_result *res);

typedef struct strata_example {
  const char *name, *summary;
  strata_example_fn run;
  uint64_t max_tasks; /* largest --tasks (0: the example has no such option) */
  uint32_t max_size;  /* largest --size (0: no such option) */
  /* Options that cannot run together (e.g. a --size whose buffers exceed the
   * device memory the example may ask for with these --chips/--nodes): 0, or
   * -1 with msg naming the flags and the largest value that fits. NULL: none.
   * The CLI calls it once every option is parsed: a usage error (exit 2). */
  int (*check)(const strata_example_opts *o, char *msg, size_t len);
} strata_example;

/* Node examples: most chip and sub children. */
#define STRATA_EXAMPLE_MAX_CHIPS 16
#define STRATA_EXAMPLE_MAX_SUBS 32
#define STRATA_EXAMPLE_MAX_NODES 8

/* NULL-terminated list of examples; lookup by name (NULL if unknown). */
const strata_example *strata_examples(void);
const strata_example *strata_example_find(const char *name);

int strata_example_vector(const strata_example_opts *o, strata_example_result *r);
int strata_example_matmul(const strata_example_opts *o, strata_example_result *r);
int strata_example_random_dag(const strata_example_opts *o, strata_example_result *r);
int strata_example_pipeline(const strata_example_opts *o, strata_example_result *r);
int strata_example_pipeline_check(const strata_example_opts *o, char *msg, size_t len);
int strata_example_node_dag(const strata_example_opts *o, strata_example_result *r);
int strata_example_chip_dag(const strata_example_opts *o, strata_example_result *r);
int strata_example_attention(const strata_example_opts *o, strata_example_result *r);

/* The 16x16 float tile kernel of the matmul example: C (+)= A * B over
 * tensors A, B, C; scalar 0 = accumulate. */
#define STRATA_EXAMPLE_TILE 16
void strata_example_gemm_tile(strata_kernel_ctx *k);

/* Record a host allocation failure of `what` in r: ENOMEM with a message
 * naming the option to lower. Returns the status. */
int strata_example_nomem(strata_example_result *r, const char *what, const char *knob);

/* Create a chip from opts->cfg; on failure fill r and return the status. */
int strata_example_chip(const strata_example_opts *o, strata_example_result *r,
                        strata_chip **chip);

#endif
