/* port.c - the engine's side of remote children (level_ext.h): the claim of
 * a transport, the bridge (a remote child's mailbox taken and answered by
 * the transport instead of a process) and the mirror (the one child a rank
 * hosts, forked from a worker of the same configuration). Requests and
 * replies travel as strata__mbox_msg: device addresses as offsets into the
 * tree's device memory (the same layout on every rank), callables by name,
 * extensions by name; no pointer leaves the process.
 */
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "level/level_int.h"

static strata__claim_fn transport_claim;

void strata__level_register_transport(strata__claim_fn claim) { transport_claim = claim; }

int strata__claim(strata_node *n) {
  return transport_claim && strata__level_is_root_upper(n) ? transport_claim(n) : 0;
}

void strata__level_set_remote(strata_node *n, const strata__remote_ops *ops, void *ctx) {
  n->rops = ops;
  n->rctx = ctx;
}

uint32_t strata__level_workers(const strata_node *n) {
  return n && n->cfg.level > 3 ? n->cfg.workers : 0;
}

int strata__level_is_root_upper(const strata_node *n) {
  return n && !n->devmem && n->cfg.level > 3;
}

int strata__level_set_workers(strata_node *n, uint32_t workers, const char *why) {
  uint32_t now = n->cfg.workers;
  if (now == workers) return 0;
  if ((n->cfg.field_mask & STRATA_NCFG_WORKERS) || workers == 0 ||
      workers + n->cfg.subs > STRATA_NODE_MAX_CHILDREN)
    return strata__fail(STRATA_EINVAL, "L%u worker: workers = %u but %s gives %u; leave "
                        "workers unset (it follows the number of ranks) or start %u ranks",
                        n->cfg.level, now, why, workers, now);
  n->total_chips = n->total_chips / now * workers;
  n->cfg.workers = workers;
  return 0;
}

/* ---- addresses and callables on the way out and in ---------------------------- */
/* A device address as 1 + its offset in the tree (0: NULL or not device memory). */
static uint64_t to_off(const strata_node *n, uint64_t addr) {
  uintptr_t lo = (uintptr_t)n->tree_mem;
  return addr >= lo && addr < lo + n->tree_bytes ? addr - lo + 1 : 0;
}

static uint64_t from_off(const strata_node *n, uint64_t off) {
  return off ? (uint64_t)(uintptr_t)n->tree_mem + off - 1 : 0;
}

/* In a mirror: an address in the memory of the chips this rank hosts, else
 * 0 (another rank's buffer orders the task there but cannot be read here). */
static uint64_t here(const strata_node *m, uint64_t addr) {
  const strata__child *ch = &m->child[m->mirror_child];
  uint64_t lo = (uint64_t)(uintptr_t)m->tree_mem + (uint64_t)ch->first_chip * m->cfg.devmem_bytes;
  return addr >= lo && addr < lo + (uint64_t)ch->nchips * m->cfg.devmem_bytes ? addr : 0;
}

/* The tensors of a task's record (len bytes; nothing if it is not whole). */
static void map_args(const strata_node *n, void *blob, uint32_t len, int out) {
  strata__pargs *a = blob;
  for (uint32_t i = 0; strata__pargs_valid(a, len) && i < a->ntensors; i++) {
    strata_tensor *t = &strata__pargs_tensors(a)[i];
    uint64_t d = (uint64_t)(uintptr_t)t->data, b = (uint64_t)(uintptr_t)t->base;
    t->data = (void *)(uintptr_t)(out ? to_off(n, d) : here(n, from_off(n, d)));
    t->base = (void *)(uintptr_t)(out ? to_off(n, b) : t->data ? from_off(n, b) : 0);
  }
}

/* A callable registered by pointer travels by its symbol name. */
static int func_by_name(strata__func *f, char *msg, size_t len) {
  Dl_info info;
  if (f->spec[0]) return 0;
  if (dladdr((void *)(uintptr_t)f->fn, &info) && info.dli_sname) {
    snprintf(f->spec, sizeof(f->spec), "%s", info.dli_sname);
    return 0;
  }
  snprintf(msg, len, "'%s' was registered by pointer after init and has no symbol name to "
           "travel by: register it before strata_node_init, or with "
           "strata_node_register_by_name (link the program with -rdynamic)", f->name);
  return -1;
}


/* ---- callables ---------------------------------------------------------------------- */
uint64_t strata__registry_digest(const strata_node *n) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a over kinds, names and specs in id order */
  for (uint32_t k = 0; k < STRATA_FN_KINDS; k++)
    for (uint32_t i = 0; i < n->reg.n[k]; i++) {
      const strata__func *f = &n->reg.f[k][i];
      char key[200];
      int len = snprintf(key, sizeof(key), "%u:%s:%s;", k, f->name, f->spec);
      for (int j = 0; j < len && j < (int)sizeof(key); j++) h = (h ^ (unsigned char)key[j]) * 1099511628211ull;
    }
  return h;
}

