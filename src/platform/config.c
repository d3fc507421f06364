/* config.c - the one configuration resolver of every level (SPEC §2, §3):
 * a table of fields (name, environment variable and alias, default, range,
 * meaning of 0) resolved as explicit value, else environment, else default.
 * Explicit values out of range are errors naming the field; environment
 * values out of range warn once per process and keep the default. */
#include <stdio.h>
#include <string.h>

#include "platform/platform_int.h"

static uint64_t field_get(const void *cfg, const strata__cfg_field *f) {
  const char *p = (const char *)cfg + f->offset;
  if (f->wide) return *(const uint64_t *)(const void *)p;
  return *(const uint32_t *)(const void *)p;
}

static void field_set(void *cfg, const strata__cfg_field *f, uint64_t v) {
  char *p = (char *)cfg + f->offset;
  if (f->wide)
    *(uint64_t *)(void *)p = v;
  else
    *(uint32_t *)(void *)p = (uint32_t)v;
}

int strata__cfg_valid(const strata__cfg_field *f, uint64_t v) {
  return v >= f->min && v <= f->max && (!f->pow2 || (v & (v - 1)) == 0);
}

const strata__cfg_field *strata__cfg_find(const strata__cfg_field *t, size_t n, uint64_t bit) {
  for (size_t i = 0; i < n; i++)
    if (t[i].bit == bit) return &t[i];
  return NULL;
}

static int explicit_invalid(const strata__cfg_field *f, uint64_t v) {
  return strata__fail(STRATA_EINVAL, "config field %s is %llu: must be %s%llu..%llu%s%s "
                      "(or clear its field_mask bit to use %s or the default %llu)",
                      f->name, (unsigned long long)v, f->pow2 ? "a power of two in " : "",
                      (unsigned long long)f->min, (unsigned long long)f->max,
                      f->zero ? "; 0 = " : "", f->zero ? f->zero : "",
                      f->env ? f->env : "nothing", (unsigned long long)f->def);
}

int strata__cfg_resolve(const strata__cfg_field *t, size_t n, const void *in,
                        uint64_t in_mask, void *out) {
  for (size_t i = 0; i < n; i++) {
    const strata__cfg_field *f = &t[i];
    uint64_t v = f->def;
    if (in && (in_mask & f->bit)) {
      v = field_get(in, f);
      if (!strata__cfg_valid(f, v)) return explicit_invalid(f, v);
    } else if (f->env) {
      v = strata__env_u64_alias(f->env, f->alias, f->def, f->min, f->max, f->pow2);
    }
    field_set(out, f, v);
  }
  return 0;
}
