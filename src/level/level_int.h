/* level_int.h - private structures of the level engine (SPEC §3): one
 * worker type for every level from L3 up. A level worker's children are
 * chips (L2 runtimes), subs (CPU functions) and next-level workers (a forked
 * level-(N-1) worker with its own children); the level is a label, nothing
 * branches on it.
 *
 * DESIGN
 * Processes: a worker forks every child before it starts any thread (its
 * death-watcher thread starts after the forks). A worker child builds its own
 * worker from the configuration it inherited and initialises it (forking its
 * own subtree) before it reports INIT_DONE, so a parent sees INIT_DONE only
 * once the whole subtree is ready. The root maps the control segment of its
 * children and one device-memory mapping for every leaf chip of the tree;
 * descendants inherit it, so a device address is valid in every process of
 * the tree and dependencies at any level are address-range overlaps.
 *
 * The parent is one event loop (loop.c): harvest replies, reap deaths (the
 * watcher thread wakes the loop through parent_ev), fail requests whose
 * deadline passed (naming a stopped child as the culprit), send queued
 * controls, dispatch READY tasks. Blocking calls (controls, scope ends,
 * drains) queue a request and run the loop until it completes or its
 * deadline passes; nothing called from a phase runs the loop again.
 *
 * Mailbox protocol (one request in flight per child):
 *   parent: fill command/args/blob, store_release(state, TASK_READY or
 *           CONTROL_REQUEST or SHUTDOWN), signal child_ev;
 *   child:  load_acquire(state), execute, fill error_code/result/errmsg,
 *           store_release(state, TASK_DONE or CONTROL_DONE), signal the
 *           header's parent_ev;
 *   parent: load_acquire(state) sees the reply, reads it, stores IDLE.
 * At start-up the child stores INIT_DONE or INIT_FAILED the same way.
 */
#ifndef STRATA_LEVEL_INT_H
#define STRATA_LEVEL_INT_H

#include <stddef.h>
#include <sys/types.h>

#include "level/level_ext.h"
#include "platform/atomics.h"
#include "platform/event.h"
#include "platform/platform_int.h"
#include "platform/trace_rec.h"
#include "strata/node.h"

/* ---- controls (SPEC §3; the mailbox states are in level_ext.h) ---- */
enum strata__control {
  STRATA_CTL_MALLOC = 1,
  STRATA_CTL_FREE,
  STRATA_CTL_COPY_TO,
  STRATA_CTL_COPY_FROM,
  STRATA_CTL_PREPARE,
  STRATA_CTL_REGISTER,
  STRATA_CTL_UNREGISTER
  /* 8..10: the extension controls of level_ext.h */
};

/* The control protocol is one table (child.c, with the handlers): a row
 * says how the control travels, the engine, the remote port and the child
 * read nothing else. Adding a control is one row and its handler. */
enum {
  STRATA_CTLF_DEV_ARG0 = 1u << 0,   /* arg[0] is a device address */
  STRATA_CTLF_DEV_RESULT = 1u << 1, /* the reply's result is a device address */
  STRATA_CTLF_REPLY_BLOB = 1u << 2, /* the reply carries arg[1] bytes back */
  STRATA_CTLF_FUNC_BLOB = 1u << 3,  /* the request's blob is a strata__func: it travels by name */
  STRATA_CTLF_EXT = 1u << 4         /* handled by the extension the request names */
};
struct child_state;
typedef int (*strata__ctl_handler)(struct child_state *cs, char *msg, size_t len);
typedef struct strata__ctl_row {
  uint32_t ctl;
  const char *name;
  uint32_t flags;                  /* STRATA_CTLF_* */
  strata__ctl_handler chip;        /* in a chip or sub child */
  strata__ctl_handler worker;      /* in a worker child (NULL: as chip) */
} strata__ctl_row;
/* The row of control ctl, or NULL if there is none. */
STRATA_HIDDEN const strata__ctl_row *strata__ctl_row_of(uint32_t ctl);
/* Its name ("?" if unknown) and whether it has flag f. */
STRATA_HIDDEN const char *strata__ctl_name(uint32_t ctl);
STRATA_HIDDEN int strata__ctl_has(uint32_t ctl, uint32_t f);