/* ---- bridge side ------------------------------------------------------------------ */
int strata__port_take(strata_node *n, uint32_t c, strata__mbox_msg *m) {
  strata__child *ch = &n->child[c];
  strata__mailbox *mb = strata__mbox(n, c);
  uint32_t st = load_acquire(&mb->state); /* pairs with the engine's post (release) */
  if (ch->taken || (st != STRATA_MB_TASK_READY && st != STRATA_MB_CONTROL_REQUEST &&
                    st != STRATA_MB_SHUTDOWN))
    return 0;
  ch->taken = 1;
  memset(m, 0, offsetof(strata__mbox_msg, blob));
  m->state = st;
  m->command = mb->command;
  m->task_id = mb->task_id;
  m->blob_len = st == STRATA_MB_SHUTDOWN ? 0 : mb->blob_len;
  memcpy(m->arg, mb->arg, sizeof(m->arg));
  memcpy(m->blob, mb->blob, m->blob_len);
  const strata__ext_ops *ext = (const strata__ext_ops *)(uintptr_t)mb->ext;
  if (st == STRATA_MB_CONTROL_REQUEST && ext) snprintf(m->ext, sizeof(m->ext), "%s", ext->name);
  m->ext_op = mb->ext_op;
  if (st == STRATA_MB_TASK_READY) map_args(n, m->blob, m->blob_len, 1);
  if (st == STRATA_MB_CONTROL_REQUEST && strata__ctl_has(m->command, STRATA_CTLF_DEV_ARG0))
    m->arg[0] = to_off(n, m->arg[0]);
  if (st == STRATA_MB_CONTROL_REQUEST && strata__ctl_has(m->command, STRATA_CTLF_FUNC_BLOB) &&
      func_by_name((strata__func *)(void *)m->blob, m->errmsg, sizeof(m->errmsg)))
    return -1;
  return 1;
}

void strata__port_reply(strata_node *n, uint32_t c, const strata__mbox_msg *m) {
  strata__mailbox *mb = strata__mbox(n, c);
  mb->error_code = m->error_code;
  mb->result = strata__ctl_has(m->command, STRATA_CTLF_DEV_RESULT) && m->state == STRATA_MB_CONTROL_DONE
                   ? from_off(n, m->result) : m->result;
  if (m->state == STRATA_MB_INIT_DONE) mb->result = 0; /* its pids live on another host */
  mb->elapsed_ns = m->elapsed_ns;
  snprintf(mb->errmsg, sizeof(mb->errmsg), "%s", m->errmsg);
  if (m->blob_len && m->state != STRATA_MB_INIT_DONE) memcpy(mb->blob, m->blob, m->blob_len);
  n->child[c].taken = 0;
  store_release(&mb->state, m->state); /* pairs with the loop's read_state */
  strata__event_signal(&n->hdr->parent_ev);
}

void strata__port_lost(strata_node *n, uint32_t c, int wstatus, const char *msg) {
  strata__child *ch = &n->child[c];
  snprintf(ch->remote_msg, sizeof(ch->remote_msg), "%s", msg);
  ch->wstatus = wstatus;
  store_release(&ch->remote_gone, 1); /* pairs with strata__reap's acquire */
  store_release(&n->deaths, 1);
  strata__event_signal(&n->hdr->parent_ev);
}

/* ---- mirror side ------------------------------------------------------------------- */
#define SPEC_MAGIC 0x5354534du /* "STSM" */
#define MIRROR_GRACE_MS 2000

typedef struct mirror_spec {
  uint32_t magic, child, total_chips, nwcfg;
  strata_node_config cfg, wcfg[STRATA_MAX_LEVEL];
  strata__registry reg;
} mirror_spec;
_Static_assert(sizeof(mirror_spec) <= STRATA__MIRROR_SPEC_MAX, "a mirror's spec fits a message");

size_t strata__mirror_spec(const strata_node *n, uint32_t c, void *buf, size_t cap) {
  if (cap < sizeof(mirror_spec)) return 0;
  mirror_spec *sp = buf;
  memset(sp, 0, sizeof(*sp));
  *sp = (mirror_spec){SPEC_MAGIC, c, n->total_chips, n->nwcfg, n->cfg, {{0}}, n->reg};
  memcpy(sp->wcfg, n->wcfg, sizeof(sp->wcfg));
  return sizeof(*sp);
}

