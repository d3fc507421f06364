/* bench.c - `strata bench allreduce`, in the style of nccl-tests'
 * all_reduce_perf: a size sweep (--min-bytes, --max-bytes, --factor), f32
 * sum over every chip of a node, or under mpirun over every chip of every
 * rank (one L3 node per rank, a hierarchical domain: shm inside a node, MPI
 * between nodes). Each chip times --iters back-to-back calls after
 * --warmup calls and a barrier, inside its kernel; a size's time is the
 * slowest chip's average. One table line per size (time, algorithm, algbw,
 * busbw = algbw x 2(n-1)/n, #wrong with --check), or --json; rank 0 prints.
 * Uses only the public API.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli_int.h"
#include "cli/json.h"
#include "cli/opts.h"
#include "strata.h"

#define BENCH_MAX_BYTES (256ull << 20) /* per chip: in and out live in its device memory */
#define BENCH_ONE_SHOT_MAX (64u << 10) /* STRATA_ALLREDUCE_AUTO's switch (strata/comm.h) */
#define PROGRESS_EVERY 65536u          /* elements between progress reports of a kernel */

typedef struct bench_opts {
  uint64_t min_bytes, max_bytes, factor, chips, iters, warmup, window;
  int check, json;
  uint32_t ranks; /* under mpirun: one node of `chips` chips per rank; else 0 */
} bench_opts;

/* What one size gave: the slowest chip's time per call and the wrong elements. */
typedef struct bench_row {
  uint64_t bytes, wrong;
  double sec;
} bench_row;

/* ---- the chip side ------------------------------------------------------------ */
static uint32_t K_AR, O_AR, L_AR;

/* Element i of domain rank q, and the sum over n ranks: exact in f32. */
static float in_val(uint32_t q, size_t i) { return (float)((q + 1) * (1 + i % 7)); }
static float sum_val(uint32_t n, size_t i) { return (float)(n * (n + 1) / 2 * (1 + i % 7)); }

static void fill(strata_kernel_ctx *k, float *in, size_t count, uint32_t q) {
  for (size_t i = 0; i < count; i++) {
    in[i] = in_val(q, i);
    if (i % PROGRESS_EVERY == 0) strata_kernel_progress(k); /* work, not a hang */
  }
}

