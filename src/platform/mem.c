/* mem.c - heap allocation with fault injection, address-space
 * reservation for device arenas (reserve, don't touch), and the names of
 * POSIX shared-memory segments. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "platform/atomics.h"
#include "platform/platform_int.h"

static _Atomic long fail_after = -1; /* allocations left before a failure */

void strata__alloc_fail_after(long n) { WRITE_ONCE(fail_after, n); }

static int injected_failure(void) {
  long left = READ_ONCE(fail_after);
  while (left >= 0) {
    if (cas(&fail_after, &left, left - 1)) return left == 0;
  }
  return 0;
}

void *strata__calloc(size_t n, size_t size) {
  if (injected_failure()) return NULL;
  return calloc(n, size);
}

void strata__free(void *p) { free(p); }

int strata__array_grow(void *arr, size_t *cap, size_t n, size_t elem, size_t min_cap) {
  if (n < *cap) return 0;
  size_t ncap = *cap ? *cap * 2 : min_cap;
  void *old, *p = strata__calloc(ncap, elem);
  if (!p) return STRATA_ENOMEM;
  memcpy(&old, arr, sizeof(old)); /* the caller's T* read as bytes: no aliasing cast */
  if (n) memcpy(p, old, n * elem);
  strata__free(old);
  memcpy(arr, &p, sizeof(p));
  *cap = ncap;
  return 0;
}

void *strata__reserve(size_t bytes) {
  if (injected_failure()) return NULL;
  void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

void strata__unreserve(void *p, size_t bytes) {
  if (p) munmap(p, bytes);
}

/* STRATA_SHM_TAG, letters and digits only (at most 16), or "". */
static void shm_tag(char *tag, size_t len) {
  const char *s = getenv("STRATA_SHM_TAG");
  size_t n = 0;
  for (; s && *s && n + 1 < len && n < 16; s++)
    if (isalnum((unsigned char)*s)) tag[n++] = *s;
  tag[n] = '\0';
}

void strata__shm_name(char *buf, size_t len, const char *what) {
  static _Atomic unsigned counter;
  char tag[17];
  shm_tag(tag, sizeof(tag));
  snprintf(buf, len, "/strata-%d-%u-%s%s%s", (int)getpid(), fetch_add_relaxed(&counter, 1),
           what, tag[0] ? "-" : "", tag);
}

/* Each segment is unlinked right after it is mapped: forked children
 * inherit the mapping, and no /dev/shm entry can outlive its creator,
 * whatever kills it. */
/* A new, zeroed segment named `name` (linked), mapped; its fd in *fd. */
static void *shm_create(const char *name, size_t bytes, int *fd) {
  *fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
  if (*fd < 0) return NULL;
  void *p = ftruncate(*fd, (off_t)bytes) == 0
                ? mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, *fd, 0)
                : MAP_FAILED;
  if (p != MAP_FAILED) return p;
  close(*fd);
  shm_unlink(name);
  return NULL;
}

void *strata__shm_map_fd(const char *tag, size_t bytes, int *keep_fd) {
  char name[96];
  int fd;
  strata__shm_name(name, sizeof(name), tag);
  void *p = shm_create(name, bytes, &fd);
  if (!p) return NULL;
  shm_unlink(name);
  if (keep_fd) *keep_fd = fd;
  else close(fd);
  return p;
}

void *strata__shm_map_named(const char *tag, size_t bytes, char *name, size_t nlen) {
  int fd;
  strata__shm_name(name, nlen, tag);
  void *p = shm_create(name, bytes, &fd);
  if (p) close(fd);
  return p;
}

void *strata__shm_map(const char *tag, size_t bytes) { return strata__shm_map_fd(tag, bytes, NULL); }

void *strata__shm_attach_fd(int fd, size_t bytes) {
  void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
  return p == MAP_FAILED ? NULL : p;
}

void strata__shm_unmap(void *p, size_t bytes) {
  if (p) munmap(p, bytes);
}


/* A process killed while a segment's name was still linked (a domain whose
 * members have not all mapped it yet) leaves the name behind: unlink the
 * names of processes that no longer exist. Only "strata-<pid>-" names whose
 * pid is gone (ESRCH) are touched. STRATA_SHM_SWEEP=0 turns it off (the test
 * suite does, so that its leak checks see what a run left). */
void strata__shm_sweep_dead(void) {
  if (strata__env_u64("STRATA_SHM_SWEEP", 1, 0, 1, 0) == 0) return; /* tests that count leaks */
  DIR *d = opendir("/dev/shm");
  for (struct dirent *e; d && (e = readdir(d));) {
    char *end;
    if (strncmp(e->d_name, "strata-", 7) != 0) continue;
    long pid = strtol(e->d_name + 7, &end, 10);
    if (end == e->d_name + 7 || *end != '-' || pid <= 0) continue;
    if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
      char name[300];
      snprintf(name, sizeof(name), "/%s", e->d_name);
      shm_unlink(name);
    }
  }
  if (d) closedir(d);
}
