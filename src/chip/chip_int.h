/* chip_int.h - private structures of the L2 chip runtime.
 *
 * DESIGN
 * Threads of one run: the host thread (strata_chip_run: launch + stream
 * sync), one orchestrator thread (runs the user's orchestration: submit,
 * scopes, back-pressure, retirement), S scheduler threads (each owns whole
 * clusters of cores: dispatch, completion, hang detection) and one thread per
 * core (runs kernels handed over through its handshake register).
 *
 * Ownership:
 *   - rings (slot/heap/dep-pool indices) and the tensormap belong to the
 *     orchestrator alone: it allocates at submit and retires in order;
 *   - a task's argument fields are written by the orchestrator before the
 *     task is published (fanin guard release), read-only afterwards;
 *   - task atomics (state, fanin, refs, fanout, poisoned) are shared;
 *   - a core's handshake register is written by its owning scheduler
 *     (IDLE->ASSIGNED, DONE->IDLE) and by the core (ASSIGNED->DONE). While
 *     ASSIGNED, a core that finishes a kernel may finish the task itself and
 *     chain to the next READY task of its kind (reg_task rewritten by the
 *     core); it leaves with DONE and reg_task NULL when none is left.
 *
 * Task life: PENDING (fanin > 0) -> READY (in a ready queue) -> RUNNING (on a
 * core) -> COMPLETED or FAILED -> CONSUMED (refs == 0) -> retired by the
 * orchestrator, which reuses the slot. A task with a FAILED producer is
 * poisoned: it is never run, ends FAILED, poisons its own dependents.
 *
 * refs of a task = 1 (its completion) + 1 (its scope, only if it owns heap
 * outputs) + 1 per consumer (released when that consumer finishes). The
 * fanout list is a lock-free stack of dep-pool entries, closed (exchanged
 * with FANOUT_CLOSED) by the completing thread; a consumer's fanin counts
 * successful pushes plus a guard of 1 held by the orchestrator during wiring.
 */
#ifndef STRATA_CHIP_INT_H
#define STRATA_CHIP_INT_H

#include <pthread.h>

#include "platform/atomics.h"
#include "platform/event.h"
#include "platform/platform_int.h"
#include "platform/trace_rec.h"
#include "strata/chip.h"

/* ---- task -------------------------------------------------------------- */
enum strata__task_state {
  STRATA_TS_FREE = 0,
  STRATA_TS_PENDING,
  STRATA_TS_READY,
  STRATA_TS_RUNNING,
  STRATA_TS_COMPLETED,
  STRATA_TS_FAILED,
  STRATA_TS_CONSUMED
};

struct strata__task;

#define STRATA_DUMMY_KERNEL UINT32_MAX /* kernel id of a dummy task */
#define STRATA_KIND_MIX 2u            /* task kind of a MIX task (its own ready queue) */
#define STRATA_NUM_READYQ 3           /* AIC, AIV, MIX */
#define STRATA_MIX_LANES 3            /* a cluster: lane 0 AIC, lanes 1-2 AIV */
#define STRATA_TASK_INLINE_TENSORS 10 /* tensor arguments held in the task itself */
#define STRATA_TASK_INLINE_SCALARS 8  /* scalar arguments held in the task itself */

/* Dependency-pool entry: "consumer waits for the producer whose fanout list
 * holds me". Written by the orchestrator before the CAS that publishes it;
 * read by the completing thread after the exchange that closes the list. */
typedef struct strata__dep {
  struct strata__task *consumer;
  struct strata__dep *next;
} strata__dep;

#define STRATA_FANOUT_CLOSED ((strata__dep *)(uintptr_t)1)

/* Cache-line aligned (size a multiple of 64): a task's shared atomics never
 * share a line with the previous slot's arguments, which the orchestrator
 * writes while cores update this task (false sharing cost ~25% of tiny-task
 * throughput when the size drifted off a multiple of 64). */
