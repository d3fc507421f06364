/* tensormap.c - dependency inference from tensor accesses (orchestrator
 * thread only, so no locking).
 *
 * DESIGN: an interval index per buffer. Buffers hash by base; each holds a
 * treap of byte ranges ordered by (start, end) and augmented with the
 * largest end in each subtree, so finding the ranges that overlap an access
 * costs O(log ranges + overlapping ones), not O(accesses of the buffer).
 * A range keeps the last write that covered it and the reads since.
 *
 * A read depends on the overlapping ranges' writers (RAW); a write on their
 * writers and readers (WAR, WAW). Recording a write drops what it supersedes
 * (ordering through the new writer is transitive): ranges it covers entirely
 * are emptied, ranges it overlaps on one side are trimmed to the part it
 * leaves; ranges that contain it with bytes on both sides are kept whole
 * (extra, redundant edges, never missing ones). Accesses of completed or
 * recycled tasks are pruned as ranges are visited; FAILED tasks stay until
 * their slot is recycled, to poison late consumers.
 */
#include <string.h>

#include "chip/chip_int.h"

#define TM_CHUNK 1024   /* entries per allocated block */
#define TM_BATCH 64     /* ranges handled per pass of a write */

int strata__tmap_init(strata__tensormap *m, uint32_t nbuckets, size_t cap) {
  memset(m, 0, sizeof(*m));
  strata__pool_init(&m->accs, sizeof(strata__tm_acc), TM_CHUNK);
  strata__pool_init(&m->ranges, sizeof(strata__tm_range), TM_CHUNK);
  strata__pool_init(&m->bufs, sizeof(strata__tm_buf), TM_CHUNK);
  m->buckets = strata__calloc(nbuckets, sizeof(*m->buckets));
  if (!m->buckets) return STRATA_ENOMEM;
  m->nbuckets = nbuckets;
  m->cap = cap;
  m->seed = 0x9E3779B9u;
  return 0;
}

void strata__tmap_destroy(strata__tensormap *m) {
  strata__pool_destroy(&m->accs);
  strata__pool_destroy(&m->ranges);
  strata__pool_destroy(&m->bufs);
  strata__free(m->buckets);
  memset(m, 0, sizeof(*m));
}

/* ---- accesses ------------------------------------------------------------ */
/* Live: the slot still holds the recorded task, unfinished or FAILED (a
 * failed producer must still be found, so its late consumers are poisoned). */
static int acc_live(const strata__tm_acc *a) {
  if (READ_ONCE(a->task->id) != a->id) return 0;
  uint32_t st = load_acquire(&a->task->state); /* pairs with task_finish */
  return st < STRATA_TS_COMPLETED || READ_ONCE(a->task->failed);
}

static void acc_free_list(strata__tensormap *m, strata__tm_acc *a) {
  while (a) {
    strata__tm_acc *next = a->next;
    strata__pool_put(&m->accs, a);
    a = next;
  }
}

static void prune_list(strata__tensormap *m, strata__tm_acc **pp) {
  while (*pp) {
    strata__tm_acc *a = *pp;
    if (acc_live(a)) {
      pp = &a->next;
      continue;
    }
    *pp = a->next;
    strata__pool_put(&m->accs, a);
  }
}

/* Drop the range's stale accesses; 1 if nothing live is left. */
static int range_prune(strata__tensormap *m, strata__tm_range *r) {
  if (r->writer && !acc_live(r->writer)) {
    strata__pool_put(&m->accs, r->writer);
    r->writer = NULL;
  }
  prune_list(m, &r->readers);
  return !r->writer && !r->readers;
}

static void range_clear(strata__tensormap *m, strata__tm_range *r) {
  acc_free_list(m, r->writer);
  acc_free_list(m, r->readers);
  r->writer = NULL;
  r->readers = NULL;
}

/* ---- treap of ranges ------------------------------------------------------ */
static uintptr_t maxend(const strata__tm_range *r) { return r ? r->maxend : 0; }

