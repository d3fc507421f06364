/* strata/comm.h - communication domains and collectives between the chips
 * of a node. A domain is a subset of chips, each owning an equal symmetric
 * window in POSIX shared memory (zeroed before the domain is ready), plus
 * signals for notify/wait. Kernels (and chip orchestrations) reach their
 * domain with strata_comm_lookup() and use the primitives or collectives;
 * orchestrations can also submit collectives as tasks.
 *
 * Collectives are called by every rank of the domain, in the same order.
 * Signals are never reset: collectives use monotonically increasing epochs,
 * so back-to-back calls cannot race. Reductions combine ranks in rank order
 * 0..n-1, so every rank gets bitwise identical results.
 */
#ifndef STRATA_COMM_H
#define STRATA_COMM_H

#include "strata/chip.h"
#include "strata/node.h"

#ifdef __cplusplus
extern "C" {
#endif

#define STRATA_COMM_MAX_DOMAINS 16
#define STRATA_COMM_USER_SIGNALS 64 /* signals 0..63 are the user's */

typedef struct strata_comm strata_comm;

typedef enum strata_red_op { STRATA_OP_SUM = 0, STRATA_OP_MAX, STRATA_OP_MIN, STRATA_OP_PROD } strata_red_op;
typedef enum strata_cmp {
  STRATA_CMP_EQ = 0, STRATA_CMP_NE, STRATA_CMP_GT, STRATA_CMP_GE, STRATA_CMP_LT, STRATA_CMP_LE
} strata_cmp;
typedef enum strata_notify_op { STRATA_NOTIFY_ADD = 0, STRATA_NOTIFY_SET = 1 } strata_notify_op;
typedef enum strata_allreduce_algo {
  STRATA_ALLREDUCE_AUTO = 0,   /* one-shot up to 64 KiB, else RS + AG */
  STRATA_ALLREDUCE_ONE_SHOT,   /* every rank reads every window */
  STRATA_ALLREDUCE_RS_AG       /* reduce-scatter, then allgather */
} strata_allreduce_algo;

/* ---- node side ------------------------------------------------------------- */
/* Create a domain over chips[0..n) (rank i = chips[i]) with a window of
 * window_bytes per rank. Every member maps and zeroes it before this
 * returns. *domain receives the id to use in kernels. Waits in collectives
 * time out after STRATA_COMM_TIMEOUT_MS (default 30000). */
STRATA_API int strata_node_domain_create(strata_node *node, const uint32_t *chips, uint32_t n,
                                         size_t window_bytes, uint32_t *domain);
/* Release a domain (unmapped everywhere). EBUSY during a node run. */
STRATA_API int strata_node_domain_release(strata_node *node, uint32_t domain);

/* ---- chip side: kernels and chip orchestrations ------------------------------ */
/* This process's handle of a domain, or NULL if this chip is not a member. */
STRATA_API strata_comm *strata_comm_lookup(uint32_t domain);
STRATA_API uint32_t strata_comm_rank(const strata_comm *c);
STRATA_API uint32_t strata_comm_size(const strata_comm *c);
STRATA_API size_t strata_comm_window_bytes(const strata_comm *c);
/* Pointer to rank `peer`'s window (own rank: the local window), or NULL. */
STRATA_API void *strata_comm_peer_ptr(strata_comm *c, uint32_t peer);
/* Atomically add to / set signal `sig` of `peer` (release), waking waiters. */
STRATA_API int strata_comm_notify(strata_comm *c, uint32_t peer, uint32_t sig, strata_notify_op op,
                                  uint32_t value);
/* Wait until own signal `sig` compares `cmp` to value (acquire). Fails with
 * ETIMEDOUT after timeout_ms (0 = the domain's default), ECANCELED once the
 * run of kernel k is cancelled (hang detector, close; k may be NULL), or
 * ENDPOINT_FAILURE if a member of the domain was lost. */
STRATA_API int strata_comm_wait(strata_comm *c, uint32_t sig, strata_cmp cmp, uint32_t value,
                                uint32_t timeout_ms, const strata_kernel_ctx *k);
/* Copy into / out of a peer's window at offset. */
STRATA_API int strata_comm_put(strata_comm *c, uint32_t peer, size_t offset, const void *src,
                               size_t bytes);
STRATA_API int strata_comm_get(strata_comm *c, uint32_t peer, size_t offset, void *dst,
                               size_t bytes);

/* Collectives (plain C API). k (may be NULL) makes the waits cancellable.
 * in == out is allowed (in place). Sizes may exceed the window. */
STRATA_API int strata_comm_barrier(strata_comm *c, const strata_kernel_ctx *k);
STRATA_API int strata_comm_broadcast(strata_comm *c, void *buf, size_t bytes, uint32_t root,
                                     const strata_kernel_ctx *k);
/* out holds size * bytes: rank q's block at q * bytes. */
STRATA_API int strata_comm_allgather(strata_comm *c, const void *in, void *out, size_t bytes,
                                     const strata_kernel_ctx *k);
/* in holds size * count elements; out receives this rank's reduced block. */
STRATA_API int strata_comm_reduce_scatter(strata_comm *c, const void *in, void *out, size_t count,
                                          strata_dtype dt, strata_red_op op,
                                          const strata_kernel_ctx *k);
STRATA_API int strata_comm_allreduce(strata_comm *c, const void *in, void *out, size_t count,
                                     strata_dtype dt, strata_red_op op,
                                     strata_allreduce_algo algo, const strata_kernel_ctx *k);
/* in and out hold size blocks of `bytes`: block q of in goes to rank q. */
STRATA_API int strata_comm_alltoall(strata_comm *c, const void *in, void *out, size_t bytes,
                                    const strata_kernel_ctx *k);

/* ---- collectives as tasks (orchestration helpers) ---------------------------- */
/* Submit the collective as one task on this chip. Collectives of one domain
 * are ordered among themselves on each chip. Counts are in elements of the
 * tensor's dtype; broadcast/allgather/alltoall sizes come from the tensors. */
STRATA_API int strata_comm_submit_barrier(strata_orch *o, uint32_t domain, strata_task_ref *ref);
STRATA_API int strata_comm_submit_broadcast(strata_orch *o, uint32_t domain, const strata_tensor *buf,
                                            uint32_t root, strata_task_ref *ref);
STRATA_API int strata_comm_submit_allgather(strata_orch *o, uint32_t domain, const strata_tensor *in,
                                            const strata_tensor *out, strata_task_ref *ref);
STRATA_API int strata_comm_submit_reduce_scatter(strata_orch *o, uint32_t domain,
                                                 const strata_tensor *in, const strata_tensor *out,
                                                 strata_red_op op, strata_task_ref *ref);
STRATA_API int strata_comm_submit_allreduce(strata_orch *o, uint32_t domain, const strata_tensor *in,
                                            const strata_tensor *out, strata_red_op op,
                                            strata_allreduce_algo algo, strata_task_ref *ref);
STRATA_API int strata_comm_submit_alltoall(strata_orch *o, uint32_t domain, const strata_tensor *in,
                                           const strata_tensor *out, strata_task_ref *ref);

/* Reduce n buffers of count elements element-wise in order into out (the
 * arithmetic every reducing collective uses; f16/bf16 via f32). */
STRATA_API int strata_reduce(void *out, const void *const *src, uint32_t n, size_t count,
                             strata_dtype dt, strata_red_op op);

#ifdef __cplusplus
}
#endif
#endif
