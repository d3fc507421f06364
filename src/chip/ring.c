/* ring.c - the device arena and its per-depth rings: task window, output
 * heap and dependency pool. All indices are free-running and owned by the
 * orchestrator, which allocates at submit and retires CONSUMED tasks in
 * order. A full ring makes the orchestrator wait (back-pressure); a wait
 * with no progress for ring_wait_timeout_ms fails with a dump of what
 * blocks. Blocks never straddle the end of the heap or pool: they wrap.
 */
#include <stdio.h>
#include <string.h>

#include "chip/chip_int.h"

#define STRATA_PAGE 4096u
#define STRATA_ID_RING_SHIFT 56

static size_t page_round(size_t n) { return (n + STRATA_PAGE - 1) & ~(size_t)(STRATA_PAGE - 1); }

static size_t ring_bytes(const strata_chip_config *c) {
  return page_round((size_t)c->task_window * sizeof(strata__task)) +
         page_round(c->heap_bytes) + page_round((size_t)c->dep_pool * sizeof(strata__dep));
}

int strata__rings_create(strata_chip *chip) {
  const strata_chip_config *c = &chip->cfg;
  chip->arena_bytes = ring_bytes(c) * STRATA_NUM_RINGS;
  chip->arena = strata__reserve(chip->arena_bytes);
  if (!chip->arena) return STRATA_ENOMEM;
  uint8_t *p = chip->arena;
  for (uint32_t r = 0; r < STRATA_NUM_RINGS; r++) {
    strata__ring *R = &chip->rings[r];
    R->tasks = (strata__task *)(void *)p;
    R->window = c->task_window;
    p += page_round((size_t)c->task_window * sizeof(strata__task));
    R->heap = p;
    R->heap_size = c->heap_bytes;
    p += page_round(c->heap_bytes);
    R->deps = (strata__dep *)(void *)p;
    R->dep_cap = c->dep_pool;
    p += page_round((size_t)c->dep_pool * sizeof(strata__dep));
  }
  return 0;
}

void strata__rings_destroy(strata_chip *chip) {
  strata__unreserve(chip->arena, chip->arena_bytes);
  chip->arena = NULL;
}

void strata__rings_reset(strata_chip *chip) {
  for (uint32_t r = 0; r < STRATA_NUM_RINGS; r++) {
    strata__ring *R = &chip->rings[r];
    WRITE_ONCE(R->head, 0);
    WRITE_ONCE(R->tail, 0);
    R->heap_head = R->heap_tail = R->dep_head = R->dep_tail = 0;
  }
}

strata__task *strata__task_by_id(strata_chip *chip, uint64_t id) {
  uint64_t r = id >> STRATA_ID_RING_SHIFT;
  uint64_t seq = (id & ((1ull << STRATA_ID_RING_SHIFT) - 1)) - 1;
  if (id == 0 || r >= STRATA_NUM_RINGS) return NULL;
  strata__ring *R = &chip->rings[r];
  return &R->tasks[seq & (R->window - 1)];
}

uint64_t strata__ring_retire(strata_chip *chip, uint32_t r) {
  strata__ring *R = &chip->rings[r];
  uint64_t tail = READ_ONCE(R->tail), head = READ_ONCE(R->head), n = 0;
  while (tail < head) {
    strata__task *t = &R->tasks[tail & (R->window - 1)];
    /* pairs with store_release of CONSUMED in strata__task_unref */
    if (load_acquire(&t->state) != STRATA_TS_CONSUMED) break;
    R->heap_tail = t->heap_end;
    R->dep_tail = t->dep_end;
    tail++;
    n++;
  }
  WRITE_ONCE(R->tail, tail);
  return n;
}

/* Free-running start of an n-unit block at head in a ring of `size` units,
 * wrapping to the next lap instead of straddling the end. */
static uint64_t place(uint64_t head, uint64_t size, uint64_t n) {
  uint64_t pos = head % size;
  return (n > 0 && pos + n > size) ? head + (size - pos) : head;
}

