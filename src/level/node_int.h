/* node_int.h - private structures of the L3 node worker.
 *
 * DESIGN
 * Processes: the node process (parent) forks every child - chips first,
 * then subs - before it starts any thread. Each chip child creates its own
 * L2 chip runtime (threads live only inside the child); each sub child runs
 * CPU functions. Parent and children share two mappings created before
 * fork and unlinked at once (so no /dev/shm entry outlives the node, even
 * after kill -9): the control segment (node header + one mailbox per child)
 * and the device memory (one slice per chip, same address in every process).
 *
 * Mailbox protocol (one request in flight per child):
 *   parent: fill command/args/blob, store_release(state, TASK_READY or
 *           CONTROL_REQUEST or SHUTDOWN), signal child_ev;
 *   child:  load_acquire(state), execute, fill error_code/result/errmsg,
 *           store_release(state, TASK_DONE or CONTROL_DONE), signal the
 *           node header's parent_ev;
 *   parent: load_acquire(state) sees the reply, reads it, stores IDLE.
 * At start-up the child stores INIT_DONE or INIT_FAILED (with errmsg) the
 * same way; the parent resets every child to IDLE only after all are
 * INIT_DONE. Every parent wait has a deadline and polls waitpid, so a dead
 * child fails its request with ENDPOINT_FAILURE instead of hanging.
 */
#ifndef STRATA_NODE_INT_H
#define STRATA_NODE_INT_H

#include <stddef.h>
#include <sys/types.h>

#include "platform/atomics.h"
#include "platform/event.h"
#include "platform/platform_int.h"
#include "strata/node.h"

/* ---- mailbox states and controls (SPEC §3) ---------------------------------- */
enum strata__mbox_state {
  STRATA_MB_IDLE = 0,
  STRATA_MB_TASK_READY = 1,
  STRATA_MB_TASK_DONE = 2,
  STRATA_MB_SHUTDOWN = 3,
  STRATA_MB_CONTROL_REQUEST = 4,
  STRATA_MB_CONTROL_DONE = 5,
  STRATA_MB_INIT_DONE = 6,
  STRATA_MB_INIT_FAILED = 7
};

enum strata__control {
  STRATA_CTL_MALLOC = 1,
  STRATA_CTL_FREE,
  STRATA_CTL_COPY_TO,
  STRATA_CTL_COPY_FROM,
  STRATA_CTL_PREPARE,
  STRATA_CTL_REGISTER,
  STRATA_CTL_UNREGISTER,
  STRATA_CTL_COMM_INIT,
  STRATA_CTL_ALLOC_DOMAIN,
  STRATA_CTL_RELEASE_DOMAIN
};

#define STRATA_MBOX_MAGIC 0x53544d42u /* "STMB" */
#define STRATA_MBOX_VERSION 1u
#define STRATA_MBOX_BYTES (64u * 1024u)

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
  uint32_t blob_len;
  /* reply: child writes before TASK_DONE / CONTROL_DONE / INIT_* (release) */
  _Alignas(64) int32_t error_code;
  uint64_t result;
  uint64_t elapsed_ns;
  char errmsg[256];
  /* request or reply payload: task args, copy data, registrations */
  _Alignas(64) unsigned char blob[];
} strata__mailbox;

#define STRATA_MBOX_BLOB_BYTES (STRATA_MBOX_BYTES - offsetof(strata__mailbox, blob))
_Static_assert(offsetof(strata__mailbox, state) % 64 == 0, "state word on its own line");
_Static_assert(offsetof(strata__mailbox, command) % 64 == 0, "request on its own line");
_Static_assert(offsetof(strata__mailbox, error_code) % 64 == 0, "reply on its own line");
_Static_assert(offsetof(strata__mailbox, blob) <= 4096, "header within the first page");
_Static_assert(sizeof(strata_args) <= STRATA_MBOX_BLOB_BYTES, "task args fit the blob");

/* Start of the control segment. */
typedef struct strata__node_hdr {
  uint32_t magic, version, nchildren;
  pid_t parent_pid;                /* written before fork */
  strata__event parent_ev;         /* any child signals after a reply */
} strata__node_hdr;

#define STRATA_NODE_HDR_BYTES 4096u
_Static_assert(sizeof(strata__node_hdr) <= STRATA_NODE_HDR_BYTES, "header fits a page");

/* ---- registry (copied into children by fork, extended by REGISTER) ---------- */
enum { STRATA_REG_KERNEL = 0, STRATA_REG_ORCH = 1, STRATA_REG_SUB = 2 };

typedef struct strata__func {
  char name[32];
  void (*fn)(void);                /* cast back to the registered type */
  uint32_t kind;                   /* core kind for kernels */
} strata__func;

typedef struct strata__registry {
  strata__func f[3][STRATA_NODE_MAX_FUNCS];
  uint32_t n[3];
} strata__registry;

/* ---- parent-side view of a child --------------------------------------------- */
/* A control to send once the child is ready (no-barrier mode). */
typedef struct strata__deferred {
  uint32_t ctl, blob_len;
  uint64_t arg[4];
  char blob[64];
  void (*done)(struct strata_node *n, void *ctx, int rc);
  void *ctx;
} strata__deferred;

typedef struct strata__child {
  pid_t pid;
  strata_child_kind kind;
  uint32_t index;                  /* chip rank or sub index */
  int alive;
  int wstatus;                     /* from waitpid once dead */
  int busy;                        /* a task member is in flight */
  int timed_out;                   /* killed for missing its task deadline */
  int ready;                       /* INIT_DONE seen and reset to IDLE */
  strata__deferred *defer;         /* controls waiting for readiness */
  size_t ndefer, cap_defer;
  struct strata__ntask *task;      /* ... this one */
  uint32_t member;                 /* ... member index in it */
  uint64_t start_ns;
} strata__child;