/* A worker object of the spec's shape with child `child` its mirror child. */
static strata_node *from_spec(const void *spec, size_t len) {
  const mirror_spec *sp = spec;
  if (len != sizeof(*sp) || sp->magic != SPEC_MAGIC) return NULL;
  strata_node *m = strata__node_alloc();
  if (!m) return NULL;
  m->cfg = sp->cfg;
  memcpy(m->wcfg, sp->wcfg, sizeof(m->wcfg));
  m->nwcfg = sp->nwcfg;
  m->reg = sp->reg;
  m->total_chips = sp->total_chips;
  m->mirror = 1;
  m->mirror_child = sp->child;
  strata__size_children(m);
  if (m->mirror_child < m->nchildren) return m;
  strata__free(m);
  return NULL;
}

/* The rank's side: the control segment (the fork server maps it from fd). */
int strata__mirror_open(const void *spec, size_t len, strata_node **out, int *ctl_fd) {
  strata_node *m = from_spec(spec, len);
  if (!m) return strata__fail(STRATA_EINVAL, "mirror: a malformed spec (%zu B)", len);
  m->ctl = strata__shm_map_fd("ctl", m->ctl_bytes, ctl_fd);
  if (!m->ctl) {
    strata__free(m);
    return strata__fail(STRATA_ENOMEM, "cannot map %zu B of shared memory for a mirror",
                        m->ctl_bytes);
  }
  strata__init_hdr(m); /* the fork server sets itself as the parent */
  for (uint32_t k = 0; k < m->nchildren; k++) strata__layout_child(m, k);
  *out = m;
  return 0;
}

/* The fork server's side: map the segment and the device memory, fork child c. */
int strata__mirror_host(const void *spec, size_t len, int ctl_fd, strata_node **out, pid_t *pid,
                        uint64_t *devbase) {
  strata_node *h = from_spec(spec, len);
  if (!h) return strata__fail(STRATA_EINVAL, "mirror: a malformed spec (%zu B)", len);
  h->ctl = strata__shm_attach_fd(ctl_fd, h->ctl_bytes);
  h->hdr = h->ctl;
  strata__map_tree_mem(h);
  int rc = h->ctl && h->devmem ? 0 : strata__fail(STRATA_ENOMEM, "cannot map %zu B of device "
                                                  "memory (lower STRATA_NODE_DEVMEM)", h->devmem_bytes);
  if (rc == 0) {
    /* the children's shape; their mailboxes are as the rank laid them out
     * (laid out again, identically: nothing is posted before our reply) */
    for (uint32_t k = 0; k < h->nchildren; k++) strata__layout_child(h, k);
    h->hdr->parent_pid = getpid(); /* the child checks its parent against it */
    rc = strata__spawn_children(h); /* only the mirror child */
  }
  if (rc) {
    strata__unmap_segments(h);
    strata__free(h);
    return rc;
  }
  *out = h;
  *pid = h->child[h->mirror_child].pid;
  *devbase = (uint64_t)(uintptr_t)h->devmem;
  return 0;
}

void strata__mirror_adopt(strata_node *m, pid_t pid, uint64_t devbase) {
  strata__child *ch = &m->child[m->mirror_child];
  ch->pid = pid;
  ch->alive = 1;
  m->tree_mem = (unsigned char *)(uintptr_t)devbase; /* an address in the child: translation only */
  m->tree_bytes = (size_t)m->total_chips * m->cfg.devmem_bytes;
}

void strata__mirror_exited(strata_node *h, int wstatus) {
  if (h->child[h->mirror_child].pidfd >= 0) close(h->child[h->mirror_child].pidfd);
  h->hdr->host_wstatus = wstatus;
  store_release(&h->hdr->host_exit, 1); /* pairs with strata__mirror_dead's acquire */
  strata__event_signal(&h->hdr->parent_ev);
  strata__unmap_segments(h);
  strata__free(h);
}

void strata__mirror_post(strata_node *m, const strata__mbox_msg *msg, const strata__ext_ops *ext) {
  uint32_t c = m->mirror_child;
  strata__mailbox *mb = strata__mbox(m, c);
  mb->command = msg->command;
  mb->task_id = msg->task_id;
  memcpy(mb->arg, msg->arg, sizeof(mb->arg));
  mb->ext = (uint64_t)(uintptr_t)ext;
  mb->ext_op = msg->ext_op;
  mb->blob_len = msg->blob_len;
  memcpy(mb->blob, msg->blob, msg->blob_len);
  if (msg->state == STRATA_MB_TASK_READY) map_args(m, mb->blob, mb->blob_len, 0);
  if (msg->state == STRATA_MB_CONTROL_REQUEST && strata__ctl_has(msg->command, STRATA_CTLF_DEV_ARG0))
    mb->arg[0] = from_off(m, msg->arg[0]);
  store_release(&mb->state, msg->state); /* pairs with load_acquire in the child's serve() */
  strata__event_signal(&mb->child_ev);
}

