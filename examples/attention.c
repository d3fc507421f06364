/* attention.c - tiled attention O = softmax(Q K^T / sqrt(d)) V over several
 * heads, flash-attention style: for each head and block of 32 query rows,
 * every block of 32 keys runs QK^T on an AIC core, the online softmax on AIV
 * cores (an SPMD task of two blocks, each owning half the rows) and PV on an
 * AIC core; a last AIV task divides by the running sum. Checked against a
 * straightforward double-precision softmax on the host.
 *   chip level (--chips 0): every head on one chip;
 *   node level (--chips N): head h runs on chip h % N, as one node task
 *   whose chip orchestration is the same per-head orchestration. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "examples.h"

#define AT_B 32    /* rows of a query or key block */
#define AT_D 32    /* head dimension */
#define AT_HEADS 4
#define AT_HALF (AT_B / 2)
#define AT_TOL 1e-4 /* max |O - reference| / (max |reference| + 1) */

static uint32_t K_QK, K_SOFTMAX, K_PV, K_NORM, O_HEAD;

static const float *in_f(strata_kernel_ctx *k, uint32_t i) { return strata_kernel_tensor(k, i)->data; }
static float *out_f(strata_kernel_ctx *k, uint32_t i) { return strata_kernel_tensor(k, i)->data; }

/* S = Q_i K_j^T / sqrt(d): tensors Q_i, K_j, S (out). */
static void k_qk(strata_kernel_ctx *k) {
  const float *q = in_f(k, 0), *kk = in_f(k, 1);
  float *s = out_f(k, 2), scale = 1.0f / sqrtf((float)AT_D);
  for (int r = 0; r < AT_B; r++)
    for (int c = 0; c < AT_B; c++) {
      float acc = 0;
      for (int x = 0; x < AT_D; x++) acc += q[r * AT_D + x] * kk[c * AT_D + x];
      s[r * AT_B + c] = acc * scale;
    }
}

/* Online softmax over this block's half of the rows: tensors S, ml (m then l,
 * inout), P (out), alpha (out): m' = max(m, rowmax S); P = exp(S - m');
 * alpha = exp(m - m'); l' = l * alpha + rowsum P. */
static void k_softmax(strata_kernel_ctx *k) {
  const float *s = in_f(k, 0);
  float *m = out_f(k, 1), *l = m + AT_B, *p = out_f(k, 2), *alpha = out_f(k, 3);
  int r0 = (int)strata_kernel_block_idx(k) * AT_HALF;
  for (int r = r0; r < r0 + AT_HALF; r++) {
    float mx = m[r];
    for (int c = 0; c < AT_B; c++) mx = fmaxf(mx, s[r * AT_B + c]);
    float sum = 0;
    for (int c = 0; c < AT_B; c++) sum += p[r * AT_B + c] = expf(s[r * AT_B + c] - mx);
    alpha[r] = expf(m[r] - mx);
    l[r] = l[r] * alpha[r] + sum;
    m[r] = mx;
  }
}

/* O_i = O_i * alpha + P V_j: tensors P, V_j, alpha, O_i (inout). */
static void k_pv(strata_kernel_ctx *k) {
  const float *p = in_f(k, 0), *v = in_f(k, 1), *alpha = in_f(k, 2);
  float *o = out_f(k, 3);
  for (int r = 0; r < AT_B; r++)
    for (int x = 0; x < AT_D; x++) {
      float acc = o[r * AT_D + x] * alpha[r];
      for (int c = 0; c < AT_B; c++) acc += p[r * AT_B + c] * v[c * AT_D + x];
      o[r * AT_D + x] = acc;
    }
}

/* O_i /= l: tensors ml, O_i (inout). */
static void k_norm(strata_kernel_ctx *k) {
  const float *l = in_f(k, 0) + AT_B;
  float *o = out_f(k, 1);
  for (int r = 0; r < AT_B; r++)
    for (int x = 0; x < AT_D; x++) o[r * AT_D + x] /= l[r];
}

static void submit(strata_orch *o, uint32_t kernel, strata_args *a) {
  if (strata_orch_submit(o, kernel, a, NULL) != 0) strata_orch_fatal(o, "attention: submit failed");
}

