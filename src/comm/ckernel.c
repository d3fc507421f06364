/* ckernel.c - collectives as tasks: one built-in kernel ("strata.comm",
 * registered on a chip when it joins its first domain) runs any collective
 * described by its scalars; the submit helpers validate sizes and order the
 * collectives of one domain on a chip through an INOUT token tensor. */
#include <stdio.h>

#include "comm/comm_int.h"

enum { COLL_BARRIER, COLL_BROADCAST, COLL_ALLGATHER, COLL_REDUCE_SCATTER, COLL_ALLREDUCE, COLL_ALLTOALL };

/* scalars: kind, domain, dtype, op, root or algo; tensors: token, in, out */
static int run_coll(strata_kernel_ctx *k, strata_comm *c) {
  uint64_t kind = strata_kernel_scalar(k, 0), x = strata_kernel_scalar(k, 4);
  strata_dtype dt = (strata_dtype)strata_kernel_scalar(k, 2);
  strata_red_op op = (strata_red_op)strata_kernel_scalar(k, 3);
  const strata_tensor *in = strata_kernel_tensor(k, 1), *out = strata_kernel_tensor(k, 2);
  size_t u = strata_dtype_size(dt);
  switch (kind) {
    case COLL_BARRIER: return strata_comm_barrier(c, k);
    case COLL_BROADCAST: return strata_comm_broadcast(c, in->data, in->bytes, (uint32_t)x, k);
    case COLL_ALLGATHER: return strata_comm_allgather(c, in->data, out->data, in->bytes, k);
    case COLL_REDUCE_SCATTER:
      return strata_comm_reduce_scatter(c, in->data, out->data, out->bytes / u, dt, op, k);
    case COLL_ALLREDUCE:
      return strata_comm_allreduce(c, in->data, out->data, in->bytes / u, dt, op,
                                   (strata_allreduce_algo)x, k);
    default: return strata_comm_alltoall(c, in->data, out->data, in->bytes / strata_comm_size(c), k);
  }
}

void strata__comm_kernel(strata_kernel_ctx *k) {
  strata_comm *c = strata_comm_lookup((uint32_t)strata_kernel_scalar(k, 1));
  int rc = run_coll(k, c);
  if (rc) strata_kernel_fail(k, "%s", strata_last_error());
}

typedef struct coll_req {
  uint32_t kind, domain, x;
  strata_red_op op;
  const strata_tensor *in, *out;
} coll_req;

static int size_error(strata_orch *o, const char *what) {
  return strata_orch_fatal(o, "comm submit: %s", what);
}

static int check_sizes(strata_orch *o, const strata_comm *c, const coll_req *r) {
  size_t n = strata_comm_size(c), ib = r->in ? r->in->bytes : 0, ob = r->out ? r->out->bytes : 0;
  size_t u = r->in ? strata_dtype_size(r->in->dtype) : 1;
  switch (r->kind) {
    case COLL_ALLGATHER: return ob < n * ib ? size_error(o, "allgather output < size * input") : 0;
    case COLL_REDUCE_SCATTER:
      return ib < n * ob || ob % u ? size_error(o, "reduce_scatter input < size * output") : 0;
    case COLL_ALLREDUCE: return ob < ib || ib % u ? size_error(o, "allreduce output < input") : 0;
    case COLL_ALLTOALL:
      return ib % n || ob < ib ? size_error(o, "alltoall input not size blocks / output small") : 0;
    default: return 0;
  }
}

static int submit(strata_orch *o, const coll_req *r, strata_task_ref *ref) {
  strata_comm *c = strata_comm_lookup(r->domain);
  if (!c || strata__comm_kernel_id() == UINT32_MAX)
    return strata_orch_fatal(o, "comm submit: this chip is not a member of domain %u", r->domain);
  int rc = check_sizes(o, c, r);
  if (rc) return rc;
  strata_tensor token = strata_tensor_external((void *)&c->token, sizeof(c->token), STRATA_DT_U8);
  strata_args a;
  strata_args_init(&a);
  strata_args_tensor(&a, STRATA_INOUT, &token);
  if (r->in) strata_args_tensor(&a, r->kind == COLL_BROADCAST ? STRATA_INOUT : STRATA_INPUT, r->in);
  if (r->out) strata_args_tensor(&a, STRATA_OUTPUT_EXISTING, r->out);
  strata_args_scalar(&a, r->kind);
  strata_args_scalar(&a, r->domain);
  strata_args_scalar(&a, r->in ? (uint64_t)r->in->dtype : 0);
  strata_args_scalar(&a, (uint64_t)r->op);
  strata_args_scalar(&a, r->x);
  return strata_orch_submit(o, strata__comm_kernel_id(), &a, ref);
}

int strata_comm_submit_barrier(strata_orch *o, uint32_t domain, strata_task_ref *ref) {
  coll_req r = {COLL_BARRIER, domain, 0, STRATA_OP_SUM, NULL, NULL};
  return submit(o, &r, ref);
}

int strata_comm_submit_broadcast(strata_orch *o, uint32_t domain, const strata_tensor *buf,
                                 uint32_t root, strata_task_ref *ref) {
  coll_req r = {COLL_BROADCAST, domain, root, STRATA_OP_SUM, buf, NULL};
  return submit(o, &r, ref);
}

int strata_comm_submit_allgather(strata_orch *o, uint32_t domain, const strata_tensor *in,
                                 const strata_tensor *out, strata_task_ref *ref) {
  coll_req r = {COLL_ALLGATHER, domain, 0, STRATA_OP_SUM, in, out};
  return submit(o, &r, ref);
}

int strata_comm_submit_reduce_scatter(strata_orch *o, uint32_t domain, const strata_tensor *in,
                                      const strata_tensor *out, strata_red_op op,
                                      strata_task_ref *ref) {
  coll_req r = {COLL_REDUCE_SCATTER, domain, 0, op, in, out};
  return submit(o, &r, ref);
}

int strata_comm_submit_allreduce(strata_orch *o, uint32_t domain, const strata_tensor *in,
                                 const strata_tensor *out, strata_red_op op,
                                 strata_allreduce_algo algo, strata_task_ref *ref) {
  coll_req r = {COLL_ALLREDUCE, domain, (uint32_t)algo, op, in, out};
  return submit(o, &r, ref);
}

int strata_comm_submit_alltoall(strata_orch *o, uint32_t domain, const strata_tensor *in,
                                const strata_tensor *out, strata_task_ref *ref) {
  coll_req r = {COLL_ALLTOALL, domain, 0, STRATA_OP_SUM, in, out};
  return submit(o, &r, ref);
}
