/* comm_int.h - private structures of communication domains.
 *
 * Segment of a domain (POSIX shm, created by the node process with a unique
 * name, mapped by every member on ALLOC_DOMAIN, then unlinked; ftruncate
 * zeroes it before any member maps it, i.e. before the domain is ready):
 *
 *   [dom_hdr: 4096 B][rank 0 block][rank 1 block]...
 *   rank block = [signals: STRATA__SIGNALS x 64 B][window: window_bytes]
 *
 * Signals: each on its own cache line. `value` is written by any rank with
 * a release RMW/store (notify) and read with acquire (wait); `waiters` counts
 * ranks parked in futex_wait on `value`, so notify makes a syscall only when
 * someone sleeps (smp_mb on both sides, as in platform/event.h).
 *
 * Collective steps (step e, n ranks, own rank r; counters never reset). The
 * window is split in two halves used in turn (half e % 2):
 *   write my half for e; add 1 to READY of every peer (release)
 *   wait READY_r >= e(n-1)      every peer wrote its half for step e
 *   read peers' halves for e
 * One round per step. A peer at step e+1 has seen my READY(e), so no peer is
 * two steps ahead, and READY_r >= e(n-1) holds only once every peer sent
 * READY(e). A peer overwrites the half I read at e only at e+2, which needs
 * my READY(e+1), sent after my reads. Comparisons are wrap-safe.
 */
#ifndef STRATA_COMM_INT_H
#define STRATA_COMM_INT_H

#include "comm/comm_ext.h"
#include "level/level_ext.h"
#include "platform/atomics.h"
#include "platform/event.h"
#include "platform/platform_int.h"
#include "platform/trace_rec.h"
#include "strata/comm.h"

#define STRATA__DOM_MAGIC 0x53544443u /* "STDC" */
#define STRATA__SIGNALS 128u
#define STRATA__SIG_READY 64u
#define STRATA__SIG_STEP 65u  /* the rank itself: the last local step it entered
                                 (relaxed: read only to name a peer that is behind) */
#define STRATA__DOM_HDR_BYTES 4096u


typedef struct strata__dom_hdr {
  uint32_t magic, version, nranks, domain; /* written by the creator before mapping */
  uint64_t window_bytes, rank_stride;
  _Atomic uint32_t abort;                  /* node process: a member was lost */
  int32_t host_rank;                       /* creator: MPI rank of this node, or -1 */
  uint32_t chip[STRATA_NODE_MAX_CHILDREN]; /* creator: member i is chip chip[i] of the node */
} strata__dom_hdr;
_Static_assert(sizeof(strata__dom_hdr) <= STRATA__DOM_HDR_BYTES, "header fits");

/* A member's view of a domain (process-local). */
struct strata_comm {
  uint32_t domain, rank, nranks, timeout_ms;
  size_t window;
  strata__dom_hdr *hdr;
  size_t seg_bytes;
  uint32_t step;                           /* collective epoch (same on all ranks) */
  int broken;                              /* a collective failed half way */
  _Atomic uint32_t token;                  /* tensor that orders this domain's tasks */
  /* hierarchical domains (comm_ext.h): rank/nranks above are this node's
   * local members; these are the domain's */
  strata__gw_hdr *gw;                      /* NULL: a one-node domain */
  size_t gw_bytes;
  uint32_t grank, gsize, gstep;
};

/* ---- segment geometry ---- */
static inline size_t strata__dom_stride(size_t window) {
  return ((size_t)STRATA__SIGNALS * 64 + window + 4095) & ~(size_t)4095;
}
static inline size_t strata__dom_bytes(uint32_t nranks, size_t window) {
  return STRATA__DOM_HDR_BYTES + (size_t)nranks * strata__dom_stride(window);
}
static inline strata__signal *strata__sig(strata_comm *c, uint32_t rank, uint32_t sig) {
  return (strata__signal *)(void *)((char *)c->hdr + STRATA__DOM_HDR_BYTES +
                                    (size_t)rank * c->hdr->rank_stride) + sig;
}
static inline unsigned char *strata__win(strata_comm *c, uint32_t rank) {
  return (unsigned char *)strata__sig(c, rank, 0) + (size_t)STRATA__SIGNALS * 64;
}