typedef struct strata__task {
  /* shared atomics */
  _Alignas(64) _Atomic uint32_t state; /* enum strata__task_state */
  _Atomic int32_t fanin;           /* unresolved producers + guard + hold */
  _Atomic int32_t refs;            /* see DESIGN */
  _Atomic uint32_t poisoned;       /* a producer failed */
  _Atomic uint32_t failed;         /* ended FAILED; sticky until the slot is reused */
  _Atomic(strata__dep *) fanout;   /* consumers; FANOUT_CLOSED once done */
  _Atomic uint64_t id;             /* handle; orch writes at alloc */
  _Atomic uint32_t kernel;         /* orch writes at alloc; dump reads */
  _Atomic int32_t core;            /* scheduler writes at dispatch */
  _Atomic uint64_t start_ns;       /* scheduler writes at dispatch */
  _Atomic uint64_t ready_ns;       /* trace level >= 2: when it became READY */
  /* orchestrator-written before publication, read-only afterwards */
  uint8_t ring, kind, nprod, scope_held, held;
  uint8_t dummy;                   /* no kernel: finished unrun once READY */
  uint8_t sync_start;              /* SPMD: blocks start together (gang) */
  uint32_t block_dim;              /* SPMD blocks (1 for an ordinary task) */
  _Atomic uint32_t next_block;     /* next block index to hand out (poppers) */
  _Atomic uint32_t blocks_left;    /* blocks not finished; the last finishes t */
  _Atomic uint32_t block_failed;   /* a block failed */
  _Atomic uint32_t bar_count, bar_gen; /* the task's barrier (core.c): a sync_start
                                      gang's start, or a MIX task's lanes */
  uint32_t kernel_aiv;             /* MIX: the AIV lanes' kernel (kernel: AIC lane's) */
  void *mix_scratch;               /* MIX: scratch shared by the lanes (heap block) */
  uint16_t ntensors, nscalars;
  uint64_t heap_end;               /* heap ring head after this task (orch) */
  uint64_t dep_end;                /* dep pool head after this task (orch) */
  struct strata__task *prod[STRATA_MAX_DEPS]; /* producers holding our ref */
  /* arguments: in the task up to the inline counts (every small task); a
   * task with more keeps them in its heap block, after its outputs, freed
   * when the task retires. targs/sargs point at whichever holds them. */
  strata_tensor *targs;
  uint64_t *sargs;
  strata_tensor tensors[STRATA_TASK_INLINE_TENSORS];
  uint64_t scalars[STRATA_TASK_INLINE_SCALARS];
} strata__task;

/* ---- rings ------------------------------------------------------------- */
/* One per scope-depth ring. All indices are free-running and written by the
 * orchestrator only; head/tail are atomics because diagnostics read them. */
typedef struct strata__ring {
  strata__task *tasks;
  uint32_t window;                 /* power of two */
  _Atomic uint64_t head, tail;     /* task sequence numbers */
  uint8_t *heap;
  uint64_t heap_size, heap_head, heap_tail; /* bytes */
  strata__dep *deps;
  uint64_t dep_cap, dep_head, dep_tail;     /* entries */
} strata__ring;

/* ---- ready queue: bounded MPMC (sequence-numbered cells) ----------------- */
typedef struct strata__rq_cell {
  _Atomic uint64_t seq;
  strata__task *task;
} strata__rq_cell;

typedef struct strata__readyq {
  strata__rq_cell *cells;
  uint64_t mask;
  _Alignas(64) _Atomic uint64_t enq; /* producers */
  _Alignas(64) _Atomic uint64_t deq; /* consumers */
} strata__readyq;

/* ---- tensormap (an interval index per buffer; see tensormap.c) ----------- */
typedef struct strata__tm_acc {    /* one recorded access */
  struct strata__tm_acc *next;     /* first field: pool link, then reader list */
  strata__task *task;
  uint64_t id;                     /* task id when recorded (staleness) */
} strata__tm_acc;