#define STRATA_MBOX_MAGIC 0x53544d42u /* "STMB" */
#define STRATA_MBOX_VERSION STRATA__MSG_VERSION /* level_ext.h */
#define STRATA_MBOX_BYTES (64u * 1024u)
#define STRATA_MAX_TREE_PIDS 256 /* pids a worker child reports of its subtree */

/* One child's mailbox, STRATA_MBOX_BYTES long, in the control segment. */
typedef struct strata__mailbox {
  /* written once by the parent before fork */
  uint32_t magic, version, kind, index;
  /* the state word: see the protocol above for who stores which value */
  _Alignas(64) _Atomic uint32_t state;
  strata__event child_ev;          /* parent signals after storing state */
  /* request: parent writes before TASK_READY / CONTROL_REQUEST (release) */
  _Alignas(64) uint32_t command;   /* control code, or function id of a task */
  uint64_t task_id;
  uint64_t arg[4];                 /* control arguments (sizes, addresses) */
  uint64_t ext;                    /* extension controls: its ops (same image) */
  uint32_t ext_op;                 /* ... and the extension's operation */
  uint32_t blob_len;
  /* reply: child writes before TASK_DONE / CONTROL_DONE / INIT_* (release) */
  _Alignas(64) int32_t error_code;
  uint64_t result;
  uint64_t elapsed_ns;
  char errmsg[256];
  /* request or reply payload: task args, copy data, registrations, the
   * subtree's pids at INIT_DONE */
  _Alignas(64) unsigned char blob[];
} strata__mailbox;

#define STRATA_MBOX_BLOB_BYTES (STRATA_MBOX_BYTES - offsetof(strata__mailbox, blob))
_Static_assert(offsetof(strata__mailbox, state) % 64 == 0, "state word on its own line");
_Static_assert(offsetof(strata__mailbox, command) % 64 == 0, "request on its own line");
_Static_assert(offsetof(strata__mailbox, error_code) % 64 == 0, "reply on its own line");
_Static_assert(offsetof(strata__mailbox, blob) <= 4096, "header within the first page");

/* ---- pargs.c: a task's arguments sized to content (SPEC §3.1) ---- */
typedef struct strata__pargs {
  uint32_t bytes;                  /* the whole record, header included */
  uint32_t ntensors, nscalars, ndeps, block_dim, sync_start;
  /* then tensors, scalars, deps, tags: pargs.c */
} strata__pargs;
static inline strata_tensor *strata__pargs_tensors(const strata__pargs *p) {
  return (strata_tensor *)(void *)(p + 1);
}
STRATA_HIDDEN uint64_t *strata__pargs_scalars(const strata__pargs *p);
STRATA_HIDDEN uint8_t *strata__pargs_tags(const strata__pargs *p);
/* Bytes of a's record; pack a into p (that many bytes); a new record (NULL
 * when out of memory). */
STRATA_HIDDEN size_t strata__pargs_size(const strata_args *a);
STRATA_HIDDEN void strata__pargs_pack(const strata_args *a, strata__pargs *p);
STRATA_HIDDEN strata__pargs *strata__pargs_new(const strata_args *a);
/* 1 if p is a whole record of len bytes. */
STRATA_HIDDEN int strata__pargs_valid(const strata__pargs *p, size_t len);
/* p (len bytes) into a; EINVAL if it is not a whole record. */
STRATA_HIDDEN int strata__pargs_unpack(const strata__pargs *p, size_t len, strata_args *a);
_Static_assert(sizeof(strata__pargs) % 8 == 0, "tensors follow the header aligned");

/* Start of the control segment. Written by the parent before fork, except
 * parent_ev (any child signals it after a reply; the watcher after a death). */
typedef struct strata__node_hdr {
  uint32_t magic, version, nchildren;
  pid_t parent_pid;
  strata__event parent_ev;
  /* a hosted mirror (port.c): its fork server reaped the child */
  int32_t host_wstatus;            /* fork server, before host_exit */
  _Atomic uint32_t host_exit;      /* fork server (release), rank process (acquire) */
} strata__node_hdr;

#define STRATA_NODE_HDR_BYTES 4096u
_Static_assert(sizeof(strata__node_hdr) <= STRATA_NODE_HDR_BYTES, "header fits a page");

