/* child.c - the child side of a worker: initialise (a chip runtime for a
 * chip child; a whole next-level worker, forking its own subtree, for a
 * worker child), publish INIT_DONE or INIT_FAILED, then serve the mailbox:
 * run tasks (a chip orchestration, a sub function, or a level orchestration
 * as a run of the next-level worker), answer controls (a worker child
 * forwards device-memory controls to its own children), exit on SHUTDOWN or
 * when the parent is gone.
 *
 * DESIGN: single-threaded apart from the chip runtime's threads (inside
 * strata_chip_run) and a worker child's death watcher. The child parks on
 * its mailbox event (futex) and re-checks its parent every second.
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "level/level_int.h"

#define CHILD_PARK_MS 1000
#define DEVMEM_ALIGN 64u
#define DEVMEM_MAX_BLOCKS 4096u

typedef struct devblock {
  size_t off, len;
} devblock;

struct child_state {
  strata_node *n;
  uint32_t c;
  strata__mailbox *mb;
  strata_chip *chip;
  strata_node *worker;  /* worker children: the next-level worker */
  unsigned char *slice; /* this chip's device memory */
  size_t slice_bytes;
  devblock used[DEVMEM_MAX_BLOCKS]; /* sorted by offset */
  uint32_t nused;
};
typedef struct child_state child_state;

/* ---- fault injection ------------------------------------------------------- */
/* STRATA_FAULT_INIT_DELAY_MS:
 *   "<rank>:<ms>[,<rank>:<ms>...]"  fixed delays (rank may be '*');
 *   "longtail:<max_ms>[:<seed>]"    every chip draws max_ms * u^3;
 *   "tail:<rank>:<median_ms>[:<seed>]"  only `rank` is delayed, by a
 *       log-logistic draw (median, shape TAIL_SHAPE): the field's one slow
 *       peer. All draws are deterministic per (seed, rank). */
#define TAIL_SHAPE 5.6 /* P(> 1.82 x median) = 1/30, as in the field's 29/1 */

static double uniform01(unsigned long seed, uint32_t rank) { /* in (0, 1) */
  uint64_t x = (seed + 1) * 0x9E3779B97F4A7C15ull ^ ((uint64_t)rank + 1) * 0xBF58476D1CE4E5B9ull;
  x ^= x >> 31;
  x *= 0x94D049BB133111EBull;
  x ^= x >> 29;
  return ((double)(x >> 11) + 0.5) / 9007199254740992.0;
}

/* A whole number at *p (advanced past it); -1 if there is none. */
static int take_ul(const char **p, unsigned long *v) {
  char *end;
  if (**p < '0' || **p > '9') return -1;
  *v = strtoul(*p, &end, 10);
  *p = end;
  return 0;
}

/* Parse "<n>[:<n>...]" (between min and max numbers) up to the end. */
static int take_list(const char *p, unsigned long *v, int min, int max) {
  int n = 0;
  for (; n < max; n++) {
    if (take_ul(&p, &v[n]) != 0) return -1;
    if (*p == '\0') return n + 1 >= min ? n + 1 : -1;
    if (*p++ != ':') return -1;
  }
  return -1;
}

static int longtail(const char *spec, uint32_t rank, uint32_t *ms) {
  unsigned long v[2] = {0, 1};
  if (take_list(spec, v, 1, 2) < 0) return -1;
  double u = uniform01(v[1], rank);
  *ms = (uint32_t)((double)v[0] * u * u * u);
  return 0;
}

static int one_rank_tail(const char *spec, uint32_t rank, uint32_t *ms) {
  unsigned long v[3] = {0, 0, 1};
  if (take_list(spec, v, 2, 3) < 0) return -1;
  double u = uniform01(v[2], rank);
  *ms = v[0] != rank ? 0 : (uint32_t)((double)v[1] * pow(u / (1.0 - u), 1.0 / TAIL_SHAPE));
  return 0;
}