typedef struct strata__tm_range {  /* treap node: bytes [start, end) of one buffer */
  struct strata__tm_range *left;   /* first field: pool link when free */
  struct strata__tm_range *right;
  uintptr_t start, end, maxend;    /* maxend: the largest end in this subtree */
  uint32_t prio;                   /* treap heap order */
  strata__tm_acc *writer;          /* last write covering the range, or NULL */
  strata__tm_acc *readers;         /* reads since that write */
} strata__tm_range;

typedef struct strata__tm_buf {    /* the ranges of one buffer, hashed by base */
  struct strata__tm_buf *next;     /* first field: pool link / hash chain */
  uintptr_t base;
  strata__tm_range *root;
} strata__tm_buf;

typedef struct strata__tensormap {
  strata__tm_buf **buckets;
  uint32_t nbuckets;               /* power of two */
  strata__pool accs, ranges, bufs;
  size_t cap;                      /* most live accesses (tensormap_cap) */
  uint32_t seed;                   /* treap priorities */
} strata__tensormap;

/* ---- cores and schedulers ------------------------------------------------ */
enum { STRATA_REG_IDLE = 0, STRATA_REG_ASSIGNED, STRATA_REG_DONE, STRATA_REG_EXIT };

/* Per-core handshake register (the simulated core's mailbox). */
typedef struct strata__core {
  _Atomic uint32_t reg_state;      /* sched: IDLE->ASSIGNED, DONE->IDLE, EXIT;
                                      core: ASSIGNED->DONE */
  _Atomic(strata__task *) reg_task; /* sched writes before ASSIGNED (release) */
  _Atomic uint32_t reg_block;      /* SPMD block of reg_task (written with it) */
  _Atomic uint32_t reg_failed;     /* core writes before DONE (release) */
  _Atomic uint64_t waiting_for;    /* core (its kernel) writes, cleared per task;
                                      the hang latch reads: strata__wait_note */
  strata__event ev;                /* core parks here */
  uint32_t id, owner;
  strata_core_kind kind;
  struct strata_chip *chip;
  pthread_t thread;
  int started;
} strata__core;

typedef struct strata__sched {
  uint32_t id;
  struct strata_chip *chip;
  strata__core **cores;            /* owned cores (whole clusters) */
  uint32_t ncores;
  uint32_t running;                /* RUNNING tasks on owned cores (own thread) */
  uint64_t last_progress_ns;       /* own clock: completion/dispatch/wiring */
  _Atomic uint64_t core_progress_ns; /* owned cores' chained completions (cores write) */
  uint64_t idle_iters;             /* legacy detector */
  _Atomic uint32_t idle[2];        /* idle owned cores per kind: the owner writes
                                      (inc at harvest, dec at dispatch, each then
                                      smp_mb); readiers read to pick whom to wake */
  strata__event ev;                /* parks here; signalled by cores, readiers */
  pthread_t thread;
  int started;
} strata__sched;

/* ---- the shared header of a run (SPEC §2) -------------------------------- */
/* Error codes are latched first-writer-wins by CAS from 0; only the winner
 * writes the matching message, which the host reads after joining. */
typedef struct strata__run_hdr {
  _Atomic int32_t orch_error_code;   /* 1..10 */
  _Atomic int32_t sched_error_code;  /* 100 */
  _Atomic int32_t sched_error_thread;
  _Atomic uint64_t report_bitmap;    /* bit i: scheduler i reported */
  _Atomic int32_t task_error;        /* TASK_FAILED latched */
  _Atomic uint32_t cancel;           /* abort: kernels return, waits fail */
  _Atomic uint32_t stop;             /* threads exit */
  _Atomic uint32_t orch_done;        /* orchestration returned, scopes closed */
  /* written by the sched_error_code CAS winner only; read after join */
  int hang_class;                    /* strata_hang_class */
  uint64_t stuck_task, stuck_ms;
  int32_t stuck_core;
  uint32_t stuck_kernel;
  char orch_msg[512], sched_msg[768], task_msg[512];
} strata__run_hdr;

/* Where the orchestrator blocks inside the runtime (chip->orch_blocked). */
enum { STRATA_ORCH_RUNNING = 0, STRATA_ORCH_BLOCKED_RING, STRATA_ORCH_BLOCKED_TENSOR };