/* ---- registry: callables by name (copied into children by fork, extended by
 * REGISTER). A spec names where a child finds the function itself:
 * "symbol" of the running binary or "library.so:symbol". ------------------- */
typedef struct strata__func {
  char name[32];
  char spec[160];                  /* "" = registered by pointer (same image) */
  void (*fn)(void);                /* cast back to the registered type */
  uint32_t kind;                   /* core kind for kernels */
} strata__func;

typedef struct strata__registry {
  strata__func f[STRATA_FN_KINDS][STRATA_NODE_MAX_FUNCS];
  uint32_t n[STRATA_FN_KINDS];
} strata__registry;

/* ---- requests ------------------------------------------------------------------ */
/* A control on its way to one child: queued, sent when the child is ready and
 * idle, completed by the loop's harvest (or failed when the child dies). */
typedef struct strata__ctl {
  uint32_t ctl, blob_len;
  uint64_t arg[4];
  const strata__ext_ops *ext;      /* extension controls only: the extension */
  uint32_t ext_op;                 /* ... and its operation */
  const void *blob;                /* request payload (copied when sent) */
  void *out;                       /* COPY_FROM: where the reply payload goes */
  uint64_t result;
  int status, done;
  char msg[384];
  strata__ext_done_fn cb;          /* called once done; may free its ctx */
  void *cb_ctx;
  struct strata__ctl *next;
  int owned;                       /* freed by the loop once done */
} strata__ctl;

/* ---- tasks of a run --------------------------------------------------------------- */
enum { STRATA_LT_CHILD = 0, STRATA_LT_GROUP, STRATA_LT_SUB };
enum { STRATA_NT_PENDING = 0, STRATA_NT_READY, STRATA_NT_RUNNING, STRATA_NT_DONE, STRATA_NT_FAILED };

typedef struct strata__lmember {
  uint32_t target;                 /* child index; subs: assigned at dispatch */
  uint32_t fn;                     /* function id in the registry */
  strata__pargs *args;             /* this member's own arguments, sized to content */
} strata__lmember;

typedef struct strata__ltask {
  uint64_t id;
  uint8_t kind, state, poisoned, depth;
  int status;
  uint32_t nmembers, ndone, npending;
  uint64_t mark;                   /* dedup stamp while a later task collects producers */
  uint64_t start_ns;               /* first member sent (traces) */
  strata__lmember *m;
  struct strata__ltask **dependents;
  size_t ndependents, cap_dependents;
  struct strata__ltask *next;      /* ready-queue link */
  char *msg;                       /* first member failure (allocated), or NULL */
} strata__ltask;

typedef struct strata__tqueue {
  strata__ltask *head, *tail;
} strata__tqueue;

/* ---- the hashed dependency index (deps.c) --------------------------------------- */
/* An entry names its task by id: a retired task (id below the run's floor)
 * is never dereferenced; its entries are dropped when met, or by the sweep. */
typedef struct strata__dentry {
  struct strata__dentry *next;
  uintptr_t base, start, end;
  uint64_t id;
  strata__ltask *task;             /* valid while id >= floor */
  int write;
} strata__dentry;

/* Ids of retired tasks that FAILED (or were poisoned): their late consumers
 * are poisoned too. Open addressing, grows; a failed run is what fills it. */
typedef struct strata__idset {
  uint64_t *slot;                  /* 0 = empty */
  size_t cap, n;
} strata__idset;

typedef struct strata__depindex {
  strata__dentry **buckets;
  uint32_t nbuckets, sweep;        /* sweep: the next bucket the retire sweep visits */
  strata__pool pool;               /* entries */
  uint64_t floor;                  /* lowest id not retired (run.floor) */
  strata__idset failed;            /* retired tasks that failed */
} strata__depindex;