int strata__mirror_poll(strata_node *m, strata__mbox_msg *out) {
  strata__mailbox *mb = strata__mbox(m, m->mirror_child);
  uint32_t st = load_acquire(&mb->state); /* pairs with the child's reply (release) */
  if (st != STRATA_MB_TASK_DONE && st != STRATA_MB_CONTROL_DONE && st != STRATA_MB_INIT_DONE &&
      st != STRATA_MB_INIT_FAILED)
    return 0;
  memset(out, 0, offsetof(strata__mbox_msg, blob));
  out->state = st;
  out->command = mb->command;
  out->error_code = mb->error_code;
  out->result = mb->result;
  out->elapsed_ns = mb->elapsed_ns;
  snprintf(out->errmsg, sizeof(out->errmsg), "%s", mb->errmsg);
  if (st == STRATA_MB_CONTROL_DONE && strata__ctl_has(mb->command, STRATA_CTLF_DEV_RESULT))
    out->result = to_off(m, mb->result);
  if (st == STRATA_MB_INIT_DONE) { /* the subtree's pids, for this host's tooling */
    out->blob_len = (uint32_t)(mb->result < STRATA_MAX_TREE_PIDS ? mb->result : 0) * sizeof(pid_t);
    memcpy(out->blob, mb->blob, out->blob_len);
  }
  if (st == STRATA_MB_CONTROL_DONE && strata__ctl_has(mb->command, STRATA_CTLF_REPLY_BLOB) &&
      !mb->error_code) {
    out->blob_len = (uint32_t)mb->arg[1];
    memcpy(out->blob, mb->blob, out->blob_len);
  }
  store_release(&mb->state, STRATA_MB_IDLE);
  return 1;
}

int strata__mirror_dead(strata_node *m, int *wstatus, char *msg, size_t len) {
  strata__child *ch = &m->child[m->mirror_child];
  if (ch->alive && load_acquire(&m->hdr->host_exit)) /* pairs with strata__mirror_exited */
    ch->alive = 0, ch->wstatus = m->hdr->host_wstatus;
  if (ch->alive) return 0;
  *wstatus = ch->wstatus;
  strata__child_died_msg(m, m->mirror_child, "its work", msg, len);
  return 1;
}

void strata__mirror_kill(strata_node *m) {
  strata__child *ch = &m->child[m->mirror_child];
  if (ch->alive && ch->pid > 0) kill(ch->pid, SIGKILL);
}

strata__event *strata__mirror_event(strata_node *m) { return &m->hdr->parent_ev; }

pid_t strata__mirror_pid(const strata_node *m) { return m->child[m->mirror_child].pid; }

int strata__mirror_stopped(const strata_node *m) {
  return m->child[m->mirror_child].alive && strata__child_stopped(&m->child[m->mirror_child]);
}

int strata__mirror_pidfd(const strata_node *h) { return h->child[h->mirror_child].pidfd; }

static int mirror_gone(strata_node *m, uint64_t deadline) {
  int ws;
  char msg[320];
  while (!strata__mirror_dead(m, &ws, msg, sizeof(msg)) && strata__now_ns() < deadline) {
    uint32_t seen = strata__event_read(&m->hdr->parent_ev);
    if (!load_acquire(&m->hdr->host_exit))
      strata__event_wait(&m->hdr->parent_ev, seen, strata__now_ns() + 10 * STRATA_NS_PER_MS);
  }
  return !m->child[m->mirror_child].alive;
}

/* SHUTDOWN if idle (a worker child closes its subtree), else SIGKILL; after
 * the grace period SIGKILL; the fork server reaps and reports. */
void strata__mirror_close(strata_node *m) {
  if (!m) return;
  strata__child *ch = &m->child[m->mirror_child];
  uint32_t st = strata__read_state(m, m->mirror_child);
  if (ch->alive && st != STRATA_MB_IDLE && st != STRATA_MB_INIT_DONE) strata__mirror_kill(m);
  else if (ch->alive) strata__post_shutdown(m, m->mirror_child);
  if (ch->pid > 0 && !mirror_gone(m, strata__deadline_ms(MIRROR_GRACE_MS))) {
    strata__mirror_kill(m);
    mirror_gone(m, strata__deadline_ms(MIRROR_GRACE_MS));
  }
  strata__shm_unmap(m->ctl, m->ctl_bytes);
  strata__free(m);
}
