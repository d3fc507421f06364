/* level_ext.h - the small interface through which a layer above the level
 * engine (src/comm) extends a worker without the engine knowing it:
 *
 *   - parent side: attach an ops table with a context to a worker; the
 *     engine calls child_lost() when one of its children dies (before the
 *     tasks of that child fail) and close() before the worker tears down;
 *   - child side: extension controls (COMM_INIT, ALLOC_DOMAIN,
 *     RELEASE_DOMAIN) carry the ops table; the chip child calls its
 *     child_control() with its chip runtime. The table is a static object of
 *     libstrata, at the same address in every forked process of the tree;
 *   - queries the extension needs: is a run active, is a child alive.
 *
 * Nothing here exposes the engine's structures.
 */
#ifndef STRATA_LEVEL_EXT_H
#define STRATA_LEVEL_EXT_H

#include <stddef.h>
#include <stdint.h>

#include "platform/event.h"
#include "platform/platform_int.h"
#include "strata/chip.h"
#include "strata/node.h"

/* Mailbox states (SPEC §3). */
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

/* The one generic control of extensions (SPEC §3.1): the request names its
 * extension (ops, or its name across ranks) and the extension's own
 * operation `op`; the engine routes it and knows no extension's controls. */
enum { STRATA_CTL_EXT = 8 };

typedef struct strata__ext_ops {
  const char *name;
  /* the name of operation op, for messages ("ALLOC_DOMAIN") */
  const char *(*op_name)(uint32_t op);
  /* child side, in a chip child: execute the extension's operation `ctl` */
  int (*child_control)(strata_chip *chip, uint32_t ctl, const uint64_t arg[4], const void *blob,
                       uint32_t blob_len, char *msg, size_t len);
  /* parent side: child `child` died; `close`: the worker is going away */
  void (*child_lost)(void *ctx, uint32_t child);
  void (*close)(strata_node *n, void *ctx);
  /* child side, in a worker child: execute extension control `ctl` on the
   * next-level worker w (NULL: chips only) */
  int (*worker_control)(strata_node *w, uint32_t ctl, const uint64_t arg[4], const void *blob,
                        uint32_t blob_len, char *msg, size_t len);
} strata__ext_ops;

/* Completion of an asynchronous extension control: status 0 or the error. */
typedef void (*strata__ext_done_fn)(strata_node *n, void *ctx, int status);

/* Attach ops with ctx to n (once per ops); ENOSPC if too many extensions. */
STRATA_HIDDEN int strata__ext_attach(strata_node *n, const strata__ext_ops *ops, void *ctx);
/* The context attached with ops, or NULL. */
STRATA_HIDDEN void *strata__ext_ctx(strata_node *n, const strata__ext_ops *ops);
STRATA_HIDDEN void strata__ext_detach(strata_node *n, const strata__ext_ops *ops);
/* Send the extension's operation ctl (STRATA_CTL_EXT, routed to ops) to child `child`. wait = 1: run the loop
 * until it is done and return its status; wait = 0: queue it (it is sent
 * once the child is ready and idle) and call done(n, ctx, status) later. */
STRATA_HIDDEN int strata__ext_control(strata_node *n, uint32_t child, const strata__ext_ops *ops,
                                      uint32_t ctl, const uint64_t arg[4], const void *blob,
                                      uint32_t blob_len, int wait, strata__ext_done_fn done,
                                      void *ctx);
/* 1 while strata_node_run is in progress. */
STRATA_HIDDEN int strata__level_run_active(const strata_node *n);
/* 1 if n is initialised and child `chip` (a chip child index) is alive. */
STRATA_HIDDEN int strata__level_chip_alive(strata_node *n, uint32_t chip);
/* 1 if chip child `chip` has reported INIT_DONE. */
STRATA_HIDDEN int strata__level_chip_ready(strata_node *n, uint32_t chip);
/* Number of chip children (0 if n is NULL or not initialised). */
STRATA_HIDDEN uint32_t strata__level_chips(const strata_node *n);

/* ---- remote children (SPEC §6): a transport above the engine (src/mpi) ------
 * serves the worker children of a root worker from other processes or hosts.
 *
 *   - registration: the transport registers a claim function (from a
 *     constructor); strata_node_init of a root worker of level >= 4 asks it
 *     first. 0: not claimed (a local tree); 1: claimed as the root, the
 *     transport called strata__level_set_remote(); a rank that only serves
 *     its subtree never returns from claim.
 *   - bridge side (the root): a remote child is a mailbox with no process.
 *     The engine posts into it as usual and calls ops->posted(); the
 *     transport takes the request with strata__port_take() (device addresses
 *     become tree offsets, callables names), carries it, and writes the
 *     reply back with strata__port_reply(); strata__port_lost() ends the child.
 *   - mirror side (the rank hosting child c): a fork server forks only
 *     child c of a worker of the same configuration (see below); requests
 *     are posted into its mailbox (offsets become the child's addresses) and
 *     replies read back. The message is the mailbox's fields, never a pointer.
 */
#define STRATA__MSG_BLOB_MAX (64u * 1024u) /* >= a mailbox's blob */
/* Format of a mailbox and of strata__mbox_msg, task records included
 * (3: task arguments sized to content, level/pargs.c). A child checks its
 * mailbox's at start; a rank sends its own with INIT_DONE (arg[3]). */
#define STRATA__MSG_VERSION 4u /* 4: one generic extension control (ext_op) */