/* ---- parent-side view of a child ---------------------------------------------------- */
typedef struct strata__child {
  pid_t pid;
  int pidfd;
  strata_child_kind kind;
  uint32_t index;                  /* chip rank, sub index or worker index */
  uint32_t first_chip, nchips;     /* leaf chips of its subtree (flat numbering) */
  int alive, wstatus, ready, init_failed;
  int lost;                        /* its death was handled by the loop */
  int remote;                      /* served by a transport (level_ext.h), no process here */
  _Atomic int remote_gone;         /* the transport reported it gone (strata__port_lost) */
  int taken;                       /* the transport took the posted request */
  char remote_msg[320];            /* why it is gone */
  int killed_for;                  /* 0, or why we killed it (KILL_*) */
  _Atomic uint64_t died_ns;        /* watcher: when its pidfd said it ended (relaxed,
                                      published by report_death's release) */
  /* the one request in flight */
  int busy;                        /* 0, BUSY_TASK, BUSY_CTL */
  strata__ltask *task;
  uint32_t member;
  strata__ctl *ctl;
  uint64_t start_ns;
  /* queues */
  strata__ctl *ctl_head, *ctl_tail;
  strata__tqueue rq;               /* READY tasks directed at this child */
  pid_t tree[STRATA_MAX_TREE_PIDS];/* worker children: the pids of its subtree */
  uint32_t ntree;
  char path[96];                   /* "L4 child 1", "chip 0", "sub 1" */
} strata__child;

enum { BUSY_NONE = 0, BUSY_TASK, BUSY_CTL };
enum { KILL_NONE = 0, KILL_DEADLINE, KILL_STOPPED, KILL_TEARDOWN };

/* ---- an extension attached to a worker (level_ext.h) ---------------------------- */
typedef struct strata__ext_slot {
  const strata__ext_ops *ops;
  void *ctx;
} strata__ext_slot;
#define STRATA_MAX_EXT 4

/* ---- a run (parent only) ------------------------------------------------------------ */
typedef struct strata__nbuf {
  void *dev;
  uint32_t chip;
} strata__nbuf;

typedef struct strata__nscope {
  uint64_t open;                   /* unfinished tasks submitted at this depth or deeper */
  strata__nbuf *bufs;              /* strata_node_orch_alloc buffers to free */
  size_t nbufs, cap;
} strata__nscope;

typedef struct strata__run {
  int active;                      /* inside strata_node_run */
  strata__ltask **tasks;           /* the window: task id at (id - 1) & (window - 1) */
  size_t ntasks;                   /* submitted (the last id) */
  uint64_t floor;                  /* lowest id not retired; ids below are freed */
  uint32_t window;                 /* slots (cfg.task_window, a power of two) */
  int poison_new;                  /* collect: a retired producer had failed */
  uint64_t completed, failed, poisoned, mark;
  int first_error;
  char first_msg[640];
  strata__depindex deps;
  strata__ltask **scratch;         /* producers of the task being submitted */
  size_t nscratch, cap_scratch;
  strata__tqueue subs, groups;
  strata__nscope scopes[STRATA_MAX_SCOPE_DEPTH + 1];
  uint32_t depth;
  uint64_t last_progress_ns;
} strata__run;

struct strata_node_orch {
  struct strata_node *node;
};

struct strata_node {
  strata_node_config cfg;          /* resolved */
  strata_node_config wcfg[STRATA_MAX_LEVEL]; /* configs of the levels below (worker_cfg chain) */
  uint32_t nwcfg;
  strata__registry reg;
  int initialized, broken;
  char lost_msg[448];              /* broken: the first child lost, named (loop writes) */
  uint64_t lost_ns;                /* ... and when (CLOCK_MONOTONIC) */
  char lost_at[16];                /* ... as wall-clock time, HH:MM:SS */
  uint32_t total_chips;            /* leaf chips of this subtree */
  uint32_t rank_base;              /* tree-wide number of this subtree's first chip */
  uint64_t init_deadline;
  const char *path;                /* prefix naming this worker in messages ("" at the root) */
  char path_buf[96];
  /* shared mappings */
  void *ctl;
  size_t ctl_bytes;
  strata__node_hdr *hdr;
  unsigned char *devmem;           /* this subtree's leaf chips, contiguous */
  size_t devmem_bytes;
  int devmem_owned;                /* mapped here (root), else inherited */
  unsigned char *tree_mem;         /* the root's mapping: every chip of the tree */
  size_t tree_bytes;
  strata__child child[STRATA_NODE_MAX_CHILDREN];
  uint32_t nchildren;
  /* death watcher (process.c) */
  _Atomic uint32_t deaths;         /* watcher sets, loop clears */
  _Atomic uint32_t watcher_stop;
  int watch_efd;
  pthread_t watcher;
  int watcher_started;
  /* the run */
  strata_node_orch orch;
  strata__run run;
  strata__ext_slot ext[STRATA_MAX_EXT];
  /* remote children (level_ext.h) */
  const strata__remote_ops *rops;
  void *rctx;
  int mirror;                      /* a mirror: forks only child mirror_child */
  uint32_t mirror_child;
};

