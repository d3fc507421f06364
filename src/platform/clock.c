/* clock.c - monotonic time and sleeping. */
#include <errno.h>
#include <time.h>

#include "platform/atomics.h"
#include "platform/platform_int.h"

uint64_t strata__now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The kernel's last tick (a few ms resolution, ~5x cheaper): for progress
 * stamps compared against budgets of milliseconds or more. Never ahead of
 * strata__now_ns(). */
uint64_t strata__coarse_res_ns(void) {
  static _Atomic uint64_t res; /* read once; 0 = not yet */
  uint64_t r = READ_ONCE(res);
  if (r == 0) {
    struct timespec ts = {0, 4000000};
    clock_getres(CLOCK_MONOTONIC_COARSE, &ts);
    r = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    WRITE_ONCE(res, r ? r : 1);
  }
  return r ? r : 1;
}

uint64_t strata__now_coarse_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void strata__sleep_ms(uint32_t ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

uint64_t strata__deadline_ms(uint32_t ms) {
  if (ms == 0) return UINT64_MAX;
  return strata__now_ns() + (uint64_t)ms * STRATA_NS_PER_MS;
}
