/* strata/node.h - level workers (SPEC §3): one engine for every level from
 * L3 up. A worker is one process that forks its children - chips (each runs
 * an L2 chip runtime), subs (CPU functions) and, from L4 up, next-level
 * workers (each a forked worker with its own children) - talks to them
 * through POSIX shared-memory mailboxes, and runs a level orchestration
 * whose tasks are whole child orchestrations (a chip orchestration on a
 * chip, a level orchestration on a next-level worker), groups of them, or
 * sub functions. Dependencies between tasks come from the tensors they name
 * (address-range overlap in the tree's device memory) and explicit deps.
 * "Node" is the L3 worker, the most common one; the API names keep it.
 *
 *   strata_node_config cfg;  strata_node_config_init(&cfg);  cfg.chips = 4; ...
 *   strata_node *node;       strata_node_create(&cfg, &node);
 *   strata_node_register_kernel / _orch / _sub / _level_orch (before or after init)
 *   strata_node_init(node);  forks every child, waits until all are INIT_DONE
 *   strata_node_run(node, node_orch, args, &info);
 *   strata_node_close(node); no process, no /dev/shm entry left behind
 *
 * An L4 on one machine: cfg.level = 4, cfg.workers = 2, cfg.worker_cfg =
 * &l3_cfg (each child an L3 with l3_cfg.chips chips); chips are numbered
 * across the tree (worker 0's chips first), so strata_node_malloc(l4, 3,
 * ...) allocates on the second worker's chip 1 when workers have 2 chips.
 */
#ifndef STRATA_NODE_H
#define STRATA_NODE_H

#include <sys/types.h>

#include "strata/chip.h"

