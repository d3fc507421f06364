/* args.c - tensors and task-argument builders (pure value helpers). */
#include <string.h>

#include "chip/chip_int.h"

size_t strata_dtype_size(strata_dtype dtype) {
  switch (dtype) {
    case STRATA_DT_U8:
    case STRATA_DT_I8:
    case STRATA_DT_FP8_E4M3:
    case STRATA_DT_FP8_E5M2: return 1;
    case STRATA_DT_I16:
    case STRATA_DT_F16:
    case STRATA_DT_BF16: return 2;
    case STRATA_DT_I32:
    case STRATA_DT_F32: return 4;
    case STRATA_DT_I64:
    case STRATA_DT_F64: return 8;
  }
  return 0;
}

/* A flat (1-D, contiguous) tensor of `bytes` at data. */
static strata_tensor flat(void *data, void *base, size_t bytes, strata_dtype dtype) {
  size_t e = strata_dtype_size(dtype);
  strata_tensor t = {data, base, bytes, dtype, 1, 0, {0}, {0}};
  t.shape[0] = (uint32_t)(e ? bytes / e : bytes);
  t.strides[0] = 1;
  return t;
}

strata_tensor strata_tensor_external(void *data, size_t bytes, strata_dtype dtype) {
  return flat(data, data, bytes, dtype);
}

strata_tensor strata_tensor_view(const strata_tensor *t, size_t offset, size_t bytes) {
  strata_tensor v = flat(NULL, NULL, 0, STRATA_DT_U8);
  if (!t) return v; /* data NULL: not a tensor */
  if (!t->data || offset > t->bytes || bytes > t->bytes - offset) return v;
  v = flat((char *)t->data + offset, t->base, bytes, t->dtype);
  v.owner = t->owner; /* a view of a runtime output still waits for its producer */
  return v;
}

strata_tensor strata_tensor_nd(void *data, strata_dtype dtype, uint32_t ndim, const uint32_t *shape) {
  strata_tensor t = flat(NULL, NULL, 0, dtype);
  size_t e = strata_dtype_size(dtype);
  if (!data || !shape || e == 0 || ndim == 0 || ndim > STRATA_MAX_DIMS) return t;
  uint64_t n = 1;
  for (uint32_t k = ndim; k-- > 0;) { /* row-major: the last dimension is contiguous */
    t.shape[k] = shape[k];
    t.strides[k] = (uint32_t)n;
    n *= shape[k];
    if (n > UINT32_MAX) return t;
  }
  t.data = t.base = data;
  t.ndim = ndim;
  t.bytes = (size_t)n * e;
  return t;
}

uint64_t strata_tensor_numel(const strata_tensor *t) {
  uint64_t n = t && t->ndim ? 1 : 0;
  for (uint32_t k = 0; t && k < t->ndim && k < STRATA_MAX_DIMS; k++) n *= t->shape[k];
  return n;
}

strata_tensor strata_tensor_slice(const strata_tensor *t, const uint32_t *start, const uint32_t *size) {
  strata_tensor v = flat(NULL, NULL, 0, STRATA_DT_U8);
  if (!t || !t->data || !start || !size || t->ndim == 0 || t->ndim > STRATA_MAX_DIMS) return v;
  uint64_t first = 0, last = 0;
  int empty = 0;
  for (uint32_t k = 0; k < t->ndim; k++) {
    if (start[k] > t->shape[k] || size[k] > t->shape[k] - start[k]) return v;
    first += (uint64_t)start[k] * t->strides[k];
    last += (uint64_t)(size[k] ? size[k] - 1 : 0) * t->strides[k];
    empty |= size[k] == 0;
  }
  size_t e = strata_dtype_size(t->dtype);
  v = *t;
  v.data = (char *)t->data + first * e;
  v.bytes = empty ? 0 : (size_t)(last + 1) * e;
  v.owner = t->owner;
  for (uint32_t k = 0; k < t->ndim; k++) v.shape[k] = size[k];
  return v;
}

/* The builders ignore a NULL args (nothing to record an error in); submit
 * then rejects the NULL args with INVALID_ARGS. */
void strata_args_init(strata_args *a) {
  if (a) memset(a, 0, offsetof(strata_args, tensors));
}

static int next_tensor(strata_args *a) {
  if (!a) return -1;
  if (a->ntensors >= STRATA_MAX_TENSOR_ARGS) {
    a->error = 1;
    return -1;
  }
  return (int)a->ntensors++;
}

void strata_args_tensor(strata_args *a, strata_arg_tag tag, const strata_tensor *t) {
  int i = next_tensor(a);
  if (i < 0) return;
  if (!t || tag == STRATA_OUTPUT || tag > STRATA_NO_DEP) {
    a->error = 1;
    return;
  }
  a->tensors[i] = *t;
  a->outputs[i] = NULL;
  a->tags[i] = (uint8_t)tag;
}

void strata_args_output(strata_args *a, strata_tensor *t, size_t bytes, strata_dtype dtype) {
  int i = next_tensor(a);
  if (i < 0) return;
  strata_tensor o = flat(NULL, NULL, bytes, dtype);
  a->tensors[i] = o;
  a->outputs[i] = t;
  a->tags[i] = STRATA_OUTPUT;
}

void strata_args_spmd(strata_args *a, uint32_t block_dim, int sync_start) {
  if (!a) return;
  if (block_dim == 0 || block_dim > STRATA_MAX_BLOCK_DIM) {
    a->error = 1;
    return;
  }
  a->block_dim = block_dim;
  a->sync_start = sync_start != 0;
}

void strata_args_scalar(strata_args *a, uint64_t value) {
  if (!a) return;
  if (a->nscalars >= STRATA_MAX_SCALAR_ARGS) {
    a->error = 1;
    return;
  }
  a->scalars[a->nscalars++] = value;
}

void strata_args_scalar_f64(strata_args *a, double value) {
  uint64_t bits;
  memcpy(&bits, &value, sizeof(bits));
  strata_args_scalar(a, bits);
}

void strata_args_dep(strata_args *a, strata_task_ref task) {
  if (!a) return;
  if (a->ndeps >= STRATA_MAX_EXPLICIT_DEPS || task.id == 0) {
    a->error = 1;
    return;
  }
  a->deps[a->ndeps++] = task;
}

void strata_args_hold(strata_args *a) {
  if (a) a->held = 1;
}
