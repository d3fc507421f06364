/* pipeline.c - the node example: blocks of data stream through one stage
 * per chip (x_{k+1} = 2 x_k + k on chip k), so chip k works on block b while
 * chip k+1 works on block b-1; a sub worker verifies every finished block.
 * Cross-chip ordering comes from the tensors alone. With --nodes N it runs
 * on an L4 of N forked L3 nodes: the L4 orchestration hands each node a
 * level orchestration that streams the block through that node's chips,
 * and node w+1 waits for node w by tensor overlap. Under mpirun (SPEC §6)
 * it runs on an L4 with one L3 node per rank: a block's data stays on one
 * rank, so block b streams through the chips of node b % ranks, and rank 0
 * verifies every block with copy_from. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "examples.h"
#include "strata/mpi.h"

#define PIPE_BLOCKS 8
#define PIPE_MAX_CHIPS 16

static uint32_t K_STAGE, O_STAGE, S_CHECK, L_STAGES;

static void k_stage(strata_kernel_ctx *k) { /* y = 2 x + s0 */
  const strata_tensor *x = strata_kernel_tensor(k, 0), *y = strata_kernel_tensor(k, 1);
  const double *in = x->data;
  double *out = y->data, add = strata_kernel_scalar_f64(k, 0);
  for (size_t i = 0; i < y->bytes / sizeof(double); i++) out[i] = 2.0 * in[i] + add;
}

static void o_stage(strata_orch *o, void *arg) { /* one chip task over the node args */
  strata_args a = *(const strata_args *)arg;
  a.ndeps = 0;
  strata_orch_submit(o, K_STAGE, &a, NULL);
}

/* Expected after `stages` stages of x_{k+1} = 2 x_k + k, from x_0 = i. */
static double expected(uint32_t stages, size_t i) {
  double v = (double)i;
  for (uint32_t k = 0; k < stages; k++) v = 2.0 * v + k;
  return v;
}

static int s_check(const strata_args *a, char *msg, size_t len) {
  const double *x = a->tensors[0].data;
  uint32_t stages = (uint32_t)a->scalars[0];
  for (size_t i = 0; i < a->tensors[0].bytes / sizeof(double); i++)
    if (x[i] != expected(stages, i))
      return snprintf(msg, len, "element %zu is %g, want %g", i, x[i], expected(stages, i)),
             STRATA_EINVAL;
  return 0;
}

typedef struct pipe_job {
  uint32_t chips, nodes; /* chips: stages in all; nodes: 0 = an L3 run */
  uint32_t ranks;        /* under mpirun: blocks spread over the ranks' nodes */
  strata_tensor x[PIPE_BLOCKS][PIPE_MAX_CHIPS + 1];
} pipe_job;

/* Stage `first + k` of one block on chip k, for the chips from `first` on. */
static int stages(strata_node_orch *o, const strata_tensor *x, uint32_t n, uint32_t first) {
  for (uint32_t k = 0; k < n; k++) {
    strata_args a;
    strata_args_init(&a);
    strata_args_tensor(&a, STRATA_INPUT, &x[k]);
    strata_args_tensor(&a, STRATA_OUTPUT_EXISTING, &x[k + 1]);
    strata_args_scalar_f64(&a, (double)(first + k));
    int rc = strata_node_submit_chip(o, k, O_STAGE, &a, NULL);
    if (rc) return rc;
  }
  return 0;
}

/* The L3 part of an L4 run: args = the block's buffers at this node's
 * stages (first input, last output), scalar 0 = the first stage. */
static void l3_stages(strata_node_orch *o, void *arg) {
  const strata_args *a = arg;
  stages(o, a->tensors, a->ntensors - 1, (uint32_t)a->scalars[0]);
}

static int node_share(strata_node_orch *o, const pipe_job *j, uint32_t b, uint32_t w) {
  uint32_t per = j->chips / j->nodes;
  strata_args a;
  strata_args_init(&a);
  strata_args_tensor(&a, STRATA_INPUT, &j->x[b][w * per]);
  for (uint32_t k = 1; k < per; k++) strata_args_tensor(&a, STRATA_INOUT, &j->x[b][w * per + k]);
  strata_args_tensor(&a, STRATA_OUTPUT_EXISTING, &j->x[b][(w + 1) * per]);
  strata_args_scalar(&a, w * per);
  return strata_node_submit_child(o, w, L_STAGES, &a, NULL);
}

