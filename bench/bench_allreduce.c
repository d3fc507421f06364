/* bench_allreduce.c - strata allreduce across the chips of one node (f32
 * sum), timed inside the chip kernels as nccl-tests does: after a warm-up
 * and a barrier, ITERS back-to-back calls; the slowest rank's average is
 * the time. Prints time, algbw and busbw (2(n-1)/n * algbw) per size.
 * Under mpirun: an L4 with one node of N chips per rank and a hierarchical
 * domain over every chip (shm inside a node, MPI between nodes).
 *   bench_allreduce [chips per node = 4]      (mpirun -np H bench_allreduce 2) */
#include "bench.h"
#include "strata.h"

#define ITERS 20
#define MAX_BYTES (64u << 20)

static uint32_t K_AR, O_AR;

/* tensors: in, out, result (f64: seconds per call); scalar: domain */
static void k_ar(strata_kernel_ctx *k) {
  strata_comm *c = strata_comm_lookup((uint32_t)strata_kernel_scalar(k, 0));
  const strata_tensor *in = strata_kernel_tensor(k, 0), *out = strata_kernel_tensor(k, 1);
  size_t count = in->bytes / sizeof(float);
  for (size_t i = 0; i < count; i++) ((float *)in->data)[i] = 1.0f;
  strata_comm_allreduce(c, in->data, out->data, count, STRATA_DT_F32, STRATA_OP_SUM,
                        STRATA_ALLREDUCE_AUTO, k);
  strata_comm_barrier(c, k);
  double t0 = bench_now();
  for (int i = 0; i < ITERS; i++)
    strata_comm_allreduce(c, in->data, out->data, count, STRATA_DT_F32, STRATA_OP_SUM,
                          STRATA_ALLREDUCE_AUTO, k);
  *(double *)strata_kernel_tensor(k, 2)->data = (bench_now() - t0) / ITERS;
}

static void o_ar(strata_orch *o, void *arg) {
  strata_args a = *(const strata_args *)arg;
  strata_orch_submit(o, K_AR, &a, NULL);
}

typedef struct job {
  uint32_t n, domain, ranks; /* n: chips in all; ranks: nodes under mpirun, else 0 */
  strata_tensor in[16], out[16], res[16];
} job;

/* One group over the chips of a node: args tensors in, out, res per chip. */
static void chips_group(strata_node_orch *o, const strata_tensor *in, const strata_tensor *out,
                        const strata_tensor *res, uint32_t n, uint32_t domain) {
  strata_args a[16];
  strata_node_member m[16];
  for (uint32_t r = 0; r < n; r++) {
    strata_args_init(&a[r]);
    strata_args_tensor(&a[r], STRATA_INPUT, &in[r]);
    strata_args_tensor(&a[r], STRATA_OUTPUT_EXISTING, &out[r]);
    strata_args_tensor(&a[r], STRATA_OUTPUT_EXISTING, &res[r]);
    strata_args_scalar(&a[r], domain);
    m[r] = (strata_node_member){r, O_AR, &a[r]};
  }
  strata_node_submit_group(o, m, n, NULL);
}

/* On each node under mpirun: its chips' tensors, 3 per chip, then the domain. */
static uint32_t L_AR;
static void l_ar(strata_node_orch *o, void *arg) {
  const strata_args *a = arg;
  uint32_t n = a->ntensors / 3;
  chips_group(o, a->tensors, a->tensors + n, a->tensors + 2 * n, n, (uint32_t)a->scalars[0]);
}

static void upper_orch(strata_node_orch *o, void *arg) {
  job *j = arg;
  uint32_t per = j->n / j->ranks;
  strata_args a[16];
  strata_node_member m[16];
  for (uint32_t w = 0; w < j->ranks; w++) {
    strata_args_init(&a[w]);
    for (uint32_t k = 0; k < 3; k++)
      for (uint32_t r = 0; r < per; r++) {
        strata_tensor *t = k == 0 ? j->in : k == 1 ? j->out : j->res;
        strata_args_tensor(&a[w], k == 0 ? STRATA_INPUT : STRATA_OUTPUT_EXISTING, &t[w * per + r]);
      }
    strata_args_scalar(&a[w], j->domain);
    m[w] = (strata_node_member){w, L_AR, &a[w]};
  }
  strata_node_submit_group(o, m, j->ranks, NULL);
}

static void node_orch(strata_node_orch *o, void *arg) {
  job *j = arg;
  if (j->ranks) return upper_orch(o, arg);
  chips_group(o, j->in, j->out, j->res, j->n, j->domain);
}

/* The domain's window (and a hierarchical domain's gateway chunk):
 * BENCH_WINDOW bytes, default 4 MiB. */
