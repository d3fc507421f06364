/* worker.c - a level worker's lifecycle: create (the configuration chain of
 * its subtree), registration of callables (broadcast to every child after
 * init), init (map, fork, start the watcher, INIT_DONE barrier run by the
 * event loop), close, the tree's pids, and the extension interface of
 * level_ext.h. Cold path. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "level/level_int.h"

/* ---- create ------------------------------------------------------------------ */
strata_node *strata__node_alloc(void) {
  strata_node *n = strata__calloc(1, sizeof(*n));
  if (!n) return NULL;
  n->orch.node = n;
  n->watch_efd = -1;
  n->path = n->path_buf;
  for (uint32_t c = 0; c < STRATA_NODE_MAX_CHILDREN; c++) n->child[c].pidfd = -1;
  return n;
}

int strata_node_create(const strata_node_config *cfg, strata_node **out) {
  if (!out) return strata__fail(STRATA_EINVAL, "node_create: out is NULL");
  strata__trace_env_init(); /* STRATA_TRACE: start on first use */
  strata_node_config chain[STRATA_MAX_LEVEL];
  uint32_t levels = 0;
  int rc = strata__config_chain(cfg, chain, &levels);
  if (rc) return rc;
  strata_node *n = strata__node_alloc();
  if (!n) return strata__fail(STRATA_ENOMEM, "cannot allocate the worker object");
  n->cfg = chain[0];
  n->cfg.worker_cfg = NULL; /* the chain is copied: no pointer into the caller's memory */
  for (uint32_t k = 1; k < levels; k++) n->wcfg[k - 1] = chain[k];
  n->nwcfg = levels - 1;
  n->total_chips = strata__config_chips(chain, levels);
  *out = n;
  return 0;
}

int strata__worker_child_create(const strata_node *parent, const strata__child *ch,
                                strata_node **out) {
  strata_node *n = strata__node_alloc();
  if (!n) return strata__fail(STRATA_ENOMEM, "cannot allocate the worker object");
  n->cfg = parent->wcfg[0];
  for (uint32_t k = 1; k < parent->nwcfg; k++) n->wcfg[k - 1] = parent->wcfg[k];
  n->nwcfg = parent->nwcfg - 1;
  n->total_chips = ch->nchips;
  n->reg = parent->reg;
  n->rank_base = parent->rank_base + ch->first_chip;
  n->devmem = parent->devmem + (size_t)ch->first_chip * parent->cfg.devmem_bytes;
  n->devmem_bytes = (size_t)ch->nchips * parent->cfg.devmem_bytes;
  n->tree_mem = parent->tree_mem;
  n->tree_bytes = parent->tree_bytes;
  snprintf(n->path_buf, sizeof(n->path_buf), "%s%s%s", parent->path, parent->path[0] ? " / " : "",
           ch->path);
  *out = n;
  return 0;
}

int strata__worker_lost(strata_node *w, char *msg, size_t len) {
  if (!w->initialized || !load_acquire(&w->deaths)) return 0; /* pairs with report_death */
  strata__loop_poll(w); /* reaps: broken, with the child named */
  for (uint32_t c = 0; c < w->nchildren; c++)
    if (w->child[c].lost) {
      strata__child_died_msg(w, c, "idle time", msg, len);
      return 1;
    }
  return 0;
}

/* ---- registration ------------------------------------------------------------ */
int strata__worker_register(strata_node *n, uint32_t what, const strata__func *f, uint32_t *id) {
  strata__registry *r = &n->reg;
  if (what >= STRATA_FN_KINDS || r->n[what] >= STRATA_NODE_MAX_FUNCS)
    return strata__fail(STRATA_ENOSPC, "register: more than %d functions of one kind",
                        STRATA_NODE_MAX_FUNCS);
  strata__func g = *f;
  int rc = g.spec[0] ? strata__func_resolve(&g) : 0;
  for (uint32_t c = 0; rc == 0 && n->initialized && c < n->nchildren; c++) {
    if (!n->child[c].alive) continue;
    strata__ctl q = {.ctl = STRATA_CTL_REGISTER, .arg = {what, 0, 0, 0}, .blob = &g,
                     .blob_len = sizeof(g)};
    rc = strata__ctl_sync(n, c, &q);
  }
  if (rc) return rc;
  r->f[what][r->n[what]] = g;
  *id = r->n[what]++;
  return 0;
}

