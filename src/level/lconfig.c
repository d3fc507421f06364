/* lconfig.c - configuration of level workers: one table resolved by the
 * platform's resolver (explicit field, else environment, else default), the
 * timeout ordering against the chips' stream sync, the shape of each level
 * (chips and subs at L3; next-level workers and subs above) and the chain of
 * configurations of the levels below (worker_cfg), copied at create. */
#include <stdio.h>
#include <string.h>

#include "level/level_int.h"

/* ---- configuration: one table, the platform's resolver ------------------------ */
#define FP(bit, name, env, def, min, max, member, pow2)                                   \
  {bit, name, env, NULL, def, min, max, NULL, offsetof(strata_node_config, member),       \
   sizeof(((strata_node_config *)0)->member) == 8, pow2}
#define F(bit, name, env, def, min, max, member) FP(bit, name, env, def, min, max, member, 0)

static const strata__cfg_field node_fields[] = {
    F(STRATA_NCFG_CHIPS, "chips", "STRATA_NODE_CHIPS", 1, 1, STRATA_NODE_MAX_CHILDREN, chips),
    F(STRATA_NCFG_SUBS, "subs", "STRATA_NODE_SUBS", 0, 0, STRATA_NODE_MAX_CHILDREN - 1, subs),
    F(STRATA_NCFG_STARTUP_TIMEOUT, "startup_timeout_ms", "STRATA_NODE_STARTUP_TIMEOUT_MS", 30000, 1,
      3600000, startup_timeout_ms),
    F(STRATA_NCFG_TASK_TIMEOUT, "task_timeout_ms", "STRATA_NODE_TASK_TIMEOUT_MS",
      STRATA_DEFAULT_NODE_TASK_TIMEOUT_MS, 1, 3600000, task_timeout_ms),
    F(STRATA_NCFG_DEVMEM, "devmem_bytes", "STRATA_NODE_DEVMEM", 64ull << 20, 4096, 1ull << 40,
      devmem_bytes),
    F(STRATA_NCFG_INIT_BARRIER, "init_barrier", "STRATA_NODE_INIT_BARRIER", 1, 0, 1, init_barrier),
    F(STRATA_NCFG_LEVEL, "level", NULL, 3, 3, STRATA_MAX_LEVEL, level),
    F(STRATA_NCFG_WORKERS, "workers", NULL, 0, 0, STRATA_NODE_MAX_CHILDREN, workers),
    FP(STRATA_NCFG_TASK_WINDOW, "task_window", "STRATA_NODE_TASK_WINDOW", 4096, 16, 1u << 24,
       task_window, 1),
};

static int task_timeout_ordered(const strata_node_config *c) {
  uint32_t sync = c->chip.stream_sync_timeout_ms;
  return sync == 0 || c->chip.unordered_timeouts || c->task_timeout_ms > sync;
}

/* The node's task deadline must be above the chips' stream sync, or a slow
 * chip run is killed by the node before the chip can report what hangs. */
static int order_task_timeout(const strata_node_config *in, strata_node_config *c) {
  if (task_timeout_ordered(c)) return 0;
  uint32_t task = c->task_timeout_ms, sync = c->chip.stream_sync_timeout_ms;
  if ((in && (in->field_mask & STRATA_NCFG_TASK_TIMEOUT)) ||
      (in && (in->chip.field_mask & STRATA_CFG_SYNC_TIMEOUT)))
    return strata__fail(STRATA_EINVAL, "node task_timeout_ms (%u) must exceed the chips' "
                        "stream_sync_timeout_ms (%u), or the node kills a slow chip run "
                        "before the chip can report it; raise task_timeout_ms above %u or "
                        "lower the stream sync", task, sync, sync);
  char key[96];
  snprintf(key, sizeof(key), "node-timeout-order:%u:%u", task, sync);
  strata__warn_once(key, "STRATA_NODE_TASK_TIMEOUT_MS=%u is not above "
                    "STRATA_STREAM_SYNC_TIMEOUT_MS=%u; using the defaults %u / %u ms instead. "
                    "Fix: set the node task timeout above the stream sync", task, sync,
                    STRATA_DEFAULT_NODE_TASK_TIMEOUT_MS, STRATA_DEFAULT_SYNC_TIMEOUT_MS);
  c->task_timeout_ms = STRATA_DEFAULT_NODE_TASK_TIMEOUT_MS;
  c->chip.stream_sync_timeout_ms = STRATA_DEFAULT_SYNC_TIMEOUT_MS;
  if (c->chip.scheduler_timeout_ms + 1500 >= STRATA_DEFAULT_SYNC_TIMEOUT_MS)
    c->chip.scheduler_timeout_ms = STRATA_DEFAULT_SCHED_TIMEOUT_MS;
  return 0;
}

