/* platform_int.h - private interface of the platform layer: clock, logging,
 * environment parsing, memory, threads and the thread-local error message.
 * Nothing here knows about chips or tasks. */
#ifndef STRATA_PLATFORM_INT_H
#define STRATA_PLATFORM_INT_H

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "strata/error.h"

#define STRATA_HIDDEN __attribute__((visibility("hidden")))
#define STRATA_COLD __attribute__((cold))
#define STRATA_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define STRATA_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- clock ---- */
#define STRATA_NS_PER_MS 1000000ull
/* Monotonic time in nanoseconds. */
STRATA_HIDDEN uint64_t strata__now_ns(void);
/* Tick-resolution monotonic time, never ahead of strata__now_ns(). */
STRATA_HIDDEN uint64_t strata__now_coarse_ns(void);
/* Its resolution (a tick): two coarse readings that differ by d are at least
 * d - tick apart in real time. */
STRATA_HIDDEN uint64_t strata__coarse_res_ns(void);
STRATA_HIDDEN void strata__sleep_ms(uint32_t ms);
/* now + ms, saturating; ms == 0 means "no deadline" (UINT64_MAX). */
STRATA_HIDDEN uint64_t strata__deadline_ms(uint32_t ms);

/* ---- logging (stderr; level from STRATA_LOG=error|warn|info|debug) ---- */
enum { STRATA_LOG_ERROR = 0, STRATA_LOG_WARN, STRATA_LOG_INFO, STRATA_LOG_DEBUG };
STRATA_HIDDEN int strata__log_enabled(int level);
STRATA_HIDDEN void strata__log(int level, const char *fmt, ...) STRATA_PRINTF(2, 3);
STRATA_HIDDEN void strata__vlog(int level, const char *fmt, va_list ap) STRATA_PRINTF(2, 0);
#define strata__warn(...) strata__log(STRATA_LOG_WARN, __VA_ARGS__)
#define strata__info(...) strata__log(STRATA_LOG_INFO, __VA_ARGS__)

/* ---- errors: record the detailed message, return the code ---- */
STRATA_HIDDEN int strata__fail(int code, const char *fmt, ...) STRATA_PRINTF(2, 3);

/* ---- environment ---- */
/* Parse unsigned env var `name` (decimal, optional K/M/G suffix) within
 * [min, max] (and a power of two if pow2). Unset: returns def silently.
 * Invalid: warns naming the variable and returns def. */
/* Where a launcher (Open MPI's mpirun) put this process: its rank and the
 * number of ranks, from the environment (0 and 1 outside mpirun, or with
 * STRATA_MPI=0). */
STRATA_HIDDEN int strata__launcher_rank(void);
STRATA_HIDDEN int strata__launcher_size(void);
STRATA_HIDDEN uint64_t strata__env_u64(const char *name, uint64_t def,
                                       uint64_t min, uint64_t max, int pow2);
/* As strata__env_u64, reading `alias` when `name` is unset (name wins). */
STRATA_HIDDEN uint64_t strata__env_u64_alias(const char *name, const char *alias,
                                             uint64_t def, uint64_t min, uint64_t max,
                                             int pow2);
/* Value of `name`, else of `alias` (may be NULL); *used names the one read.
 * NULL when neither is set or both are empty. */
STRATA_HIDDEN const char *strata__env_pick(const char *name, const char *alias,
                                           const char **used);
/* Log a warning the first time `key` is seen in this process. */
STRATA_HIDDEN void strata__warn_once(const char *key, const char *fmt, ...) STRATA_PRINTF(2, 3);

/* ---- configuration tables (one resolver for every level) ---- */
/* One row per field of a config struct: its field_mask bit, its name in
 * messages, environment variable (+ alias; NULL = explicit only), default,
 * range (and power of two), what 0 means (NULL = 0 has no special meaning),
 * and where it lives in the struct. */
typedef struct strata__cfg_field {
  uint64_t bit;
  const char *name, *env, *alias;
  uint64_t def, min, max;
  const char *zero;
  size_t offset;
  uint8_t wide, pow2;
} strata__cfg_field;

/* Fill every field of *out: the explicit value (in's field with its bit set
 * in in_mask; out of range -> EINVAL naming the field and its range), else
 * the environment (invalid -> one warning per process, default kept), else
 * the default. in may be NULL. Fields outside the table are not touched. */
STRATA_HIDDEN int strata__cfg_resolve(const strata__cfg_field *t, size_t n, const void *in,
                                      uint64_t in_mask, void *out);