static int do_register(strata_node *n, uint32_t what, const char *name, void (*fn)(void),
                       const char *spec, uint32_t kind, uint32_t *id) {
  if (!n || (!fn && !spec) || !id)
    return strata__fail(STRATA_EINVAL, "node register: node, the function (or its spec) and "
                        "id must be non-NULL");
  if (n->run.active)
    return strata__fail(STRATA_EBUSY, "node register: a run is in progress; register before "
                        "strata_node_run");
  strata__func f;
  memset(&f, 0, sizeof(f));
  snprintf(f.name, sizeof(f.name), "%s", name ? name : "anon");
  if (spec) snprintf(f.spec, sizeof(f.spec), "%s", spec);
  f.fn = fn;
  f.kind = kind;
  return strata__worker_register(n, what, &f, id);
}

int strata_node_register_kernel(strata_node *n, const char *name, strata_kernel_fn fn,
                                strata_core_kind kind, uint32_t *id) {
  return do_register(n, STRATA_FN_KERNEL, name, (void (*)(void))fn, NULL, kind, id);
}

int strata_node_register_orch(strata_node *n, const char *name, strata_orch_fn fn, uint32_t *id) {
  return do_register(n, STRATA_FN_ORCH, name, (void (*)(void))fn, NULL, 0, id);
}

int strata_node_register_sub(strata_node *n, const char *name, strata_sub_fn fn, uint32_t *id) {
  return do_register(n, STRATA_FN_SUB, name, (void (*)(void))fn, NULL, 0, id);
}

int strata_node_register_level_orch(strata_node *n, const char *name, strata_node_orch_fn fn,
                                    uint32_t *id) {
  return do_register(n, STRATA_FN_LEVEL_ORCH, name, (void (*)(void))fn, NULL, 0, id);
}

int strata_node_register_by_name(strata_node *n, strata_fn_kind kind, const char *name,
                                 const char *spec, strata_core_kind core, uint32_t *id) {
  if ((unsigned)kind >= STRATA_FN_KINDS || !spec)
    return strata__fail(STRATA_EINVAL, "register_by_name: kind must be a strata_fn_kind and "
                        "spec \"symbol\" or \"library.so:symbol\"");
  return do_register(n, kind, name ? name : spec, NULL, spec, core, id);
}

/* ---- init ------------------------------------------------------------------------ */
void strata__size_children(strata_node *n) {
  n->nchildren = (n->cfg.level == 3 ? n->cfg.chips : n->cfg.workers) + n->cfg.subs;
  n->ctl_bytes = STRATA_NODE_HDR_BYTES + (size_t)n->nchildren * STRATA_MBOX_BYTES;
}

void strata__map_tree_mem(strata_node *n) {
  n->devmem_bytes = (size_t)n->total_chips * n->cfg.devmem_bytes;
  n->devmem = strata__shm_map("dev", n->devmem_bytes);
  n->devmem_owned = 1;
  n->tree_mem = n->devmem;
  n->tree_bytes = n->devmem_bytes;
}

void strata__init_hdr(strata_node *n) {
  n->hdr = n->ctl;
  n->hdr->magic = STRATA_MBOX_MAGIC;
  n->hdr->version = STRATA_MBOX_VERSION;
  n->hdr->nchildren = n->nchildren;
  n->hdr->parent_pid = getpid();
  strata__event_init(&n->hdr->parent_ev, 1);
}

static int map_segments(strata_node *n) {
  strata__size_children(n);
  n->ctl = strata__shm_map("ctl", n->ctl_bytes);
  if (!n->devmem) strata__map_tree_mem(n); /* the root */
  if (!n->ctl || !n->devmem)
    return strata__fail(STRATA_ENOMEM, "cannot map %zu B of shared memory (is /dev/shm "
                        "mounted and large enough?); lower STRATA_NODE_DEVMEM",
                        n->ctl_bytes + n->devmem_bytes);
  strata__init_hdr(n);
  return 0;
}

void strata__layout_child(strata_node *n, uint32_t c) {
  strata__child *ch = &n->child[c];
  uint32_t nk = n->cfg.level == 3 ? n->cfg.chips : n->cfg.workers, per = n->total_chips / nk;
  ch->kind = c >= nk ? STRATA_CHILD_SUB : n->cfg.level == 3 ? STRATA_CHILD_CHIP : STRATA_CHILD_WORKER;
  ch->index = c < nk ? c : c - nk;
  ch->first_chip = c < nk ? c * per : 0;
  ch->nchips = c < nk ? per : 0;
  if (ch->kind == STRATA_CHILD_WORKER)
    snprintf(ch->path, sizeof(ch->path), "L%u child %u", n->cfg.level, ch->index);
  else
    snprintf(ch->path, sizeof(ch->path), "%s %u", ch->kind == STRATA_CHILD_CHIP ? "chip" : "sub",
             ch->index);
  strata__mailbox *mb = strata__mbox(n, c);
  memset(mb, 0, offsetof(strata__mailbox, blob));
  mb->magic = STRATA_MBOX_MAGIC;
  mb->version = STRATA_MBOX_VERSION;
  mb->kind = ch->kind;
  mb->index = ch->index;
  strata__event_init(&mb->child_ev, 1);
}