/* Explicit fields, else environment, else defaults; the chip configuration
 * is resolved here once, so every chip child gets the same values (and the
 * environment warns once, in the parent). */
static int resolve(const strata_node_config *in, strata_node_config *out) {
  memset(out, 0, sizeof(*out));
  uint64_t mask = in ? in->field_mask : 0;
  int rc = strata__cfg_resolve(node_fields, STRATA_ARRAY_SIZE(node_fields), in, mask, out);
  if (rc == 0) rc = strata_chip_config_resolve(in ? &in->chip : NULL, &out->chip);
  if (rc == 0) rc = order_task_timeout(in, out);
  out->field_mask = mask;
  out->chip.field_mask = ~0ull; /* resolved: children take every field as is */
  out->worker_cfg = in ? in->worker_cfg : NULL;
  return rc;
}

void strata_node_config_init(strata_node_config *c) {
  if (!c) return;
  resolve(NULL, c); /* the environment alone cannot fail */
  c->field_mask = 0;
  c->chip.field_mask = 0;
}

static int shape_error(const strata_node_config *c, const char *what) {
  return strata__fail(STRATA_EINVAL, "L%u worker config: %s (chips %u, workers %u, subs %u; "
                      "at most %d children)", c->level, what, c->chips, c->workers, c->subs,
                      STRATA_NODE_MAX_CHILDREN);
}

static int check_shape(const strata_node_config *c) {
  uint32_t kids = (c->level == 3 ? c->chips : c->workers) + c->subs;
  if (c->level == 3 && c->workers) return shape_error(c, "an L3 worker has chips, not workers");
  if (c->level == 3 && c->chips == 0) return shape_error(c, "an L3 worker needs at least one chip");
  if (c->level > 3 && c->workers == 0)
    return shape_error(c, "a worker above L3 needs at least one next-level worker");
  if (kids > STRATA_NODE_MAX_CHILDREN) return shape_error(c, "too many children");
  return 0;
}

/* The configuration of the level below c when c->worker_cfg is NULL: the
 * same chips, no subs, the same fan-out further down. */
static void default_below(const strata_node_config *c, strata_node_config *w) {
  *w = *c;
  w->level = c->level - 1;
  w->subs = 0;
  w->chips = w->level == 3 ? (c->chips ? c->chips : 2) : 0;
  w->workers = w->level == 3 ? 0 : c->workers;
  w->worker_cfg = NULL;
}

/* Resolve cfg and every level below it into out[0..levels): out[0] is cfg. */
int strata__config_chain(const strata_node_config *cfg, strata_node_config *out, uint32_t *levels) {
  const strata_node_config *in = cfg;
  strata_node_config below;
  uint32_t k = 0;
  for (;;) {
    int rc = resolve(in, &out[k]);
    if (rc == 0) rc = check_shape(&out[k]);
    if (rc) return rc;
    if (k > 0) out[k].devmem_bytes = out[0].devmem_bytes; /* one chip size for the tree */
    if (k > 0 && out[k].level != out[k - 1].level - 1)
      return shape_error(&out[k], "worker_cfg must describe the level just below");
    if (out[k].level == 3) break;
    if (out[k].worker_cfg) {
      in = out[k].worker_cfg;
    } else {
      default_below(&out[k], &below);
      below.field_mask = ~0ull;
      in = &below;
    }
    if (++k >= STRATA_MAX_LEVEL) return shape_error(&out[0], "worker_cfg chain too deep");
  }
  *levels = k + 1;
  return 0;
}

uint32_t strata__config_chips(const strata_node_config *chain, uint32_t levels) {
  uint32_t chips = chain[levels - 1].chips;
  for (uint32_t k = levels - 1; k-- > 0;) chips *= chain[k].workers;
  return chips;
}