/* One query block against every key block; q, k, v, out, ml: views. */
static void query_block(strata_orch *o, strata_tensor *q, const strata_tensor *kv_k,
                        const strata_tensor *kv_v, strata_tensor *out, strata_tensor *ml,
                        uint32_t nblocks) {
  size_t tile = (size_t)AT_B * AT_D * sizeof(float), sq = (size_t)AT_B * AT_B * sizeof(float);
  for (uint32_t j = 0; j < nblocks; j++) {
    strata_tensor kj = strata_tensor_view(kv_k, j * tile, tile), vj = strata_tensor_view(kv_v, j * tile, tile);
    strata_tensor s, p, alpha;
    strata_args a;
    strata_args_init(&a);
    strata_args_tensor(&a, STRATA_INPUT, q);
    strata_args_tensor(&a, STRATA_INPUT, &kj);
    strata_args_output(&a, &s, sq, STRATA_DT_F32);
    submit(o, K_QK, &a);
    strata_args_init(&a);
    strata_args_spmd(&a, 2, 0); /* two AIV blocks, half the rows each */
    strata_args_tensor(&a, STRATA_INPUT, &s);
    strata_args_tensor(&a, STRATA_INOUT, ml);
    strata_args_output(&a, &p, sq, STRATA_DT_F32);
    strata_args_output(&a, &alpha, AT_B * sizeof(float), STRATA_DT_F32);
    submit(o, K_SOFTMAX, &a);
    strata_args_init(&a);
    strata_args_tensor(&a, STRATA_INPUT, &p);
    strata_args_tensor(&a, STRATA_INPUT, &vj);
    strata_args_tensor(&a, STRATA_INPUT, &alpha);
    strata_args_tensor(&a, STRATA_INOUT, out);
    submit(o, K_PV, &a);
  }
  strata_args a;
  strata_args_init(&a);
  strata_args_tensor(&a, STRATA_INPUT, ml);
  strata_args_tensor(&a, STRATA_INOUT, out);
  submit(o, K_NORM, &a);
}

/* The orchestration of one head, at chip level or as a node task: tensors
 * Q, K, V, O ([seq][d] f32 each) and ML (m, l per row), scalar seq. */
static void head_orch(strata_orch *o, void *arg) {
  const strata_args *h = arg;
  uint32_t nblocks = (uint32_t)(h->scalars[0] / AT_B);
  size_t tile = (size_t)AT_B * AT_D * sizeof(float), mlb = 2 * AT_B * sizeof(float);
  for (uint32_t i = 0; i < nblocks; i++) {
    strata_tensor q = strata_tensor_view(&h->tensors[0], i * tile, tile);
    strata_tensor out = strata_tensor_view(&h->tensors[3], i * tile, tile);
    strata_tensor ml = strata_tensor_view(&h->tensors[4], i * mlb, mlb);
    strata_orch_scope_begin(o); /* the block's S, P and alpha are freed after it */
    query_block(o, &q, &h->tensors[1], &h->tensors[2], &out, &ml, nblocks);
    strata_orch_scope_end(o);
  }
}

/* ---- host side -------------------------------------------------------------- */
typedef struct at_job {
  uint32_t seq, heads;
  float *q, *k, *v, *o, *ml; /* [heads][seq][d] each; ml: [heads][seq/B][2B] */
} at_job;

static size_t head_bytes(const at_job *j) { return (size_t)j->seq * AT_D * sizeof(float); }
static size_t ml_bytes(const at_job *j) { return (size_t)(j->seq / AT_B) * 2 * AT_B * sizeof(float); }

static void init_ml(const at_job *j, float *ml) { /* m = -inf, l = 0 per row */
  for (size_t b = 0; b < (size_t)j->heads * (j->seq / AT_B); b++)
    for (int r = 0; r < AT_B; r++) {
      ml[b * 2 * AT_B + (size_t)r] = -INFINITY;
      ml[b * 2 * AT_B + AT_B + (size_t)r] = 0.0f;
    }
}

/* Arguments of head h over five buffers (host or one chip's memory). */
static strata_args head_args(const at_job *j, void *q, void *k, void *v, void *o, void *ml) {
  strata_args a;
  strata_args_init(&a);
  void *buf[5] = {q, k, v, o, ml};
  for (int i = 0; i < 5; i++) {
    strata_tensor t = strata_tensor_external(buf[i], i < 4 ? head_bytes(j) : ml_bytes(j), STRATA_DT_F32);
    strata_args_tensor(&a, i < 3 ? STRATA_INPUT : STRATA_INOUT, &t);
  }
  strata_args_scalar(&a, j->seq);
  return a;
}

