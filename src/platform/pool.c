/* pool.c - a pool of fixed-size entries allocated in chunks, with a free
 * list threaded through the entries' first pointer: the storage of the hashed
 * dependency indexes of the chip (tensormap) and of the level engine. One
 * owner thread; no locking. */
#include <string.h>

#include "platform/platform_int.h"

void strata__pool_init(strata__pool *p, size_t elem, size_t per_chunk) {
  memset(p, 0, sizeof(*p));
  p->elem = elem;
  p->per_chunk = per_chunk;
}

void strata__pool_destroy(strata__pool *p) {
  for (size_t i = 0; i < p->nchunks; i++) strata__free(p->chunks[i]);
  strata__free(p->chunks);
  strata__pool_init(p, p->elem, p->per_chunk);
}

void strata__pool_put(strata__pool *p, void *e) {
  memcpy(e, &p->free_list, sizeof(void *)); /* the entry's first field is its link */
  p->free_list = e;
  p->nfree++;
}

void *strata__pool_get(strata__pool *p) {
  void *e = p->free_list;
  if (e) {
    memcpy(&p->free_list, e, sizeof(void *));
    p->nfree--;
  }
  return e;
}

static int grow(strata__pool *p) {
  if (strata__array_grow(&p->chunks, &p->chunk_cap, p->nchunks, sizeof(void *), 16))
    return STRATA_ENOMEM;
  char *blk = strata__calloc(p->per_chunk, p->elem);
  if (!blk) return STRATA_ENOMEM;
  p->chunks[p->nchunks++] = blk;
  for (size_t i = 0; i < p->per_chunk; i++) strata__pool_put(p, blk + i * p->elem);
  return 0;
}

int strata__pool_reserve(strata__pool *p, size_t n, size_t cap) {
  while (p->nfree < n) {
    if ((p->nchunks + 1) * p->per_chunk > cap) return STRATA_ENOSPC;
    if (grow(p) != 0) return STRATA_ENOMEM;
  }
  return 0;
}