/* Under mpirun: every stage of block b on node b % ranks. */
static int rank_share(strata_node_orch *o, const pipe_job *j, uint32_t b) {
  strata_args a;
  strata_args_init(&a);
  strata_args_tensor(&a, STRATA_INPUT, &j->x[b][0]);
  for (uint32_t k = 1; k < j->chips; k++) strata_args_tensor(&a, STRATA_INOUT, &j->x[b][k]);
  strata_args_tensor(&a, STRATA_OUTPUT_EXISTING, &j->x[b][j->chips]);
  strata_args_scalar(&a, 0);
  return strata_node_submit_child(o, b % j->ranks, L_STAGES, &a, NULL);
}

static void pipe_orch(strata_node_orch *o, void *arg) {
  pipe_job *j = arg;
  for (uint32_t b = 0; b < PIPE_BLOCKS; b++) {
    if (j->ranks) {
      if (rank_share(o, j, b)) return;
      continue; /* verified on rank 0 with copy_from (a sub here cannot read it) */
    }
    for (uint32_t w = 0; w < j->nodes; w++)
      if (node_share(o, j, b, w)) return;
    if (!j->nodes && stages(o, j->x[b], j->chips, 0)) return;
    strata_args v;
    strata_args_init(&v);
    strata_args_tensor(&v, STRATA_INPUT, &j->x[b][j->chips]);
    strata_args_scalar(&v, j->chips);
    if (strata_node_submit_sub(o, S_CHECK, &v, NULL)) return;
  }
}

static int setup(strata_node *n, pipe_job *j, size_t elems, strata_example_result *r) {
  double *init = malloc(elems * sizeof(double));
  if (!init) return strata_example_nomem(r, "the input block", "--size");
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < elems; i++) init[i] = (double)i;
  for (uint32_t b = 0; rc == 0 && b < PIPE_BLOCKS; b++)
    for (uint32_t k = 0; rc == 0 && k <= j->chips; k++) {
      void *p = NULL;
      uint32_t chip = k < j->chips ? k : j->chips - 1;
      if (j->ranks) chip += (b % j->ranks) * j->chips; /* node b % ranks */
      rc = strata_node_malloc(n, chip, elems * sizeof(double), &p);
      if (rc == 0) j->x[b][k] = strata_tensor_external(p, elems * sizeof(double), STRATA_DT_F64);
      if (rc == 0 && k == 0) rc = strata_node_copy_to(n, chip, p, init, elems * sizeof(double));
    }
  free(init);
  return rc;
}

/* ---- device memory sized from the options -------------------------------------- */
/* The last chip holds two buffers per block (its stage's input and output),
 * the others one: 2 x PIPE_BLOCKS x size doubles, plus the allocator's
 * slack. The device memory asked for is at most PIPE_DEVMEM_CHIP per chip
 * and PIPE_DEVMEM_TREE for the whole tree (it is touched: /dev/shm pages). */
#define PIPE_DEVMEM_CHIP (1ull << 30)
#define PIPE_DEVMEM_TREE (4ull << 30)
#define PIPE_DEVMEM_SLACK (1ull << 20)

static uint32_t per_node(const strata_example_opts *o) { return o->chips ? o->chips : (o->nodes ? 2 : 4); }
static uint32_t all_chips(const strata_example_opts *o) { return per_node(o) * (o->nodes ? o->nodes : 1); }
static uint64_t devmem_for(uint64_t elems) { return 2 * PIPE_BLOCKS * elems * 8 + PIPE_DEVMEM_SLACK; }

static uint64_t devmem_cap(const strata_example_opts *o) {
  uint64_t tree = PIPE_DEVMEM_TREE / all_chips(o);
  return tree < PIPE_DEVMEM_CHIP ? tree : PIPE_DEVMEM_CHIP;
}

int strata_example_pipeline_check(const strata_example_opts *o, char *msg, size_t len) {
  uint64_t cap = devmem_cap(o), largest = (cap - PIPE_DEVMEM_SLACK) / (2 * PIPE_BLOCKS * 8);
  if (all_chips(o) > PIPE_MAX_CHIPS)
    return snprintf(msg, len, "--nodes x --chips is %u chips; the pipeline takes at most %d in "
                    "all", all_chips(o), PIPE_MAX_CHIPS), -1;
  if (o->size > largest)
    return snprintf(msg, len, "--size %u does not fit: %u chips may ask for %llu MiB of device "
                    "memory each (at most %llu MiB per chip, %llu MiB in all); the largest "
                    "--size with these --chips/--nodes is %llu", o->size, all_chips(o),
                    (unsigned long long)(cap >> 20), (unsigned long long)(PIPE_DEVMEM_CHIP >> 20),
                    (unsigned long long)(PIPE_DEVMEM_TREE >> 20), (unsigned long long)largest), -1;
  return 0;
}

