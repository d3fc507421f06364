/* stress.c - `strata stress allreduce`: the init-skew reproduction of SPEC
 * §5. Each round forks a fresh node (one process per chip), lets chip ranks
 * initialise with an injected long-tail delay, runs one allreduce over all
 * chips and closes the node; the rounds are tallied as pass, scheduler
 * timeout (100), stream-sync timeout or other failure.
 *
 * Every round runs under PTO2_RING_HEAP=4294967296 PTO2_RING_TASK_WINDOW=131072
 * PTO2_RING_DEP_POOL=131072, as in the field. The buffers live in each
 * chip's own heap (runtime outputs), so nothing but the collective needs a
 * chip to be ready: without the init barrier, fast ranks really start their
 * allreduce while a slow rank is still initialising.
 *
 * Under mpirun (SPEC §6) every round is an L4 with one L3 node of --chips
 * chips per rank and one domain over every chip of every rank (shm inside a
 * node, MPI between nodes). Every rank runs the same rounds (ranks other
 * than 0 serve theirs: strata_mpi_serve_return) and computes the same skew;
 * rank 0 prints.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_int.h"
#include "cli/json.h"
#include "cli/opts.h"
#include "strata.h"

#define STRESS_COUNT 1024 /* f32 elements per rank */
#define FIELD_SCHED_TIMEOUT_MS 5000
#define FIELD_SYNC_TIMEOUT_MS 2000

typedef struct stress_opts {
  uint32_t chips, rounds, legacy, no_barrier, json, idle_cap;
  uint32_t ranks; /* under mpirun: one node of `chips` chips per rank; else 0 */
  char skew[64];
  const char *trace;
} stress_opts;

typedef struct tally {
  uint32_t pass, sched, sync, other;
  char last_error[256];
} tally;

/* ---- the chip side: fill, allreduce, verify ---------------------------------- */
static uint32_t K_FILL, K_CHECK, O_ROUND;

static void k_fill(strata_kernel_ctx *k) { /* in = rank + 1, out = 0 */
  float *in = strata_kernel_tensor(k, 0)->data, *out = strata_kernel_tensor(k, 1)->data;
  for (int i = 0; i < STRESS_COUNT; i++) {
    in[i] = (float)(strata_kernel_scalar(k, 0) + 1);
    out[i] = 0;
  }
}

static void k_check(strata_kernel_ctx *k) { /* out = n (n + 1) / 2 everywhere */
  const float *out = strata_kernel_tensor(k, 0)->data;
  uint64_t n = strata_kernel_scalar(k, 0);
  for (int i = 0; i < STRESS_COUNT; i++)
    if (out[i] != (float)(n * (n + 1) / 2)) {
      strata_kernel_fail(k, "allreduce element %d is %g, want %llu", i, out[i],
                         (unsigned long long)(n * (n + 1) / 2));
      return;
    }
}

/* scalars: domain, nranks */
static void o_round(strata_orch *o, void *arg) {
  const strata_args *na = arg;
  uint32_t domain = (uint32_t)na->scalars[0];
  strata_comm *c = strata_comm_lookup(domain);
  strata_tensor in, out;
  strata_args a;
  strata_args_init(&a);
  strata_args_output(&a, &in, STRESS_COUNT * sizeof(float), STRATA_DT_F32);
  strata_args_output(&a, &out, STRESS_COUNT * sizeof(float), STRATA_DT_F32);
  strata_args_scalar(&a, c ? strata_comm_rank(c) : 0);
  if (strata_orch_submit(o, K_FILL, &a, NULL)) return;
  if (strata_comm_submit_allreduce(o, domain, &in, &out, STRATA_OP_SUM, STRATA_ALLREDUCE_AUTO, NULL))
    return;
  strata_args_init(&a);
  strata_args_tensor(&a, STRATA_INPUT, &out);
  strata_args_scalar(&a, na->scalars[1]);
  strata_orch_submit(o, K_CHECK, &a, NULL);
}

/* ---- the node side -------------------------------------------------------------- */
static uint32_t L_ROUND;

/* Submit the round (scalars: domain, chips in the domain) to each of n
 * children: chips of a node, or the nodes of an L4 under mpirun. Each on its
 * own, no group: fast ranks start before slow ones, as in the field. */
