/* node.c - node worker lifecycle: configuration, registration (broadcast
 * after init), init with the INIT_DONE barrier, device-memory controls, and
 * close. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "node/node_int.h"

/* ---- configuration: one table, the platform's resolver ------------------------ */
#define F(bit, name, env, def, min, max, member)                                          \
  {bit, name, env, NULL, def, min, max, NULL, offsetof(strata_node_config, member),       \
   sizeof(((strata_node_config *)0)->member) == 8, 0}

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
  return rc;
}

void strata_node_config_init(strata_node_config *c) {
  if (!c) return;
  resolve(NULL, c); /* the environment alone cannot fail */
  c->field_mask = 0;
  c->chip.field_mask = 0;
}

int strata_node_create(const strata_node_config *cfg, strata_node **out) {
  if (!out) return strata__fail(STRATA_EINVAL, "node_create: out is NULL");
  strata_node_config c;
  int rc = resolve(cfg, &c);
  if (rc) return rc;
  if (c.chips < 1 || c.chips + c.subs > STRATA_NODE_MAX_CHILDREN || c.devmem_bytes < 4096)
    return strata__fail(STRATA_EINVAL, "node_create: %u chips + %u subs: need 1..%d children "
                        "with at least one chip, devmem >= 4096 B", c.chips, c.subs,
                        STRATA_NODE_MAX_CHILDREN);
  strata_node *n = strata__calloc(1, sizeof(*n));
  if (!n) return strata__fail(STRATA_ENOMEM, "cannot allocate the node object");
  n->cfg = c;
  n->orch.node = n;
  *out = n;
  return 0;
}

/* ---- registration ------------------------------------------------------------ */
static int do_register(strata_node *n, uint32_t what, const char *name, void (*fn)(void),
                       uint32_t kind, uint32_t *id) {
  if (!n || !fn || !id) return strata__fail(STRATA_EINVAL, "node register: node, fn and id required");
  strata__registry *r = &n->reg;
  if (r->n[what] >= STRATA_NODE_MAX_FUNCS)
    return strata__fail(STRATA_ENOSPC, "node register: more than %d functions of one kind",
                        STRATA_NODE_MAX_FUNCS);
  strata__func f;
  memset(&f, 0, sizeof(f));
  snprintf(f.name, sizeof(f.name), "%s", name ? name : "anon");
  f.fn = fn;
  f.kind = kind;
  const uint64_t arg[4] = {what, 0, 0, 0};
  for (uint32_t c = 0; n->initialized && c < n->nchildren; c++) {
    if (what != STRATA_REG_SUB && n->child[c].kind != STRATA_CHILD_CHIP) continue;
    if (what == STRATA_REG_SUB && n->child[c].kind != STRATA_CHILD_SUB) continue;
    int rc = strata__control(n, c, STRATA_CTL_REGISTER, arg, &f, sizeof(f), NULL);
    if (rc) return rc;
  }
  r->f[what][r->n[what]] = f;
  *id = r->n[what]++;
  return 0;
}

int strata_node_register_kernel(strata_node *n, const char *name, strata_kernel_fn fn,
                                strata_core_kind kind, uint32_t *id) {
  return do_register(n, STRATA_REG_KERNEL, name, (void (*)(void))fn, kind, id);
}

int strata_node_register_orch(strata_node *n, const char *name, strata_orch_fn fn, uint32_t *id) {
  return do_register(n, STRATA_REG_ORCH, name, (void (*)(void))fn, 0, id);
}

int strata_node_register_sub(strata_node *n, const char *name, strata_sub_fn fn, uint32_t *id) {
  return do_register(n, STRATA_REG_SUB, name, (void (*)(void))fn, 0, id);
}