/* ---- signal.c ---- */
/* Whom a wait waits for (SPEC §4 progress): blame names the peer for the
 * hang detector (strata_kernel_waiting_for) while the wait lasts; a change
 * of the awaited signal, or of *moved (data arriving), is the kernel's
 * progress. */
typedef struct strata__wait_why {
  void (*blame)(strata_comm *c, uint32_t step, int32_t *rank, int32_t *chip);
  uint32_t step;
  const _Atomic uint32_t *moved;           /* NULL: only the signal itself */
} strata__wait_why;
/* Wait until *s reaches `target` (wrap-safe >=), checking the domain. */
STRATA_HIDDEN int strata__wait_signal(strata_comm *c, strata__signal *s, uint32_t target,
                                      uint64_t deadline, const strata_kernel_ctx *k,
                                      const strata__wait_why *why);
/* Member l of this node: rank and chip for a wait note. */
STRATA_HIDDEN void strata__member_name(const strata_comm *c, uint32_t l, int32_t *rank,
                                       int32_t *chip);
/* Fault hook (tests): this member stops contributing at step `step` of a
 * collective (STRATA_FAULT_COMM_STALL_RANK / _STEP): waits until the run is
 * cancelled, ECANCELED. 0 otherwise. */
STRATA_HIDDEN int strata__comm_fault_stall(strata_comm *c, uint32_t step, const strata_kernel_ctx *k);
STRATA_HIDDEN void strata__notify(strata_comm *c, uint32_t peer, uint32_t sig, int set, uint32_t v);
/* Wait until own signal reaches `target` (wrap-safe >=). */
STRATA_HIDDEN int strata__wait_epoch(strata_comm *c, uint32_t sig, uint32_t target,
                                     uint64_t deadline, const strata_kernel_ctx *k,
                                     const strata__wait_why *why);
STRATA_HIDDEN int strata__comm_check(strata_comm *c);

/* ---- collective.c: the collectives over this node's members ---- */
STRATA_HIDDEN int strata__local_barrier(strata_comm *c, const strata_kernel_ctx *k);
STRATA_HIDDEN int strata__local_broadcast(strata_comm *c, void *buf, size_t bytes, uint32_t root,
                                          const strata_kernel_ctx *k);
STRATA_HIDDEN int strata__local_allgather(strata_comm *c, const void *in, void *out, size_t bytes,
                                          const strata_kernel_ctx *k);
STRATA_HIDDEN int strata__local_reduce_scatter(strata_comm *c, const void *in, void *out,
                                               size_t count, strata_dtype dt, strata_red_op op,
                                               const strata_kernel_ctx *k);
STRATA_HIDDEN int strata__local_allreduce(strata_comm *c, const void *in, void *out, size_t count,
                                          strata_dtype dt, strata_red_op op,
                                          strata_allreduce_algo algo, const strata_kernel_ctx *k);
STRATA_HIDDEN int strata__local_alltoall(strata_comm *c, const void *in, void *out, size_t bytes,
                                         const strata_kernel_ctx *k);
STRATA_HIDDEN int strata__check_dt(strata_dtype dt, strata_red_op op);
/* strata_reduce in slices, each one progress of kernel k (k may be NULL):
 * a large chunk reduced on a busy CPU is work, not a hang. */
STRATA_HIDDEN int strata__reduce_k(void *out, const void *const *src, uint32_t n, size_t count,
                                   strata_dtype dt, strata_red_op op, const strata_kernel_ctx *k);
/* The node's members' sum on member 0 only (into out; others' out untouched). */
STRATA_HIDDEN int strata__local_reduce0(strata_comm *c, const void *in, void *out, size_t count,
                                        strata_dtype dt, strata_red_op op,
                                        const strata_kernel_ctx *k);

/* ---- domain.c (child side) ---- */
STRATA_HIDDEN uint32_t strata__comm_kernel_id(void);
/* ---- ckernel.c ---- */
STRATA_HIDDEN void strata__comm_kernel(strata_kernel_ctx *k);

#endif