static void round_each(strata_node_orch *o, uint32_t n, int nodes, uint64_t domain, uint64_t all) {
  for (uint32_t r = 0; r < n; r++) {
    strata_args a;
    strata_args_init(&a);
    strata_args_scalar(&a, domain);
    strata_args_scalar(&a, all);
    if (nodes) strata_node_submit_child(o, r, L_ROUND, &a, NULL);
    else strata_node_submit_chip(o, r, O_ROUND, &a, NULL);
  }
}

static void node_round(strata_node_orch *o, void *arg) { /* domain, chips */
  const uint64_t *s = arg;
  round_each(o, (uint32_t)s[1], 0, s[0], s[1]);
}

/* Under mpirun, on each node: its chips. */
static void level_round(strata_node_orch *o, void *arg) {
  const strata_args *a = arg;
  round_each(o, strata_node_chips(strata_node_orch_node(o)), 0, a->scalars[0], a->scalars[1]);
}

static void upper_round(strata_node_orch *o, void *arg) { /* domain, chips in all, ranks */
  const uint64_t *s = arg;
  round_each(o, (uint32_t)s[2], 1, s[0], s[1]);
}

static uint32_t all_chips(const stress_opts *so) { return so->chips * (so->ranks ? so->ranks : 1); }

/* The STRATA_FAULT_INIT_DELAY_MS value of a round: tail:<median> delays one
 * rank (rotating) by a log-logistic draw, longtail:<max> delays every rank by
 * max * u^3, a new draw each round; anything else is used as it is. */
static void skew_for(const stress_opts *so, uint32_t round, char *v, size_t len) {
  unsigned long ms;
  if (sscanf(so->skew, "tail:%lu", &ms) == 1 && !strchr(so->skew + 5, ':'))
    snprintf(v, len, "tail:%u:%lu:%u", (round + 1) % all_chips(so), ms, round + 1);
  else if (sscanf(so->skew, "longtail:%lu", &ms) == 1 && !strchr(so->skew + 9, ':'))
    snprintf(v, len, "longtail:%lu:%u", ms, round + 1);
  else
    snprintf(v, len, "%s", strcmp(so->skew, "none") == 0 ? "" : so->skew);
}

static void round_skew(const stress_opts *so, uint32_t round) {
  char v[96];
  skew_for(so, round, v, sizeof(v));
  setenv("STRATA_FAULT_INIT_DELAY_MS", v, 1);
}

static int make_node(const stress_opts *so, strata_node **out) {
  strata_node_config c;
  strata_node_config_init(&c);
  c.field_mask = STRATA_NCFG_CHIPS | STRATA_NCFG_INIT_BARRIER | STRATA_NCFG_DEVMEM;
  if (so->ranks) c.field_mask |= STRATA_NCFG_LEVEL | STRATA_NCFG_WORKERS;
  c.level = so->ranks ? 4 : 3;
  c.workers = so->ranks; /* the L3s below: `chips` chips, this barrier setting */
  c.chips = so->chips;
  c.init_barrier = !so->no_barrier;
  c.devmem_bytes = 1 << 20;
  c.chip.field_mask = STRATA_CFG_LEGACY | STRATA_CFG_LEGACY_IDLE_CAP | STRATA_CFG_SCHED_TIMEOUT |
                      STRATA_CFG_SYNC_TIMEOUT | STRATA_CFG_UNORDERED_TIMEOUTS;
  c.chip.legacy_sched_timeout = so->legacy;
  c.chip.legacy_idle_cap = so->idle_cap;
  /* The field's scale, unordered on purpose (SPEC §5): a 5 s scheduler budget
   * and a 2 s stream sync; ordinary runs are refused such a pair. */
  c.chip.scheduler_timeout_ms = FIELD_SCHED_TIMEOUT_MS;
  c.chip.stream_sync_timeout_ms = FIELD_SYNC_TIMEOUT_MS;
  c.chip.unordered_timeouts = 1;
  strata_node *n = NULL;
  int rc = strata_node_create(&c, &n);
  if (rc == 0) rc = strata_node_register_kernel(n, "fill", k_fill, STRATA_CORE_AIV, &K_FILL);
  if (rc == 0) rc = strata_node_register_kernel(n, "check", k_check, STRATA_CORE_AIV, &K_CHECK);
  if (rc == 0) rc = strata_node_register_orch(n, "round", o_round, &O_ROUND);
  if (rc == 0) rc = strata_node_register_level_orch(n, "round", level_round, &L_ROUND);
  if (rc == 0) rc = strata_node_init(n); /* ranks other than 0: STRATA_MPI_SERVED */
  if (rc) strata_node_close(n);
  else *out = n;
  return rc;
}

