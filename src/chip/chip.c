/* chip.c - chip configuration, creation, kernel registration and
 * destruction (cold path). */
#include <stdio.h>
#include <string.h>

#include "chip/chip_int.h"

/* One row per configurable field (the platform's table resolver). */
#define F(bit, name, env, alias, def, min, max, zero, p2, member)                    \
  {bit, name, env, alias, def, min, max, zero, offsetof(strata_chip_config, member), \
   sizeof(((strata_chip_config *)0)->member) == 8, p2}
#define MS_MAX 3600000

static const strata__cfg_field cfg_fields[] = {
    F(STRATA_CFG_SCHED_THREADS, "sched_threads", "STRATA_SCHED_THREADS", NULL, 3, 1, 64, NULL, 0, sched_threads),
    F(STRATA_CFG_CLUSTERS, "clusters", "STRATA_CLUSTERS", NULL, 3, 1, 64, NULL, 0, clusters),
    F(STRATA_CFG_TASK_WINDOW, "task_window", "PTO2_RING_TASK_WINDOW", NULL, 16384, 4, 1u << 24, NULL, 1, task_window),
    F(STRATA_CFG_HEAP_BYTES, "heap_bytes", "PTO2_RING_HEAP", NULL, 256ull << 20, 4096, 1ull << 40, NULL, 0, heap_bytes),
    F(STRATA_CFG_DEP_POOL, "dep_pool", "PTO2_RING_DEP_POOL", NULL, 16384, 1, 1u << 26, NULL, 0, dep_pool),
    F(STRATA_CFG_SCHED_TIMEOUT, "scheduler_timeout_ms", "STRATA_SCHEDULER_TIMEOUT_MS",
      "SIMPLER_SCHEDULER_TIMEOUT_MS", STRATA_DEFAULT_SCHED_TIMEOUT_MS, 1, MS_MAX, NULL, 0, scheduler_timeout_ms),
    F(STRATA_CFG_SYNC_TIMEOUT, "stream_sync_timeout_ms", "STRATA_STREAM_SYNC_TIMEOUT_MS",
      "SIMPLER_STREAM_SYNC_TIMEOUT_MS", STRATA_DEFAULT_SYNC_TIMEOUT_MS, 0, MS_MAX, "no deadline", 0,
      stream_sync_timeout_ms),
    F(STRATA_CFG_RING_WAIT_TIMEOUT, "ring_wait_timeout_ms", "STRATA_RING_WAIT_TIMEOUT_MS", NULL, 5000, 1, MS_MAX, NULL, 0, ring_wait_timeout_ms),
    F(STRATA_CFG_TENSOR_WAIT_TIMEOUT, "tensor_wait_timeout_ms", "STRATA_TENSOR_WAIT_TIMEOUT_MS", NULL, 10000, 1, MS_MAX, NULL, 0, tensor_wait_timeout_ms),
    F(STRATA_CFG_STALL_REPORT, "stall_report_ms", "STRATA_STALL_REPORT_MS", NULL, 1000, 0, MS_MAX, "never", 0, stall_report_ms),
    F(STRATA_CFG_LEGACY, "legacy_sched_timeout", "STRATA_LEGACY_SCHED_TIMEOUT", NULL, 0, 0, 1, "the default detector", 0, legacy_sched_timeout),
    F(STRATA_CFG_LEGACY_IDLE_CAP, "legacy_idle_cap", "STRATA_LEGACY_IDLE_CAP", NULL, 1000, 1, 1u << 30, NULL, 0, legacy_idle_cap),
    F(STRATA_CFG_SCOPE_TASKS, "scope_tasks_cap", "STRATA_SCOPE_TASKS_CAP", NULL, 65536, 1, 1u << 26, NULL, 0, scope_tasks_cap),
    F(STRATA_CFG_INIT_DELAY, "init_delay_ms", "STRATA_FAULT_CHIP_INIT_DELAY_MS", NULL, 0, 0, MS_MAX, "no delay", 0, init_delay_ms),
    F(STRATA_CFG_JOIN_GRACE, "join_grace_ms", "STRATA_JOIN_GRACE_MS", NULL, 2000, 1, MS_MAX, NULL, 0, join_grace_ms),
    F(STRATA_CFG_UNORDERED_TIMEOUTS, "unordered_timeouts", NULL, NULL, 0, 0, 1, "ordering enforced", 0, unordered_timeouts),
    F(STRATA_CFG_TENSORMAP_CAP, "tensormap_cap", "STRATA_TENSORMAP_CAP", NULL, 1u << 22, 1024, 1u << 30, NULL, 0, tensormap_cap),
    F(STRATA_CFG_FAULT_NO_DISPATCH, "fault_no_dispatch", "STRATA_FAULT_NO_DISPATCH", NULL, 0, 0, 1, "dispatch normally", 0, fault_no_dispatch),
};

