/* signal.c - kernel-side primitives of a domain: notify, wait (six
 * comparisons, deadline, cancellation, lost-member abort), peer pointers,
 * put and get. See comm_int.h for the barrier pairing of signals. */
#include <string.h>

#include "comm/comm_int.h"

#define WAIT_PARK_NS (10 * STRATA_NS_PER_MS) /* re-check cancel/abort this often */

uint32_t strata_comm_rank(const strata_comm *c) { return c ? (c->gw ? c->grank : c->rank) : 0; }
uint32_t strata_comm_size(const strata_comm *c) { return c ? (c->gw ? c->gsize : c->nranks) : 0; }
size_t strata_comm_window_bytes(const strata_comm *c) { return c ? c->window : 0; }

/* A domain rank as an index of this node's segment; a rank on another node
 * (hierarchical domains) becomes nranks: out of range for one-sided access. */
static uint32_t local_peer(const strata_comm *c, uint32_t peer) {
  if (!c->gw) return peer;
  if (peer >= c->gsize || c->gw->gnode[peer] != c->gw->node) return c->nranks;
  return c->gw->glocal[peer];
}

void *strata_comm_peer_ptr(strata_comm *c, uint32_t peer) {
  uint32_t p = c ? local_peer(c, peer) : 0;
  return c && p < c->nranks ? strata__win(c, p) : NULL;
}

void strata__signal_post(strata__signal *s, uint32_t v) {
  store_release(&s->value, v); /* pairs with load_acquire in wait_on */
  smp_mb(); /* pairs with smp_mb in park(): value vs waiters */
  if (READ_ONCE(s->waiters)) strata__futex_wake(&s->value, 1);
}

void strata__notify(strata_comm *c, uint32_t peer, uint32_t sig, int set, uint32_t v) {
  strata__signal *s = strata__sig(c, peer, sig);
  if (set)
    store_release(&s->value, v); /* pairs with load_acquire in wait */
  else
    fetch_add(&s->value, v); /* release: publishes our window writes */
  smp_mb(); /* pairs with smp_mb in park(): value vs waiters */
  if (READ_ONCE(s->waiters)) strata__futex_wake(&s->value, 1);
}

int strata__comm_check(strata_comm *c) {
  if (!c) return strata__fail(STRATA_EINVAL, "comm: no domain handle (strata_comm_lookup "
                              "returned NULL: is this chip a member?)");
  if (READ_ONCE(c->hdr->abort) || (c->gw && READ_ONCE(c->gw->abort)))
    return strata__fail(STRATA_ENDPOINT_FAILURE, "comm: a member of domain %u was lost%s; "
                        "release the domain and create a new one", c->domain,
                        c->gw && READ_ONCE(c->gw->abort) ? " (another node's rank)" : "");
  if (c->broken)
    return strata__fail(STRATA_ENDPOINT_FAILURE, "comm: an earlier collective on domain %u "
                        "failed half way; release the domain and create a new one", c->domain);
  return 0;
}

static int cmp_ok(uint32_t cur, strata_cmp cmp, uint32_t v) {
  switch (cmp) {
    case STRATA_CMP_EQ: return cur == v;
    case STRATA_CMP_NE: return cur != v;
    case STRATA_CMP_GT: return cur > v;
    case STRATA_CMP_GE: return cur >= v;
    case STRATA_CMP_LT: return cur < v;
    case STRATA_CMP_LE: return cur <= v;
  }
  return 0;
}

static void park(strata__signal *s, uint32_t cur, uint64_t deadline) {
  uint64_t t = strata__now_ns() + WAIT_PARK_NS;
  if (strata__spin_while_equal(&s->value, cur, deadline)) return;
  fetch_add(&s->waiters, 1);
  smp_mb(); /* pairs with smp_mb in notify */
  if (load_acquire(&s->value) == cur) strata__futex_wait(&s->value, cur, t < deadline ? t : deadline, 1);
  fetch_sub(&s->waiters, 1);
}

