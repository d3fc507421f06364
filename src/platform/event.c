/* event.c - futex-backed wake-up counter (see event.h for the barrier
 * pairing). Waiters spin for a short, bounded time, then park in the kernel;
 * nothing here burns a core while idle. */
#include "platform/event.h"

#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* How long a waiter spins before parking, in microseconds (STRATA_SPIN_US,
 * default 50, 0..1000): long enough to catch a hand-off between two running
 * threads without a futex round trip, short enough not to burn a core. */
static _Atomic int64_t spin_ns = -1;

static uint64_t spin_budget_ns(void) {
  int64_t ns = READ_ONCE(spin_ns);
  if (ns < 0) {
    ns = (int64_t)strata__env_u64("STRATA_SPIN_US", 50, 0, 1000, 0) * 1000;
    WRITE_ONCE(spin_ns, ns);
  }
  return (uint64_t)ns;
}

void strata__event_init(strata__event *ev, int shared) {
  WRITE_ONCE(ev->seq, 0);
  WRITE_ONCE(ev->waiters, 0);
  ev->shared = shared ? 1u : 0u;
}

static long futex_raw(_Atomic uint32_t *w, int op, uint32_t val, const struct timespec *ts,
                      int shared) {
  if (!shared) op |= FUTEX_PRIVATE_FLAG;
  return syscall(SYS_futex, (uint32_t *)w, op, val, ts, NULL, 0);
}

static long futex_op(strata__event *ev, int op, uint32_t val, const struct timespec *ts) {
  return futex_raw(&ev->seq, op, val, ts, (int)ev->shared);
}

void strata__futex_wait(_Atomic uint32_t *w, uint32_t val, uint64_t deadline_ns, int shared) {
  uint64_t now = strata__now_ns();
  if (now >= deadline_ns) return;
  uint64_t left = deadline_ns - now;
  struct timespec ts = {(time_t)(left / 1000000000ull), (long)(left % 1000000000ull)};
  futex_raw(w, FUTEX_WAIT, val, &ts, shared);
}

void strata__futex_wake(_Atomic uint32_t *w, int shared) {
  futex_raw(w, FUTEX_WAKE, INT32_MAX, NULL, shared);
}

void strata__event_signal(strata__event *ev) {
  fetch_add(&ev->seq, 1); /* pairs with load_acquire in event_read */
  smp_mb();               /* pairs with smp_mb in event_wait: seq vs waiters */
  if (READ_ONCE(ev->waiters) != 0) futex_op(ev, FUTEX_WAKE, INT32_MAX, NULL);
}

/* Spin phase before yielding: a hand-off between two running threads usually
 * lands within a few microseconds, and a sched_yield() syscall in its path
 * would double its latency. */
#define STRATA_PURE_SPIN_NS 3000u

static int spin_for(_Atomic uint32_t *w, uint32_t val, uint64_t deadline_ns, uint64_t budget) {
  uint64_t start = strata__now_ns(), now = start;
  while (now - start < budget && now < deadline_ns) {
    for (int i = 0; i < 32; i++) {
      if (load_acquire(w) != val) return 1; /* pairs with the writer's release */
      cpu_relax();
    }
    if (now - start >= STRATA_PURE_SPIN_NS)
      sched_yield(); /* then give way to runnable threads: cores are oversubscribed */
    now = strata__now_ns();
  }
  return load_acquire(w) != val;
}

int strata__spin_while_equal(_Atomic uint32_t *w, uint32_t val, uint64_t deadline_ns) {
  return spin_for(w, val, deadline_ns, spin_budget_ns());
}

static void park(strata__event *ev, uint32_t seen, uint64_t deadline_ns) {
  uint64_t now = strata__now_ns();
  if (now >= deadline_ns) return;
  uint64_t left = deadline_ns - now;
  struct timespec ts = {(time_t)(left / 1000000000ull), (long)(left % 1000000000ull)};
  fetch_add(&ev->waiters, 1);
  smp_mb(); /* pairs with smp_mb in event_signal: waiters vs seq */
  if (strata__event_read(ev) == seen) futex_op(ev, FUTEX_WAIT, seen, &ts);
  fetch_sub(&ev->waiters, 1);
}

int strata__event_wait_spin(strata__event *ev, uint32_t seen, uint64_t deadline_ns, int spin) {
  uint64_t budget = spin == STRATA_SPIN_FULL ? spin_budget_ns() : 0;
  if (spin == STRATA_SPIN_SHORT) budget = STRATA_PURE_SPIN_NS < spin_budget_ns() ? STRATA_PURE_SPIN_NS : spin_budget_ns();
  if (budget && spin_for(&ev->seq, seen, deadline_ns, budget)) return 0;
  park(ev, seen, deadline_ns);
  return strata__event_read(ev) != seen ? 0 : STRATA_ETIMEDOUT;
}

int strata__event_wait(strata__event *ev, uint32_t seen, uint64_t deadline_ns) {
  return strata__event_wait_spin(ev, seen, deadline_ns, STRATA_SPIN_FULL);
}

int strata__event_wait_until(strata__event *ev, int (*done)(void *arg), void *arg,
                             uint64_t deadline_ns, uint64_t slice_ns) {
  for (;;) {
    uint32_t seen = strata__event_read(ev);
    if (done(arg)) return 0;
    uint64_t now = strata__now_ns();
    if (now >= deadline_ns) return STRATA_ETIMEDOUT;
    uint64_t wake = slice_ns && now + slice_ns < deadline_ns ? now + slice_ns : deadline_ns;
    strata__event_wait(ev, seen, wake);
  }
}