static void fix(strata__tm_range *r) {
  uintptr_t a = maxend(r->left), b = maxend(r->right), e = r->end;
  r->maxend = a > b ? (a > e ? a : e) : (b > e ? b : e);
}

static int before(const strata__tm_range *a, const strata__tm_range *b) {
  if (a->start != b->start) return a->start < b->start;
  if (a->end != b->end) return a->end < b->end;
  return (uintptr_t)a < (uintptr_t)b;
}

static strata__tm_range *rot_right(strata__tm_range *r) {
  strata__tm_range *l = r->left;
  r->left = l->right;
  l->right = r;
  fix(r);
  fix(l);
  return l;
}

static strata__tm_range *rot_left(strata__tm_range *r) {
  strata__tm_range *x = r->right;
  r->right = x->left;
  x->left = r;
  fix(r);
  fix(x);
  return x;
}

static strata__tm_range *tr_insert(strata__tm_range *root, strata__tm_range *n) {
  if (!root) {
    n->left = n->right = NULL;
    fix(n);
    return n;
  }
  if (before(n, root)) {
    root->left = tr_insert(root->left, n);
    if (root->left->prio > root->prio) return rot_right(root);
  } else {
    root->right = tr_insert(root->right, n);
    if (root->right->prio > root->prio) return rot_left(root);
  }
  fix(root);
  return root;
}

static strata__tm_range *tr_merge(strata__tm_range *a, strata__tm_range *b) {
  if (!a || !b) return a ? a : b;
  if (a->prio > b->prio) {
    a->right = tr_merge(a->right, b);
    fix(a);
    return a;
  }
  b->left = tr_merge(a, b->left);
  fix(b);
  return b;
}

static strata__tm_range *tr_remove(strata__tm_range *root, strata__tm_range *n) {
  if (!root) return NULL;
  if (root == n) return tr_merge(n->left, n->right);
  if (before(n, root))
    root->left = tr_remove(root->left, n);
  else
    root->right = tr_remove(root->right, n);
  fix(root);
  return root;
}

/* Up to cap ranges overlapping [s, e) into out[]; with skip_outer, ranges
 * that contain [s, e) with bytes on both sides are left out. */
typedef struct hits {
  strata__tm_range **r;
  int n, cap, skip_outer;
} hits;

static void tr_overlaps(strata__tm_range *r, uintptr_t s, uintptr_t e, hits *h) {
  if (!r || r->maxend <= s || h->n >= h->cap) return;
  tr_overlaps(r->left, s, e, h);
  if (r->start >= e || h->n >= h->cap) return;
  if (r->end > s && !(h->skip_outer && r->start < s && r->end > e)) h->r[h->n++] = r;
  tr_overlaps(r->right, s, e, h);
}

static strata__tm_range *tr_find(strata__tm_range *r, uintptr_t s, uintptr_t e) {
  while (r && (r->start != s || r->end != e))
    r = (s < r->start || (s == r->start && e < r->end)) ? r->left : r->right;
  return r;
}

static strata__tm_range *range_new(strata__tensormap *m, uintptr_t s, uintptr_t e) {
  strata__tm_range *r = strata__pool_get(&m->ranges);
  m->seed ^= m->seed << 13; /* xorshift32: treap priorities */
  m->seed ^= m->seed >> 17;
  m->seed ^= m->seed << 5;
  *r = (strata__tm_range){NULL, NULL, s, e, e, m->seed, NULL, NULL};
  return r;
}

/* ---- buffers -------------------------------------------------------------- */
static strata__tm_buf **bucket(strata__tensormap *m, uintptr_t base) {
  uintptr_t h = (base >> 6) * 0x9E3779B97F4A7C15ull;
  return &m->buckets[(h >> 20) & (m->nbuckets - 1)];
}

