/* chip.c - chip configuration, creation, kernel registration and
 * destruction (cold path). */
#include <stdio.h>
#include <string.h>

#include "chip/chip_int.h"

/* One row per configurable field: mask bit, env var, default, bounds. */
typedef struct cfg_field {
  uint64_t bit;
  const char *env;
  uint64_t def, min, max;
  int pow2;
  size_t offset;
  int wide; /* uint64_t field (else uint32_t) */
} cfg_field;

#define F32(bit, env, def, min, max, p2, member) \
  {bit, env, def, min, max, p2, offsetof(strata_chip_config, member), 0}
#define F64(bit, env, def, min, max, p2, member) \
  {bit, env, def, min, max, p2, offsetof(strata_chip_config, member), 1}

static const cfg_field cfg_fields[] = {
    F32(STRATA_CFG_SCHED_THREADS, "STRATA_SCHED_THREADS", 3, 1, 64, 0, sched_threads),
    F32(STRATA_CFG_CLUSTERS, "STRATA_CLUSTERS", 3, 1, 64, 0, clusters),
    F32(STRATA_CFG_TASK_WINDOW, "PTO2_RING_TASK_WINDOW", 16384, 4, 1u << 24, 1, task_window),
    F64(STRATA_CFG_HEAP_BYTES, "PTO2_RING_HEAP", 256ull << 20, 4096, 1ull << 40, 0, heap_bytes),
    F32(STRATA_CFG_DEP_POOL, "PTO2_RING_DEP_POOL", 16384, 1, 1u << 26, 0, dep_pool),
    F32(STRATA_CFG_SCHED_TIMEOUT, "STRATA_SCHEDULER_TIMEOUT_MS", 5000, 1, 3600000, 0, scheduler_timeout_ms),
    F32(STRATA_CFG_SYNC_TIMEOUT, "STRATA_STREAM_SYNC_TIMEOUT_MS", 2000, 0, 3600000, 0, stream_sync_timeout_ms),
    F32(STRATA_CFG_RING_WAIT_TIMEOUT, "STRATA_RING_WAIT_TIMEOUT_MS", 5000, 1, 3600000, 0, ring_wait_timeout_ms),
    F32(STRATA_CFG_TENSOR_WAIT_TIMEOUT, "STRATA_TENSOR_WAIT_TIMEOUT_MS", 10000, 1, 3600000, 0, tensor_wait_timeout_ms),
    F32(STRATA_CFG_STALL_REPORT, "STRATA_STALL_REPORT_MS", 1000, 0, 3600000, 0, stall_report_ms),
    F32(STRATA_CFG_LEGACY, "STRATA_LEGACY_SCHED_TIMEOUT", 0, 0, 1, 0, legacy_sched_timeout),
    F32(STRATA_CFG_LEGACY_IDLE_CAP, "STRATA_LEGACY_IDLE_CAP", 1000, 1, 1u << 30, 0, legacy_idle_cap),
    F32(STRATA_CFG_SCOPE_TASKS, "STRATA_SCOPE_TASKS_CAP", 65536, 1, 1u << 26, 0, scope_tasks_cap),
    F32(STRATA_CFG_INIT_DELAY, "STRATA_FAULT_CHIP_INIT_DELAY_MS", 0, 0, 3600000, 0, init_delay_ms),
    F32(STRATA_CFG_JOIN_GRACE, "STRATA_JOIN_GRACE_MS", 2000, 1, 3600000, 0, join_grace_ms),
};

static uint64_t field_get(const strata_chip_config *c, const cfg_field *f) {
  const char *p = (const char *)c + f->offset;
  if (f->wide) return *(const uint64_t *)(const void *)p;
  return *(const uint32_t *)(const void *)p;
}

static void field_set(strata_chip_config *c, const cfg_field *f, uint64_t v) {
  char *p = (char *)c + f->offset;
  if (f->wide)
    *(uint64_t *)(void *)p = v;
  else
    *(uint32_t *)(void *)p = (uint32_t)v;
}

static int field_valid(const cfg_field *f, uint64_t v) {
  return v >= f->min && v <= f->max && (!f->pow2 || (v & (v - 1)) == 0);
}

/* Resolve every field: explicit (masked) value, else environment, else
 * default. An invalid explicit value is an error naming the field. */
static int config_resolve(const strata_chip_config *in, strata_chip_config *out) {
  memset(out, 0, sizeof(*out));
  for (size_t i = 0; i < STRATA_ARRAY_SIZE(cfg_fields); i++) {
    const cfg_field *f = &cfg_fields[i];
    uint64_t v;
    if (in && (in->field_mask & f->bit)) {
      v = field_get(in, f);
      if (!field_valid(f, v))
        return strata__fail(STRATA_EINVAL, "chip config field for %s is %llu: must be "
                            "%s%llu..%llu", f->env, (unsigned long long)v,
                            f->pow2 ? "a power of two in " : "",
                            (unsigned long long)f->min, (unsigned long long)f->max);
    } else {
      v = strata__env_u64(f->env, f->def, f->min, f->max, f->pow2);
    }
    field_set(out, f, v);
  }
  out->field_mask = in ? in->field_mask : 0;
  return 0;
}

void strata_chip_config_init(strata_chip_config *cfg) {
  config_resolve(NULL, cfg);
  cfg->field_mask = 0;
}

const strata_chip_config *strata_chip_get_config(const strata_chip *chip) {
  return &chip->cfg;
}