typedef struct alloc_req {
  uint64_t heap_bytes, ndeps;
} alloc_req;

static int fits_slot(const strata__ring *R, const alloc_req *q) {
  (void)q;
  return READ_ONCE(R->head) - READ_ONCE(R->tail) < R->window;
}

static int fits_heap(const strata__ring *R, const alloc_req *q) {
  return place(R->heap_head, R->heap_size, q->heap_bytes) + q->heap_bytes -
             R->heap_tail <= R->heap_size;
}

static int fits_deps(const strata__ring *R, const alloc_req *q) {
  return place(R->dep_head, R->dep_cap, q->ndeps) + q->ndeps - R->dep_tail <= R->dep_cap;
}

/* The oldest task is finished and only its (open) scope still holds it: the
 * orchestrator, waiting here, is the only one who could end that scope. */
static strata__task *scope_blocker(strata__ring *R) {
  uint64_t tail = READ_ONCE(R->tail);
  if (tail == READ_ONCE(R->head)) return NULL;
  strata__task *t = &R->tasks[tail & (R->window - 1)];
  uint32_t st = load_acquire(&t->state); /* pairs with release in task_finish */
  if ((st == STRATA_TS_COMPLETED || st == STRATA_TS_FAILED) && t->scope_held &&
      load_acquire(&t->refs) == 1)
    return t;
  return NULL;
}

static int wait_failure(strata_chip *chip, uint32_t r, int code, const char *what) {
  char dump[384];
  strata__ring *R = &chip->rings[r];
  strata__task *b = scope_blocker(R);
  strata__dump_blocking(chip, dump, sizeof(dump));
  if (b)
    return strata__orch_latch(chip, STRATA_SCOPE_DEADLOCK,
                              "%s of ring %u is full and its oldest task #%llx has "
                              "finished but is held by its still-open scope; end the "
                              "scope earlier or raise the ring size. %s", what, r,
                              (unsigned long long)READ_ONCE(b->id), dump);
  return strata__orch_latch(chip, code, "%s of ring %u stayed full for %u ms with no "
                            "task retiring; raise it or check the blocking tasks. %s",
                            what, r, chip->cfg.ring_wait_timeout_ms, dump);
}

typedef int (*fits_fn)(const strata__ring *, const alloc_req *);

/* A full task window is refilled in batches: waking the orchestrator for
 * every retirement would cost a context switch per task. Waits for heap or
 * pool space wake on every consumption (one retirement may be enough). */
static uint64_t wake_batch(const strata__ring *R) {
  uint64_t b = R->window / 8;
  return b < 1 ? 1 : (b > 64 ? 64 : b);
}

/* Back-pressure: retire and wait until `fits`, with a no-progress deadline. */
static int ring_wait_loop(strata_chip *chip, uint32_t r, fits_fn fits, const alloc_req *q,
                     int code, const char *what) {
  strata__ring *R = &chip->rings[r];
  uint64_t deadline = strata__deadline_ms(chip->cfg.ring_wait_timeout_ms);
  uint64_t batch = fits == fits_slot ? wake_batch(R) : 1;
  while (!fits(R, q)) {
    uint32_t seen = strata__event_read(&chip->orch_ev);
    WRITE_ONCE(chip->orch_wake_at, READ_ONCE(chip->consumed) + batch);
    smp_mb(); /* pairs with smp_mb in task_unref: wake_at vs consumed */
    if (strata__ring_retire(chip, r) > 0) {
      deadline = strata__deadline_ms(chip->cfg.ring_wait_timeout_ms);
      continue;
    }
    if (strata__run_cancelled(chip)) return STRATA_ECANCELED;
    uint64_t now = strata__now_ns();
    if (scope_blocker(R) || now >= deadline) return wait_failure(chip, r, code, what);
    uint64_t nap = now + 50 * STRATA_NS_PER_MS;
    strata__event_wait(&chip->orch_ev, seen, nap < deadline ? nap : deadline);
  }
  return 0;
}

