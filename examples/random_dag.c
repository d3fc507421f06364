/* random_dag.c - a random DAG of tiny tasks over a pool of slots: each task
 * reads up to three slots and updates one (INOUT), on a random core kind.
 * The same program run sequentially gives the reference; any missing
 * RAW/WAR/WAW ordering changes the final slot values. */
#include <stdlib.h>
#include <string.h>

#include "examples.h"

#define DAG_SLOTS 512
#define DAG_MAX_READS 3

static uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  return x;
}

static uint64_t update(uint64_t out, const uint64_t *in, uint32_t n, uint64_t idx) {
  uint64_t h = out * 31 + idx;
  for (uint32_t i = 0; i < n; i++) h += mix(in[i] + i + 7);
  return mix(h);
}

/* tensor 0 = INOUT slot, 1..n = inputs; scalar 0 = task index. */
static void k_update(strata_kernel_ctx *k) {
  uint64_t in[DAG_MAX_READS];
  uint32_t n = strata_kernel_ntensors(k) - 1;
  for (uint32_t i = 0; i < n; i++) in[i] = *(const uint64_t *)strata_kernel_tensor(k, i + 1)->data;
  uint64_t *out = strata_kernel_tensor(k, 0)->data;
  *out = update(*out, in, n, strata_kernel_scalar(k, 0));
}

typedef struct dag_task {
  uint16_t out, in[DAG_MAX_READS];
  uint8_t nin, kind;
} dag_task;

typedef struct dag_job {
  uint32_t kernel[2];
  uint64_t ntasks;
  dag_task *tasks;
  uint64_t *slots; /* each slot is its own buffer (own tensormap bucket) */
} dag_job;

static void gen(dag_job *j, uint64_t seed) {
  uint64_t s = seed * 2654435761u + 1;
  for (uint64_t i = 0; i < j->ntasks; i++) {
    dag_task *t = &j->tasks[i];
    s = mix(s + i);
    t->out = (uint16_t)(s % DAG_SLOTS);
    t->nin = (uint8_t)((s >> 16) % (DAG_MAX_READS + 1));
    t->kind = (uint8_t)((s >> 20) & 1);
    for (uint32_t r = 0; r < t->nin; r++) t->in[r] = (uint16_t)((s >> (24 + 10 * r)) % DAG_SLOTS);
  }
}

static void dag_orch(strata_orch *o, void *arg) {
  dag_job *j = arg;
  for (uint64_t i = 0; i < j->ntasks; i++) {
    const dag_task *t = &j->tasks[i];
    strata_args a;
    strata_args_init(&a);
    strata_tensor out = strata_tensor_external(&j->slots[t->out * 8], 8, STRATA_DT_I64);
    strata_args_tensor(&a, STRATA_INOUT, &out);
    for (uint32_t r = 0; r < t->nin; r++) {
      strata_tensor in = strata_tensor_external(&j->slots[t->in[r] * 8], 8, STRATA_DT_I64);
      strata_args_tensor(&a, t->in[r] == t->out ? STRATA_NO_DEP : STRATA_INPUT, &in);
    }
    strata_args_scalar(&a, i);
    if (strata_orch_submit(o, j->kernel[t->kind], &a, NULL) != 0) return;
  }
}

/* Sequential reference: the same reads and writes in program order. An input
 * that aliases the output is read as the old value (the kernel reads inputs
 * before writing). */
static void reference(const dag_job *j, uint64_t *slots) {
  for (uint64_t i = 0; i < j->ntasks; i++) {
    const dag_task *t = &j->tasks[i];
    uint64_t in[DAG_MAX_READS];
    for (uint32_t r = 0; r < t->nin; r++) in[r] = slots[t->in[r] * 8];
    slots[t->out * 8] = update(slots[t->out * 8], in, t->nin, i);
  }
}

static int check(const dag_job *j, strata_example_result *r) {
  uint64_t *ref = calloc(DAG_SLOTS * 8, sizeof(uint64_t));
  if (!ref) return -1;
  reference(j, ref);
  r->check = 1;
  for (uint32_t s = 0; s < DAG_SLOTS && r->check; s++)
    if (ref[s * 8] != j->slots[s * 8]) {
      r->check = 0;
      snprintf(r->detail, sizeof(r->detail), "slot %u differs from the sequential run", s);
    }
  if (r->check)
    snprintf(r->detail, sizeof(r->detail), "%llu tasks over %u slots match the sequential run",
             (unsigned long long)j->ntasks, DAG_SLOTS);
  for (r->nvalues = 0; r->nvalues < 4; r->nvalues++)
    r->values[r->nvalues] = (double)(j->slots[r->nvalues * 8] >> 40);
  free(ref);
  return 0;
}

int strata_example_random_dag(const strata_example_opts *o, strata_example_result *r) {
  dag_job j = {{0, 0}, o->tasks ? o->tasks : 100000, NULL, NULL};
  strata_chip *chip;
  if (strata_example_chip(o, r, &chip)) return r->status;
  j.tasks = calloc(j.ntasks, sizeof(dag_task));
  /* slots 64 B apart: one cache line each, no false sharing between cores */
  j.slots = calloc(DAG_SLOTS * 8, sizeof(uint64_t));
  if (!j.tasks || !j.slots) {
    strata_example_nomem(r, "the task list", "--tasks");
    goto out;
  }
  gen(&j, o->seed);
  r->status = strata_chip_register_kernel(chip, "update_aic", k_update, STRATA_CORE_AIC, &j.kernel[0]);
  if (r->status == 0)
    r->status = strata_chip_register_kernel(chip, "update_aiv", k_update, STRATA_CORE_AIV, &j.kernel[1]);
  if (r->status == 0) r->status = strata_chip_run(chip, dag_orch, &j, &r->info);
  if (r->status == 0 && check(&j, r) != 0) strata_example_nomem(r, "the reference", "--tasks");
out:
  strata_chip_destroy(chip);
  free(j.tasks);
  free(j.slots);
  return r->status;
}