typedef struct strata__kernel {
  strata_kernel_fn fn;
  strata_core_kind kind;
  char name[32];
} strata__kernel;

struct strata_orch {
  struct strata_chip *chip;
};

struct strata_kernel_ctx {
  strata__task *task;
  strata__core *core;
  int failed;
  uint32_t block;
};

struct strata_chip {
  strata_chip_config cfg;
  strata__kernel kernels[STRATA_MAX_KERNELS];
  uint32_t nkernels;
  void *arena;
  size_t arena_bytes;
  strata__ring rings[STRATA_NUM_RINGS];
  strata__readyq readyq[STRATA_NUM_READYQ]; /* by strata_core_kind, then MIX */
  strata__tensormap tmap;
  /* scopes (orchestrator only) */
  uint32_t depth;
  uint32_t scope_start[STRATA_MAX_SCOPE_DEPTH + 1];
  strata__task **scope_tasks;
  uint32_t nscope_tasks;
  /* threads */
  strata__core *cores;
  uint32_t ncores;
  strata__sched *scheds;
  pthread_t orch_thread;
  int orch_started;
  strata_orch orch;
  strata_orch_fn orch_fn;
  void *orch_args;
  /* run state */
  strata__run_hdr hdr;
  strata__event orch_ev;           /* orchestrator waits: retirement, tensors */
  _Atomic uint64_t consumed;       /* tasks that reached CONSUMED this run */
  _Atomic uint64_t orch_wake_at;   /* wake the orch once consumed reaches this */
  _Atomic uint32_t orch_tensor_wait; /* orch waits for a tensor: signal finishes */
  _Atomic uint32_t orch_blocked;     /* STRATA_ORCH_*: orch writes (release) before
                                        it blocks; the hang fallback reads (acquire) */
  strata__event host_ev;           /* host waits: run end, threads parked */
  /* persistent run threads (run.c): created at the first run, parked
   * between runs on start_ev. The host writes the run's state, then bumps
   * run_gen (release); a thread that sees a new gen (acquire) runs its role
   * until the run's stop flag, then counts itself in `parked` (acq_rel) and
   * signals host_ev. `exiting` (release) ends them at destroy. */
  _Atomic uint32_t run_gen, parked, exiting;
  strata__event start_ev;
  int threads_started, threads_rc;
  uint32_t nthreads;
  _Atomic uint64_t submitted, completed, failed, poisoned;
  _Atomic uint32_t running_total;  /* RUNNING tasks on all cores: a scheduler
                                      claims a CPU by CAS below cpu_budget before
                                      a dispatch and returns it at harvest */
  uint32_t cpu_budget;             /* kernels run at once (CPUs; STRATA_ACTIVE_CORES) */
  _Atomic(strata__task *) gang;    /* the sync_start task gathering its blocks, or
                                      NULL: one gang gathers at a time (poppers CAS,
                                      its last block clears it, release) */
  _Atomic uint32_t orch_cpu;       /* 1 while the orchestrator runs (it takes one CPU
                                      of the budget); orchestrator writes */
  int chain;                       /* cores chain READY tasks (STRATA_CHAIN, default 1) */
  _Atomic uint64_t last_finish_ns; /* last completion (coarse clock): the budget's lease */
  _Atomic uint64_t last_progress_ns; /* any thread's progress */
  _Atomic uint64_t stall_reports, last_stall_ns;
  int in_run, wedged;
  int trace_pending;               /* records of the last run not flushed yet */
};

/* ---- ring.c ---- */
STRATA_HIDDEN int strata__rings_create(strata_chip *chip);
STRATA_HIDDEN void strata__rings_destroy(strata_chip *chip);
STRATA_HIDDEN void strata__rings_reset(strata_chip *chip);
STRATA_HIDDEN strata__task *strata__task_by_id(strata_chip *chip, uint64_t id);
/* Reserve slot + heap + dep entries in ring r, waiting (back-pressure) until
 * they fit. On success *t is the new slot (not yet published), *heap the
 * output block (NULL if heap_bytes == 0) and *deps the entries. */