/* ---- init --------------------------------------------------------------------- */
static int map_segments(strata_node *n) {
  n->nchildren = n->cfg.chips + n->cfg.subs;
  n->ctl_bytes = STRATA_NODE_HDR_BYTES + (size_t)n->nchildren * STRATA_MBOX_BYTES;
  n->ctl = strata__shm_map("ctl", n->ctl_bytes);
  n->devmem_bytes = (size_t)n->cfg.chips * n->cfg.devmem_bytes;
  n->devmem = strata__shm_map("dev", n->devmem_bytes);
  if (!n->ctl || !n->devmem)
    return strata__fail(STRATA_ENOMEM, "cannot map %zu B of shared memory (is /dev/shm "
                        "mounted and large enough?); lower STRATA_NODE_DEVMEM",
                        n->ctl_bytes + n->devmem_bytes);
  n->hdr = n->ctl;
  n->hdr->magic = STRATA_MBOX_MAGIC;
  n->hdr->version = STRATA_MBOX_VERSION;
  n->hdr->nchildren = n->nchildren;
  n->hdr->parent_pid = getpid();
  strata__event_init(&n->hdr->parent_ev, 1);
  return 0;
}

static void layout_children(strata_node *n) {
  for (uint32_t c = 0; c < n->nchildren; c++) {
    strata__child *ch = &n->child[c];
    strata__mailbox *mb = strata__mbox(n, c);
    ch->kind = c < n->cfg.chips ? STRATA_CHILD_CHIP : STRATA_CHILD_SUB;
    ch->index = c < n->cfg.chips ? c : c - n->cfg.chips;
    memset(mb, 0, offsetof(strata__mailbox, blob));
    mb->magic = STRATA_MBOX_MAGIC;
    mb->version = STRATA_MBOX_VERSION;
    mb->kind = ch->kind;
    mb->index = ch->index;
    strata__event_init(&mb->child_ev, 1);
  }
}

/* 1 = all INIT_DONE; <0 = a child failed or died; 0 = keep waiting. */
static int barrier_step(strata_node *n) {
  char name[64], msg[384];
  uint32_t ready = 0;
  strata__reap(n);
  for (uint32_t c = 0; c < n->nchildren; c++) {
    strata__mailbox *mb = strata__mbox(n, c);
    uint32_t st = load_acquire(&mb->state); /* pairs with the child's reply */
    if (st == STRATA_MB_INIT_FAILED)
      return strata__fail(STRATA_CHILD_INIT_FAILED, "%s failed to initialise: %s (%s)",
                          strata__child_name(n, c, name, sizeof(name)), mb->errmsg,
                          strata_err_name(mb->error_code));
    if (st == STRATA_MB_INIT_DONE) ready++;
    else if (!n->child[c].alive) {
      strata__child_died_msg(n, c, "init", msg, sizeof(msg));
      return strata__fail(STRATA_ENDPOINT_FAILURE, "%s", msg);
    }
  }
  return ready == n->nchildren;
}

static int barrier_timeout(strata_node *n) {
  char late[256] = "", name[64];
  size_t len = 0;
  for (uint32_t c = 0; c < n->nchildren && len < sizeof(late) - 64; c++)
    if (load_acquire(&strata__mbox(n, c)->state) != STRATA_MB_INIT_DONE)
      len += (size_t)snprintf(late + len, sizeof(late) - len, "%s%s", len ? ", " : "",
                              strata__child_name(n, c, name, sizeof(name)));
  return strata__fail(STRATA_ETIMEDOUT, "startup deadline of %u ms passed; not ready: %s "
                      "(raise STRATA_NODE_STARTUP_TIMEOUT_MS for slow inits)",
                      n->cfg.startup_timeout_ms, late);
}

/* Nothing is dispatched until every child of every kind is INIT_DONE. */
static int init_barrier(strata_node *n) {
  uint64_t deadline = strata__deadline_ms(n->cfg.startup_timeout_ms);
  for (;;) {
    uint32_t seen = strata__event_read(&n->hdr->parent_ev);
    int r = barrier_step(n);
    if (r < 0) return r;
    if (r == 1) break;
    uint64_t now = strata__now_ns();
    if (now >= deadline) return barrier_timeout(n);
    uint64_t t = now + 20 * STRATA_NS_PER_MS;
    strata__event_wait(&n->hdr->parent_ev, seen, t < deadline ? t : deadline);
  }
  for (uint32_t c = 0; c < n->nchildren; c++) strata__child_ready(n, c);
  return 0;
}

static void unmap_segments(strata_node *n) {
  strata__shm_unmap(n->devmem, n->devmem_bytes);
  strata__shm_unmap(n->ctl, n->ctl_bytes);
  n->devmem = NULL;
  n->ctl = NULL;
}