static int one_round(const stress_opts *so, uint32_t round, char *msg, size_t len) {
  round_skew(so, round);
  strata_node *n = NULL;
  int rc = make_node(so, &n);
  if (rc == STRATA_MPI_SERVED) return 0; /* a rank other than 0: rank 0 tallies */
  if (rc) return snprintf(msg, len, "%s", strata_last_error()), rc;
  uint32_t chips[STRATA_NODE_MAX_CHILDREN], domain = 0, all = all_chips(so);
  for (uint32_t i = 0; i < all; i++) chips[i] = i;
  rc = strata_node_domain_create(n, chips, all, 64 << 10, &domain);
  strata_node_run_info info;
  memset(&info, 0, sizeof(info)); /* read below even when domain creation failed */
  uint64_t args[3] = {domain, all, so->ranks};
  if (rc == 0) rc = strata_node_run(n, so->ranks ? upper_round : node_round, args, &info);
  snprintf(msg, len, "%s", rc ? (rc == info.status ? info.message : strata_last_error()) : "");
  strata_node_close(n);
  return rc;
}

/* A run fails with the first error; the chip's own status is in the message
 * when the node reports the task failure. */
static void classify(tally *t, int rc, const char *msg) {
  if (rc == 0) {
    t->pass++;
    return;
  }
  if (rc == STRATA_SCHEDULER_TIMEOUT) t->sched++;
  else if (rc == STRATA_STREAM_SYNC_TIMEOUT) t->sync++;
  else t->other++;
  snprintf(t->last_error, sizeof(t->last_error), "%s: %s", strata_err_name(rc), msg);
}

static void progress(const stress_opts *so, uint32_t done, const tally *t) {
  if (so->json || strata_mpi_rank() != 0) return;
  char bar[41];
  uint32_t fill = so->rounds ? done * 40 / so->rounds : 40;
  for (uint32_t i = 0; i < 40; i++) bar[i] = i < fill ? '#' : '.';
  bar[40] = '\0';
  fprintf(stderr, "\r[%s] %u/%u  pass %u  fail %u", bar, done, so->rounds, t->pass,
          done - t->pass);
  if (done == so->rounds) fputc('\n', stderr);
}

static void report(const stress_opts *so, const tally *t) {
  uint32_t fail = so->rounds - t->pass;
  if (so->json) {
    cli_json j;
    cli_json_begin(&j, stdout);
    cli_json_str(&j, "collective", "allreduce");
    cli_json_int(&j, "chips", all_chips(so));
    cli_json_int(&j, "ranks", so->ranks ? so->ranks : 1);
    cli_json_int(&j, "rounds", so->rounds);
    cli_json_str(&j, "init_skew", so->skew);
    cli_json_bool(&j, "legacy_sched_timeout", (int)so->legacy);
    cli_json_bool(&j, "init_barrier", !so->no_barrier);
    cli_json_int(&j, "pass", t->pass);
    cli_json_int(&j, "fail", fail);
    cli_json_int(&j, "scheduler_timeout_100", t->sched);
    cli_json_int(&j, "stream_sync_timeout", t->sync);
    cli_json_int(&j, "other", t->other);
    cli_json_str(&j, "last_error", t->last_error);
    cli_json_end(&j);
    return;
  }
  printf("allreduce x %u rounds, %u chips%s, init skew %s, %s detector, init barrier %s\n",
         so->rounds, all_chips(so), so->ranks ? " over the ranks of mpirun" : "", so->skew, so->legacy ? "legacy" : "default",
         so->no_barrier ? "off" : "on");
  printf("| pass | fail | scheduler timeout (100) | stream-sync timeout | other |\n");
  printf("|---|---|---|---|---|\n| %u | %u | %u | %u | %u |\n", t->pass, fail, t->sched,
         t->sync, t->other);
  if (t->last_error[0]) printf("last failure: %s\n", t->last_error);
}

#define SKEW_SYNTAX "tail:<median_ms> | longtail:<max_ms> | <rank>:<ms>[,...] | none"