/* A buffer with one range and nothing live left in it goes back to the pool. */
static int buf_dead(strata__tensormap *m, strata__tm_buf *b) {
  strata__tm_range *r = b->root;
  if (r && (r->left || r->right || !range_prune(m, r))) return 0;
  if (r) strata__pool_put(&m->ranges, r);
  return 1;
}

/* The buffer's record (created if `create`), pruning dead ones on the way. */
static strata__tm_buf *buf_find(strata__tensormap *m, uintptr_t base, int create) {
  strata__tm_buf **pp = bucket(m, base), *found = NULL;
  while (*pp) {
    strata__tm_buf *b = *pp;
    if (b->base == base) found = b;
    if (b->base != base && buf_dead(m, b)) {
      *pp = b->next;
      strata__pool_put(&m->bufs, b);
      continue;
    }
    pp = &b->next;
  }
  if (found || !create) return found;
  found = strata__pool_get(&m->bufs);
  *found = (strata__tm_buf){*bucket(m, base), base, NULL};
  *bucket(m, base) = found;
  return found;
}

/* ---- lookups ---------------------------------------------------------------- */
static int add_prod(strata__task **prod, int n, int cap, strata__task *t) {
  for (int i = 0; i < n; i++)
    if (prod[i] == t) return n;
  if (n >= cap) return -1;
  prod[n] = t;
  return n + 1;
}

static int range_conflicts(const strata__tm_range *r, int write, strata__task **prod, int n,
                           int cap) {
  if (r->writer) n = add_prod(prod, n, cap, r->writer->task);
  for (const strata__tm_acc *a = write ? r->readers : NULL; a && n >= 0; a = a->next)
    n = add_prod(prod, n, cap, a->task);
  return n;
}

/* One pass over the ranges overlapping [s, e): conflicts into prod[];
 * empty ranges leave the tree (*removed counts them). */
static int lookup_pass(strata__tensormap *m, strata__tm_buf *b, uintptr_t s, uintptr_t e,
                       int write, strata__task **prod, int n, int cap, int *removed) {
  strata__tm_range *found[TM_BATCH];
  hits h = {found, 0, TM_BATCH, 0};
  tr_overlaps(b->root, s, e, &h);
  for (int i = 0; i < h.n && n >= 0; i++) {
    if (range_prune(m, found[i])) {
      b->root = tr_remove(b->root, found[i]);
      strata__pool_put(&m->ranges, found[i]);
      ++*removed;
      continue;
    }
    n = range_conflicts(found[i], write, prod, n, cap);
  }
  return h.n == TM_BATCH && n >= 0 ? -2 : n; /* -2: the batch was full */
}

int strata__tmap_lookup(strata__tensormap *m, const strata_tensor *t, int write,
                        strata__task **prod, int n, int cap) {
  uintptr_t s = (uintptr_t)t->data, e = s + t->bytes;
  strata__tm_buf *b = buf_find(m, (uintptr_t)t->base, 0);
  if (!b) return n;
  for (;;) { /* repeat while passes still shrink the tree */
    int removed = 0, r = lookup_pass(m, b, s, e, write, prod, n, cap, &removed);
    if (r != -2) return r;
    if (!removed) return -1; /* more live overlapping ranges than a task has producers */
  }
}

/* Return every stale access, empty range and empty buffer to the pools. */
static strata__tm_range *sweep_tree(strata__tensormap *m, strata__tm_range *r) {
  if (!r) return NULL;
  r->left = sweep_tree(m, r->left);
  r->right = sweep_tree(m, r->right);
  if (!range_prune(m, r)) {
    fix(r);
    return r;
  }
  strata__tm_range *rest = tr_merge(r->left, r->right);
  strata__pool_put(&m->ranges, r);
  return rest;
}