STRATA_HIDDEN int strata__ring_alloc(strata_chip *chip, uint32_t r,
                                     uint64_t heap_bytes, uint32_t ndeps,
                                     strata__task **t, uint8_t **heap,
                                     strata__dep **deps);
STRATA_HIDDEN uint64_t strata__ring_retire(strata_chip *chip, uint32_t r);

/* ---- readyq.c ---- */
STRATA_HIDDEN int strata__readyq_init(strata__readyq *q, uint64_t cap);
STRATA_HIDDEN void strata__readyq_destroy(strata__readyq *q);
STRATA_HIDDEN void strata__readyq_reset(strata__readyq *q);
STRATA_HIDDEN int strata__readyq_push(strata__readyq *q, strata__task *t);
STRATA_HIDDEN strata__task *strata__readyq_pop(strata__readyq *q);
/* The next READY task of a kind that needs a core: poisoned tasks (FAILED)
 * and dummy tasks (COMPLETED) popped on the way are finished unrun. */
STRATA_HIDDEN strata__task *strata__next_runnable(strata_chip *chip, uint32_t kind, int *finished,
                                                  uint32_t *block);
/* The next task of a ready queue that needs running, finishing poisoned and
 * dummy tasks popped on the way (counted in *finished). */
STRATA_HIDDEN strata__task *strata__pop_live(strata_chip *chip, uint32_t kind, int *finished);
/* A block of t ended (an ordinary task has one): the last one finishes t. */
STRATA_HIDDEN void strata__block_done(strata_chip *chip, strata__task *t, int failed);
STRATA_HIDDEN int strata__readyq_empty(strata__readyq *q);

/* ---- tensormap.c ---- */
STRATA_HIDDEN int strata__tmap_init(strata__tensormap *m, uint32_t nbuckets, size_t cap);
STRATA_HIDDEN void strata__tmap_destroy(strata__tensormap *m);
STRATA_HIDDEN void strata__tmap_reset(strata__tensormap *m);
/* Append to prod[] (deduplicated) the live tasks whose recorded accesses
 * conflict with accessing t (write: readers and writers; read: writers).
 * Returns the new count, or -1 if more than `cap` producers. */
STRATA_HIDDEN int strata__tmap_lookup(strata__tensormap *m, const strata_tensor *t,
                                      int write, strata__task **prod, int n, int cap);
/* Make sure n entries can be recorded without allocating (call before a
 * task is published, so recording its accesses cannot fail half way).
 * TENSORMAP_OVERFLOW when more than `cap` entries would be live. */
STRATA_HIDDEN int strata__tmap_reserve(strata__tensormap *m, size_t n);
/* Record that task (id) accesses t; never fails after a reserve. */
STRATA_HIDDEN int strata__tmap_record(strata__tensormap *m, const strata_tensor *t,
                                      int write, strata__task *task, uint64_t id);

/* ---- graph.c (shared by orchestrator and schedulers) ---- */
STRATA_HIDDEN void strata__task_unref(strata_chip *chip, strata__task *t);
STRATA_HIDDEN int strata__task_tryref(strata__task *t, uint64_t id);
/* Publish a task whose fanin reached zero to its ready queue. */
STRATA_HIDDEN void strata__task_ready(strata_chip *chip, strata__task *t);
/* Tell task_ready that the calling thread will dispatch this many READY
 * tasks of each kind itself (a scheduler with idle cores). */
STRATA_HIDDEN void strata__set_ready_credit(uint32_t aic, uint32_t aiv);
/* Wake one scheduler (other than `self`, may be NULL) with an idle core of
 * `kind`, if a task of that kind is READY and a CPU is free for it. */
STRATA_HIDDEN void strata__kick(strata_chip *chip, uint32_t kind, const strata__sched *self);
/* How long the CPU budget may go without a completion before one more
 * kernel starts anyway: kernels blocked in a wait must not starve the run. */
