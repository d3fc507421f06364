/* deps.c - the level engine's hashed dependency index (SPEC §3, as the chip
 * tensormap): entries (buffer base, [start, end), task id, read|write)
 * hashed by base. A lookup walks one bucket, pruning entries of finished
 * tasks; a write drops the entries it covers. So the cost of a submit
 * depends on the live accesses of the buffers it names, not on the size of
 * the graph. Tasks retire while the run goes on (tasks.c): an entry of a
 * retired task (id below the floor) is never dereferenced, and each
 * retirement sweeps one bucket, so entries of buffers nobody names again
 * are dropped too. Parent-only: the event loop's thread owns it. */
#include <string.h>

#include "level/level_int.h"

#define DX_BUCKETS 4096u
#define DX_CHUNK 1024u

static void entry_put(strata__depindex *d, strata__dentry *e) { strata__pool_put(&d->pool, e); }

int strata__deps_init(strata__depindex *d) {
  memset(d, 0, sizeof(*d));
  d->floor = 1;
  strata__pool_init(&d->pool, sizeof(strata__dentry), DX_CHUNK);
  d->buckets = strata__calloc(DX_BUCKETS, sizeof(*d->buckets));
  if (!d->buckets) return STRATA_ENOMEM;
  d->nbuckets = DX_BUCKETS;
  return 0;
}

void strata__deps_destroy(strata__depindex *d) {
  strata__pool_destroy(&d->pool);
  strata__free(d->buckets);
  strata__free(d->failed.slot);
  memset(d, 0, sizeof(*d));
}

/* ---- retired tasks that failed ------------------------------------------------------- */
static size_t id_slot(const strata__idset *s, uint64_t id) {
  size_t i = (size_t)((id * 0x9E3779B97F4A7C15ull) >> 17) & (s->cap - 1);
  while (s->slot[i] && s->slot[i] != id) i = (i + 1) & (s->cap - 1);
  return i;
}

static int id_grow(strata__idset *s) {
  strata__idset g = {strata__calloc(s->cap ? 2 * s->cap : 64, sizeof(uint64_t)),
                     s->cap ? 2 * s->cap : 64, 0};
  if (!g.slot) return STRATA_ENOMEM;
  for (size_t i = 0; i < s->cap; i++)
    if (s->slot[i]) g.slot[id_slot(&g, s->slot[i])] = s->slot[i], g.n++;
  strata__free(s->slot);
  *s = g;
  return 0;
}

int strata__deps_note_failed(strata__depindex *d, uint64_t id) {
  strata__idset *s = &d->failed;
  if (2 * (s->n + 1) > s->cap && id_grow(s)) return STRATA_ENOMEM;
  size_t i = id_slot(s, id);
  s->n += !s->slot[i];
  s->slot[i] = id;
  return 0;
}

int strata__deps_failed(const strata__depindex *d, uint64_t id) {
  return d->failed.cap && d->failed.slot[id_slot(&d->failed, id)] == id;
}

int strata__deps_reserve(strata__depindex *d, size_t n) {
  return strata__pool_reserve(&d->pool, n, SIZE_MAX) ? STRATA_ENOMEM : 0;
}

static strata__dentry **bucket(strata__depindex *d, uintptr_t base) {
  uintptr_t h = (base >> 6) * 0x9E3779B97F4A7C15ull;
  return &d->buckets[(h >> 20) & (d->nbuckets - 1)];
}

/* A finished task's accesses no longer order anything, except a FAILED
 * one's: its late consumers must still be found, to be poisoned (a retired
 * one through the failed set). */
static int live(const strata__depindex *d, const strata__dentry *e) {
  if (e->id < d->floor) return strata__deps_failed(d, e->id);
  return e->task->state < STRATA_NT_DONE || e->task->state == STRATA_NT_FAILED;
}

static int conflicts(const strata__dentry *e, uintptr_t base, uintptr_t s, uintptr_t end,
                     int write) {
  return e->base == base && e->start < end && s < e->end && (write || e->write);
}

int strata__deps_lookup(strata__depindex *d, const strata_tensor *t, int write, uint64_t mark,
                        strata__ltask ***out, size_t *n, size_t *cap, int *poisoned) {
  uintptr_t base = (uintptr_t)t->base, s = (uintptr_t)t->data, end = s + t->bytes;
  strata__dentry **pp = bucket(d, base);
  while (*pp) {
    strata__dentry *e = *pp;
    if (!live(d, e)) {
      *pp = e->next;
      entry_put(d, e);
      continue;
    }
    pp = &e->next;
    if (!conflicts(e, base, s, end, write)) continue;
    if (e->id < d->floor) { /* a retired producer that failed */
      *poisoned = 1;
      continue;
    }
    if (e->task->mark == mark) continue;
    if (strata__array_grow(out, cap, *n, sizeof(**out), 16)) return -1;
    e->task->mark = mark;
    (*out)[(*n)++] = e->task;
  }
  return 0;
}

void strata__deps_record(strata__depindex *d, const strata_tensor *t, int write,
                         strata__ltask *task) {
  uintptr_t base = (uintptr_t)t->base, s = (uintptr_t)t->data, end = s + t->bytes;
  strata__dentry **head = bucket(d, base);
  for (strata__dentry **pp = head; write && *pp;) { /* drop entries this write covers */
    strata__dentry *e = *pp;
    if (e->base == base && e->start >= s && e->end <= end && e->id != task->id) {
      *pp = e->next;
      entry_put(d, e);
    } else {
      pp = &e->next;
    }
  }
  strata__dentry *e = strata__pool_get(&d->pool);
  *e = (strata__dentry){*head, base, s, end, task->id, task, write};
  *head = e;
}

void strata__deps_retire(strata__depindex *d, uint64_t floor) {
  d->floor = floor;
  strata__dentry **pp = &d->buckets[d->sweep++ & (d->nbuckets - 1)];
  while (*pp) {
    strata__dentry *e = *pp;
    if (e->id < floor && !strata__deps_failed(d, e->id)) {
      *pp = e->next;
      entry_put(d, e);
    } else {
      pp = &e->next;
    }
  }
}