/* 1 once every child is INIT_DONE, or one failed or died. */
static int barrier_done(strata_node *n, void *arg) {
  (void)arg;
  uint32_t ready = 0;
  for (uint32_t c = 0; c < n->nchildren; c++) {
    const strata__child *ch = &n->child[c];
    if (ch->init_failed || !ch->alive) return 1;
    ready += ch->ready;
  }
  return ready == n->nchildren;
}

static int barrier_error(strata_node *n) {
  char name[160], late[320] = "";
  size_t len = 0;
  for (uint32_t c = 0; c < n->nchildren; c++) {
    const strata__child *ch = &n->child[c];
    strata__child_name(n, c, name, sizeof(name));
    if (ch->init_failed)
      return strata__fail(STRATA_CHILD_INIT_FAILED, "%s failed to initialise: %s (%s)", name,
                          strata__mbox(n, c)->errmsg, strata_err_name(strata__mbox(n, c)->error_code));
    if (!ch->alive) {
      char msg[384];
      strata__child_died_msg(n, c, "init", msg, sizeof(msg));
      return strata__fail(STRATA_ENDPOINT_FAILURE, "%s", msg);
    }
    if (!ch->ready && len < sizeof(late) - 64)
      len += (size_t)snprintf(late + len, sizeof(late) - len, "%s%s", len ? ", " : "", name);
  }
  return strata__fail(STRATA_ETIMEDOUT, "startup deadline of %u ms passed; not ready: %s "
                      "(raise STRATA_NODE_STARTUP_TIMEOUT_MS for slow inits)",
                      n->cfg.startup_timeout_ms, late);
}

/* Nothing is dispatched until every child of every kind is INIT_DONE (a
 * worker child reports it once its whole subtree is ready). */
static int init_barrier(strata_node *n) {
  int rc = strata__loop_until(n, barrier_done, NULL, n->init_deadline, "the init barrier");
  for (uint32_t c = 0; rc == 0 && c < n->nchildren; c++)
    if (!n->child[c].ready) rc = -1;
  return rc ? barrier_error(n) : 0;
}

void strata__unmap_segments(strata_node *n) {
  if (n->devmem_owned) strata__shm_unmap(n->devmem, n->devmem_bytes);
  if (n->devmem_owned) n->devmem = NULL;
  strata__shm_unmap(n->ctl, n->ctl_bytes);
  n->ctl = NULL;
}

int strata_node_init(strata_node *n) {
  if (!n) return strata__fail(STRATA_EINVAL, "node_init: node is NULL");
  if (n->initialized || n->ctl) return strata__fail(STRATA_EBUSY, "node_init: already initialised");
  if (!n->devmem) strata__shm_sweep_dead(); /* a root: names a killed tree left behind */
  int rc = strata__claim(n); /* a transport may serve the worker children (level_ext.h) */
  if (rc) return rc;
  rc = map_segments(n);
  if (rc) goto err_unmap;
  for (uint32_t c = 0; c < n->nchildren; c++) strata__layout_child(n, c);
  rc = strata__spawn_children(n);
  if (rc == 0 && n->rops) rc = n->rops->start(n, n->rctx); /* forks, then its threads */
  if (rc == 0) rc = strata__watcher_start(n); /* the first thread: after every fork */
  n->init_deadline = strata__deadline_ms(n->cfg.startup_timeout_ms);
  if (rc == 0 && n->cfg.init_barrier) rc = init_barrier(n);
  if (rc) goto err_teardown;
  n->initialized = 1;
  return 0;
err_teardown:
  strata__teardown(n);
  if (n->rops) n->rops->stop(n, n->rctx);
  n->rops = NULL;
err_unmap:
  strata__unmap_segments(n);
  return rc;
}

/* ---- queries and close ------------------------------------------------------------ */
pid_t strata_node_child_pid(const strata_node *n, strata_child_kind kind, uint32_t index) {
  for (uint32_t c = 0; n && c < n->nchildren; c++)
    if (n->child[c].kind == kind && n->child[c].index == index) return n->child[c].pid;
  return -1;
}