#define STRATA_CPU_LEASE_NS (4 * STRATA_NS_PER_MS)
/* 1 if one more kernel may start now: under the CPU budget, or the budget
 * has seen no completion for a lease (kernels blocked, e.g. in a wait). */
STRATA_HIDDEN int strata__cpu_free(strata_chip *chip);
/* CPUs for kernels now: the budget less the orchestrator while it runs (>= 1). */
STRATA_HIDDEN uint32_t strata__kernel_cpus(strata_chip *chip);
STRATA_HIDDEN void strata__task_dec_fanin(strata_chip *chip, strata__task *t);
/* Finish a task (ran, failed, or poisoned): close fanout, release deps. */
STRATA_HIDDEN void strata__task_finish(strata_chip *chip, strata__task *t, int failed);
STRATA_HIDDEN void strata__note_progress(strata_chip *chip);
/* " (it waits for rank R chip C, step S)" from core c's note, or "". */
STRATA_HIDDEN void strata__wait_note(const strata__core *c, char *buf, size_t len);
STRATA_HIDDEN int strata__run_cancelled(strata_chip *chip);
STRATA_HIDDEN void strata__wake_all(strata_chip *chip);
/* Wake the schedulers and the orchestrator only (the end of a run: idle
 * cores have nothing to do with it). */
STRATA_HIDDEN void strata__wake_scheds(strata_chip *chip);
STRATA_HIDDEN const char *strata__state_name(uint32_t state);
/* Name of kernel k ("?" if out of range), for messages. */
STRATA_HIDDEN const char *strata__kernel_name(const strata_chip *chip, uint32_t k);
/* Latch a scheduler-side code (100, 104) that is not a hang (first wins). */
STRATA_HIDDEN void strata__sched_fatal(strata_chip *chip, int code, const char *fmt, ...)
    STRATA_PRINTF(3, 4);

/* ---- orch.c ---- */
STRATA_HIDDEN void *strata__orch_main(void *arg);
STRATA_HIDDEN int strata__orch_latch(strata_chip *chip, int status,
                                     const char *fmt, ...) STRATA_PRINTF(3, 4);
/* Mark the orchestrator as blocked inside the runtime (STRATA_ORCH_BLOCKED_*)
 * or running user code again (STRATA_ORCH_RUNNING). */
STRATA_HIDDEN void strata__orch_block(strata_chip *chip, uint32_t where);

/* ---- sched.c / hang.c ---- */
STRATA_HIDDEN void *strata__sched_main(void *arg);
STRATA_HIDDEN int strata__hang_check(strata__sched *s, uint64_t now);
STRATA_HIDDEN void strata__stall_report(strata_chip *chip, uint64_t now);
/* Write a summary of what blocks progress (tasks by state, busy cores). */
STRATA_HIDDEN void strata__dump_blocking(strata_chip *chip, char *buf, size_t len);

/* ---- run.c ---- */
/* A run thread waits here between runs: 1 with *gen updated when a new run
 * starts, 0 when the chip is being destroyed. */
STRATA_HIDDEN int strata__await_run(strata_chip *chip, uint32_t *gen);
/* A run thread finished its part of the run. */
STRATA_HIDDEN void strata__thread_parked(strata_chip *chip);
/* Stop and join the run threads (destroy); 0, or ETIMEDOUT if one is stuck. */
STRATA_HIDDEN int strata__threads_exit(strata_chip *chip);
/* Flush the trace records of the last run, if any (host thread, between runs). */
STRATA_HIDDEN void strata__chip_trace_flush(strata_chip *chip);

/* ---- core.c ---- */
STRATA_HIDDEN void *strata__core_main(void *arg);
/* Put block `block` of READY task t on core c (task fields the hang detector
 * and traces read, then the core's register task); the caller publishes it
 * (a scheduler: ASSIGNED) or runs it (a chaining core). */
STRATA_HIDDEN void strata__core_take(strata__core *c, strata__task *t, uint32_t block, uint64_t now);

#endif
