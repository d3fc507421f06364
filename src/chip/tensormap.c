/* tensormap.c - dependency inference from tensor accesses (orchestrator
 * thread only, so no locking). Entries record "task T reads/writes bytes
 * [start, end) of buffer base"; they hash by base, so views of one buffer
 * meet in one bucket and are compared by address-range overlap.
 *
 * A read depends on live overlapping writes (RAW); a write depends on live
 * overlapping reads and writes (WAR, WAW). A new write drops the entries it
 * covers entirely: ordering through the new writer is transitive. Entries of
 * completed or recycled tasks are pruned as buckets are walked; entries of
 * FAILED tasks stay until their slot is recycled, to poison late consumers.
 */
#include <string.h>

#include "chip/chip_int.h"

#define TM_CHUNK 1024 /* entries per allocated block */

int strata__tmap_init(strata__tensormap *m, uint32_t nbuckets, size_t cap) {
  memset(m, 0, sizeof(*m));
  strata__pool_init(&m->pool, sizeof(strata__tm_entry), TM_CHUNK);
  m->buckets = strata__calloc(nbuckets, sizeof(*m->buckets));
  if (!m->buckets) return STRATA_ENOMEM;
  m->nbuckets = nbuckets;
  m->cap = cap;
  return 0;
}

void strata__tmap_destroy(strata__tensormap *m) {
  strata__pool_destroy(&m->pool);
  strata__free(m->buckets);
  memset(m, 0, sizeof(*m));
}

static void entry_put(strata__tensormap *m, strata__tm_entry *e) { strata__pool_put(&m->pool, e); }

void strata__tmap_reset(strata__tensormap *m) {
  for (uint32_t b = 0; b < m->nbuckets; b++) {
    strata__tm_entry *e = m->buckets[b];
    while (e) {
      strata__tm_entry *next = e->next;
      entry_put(m, e);
      e = next;
    }
    m->buckets[b] = NULL;
  }
}

static strata__tm_entry **bucket(strata__tensormap *m, uintptr_t base) {
  uintptr_t h = (base >> 6) * 0x9E3779B97F4A7C15ull;
  return &m->buckets[(h >> 20) & (m->nbuckets - 1)];
}

/* Live: the slot still holds the recorded task, unfinished or FAILED (a
 * failed producer must still be found, so its late consumers are poisoned). */
static int entry_live(const strata__tm_entry *e) {
  if (READ_ONCE(e->task->id) != e->id) return 0;
  uint32_t st = load_acquire(&e->task->state); /* pairs with task_finish */
  return st < STRATA_TS_COMPLETED || READ_ONCE(e->task->failed);
}

static int add_prod(strata__task **prod, int n, int cap, strata__task *t) {
  for (int i = 0; i < n; i++)
    if (prod[i] == t) return n;
  if (n >= cap) return -1;
  prod[n] = t;
  return n + 1;
}

int strata__tmap_lookup(strata__tensormap *m, const strata_tensor *t, int write,
                        strata__task **prod, int n, int cap) {
  uintptr_t base = (uintptr_t)t->base, s = (uintptr_t)t->data, end = s + t->bytes;
  strata__tm_entry **pp = bucket(m, base);
  while (*pp && n >= 0) {
    strata__tm_entry *e = *pp;
    if (!entry_live(e)) {
      *pp = e->next;
      entry_put(m, e);
      continue;
    }
    if (e->base == base && e->start < end && s < e->end && (write || e->write))
      n = add_prod(prod, n, cap, e->task);
    pp = &e->next;
  }
  return n;
}

/* Return every stale entry of every bucket to the free list. */
static void sweep(strata__tensormap *m) {
  for (uint32_t b = 0; b < m->nbuckets; b++)
    for (strata__tm_entry **pp = &m->buckets[b]; *pp;) {
      strata__tm_entry *e = *pp;
      if (entry_live(e)) {
        pp = &e->next;
        continue;
      }
      *pp = e->next;
      entry_put(m, e);
    }
}

int strata__tmap_reserve(strata__tensormap *m, size_t n) {
  if (m->pool.nfree < n && (m->pool.nchunks + 1) * TM_CHUNK > m->cap) sweep(m);
  int rc = strata__pool_reserve(&m->pool, n, m->cap);
  return rc == STRATA_ENOSPC ? STRATA_TENSORMAP_OVERFLOW : rc;
}

int strata__tmap_record(strata__tensormap *m, const strata_tensor *t, int write,
                        strata__task *task, uint64_t id) {
  uintptr_t base = (uintptr_t)t->base, s = (uintptr_t)t->data, end = s + t->bytes;
  strata__tm_entry **head = bucket(m, base);
  if (write) { /* drop entries this write covers entirely */
    strata__tm_entry **pp = head;
    while (*pp) {
      strata__tm_entry *e = *pp;
      if (e->base == base && e->start >= s && e->end <= end) {
        *pp = e->next;
        entry_put(m, e);
      } else {
        pp = &e->next;
      }
    }
  }
  if (strata__tmap_reserve(m, 1) != 0) return STRATA_ENOMEM;
  strata__tm_entry *e = strata__pool_get(&m->pool);
  *e = (strata__tm_entry){*head, base, s, end, task, id, write};
  *head = e;
  return 0;
}
