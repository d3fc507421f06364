/* atomics.h - the one header through which strata code touches shared
 * memory: relaxed access, acquire/release, fences and read-modify-write,
 * over C11 <stdatomic.h>. Layer code uses these, never raw volatile or
 * __atomic builtins, so every ordering decision is greppable.
 *
 * Each use of an acquire, release or fence in layer code carries a one-line
 * comment naming the operation it pairs with.
 */
#ifndef STRATA_ATOMICS_H
#define STRATA_ATOMICS_H

#include <stdatomic.h>
#include <stdint.h>

/* Relaxed single-copy access: no ordering, but no tearing or data race. */
#define READ_ONCE(x) atomic_load_explicit(&(x), memory_order_relaxed)
#define WRITE_ONCE(x, v) atomic_store_explicit(&(x), (v), memory_order_relaxed)

/* Publication: a release store pairs with the acquire load that reads it. */
#define store_release(p, v) atomic_store_explicit((p), (v), memory_order_release)
#define load_acquire(p) atomic_load_explicit((p), memory_order_acquire)

/* Full fence: orders earlier stores before later loads (sleep-flag checks). */
#define smp_mb() atomic_thread_fence(memory_order_seq_cst)

/* Read-modify-write; all acq_rel unless named relaxed. Return the old value. */
#define fetch_add(p, v) atomic_fetch_add_explicit((p), (v), memory_order_acq_rel)
#define fetch_sub(p, v) atomic_fetch_sub_explicit((p), (v), memory_order_acq_rel)
#define fetch_or(p, v) atomic_fetch_or_explicit((p), (v), memory_order_acq_rel)
#define fetch_and(p, v) atomic_fetch_and_explicit((p), (v), memory_order_acq_rel)
#define fetch_add_relaxed(p, v)                                                \
  atomic_fetch_add_explicit((p), (v), memory_order_relaxed)
#define xchg(p, v) atomic_exchange_explicit((p), (v), memory_order_acq_rel)
/* Compare-and-swap; *expected is updated on failure. Returns nonzero on success. */
#define cas(p, expected, v)                                                    \
  atomic_compare_exchange_strong_explicit((p), (expected), (v),                \
                                          memory_order_acq_rel,                \
                                          memory_order_acquire)

/* Relaxed weak compare-and-swap (claiming a slot whose contents are
 * published by a separate release store): may fail spuriously, loop on it. */
#define cas_weak_relaxed(p, expected, v)                                       \
  atomic_compare_exchange_weak_explicit((p), (expected), (v), memory_order_relaxed, \
                                        memory_order_relaxed)

/* Busy-wait hint inside short spin loops. */
static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield" ::: "memory");
#endif
}

#endif
