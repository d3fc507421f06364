/* strata/node.h - the L3 node worker: one process that forks chip children
 * (each runs an L2 chip runtime) and sub children (CPU functions), talks to
 * them through POSIX shared-memory mailboxes, and runs a node orchestration
 * whose tasks are whole chip orchestrations, groups of them, or sub
 * functions. Dependencies between node tasks come from the tensors they
 * name (address-range overlap in node device memory) and explicit deps.
 *
 *   strata_node_config cfg;  strata_node_config_init(&cfg);  cfg.chips = 4; ...
 *   strata_node *node;       strata_node_create(&cfg, &node);
 *   strata_node_register_kernel / _orch / _sub (before or after init)
 *   strata_node_init(node);  forks every child, waits until all are INIT_DONE
 *   strata_node_run(node, node_orch, args, &info);
 *   strata_node_close(node); no process, no /dev/shm entry left behind
 */
#ifndef STRATA_NODE_H
#define STRATA_NODE_H

#include <sys/types.h>

#include "strata/chip.h"

#ifdef __cplusplus
extern "C" {
#endif

#define STRATA_NODE_MAX_CHILDREN 64 /* chips + subs */
#define STRATA_NODE_MAX_FUNCS 64    /* registered chip orchestrations / sub functions */
#define STRATA_NODE_MAX_GROUP 16    /* members of one group task */

typedef struct strata_node strata_node;
typedef struct strata_node_orch strata_node_orch;

/* A sub worker function: runs in a sub child on the task's arguments (the
 * tensors point into node device memory). Return 0, or a status with a
 * message written to msg. */
typedef int (*strata_sub_fn)(const strata_args *args, char *msg, size_t msg_len);
/* A node orchestration: submits node tasks (runs in the node process). */
typedef void (*strata_node_orch_fn)(strata_node_orch *o, void *args);

/* Bits of strata_node_config.field_mask (else environment, else default). */
enum {
  STRATA_NCFG_CHIPS = 1u << 0,           /* [STRATA_NODE_CHIPS] 1 */
  STRATA_NCFG_SUBS = 1u << 1,            /* [STRATA_NODE_SUBS] 0 */
  STRATA_NCFG_STARTUP_TIMEOUT = 1u << 2, /* [STRATA_NODE_STARTUP_TIMEOUT_MS] 30000 */
  STRATA_NCFG_TASK_TIMEOUT = 1u << 3,    /* [STRATA_NODE_TASK_TIMEOUT_MS] 60000, must
                                            exceed the chips' stream sync */
  STRATA_NCFG_DEVMEM = 1u << 4,          /* [STRATA_NODE_DEVMEM] 64 MiB per chip */
  STRATA_NCFG_INIT_BARRIER = 1u << 5     /* [STRATA_NODE_INIT_BARRIER] 1 */
};

#define STRATA_DEFAULT_NODE_TASK_TIMEOUT_MS 60000u

typedef struct strata_node_config {
  uint64_t field_mask;
  uint32_t chips;              /* chip children, 1..64 */
  uint32_t subs;               /* sub children, 0..63 (chips + subs <= 64) */
  uint32_t startup_timeout_ms; /* the one deadline of the init barrier */
  uint32_t task_timeout_ms;    /* deadline of every task or control on a child */
  uint64_t devmem_bytes;       /* shared device memory per chip */
  uint32_t init_barrier;       /* 1: init waits until every child is INIT_DONE.
                                  0 (legacy, for reproductions): init returns
                                  after fork; each child gets work as soon as
                                  it alone is INIT_DONE */
  strata_chip_config chip;     /* configuration of every chip child */
} strata_node_config;

typedef enum strata_child_kind { STRATA_CHILD_CHIP = 0, STRATA_CHILD_SUB = 1 } strata_child_kind;

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

/* ---- node orchestration (call only from a node orchestration) ------------ */
/* A task running chip orchestration `orch` on chip `chip` with args (tensors
 * in node device memory, scalars; tags as for chip tasks, no OUTPUT). The
 * chip orchestration receives a `const strata_args *` as its args. */
STRATA_API int strata_node_submit_chip(strata_node_orch *o, uint32_t chip, uint32_t orch,
                                       const strata_args *a, strata_task_ref *out);
/* A task running sub function `fn` on any idle sub worker. */
STRATA_API int strata_node_submit_sub(strata_node_orch *o, uint32_t fn, const strata_args *a,
                                      strata_task_ref *out);
/* One DAG node of n chip members, dispatched all-or-nothing. */
typedef struct strata_node_member {
  uint32_t chip, orch;
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
STRATA_API strata_node *strata_node_orch_node(strata_node_orch *o);

#ifdef __cplusplus
}
#endif
#endif