#define NFIELDS STRATA_ARRAY_SIZE(cfg_fields)
#define SYNC_MARGIN_MS 1500 /* stream sync must exceed the scheduler budget by this */

static int timeouts_ordered(const strata_chip_config *c) {
  return c->unordered_timeouts || c->stream_sync_timeout_ms == 0 ||
         (uint64_t)c->stream_sync_timeout_ms > (uint64_t)c->scheduler_timeout_ms + SYNC_MARGIN_MS;
}

/* SPEC §2: stream sync > scheduler budget + 1.5 s, else a slow run ends as a
 * stream-sync timeout before the hang detector can name the stuck task. An
 * explicit violation is an error; one from the environment warns once and
 * falls back to both defaults (as the seed system does). */
static int order_timeouts(uint64_t explicit_mask, strata_chip_config *c) {
  if (timeouts_ordered(c)) return 0;
  uint32_t sched = c->scheduler_timeout_ms, sync = c->stream_sync_timeout_ms;
  if (explicit_mask & (STRATA_CFG_SCHED_TIMEOUT | STRATA_CFG_SYNC_TIMEOUT))
    return strata__fail(STRATA_EINVAL, "stream_sync_timeout_ms (%u) must exceed "
                        "scheduler_timeout_ms (%u) + %u ms, or a slow run ends as a stream-sync "
                        "timeout before the hang detector can name the stuck task; raise "
                        "stream_sync_timeout_ms above %llu, lower scheduler_timeout_ms, or set "
                        "STRATA_CFG_UNORDERED_TIMEOUTS to reproduce an unordered setup", sync,
                        sched, SYNC_MARGIN_MS, (unsigned long long)sched + SYNC_MARGIN_MS);
  char key[96];
  snprintf(key, sizeof(key), "timeout-order:%u:%u", sched, sync);
  strata__warn_once(key, "STRATA_STREAM_SYNC_TIMEOUT_MS=%u is not above "
                    "STRATA_SCHEDULER_TIMEOUT_MS=%u + %u ms (or their SIMPLER_ aliases); "
                    "using the defaults %u / %u ms instead. Fix: set the stream sync above "
                    "%llu ms or lower the scheduler budget", sync, sched, SYNC_MARGIN_MS,
                    STRATA_DEFAULT_SCHED_TIMEOUT_MS, STRATA_DEFAULT_SYNC_TIMEOUT_MS,
                    (unsigned long long)sched + SYNC_MARGIN_MS);
  c->scheduler_timeout_ms = STRATA_DEFAULT_SCHED_TIMEOUT_MS;
  c->stream_sync_timeout_ms = STRATA_DEFAULT_SYNC_TIMEOUT_MS;
  return 0;
}

/* Resolve every field: explicit (masked) value, else environment, else
 * default; then check the timeout ordering. */
static int config_resolve(const strata_chip_config *in, strata_chip_config *out) {
  uint64_t mask = in ? in->field_mask : 0;
  memset(out, 0, sizeof(*out));
  int rc = strata__cfg_resolve(cfg_fields, NFIELDS, in, mask, out);
  if (rc == 0) rc = order_timeouts(mask, out);
  out->field_mask = mask;
  return rc;
}

int strata_chip_config_resolve(const strata_chip_config *in, strata_chip_config *out) {
  if (!out) return strata__fail(STRATA_EINVAL, "chip_config_resolve: out is NULL");
  strata_chip_config tmp;
  int rc = config_resolve(in, &tmp);
  if (rc == 0) *out = tmp;
  return rc;
}

int strata_chip_config_range(uint64_t bit, uint64_t *min, uint64_t *max) {
  const strata__cfg_field *f = strata__cfg_find(cfg_fields, NFIELDS, bit);
  if (!f || !min || !max)
    return strata__fail(STRATA_EINVAL, "chip_config_range: bit 0x%llx is not one "
                        "STRATA_CFG_* bit, or min/max is NULL", (unsigned long long)bit);
  *min = f->min;
  *max = f->max;
  return 0;
}

