/* readyq.c - bounded multi-producer multi-consumer queue of READY tasks,
 * one per core kind. Each cell carries a sequence number: a producer may
 * fill cell i when seq == pos, a consumer may drain it when seq == pos + 1.
 *
 * Barrier pairing: the producer's store_release of cell.seq (after writing
 * cell.task) pairs with the consumer's load_acquire of cell.seq; the
 * consumer's store_release of the recycled seq pairs with the next lap's
 * producer load_acquire. Capacity is the total task window of all rings,
 * so a push never finds the queue full. */
#include "chip/chip_int.h"

/* A cell stores its sequence number less its own index, so the initial
 * sequence (seq == index) is all zero bytes: a new queue is calloc'ed
 * memory nobody touches until it is used (large windows cost no RSS). */
static uint64_t seq_of(strata__rq_cell *c, uint64_t idx) {
  return load_acquire(&c->seq) + idx; /* pairs with the release in set_seq */
}
static void set_seq(strata__rq_cell *c, uint64_t idx, uint64_t seq) { store_release(&c->seq, seq - idx); }

int strata__readyq_init(strata__readyq *q, uint64_t cap) {
  uint64_t n = 1;
  while (n < cap) n <<= 1;
  q->cells = strata__calloc(n, sizeof(strata__rq_cell));
  if (!q->cells) return STRATA_ENOMEM;
  q->mask = n - 1;
  WRITE_ONCE(q->enq, 0);
  WRITE_ONCE(q->deq, 0);
  return 0;
}

void strata__readyq_destroy(strata__readyq *q) {
  strata__free(q->cells);
  q->cells = NULL;
}

/* Between runs (no thread touches the queue): only the cells the last run
 * used changed, i.e. the first `enq` (all of them once it wrapped). */
void strata__readyq_reset(strata__readyq *q) {
  uint64_t used = READ_ONCE(q->enq);
  if (used > q->mask + 1) used = q->mask + 1;
  for (uint64_t i = 0; i < used; i++) WRITE_ONCE(q->cells[i].seq, 0); /* seq = index */
  WRITE_ONCE(q->enq, 0);
  WRITE_ONCE(q->deq, 0);
}

int strata__readyq_push(strata__readyq *q, strata__task *t) {
  uint64_t pos = READ_ONCE(q->enq);
  for (;;) {
    strata__rq_cell *c = &q->cells[pos & q->mask];
    uint64_t seq = seq_of(c, pos & q->mask); /* pairs with release in pop */
    if (seq == pos) {
      if (cas_weak_relaxed(&q->enq, &pos, pos + 1)) {
        c->task = t;
        set_seq(c, pos & q->mask, pos + 1); /* pairs with load_acquire in pop */
        return 0;
      }
    } else if (seq < pos) {
      return STRATA_ENOSPC; /* full: cannot happen with the sized capacity */
    } else {
      pos = READ_ONCE(q->enq);
    }
  }
}

/* A hint: a push in flight reads as non-empty (its pusher wakes someone). */
int strata__readyq_empty(strata__readyq *q) { return READ_ONCE(q->enq) == READ_ONCE(q->deq); }

strata__task *strata__readyq_pop(strata__readyq *q) {
  uint64_t pos = READ_ONCE(q->deq);
  for (;;) {
    strata__rq_cell *c = &q->cells[pos & q->mask];
    uint64_t seq = seq_of(c, pos & q->mask); /* pairs with release in push */
    if (seq == pos + 1) {
      if (cas_weak_relaxed(&q->deq, &pos, pos + 1)) {
        strata__task *t = c->task;
        set_seq(c, pos & q->mask, pos + q->mask + 1); /* pairs with push's acquire */
        return t;
      }
    } else if (seq < pos + 1) {
      return NULL; /* empty */
    } else {
      pos = READ_ONCE(q->deq);
    }
  }
}