/* "<rank>:<ms>" or "*:<ms>", comma separated; the first match wins. */
static int fixed_list(const char *p, uint32_t rank, uint32_t *ms) {
  int found = 0;
  for (;;) {
    unsigned long r = 0, v;
    int any = *p == '*';
    if (any) p++;
    else if (take_ul(&p, &r) != 0) return -1;
    if (*p++ != ':' || take_ul(&p, &v) != 0 || (*p != ',' && *p != '\0')) return -1;
    if (!found && (any || r == rank)) *ms = (uint32_t)v, found = 1;
    if (*p == '\0') return 0;
    p++;
  }
}

int strata_fault_init_delay_parse(const char *spec, uint32_t rank, uint32_t *ms) {
  uint32_t out = 0;
  int rc = 0;
  if (!ms) return strata__fail(STRATA_EINVAL, "fault_init_delay_parse: ms is NULL");
  if (spec && *spec && strcmp(spec, "none") != 0) {
    if (strncmp(spec, "longtail:", 9) == 0) rc = longtail(spec + 9, rank, &out);
    else if (strncmp(spec, "tail:", 5) == 0) rc = one_rank_tail(spec + 5, rank, &out);
    else rc = fixed_list(spec, rank, &out);
  }
  if (rc != 0)
    return strata__fail(STRATA_EINVAL, "init delay '%s' is not valid: use <rank>:<ms>[,...] "
                        "(rank may be *), tail:<rank>:<median_ms>[:<seed>], "
                        "longtail:<max_ms>[:<seed>] or none", spec);
  *ms = out;
  return 0;
}

uint32_t strata__fault_init_delay_ms(uint32_t rank) {
  const char *s = getenv("STRATA_FAULT_INIT_DELAY_MS");
  uint32_t ms = 0;
  if (strata_fault_init_delay_parse(s, rank, &ms) != 0) {
    char key[128];
    snprintf(key, sizeof(key), "env:STRATA_FAULT_INIT_DELAY_MS=%s", s);
    strata__warn_once(key, "STRATA_FAULT_INIT_DELAY_MS: %s; no delay injected",
                      strata_last_error());
  }
  return ms;
}