STRATA_HIDDEN int strata__cfg_valid(const strata__cfg_field *f, uint64_t v);
/* The row of field_mask bit `bit`, or NULL. */
STRATA_HIDDEN const strata__cfg_field *strata__cfg_find(const strata__cfg_field *t, size_t n,
                                                        uint64_t bit);

/* ---- memory ---- */
/* Allocation wrappers; the test build can make the Nth next call fail. */
STRATA_HIDDEN void *strata__calloc(size_t n, size_t size);
STRATA_HIDDEN void strata__free(void *p);
/* Fault injection: fail the allocation after `n` more succeed (-1 = off). */
STRATA_HIDDEN void strata__alloc_fail_after(long n);
/* Make room for one more element in the growable array *arr of *cap
 * elements of `elem` bytes holding n: doubles the capacity (at least
 * min_cap) when full, keeping the contents. 0 or STRATA_ENOMEM (*arr kept). */
STRATA_HIDDEN int strata__array_grow(void *arr, size_t *cap, size_t n, size_t elem,
                                     size_t min_cap);
/* Reserve address space (MAP_NORESERVE, untouched pages cost nothing). */
STRATA_HIDDEN void *strata__reserve(size_t bytes);
STRATA_HIDDEN void strata__unreserve(void *p, size_t bytes);

/* Name of a new POSIX shm segment: "/strata-<pid>-<n>-<what>", plus
 * "-<tag>" when STRATA_SHM_TAG is set (letters and digits), so a test run
 * can find exactly the entries it created. */
STRATA_HIDDEN void strata__shm_name(char *buf, size_t len, const char *what);

/* An anonymous shared mapping of `bytes` (POSIX shm, unlinked at once, so
 * nothing is left in /dev/shm) that forked children inherit; NULL on error. */
STRATA_HIDDEN void *strata__shm_map(const char *tag, size_t bytes);
/* The same, keeping an fd of the segment in *keep_fd (to pass to another
 * process, which maps it with strata__shm_attach_fd). */
STRATA_HIDDEN void *strata__shm_map_fd(const char *tag, size_t bytes, int *keep_fd);
STRATA_HIDDEN void *strata__shm_attach_fd(int fd, size_t bytes);
/* A zeroed segment whose unique name (into name) stays linked, for other
 * processes to map by name; the caller unlinks it once they have. NULL (and
 * no name left) on failure. */
STRATA_HIDDEN void *strata__shm_map_named(const char *tag, size_t bytes, char *name, size_t nlen);
/* Unlink /dev/shm names left by strata processes that no longer exist. */
STRATA_HIDDEN void strata__shm_sweep_dead(void);
STRATA_HIDDEN void strata__shm_unmap(void *p, size_t bytes);

/* ---- JSON output (trace.c) ---- */
/* s as the contents of a JSON string (quotes, backslashes and control
 * characters escaped) in buf, truncated to fit; returns buf. */
STRATA_HIDDEN const char *strata__json_escape(const char *s, char *buf, size_t len);

/* ---- entry pools (pool.c) ---- */
/* Fixed-size entries in chunks of per_chunk; an entry's first field must be
 * a pointer (the free-list link). One owner thread. */
typedef struct strata__pool {
  void *free_list;
  size_t nfree, elem, per_chunk;
  void **chunks;
  size_t nchunks, chunk_cap;
} strata__pool;
STRATA_HIDDEN void strata__pool_init(strata__pool *p, size_t elem, size_t per_chunk);
STRATA_HIDDEN void strata__pool_destroy(strata__pool *p);
/* Make n entries available without allocating later: ENOSPC if that would
 * take more than cap entries in all, ENOMEM if memory runs out. */
STRATA_HIDDEN int strata__pool_reserve(strata__pool *p, size_t n, size_t cap);
STRATA_HIDDEN void *strata__pool_get(strata__pool *p); /* NULL if none is free */
STRATA_HIDDEN void strata__pool_put(strata__pool *p, void *e);

/* ---- threads ---- */
/* CPUs this process may run on (its affinity mask; at least 1). */
STRATA_HIDDEN uint32_t strata__cpu_count(void);
STRATA_HIDDEN int strata__thread_start(pthread_t *t, void *(*fn)(void *),
                                       void *arg, const char *name);
/* Join before the absolute deadline; STRATA_ETIMEDOUT if still running. */
STRATA_HIDDEN int strata__thread_join(pthread_t t, uint64_t deadline_ns);

#endif
