/* node_dag.c - the node-level DAG example: a random DAG of tiny chip tasks
 * on an L3 node (each task runs a one-kernel chip orchestration on a random
 * chip, reading one or two slots and updating a third), checked against a
 * sequential run on the host. It measures the level engine's cost per task:
 * dependencies come from the hashed index, so it stays flat as the graph
 * grows (bench/run_nodedag.sh). */
#include <stdlib.h>
#include <string.h>

#include "examples.h"

#define ND_SLOTS 64u
#define ND_STRIDE 8u /* uint64 words per slot: one cache line each */

static uint32_t K_STEP, O_STEP;

static uint64_t mix(uint64_t out, const uint64_t *in, uint32_t nin, uint64_t i) {
  uint64_t h = out * 0x9E3779B97F4A7C15ull + i;
  for (uint32_t k = 0; k < nin; k++) h ^= in[k] + 0xBF58476D1CE4E5B9ull * (k + 1);
  return h ^ (h >> 29);
}

static void k_step(strata_kernel_ctx *k) { /* tensors: inputs..., out (last) */
  uint32_t nt = strata_kernel_ntensors(k);
  uint64_t in[2];
  for (uint32_t i = 0; i + 1 < nt; i++) in[i] = *(const uint64_t *)strata_kernel_tensor(k, i)->data;
  uint64_t *out = strata_kernel_tensor(k, nt - 1)->data;
  *out = mix(*out, in, nt - 1, strata_kernel_scalar(k, 0));
}

static void o_step(strata_orch *o, void *arg) {
  strata_args a = *(const strata_args *)arg;
  a.ndeps = 0;
  strata_orch_submit(o, K_STEP, &a, NULL);
}

typedef struct nd_task {
  uint8_t chip, nin, in[2], out;
} nd_task;

/* The graph is generated as it is submitted (and again for the reference),
 * from the seed: the example's memory does not grow with --tasks either. */
typedef struct nd_job {
  uint64_t ntasks, seed;
  uint32_t chips;
  strata_tensor slots; /* ND_SLOTS x ND_STRIDE words in chip 0's memory */
} nd_job;

static uint32_t next_rand(uint64_t *s) { /* splitmix64 */
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return (uint32_t)((z ^ (z >> 31)) >> 16);
}

static nd_task gen(const nd_job *j, uint64_t *s) {
  nd_task t;
  t.chip = (uint8_t)(next_rand(s) % j->chips);
  t.nin = (uint8_t)(1 + next_rand(s) % 2);
  for (uint32_t k = 0; k < t.nin; k++) t.in[k] = (uint8_t)(next_rand(s) % ND_SLOTS);
  t.out = (uint8_t)(next_rand(s) % ND_SLOTS);
  return t;
}

static strata_tensor slot(const nd_job *j, uint32_t s) {
  return strata_tensor_view(&j->slots, (size_t)s * ND_STRIDE * 8, 8);
}

static void nd_orch(strata_node_orch *o, void *arg) {
  nd_job *j = arg;
  uint64_t s = j->seed;
  for (uint64_t i = 0; i < j->ntasks; i++) {
    nd_task task = gen(j, &s);
    const nd_task *t = &task;
    strata_args a;
    strata_args_init(&a);
    for (uint32_t k = 0; k < t->nin; k++) {
      strata_tensor v = slot(j, t->in[k]);
      strata_args_tensor(&a, STRATA_INPUT, &v);
    }
    strata_tensor w = slot(j, t->out);
    strata_args_tensor(&a, STRATA_INOUT, &w);
    strata_args_scalar(&a, i);
    if (strata_node_submit_chip(o, t->chip, O_STEP, &a, NULL)) return;
  }
}

static void reference(const nd_job *j, uint64_t *ref) {
  memset(ref, 0, ND_SLOTS * sizeof(uint64_t));
  uint64_t s = j->seed;
  for (uint64_t i = 0; i < j->ntasks; i++) {
    nd_task task = gen(j, &s);
    const nd_task *t = &task;
    uint64_t in[2];
    for (uint32_t k = 0; k < t->nin; k++) in[k] = ref[t->in[k]];
    ref[t->out] = mix(ref[t->out], in, t->nin, i);
  }
}