static size_t window_bytes(void) {
  const char *w = getenv("BENCH_WINDOW");
  return w && *w ? (size_t)strtoull(w, NULL, 10) : 4u << 20;
}

static strata_node *make_node(uint32_t per, job *j) {
  strata_node_config c;
  strata_node_config_init(&c);
  c.field_mask = STRATA_NCFG_CHIPS | STRATA_NCFG_DEVMEM | STRATA_NCFG_LEVEL | STRATA_NCFG_WORKERS;
  c.chips = per;
  c.level = j->ranks ? 4 : 3;
  c.workers = j->ranks;
  c.devmem_bytes = 2ull * MAX_BYTES + (1 << 20);
  c.chip.field_mask = STRATA_CFG_SCHED_THREADS | STRATA_CFG_CLUSTERS | STRATA_CFG_SYNC_TIMEOUT |
                      STRATA_CFG_STALL_REPORT;
  c.chip.sched_threads = c.chip.clusters = 1;
  c.chip.stream_sync_timeout_ms = 0;
  c.chip.stall_report_ms = 0; /* one kernel runs every size: not a stall */
  strata_node *node;
  uint32_t chips[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  if (strata_node_create(&c, &node) ||
      strata_node_register_kernel(node, "ar", k_ar, STRATA_CORE_AIV, &K_AR) ||
      strata_node_register_orch(node, "ar", o_ar, &O_AR) ||
      strata_node_register_level_orch(node, "ar", l_ar, &L_AR) || strata_node_init(node) ||
      strata_node_domain_create(node, chips, j->n, window_bytes(), &j->domain))
    return NULL;
  return node;
}

static int alloc(strata_node *node, job *j, size_t bytes) {
  for (uint32_t r = 0; r < j->n; r++) {
    void *p, *q, *t;
    if (strata_node_malloc(node, r, bytes, &p) || strata_node_malloc(node, r, bytes, &q) ||
        strata_node_malloc(node, r, 64, &t))
      return -1;
    j->in[r] = strata_tensor_external(p, bytes, STRATA_DT_F32);
    j->out[r] = strata_tensor_external(q, bytes, STRATA_DT_F32);
    j->res[r] = strata_tensor_external(t, 8, STRATA_DT_F64);
  }
  return 0;
}

static void release(strata_node *node, job *j) {
  for (uint32_t r = 0; r < j->n; r++) {
    strata_node_free(node, r, j->in[r].data);
    strata_node_free(node, r, j->out[r].data);
    strata_node_free(node, r, j->res[r].data);
  }
}

static double read_f64(strata_node *node, uint32_t chip, const strata_tensor *t) {
  double v = 0;
  strata_node_copy_from(node, chip, &v, t->data, sizeof(v));
  return v;
}

int main(int argc, char **argv) {
  uint32_t per = argc > 1 ? (uint32_t)atoi(argv[1]) : 4;
  job j = {per, 0, 0, {{0}}, {{0}}, {{0}}};
  if (strata_mpi_size() > 1) j.ranks = (uint32_t)strata_mpi_size(), j.n = per * j.ranks;
  if (j.n == 0 || j.n > 16) return fprintf(stderr, "1..16 chips in all\n"), 2;
  strata_node *node = make_node(per, &j);
  if (!node) return fprintf(stderr, "setup: %s\n", strata_last_error()), 1;
  for (size_t bytes = 8; bytes <= MAX_BYTES; bytes = bytes == MAX_BYTES ? 2 * MAX_BYTES : (bytes * 4 < MAX_BYTES ? bytes * 4 : MAX_BYTES)) {
    if (alloc(node, &j, bytes) || strata_node_run(node, node_orch, &j, NULL))
      return fprintf(stderr, "run: %s\n", strata_last_error()), 1;
    double t = 0;
    for (uint32_t r = 0; r < j.n; r++)
      if (read_f64(node, r, &j.res[r]) > t) t = read_f64(node, r, &j.res[r]);
    float last = 0;
    strata_node_copy_from(node, j.n - 1, &last, (char *)j.out[j.n - 1].data + bytes - 4, 4);
    int ok = last == (float)j.n;
    printf("impl=strata%s ranks=%u bytes=%zu time_us=%.2f algbw_gbs=%.3f busbw_gbs=%.3f check=%s\n",
           j.ranks ? "-hier" : "", j.n, bytes, t * 1e6, bytes / t / 1e9, bytes / t / 1e9 * 2.0 * (j.n - 1) / j.n,
           ok ? "ok" : "FAIL");
    release(node, &j);
  }
  strata_node_close(node);
  return 0;
}