static float *at(const at_job *j, float *m, uint32_t h) { return m + (size_t)h * j->seq * AT_D; }
static float *ml_of(const at_job *j, uint32_t h) {
  return j->ml + (size_t)h * (j->seq / AT_B) * 2 * AT_B;
}

static void chip_orch(strata_orch *o, void *arg) {
  at_job *j = arg;
  for (uint32_t h = 0; h < j->heads; h++) {
    strata_args a = head_args(j, at(j, j->q, h), at(j, j->k, h), at(j, j->v, h), at(j, j->o, h), ml_of(j, h));
    head_orch(o, &a);
  }
}

static double reference_err(const at_job *j, double *worst_ref) {
  double err = 0, big = 0, *row = malloc(j->seq * sizeof(double));
  if (!row) return INFINITY;
  for (uint32_t h = 0; h < j->heads; h++)
    for (uint32_t r = 0; r < j->seq; r++) {
      const float *q = at(j, j->q, h) + (size_t)r * AT_D;
      double mx = -INFINITY, sum = 0;
      for (uint32_t c = 0; c < j->seq; c++) {
        const float *kk = at(j, j->k, h) + (size_t)c * AT_D;
        double s = 0;
        for (int x = 0; x < AT_D; x++) s += (double)q[x] * kk[x];
        row[c] = s / sqrt((double)AT_D);
        mx = row[c] > mx ? row[c] : mx;
      }
      for (uint32_t c = 0; c < j->seq; c++) sum += row[c] = exp(row[c] - mx);
      for (int x = 0; x < AT_D; x++) {
        double ref = 0;
        for (uint32_t c = 0; c < j->seq; c++) ref += row[c] / sum * at(j, j->v, h)[(size_t)c * AT_D + (size_t)x];
        double got = at(j, j->o, h)[(size_t)r * AT_D + (size_t)x];
        err = fabs(got - ref) > err ? fabs(got - ref) : err;
        big = fabs(ref) > big ? fabs(ref) : big;
      }
    }
  free(row);
  *worst_ref = big;
  return err / (big + 1.0);
}

static void check(const at_job *j, uint32_t chips, strata_example_result *r) {
  double big = 0, err = reference_err(j, &big);
  r->check = err < AT_TOL;
  snprintf(r->detail, sizeof(r->detail), "%u heads x %u tokens x d=%d (%s), max error %.2e "
           "of the largest |O| + 1 (tolerance %.0e) against a double-precision softmax",
           j->heads, j->seq, AT_D, chips ? "node: heads split over chips" : "one chip", err, AT_TOL);
  for (r->nvalues = 0; r->nvalues < 4; r->nvalues++) r->values[r->nvalues] = j->o[r->nvalues];
}

static int register_all(int (*reg)(void *, const char *, strata_kernel_fn, strata_core_kind, uint32_t *),
                        void *target) {
  int rc = reg(target, "attn_qk", k_qk, STRATA_CORE_AIC, &K_QK);
  if (rc == 0) rc = reg(target, "attn_softmax", k_softmax, STRATA_CORE_AIV, &K_SOFTMAX);
  if (rc == 0) rc = reg(target, "attn_pv", k_pv, STRATA_CORE_AIC, &K_PV);
  if (rc == 0) rc = reg(target, "attn_norm", k_norm, STRATA_CORE_AIV, &K_NORM);
  return rc;
}

static int reg_chip(void *c, const char *n, strata_kernel_fn f, strata_core_kind k, uint32_t *id) {
  return strata_chip_register_kernel(c, n, f, k, id);
}
static int reg_node(void *c, const char *n, strata_kernel_fn f, strata_core_kind k, uint32_t *id) {
  return strata_node_register_kernel(c, n, f, k, id);
}

static int run_chip(const strata_example_opts *o, at_job *j, strata_example_result *r) {
  strata_chip *chip;
  if (strata_example_chip(o, r, &chip)) return r->status;
  r->status = register_all(reg_chip, chip);
  if (r->status == 0) r->status = strata_chip_run(chip, chip_orch, j, &r->info);
  strata_chip_destroy(chip);
  return r->status;
}

/* ---- node level: head h on chip h % chips ------------------------------------ */
typedef struct at_node {
  at_job *j;
  uint32_t chips;
  void *dev[AT_HEADS][5]; /* q, k, v, o, ml of each head, on its chip */
} at_node;