static void check(strata_node *n, const nd_job *j, strata_example_result *r) {
  uint64_t got[ND_SLOTS * ND_STRIDE], ref[ND_SLOTS];
  reference(j, ref);
  r->check = strata_node_copy_from(n, 0, got, j->slots.data, sizeof(got)) == 0;
  for (uint32_t s = 0; r->check && s < ND_SLOTS; s++) r->check = got[s * ND_STRIDE] == ref[s];
  snprintf(r->detail, sizeof(r->detail), "%llu node tasks on %u chips %s the sequential run",
           (unsigned long long)j->ntasks, j->chips, r->check ? "match" : "DIFFER from");
  for (r->nvalues = 0; r->nvalues < 4; r->nvalues++)
    r->values[r->nvalues] = (double)(got[r->nvalues * ND_STRIDE] >> 40);
}

static int build(const strata_example_opts *o, nd_job *j, strata_node **n) {
  strata_node_config c;
  strata_node_config_init(&c);
  c.field_mask = STRATA_NCFG_CHIPS;
  c.chips = j->chips;
  c.chip = o->cfg;
  int rc = strata_node_create(&c, n);
  if (rc == 0) rc = strata_node_register_kernel(*n, "step", k_step, STRATA_CORE_AIV, &K_STEP);
  if (rc == 0) rc = strata_node_register_orch(*n, "step", o_step, &O_STEP);
  if (rc == 0) rc = strata_node_init(*n);
  void *p = NULL;
  uint64_t zero[ND_SLOTS * ND_STRIDE] = {0};
  if (rc == 0) rc = strata_node_malloc(*n, 0, sizeof(zero), &p);
  if (rc == 0) rc = strata_node_copy_to(*n, 0, p, zero, sizeof(zero));
  if (rc == 0) j->slots = strata_tensor_external(p, sizeof(zero), STRATA_DT_U8);
  return rc;
}

/* ---- the same graph as chip tasks of one chip (the benchmark's baseline) ---------- */
static void chip_orch(strata_orch *o, void *arg) {
  nd_job *j = arg;
  uint64_t s = j->seed;
  for (uint64_t i = 0; i < j->ntasks; i++) {
    nd_task t = gen(j, &s);
    strata_args a;
    strata_args_init(&a);
    for (uint32_t k = 0; k < t.nin; k++) {
      strata_tensor v = slot(j, t.in[k]);
      strata_args_tensor(&a, STRATA_INPUT, &v);
    }
    strata_tensor w = slot(j, t.out);
    strata_args_tensor(&a, STRATA_INOUT, &w);
    strata_args_scalar(&a, i);
    if (strata_orch_submit(o, K_STEP, &a, NULL)) return;
  }
}

int strata_example_chip_dag(const strata_example_opts *o, strata_example_result *r) {
  static uint64_t slots[ND_SLOTS * ND_STRIDE];
  nd_job j = {o->tasks ? o->tasks : 1000, o->seed, 1, {0}};
  strata_chip *chip = NULL;
  memset(slots, 0, sizeof(slots));
  j.slots = strata_tensor_external(slots, sizeof(slots), STRATA_DT_U8);
  if (strata_example_chip(o, r, &chip)) return r->status;
  r->status = strata_chip_register_kernel(chip, "step", k_step, STRATA_CORE_AIV, &K_STEP);
  if (r->status == 0) r->status = strata_chip_run(chip, chip_orch, &j, &r->info);
  uint64_t ref[ND_SLOTS];
  reference(&j, ref);
  r->check = r->status == 0;
  for (uint32_t i = 0; r->check && i < ND_SLOTS; i++) r->check = slots[i * ND_STRIDE] == ref[i];
  snprintf(r->detail, sizeof(r->detail), "the nodedag graph, %llu chip tasks on one chip, %s the "
           "sequential run", (unsigned long long)j.ntasks, r->check ? "match" : "DIFFER from");
  strata_chip_destroy(chip);
  return r->status;
}

int strata_example_node_dag(const strata_example_opts *o, strata_example_result *r) {
  nd_job j = {o->tasks ? o->tasks : 1000, o->seed, o->chips ? o->chips : 2, {0}};
  strata_node *n = NULL;
  r->status = build(o, &j, &n);
  strata_node_run_info ni;
  memset(&ni, 0, sizeof(ni));
  if (r->status == 0) r->status = strata_node_run(n, nd_orch, &j, &ni);
  else snprintf(ni.message, sizeof(ni.message), "%s", strata_last_error());
  r->info.tasks_submitted = ni.tasks_submitted;
  r->info.tasks_completed = ni.tasks_completed;
  r->info.elapsed_ns = ni.elapsed_ns;
  snprintf(r->info.message, sizeof(r->info.message), "%s", ni.message);
  if (r->status == 0) check(n, &j, r);
  strata_node_close(n);
  return r->status;
}