int strata_node_init(strata_node *n) {
  if (!n) return strata__fail(STRATA_EINVAL, "node_init: node is NULL");
  if (n->initialized || n->ctl) return strata__fail(STRATA_EBUSY, "node_init: already initialised");
  int rc = map_segments(n);
  if (rc) goto err_unmap;
  layout_children(n);
  rc = strata__spawn_children(n);
  n->init_deadline = strata__deadline_ms(n->cfg.startup_timeout_ms);
  if (rc == 0 && n->cfg.init_barrier) rc = init_barrier(n);
  if (rc) goto err_teardown;
  n->initialized = 1;
  return 0;
err_teardown:
  strata__teardown(n);
err_unmap:
  unmap_segments(n);
  return rc;
}

pid_t strata_node_child_pid(const strata_node *n, strata_child_kind kind, uint32_t index) {
  for (uint32_t c = 0; n && c < n->nchildren; c++)
    if (n->child[c].kind == kind && n->child[c].index == index) return n->child[c].pid;
  return -1;
}

int strata_node_close(strata_node *n) {
  if (!n) return 0;
  if (n->comm_close) n->comm_close(n);
  if (n->ctl) strata__teardown(n);
  unmap_segments(n);
  strata__norch_free(n);
  for (uint32_t c = 0; c < n->nchildren; c++) strata__free(n->child[c].defer);
  strata__free(n);
  return 0;
}

/* ---- device memory controls ---------------------------------------------------- */
static int chip_child(strata_node *n, uint32_t chip) {
  if (!n || !n->initialized)
    return strata__fail(STRATA_EINVAL, "node is not initialised; call strata_node_init first");
  if (chip >= n->cfg.chips)
    return strata__fail(STRATA_EINVAL, "chip %u does not exist (node has %u chips): use 0..%u "
                        "or create the node with more chips", chip, n->cfg.chips,
                        n->cfg.chips - 1);
  return 0;
}

int strata_node_malloc(strata_node *n, uint32_t chip, size_t bytes, void **dev) {
  uint64_t arg[4] = {bytes, 0, 0, 0}, addr = 0;
  int rc = dev ? chip_child(n, chip) : strata__fail(STRATA_EINVAL, "node_malloc: dev is NULL");
  if (rc == 0) rc = strata__control(n, chip, STRATA_CTL_MALLOC, arg, NULL, 0, &addr);
  if (rc == 0) *dev = (void *)(uintptr_t)addr;
  return rc;
}

int strata_node_free(strata_node *n, uint32_t chip, void *dev) {
  uint64_t arg[4] = {(uint64_t)(uintptr_t)dev, 0, 0, 0};
  int rc = chip_child(n, chip);
  return rc ? rc : strata__control(n, chip, STRATA_CTL_FREE, arg, NULL, 0, NULL);
}

int strata_node_copy_to(strata_node *n, uint32_t chip, void *dev, const void *src, size_t bytes) {
  int rc = chip_child(n, chip);
  for (size_t off = 0; rc == 0 && off < bytes; off += STRATA_MBOX_BLOB_BYTES) {
    size_t len = bytes - off < STRATA_MBOX_BLOB_BYTES ? bytes - off : STRATA_MBOX_BLOB_BYTES;
    uint64_t arg[4] = {(uint64_t)(uintptr_t)dev + off, len, 0, 0};
    rc = strata__control(n, chip, STRATA_CTL_COPY_TO, arg, (const char *)src + off,
                         (uint32_t)len, NULL);
  }
  return rc;
}

int strata_node_copy_from(strata_node *n, uint32_t chip, void *dst, const void *dev, size_t bytes) {
  int rc = chip_child(n, chip);
  for (size_t off = 0; rc == 0 && off < bytes; off += STRATA_MBOX_BLOB_BYTES) {
    size_t len = bytes - off < STRATA_MBOX_BLOB_BYTES ? bytes - off : STRATA_MBOX_BLOB_BYTES;
    uint64_t arg[4] = {(uint64_t)(uintptr_t)dev + off, len, 0, 0};
    rc = strata__control(n, chip, STRATA_CTL_COPY_FROM, arg, NULL, 0, NULL);
    if (rc == 0) memcpy((char *)dst + off, strata__mbox(n, chip)->blob, len);
  }
  return rc;
}
