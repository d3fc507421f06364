/* event.h - a futex-backed wake-up counter: spin briefly, then park.
 *
 * Barrier pairing (the Dekker pair that makes lost wake-ups impossible):
 *   signaller: seq += 1 (release)  ; smp_mb ; read waiters
 *   waiter:    waiters += 1        ; smp_mb ; read seq ; futex_wait(seq==seen)
 * Either the signaller sees waiters > 0 and calls futex_wake, or the waiter
 * sees the new seq and does not sleep. futex_wait re-checks seq in the
 * kernel, closing the window between the check and the sleep.
 *
 * Usage: seen = strata__event_read(ev); if (!condition) wait(ev, seen, dl);
 * Shared events (in POSIX shm) use the non-private futex operations.
 */
#ifndef STRATA_EVENT_H
#define STRATA_EVENT_H

#include <stdint.h>

#include "platform/atomics.h"
#include "platform/platform_int.h"

/* Written by: any signaller (seq), any waiter (waiters). */
typedef struct strata__event {
  _Atomic uint32_t seq;     /* bumped by every signal */
  _Atomic uint32_t waiters; /* threads inside futex_wait (or about to be) */
  uint32_t shared;          /* 1: lives in shared memory (set at init) */
} strata__event;

STRATA_HIDDEN void strata__event_init(strata__event *ev, int shared);

/* Current sequence; pairs with the release increment in signal(). */
static inline uint32_t strata__event_read(strata__event *ev) {
  return load_acquire(&ev->seq); /* pairs with fetch_add in signal */
}

/* Wake every waiter. Cheap (no syscall) when nobody waits. */
STRATA_HIDDEN void strata__event_signal(strata__event *ev);

/* Wait until seq != seen or the absolute deadline (monotonic ns) passes.
 * Spins briefly first. Returns 0 if signalled, STRATA_ETIMEDOUT otherwise.
 * Spurious returns are possible: callers re-check their condition. */
STRATA_HIDDEN int strata__event_wait(strata__event *ev, uint32_t seen,
                                     uint64_t deadline_ns);
/* The same with the spin phase chosen by the caller: STRATA_SPIN_FULL (spin,
 * then yield, for STRATA_SPIN_US), STRATA_SPIN_SHORT (a few microseconds of
 * pure spinning, never yielding: catches an immediate hand-off) or
 * STRATA_SPIN_NONE (park at once: every CPU has work to run). */
enum { STRATA_SPIN_NONE = 0, STRATA_SPIN_SHORT, STRATA_SPIN_FULL };
STRATA_HIDDEN int strata__event_wait_spin(strata__event *ev, uint32_t seen,
                                          uint64_t deadline_ns, int spin);

/* The wait loop every waiter shares: until done(arg) holds (0) or the
 * absolute deadline passes (STRATA_ETIMEDOUT; UINT64_MAX = none), parking on
 * ev between checks and waking at least every slice_ns (0 = only when
 * signalled or at the deadline). done is checked after reading the event,
 * so a signal between the check and the park is never lost. */
STRATA_HIDDEN int strata__event_wait_until(strata__event *ev, int (*done)(void *arg), void *arg,
                                           uint64_t deadline_ns, uint64_t slice_ns);

/* Raw futex on a 32-bit word (shared: across processes). wait sleeps while
 * *w == val, at most until deadline_ns; spurious returns are possible. */
STRATA_HIDDEN void strata__futex_wait(_Atomic uint32_t *w, uint32_t val, uint64_t deadline_ns,
                                      int shared);
STRATA_HIDDEN void strata__futex_wake(_Atomic uint32_t *w, int shared);
/* Spin-then-yield probe used before parking (STRATA_SPIN_US): returns 1 as
 * soon as *w != val, 0 when the spin budget or the deadline is spent. */
STRATA_HIDDEN int strata__spin_while_equal(_Atomic uint32_t *w, uint32_t val, uint64_t deadline_ns);

#endif