/* ---- node tasks ---------------------------------------------------------------- */
enum { STRATA_NT_PENDING = 0, STRATA_NT_READY, STRATA_NT_RUNNING, STRATA_NT_DONE, STRATA_NT_FAILED };

typedef struct strata__nmember {
  uint32_t target;                 /* chip index; for subs assigned at dispatch */
  uint32_t fn;                     /* orchestration or sub function id */
  strata_args args;
  int done;
} strata__nmember;

typedef struct strata__ntask {
  uint64_t id;
  int is_sub, state, status, poisoned;
  uint32_t nmembers, ndone, npending, scope;
  strata__nmember *m;              /* nmembers entries */
  struct strata__ntask **dependents;
  size_t ndependents, cap_dependents;
  char msg[384];
} strata__ntask;

typedef struct strata__nbuf {
  void *dev;
  uint32_t chip;
} strata__nbuf;

typedef struct strata__nscope {
  uint64_t first_task;             /* tasks with id >= this belong to the scope */
  strata__nbuf *bufs;              /* strata_node_orch_alloc buffers to free */
  size_t nbufs, cap;
} strata__nscope;

struct strata_node_orch {
  struct strata_node *node;
};

/* Hooks through which the layer above (src/comm) extends a node without the
 * node depending on it. The child-side control handler is process-global
 * and set by a constructor, so forked children inherit it. */
typedef int (*strata__ctl_hook)(strata_chip *chip, uint32_t ctl, const uint64_t arg[4],
                                const void *blob, uint32_t blob_len, char *msg, size_t len);
STRATA_HIDDEN void strata__node_set_ctl_hook(strata__ctl_hook hook);

struct strata_node {
  strata_node_config cfg;
  strata__registry reg;
  int initialized, broken;
  int in_pump;                     /* re-entrancy guard of strata__norch_pump */
  uint64_t init_deadline;          /* no-barrier mode: readiness deadline */
  /* shared mappings */
  void *ctl;                       /* control segment */
  size_t ctl_bytes;
  strata__node_hdr *hdr;
  unsigned char *devmem;
  size_t devmem_bytes;
  strata__child child[STRATA_NODE_MAX_CHILDREN];
  uint32_t nchildren;
  /* node orchestration (parent only) */
  strata_node_orch orch;
  strata__ntask **tasks;           /* every task of the current run, by id - 1 */
  size_t ntasks, cap_tasks;
  uint64_t completed, failed, poisoned;
  int first_error;
  char first_msg[640];
  strata__nscope scopes[STRATA_MAX_SCOPE_DEPTH + 1];
  uint32_t depth;
  /* the comm layer's state and callbacks (NULL when unused) */
  void *comm;
  void (*comm_child_lost)(struct strata_node *n, uint32_t child);
  void (*comm_close)(struct strata_node *n);
};

/* ---- shm.c ---- */
STRATA_HIDDEN void *strata__shm_map(const char *tag, size_t bytes);
STRATA_HIDDEN void strata__shm_unmap(void *p, size_t bytes);
STRATA_HIDDEN strata__mailbox *strata__mbox(strata_node *n, uint32_t c);

/* ---- process.c ---- */
STRATA_HIDDEN int strata__spawn_children(strata_node *n);
STRATA_HIDDEN int strata__reap(strata_node *n);
STRATA_HIDDEN void strata__teardown(strata_node *n);
STRATA_HIDDEN const char *strata__child_name(const strata_node *n, uint32_t c, char *buf, size_t len);
STRATA_HIDDEN void strata__child_died_msg(const strata_node *n, uint32_t c, const char *during,
                                          char *buf, size_t len);

/* ---- child.c (runs in the child process) ---- */
STRATA_HIDDEN void strata__child_main(strata_node *n, uint32_t c) __attribute__((noreturn));
STRATA_HIDDEN uint32_t strata__fault_init_delay_ms(uint32_t rank);

/* ---- mailbox.c (parent side) ---- */
STRATA_HIDDEN void strata__mbox_post(strata_node *n, uint32_t c, uint32_t state);
STRATA_HIDDEN int strata__wait_reply(strata_node *n, uint32_t c, uint32_t want, uint64_t deadline,
                                     const char *during);
STRATA_HIDDEN int strata__control(strata_node *n, uint32_t c, uint32_t ctl, const uint64_t arg[4],
                                  const void *blob, uint32_t blob_len, uint64_t *result);
STRATA_HIDDEN int strata__wait_idle(strata_node *n, uint32_t c, uint64_t deadline);
/* 1 once child c is INIT_DONE (reset to IDLE, deferred controls sent). */
STRATA_HIDDEN int strata__child_ready(strata_node *n, uint32_t c);
/* Send a control now if the child is ready, else when it becomes ready;
 * done(n, ctx, status) is called either way (it may be NULL). */
STRATA_HIDDEN int strata__control_deferred(strata_node *n, uint32_t c, uint32_t ctl,
                                           const uint64_t arg[4], const void *blob,
                                           uint32_t blob_len,
                                           void (*done)(strata_node *, void *, int), void *ctx);

/* ---- norch.c ---- */
STRATA_HIDDEN int strata__norch_pump(strata_node *n);
STRATA_HIDDEN void strata__norch_reset(strata_node *n);
STRATA_HIDDEN void strata__norch_free(strata_node *n);

#endif
