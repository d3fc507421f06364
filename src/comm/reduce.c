/* reduce.c - element-wise reductions over n buffers in buffer order, for
 * every dtype and op; f16 and bf16 accumulate in f32 and round to nearest
 * even once per element. Integer sum/prod wrap (unsigned arithmetic). */
#include <string.h>

#include "comm/comm_int.h"

static float float_of(uint32_t bits) {
  float f;
  memcpy(&f, &bits, sizeof(f));
  return f;
}

static uint32_t bits_of(float f) {
  uint32_t x;
  memcpy(&x, &f, sizeof(x));
  return x;
}

/* v >> shift, rounded to nearest, ties to even. */
static uint32_t rne_shift(uint32_t v, uint32_t shift) {
  uint32_t r = v >> shift, rem = v & ((1u << shift) - 1), half = 1u << (shift - 1);
  return r + (rem > half || (rem == half && (r & 1)));
}

static float f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (man << 13); /* inf / nan */
  } else if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else { /* subnormal: normalise */
      int e = -1;
      do {
        man <<= 1;
        e++;
      } while (!(man & 0x400));
      bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
    }
  } else {
    bits = sign | ((exp + 112) << 23) | (man << 13);
  }
  return float_of(bits);
}

static uint16_t f32_to_f16(float f) {
  uint32_t x = bits_of(f);
  uint32_t sign = (x >> 16) & 0x8000, exp = (x >> 23) & 0xff, man = x & 0x7fffff;
  if (exp == 0xff) return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0));
  int e = (int)exp - 127 + 15;
  if (e >= 0x1f) return (uint16_t)(sign | 0x7c00);
  if (e <= 0) /* subnormal or zero */
    return (uint16_t)(e < -10 ? sign : sign | rne_shift(man | 0x800000, (uint32_t)(14 - e)));
  /* a carry out of the mantissa bumps the exponent (up to inf): correct */
  return (uint16_t)(sign | rne_shift(((uint32_t)e << 23) | man, 13));
}

static float bf16_to_f32(uint16_t h) { return float_of((uint32_t)h << 16); }

static uint16_t f32_to_bf16(float f) {
  uint32_t x = bits_of(f);
  if ((x & 0x7f800000u) == 0x7f800000u && (x & 0x7fffff)) return (uint16_t)((x >> 16) | 0x40);
  x += 0x7fff + ((x >> 16) & 1); /* round to nearest even */
  return (uint16_t)(x >> 16);
}

#define APPLY(a, b, op)                                                    \
  ((op) == STRATA_OP_SUM ? (a) + (b)                                       \
   : (op) == STRATA_OP_PROD ? (a) * (b)                                    \
   : (op) == STRATA_OP_MAX ? ((b) > (a) ? (b) : (a))                       \
                           : ((b) < (a) ? (b) : (a)))

/* T: storage type, A: arithmetic type, LOAD/STORE convert between them. */
#define DEFINE_REDUCE(name, T, A, LOAD, STORE)                                      \
  static void reduce_##name(void *out, const void *const *src, uint32_t n, size_t count, \
                            int op) {                                               \
    for (size_t i = 0; i < count; i++) {                                            \
      A acc = LOAD(((const T *)src[0])[i]);                                         \
      for (uint32_t q = 1; q < n; q++) acc = (A)APPLY(acc, LOAD(((const T *)src[q])[i]), op); \
      ((T *)out)[i] = STORE(acc);                                                   \
    }                                                                               \
  }

#define ID(x) (x)
#define U32_AS_I32(x) ((int32_t)(x))
#define U64_AS_I64(x) ((int64_t)(x))
DEFINE_REDUCE(f32, float, float, ID, ID)
DEFINE_REDUCE(f64, double, double, ID, ID)
DEFINE_REDUCE(f16, uint16_t, float, f16_to_f32, f32_to_f16)
DEFINE_REDUCE(bf16, uint16_t, float, bf16_to_f32, f32_to_bf16)

/* Integers: sum and prod in unsigned arithmetic (defined wrap), max/min signed. */
#define DEFINE_REDUCE_INT(name, S, U)                                               \
  static void reduce_##name(void *out, const void *const *src, uint32_t n, size_t count, \
                            int op) {                                               \
    for (size_t i = 0; i < count; i++) {                                            \
      S acc = ((const S *)src[0])[i];                                               \
      for (uint32_t q = 1; q < n; q++) {                                            \
        S b = ((const S *)src[q])[i];                                               \
        if (op == STRATA_OP_SUM) acc = (S)((U)acc + (U)b);                          \
        else if (op == STRATA_OP_PROD) acc = (S)((U)acc * (U)b);                    \
        else acc = APPLY(acc, b, op);                                               \
      }                                                                             \
      ((S *)out)[i] = acc;                                                          \
    }                                                                               \
  }
DEFINE_REDUCE_INT(i32, int32_t, uint32_t)
DEFINE_REDUCE_INT(i64, int64_t, uint64_t)

int strata_reduce(void *out, const void *const *src, uint32_t n, size_t count, strata_dtype dt,
                  strata_red_op op) {
  if (!out || !src || n == 0 || (unsigned)op > STRATA_OP_PROD)
    return strata__fail(STRATA_EINVAL, "reduce: need output, 1+ sources and a known op");
  switch (dt) {
    case STRATA_DT_F32: reduce_f32(out, src, n, count, op); return 0;
    case STRATA_DT_F64: reduce_f64(out, src, n, count, op); return 0;
    case STRATA_DT_F16: reduce_f16(out, src, n, count, op); return 0;
    case STRATA_DT_BF16: reduce_bf16(out, src, n, count, op); return 0;
    case STRATA_DT_I32: reduce_i32(out, src, n, count, op); return 0;
    case STRATA_DT_I64: reduce_i64(out, src, n, count, op); return 0;
    default:
      return strata__fail(STRATA_EINVAL, "reduce: dtype %d is not reducible (use f32, f64, "
                          "i32, i64, f16 or bf16)", (int)dt);
  }
}

#define REDUCE_SLICE 65536u /* elements between two progress reports */

int strata__reduce_k(void *out, const void *const *src, uint32_t n, size_t count,
                     strata_dtype dt, strata_red_op op, const strata_kernel_ctx *k) {
  size_t u = strata_dtype_size(dt);
  const void *s[STRATA_NODE_MAX_CHILDREN];
  if (n > STRATA_NODE_MAX_CHILDREN || !src) return strata_reduce(out, src, n, count, dt, op);
  int rc = 0;
  for (size_t off = 0; rc == 0 && (off < count || off == 0); off += REDUCE_SLICE) {
    size_t len = count - off < REDUCE_SLICE ? count - off : REDUCE_SLICE;
    for (uint32_t q = 0; q < n; q++) s[q] = src[q] ? (const unsigned char *)src[q] + off * u : NULL;
    rc = strata_reduce(out ? (unsigned char *)out + off * u : NULL, s, n, len, dt, op);
    strata_kernel_progress(k);
    if (count == 0) break;
  }
  return rc;
}
