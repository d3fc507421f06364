/* signal.c - kernel-side primitives of a domain: notify, wait (six
 * comparisons, deadline, cancellation, lost-member abort), peer pointers,
 * put and get. See comm_int.h for the barrier pairing of signals. */
#include <string.h>

#include "comm/comm_int.h"

#define WAIT_PARK_NS (10 * STRATA_NS_PER_MS) /* re-check cancel/abort this often */

uint32_t strata_comm_rank(const strata_comm *c) { return c->rank; }
uint32_t strata_comm_size(const strata_comm *c) { return c->nranks; }
size_t strata_comm_window_bytes(const strata_comm *c) { return c->window; }

void *strata_comm_peer_ptr(strata_comm *c, uint32_t peer) {
  return c && peer < c->nranks ? strata__win(c, peer) : NULL;
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
  if (READ_ONCE(c->hdr->abort))
    return strata__fail(STRATA_ENDPOINT_FAILURE, "comm: a member of domain %u was lost; "
                        "release the domain and create a new one", c->domain);
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

/* cmp < 0: wrap-safe "at least" (epochs); else a strata_cmp. */
static int wait_sig(strata_comm *c, uint32_t sig, int cmp, uint32_t v, uint64_t deadline,
                    const strata_kernel_ctx *k) {
  strata__signal *s = strata__sig(c, c->rank, sig);
  for (;;) {
    uint32_t cur = load_acquire(&s->value); /* pairs with notify's release */
    if (cmp < 0 ? (int32_t)(cur - v) >= 0 : cmp_ok(cur, (strata_cmp)cmp, v)) return 0;
    int rc = strata__comm_check(c);
    if (rc) return rc;
    if (k && strata_kernel_cancelled(k))
      return strata__fail(STRATA_ECANCELED, "comm wait on signal %u cancelled (the run was "
                          "cancelled)", sig);
    if (strata__now_ns() >= deadline)
      return strata__fail(STRATA_ETIMEDOUT, "comm wait on signal %u of domain %u timed out "
                          "(value %u, want %u); a peer is missing or slow (STRATA_COMM_TIMEOUT_MS)",
                          sig, c->domain, cur, v);
    park(s, cur, deadline);
  }
}

int strata__wait_epoch(strata_comm *c, uint32_t sig, uint32_t target, uint64_t deadline,
                       const strata_kernel_ctx *k) {
  return wait_sig(c, sig, -1, target, deadline, k);
}

static int check_user(strata_comm *c, uint32_t peer, uint32_t sig) {
  int rc = strata__comm_check(c);
  if (rc == 0 && (peer >= c->nranks || sig >= STRATA_COMM_USER_SIGNALS))
    rc = strata__fail(STRATA_EINVAL, "comm: rank %u / signal %u out of range (%u ranks, %d "
                      "user signals)", peer, sig, c->nranks, STRATA_COMM_USER_SIGNALS);
  return rc;
}

int strata_comm_notify(strata_comm *c, uint32_t peer, uint32_t sig, strata_notify_op op,
                       uint32_t value) {
  int rc = check_user(c, peer, sig);
  if (rc == 0) strata__notify(c, peer, sig, op == STRATA_NOTIFY_SET, value);
  return rc;
}

int strata_comm_wait(strata_comm *c, uint32_t sig, strata_cmp cmp, uint32_t value,
                     uint32_t timeout_ms, const strata_kernel_ctx *k) {
  int rc = check_user(c, c ? c->rank : 0, sig);
  if (rc == 0 && (unsigned)cmp > STRATA_CMP_LE)
    rc = strata__fail(STRATA_EINVAL, "comm_wait: unknown comparison %d", (int)cmp);
  if (rc) return rc;
  uint64_t deadline = strata__deadline_ms(timeout_ms ? timeout_ms : c->timeout_ms);
  return wait_sig(c, sig, (int)cmp, value, deadline, k);
}

static int check_range(strata_comm *c, uint32_t peer, size_t off, size_t bytes) {
  int rc = strata__comm_check(c);
  if (rc == 0 && (peer >= c->nranks || off > c->window || bytes > c->window - off))
    rc = strata__fail(STRATA_EINVAL, "comm put/get: rank %u, [%zu, +%zu) is outside the "
                      "%zu-byte window", peer, off, bytes, c->window);
  return rc;
}

int strata_comm_put(strata_comm *c, uint32_t peer, size_t offset, const void *src, size_t bytes) {
  int rc = check_range(c, peer, offset, bytes);
  if (rc == 0 && bytes) memcpy(strata__win(c, peer) + offset, src, bytes);
  return rc;
}

int strata_comm_get(strata_comm *c, uint32_t peer, size_t offset, void *dst, size_t bytes) {
  int rc = check_range(c, peer, offset, bytes);
  if (rc == 0 && bytes) memcpy(dst, strata__win(c, peer) + offset, bytes);
  return rc;
}