void strata__member_name(const strata_comm *c, uint32_t l, int32_t *rank, int32_t *chip) {
  *rank = c->hdr->host_rank;
  *chip = l < c->nranks ? (int32_t)c->hdr->chip[l] : -1;
}

/* The awaited value or the data under it moved: progress of the kernel. */
static uint32_t moved_now(const strata__wait_why *why) {
  return why && why->moved ? READ_ONCE(*why->moved) : 0;
}

static void note_blame(strata_comm *c, const strata__wait_why *why, const strata_kernel_ctx *k) {
  int32_t rank = -1, chip = -1;
  if (!k || !why || !why->blame) return;
  why->blame(c, why->step, &rank, &chip);
  strata_kernel_waiting_for(k, rank, chip, why->step);
}

static int wait_failed(strata_comm *c, uint32_t sig, uint32_t cur, uint32_t v, uint64_t deadline,
                       const strata_kernel_ctx *k) {
  int rc = strata__comm_check(c);
  if (rc) return rc;
  if (k && strata_kernel_cancelled(k))
    return strata__fail(STRATA_ECANCELED, "comm wait on signal %u cancelled (the run was "
                        "cancelled)", sig);
  if (strata__now_ns() >= deadline)
    return strata__fail(STRATA_ETIMEDOUT, "comm wait on signal %u of domain %u timed out "
                        "(value %u, want %u); a peer is missing or slow (STRATA_COMM_TIMEOUT_MS)",
                        sig, c->domain, cur, v);
  return 0;
}

/* cmp < 0: wrap-safe "at least" (epochs); else a strata_cmp. */
static int wait_on(strata_comm *c, strata__signal *s, uint32_t sig, int cmp, uint32_t v,
                   uint64_t deadline, const strata_kernel_ctx *k, const strata__wait_why *why) {
  uint32_t seen = load_acquire(&s->value), moved = moved_now(why); /* pairs with notify */
  int waited = 0;
  for (int rc;; note_blame(c, why, k), park(s, seen, deadline), waited = 1) {
    uint32_t cur = load_acquire(&s->value), m = moved_now(why); /* pairs with notify's release */
    if (cmp < 0 ? (int32_t)(cur - v) >= 0 : cmp_ok(cur, (strata_cmp)cmp, v)) break;
    if (cur != seen || m != moved) strata_kernel_progress(k); /* a peer's data moved */
    seen = cur, moved = m;
    if ((rc = wait_failed(c, sig, cur, v, deadline, k))) return rc;
  }
  if (waited) strata_kernel_progress(k); /* what it waited for arrived */
  if (k && why && why->blame) strata_kernel_waiting_for(k, -1, -1, 0);
  return 0;
}

static int wait_sig(strata_comm *c, uint32_t sig, int cmp, uint32_t v, uint64_t deadline,
                    const strata_kernel_ctx *k, const strata__wait_why *why) {
  return wait_on(c, strata__sig(c, c->rank, sig), sig, cmp, v, deadline, k, why);
}

int strata__wait_epoch(strata_comm *c, uint32_t sig, uint32_t target, uint64_t deadline,
                       const strata_kernel_ctx *k, const strata__wait_why *why) {
  return wait_sig(c, sig, -1, target, deadline, k, why);
}

int strata__wait_signal(strata_comm *c, strata__signal *s, uint32_t target, uint64_t deadline,
                        const strata_kernel_ctx *k, const strata__wait_why *why) {
  return wait_on(c, s, STRATA__SIGNALS, -1, target, deadline, k, why); /* "signal 128": the gateway's */
}

/* Cached fault settings: domain rank to stall (UINT32_MAX: none) and from which step. */
static uint32_t stall_rank(uint32_t *step) {
  static _Atomic uint32_t rank = UINT32_MAX - 1, from = 1;
  uint32_t r = READ_ONCE(rank);
  if (r == UINT32_MAX - 1) {
    WRITE_ONCE(from, (uint32_t)strata__env_u64("STRATA_FAULT_COMM_STALL_STEP", 1, 1, UINT32_MAX, 0));
    r = (uint32_t)strata__env_u64("STRATA_FAULT_COMM_STALL_RANK", UINT32_MAX, 0, UINT32_MAX, 0);
    WRITE_ONCE(rank, r);
  }
  *step = READ_ONCE(from);
  return r;
}