#ifdef __cplusplus
extern "C" {
#endif

#define STRATA_NODE_MAX_CHILDREN 64 /* chips + subs + workers of one worker */
#define STRATA_NODE_MAX_FUNCS 64    /* registered functions of one kind */
#define STRATA_NODE_MAX_GROUP 16    /* members of one group task */
#define STRATA_MAX_LEVEL 8          /* deepest level: L3 .. L8 */

/* Kinds of registered callables. */
typedef enum strata_fn_kind {
  STRATA_FN_KERNEL = 0,     /* strata_kernel_fn, runs on a core of every chip */
  STRATA_FN_ORCH = 1,       /* strata_orch_fn, a chip orchestration */
  STRATA_FN_SUB = 2,        /* strata_sub_fn, runs in a sub worker */
  STRATA_FN_LEVEL_ORCH = 3, /* strata_node_orch_fn, runs in a next-level worker */
  STRATA_FN_KINDS = 4
} strata_fn_kind;

typedef struct strata_node strata_node;
typedef struct strata_node_orch strata_node_orch;

/* A sub worker function: runs in a sub child on the task's arguments (the
 * tensors point into node device memory). Return 0, or a status with a
 * message written to msg. */
typedef int (*strata_sub_fn)(const strata_args *args, char *msg, size_t msg_len);

/* A level orchestration: submits tasks to the worker's children. As a task
 * of a next-level worker (strata_node_submit_child at L4+), args is a
 * `const strata_args *`. */
typedef void (*strata_node_orch_fn)(strata_node_orch *o, void *args);

/* Bits of strata_node_config.field_mask (else environment, else default). */
enum {
  STRATA_NCFG_CHIPS = 1u << 0,           /* [STRATA_NODE_CHIPS] 1 */
  STRATA_NCFG_SUBS = 1u << 1,            /* [STRATA_NODE_SUBS] 0 */
  STRATA_NCFG_STARTUP_TIMEOUT = 1u << 2, /* [STRATA_NODE_STARTUP_TIMEOUT_MS] 30000 */
  STRATA_NCFG_TASK_TIMEOUT = 1u << 3,    /* [STRATA_NODE_TASK_TIMEOUT_MS] 60000, must
                                            exceed the chips' stream sync */
  STRATA_NCFG_DEVMEM = 1u << 4,          /* [STRATA_NODE_DEVMEM] 64 MiB per chip */
  STRATA_NCFG_INIT_BARRIER = 1u << 5,    /* [STRATA_NODE_INIT_BARRIER] 1 */
  STRATA_NCFG_LEVEL = 1u << 6,           /* 3 */
  STRATA_NCFG_WORKERS = 1u << 7,         /* 0; next-level children (level >= 4) */
  STRATA_NCFG_TASK_WINDOW = 1u << 8      /* [STRATA_NODE_TASK_WINDOW] 4096, a power of 2 */
};

#define STRATA_DEFAULT_NODE_TASK_TIMEOUT_MS 60000u

typedef struct strata_node_config {
  uint64_t field_mask;
  uint32_t chips;              /* chip children, 1..64 at level 3, 0 above */
  uint32_t subs;               /* sub children, 0..63 (children <= 64) */
  uint32_t startup_timeout_ms; /* the one deadline of the init barrier */
  uint32_t task_timeout_ms;    /* deadline of every task or control on a child */
  uint64_t devmem_bytes;       /* shared device memory per chip */
  uint32_t init_barrier;       /* 1: init waits until every child is INIT_DONE.
                                  0 (legacy, for reproductions): init returns
                                  after fork; each child gets work as soon as
                                  it alone is INIT_DONE */
  strata_chip_config chip;     /* configuration of every chip child */
  uint32_t level;              /* 3..8: a label in messages; children of level
                                  >= 4 workers are level - 1 workers */
  uint32_t workers;            /* next-level children, 1..64 at level >= 4 */
  const struct strata_node_config *worker_cfg; /* their configuration (level
                                  must be level - 1; copied at create). NULL:
                                  level - 1 workers with this config's chips
                                  (2 if 0) and no subs */
  uint32_t task_window;        /* unfinished or unretired tasks of a run, 16..2^24 (a
                                  power of two): a submit past it waits for the oldest
                                  to finish (back-pressure); memory is bounded by it */
} strata_node_config;

typedef enum strata_child_kind {
  STRATA_CHILD_CHIP = 0,
  STRATA_CHILD_SUB = 1,
  STRATA_CHILD_WORKER = 2  /* a next-level worker */
} strata_child_kind;

/* Outcome of a node run. */
typedef struct strata_node_run_info {
  int status;                 /* first error (0 = success) */
  uint64_t tasks_submitted, tasks_completed, tasks_failed, tasks_poisoned;
  uint64_t elapsed_ns;
  char message[640];          /* which task/child failed, and its message */
} strata_node_run_info;

/* Fault injection (STRATA_FAULT_INIT_DELAY_MS): the init delay of chip
 * `rank` under `spec`: "<rank>:<ms>[,...]" (rank may be '*'),
 * "tail:<rank>:<median_ms>[:<seed>]" (one rank, log-logistic draw),
 * "longtail:<max_ms>[:<seed>]" (every rank, max * u^3), "none" or "" (0).
 * EINVAL with the syntax for anything else. */
STRATA_API int strata_fault_init_delay_parse(const char *spec, uint32_t rank, uint32_t *ms);

/* Fill *cfg with field_mask 0 and the values the environment or defaults
 * give (the chip part too). NULL is ignored. */
STRATA_API void strata_node_config_init(strata_node_config *cfg);
/* Create a node worker (no process yet). cfg may be NULL. EINVAL, naming
 * the field, for an explicit value out of range or timeouts out of order
 * (node task timeout <= chip stream sync, stream sync <= scheduler budget +
 * 1.5 s) unless cfg->chip asks for STRATA_CFG_UNORDERED_TIMEOUTS. */
STRATA_API int strata_node_create(const strata_node_config *cfg, strata_node **out);
/* Register a chip kernel / chip orchestration / sub function. After init the
 * registration is broadcast to every child (REGISTER control). */
STRATA_API int strata_node_register_kernel(strata_node *n, const char *name,
                                           strata_kernel_fn fn, strata_core_kind kind,
                                           uint32_t *id);
STRATA_API int strata_node_register_orch(strata_node *n, const char *name,
                                         strata_orch_fn fn, uint32_t *id);
STRATA_API int strata_node_register_sub(strata_node *n, const char *name, strata_sub_fn fn,
                                        uint32_t *id);
/* A level orchestration that next-level workers run as a task. */
STRATA_API int strata_node_register_level_orch(strata_node *n, const char *name,
                                               strata_node_orch_fn fn, uint32_t *id);
/* Register a callable by name: spec is "symbol" (of the running binary,
 * which must export it, e.g. linked with -rdynamic) or "library.so:symbol"
 * (dlopen'ed). Every process of the tree resolves the spec itself, so no
 * function pointer crosses processes. kind: strata_fn_kind; core is the core
 * kind of a kernel. ENOENT naming the library or symbol if it cannot be
 * resolved here. */
STRATA_API int strata_node_register_by_name(strata_node *n, strata_fn_kind kind,
                                            const char *name, const char *spec,
                                            strata_core_kind core, uint32_t *id);
/* Resolve a spec as above in this process; *fn on success. */
STRATA_API int strata_callable_resolve(const char *spec, void (**fn)(void));
/* Fork every child (before any thread starts), then wait until every child
 * is INIT_DONE. On failure (a child INIT_FAILED, died, or the startup
 * deadline passed) the tree is torn down and the error names the child. */
STRATA_API int strata_node_init(strata_node *n);
/* Device memory of a chip (MALLOC / FREE / COPY_TO / COPY_FROM controls).
 * Device pointers are valid in every process of the node. */
STRATA_API int strata_node_malloc(strata_node *n, uint32_t chip, size_t bytes, void **dev);
STRATA_API int strata_node_free(strata_node *n, uint32_t chip, void *dev);
STRATA_API int strata_node_copy_to(strata_node *n, uint32_t chip, void *dev,
                                   const void *src, size_t bytes);
STRATA_API int strata_node_copy_from(strata_node *n, uint32_t chip, void *dst,
                                     const void *dev, size_t bytes);
/* Run a node orchestration and drain every task it submitted. info may be NULL. */
STRATA_API int strata_node_run(strata_node *n, strata_node_orch_fn fn, void *args,
                               strata_node_run_info *info);
/* Shut every child down (SIGKILL after a grace period), reap them, unmap
 * the shared memory, free the node. Safe after any failure. */
STRATA_API int strata_node_close(strata_node *n);
/* Process id of a child (for tooling and tests), or -1. */
STRATA_API pid_t strata_node_child_pid(const strata_node *n, strata_child_kind kind,
                                       uint32_t index);
/* Every process id of the tree below n (children, their children, ...):
 * up to max into pids; *count gets the total. EINVAL for NULL arguments. */
STRATA_API int strata_node_tree_pids(const strata_node *n, pid_t *pids, size_t max,
                                     size_t *count);
/* Leaf chips of n's subtree (the range of chip indices), 0 if n is NULL. */
STRATA_API uint32_t strata_node_chips(const strata_node *n);

/* ---- level orchestration (call only from a level orchestration) ----------- */
/* A task running function fn on child `child`: a chip orchestration
 * (STRATA_FN_ORCH) on chip child `child` at level 3, a level orchestration
 * (STRATA_FN_LEVEL_ORCH) on worker child `child` at level >= 4. args:
 * tensors in the tree's device memory, scalars, explicit deps; no OUTPUT.
 * Submit is all-or-nothing; a rejected submit is also the run's error. */
STRATA_API int strata_node_submit_child(strata_node_orch *o, uint32_t child, uint32_t fn,
                                        const strata_args *a, strata_task_ref *out);
/* A task running chip orchestration `orch` on chip `chip` with args (tensors
 * in node device memory, scalars; tags as for chip tasks, no OUTPUT). The
 * chip orchestration receives a `const strata_args *` as its args. */
STRATA_API int strata_node_submit_chip(strata_node_orch *o, uint32_t chip, uint32_t orch,
                                       const strata_args *a, strata_task_ref *out);
/* A task running sub function `fn` on any idle sub worker. */
STRATA_API int strata_node_submit_sub(strata_node_orch *o, uint32_t fn, const strata_args *a,
                                      strata_task_ref *out);
/* One DAG node of n members (child, function), dispatched all-or-nothing. */
typedef struct strata_node_member {
  uint32_t chip, orch; /* child index and function id (see submit_child) */
  const strata_args *args;
} strata_node_member;
STRATA_API int strata_node_submit_group(strata_node_orch *o, const strata_node_member *m,
                                        uint32_t n, strata_task_ref *out);
/* Scopes: buffers from strata_node_orch_alloc() inside a scope are freed
 * once the scope ends and the tasks submitted in it have finished. */
STRATA_API int strata_node_scope_begin(strata_node_orch *o);
STRATA_API int strata_node_scope_end(strata_node_orch *o);
STRATA_API int strata_node_orch_alloc(strata_node_orch *o, uint32_t chip, size_t bytes,
                                      strata_dtype dtype, strata_tensor *t);
/* Make EXPLICIT_ORCH_FATAL with this message the run's error (first error
 * wins); tasks already submitted still drain. Returns that status. */
STRATA_API int strata_node_orch_fatal(strata_node_orch *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The worker running this orchestration (for device memory calls from it). */
STRATA_API strata_node *strata_node_orch_node(strata_node_orch *o);

#ifdef __cplusplus
}
#endif
#endif