static int fault_rank_listed(const char *var, uint32_t rank) {
  const char *s = getenv(var);
  if (!s) return 0;
  for (const char *p = s; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
    if ((unsigned long)rank == strtoul(p, NULL, 10) && *p >= '0' && *p <= '9') return 1;
  return 0;
}

/* ---- replies ------------------------------------------------------------------ */
static void reply(child_state *cs, uint32_t state, int code, const char *msg) {
  strata__mailbox *mb = cs->mb;
  mb->error_code = code;
  snprintf(mb->errmsg, sizeof(mb->errmsg), "%s", msg ? msg : "");
  store_release(&mb->state, state); /* pairs with load_acquire in wait_reply */
  strata__event_signal(&cs->n->hdr->parent_ev);
}

/* ---- device memory of this chip (first fit over sorted blocks) ----------------- */
static int dev_alloc(child_state *cs, size_t bytes, uint64_t *addr) {
  size_t len = (bytes + DEVMEM_ALIGN - 1) & ~(size_t)(DEVMEM_ALIGN - 1), at = 0;
  uint32_t i = 0;
  for (; i < cs->nused && cs->used[i].off - at < len; i++) at = cs->used[i].off + cs->used[i].len;
  if (len == 0 || at + len > cs->slice_bytes || cs->nused == DEVMEM_MAX_BLOCKS) return STRATA_ENOMEM;
  memmove(&cs->used[i + 1], &cs->used[i], (cs->nused - i) * sizeof(devblock));
  cs->used[i] = (devblock){at, len};
  cs->nused++;
  *addr = (uint64_t)(uintptr_t)(cs->slice + at);
  return 0;
}

static int dev_free(child_state *cs, uint64_t addr) {
  for (uint32_t i = 0; i < cs->nused; i++)
    if ((uint64_t)(uintptr_t)(cs->slice + cs->used[i].off) == addr) {
      memmove(&cs->used[i], &cs->used[i + 1], (cs->nused - i - 1) * sizeof(devblock));
      cs->nused--;
      return 0;
    }
  return STRATA_EINVAL;
}

static int dev_range_ok(child_state *cs, uint64_t addr, uint64_t len) {
  uintptr_t lo = (uintptr_t)cs->slice, a = (uintptr_t)addr;
  return cs->slice && a >= lo && len <= cs->slice_bytes && a - lo <= cs->slice_bytes - len;
}

/* ---- init ------------------------------------------------------------------------ */
/* Resolve a callable named by spec in this process, and give a kernel to
 * the chip runtime (in registration order: the same ids as the parent). */
static int add_func(child_state *cs, uint32_t what, const strata__func *f) {
  strata__registry *r = &cs->n->reg;
  if (what >= STRATA_FN_KINDS || r->n[what] >= STRATA_NODE_MAX_FUNCS) return STRATA_ENOSPC;
  strata__func g = *f;
  int rc = g.spec[0] ? strata__func_resolve(&g) : 0;
  if (rc) return rc;
  r->f[what][r->n[what]++] = g;
  if (what != STRATA_FN_KERNEL || !cs->chip) return 0;
  uint32_t id;
  return strata_chip_register_kernel(cs->chip, g.name, (strata_kernel_fn)g.fn,
                                     (strata_core_kind)g.kind, &id);
}

/* Every inherited callable is resolved again here (by name where it has a
 * spec) and kernels are registered with this chip. */
static int adopt_registry(child_state *cs, char *msg, size_t len) {
  strata__registry *r = &cs->n->reg, inherited = *r;
  int rc = 0;
  memset(r->n, 0, sizeof(r->n));
  for (uint32_t k = 0; k < STRATA_FN_KINDS && rc == 0; k++)
    for (uint32_t i = 0; i < inherited.n[k] && rc == 0; i++) rc = add_func(cs, k, &inherited.f[k][i]);
  if (rc) snprintf(msg, len, "registering callables: %s", strata_last_error());
  return rc;
}

static int chip_init(child_state *cs, char *msg, size_t len) {
  const strata__child *ch = &cs->n->child[cs->c];
  uint32_t rank = cs->n->rank_base + ch->first_chip; /* numbered across the tree */
  uint32_t delay = strata__fault_init_delay_ms(rank);
  if (delay) strata__sleep_ms(delay);
  if (fault_rank_listed("STRATA_FAULT_INIT_CRASH", rank)) raise(SIGKILL);
  if (fault_rank_listed("STRATA_FAULT_INIT_FAIL", rank))
    return snprintf(msg, len, "injected init failure (STRATA_FAULT_INIT_FAIL)"), STRATA_EINVAL;
  int rc = strata_chip_create(&cs->n->cfg.chip, &cs->chip);
  if (rc) return snprintf(msg, len, "chip runtime: %s", strata_last_error()), rc;
  cs->slice_bytes = cs->n->cfg.devmem_bytes;
  cs->slice = cs->n->devmem + (size_t)ch->first_chip * cs->slice_bytes;
  return adopt_registry(cs, msg, len);
}

/* A next-level worker over this child's share of the inherited device
 * memory; its init forks and readies its whole subtree. */
static int worker_init(child_state *cs, char *msg, size_t len) {
  const strata__child *ch = &cs->n->child[cs->c];
  int rc = adopt_registry(cs, msg, len);
  if (rc == 0)
    rc = strata__worker_child_create(cs->n, ch, &cs->worker);
  if (rc == 0) rc = strata_node_init(cs->worker);
  if (rc) snprintf(msg, len, "%s", strata_last_error());
  size_t count = 0;
  if (rc == 0) strata_node_tree_pids(cs->worker, (pid_t *)(void *)cs->mb->blob,
                                     STRATA_MAX_TREE_PIDS, &count);
  cs->mb->result = count;
  return rc;
}

/* ---- tasks ------------------------------------------------------------------------- */
static int run_chip_task(child_state *cs, strata_args *args, char *msg, size_t len) {
  strata_run_info info;
  strata_orch_fn fn = (strata_orch_fn)cs->n->reg.f[STRATA_FN_ORCH][cs->mb->command].fn;
  int rc = strata_chip_run(cs->chip, fn, args, &info);
  snprintf(msg, len, "%s", info.message);
  return rc;
}

static int run_worker_task(child_state *cs, strata_args *args, char *msg, size_t len) {
  strata_node_run_info info;
  strata_node_orch_fn fn =
      (strata_node_orch_fn)cs->n->reg.f[STRATA_FN_LEVEL_ORCH][cs->mb->command].fn;
  int rc = strata_node_run(cs->worker, fn, args, &info);
  snprintf(msg, len, "%s", info.message);
  return rc;
}

static void run_task(child_state *cs) {
  strata__mailbox *mb = cs->mb;
  strata_args args; /* the callables' view: filled from the record, not zeroed */
  uint64_t t0 = strata__now_ns();
  char msg[256] = "";
  int rc = strata__pargs_unpack((const strata__pargs *)(const void *)mb->blob, mb->blob_len, &args);
  if (rc) {
    snprintf(msg, sizeof(msg), "task #%llu: its arguments (%u B) are not a whole record of "
             "mailbox format %u", (unsigned long long)mb->task_id, mb->blob_len, STRATA_MBOX_VERSION);
  } else if (cs->chip) {
    rc = run_chip_task(cs, &args, msg, sizeof(msg));
  } else if (cs->worker) {
    rc = run_worker_task(cs, &args, msg, sizeof(msg));
  } else {
    strata_sub_fn fn = (strata_sub_fn)cs->n->reg.f[STRATA_FN_SUB][mb->command].fn;
    rc = fn(&args, msg, sizeof(msg));
    if (rc && !msg[0]) snprintf(msg, sizeof(msg), "sub function returned %d", rc);
  }
  mb->elapsed_ns = strata__now_ns() - t0;
  reply(cs, STRATA_MB_TASK_DONE, rc, msg);
}

/* ---- controls ----------------------------------------------------------------------- */
static int control_copy(child_state *cs, int to_dev, char *msg, size_t len) {
  strata__mailbox *mb = cs->mb;
  uint64_t addr = mb->arg[0], bytes = mb->arg[1];
  if (bytes > STRATA_MBOX_BLOB_BYTES || !dev_range_ok(cs, addr, bytes))
    return snprintf(msg, len, "copy of %llu B at %#llx is outside this chip's device memory",
                    (unsigned long long)bytes, (unsigned long long)addr), STRATA_EINVAL;
  if (to_dev)
    memcpy((void *)(uintptr_t)addr, mb->blob, bytes);
  else
    memcpy(mb->blob, (const void *)(uintptr_t)addr, bytes);
  return 0;
}

static int control_ext(child_state *cs, char *msg, size_t len) {
  strata__mailbox *mb = cs->mb;
  const strata__ext_ops *ops = (const strata__ext_ops *)(uintptr_t)mb->ext;
  if (ops && ops->worker_control && cs->worker)
    return ops->worker_control(cs->worker, mb->ext_op, mb->arg, mb->blob, mb->blob_len, msg, len);
  if (!ops || !ops->child_control || !cs->chip)
    return snprintf(msg, len, "extension control %u of '%s' is for chip children", mb->ext_op,
                    ops ? ops->name : "?"), STRATA_EINVAL;
  return ops->child_control(cs->chip, mb->ext_op, mb->arg, mb->blob, mb->blob_len, msg, len);
}

static int control_memory(child_state *cs, char *msg, size_t len) {
  strata__mailbox *mb = cs->mb;
  switch (mb->command) {
    case STRATA_CTL_MALLOC: {
      int rc = dev_alloc(cs, mb->arg[0], &mb->result);
      if (rc) snprintf(msg, len, "device memory of %zu B exhausted (%llu B requested); raise "
                       "STRATA_NODE_DEVMEM", cs->slice_bytes, (unsigned long long)mb->arg[0]);
      return rc;
    }
    case STRATA_CTL_FREE:
      if (dev_free(cs, mb->arg[0]) == 0) return 0;
      return snprintf(msg, len, "free of %#llx: not an allocation of this chip",
                      (unsigned long long)mb->arg[0]), STRATA_EINVAL;
    case STRATA_CTL_COPY_TO: return control_copy(cs, 1, msg, len);
    default: return control_copy(cs, 0, msg, len);
  }
}

/* A worker child forwards device-memory controls to its own chip arg[2]
 * (MALLOC: arg[1]) and records the error's path. */
static int control_forward(child_state *cs, char *msg, size_t len) {
  strata__mailbox *mb = cs->mb;
  strata_node *w = cs->worker;
  void *p = NULL, *dev = (void *)(uintptr_t)mb->arg[0];
  size_t bytes = (size_t)mb->arg[1];
  int rc;
  switch (mb->command) {
    case STRATA_CTL_MALLOC:
      rc = strata_node_malloc(w, (uint32_t)mb->arg[1], (size_t)mb->arg[0], &p);
      mb->result = (uint64_t)(uintptr_t)p;
      break;
    case STRATA_CTL_FREE: rc = strata_node_free(w, (uint32_t)mb->arg[1], dev); break;
    case STRATA_CTL_COPY_TO:
      rc = strata_node_copy_to(w, (uint32_t)mb->arg[2], dev, mb->blob, bytes);
      break;
    default: rc = strata_node_copy_from(w, (uint32_t)mb->arg[2], mb->blob, dev, bytes); break;
  }
  if (rc) snprintf(msg, len, "%s", strata_last_error());
  return rc;
}

static int control_register(child_state *cs, char *msg, size_t len) {
  strata__mailbox *mb = cs->mb;
  const strata__func *f = (const strata__func *)(void *)mb->blob;
  uint32_t id;
  /* a worker child passes it down to its own children, and (every child) adds
   * it to the table it dispatches its own tasks from */
  int rc = cs->worker ? strata__worker_register(cs->worker, (uint32_t)mb->arg[0], f, &id) : 0;
  if (rc == 0) rc = add_func(cs, (uint32_t)mb->arg[0], f);
  if (rc) snprintf(msg, len, "registering '%s': %s", f->name, strata_last_error());
  return rc;
}

static int control_prepare(child_state *cs, char *msg, size_t len) {
  (void)cs, (void)msg, (void)len;
  return 0;
}

/* ---- the control table (level_int.h) --------------------------------------------- */
#define DEVICE_ROW(c, name, f) {c, name, f, control_memory, control_forward}
static const strata__ctl_row ctl_table[] = {
    DEVICE_ROW(STRATA_CTL_MALLOC, "MALLOC", STRATA_CTLF_DEV_RESULT),
    DEVICE_ROW(STRATA_CTL_FREE, "FREE", STRATA_CTLF_DEV_ARG0),
    DEVICE_ROW(STRATA_CTL_COPY_TO, "COPY_TO", STRATA_CTLF_DEV_ARG0),
    DEVICE_ROW(STRATA_CTL_COPY_FROM, "COPY_FROM", STRATA_CTLF_DEV_ARG0 | STRATA_CTLF_REPLY_BLOB),
    {STRATA_CTL_PREPARE, "PREPARE", 0, control_prepare, NULL},
    {STRATA_CTL_REGISTER, "REGISTER", STRATA_CTLF_FUNC_BLOB, control_register, NULL},
    {STRATA_CTL_EXT, "EXT", STRATA_CTLF_EXT, control_ext, NULL}, /* routed by its extension */
};

const strata__ctl_row *strata__ctl_row_of(uint32_t ctl) {
  for (size_t i = 0; i < STRATA_ARRAY_SIZE(ctl_table); i++)
    if (ctl_table[i].ctl == ctl) return &ctl_table[i];
  return NULL;
}

const char *strata__ctl_name(uint32_t ctl) {
  const strata__ctl_row *r = strata__ctl_row_of(ctl);
  return r ? r->name : "?";
}

int strata__ctl_has(uint32_t ctl, uint32_t f) {
  const strata__ctl_row *r = strata__ctl_row_of(ctl);
  return r && (r->flags & f) != 0;
}

static int control_dispatch(child_state *cs, char *msg, size_t len) {
  strata__mailbox *mb = cs->mb;
  const char *d = getenv("STRATA_FAULT_CONTROL_DELAY_MS");
  if (d) strata__sleep_ms((uint32_t)strtoul(d, NULL, 10));
  const strata__ctl_row *r = strata__ctl_row_of(mb->command);
  if (!r)
    return snprintf(msg, len, "control %u is not implemented by this child", mb->command),
           STRATA_ENOSYS;
  return (cs->worker && r->worker ? r->worker : r->chip)(cs, msg, len);
}

/* A worker child whose own child died while it was idle: it says so in its
 * mailbox and exits, so the level above learns it now, not at the next task. */
static int subtree_lost(child_state *cs) {
  if (!cs->worker || !strata__worker_lost(cs->worker, (char *)cs->mb->errmsg,
                                          sizeof(cs->mb->errmsg)))
    return 0;
  strata_node_close(cs->worker);
  cs->worker = NULL;
  return 1;
}

static void serve(child_state *cs) {
  strata__mailbox *mb = cs->mb;
  pid_t parent = cs->n->hdr->parent_pid;
  for (;;) {
    uint32_t seen = strata__event_read(&mb->child_ev);
    uint32_t st = load_acquire(&mb->state); /* pairs with store_release in mbox_post */
    if (st == STRATA_MB_TASK_READY) {
      run_task(cs);
    } else if (st == STRATA_MB_CONTROL_REQUEST) {
      char msg[256] = "";
      int rc = control_dispatch(cs, msg, sizeof(msg));
      reply(cs, STRATA_MB_CONTROL_DONE, rc, msg);
    } else if (st == STRATA_MB_SHUTDOWN || getppid() != parent) {
      return;
    } else if (subtree_lost(cs)) {
      _exit(STRATA_EXIT_SUBTREE_LOST);
    } else {
      strata__event_wait(&mb->child_ev, seen, strata__deadline_ms(CHILD_PARK_MS));
    }
  }
}

void strata__child_main(strata_node *n, uint32_t c) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != n->hdr->parent_pid) _exit(1);
  child_state *cs = calloc(1, sizeof(*cs));
  if (!cs) _exit(1);
  cs->n = n;
  cs->c = c;
  cs->mb = strata__mbox(n, c);
  char msg[256] = "", label[160];
  snprintf(label, sizeof(label), "%s%s%s", n->path, n->path[0] ? " / " : "", n->child[c].path);
  strata__trace_set_process(label); /* its events: "L4 child 1 / chip 0 (pid N)" */
  strata_child_kind kind = n->child[c].kind;
  int rc = STRATA_EINVAL;
  if (cs->mb->magic != STRATA_MBOX_MAGIC || cs->mb->version != STRATA_MBOX_VERSION)
    snprintf(msg, sizeof(msg), "mailbox format %u, this child speaks %u: parent and child "
             "come from different strata builds", cs->mb->version, STRATA_MBOX_VERSION);
  else
    rc = kind == STRATA_CHILD_CHIP       ? chip_init(cs, msg, sizeof(msg))
           : kind == STRATA_CHILD_WORKER ? worker_init(cs, msg, sizeof(msg))
                                         : adopt_registry(cs, msg, sizeof(msg));
  reply(cs, rc ? STRATA_MB_INIT_FAILED : STRATA_MB_INIT_DONE, rc, msg);
  if (rc == 0) serve(cs);
  if (cs->chip) strata_chip_destroy(cs->chip);
  strata_node_close(cs->worker); /* its subtree: SHUTDOWN, reap */
  strata__event_signal(&n->hdr->parent_ev); /* speed up the parent's reaping */
  _exit(rc ? 1 : 0);
}