/* A mailbox request or reply as it travels (fixed header + blob_len bytes). */
typedef struct strata__mbox_msg {
  uint32_t state;        /* TASK_READY / CONTROL_REQUEST / SHUTDOWN, or the reply state */
  uint32_t command, blob_len;
  int32_t error_code;
  uint64_t task_id, arg[4], result, elapsed_ns;
  char ext[16];          /* extension controls: the ops' name */
  uint32_t ext_op, pad;  /* ... and its operation (pad: the blob stays 8-byte aligned) */
  char errmsg[256];
  unsigned char blob[STRATA__MSG_BLOB_MAX];
} strata__mbox_msg;
_Static_assert(offsetof(strata__mbox_msg, blob) % 8 == 0, "task records in the blob are aligned");

typedef struct strata__remote_ops {
  const char *name;
  /* in strata_node_init after the local forks, before any wait: start the
   * transport (fork what it must first, then threads) */
  int (*start)(strata_node *n, void *ctx);
  void (*posted)(void *ctx, uint32_t child); /* a request waits in child's mailbox */
  void (*kill)(void *ctx, uint32_t child);   /* end it now (deadline, teardown) */
  void (*stop)(strata_node *n, void *ctx);   /* strata_node_close, after teardown */
  /* "rank 1" and where it runs, for messages */
  const char *(*where)(void *ctx, uint32_t child, char *buf, size_t len);
  /* 1 if the transport learned that the child's process is stopped (SIGSTOP,
   * a debugger): the engine names it as the culprit at a deadline */
  int (*stopped)(void *ctx, uint32_t child);
} strata__remote_ops;

typedef int (*strata__claim_fn)(strata_node *n);
STRATA_HIDDEN void strata__level_register_transport(strata__claim_fn claim);
/* In claim: every worker child of n is remote, served by ops with ctx. */
STRATA_HIDDEN void strata__level_set_remote(strata_node *n, const strata__remote_ops *ops,
                                            void *ctx);
/* Worker children of n (its configuration; 0 at level 3). */
STRATA_HIDDEN uint32_t strata__level_workers(const strata_node *n);
/* 1 if n is a root worker (not inside a tree) of level >= 4. */
STRATA_HIDDEN int strata__level_is_root_upper(const strata_node *n);
/* Set the number of worker children before init (the configuration must
 * not name another); EINVAL naming both numbers otherwise. */
STRATA_HIDDEN int strata__level_set_workers(strata_node *n, uint32_t workers, const char *why);

/* A digest of n's callables (kinds, names, specs in id order): equal on two
 * ranks iff a function id means the same callable on both. */
STRATA_HIDDEN uint64_t strata__registry_digest(const strata_node *n);

/* bridge side: 1 and the request in *m if child c has one posted that was
 * not taken yet; -1 (message in m->errmsg) if it cannot travel. */
STRATA_HIDDEN int strata__port_take(strata_node *n, uint32_t c, strata__mbox_msg *m);
/* The reply of the request taken last (or INIT_DONE / INIT_FAILED). */
STRATA_HIDDEN void strata__port_reply(strata_node *n, uint32_t c, const strata__mbox_msg *m);
/* Child c is gone: wstatus as from waitpid (0: it shut down), msg says why. */
STRATA_HIDDEN void strata__port_lost(strata_node *n, uint32_t c, int wstatus, const char *msg);

/* mirror side: the child a rank hosts is forked by a fork server, a
 * single-threaded process the rank forked before MPI started, so every fork
 * happens in a process without threads (SPEC §3), whenever it is asked for:
 *   rank:        strata__mirror_spec, strata__mirror_open (control segment + its fd)
 *   fork server: strata__mirror_host forks child c over that segment and the
 *                device memory it maps; reports the pid and the device base
 *   rank:        strata__mirror_adopt; post / poll / dead / kill / close
 *   fork server: after reaping the child, strata__mirror_exited publishes its
 *                status in the segment and frees its side */
#define STRATA__MIRROR_SPEC_MAX (64u * 1024u)
/* The configuration a mirror of child c of n needs (bytes written, 0 if cap is short). */
STRATA_HIDDEN size_t strata__mirror_spec(const strata_node *n, uint32_t c, void *buf, size_t cap);
STRATA_HIDDEN int strata__mirror_open(const void *spec, size_t len, strata_node **m, int *ctl_fd);
STRATA_HIDDEN int strata__mirror_host(const void *spec, size_t len, int ctl_fd, strata_node **h,
                                      pid_t *pid, uint64_t *devbase);
STRATA_HIDDEN void strata__mirror_adopt(strata_node *m, pid_t pid, uint64_t devbase);
STRATA_HIDDEN void strata__mirror_exited(strata_node *h, int wstatus);
/* Post m into the child's mailbox; ext is the resolved extension (or NULL). */
STRATA_HIDDEN void strata__mirror_post(strata_node *m, const strata__mbox_msg *msg,
                                       const strata__ext_ops *ext);
/* 1 and the reply in *out if the child answered (its mailbox goes IDLE). */
STRATA_HIDDEN int strata__mirror_poll(strata_node *m, strata__mbox_msg *out);
/* 1 (wstatus and what happened in msg) once the child has died or exited. */
STRATA_HIDDEN int strata__mirror_dead(strata_node *m, int *wstatus, char *msg, size_t len);
STRATA_HIDDEN void strata__mirror_kill(strata_node *m);
/* The event the child signals after every reply (a place to park). */
STRATA_HIDDEN strata__event *strata__mirror_event(strata_node *m);
STRATA_HIDDEN pid_t strata__mirror_pid(const strata_node *m);
/* 1 if the hosted child is stopped (its /proc state). */
STRATA_HIDDEN int strata__mirror_stopped(const strata_node *m);
/* The fork server's pidfd of the child it forked (-1 without pidfd support). */
STRATA_HIDDEN int strata__mirror_pidfd(const strata_node *h);
/* SHUTDOWN (SIGKILL after a grace period), wait for the fork server's
 * report, unmap, free. */
STRATA_HIDDEN void strata__mirror_close(strata_node *m);

#endif
