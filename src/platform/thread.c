/* thread.c - named thread start and deadline-bounded join. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <time.h>

#include "platform/platform_int.h"

int strata__thread_start(pthread_t *t, void *(*fn)(void *), void *arg,
                         const char *name) {
  int rc = pthread_create(t, NULL, fn, arg);
  if (rc != 0)
    return strata__fail(STRATA_ENOMEM, "cannot start thread %s: %s; lower the "
                        "number of scheduler threads or clusters", name, strerror(rc));
  char short_name[16];
  strncpy(short_name, name, sizeof(short_name) - 1);
  short_name[15] = '\0';
  pthread_setname_np(*t, short_name);
  return 0;
}

int strata__thread_join(pthread_t t, uint64_t deadline_ns) {
  if (deadline_ns == UINT64_MAX) return pthread_join(t, NULL) == 0 ? 0 : STRATA_EINVAL;
  /* pthread_timedjoin_np takes CLOCK_REALTIME: convert the remaining time. */
  uint64_t now = strata__now_ns();
  uint64_t left = deadline_ns > now ? deadline_ns - now : 0;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t abs_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec + left;
  ts.tv_sec = (time_t)(abs_ns / 1000000000ull);
  ts.tv_nsec = (long)(abs_ns % 1000000000ull);
  int rc = pthread_timedjoin_np(t, NULL, &ts);
  return rc == 0 ? 0 : STRATA_ETIMEDOUT;
}

uint32_t strata__cpu_count(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return 1;
  int n = CPU_COUNT(&set);
  return n > 0 ? (uint32_t)n : 1u;
}