/* ---- transport.c: the mailbox, parent side (post and read only) ---- */
STRATA_HIDDEN strata__mailbox *strata__mbox(const strata_node *n, uint32_t c);
STRATA_HIDDEN void strata__post_task(strata_node *n, uint32_t c, const strata__ltask *t,
                                     uint32_t member);
STRATA_HIDDEN void strata__post_control(strata_node *n, uint32_t c, const strata__ctl *q);
STRATA_HIDDEN void strata__post_shutdown(strata_node *n, uint32_t c);
/* The child's reply state (acquire), or IDLE. */
STRATA_HIDDEN uint32_t strata__read_state(strata_node *n, uint32_t c);
/* Copy the reply of a finished control into q and free the mailbox. */
STRATA_HIDDEN void strata__read_control(strata_node *n, uint32_t c, strata__ctl *q);
/* The reply of a finished task: status and message; frees the mailbox. */
STRATA_HIDDEN int strata__read_task(strata_node *n, uint32_t c, char *msg, size_t len);
/* Reset a child that reported INIT_DONE to IDLE, keeping the pids it listed. */
STRATA_HIDDEN void strata__read_init(strata_node *n, uint32_t c);

/* ---- process.c ---- */
/* SIGKILL child c (through the transport if it is remote). */
STRATA_HIDDEN void strata__child_kill(strata_node *n, uint32_t c);
STRATA_HIDDEN int strata__spawn_children(strata_node *n);
STRATA_HIDDEN int strata__watcher_start(strata_node *n);
STRATA_HIDDEN void strata__watcher_stop(strata_node *n);
/* Reap dead children (non-blocking); returns how many died. */
STRATA_HIDDEN int strata__reap(strata_node *n);
STRATA_HIDDEN void strata__teardown(strata_node *n);
STRATA_HIDDEN int strata__child_stopped(const strata__child *ch);
/* n is broken (a child was lost earlier): fail with `code` naming the child,
 * its pid, how it ended and when; `what` prefixes (e.g. "node_run"). */
STRATA_HIDDEN int strata__broken_fail(const strata_node *n, const char *what);
STRATA_HIDDEN void strata__child_died_msg(const strata_node *n, uint32_t c, const char *during,
                                          char *buf, size_t len);
/* "L4 child 1 (pid N)" / "chip 0 (pid N)", with this worker's path. */
STRATA_HIDDEN const char *strata__child_name(const strata_node *n, uint32_t c, char *buf,
                                             size_t len);

/* ---- child.c (runs in the child process) ---- */
STRATA_HIDDEN void strata__child_main(strata_node *n, uint32_t c) __attribute__((noreturn));
STRATA_HIDDEN uint32_t strata__fault_init_delay_ms(uint32_t rank);

/* ---- lconfig.c ---- */
/* Resolve cfg and the levels below it into out[0..*levels). */
STRATA_HIDDEN int strata__config_chain(const strata_node_config *cfg, strata_node_config *out,
                                       uint32_t *levels);
/* Leaf chips of a tree of that shape. */
STRATA_HIDDEN uint32_t strata__config_chips(const strata_node_config *chain, uint32_t levels);

/* ---- worker.c ---- */
/* The children's count and the control segment's size, from the configuration. */
STRATA_HIDDEN void strata__size_children(strata_node *n);
/* The root's device memory: one mapping for every chip of the tree. */
STRATA_HIDDEN void strata__map_tree_mem(strata_node *n);
/* The control segment's header (n->ctl mapped): magic, children, this
 * process as their parent, the parent event. */
STRATA_HIDDEN void strata__init_hdr(strata_node *n);
STRATA_HIDDEN void strata__layout_child(strata_node *n, uint32_t c);
STRATA_HIDDEN void strata__unmap_segments(strata_node *n);
STRATA_HIDDEN strata_node *strata__node_alloc(void);
/* In a worker child: the next-level worker for child ch of parent. */
STRATA_HIDDEN int strata__worker_child_create(const strata_node *parent, const strata__child *ch,
                                              strata_node **out);