static int ring_wait(strata_chip *chip, uint32_t r, fits_fn fits, const alloc_req *q,
                     int code, const char *what) {
  if (fits(&chip->rings[r], q)) return 0;
  strata__orch_block(chip, STRATA_ORCH_BLOCKED_RING);
  int rc = ring_wait_loop(chip, r, fits, q, code, what);
  strata__orch_block(chip, STRATA_ORCH_RUNNING);
  WRITE_ONCE(chip->orch_wake_at, UINT64_MAX);
  return rc;
}

static int check_never_fits(strata_chip *chip, uint32_t r, const alloc_req *q) {
  const strata__ring *R = &chip->rings[r];
  if (q->heap_bytes > R->heap_size)
    return strata__orch_latch(chip, STRATA_HEAP_RING_DEADLOCK, "task outputs need "
                              "%llu B but the heap ring holds %llu B; raise PTO2_RING_HEAP",
                              (unsigned long long)q->heap_bytes,
                              (unsigned long long)R->heap_size);
  if (q->ndeps > R->dep_cap)
    return strata__orch_latch(chip, STRATA_DEP_POOL_OVERFLOW, "task needs %llu "
                              "dependency entries but the pool holds %llu; raise "
                              "PTO2_RING_DEP_POOL", (unsigned long long)q->ndeps,
                              (unsigned long long)R->dep_cap);
  return 0;
}

static strata__task *commit_slot(strata__ring *R, uint32_t r) {
  uint64_t seq = READ_ONCE(R->head);
  strata__task *t = &R->tasks[seq & (R->window - 1)];
  WRITE_ONCE(t->id, ((uint64_t)r << STRATA_ID_RING_SHIFT) | (seq + 1));
  WRITE_ONCE(t->state, STRATA_TS_PENDING);
  WRITE_ONCE(t->fanin, 1); /* the orchestrator's wiring guard */
  WRITE_ONCE(t->refs, 1);  /* the completion reference */
  WRITE_ONCE(t->poisoned, 0);
  WRITE_ONCE(t->failed, 0);
  WRITE_ONCE(t->fanout, NULL);
  WRITE_ONCE(t->core, -1);
  t->ring = (uint8_t)r;
  t->nprod = 0;
  t->scope_held = 0;
  t->held = 0;
  WRITE_ONCE(R->head, seq + 1);
  return t;
}

int strata__ring_alloc(strata_chip *chip, uint32_t r, uint64_t heap_bytes,
                       uint32_t ndeps, strata__task **t, uint8_t **heap,
                       strata__dep **deps) {
  strata__ring *R = &chip->rings[r];
  alloc_req q = {heap_bytes, ndeps};
  int rc = check_never_fits(chip, r, &q);
  if (rc == 0) rc = ring_wait(chip, r, fits_slot, &q, STRATA_FLOW_CONTROL_DEADLOCK, "task window");
  if (rc == 0) rc = ring_wait(chip, r, fits_heap, &q, STRATA_HEAP_RING_DEADLOCK, "heap ring");
  if (rc == 0) rc = ring_wait(chip, r, fits_deps, &q, STRATA_DEP_POOL_OVERFLOW, "dep pool");
  if (rc != 0) return rc;
  uint64_t hstart = place(R->heap_head, R->heap_size, heap_bytes);
  uint64_t dstart = place(R->dep_head, R->dep_cap, ndeps);
  R->heap_head = hstart + heap_bytes;
  R->dep_head = dstart + ndeps;
  *heap = heap_bytes ? R->heap + (hstart % R->heap_size) : NULL;
  *deps = R->deps + (ndeps ? dstart % R->dep_cap : 0);
  *t = commit_slot(R, r);
  (*t)->heap_end = R->heap_head;
  (*t)->dep_end = R->dep_head;
  return 0;
}