void strata_chip_config_init(strata_chip_config *cfg) {
  if (!cfg) return;
  config_resolve(NULL, cfg); /* the environment alone cannot fail */
  cfg->field_mask = 0;
}

const strata_chip_config *strata_chip_get_config(const strata_chip *chip) {
  static const strata_chip_config none; /* NULL chip: all zero, never NULL */
  return chip ? &chip->cfg : &none;
}

static int cores_create(strata_chip *chip) {
  uint32_t nc = chip->cfg.clusters, ns = chip->cfg.sched_threads;
  chip->ncores = nc * 3;
  /* Kernels that run at once: one per CPU (a simulated core without a CPU
   * would only time-slice with the others and finish everything late). */
  chip->cpu_budget = (uint32_t)strata__env_u64("STRATA_ACTIVE_CORES", 0, 0, 4096, 0);
  if (chip->cpu_budget == 0) chip->cpu_budget = strata__cpu_count();
  chip->chain = (int)strata__env_u64("STRATA_CHAIN", 1, 0, 1, 0);
  chip->cores = strata__calloc(chip->ncores, sizeof(strata__core));
  chip->scheds = strata__calloc(ns, sizeof(strata__sched));
  if (!chip->cores || !chip->scheds) return STRATA_ENOMEM;
  for (uint32_t s = 0; s < ns; s++) {
    chip->scheds[s].cores = strata__calloc(chip->ncores, sizeof(strata__core *));
    if (!chip->scheds[s].cores) return STRATA_ENOMEM;
    chip->scheds[s].id = s;
    chip->scheds[s].chip = chip;
    strata__event_init(&chip->scheds[s].ev, 0);
  }
  for (uint32_t i = 0; i < chip->ncores; i++) {
    strata__core *c = &chip->cores[i];
    strata__sched *s = &chip->scheds[(i / 3) % ns]; /* clusters dealt round-robin */
    c->id = i;
    c->kind = (i % 3 == 0) ? STRATA_CORE_AIC : STRATA_CORE_AIV;
    c->owner = s - chip->scheds;
    c->chip = chip;
    strata__event_init(&c->ev, 0);
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
  for (int q = 0; q < STRATA_NUM_READYQ; q++)
    if (rc == 0 && strata__readyq_init(&chip->readyq[q], qcap) != 0) rc = STRATA_ENOMEM;
  if (rc == 0 && strata__tmap_init(&chip->tmap, 4096, chip->cfg.tensormap_cap) != 0) rc = STRATA_ENOMEM;
  chip->scope_tasks = strata__calloc(chip->cfg.scope_tasks_cap, sizeof(strata__task *));
  if (rc == 0 && !chip->scope_tasks) rc = STRATA_ENOMEM;
  return rc;
}

static void chip_free_parts(strata_chip *chip) {
  strata__free(chip->scope_tasks);
  strata__tmap_destroy(&chip->tmap);
  for (int q = 0; q < STRATA_NUM_READYQ; q++) strata__readyq_destroy(&chip->readyq[q]);
  cores_destroy(chip);
  strata__rings_destroy(chip);
}

int strata_chip_create(const strata_chip_config *cfg, strata_chip **out) {
  if (!out) return strata__fail(STRATA_EINVAL, "strata_chip_create: out is NULL");
  strata__trace_env_init(); /* STRATA_TRACE: start on first use */
  strata_chip *chip = strata__calloc(1, sizeof(*chip));
  if (!chip) return strata__fail(STRATA_ENOMEM, "cannot allocate the chip object");
  int rc = config_resolve(cfg, &chip->cfg);
  if (rc != 0) goto err_free;
  rc = chip_alloc_parts(chip);
  if (rc != 0) goto err_parts;
  if (chip->cfg.init_delay_ms) strata__sleep_ms(chip->cfg.init_delay_ms);
  chip->orch.chip = chip;
  strata__event_init(&chip->orch_ev, 0); /* counters for the chip's life */
  strata__event_init(&chip->host_ev, 0);
  strata__event_init(&chip->start_ev, 0);
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
  strata__chip_trace_flush(chip);
  if (!chip->wedged && strata__threads_exit(chip) != 0) chip->wedged = 1;
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