static uint64_t count_wrong(strata_kernel_ctx *k, const float *out, size_t count, uint32_t n) {
  uint64_t wrong = 0;
  for (size_t i = 0; i < count; i++) {
    wrong += out[i] != sum_val(n, i);
    if (i % PROGRESS_EVERY == 0) strata_kernel_progress(k);
  }
  return wrong;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* tensors: in, out, res (f64 seconds per call, then u64 wrong); scalars:
 * domain, iters, warmup, check. */
static void k_ar(strata_kernel_ctx *k) {
  strata_comm *c = strata_comm_lookup((uint32_t)strata_kernel_scalar(k, 0));
  uint64_t iters = strata_kernel_scalar(k, 1), warmup = strata_kernel_scalar(k, 2);
  float *in = strata_kernel_tensor(k, 0)->data, *out = strata_kernel_tensor(k, 1)->data;
  double *res = strata_kernel_tensor(k, 2)->data;
  size_t count = strata_kernel_tensor(k, 0)->bytes / sizeof(float);
  int rc = c ? 0 : STRATA_EINVAL;
  if (rc == 0) fill(k, in, count, strata_comm_rank(c));
  for (uint64_t i = 0; rc == 0 && i < warmup; i++)
    rc = strata_comm_allreduce(c, in, out, count, STRATA_DT_F32, STRATA_OP_SUM,
                               STRATA_ALLREDUCE_AUTO, k);
  if (rc == 0) rc = strata_comm_barrier(c, k);
  double t0 = now_s();
  for (uint64_t i = 0; rc == 0 && i < iters; i++)
    rc = strata_comm_allreduce(c, in, out, count, STRATA_DT_F32, STRATA_OP_SUM,
                               STRATA_ALLREDUCE_AUTO, k);
  res[0] = (now_s() - t0) / (double)iters;
  uint64_t wrong = strata_kernel_scalar(k, 3) ? count_wrong(k, out, count, strata_comm_size(c)) : 0;
  memcpy(&res[1], &wrong, sizeof(wrong));
  if (rc) strata_kernel_fail(k, "allreduce of %zu B: %s", count * sizeof(float), strata_last_error());
}

static void o_ar(strata_orch *o, void *arg) {
  strata_args a = *(const strata_args *)arg;
  strata_orch_submit(o, K_AR, &a, NULL);
}

/* ---- the node side -------------------------------------------------------------- */
typedef struct bench_job {
  uint32_t n, domain, ranks;
  uint64_t scalars[3]; /* iters, warmup, check */
  strata_tensor in[STRATA_NODE_MAX_CHILDREN], out[STRATA_NODE_MAX_CHILDREN],
      res[STRATA_NODE_MAX_CHILDREN];
} bench_job;

/* One group over n chips: tensors in, out, res of each; scalars domain, s[3]. */
static void chips_group(strata_node_orch *o, const strata_tensor *t, uint32_t n, uint64_t domain,
                        const uint64_t *s) {
  strata_args a[STRATA_NODE_MAX_CHILDREN];
  strata_node_member m[STRATA_NODE_MAX_CHILDREN];
  for (uint32_t r = 0; r < n; r++) {
    strata_args_init(&a[r]);
    strata_args_tensor(&a[r], STRATA_INPUT, &t[r]);
    strata_args_tensor(&a[r], STRATA_OUTPUT_EXISTING, &t[n + r]);
    strata_args_tensor(&a[r], STRATA_OUTPUT_EXISTING, &t[2 * n + r]);
    strata_args_scalar(&a[r], domain);
    for (int i = 0; i < 3; i++) strata_args_scalar(&a[r], s[i]);
    m[r] = (strata_node_member){r, O_AR, &a[r]};
  }
  strata_node_submit_group(o, m, n, NULL);
}

/* On each node under mpirun: its chips' in, out, res tensors. */
static void l_ar(strata_node_orch *o, void *arg) {
  const strata_args *a = arg;
  chips_group(o, a->tensors, a->ntensors / 3, a->scalars[0], &a->scalars[1]);
}

static void upper_orch(strata_node_orch *o, bench_job *j) {
  uint32_t per = j->n / j->ranks;
  strata_args a[STRATA_NODE_MAX_CHILDREN];
  strata_node_member m[STRATA_NODE_MAX_CHILDREN];
  for (uint32_t w = 0; w < j->ranks; w++) {
    strata_args_init(&a[w]);
    for (uint32_t r = 0; r < per; r++) strata_args_tensor(&a[w], STRATA_INPUT, &j->in[w * per + r]);
    for (uint32_t r = 0; r < per; r++) strata_args_tensor(&a[w], STRATA_OUTPUT_EXISTING, &j->out[w * per + r]);
    for (uint32_t r = 0; r < per; r++) strata_args_tensor(&a[w], STRATA_OUTPUT_EXISTING, &j->res[w * per + r]);
    strata_args_scalar(&a[w], j->domain);
    for (int i = 0; i < 3; i++) strata_args_scalar(&a[w], j->scalars[i]);
    m[w] = (strata_node_member){w, L_AR, &a[w]};
  }
  strata_node_submit_group(o, m, j->ranks, NULL);
}

static void node_orch(strata_node_orch *o, void *arg) {
  bench_job *j = arg;
  strata_tensor t[3 * STRATA_NODE_MAX_CHILDREN];
  if (j->ranks) return upper_orch(o, j);
  for (uint32_t r = 0; r < j->n; r++) t[r] = j->in[r], t[j->n + r] = j->out[r], t[2 * j->n + r] = j->res[r];
  chips_group(o, t, j->n, j->domain, j->scalars);
}

static int make_node(const bench_opts *bo, bench_job *j, strata_node **out) {
  strata_node_config c;
  strata_node_config_init(&c);
  c.field_mask = STRATA_NCFG_CHIPS | STRATA_NCFG_DEVMEM | STRATA_NCFG_LEVEL | STRATA_NCFG_WORKERS;
  c.chips = (uint32_t)bo->chips;
  c.level = bo->ranks ? 4 : 3;
  c.workers = bo->ranks;
  c.devmem_bytes = 2 * bo->max_bytes + (1 << 20);
  c.chip.field_mask = STRATA_CFG_SCHED_THREADS | STRATA_CFG_CLUSTERS | STRATA_CFG_STALL_REPORT;
  c.chip.sched_threads = c.chip.clusters = 1;
  c.chip.stall_report_ms = 0; /* one kernel runs a whole size: not a stall */
  uint32_t chips[STRATA_NODE_MAX_CHILDREN];
  for (uint32_t i = 0; i < j->n; i++) chips[i] = i;
  strata_node *n = NULL;
  int rc = strata_node_create(&c, &n);
  if (rc == 0) rc = strata_node_register_kernel(n, "bench.ar", k_ar, STRATA_CORE_AIV, &K_AR);
  if (rc == 0) rc = strata_node_register_orch(n, "bench.ar", o_ar, &O_AR);
  if (rc == 0) rc = strata_node_register_level_orch(n, "bench.ar", l_ar, &L_AR);
  if (rc == 0) rc = strata_node_init(n); /* ranks other than 0 serve and end here */
  if (rc == 0) rc = strata_node_domain_create(n, chips, j->n, bo->window, &j->domain);
  if (rc) strata_node_close(n);
  else *out = n;
  return rc;
}

/* Tensors of `bytes` on every chip, the run, the slowest chip's time. */
static int one_size(strata_node *node, bench_job *j, bench_row *row) {
  int rc = 0;
  void *p[3 * STRATA_NODE_MAX_CHILDREN] = {NULL};
  for (uint32_t r = 0; rc == 0 && r < j->n; r++) {
    rc = strata_node_malloc(node, r, row->bytes ? row->bytes : 4, &p[3 * r]);
    if (rc == 0) rc = strata_node_malloc(node, r, row->bytes ? row->bytes : 4, &p[3 * r + 1]);
    if (rc == 0) rc = strata_node_malloc(node, r, 16, &p[3 * r + 2]);
    j->in[r] = strata_tensor_external(p[3 * r], row->bytes, STRATA_DT_F32);
    j->out[r] = strata_tensor_external(p[3 * r + 1], row->bytes, STRATA_DT_F32);
    j->res[r] = strata_tensor_external(p[3 * r + 2], 16, STRATA_DT_F64);
  }
  strata_node_run_info info;
  if (rc == 0 && (rc = strata_node_run(node, node_orch, j, &info)) != 0)
    fprintf(stderr, "strata: bench allreduce of %llu B: %s\n", (unsigned long long)row->bytes,
            info.message);
  for (uint32_t r = 0; rc == 0 && r < j->n; r++) {
    double res[2];
    rc = strata_node_copy_from(node, r, res, j->res[r].data, sizeof(res));
    uint64_t wrong;
    memcpy(&wrong, &res[1], sizeof(wrong));
    row->sec = res[0] > row->sec ? res[0] : row->sec;
    row->wrong += wrong;
  }
  for (uint32_t i = 0; i < 3 * j->n; i++)
    if (p[i]) strata_node_free(node, i / 3, p[i]);
  return rc;
}

/* ---- output ------------------------------------------------------------------- */
static const char *algo_of(const bench_opts *bo, uint64_t bytes) {
  if (bo->ranks) return "hier";
  return bytes <= BENCH_ONE_SHOT_MAX ? "one-shot" : "rs+ag";
}

static double busbw(const bench_row *r, uint32_t n) {
  double algbw = r->sec > 0 ? (double)r->bytes / r->sec / 1e9 : 0;
  return algbw * 2.0 * (n - 1) / n;
}

static void print_head(const bench_opts *bo, uint32_t n) {
  printf("# strata bench allreduce: %u chips (%s), f32 sum, %llu iters after %llu warm-up%s\n", n,
         bo->ranks ? "one node per mpirun rank; shm in a node, MPI between nodes" : "one node",
         (unsigned long long)bo->iters, (unsigned long long)bo->warmup,
         bo->check ? ", checked" : "");
  printf("# %12s %12s %6s %6s %9s %12s %12s %12s %8s\n", "size(B)", "count", "type", "redop",
         "algo", "time(us)", "algbw(GB/s)", "busbw(GB/s)", "#wrong");
}

static void print_row(const bench_opts *bo, const bench_row *r, uint32_t n) {
  double algbw = r->sec > 0 ? (double)r->bytes / r->sec / 1e9 : 0;
  char wrong[24] = "N/A";
  if (bo->check) snprintf(wrong, sizeof(wrong), "%llu", (unsigned long long)r->wrong);
  printf("  %12llu %12llu %6s %6s %9s %12.2f %12.3f %12.3f %8s\n", (unsigned long long)r->bytes,
         (unsigned long long)(r->bytes / 4), "float", "sum", algo_of(bo, r->bytes), r->sec * 1e6,
         algbw, busbw(r, n), wrong);
}

static void print_json(const bench_opts *bo, const bench_row *rows, uint32_t nrows, uint32_t n) {
  cli_json j;
  cli_json_begin(&j, stdout);
  cli_json_str(&j, "collective", "allreduce");
  cli_json_int(&j, "chips", n);
  cli_json_int(&j, "ranks", bo->ranks ? bo->ranks : 1);
  cli_json_int(&j, "iters", (long long)bo->iters);
  cli_json_bool(&j, "check", bo->check);
  cli_json_array(&j, "sizes");
  for (uint32_t i = 0; i < nrows; i++) {
    cli_json_item(&j);
    cli_json_int(&j, "bytes", (long long)rows[i].bytes);
    cli_json_str(&j, "algo", algo_of(bo, rows[i].bytes));
    cli_json_num(&j, "time_us", rows[i].sec * 1e6);
    cli_json_num(&j, "algbw_gbs", rows[i].sec > 0 ? (double)rows[i].bytes / rows[i].sec / 1e9 : 0);
    cli_json_num(&j, "busbw_gbs", busbw(&rows[i], n));
    cli_json_int(&j, "wrong", bo->check ? (long long)rows[i].wrong : -1);
    cli_json_item_end(&j);
  }
  cli_json_array_end(&j);
  cli_json_end(&j);
}

/* ---- options -------------------------------------------------------------------- */
typedef struct bench_flag {
  const char *flag;
  size_t off;
  uint64_t min, max;
  const char *help;
} bench_flag;

#define BF(f, m, lo, hi, h) {f, offsetof(bench_opts, m), lo, hi, h}
static const bench_flag bench_flags[] = {
    BF("--min-bytes", min_bytes, 4, BENCH_MAX_BYTES, "smallest size, bytes (K/M/G) (8)"),
    BF("--max-bytes", max_bytes, 4, BENCH_MAX_BYTES, "largest size (64M)"),
    BF("--factor", factor, 2, 1024, "size multiplier between steps (2)"),
    BF("--chips", chips, 1, 16, "chips (per rank under mpirun) (2)"),
    BF("--iters", iters, 1, 100000, "timed calls per size (20)"),
    BF("--warmup", warmup, 0, 1000, "untimed calls before them (1)"),
    BF("--window", window, 64, BENCH_MAX_BYTES, "the domain's window and gateway chunk (4M)"),
};

void cli_bench_usage(FILE *out) {
  fprintf(out, "bench options (strata bench allreduce; under mpirun: every rank's chips):\n");
  for (size_t i = 0; i < CLI_ARRAY_SIZE(bench_flags); i++)
    fprintf(out, "  %-22s  %s; %llu..%llu\n", bench_flags[i].flag, bench_flags[i].help,
            (unsigned long long)bench_flags[i].min, (unsigned long long)bench_flags[i].max);
  fprintf(out, "  --check                 verify every result (#wrong; exit 1 if any)\n"
               "  --json                  print the sweep as JSON\n");
}

static int parse_one(void *ctx, int argc, char **argv, int *i) {
  bench_opts *bo = ctx;
  const char *a = argv[*i];
  if (strcmp(a, "--check") == 0) return bo->check = 1, 0;
  if (strcmp(a, "--json") == 0) return bo->json = 1, 0;
  for (size_t k = 0; k < CLI_ARRAY_SIZE(bench_flags); k++)
    if (strcmp(a, bench_flags[k].flag) == 0)
      return cli_number(a, *i + 1 < argc ? argv[++*i] : NULL, bench_flags[k].min,
                        bench_flags[k].max, (uint64_t *)(void *)((char *)bo + bench_flags[k].off));
  fprintf(stderr, "strata: unknown bench option '%s' (see strata bench --help)\n", a);
  return CLI_USAGE;
}

/* 0 to run, -1 after printing help, else the exit status of a usage error. */
static int parse(int argc, char **argv, bench_opts *bo) {
  *bo = (bench_opts){8, 64 << 20, 2, 2, 20, 1, 4 << 20, 0, 0, 0};
  int rc = cli_parse_collective_cmd(argc, argv, "bench", cli_bench_usage, parse_one, bo);
  if (rc) return rc;
  if (bo->min_bytes > bo->max_bytes) {
    fprintf(stderr, "strata: --min-bytes %llu is above --max-bytes %llu\n",
            (unsigned long long)bo->min_bytes, (unsigned long long)bo->max_bytes);
    return CLI_USAGE;
  }
  return 0;
}

static int sweep(const bench_opts *bo, strata_node *node, bench_job *j) {
  bench_row rows[64];
  uint32_t nrows = 0;
  int rc = 0;
  if (!bo->json && strata_mpi_rank() == 0) print_head(bo, j->n);
  for (uint64_t b = bo->min_bytes; rc == 0 && b <= bo->max_bytes && nrows < 64; b *= bo->factor) {
    rows[nrows] = (bench_row){b & ~3ull, 0, 0};
    rc = one_size(node, j, &rows[nrows]);
    if (rc == 0 && !bo->json) print_row(bo, &rows[nrows], j->n), fflush(stdout);
    if (rc == 0) nrows++;
  }
  if (bo->json) print_json(bo, rows, nrows, j->n);
  uint64_t wrong = 0;
  for (uint32_t i = 0; i < nrows; i++) wrong += rows[i].wrong;
  if (wrong) fprintf(stderr, "strata: bench allreduce: %llu wrong elements\n", (unsigned long long)wrong);
  return rc ? 1 : wrong != 0;
}

int cli_bench(int argc, char **argv) {
  bench_opts bo;
  int rc = parse(argc, argv, &bo);
  if (rc) return rc < 0 ? 0 : rc;
  if (strata_mpi_available() && strata_mpi_size() > 1) bo.ranks = (uint32_t)strata_mpi_size();
  bench_job j = {(uint32_t)bo.chips * (bo.ranks ? bo.ranks : 1), 0, bo.ranks,
                 {bo.iters, bo.warmup, (uint64_t)bo.check}, {{0}}, {{0}}, {{0}}};
  if (j.n > 16) {
    fprintf(stderr, "strata: --chips %llu x %u ranks: at most 16 chips in all\n",
            (unsigned long long)bo.chips, bo.ranks);
    return CLI_USAGE;
  }
  strata_node *node = NULL;
  if (make_node(&bo, &j, &node) != 0) {
    fprintf(stderr, "strata: bench allreduce: %s\n", strata_last_error());
    return 1;
  }
  rc = sweep(&bo, node, &j);
  strata_node_close(node);
  return rc;
}
