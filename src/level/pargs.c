/* pargs.c - a level task's arguments sized to their content (SPEC §3.1):
 * what the engine stores per member and what travels in a mailbox or an
 * MPI message, instead of the 24 KB strata_args the orchestration fills.
 *
 *   [strata__pargs header][tensors: ntensors x strata_tensor]
 *   [scalars: nscalars x u64][deps: ndeps x u64][tags: ntensors B, to 8 B]
 *
 * Host pointers (strata_args.outputs) never travel: they belong to the
 * submitting process. Unpacking checks the record against its length, so a
 * truncated or foreign blob is refused, never read past.
 */
#include <string.h>

#include "level/level_int.h"

static size_t tags_bytes(uint32_t nt) { return ((size_t)nt + 7) & ~(size_t)7; }

static size_t record_bytes(uint32_t nt, uint32_t ns, uint32_t nd) {
  return sizeof(strata__pargs) + nt * sizeof(strata_tensor) + (ns + nd) * sizeof(uint64_t) +
         tags_bytes(nt);
}

size_t strata__pargs_size(const strata_args *a) {
  return record_bytes(a->ntensors, a->nscalars, a->ndeps);
}

uint64_t *strata__pargs_scalars(const strata__pargs *p) {
  return (uint64_t *)(void *)(strata__pargs_tensors(p) + p->ntensors);
}

static uint64_t *deps_of(const strata__pargs *p) { return strata__pargs_scalars(p) + p->nscalars; }

uint8_t *strata__pargs_tags(const strata__pargs *p) {
  return (uint8_t *)(void *)(deps_of(p) + p->ndeps);
}

void strata__pargs_pack(const strata_args *a, strata__pargs *p) {
  *p = (strata__pargs){(uint32_t)strata__pargs_size(a), a->ntensors, a->nscalars, a->ndeps,
                       a->block_dim, a->sync_start};
  memcpy(strata__pargs_tensors(p), a->tensors, a->ntensors * sizeof(strata_tensor));
  memcpy(strata__pargs_scalars(p), a->scalars, a->nscalars * sizeof(uint64_t));
  for (uint32_t i = 0; i < a->ndeps; i++) deps_of(p)[i] = a->deps[i].id;
  memset(strata__pargs_tags(p), 0, tags_bytes(a->ntensors));
  memcpy(strata__pargs_tags(p), a->tags, a->ntensors);
}

strata__pargs *strata__pargs_new(const strata_args *a) {
  strata__pargs *p = strata__calloc(1, strata__pargs_size(a));
  if (p) strata__pargs_pack(a, p);
  return p;
}

int strata__pargs_valid(const strata__pargs *p, size_t len) {
  return len >= sizeof(*p) && p->ntensors <= STRATA_MAX_TENSOR_ARGS &&
         p->nscalars <= STRATA_MAX_SCALAR_ARGS && p->ndeps <= STRATA_MAX_EXPLICIT_DEPS &&
         p->bytes == len && record_bytes(p->ntensors, p->nscalars, p->ndeps) == len;
}

int strata__pargs_unpack(const strata__pargs *p, size_t len, strata_args *a) {
  if (!strata__pargs_valid(p, len)) return STRATA_EINVAL;
  a->ntensors = p->ntensors;
  a->nscalars = p->nscalars;
  a->ndeps = p->ndeps;
  a->held = 0;
  a->error = 0;
  a->block_dim = p->block_dim;
  a->sync_start = p->sync_start;
  memcpy(a->tensors, strata__pargs_tensors(p), p->ntensors * sizeof(strata_tensor));
  memset(a->outputs, 0, p->ntensors * sizeof(a->outputs[0]));
  memcpy(a->tags, strata__pargs_tags(p), p->ntensors);
  memcpy(a->scalars, strata__pargs_scalars(p), p->nscalars * sizeof(uint64_t));
  for (uint32_t i = 0; i < p->ndeps; i++) a->deps[i].id = deps_of(p)[i];
  return 0;
}