void cli_stress_usage(FILE *out) {
  fprintf(out, "stress options (strata stress allreduce):\n"
               "  --chips N               chips, one process each (2; per rank under mpirun); 1..32\n"
               "  --rounds R              rounds, a fresh node each (30); 1..100000\n"
               "  --init-skew DIST        %s (tail:1150)\n"
               "  --legacy-sched-timeout  the old idle-cap hang detector\n"
               "  --legacy-idle-cap N     its idle iterations (1000); 1..1073741824\n"
               "  --no-init-barrier       dispatch before every chip is ready (old behaviour)\n"
               "  --trace <file>          write a Chrome trace of every round\n"
               "  --json                  print the tally as JSON\n", SKEW_SYNTAX);
}

static int set_skew(stress_opts *so, const char *v) {
  char spec[96];
  uint32_t ms;
  if (!v) return fprintf(stderr, "strata: --init-skew is missing its value: %s\n", SKEW_SYNTAX), CLI_USAGE;
  snprintf(so->skew, sizeof(so->skew), "%s", v);
  skew_for(so, 0, spec, sizeof(spec));
  if (strlen(v) < sizeof(so->skew) && strata_fault_init_delay_parse(spec, 0, &ms) == 0) return 0;
  fprintf(stderr, "strata: --init-skew '%s' is not valid: %s\n", v, SKEW_SYNTAX);
  return CLI_USAGE;
}

static int set_u32(const char *flag, const char *v, uint64_t max, uint32_t *out) {
  uint64_t x;
  int rc = cli_number(flag, v, 1, max, &x);
  if (rc == 0) *out = (uint32_t)x;
  return rc;
}

static int parse_one(void *ctx, int argc, char **argv, int *i) {
  stress_opts *so = ctx;
  const char *a = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
  if (strcmp(a, "--json") == 0) return so->json = 1, 0;
  if (strcmp(a, "--legacy-sched-timeout") == 0) return so->legacy = 1, 0;
  if (strcmp(a, "--no-init-barrier") == 0) return so->no_barrier = 1, 0;
  if (strcmp(a, "--trace") == 0) return cli_trace_flag(argc, argv, i, &so->trace);
  ++*i;
  if (strcmp(a, "--init-skew") == 0) return set_skew(so, v);
  if (strcmp(a, "--chips") == 0) return set_u32(a, v, 32, &so->chips);
  if (strcmp(a, "--rounds") == 0) return set_u32(a, v, 100000, &so->rounds);
  if (strcmp(a, "--legacy-idle-cap") == 0) return set_u32(a, v, 1u << 30, &so->idle_cap);
  fprintf(stderr, "strata: unknown stress option '%s' (see strata help)\n", a);
  return CLI_USAGE;
}

/* 0 to run, -1 after printing help, else the exit status of a usage error. */
static int parse(int argc, char **argv, stress_opts *so) {
  *so = (stress_opts){2, 30, 0, 0, 0, 1000, 0, "tail:1150", NULL};
  return cli_parse_collective_cmd(argc, argv, "stress", cli_stress_usage, parse_one, so);
}

int cli_stress(int argc, char **argv) {
  stress_opts so;
  int rc = parse(argc, argv, &so);
  if (rc) return rc < 0 ? 0 : rc;
  if (so.trace && cli_trace_begin(so.trace) != 0) return 1;
  setenv("PTO2_RING_HEAP", "4294967296", 1);
  setenv("PTO2_RING_TASK_WINDOW", "131072", 1);
  setenv("PTO2_RING_DEP_POOL", "131072", 1);
  if (strata_mpi_available() && strata_mpi_size() > 1) { /* under mpirun: one node per rank */
    so.ranks = (uint32_t)strata_mpi_size();
    strata_mpi_serve_return(1);
  }
  if (all_chips(&so) > STRATA_NODE_MAX_CHILDREN) {
    fprintf(stderr, "strata: --chips %u x %u ranks: at most %d chips in all\n", so.chips,
            so.ranks, STRATA_NODE_MAX_CHILDREN);
    return CLI_USAGE;
  }
  tally t;
  memset(&t, 0, sizeof(t));
  for (uint32_t r = 0; r < so.rounds; r++) {
    char msg[640];
    classify(&t, one_round(&so, r, msg, sizeof(msg)), msg);
    progress(&so, r + 1, &t);
  }
  if (strata_mpi_rank() != 0) return 0; /* rank 0 prints and decides */
  report(&so, &t);
  if (so.trace && strata_trace_stop() != 0) fprintf(stderr, "strata: %s\n", strata_last_error());
  return t.pass == so.rounds ? 0 : 1;
}