static void sweep(strata__tensormap *m) {
  for (uint32_t i = 0; i < m->nbuckets; i++)
    for (strata__tm_buf **pp = &m->buckets[i]; *pp;) {
      strata__tm_buf *b = *pp;
      b->root = sweep_tree(m, b->root);
      if (b->root) {
        pp = &b->next;
        continue;
      }
      *pp = b->next;
      strata__pool_put(&m->bufs, b);
    }
}

/* One access needs at most one entry of each pool. */
int strata__tmap_reserve(strata__tensormap *m, size_t n) {
  if (m->accs.nfree < n && (m->accs.nchunks + 1) * TM_CHUNK > m->cap) sweep(m);
  int rc = strata__pool_reserve(&m->accs, n, m->cap);
  if (rc == 0) rc = strata__pool_reserve(&m->ranges, n, m->cap);
  if (rc == 0) rc = strata__pool_reserve(&m->bufs, n, m->cap);
  return rc == STRATA_ENOSPC ? STRATA_TENSORMAP_OVERFLOW : rc;
}

/* ---- recording ---------------------------------------------------------------- */
/* A write over [s, e): empty what it covers, trim what it overlaps on one
 * side; returns the range of exactly [s, e) if one was emptied (reusable). */
static strata__tm_range *supersede(strata__tensormap *m, strata__tm_buf *b, uintptr_t s,
                                   uintptr_t e) {
  strata__tm_range *found[TM_BATCH], *exact = NULL;
  hits h = {found, TM_BATCH, TM_BATCH, 1};
  while (h.n == TM_BATCH) {
    h.n = 0;
    tr_overlaps(b->root, s, e, &h);
    for (int i = 0; i < h.n; i++) {
      strata__tm_range *r = found[i];
      b->root = tr_remove(b->root, r);
      if (r->start >= s && r->end <= e) { /* covered: the new write orders after it */
        range_clear(m, r);
        if (!exact && r->start == s && r->end == e) exact = r;
        else strata__pool_put(&m->ranges, r);
        continue;
      }
      if (r->start < s) r->end = s; /* keeps [start, s) */
      else r->start = e;            /* keeps [e, end) */
      if (range_prune(m, r)) strata__pool_put(&m->ranges, r);
      else b->root = tr_insert(b->root, r);
    }
  }
  return exact;
}

static strata__tm_acc *acc_new(strata__tensormap *m, strata__task *task, uint64_t id) {
  strata__tm_acc *a = strata__pool_get(&m->accs);
  *a = (strata__tm_acc){NULL, task, id};
  return a;
}

int strata__tmap_record(strata__tensormap *m, const strata_tensor *t, int write,
                        strata__task *task, uint64_t id) {
  uintptr_t s = (uintptr_t)t->data, e = s + t->bytes;
  if (m->accs.nfree < 1 || m->ranges.nfree < 1 || m->bufs.nfree < 1) return STRATA_ENOMEM;
  strata__tm_buf *b = buf_find(m, (uintptr_t)t->base, 1);
  strata__tm_acc *a = acc_new(m, task, id);
  if (write) {
    strata__tm_range *r = supersede(m, b, s, e);
    if (!r) r = range_new(m, s, e);
    r->writer = a;
    b->root = tr_insert(b->root, r);
    return 0;
  }
  strata__tm_range *r = tr_find(b->root, s, e);
  if (!r) {
    r = range_new(m, s, e);
    b->root = tr_insert(b->root, r);
  }
  prune_list(m, &r->readers); /* costs what this range has live, no more */
  a->next = r->readers;
  r->readers = a;
  return 0;
}

void strata__tmap_reset(strata__tensormap *m) {
  for (uint32_t i = 0; i < m->nbuckets; i++) {
    while (m->buckets[i]) {
      strata__tm_buf *b = m->buckets[i];
      while (b->root) {
        strata__tm_range *r = b->root;
        b->root = tr_merge(r->left, r->right);
        range_clear(m, r);
        strata__pool_put(&m->ranges, r);
      }
      m->buckets[i] = b->next;
      strata__pool_put(&m->bufs, b);
    }
  }
}
