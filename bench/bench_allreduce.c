/* bench_allreduce.c - strata allreduce across the chips of one node (f32
 * sum), timed inside the chip kernels as nccl-tests does: after a warm-up
 * and a barrier, ITERS back-to-back calls; the slowest rank's average is
 * the time. Prints time, algbw and busbw (2(n-1)/n * algbw) per size. */
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
  uint32_t n, domain;
  strata_tensor in[8], out[8], res[8];
} job;

static void node_orch(strata_node_orch *o, void *arg) {
  job *j = arg;
  strata_args a[8];
  strata_node_member m[8];
  for (uint32_t r = 0; r < j->n; r++) {
    strata_args_init(&a[r]);
    strata_args_tensor(&a[r], STRATA_INPUT, &j->in[r]);
    strata_args_tensor(&a[r], STRATA_OUTPUT_EXISTING, &j->out[r]);
    strata_args_tensor(&a[r], STRATA_OUTPUT_EXISTING, &j->res[r]);
    strata_args_scalar(&a[r], j->domain);
    m[r] = (strata_node_member){r, O_AR, &a[r]};
  }
  strata_node_submit_group(o, m, j->n, NULL);
}

static strata_node *make_node(uint32_t n, job *j) {
  strata_node_config c;
  strata_node_config_init(&c);
  c.field_mask = STRATA_NCFG_CHIPS | STRATA_NCFG_DEVMEM;
  c.chips = n;
  c.devmem_bytes = 2ull * MAX_BYTES + (1 << 20);
  c.chip.field_mask = STRATA_CFG_SCHED_THREADS | STRATA_CFG_CLUSTERS | STRATA_CFG_SYNC_TIMEOUT |
                      STRATA_CFG_STALL_REPORT;
  c.chip.sched_threads = c.chip.clusters = 1;
  c.chip.stream_sync_timeout_ms = 0;
  c.chip.stall_report_ms = 0; /* one kernel runs every size: not a stall */
  strata_node *node;
  uint32_t chips[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  if (strata_node_create(&c, &node) ||
      strata_node_register_kernel(node, "ar", k_ar, STRATA_CORE_AIV, &K_AR) ||
      strata_node_register_orch(node, "ar", o_ar, &O_AR) || strata_node_init(node) ||
      strata_node_domain_create(node, chips, n, 4u << 20, &j->domain))
    return NULL;
  return node;
}

static int alloc(strata_node *node, job *j, size_t bytes) {
  for (uint32_t r = 0; r < j->n; r++) {
    void *p, *q, *t;
    if (strata_node_malloc(node, r, bytes, &p) || strata_node_malloc(node, r, bytes, &q) ||
        strata_node_malloc(node, r, 64, &t))
      return -1;
    for (size_t i = 0; i < bytes / sizeof(float); i++) ((float *)p)[i] = 1.0f;
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

int main(int argc, char **argv) {
  job j = {argc > 1 ? (uint32_t)atoi(argv[1]) : 4, 0, {{0}}, {{0}}, {{0}}};
  strata_node *node = make_node(j.n, &j);
  if (!node) return fprintf(stderr, "setup: %s\n", strata_last_error()), 1;
  for (size_t bytes = 8; bytes <= MAX_BYTES; bytes = bytes == MAX_BYTES ? 2 * MAX_BYTES : (bytes * 4 < MAX_BYTES ? bytes * 4 : MAX_BYTES)) {
    if (alloc(node, &j, bytes) || strata_node_run(node, node_orch, &j, NULL))
      return fprintf(stderr, "run: %s\n", strata_last_error()), 1;
    double t = 0;
    for (uint32_t r = 0; r < j.n; r++)
      if (*(double *)j.res[r].data > t) t = *(double *)j.res[r].data;
    double ok = ((float *)j.out[0].data)[bytes / sizeof(float) - 1] == (float)j.n;
    printf("impl=strata ranks=%u bytes=%zu time_us=%.2f algbw_gbs=%.3f busbw_gbs=%.3f check=%s\n",
           j.n, bytes, t * 1e6, bytes / t / 1e9, bytes / t / 1e9 * 2.0 * (j.n - 1) / j.n,
           ok ? "ok" : "FAIL");
    release(node, &j);
  }
  strata_node_close(node);
  return 0;
}
