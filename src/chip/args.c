/* args.c - tensors and task-argument builders (pure value helpers). */
#include <string.h>

#include "chip/chip_int.h"

size_t strata_dtype_size(strata_dtype dtype) {
  switch (dtype) {
    case STRATA_DT_U8: return 1;
    case STRATA_DT_F16:
    case STRATA_DT_BF16: return 2;
    case STRATA_DT_I32:
    case STRATA_DT_F32: return 4;
    case STRATA_DT_I64:
    case STRATA_DT_F64: return 8;
  }
  return 0;
}

strata_tensor strata_tensor_external(void *data, size_t bytes, strata_dtype dtype) {
  strata_tensor t = {data, data, bytes, dtype, 0};
  return t;
}

strata_tensor strata_tensor_view(const strata_tensor *t, size_t offset, size_t bytes) {
  strata_tensor v = {NULL, NULL, 0, STRATA_DT_U8, 0};
  if (!t) return v; /* data NULL: not a tensor */
  v = *t;
  if (!t->data || offset > t->bytes || bytes > t->bytes - offset) {
    v.data = NULL;
    return v;
  }
  v.data = (char *)t->data + offset;
  v.bytes = bytes;
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
  strata_tensor o = {NULL, NULL, bytes, dtype, 0};
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