/* In a worker child between tasks: 1 (with what happened in msg) if one of
 * w's children died since. */
STRATA_HIDDEN int strata__worker_lost(strata_node *w, char *msg, size_t len);
/* Exit status of a worker child that lost part of its subtree while idle;
 * its mailbox's errmsg says which part. */
#define STRATA_EXIT_SUBTREE_LOST 3

/* Register f (kind what) in w and its children; *id its id. */
STRATA_HIDDEN int strata__worker_register(strata_node *w, uint32_t what, const strata__func *f,
                                          uint32_t *id);

/* ---- port.c ---- */
/* Ask the registered transport whether it serves n's worker children. */
STRATA_HIDDEN int strata__claim(strata_node *n);

/* ---- callable.c ---- */
STRATA_HIDDEN int strata__func_resolve(strata__func *f);

/* ---- loop.c: the event loop ---- */
typedef int (*strata__until_fn)(strata_node *n, void *arg);
/* Run the loop until until(n, arg) holds (0) or the deadline passes
 * (ETIMEDOUT with `what` in the message). */
STRATA_HIDDEN int strata__loop_until(strata_node *n, strata__until_fn until, void *arg,
                                     uint64_t deadline, const char *what);
/* One pass of the loop without waiting (after a submit). */
STRATA_HIDDEN void strata__loop_poll(strata_node *n);
/* Queue a control for child c (sent when it is ready and idle). */
STRATA_HIDDEN void strata__ctl_queue(strata_node *n, uint32_t c, strata__ctl *q);
/* Queue a control and run the loop until it completes; returns its status. */
STRATA_HIDDEN int strata__ctl_sync(strata_node *n, uint32_t c, strata__ctl *q);
/* Fail what is queued on or running in child c (it died). */
STRATA_HIDDEN void strata__child_lost(strata_node *n, uint32_t c, int status, const char *msg);

/* ---- tasks.c: submit, ready queues, completion ---- */
/* EINVAL unless o is the handle of a run in progress. */
STRATA_HIDDEN int strata__orch_check(strata_node_orch *o);
STRATA_HIDDEN void strata__task_member_done(strata_node *n, strata__ltask *t, int status,
                                            const char *msg);
STRATA_HIDDEN void strata__task_fail_all(strata_node *n, strata__ltask *t, int status,
                                         const char *msg);
STRATA_HIDDEN void strata__run_error(strata_node *n, int status, const char *msg);
STRATA_HIDDEN void strata__tq_push(strata__tqueue *q, strata__ltask *t);
STRATA_HIDDEN strata__ltask *strata__tq_pop(strata__tqueue *q);
STRATA_HIDDEN void strata__run_free(strata_node *n);
/* Retire finished tasks from the window (between loop phases). */
STRATA_HIDDEN void strata__run_retire(strata_node *n);

/* ---- deps.c ---- */
STRATA_HIDDEN int strata__deps_init(strata__depindex *d);
STRATA_HIDDEN void strata__deps_destroy(strata__depindex *d);
/* Mark (t->mark = mark) and append to *out the live tasks whose recorded
 * accesses conflict with (t, write); *poisoned = 1 if a retired one failed;
 * -1 on allocation failure. */
STRATA_HIDDEN int strata__deps_lookup(strata__depindex *d, const strata_tensor *t, int write,
                                      uint64_t mark, strata__ltask ***out, size_t *n,
                                      size_t *cap, int *poisoned);
/* Tasks below `floor` are retired (failed: those of them that failed);
 * visits a few buckets, dropping their entries. */
STRATA_HIDDEN void strata__deps_retire(strata__depindex *d, uint64_t floor);
STRATA_HIDDEN int strata__deps_note_failed(strata__depindex *d, uint64_t id);
STRATA_HIDDEN int strata__deps_failed(const strata__depindex *d, uint64_t id);
STRATA_HIDDEN int strata__deps_reserve(strata__depindex *d, size_t n);
/* Record an access; never fails after a reserve. */
STRATA_HIDDEN void strata__deps_record(strata__depindex *d, const strata_tensor *t, int write,
                                       strata__ltask *task);

#endif