int strata__comm_fault_stall(strata_comm *c, uint32_t step, const strata_kernel_ctx *k) {
  uint32_t from = 0;
  if (stall_rank(&from) != strata_comm_rank(c) || step < from) return 0;
  strata__log(STRATA_LOG_WARN, "STRATA_FAULT_COMM_STALL_RANK: domain rank %u stops at step %u",
              strata_comm_rank(c), step);
  while (!strata_kernel_cancelled(k)) strata__sleep_ms(10);
  return strata__fail(STRATA_ECANCELED, "comm: domain rank %u stalled by "
                      "STRATA_FAULT_COMM_STALL_RANK until the run was cancelled", strata_comm_rank(c));
}

/* peer: a domain rank, turned into this node's index (*lp). */
static int check_user(strata_comm *c, uint32_t peer, uint32_t sig, uint32_t *lp) {
  int rc = strata__comm_check(c);
  *lp = rc ? 0 : local_peer(c, peer);
  if (rc == 0 && (*lp >= c->nranks || sig >= STRATA_COMM_USER_SIGNALS))
    rc = strata__fail(STRATA_EINVAL, "comm: rank %u / signal %u out of range (%u ranks%s, %d "
                      "user signals)", peer, sig, strata_comm_size(c),
                      c->gw ? "; one-sided access reaches this node's ranks only" : "",
                      STRATA_COMM_USER_SIGNALS);
  return rc;
}

int strata_comm_notify(strata_comm *c, uint32_t peer, uint32_t sig, strata_notify_op op,
                       uint32_t value) {
  uint32_t lp;
  int rc = check_user(c, peer, sig, &lp);
  if (rc == 0) strata__notify(c, lp, sig, op == STRATA_NOTIFY_SET, value);
  return rc;
}

int strata_comm_wait(strata_comm *c, uint32_t sig, strata_cmp cmp, uint32_t value,
                     uint32_t timeout_ms, const strata_kernel_ctx *k) {
  uint32_t lp;
  int rc = check_user(c, strata_comm_rank(c), sig, &lp);
  if (rc == 0 && (unsigned)cmp > STRATA_CMP_LE)
    rc = strata__fail(STRATA_EINVAL, "comm_wait: unknown comparison %d", (int)cmp);
  if (rc) return rc;
  uint64_t deadline = strata__deadline_ms(timeout_ms ? timeout_ms : c->timeout_ms);
  return wait_sig(c, sig, (int)cmp, value, deadline, k, NULL);
}

static int check_range(strata_comm *c, uint32_t peer, size_t off, size_t bytes, uint32_t *lp) {
  int rc = strata__comm_check(c);
  *lp = rc ? 0 : local_peer(c, peer);
  if (rc == 0 && (*lp >= c->nranks || off > c->window || bytes > c->window - off))
    rc = strata__fail(STRATA_EINVAL, "comm put/get: rank %u, [%zu, +%zu) is outside the "
                      "%zu-byte window%s", peer, off, bytes, c->window,
                      c->gw ? " or on another node (one-sided access stays on the node)" : "");
  return rc;
}

int strata_comm_put(strata_comm *c, uint32_t peer, size_t offset, const void *src, size_t bytes) {
  uint32_t lp;
  int rc = check_range(c, peer, offset, bytes, &lp);
  if (rc == 0 && bytes) memcpy(strata__win(c, lp) + offset, src, bytes);
  return rc;
}

int strata_comm_get(strata_comm *c, uint32_t peer, size_t offset, void *dst, size_t bytes) {
  uint32_t lp;
  int rc = check_range(c, peer, offset, bytes, &lp);
  if (rc == 0 && bytes) memcpy(dst, strata__win(c, lp) + offset, bytes);
  return rc;
}