static int cores_create(strata_chip *chip) {
  uint32_t nc = chip->cfg.clusters, ns = chip->cfg.sched_threads;
  chip->ncores = nc * 3;
  chip->cores = strata__calloc(chip->ncores, sizeof(strata__core));
  chip->scheds = strata__calloc(ns, sizeof(strata__sched));
  if (!chip->cores || !chip->scheds) return STRATA_ENOMEM;
  for (uint32_t s = 0; s < ns; s++) {
    chip->scheds[s].cores = strata__calloc(chip->ncores, sizeof(strata__core *));
    if (!chip->scheds[s].cores) return STRATA_ENOMEM;
  }
  for (uint32_t i = 0; i < chip->ncores; i++) {
    strata__core *c = &chip->cores[i];
    strata__sched *s = &chip->scheds[(i / 3) % ns]; /* clusters dealt round-robin */
    c->id = i;
    c->kind = (i % 3 == 0) ? STRATA_CORE_AIC : STRATA_CORE_AIV;
    c->owner = s - chip->scheds;
    c->chip = chip;
    s->cores[s->ncores++] = c;
  }
  return 0;
}

static void cores_destroy(strata_chip *chip) {
  for (uint32_t s = 0; chip->scheds && s < chip->cfg.sched_threads; s++)
    strata__free(chip->scheds[s].cores);
  strata__free(chip->scheds);
  strata__free(chip->cores);
}

static int chip_alloc_parts(strata_chip *chip) {
  uint64_t qcap = (uint64_t)chip->cfg.task_window * STRATA_NUM_RINGS;
  int rc = strata__rings_create(chip);
  if (rc == 0 && cores_create(chip) != 0) rc = STRATA_ENOMEM;
  if (rc == 0 && (strata__readyq_init(&chip->readyq[0], qcap) != 0 ||
                  strata__readyq_init(&chip->readyq[1], qcap) != 0))
    rc = STRATA_ENOMEM;
  if (rc == 0 && strata__tmap_init(&chip->tmap, 4096) != 0) rc = STRATA_ENOMEM;
  chip->scope_tasks = strata__calloc(chip->cfg.scope_tasks_cap, sizeof(strata__task *));
  if (rc == 0 && !chip->scope_tasks) rc = STRATA_ENOMEM;
  return rc;
}

static void chip_free_parts(strata_chip *chip) {
  strata__free(chip->scope_tasks);
  strata__tmap_destroy(&chip->tmap);
  strata__readyq_destroy(&chip->readyq[1]);
  strata__readyq_destroy(&chip->readyq[0]);
  cores_destroy(chip);
  strata__rings_destroy(chip);
}

int strata_chip_create(const strata_chip_config *cfg, strata_chip **out) {
  if (!out) return strata__fail(STRATA_EINVAL, "strata_chip_create: out is NULL");
  strata_chip *chip = strata__calloc(1, sizeof(*chip));
  if (!chip) return strata__fail(STRATA_ENOMEM, "cannot allocate the chip object");
  int rc = config_resolve(cfg, &chip->cfg);
  if (rc != 0) goto err_free;
  rc = chip_alloc_parts(chip);
  if (rc != 0) goto err_parts;
  if (chip->cfg.init_delay_ms) strata__sleep_ms(chip->cfg.init_delay_ms);
  chip->orch.chip = chip;
  *out = chip;
  return 0;
err_parts:
  chip_free_parts(chip);
  if (rc == STRATA_ENOMEM)
    rc = strata__fail(rc, "cannot allocate the chip (task window %u, heap %llu B, "
                      "dep pool %u per ring): lower PTO2_RING_* sizes",
                      chip->cfg.task_window, (unsigned long long)chip->cfg.heap_bytes,
                      chip->cfg.dep_pool);
err_free:
  strata__free(chip);
  return rc;
}

int strata_chip_register_kernel(strata_chip *chip, const char *name,
                                strata_kernel_fn fn, strata_core_kind kind,
                                uint32_t *id) {
  if (!chip || !fn || !id || (kind != STRATA_CORE_AIC && kind != STRATA_CORE_AIV))
    return strata__fail(STRATA_EINVAL, "register_kernel: chip, fn and id must be "
                        "non-NULL and kind STRATA_CORE_AIC or STRATA_CORE_AIV");
  if (chip->in_run)
    return strata__fail(STRATA_EBUSY, "register_kernel: a run is in progress; "
                        "register kernels before strata_chip_run");
  if (chip->nkernels >= STRATA_MAX_KERNELS)
    return strata__fail(STRATA_ENOSPC, "register_kernel: already %d kernels "
                        "(STRATA_MAX_KERNELS)", STRATA_MAX_KERNELS);
  strata__kernel *k = &chip->kernels[chip->nkernels];
  k->fn = fn;
  k->kind = kind;
  snprintf(k->name, sizeof(k->name), "%s", name ? name : "anon");
  *id = chip->nkernels++;
  return 0;
}

int strata_chip_find_kernel(const strata_chip *chip, const char *name, uint32_t *id) {
  for (uint32_t k = 0; chip && name && id && k < chip->nkernels; k++)
    if (strcmp(chip->kernels[k].name, name) == 0) return *id = k, 0;
  return strata__fail(STRATA_ENOENT, "no kernel named '%s' is registered on this chip",
                      name ? name : "(null)");
}

int strata_chip_destroy(strata_chip *chip) {
  if (!chip) return 0;
  if (chip->in_run)
    return strata__fail(STRATA_EBUSY, "chip_destroy: a run is in progress");
  if (chip->wedged) {
    strata__warn("destroying a wedged chip: its arena and threads are leaked "
                 "on purpose (a stuck kernel may still use them)");
    return 0;
  }
  chip_free_parts(chip);
#ifndef NDEBUG
  memset(chip, 0xdd, sizeof(*chip)); /* poison: a use after destroy faults fast */
#endif
  strata__free(chip);
  return 0;
}
