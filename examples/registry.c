/* registry.c - the list of built-in examples and shared helpers. */
#include <string.h>

#include "examples.h"

static const strata_example list[] = {
    {"vector", "c=a+b; d=c+1; e=c+2; g=d*e; f=g+c on float vectors", strata_example_vector,
     0, 1u << 24, NULL},
    {"matmul", "tiled matrix multiply C=A*B (AIC kernels, views of one buffer)",
     strata_example_matmul, 0, 2048, NULL},
    {"dag", "random DAG of tiny tasks checked against a sequential run",
     strata_example_random_dag, 1u << 24, 0, NULL},
    {"pipeline", "node: blocks stream through one stage per chip, a sub verifies",
     strata_example_pipeline, 0, 1u << 24, strata_example_pipeline_check},
    {"nodedag", "node: random DAG of tiny chip tasks checked against a sequential run",
     strata_example_node_dag, 1u << 20, 0, NULL},
    {"chipdag", "the nodedag graph as chip tasks of one chip (nodedag's baseline)",
     strata_example_chip_dag, 1u << 24, 0, NULL},
    {"attention", "tiled attention softmax(QK^T/sqrt(d))V: QK^T and PV on AIC, online "
     "softmax as SPMD on AIV; --chips N splits the heads over the chips of a node",
     strata_example_attention, 0, 4096, NULL},
    {NULL, NULL, NULL, 0, 0, NULL}};

const strata_example *strata_examples(void) { return list; }

const strata_example *strata_example_find(const char *name) {
  for (const strata_example *e = list; name && e->name; e++)
    if (strcmp(e->name, name) == 0) return e;
  return NULL;
}

int strata_example_chip(const strata_example_opts *o, strata_example_result *r,
                        strata_chip **chip) {
  int rc = strata_chip_create(&o->cfg, chip);
  if (rc != 0) {
    r->status = rc;
    snprintf(r->info.message, sizeof(r->info.message), "%s", strata_last_error());
  }
  return rc;
}

int strata_example_nomem(strata_example_result *r, const char *what, const char *knob) {
  r->status = STRATA_ENOMEM;
  snprintf(r->info.message, sizeof(r->info.message), "cannot allocate %s on the host; "
           "lower %s", what, knob);
  return r->status;
}