int strata_node_tree_pids(const strata_node *n, pid_t *pids, size_t max, size_t *count) {
  if (!n || !count || (!pids && max))
    return strata__fail(STRATA_EINVAL, "node_tree_pids: node and count must be non-NULL "
                        "(pids may be NULL only with max 0)");
  size_t k = 0;
  for (uint32_t c = 0; c < n->nchildren; c++) {
    if (k < max) pids[k] = n->child[c].pid;
    k++;
    for (uint32_t i = 0; i < n->child[c].ntree; i++, k++)
      if (k < max) pids[k] = n->child[c].tree[i];
  }
  *count = k;
  return 0;
}

uint32_t strata_node_chips(const strata_node *n) { return n ? n->total_chips : 0; }

int strata_node_close(strata_node *n) {
  if (!n) return 0;
  if (n->run.active)
    return strata__fail(STRATA_EBUSY, "node_close: called from inside a run; return from "
                        "the orchestration first");
  for (uint32_t e = 0; e < STRATA_MAX_EXT; e++)
    if (n->ext[e].ops && n->ext[e].ops->close) n->ext[e].ops->close(n, n->ext[e].ctx);
  if (n->ctl) strata__teardown(n);
  strata__watcher_stop(n);
  if (n->rops) n->rops->stop(n, n->rctx);
  strata__unmap_segments(n);
  strata__run_free(n);
  strata__free(n);
  return 0;
}

/* ---- the extension interface (level_ext.h) ------------------------------------------ */
int strata__ext_attach(strata_node *n, const strata__ext_ops *ops, void *ctx) {
  for (uint32_t e = 0; e < STRATA_MAX_EXT; e++)
    if (!n->ext[e].ops) return n->ext[e] = (strata__ext_slot){ops, ctx}, 0;
  return strata__fail(STRATA_ENOSPC, "more than %d extensions on one worker", STRATA_MAX_EXT);
}

void *strata__ext_ctx(strata_node *n, const strata__ext_ops *ops) {
  for (uint32_t e = 0; n && e < STRATA_MAX_EXT; e++)
    if (n->ext[e].ops == ops) return n->ext[e].ctx;
  return NULL;
}

void strata__ext_detach(strata_node *n, const strata__ext_ops *ops) {
  for (uint32_t e = 0; e < STRATA_MAX_EXT; e++)
    if (n->ext[e].ops == ops) n->ext[e] = (strata__ext_slot){NULL, NULL};
}

int strata__ext_control(strata_node *n, uint32_t child, const strata__ext_ops *ops, uint32_t ctl,
                        const uint64_t arg[4], const void *blob, uint32_t blob_len, int wait,
                        strata__ext_done_fn done, void *ctx) {
  if (wait) {
    strata__ctl q = {.ctl = STRATA_CTL_EXT, .ext = ops, .ext_op = ctl, .blob = blob,
                     .blob_len = blob_len};
    memcpy(q.arg, arg, sizeof(q.arg));
    return strata__ctl_sync(n, child, &q);
  }
  strata__ctl *q = strata__calloc(1, sizeof(*q) + blob_len);
  if (!q) return strata__fail(STRATA_ENOMEM, "out of memory queueing a control");
  *q = (strata__ctl){.ctl = STRATA_CTL_EXT, .ext = ops, .ext_op = ctl, .blob = q + 1,
                     .blob_len = blob_len, .cb = done, .cb_ctx = ctx, .owned = 1};
  memcpy(q->arg, arg, sizeof(q->arg));
  if (blob_len) memcpy(q + 1, blob, blob_len);
  strata__ctl_queue(n, child, q);
  strata__loop_poll(n);
  return 0;
}

int strata__level_run_active(const strata_node *n) { return n && n->run.active; }

int strata__level_chip_alive(strata_node *n, uint32_t chip) {
  if (!n || !n->initialized || chip >= n->nchildren) return 0;
  strata__loop_poll(n); /* reap what died since the last pass */
  return n->child[chip].kind == STRATA_CHILD_CHIP && n->child[chip].alive;
}

int strata__level_chip_ready(strata_node *n, uint32_t chip) {
  return strata__level_chip_alive(n, chip) && n->child[chip].ready;
}

uint32_t strata__level_chips(const strata_node *n) {
  return n && n->initialized && n->cfg.level == 3 ? n->cfg.chips : 0;
}