/* An L3 node of `chips` chips, or (nodes > 0) an L4 of `nodes` such nodes;
 * the sub workers belong to the top level. Device memory: what the blocks
 * need (at least the default), unless STRATA_NODE_DEVMEM says otherwise. */
static int build(const strata_example_opts *o, size_t elems, strata_node **out) {
  strata_node_config c;
  strata_node_config_init(&c);
  c.field_mask = STRATA_NCFG_CHIPS | STRATA_NCFG_SUBS | STRATA_NCFG_LEVEL | STRATA_NCFG_WORKERS;
  c.chips = per_node(o);
  c.subs = o->subs ? o->subs : 1;
  c.level = o->nodes ? 4 : 3;
  c.workers = o->nodes;
  c.chip = o->cfg;
  if (!getenv("STRATA_NODE_DEVMEM") && devmem_for(elems) > c.devmem_bytes) {
    c.field_mask |= STRATA_NCFG_DEVMEM;
    c.devmem_bytes = devmem_for(elems);
  }
  int rc = strata_node_create(&c, out);
  if (rc == 0) rc = strata_node_register_kernel(*out, "stage", k_stage, STRATA_CORE_AIV, &K_STAGE);
  if (rc == 0) rc = strata_node_register_orch(*out, "stage", o_stage, &O_STAGE);
  if (rc == 0) rc = strata_node_register_sub(*out, "check", s_check, &S_CHECK);
  if (rc == 0) rc = strata_node_register_level_orch(*out, "stages", l3_stages, &L_STAGES);
  if (rc == 0) rc = strata_node_init(*out);
  return rc;
}

static void report(strata_example_result *r, const strata_node_run_info *ni, pipe_job *j,
                   strata_node *n, size_t elems) {
  r->info.tasks_submitted = ni->tasks_submitted;
  r->info.tasks_completed = ni->tasks_completed;
  r->info.elapsed_ns = ni->elapsed_ns;
  snprintf(r->info.message, sizeof(r->info.message), "%s", ni->message);
  if (r->status) return;
  double head[8];
  size_t nv = elems < 8 ? elems : 8;
  r->check = 1;
  for (uint32_t b = 0; b < (j->ranks ? PIPE_BLOCKS : 1u); b++) { /* every block's head */
    uint32_t chip = j->chips - 1 + (j->ranks ? (b % j->ranks) * j->chips : 0);
    r->check &= strata_node_copy_from(n, chip, head, j->x[b][j->chips].data,
                                      nv * sizeof(double)) == 0;
    for (size_t i = 0; i < nv; i++) {
      if (b == 0) r->values[r->nvalues++] = head[i];
      r->check &= head[i] == expected(j->chips, i);
    }
  }
  char where[64] = "";
  if (j->ranks) snprintf(where, sizeof(where), " of one of %u ranks' nodes (mpirun)", j->ranks);
  else if (j->nodes) snprintf(where, sizeof(where), " of an L4 of %u nodes", j->nodes);
  snprintf(r->detail, sizeof(r->detail), "%d blocks x %zu elements through %u chips%s, "
           "verified by %s", PIPE_BLOCKS, elems, j->chips, where,
           j->ranks ? "copy_from on rank 0" : "a sub worker");
}

int strata_example_pipeline(const strata_example_opts *in, strata_example_result *r) {
  strata_node *n = NULL;
  strata_example_opts mo = *in, *o = &mo;
  uint32_t ranks = strata_mpi_available() && strata_mpi_size() > 1 ? (uint32_t)strata_mpi_size() : 0;
  if (ranks) mo.nodes = ranks; /* one L3 node per rank */
  pipe_job *j = calloc(1, sizeof(*j));
  size_t elems = o->size ? o->size : 4096;
  uint32_t per = per_node(o);
  if (strata_example_pipeline_check(o, r->info.message, sizeof(r->info.message))) {
    free(j);
    return r->status = STRATA_EINVAL;
  }
  if (!j) return strata_example_nomem(r, "the pipeline job", "--chips");
  r->status = build(o, elems, &n);
  if (r->status == 0) {
    j->chips = ranks ? per : per * (o->nodes ? o->nodes : 1);
    j->nodes = o->nodes;
    j->ranks = ranks;
    r->status = setup(n, j, elems, r);
  }
  strata_node_run_info ni;
  memset(&ni, 0, sizeof(ni));
  if (r->status == 0) r->status = strata_node_run(n, pipe_orch, j, &ni);
  if (r->status && !ni.message[0])
    snprintf(ni.message, sizeof(ni.message), "%s", r->info.message[0] ? r->info.message
                                                                     : strata_last_error());
  report(r, &ni, j, n, elems);
  strata_node_close(n);
  free(j);
  return r->status;
}