static void node_orch(strata_node_orch *o, void *arg) {
  at_node *an = arg;
  for (uint32_t h = 0; h < an->j->heads; h++) {
    void **d = an->dev[h];
    strata_args a = head_args(an->j, d[0], d[1], d[2], d[3], d[4]);
    if (strata_node_submit_chip(o, h % an->chips, O_HEAD, &a, NULL)) return;
  }
}

/* Device buffers of every head on its chip, filled from the host arrays. */
static int node_place(strata_node *n, at_node *an) {
  at_job *j = an->j;
  int rc = 0;
  for (uint32_t h = 0; rc == 0 && h < j->heads; h++) {
    float *host[5] = {at(j, j->q, h), at(j, j->k, h), at(j, j->v, h), at(j, j->o, h), ml_of(j, h)};
    for (int i = 0; rc == 0 && i < 5; i++) {
      size_t bytes = i < 4 ? head_bytes(j) : ml_bytes(j);
      rc = strata_node_malloc(n, h % an->chips, bytes, &an->dev[h][i]);
      if (rc == 0) rc = strata_node_copy_to(n, h % an->chips, an->dev[h][i], host[i], bytes);
    }
  }
  return rc;
}

static int node_fetch(strata_node *n, at_node *an) {
  int rc = 0;
  for (uint32_t h = 0; rc == 0 && h < an->j->heads; h++)
    rc = strata_node_copy_from(n, h % an->chips, at(an->j, an->j->o, h), an->dev[h][3], head_bytes(an->j));
  return rc;
}

static int run_node(const strata_example_opts *o, at_job *j, strata_example_result *r) {
  at_node an = {j, o->chips, {{0}}};
  strata_node_config c;
  strata_node_config_init(&c);
  c.field_mask = STRATA_NCFG_CHIPS;
  c.chips = o->chips;
  c.chip = o->cfg;
  strata_node *n = NULL;
  strata_node_run_info ni;
  memset(&ni, 0, sizeof(ni));
  r->status = strata_node_create(&c, &n);
  if (r->status == 0) r->status = register_all(reg_node, n);
  if (r->status == 0) r->status = strata_node_register_orch(n, "attn_head", head_orch, &O_HEAD);
  if (r->status == 0) r->status = strata_node_init(n);
  if (r->status == 0) r->status = node_place(n, &an);
  if (r->status == 0) r->status = strata_node_run(n, node_orch, &an, &ni);
  if (r->status == 0) r->status = node_fetch(n, &an);
  if (r->status && !ni.message[0]) snprintf(ni.message, sizeof(ni.message), "%s", strata_last_error());
  r->info.tasks_submitted = ni.tasks_submitted;
  r->info.tasks_completed = ni.tasks_completed;
  r->info.elapsed_ns = ni.elapsed_ns;
  snprintf(r->info.message, sizeof(r->info.message), "%s", ni.message);
  strata_node_close(n);
  return r->status;
}

int strata_example_attention(const strata_example_opts *o, strata_example_result *r) {
  uint32_t seq = o->size ? o->size : 128;
  at_job j = {(seq + AT_B - 1) / AT_B * AT_B, AT_HEADS, NULL, NULL, NULL, NULL, NULL};
  size_t n = (size_t)j.heads * j.seq * AT_D;
  j.q = malloc(n * sizeof(float));
  j.k = malloc(n * sizeof(float));
  j.v = malloc(n * sizeof(float));
  j.o = calloc(n, sizeof(float));
  j.ml = malloc((size_t)j.heads * ml_bytes(&j));
  if (!j.q || !j.k || !j.v || !j.o || !j.ml) {
    strata_example_nomem(r, "the attention tensors", "--size");
  } else {
    srand((unsigned)o->seed);
    for (size_t i = 0; i < n; i++) {
      j.q[i] = (float)(rand() % 2001 - 1000) / 500.0f;
      j.k[i] = (float)(rand() % 2001 - 1000) / 500.0f;
      j.v[i] = (float)(rand() % 2001 - 1000) / 1000.0f;
    }
    init_ml(&j, j.ml);
    if ((o->chips ? run_node(o, &j, r) : run_chip(o, &j, r)) == 0) check(&j, o->chips, r);
  }
  free(j.q);
  free(j.k);
  free(j.v);
  free(j.o);
  free(j.ml);
  return r->status;
}
