/* strata/chip.h - the L2 chip runtime: a simulated chip (cores are threads,
 * device memory is host memory) that runs a task graph built by an
 * orchestration function.
 *
 * Typical use:
 *   strata_chip_config cfg;  strata_chip_config_init(&cfg);
 *   strata_chip *chip;       strata_chip_create(&cfg, &chip);
 *   uint32_t add;            strata_chip_register_kernel(chip, "add", k_add,
 *                                                        STRATA_CORE_AIV, &add);
 *   strata_run_info info;    rc = strata_chip_run(chip, my_orch, my_args, &info);
 *   strata_chip_destroy(chip);
 *
 * The orchestration function runs on the chip's orchestrator thread and
 * submits tasks; dependencies are inferred from the tensors (address-range
 * overlap of views of one buffer) plus explicit ones. The run returns when
 * every task has finished, or with the first error latched.
 */
#ifndef STRATA_CHIP_H
#define STRATA_CHIP_H

#include <stddef.h>
#include <stdint.h>

#include "strata/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- limits ------------------------------------------------------------ */
#define STRATA_MAX_TENSOR_ARGS 256 /* tensor arguments of one task */
#define STRATA_MAX_SCALAR_ARGS 128 /* scalar arguments of one task */
#define STRATA_MAX_EXPLICIT_DEPS 8 /* explicit dependencies of one task */
#define STRATA_MAX_BLOCK_DIM 65535 /* blocks of one SPMD task */
#define STRATA_MIX_SCRATCH_BYTES (64u * 1024u) /* scratch shared by a MIX task's lanes */
#define STRATA_MAX_DEPS 64        /* producers of one task (DEPENDENCY_OVERFLOW) */
#define STRATA_MAX_KERNELS 256    /* registered kernels of one chip */
#define STRATA_MAX_SCOPE_DEPTH 64 /* nesting of scopes */
#define STRATA_NUM_RINGS 4        /* ring = min(scope depth, 3) */

/* ---- types ------------------------------------------------------------- */
typedef struct strata_chip strata_chip;
typedef struct strata_orch strata_orch;             /* orchestration context */
typedef struct strata_kernel_ctx strata_kernel_ctx; /* kernel context */

typedef enum strata_core_kind {
  STRATA_CORE_AIC = 0, /* matrix core: one per cluster */
  STRATA_CORE_AIV = 1  /* vector core: two per cluster */
} strata_core_kind;

typedef enum strata_dtype {
  STRATA_DT_U8 = 0,
  STRATA_DT_I32,
  STRATA_DT_I64,
  STRATA_DT_F16,
  STRATA_DT_BF16,
  STRATA_DT_F32,
  STRATA_DT_F64,
  STRATA_DT_I8,
  STRATA_DT_I16,
  STRATA_DT_FP8_E4M3, /* fp8 storage types: 1 byte, no arithmetic here */
  STRATA_DT_FP8_E5M2
} strata_dtype;

#define STRATA_MAX_DIMS 5 /* dimensions of a tensor */

/* Argument tags: how a task uses a tensor. */
typedef enum strata_arg_tag {
  STRATA_INPUT = 0,           /* read: waits for earlier writers */
  STRATA_OUTPUT = 1,          /* runtime-allocated, freed when its scope ends */
  STRATA_INOUT = 2,           /* read + write an existing tensor */
  STRATA_OUTPUT_EXISTING = 3, /* write an existing tensor */
  STRATA_NO_DEP = 4           /* passed to the kernel, never tracked */
} strata_arg_tag;

/* A tensor: elements of a dtype with a shape and strides (up to 5 dims,
 * row-major when built by strata_tensor_nd), inside a buffer. Views share
 * the buffer's `base`; dependencies are inferred between overlapping byte
 * ranges [data, data + bytes) of one base, where `bytes` spans the view's
 * first to last element (a strided slice covers its gaps too). Treat the
 * fields as read-only; build tensors with the functions below. Element
 * (i0, .., in) of a tensor is at data + sum(i_k * strides[k]) * elem size. */
typedef struct strata_tensor {
  void *data;         /* first byte */
  void *base;         /* buffer this is a view of */
  size_t bytes;       /* byte range the tensor spans */
  strata_dtype dtype; /* element type */
  uint32_t ndim;      /* 1..STRATA_MAX_DIMS (flat tensors: 1) */
  uint64_t owner;     /* internal: producing task of a runtime output, or 0 */
  uint32_t shape[STRATA_MAX_DIMS];   /* elements per dimension */
  uint32_t strides[STRATA_MAX_DIMS]; /* elements between neighbours per dimension */
} strata_tensor;

/* Handle of a submitted task (0 = none). */
typedef struct strata_task_ref {
  uint64_t id;
} strata_task_ref;

/* Task argument list, built on the stack with strata_args_*() (about 24 KiB:
 * up to 256 tensors and 128 scalars). Builder errors are sticky and
 * reported by strata_orch_submit() as INVALID_ARGS. A submitted task keeps
 * up to 10 tensors and 8 scalars in itself; a task with more keeps them in
 * its ring heap block until it retires, so small tasks cost what they did. */
typedef struct strata_args {
  uint32_t ntensors, nscalars, ndeps, held;
  int error;
  uint32_t block_dim, sync_start; /* SPMD: strata_args_spmd (0 = one block) */
  strata_tensor tensors[STRATA_MAX_TENSOR_ARGS];
  strata_tensor *outputs[STRATA_MAX_TENSOR_ARGS]; /* written back at submit */
  uint8_t tags[STRATA_MAX_TENSOR_ARGS];
  uint64_t scalars[STRATA_MAX_SCALAR_ARGS];
  strata_task_ref deps[STRATA_MAX_EXPLICIT_DEPS];
} strata_args;

typedef void (*strata_kernel_fn)(strata_kernel_ctx *ctx);
typedef void (*strata_orch_fn)(strata_orch *orch, void *args);

/* ---- configuration ----------------------------------------------------- */
/* Bits of strata_chip_config.field_mask: a field is used only if its bit is
 * set; otherwise the environment variable named in brackets, then the
 * built-in default, applies. */
enum {
  STRATA_CFG_SCHED_THREADS = 1u << 0,    /* default 3 */
  STRATA_CFG_CLUSTERS = 1u << 1,         /* default 3 (1 AIC + 2 AIV each) */
  STRATA_CFG_TASK_WINDOW = 1u << 2,      /* [PTO2_RING_TASK_WINDOW] 16384 */
  STRATA_CFG_HEAP_BYTES = 1u << 3,       /* [PTO2_RING_HEAP] 256 MiB */
  STRATA_CFG_DEP_POOL = 1u << 4,         /* [PTO2_RING_DEP_POOL] 16384 */
  STRATA_CFG_SCHED_TIMEOUT = 1u << 5,    /* [STRATA_SCHEDULER_TIMEOUT_MS] 10000 */
  STRATA_CFG_SYNC_TIMEOUT = 1u << 6,     /* [STRATA_STREAM_SYNC_TIMEOUT_MS] 50000 */
  STRATA_CFG_RING_WAIT_TIMEOUT = 1u << 7, /* [STRATA_RING_WAIT_TIMEOUT_MS] 5000 */
  STRATA_CFG_TENSOR_WAIT_TIMEOUT = 1u << 8, /* [STRATA_TENSOR_WAIT_TIMEOUT_MS] 10000 */
  STRATA_CFG_STALL_REPORT = 1u << 9,     /* [STRATA_STALL_REPORT_MS] 1000 */
  STRATA_CFG_LEGACY = 1u << 10,          /* [STRATA_LEGACY_SCHED_TIMEOUT] 0 */
  STRATA_CFG_LEGACY_IDLE_CAP = 1u << 11, /* [STRATA_LEGACY_IDLE_CAP] 1000 */
  STRATA_CFG_SCOPE_TASKS = 1u << 12,     /* [STRATA_SCOPE_TASKS_CAP] 65536 */
  STRATA_CFG_INIT_DELAY = 1u << 13,      /* [STRATA_FAULT_CHIP_INIT_DELAY_MS] 0 */
  STRATA_CFG_JOIN_GRACE = 1u << 14,      /* [STRATA_JOIN_GRACE_MS] 2000 */
  STRATA_CFG_UNORDERED_TIMEOUTS = 1u << 15, /* (explicit only) 0 */
  STRATA_CFG_TENSORMAP_CAP = 1u << 16,   /* [STRATA_TENSORMAP_CAP] 4194304 */
  STRATA_CFG_FAULT_NO_DISPATCH = 1u << 17 /* [STRATA_FAULT_NO_DISPATCH] 0 */
};

/* Timeout defaults (SPEC §2); SIMPLER_SCHEDULER_TIMEOUT_MS and
 * SIMPLER_STREAM_SYNC_TIMEOUT_MS are accepted as aliases (STRATA_* wins). */
#define STRATA_DEFAULT_SCHED_TIMEOUT_MS 10000u
#define STRATA_DEFAULT_SYNC_TIMEOUT_MS 50000u

typedef struct strata_chip_config {
  uint64_t field_mask;
  uint32_t sched_threads;          /* scheduler threads, 1..64 */
  uint32_t clusters;               /* clusters of 1 AIC + 2 AIV cores, 1..64 */
  uint32_t task_window;            /* task slots per ring, power of two >= 4 */
  uint64_t heap_bytes;             /* output heap per ring, >= 4096 */
  uint32_t dep_pool;               /* dependency entries per ring, >= 1 */
  uint32_t scheduler_timeout_ms;   /* SCHEDULER_TIMEOUT_MS: hang budget, >= 1 */
  uint32_t stream_sync_timeout_ms; /* STREAM_SYNC_TIMEOUT_MS; 0 = unbounded; must
                                      exceed scheduler_timeout_ms + 1500 */
  uint32_t ring_wait_timeout_ms;   /* back-pressure wait with no progress */
  uint32_t tensor_wait_timeout_ms; /* strata_orch_wait_tensor() budget */
  uint32_t stall_report_ms;        /* STALL diagnostics period; 0 = never */
  uint32_t legacy_sched_timeout;   /* 1 = old idle-iteration-cap detector */
  uint32_t legacy_idle_cap;        /* idle iterations (~1 ms each) in legacy */
  uint32_t scope_tasks_cap;        /* output-owning tasks held by open scopes */
  uint32_t init_delay_ms;          /* fault injection: sleep in create */
  uint32_t join_grace_ms;          /* wait for threads after a cancel */
  uint32_t unordered_timeouts;     /* 1 = accept stream sync <= scheduler budget
                                      + 1.5 s (only to reproduce field setups) */
  uint32_t tensormap_cap;          /* live dependency-map entries, >= 1024
                                      (TENSORMAP_OVERFLOW beyond) */
  uint32_t fault_no_dispatch;      /* fault injection: schedulers never dispatch */
} strata_chip_config;

/* Fill *cfg with field_mask 0 (every field from environment or default) and
 * the resolved values, so callers may read them. cfg must not be NULL. */
STRATA_API void strata_chip_config_init(strata_chip_config *cfg);

/* Resolve a configuration as strata_chip_create would (explicit fields,
 * environment, defaults, timeout ordering) without creating a chip: *out
 * holds every resolved value and in's field_mask (in may be NULL). EINVAL
 * with a message naming the field for an invalid explicit value or an
 * explicit timeout pair out of order; *out is untouched on failure. */
STRATA_API int strata_chip_config_resolve(const strata_chip_config *in, strata_chip_config *out);

/* Valid range of the field selected by one STRATA_CFG_* bit (for front
 * ends that check input before creating a chip). EINVAL for an unknown bit
 * or NULL outputs. */
STRATA_API int strata_chip_config_range(uint64_t bit, uint64_t *min, uint64_t *max);

/* ---- chip lifecycle ---------------------------------------------------- */
/* Create and initialise a chip: resolves the configuration (invalid
 * environment values warn and keep the default; invalid explicit fields
 * fail with EINVAL), reserves the device arena (address space only: cost does
 * not grow with heap size). cfg may be NULL for all defaults. On success
 * *out owns the chip; on failure *out is untouched. */
STRATA_API int strata_chip_create(const strata_chip_config *cfg,
                                  strata_chip **out);

/* Resolved configuration of a chip (never NULL). */
STRATA_API const strata_chip_config *strata_chip_get_config(const strata_chip *chip);

/* Register a kernel; *id receives its id for strata_orch_submit(). Not
 * allowed during a run (EBUSY). name is copied; may be NULL. */
STRATA_API int strata_chip_register_kernel(strata_chip *chip, const char *name,
                                           strata_kernel_fn fn,
                                           strata_core_kind kind, uint32_t *id);

/* Id of the kernel registered under `name` (the first one), for code that
 * runs where the registering call's result is not visible (e.g. a chip
 * orchestration in a node's chip child). ENOENT if none. */
STRATA_API int strata_chip_find_kernel(const strata_chip *chip, const char *name, uint32_t *id);

/* Sub-class of a SCHEDULER_TIMEOUT (100): which situation latched it. The
 * numbers follow the seed system's S-classes; S2 is not a class strata
 * reports. */
typedef enum strata_hang_class {
  STRATA_HANG_NONE = 0,
  STRATA_HANG_RUNNING_STALLED = 1, /* S1: an owned RUNNING task made no progress */
  STRATA_HANG_READY_IDLE = 3,      /* S3: READY tasks, every core idle */
  STRATA_HANG_DEP_DEADLOCK = 4,    /* S4: WAITING tasks whose producers never finish */
  STRATA_HANG_ORCH_STARVATION = 5, /* S5: the orchestrator, blocked in the runtime,
                                      waits for tasks that can never finish */
  STRATA_HANG_LEGACY = 9           /* legacy idle-iteration cap */
} strata_hang_class;

/* "S1 running-stalled", ..., "LEGACY", "none"; never NULL. */
STRATA_API const char *strata_hang_class_name(int hang_class);

/* Outcome of one run. */
typedef struct strata_run_info {
  int status;          /* same as strata_chip_run's return */
  int raw_status;      /* SPEC §2 header status: -orch code, else -sched code */
  int orch_code;       /* latched orchestrator code (1..10) or 0 */
  int sched_code;      /* latched scheduler code (100) or 0 */
  int sched_thread;    /* scheduler thread that latched sched_code, or -1 */
  uint64_t report_bitmap; /* scheduler threads that reported an error */
  uint64_t tasks_submitted, tasks_completed, tasks_failed, tasks_poisoned;
  uint64_t stall_reports; /* STALL diagnostics logged */
  uint64_t elapsed_ns;    /* launch to end of stream sync */
  int hang_class;         /* strata_hang_class of sched_code 100, else 0 */
  uint64_t stuck_task;    /* task the hang detector names (id), or 0 */
  int stuck_core;         /* its core, or -1 */
  uint64_t stuck_ms;      /* how long it was stuck (S1: running; else no progress) */
  char stuck_kernel[32];  /* its kernel's name, or "" */
  char message[512];      /* what failed and how to fix it; "" on success */
} strata_run_info;

/* Launch schedulers, cores and the orchestrator running orch(orch_ctx, args),
 * then stream-sync: wait for the run for at most STREAM_SYNC_TIMEOUT_MS.
 * Returns 0, or: an orchestrator code, SCHEDULER_TIMEOUT, STREAM_SYNC_TIMEOUT
 * (the run was cancelled), TASK_FAILED, CHIP_WEDGED, EBUSY (run in progress).
 * info may be NULL. One run at a time per chip. */
STRATA_API int strata_chip_run(strata_chip *chip, strata_orch_fn orch,
                               void *args, strata_run_info *info);

/* Release the chip. Returns EBUSY (and does nothing) during a run. A wedged
 * chip leaks its arena on purpose: a stuck thread may still touch it. */
STRATA_API int strata_chip_destroy(strata_chip *chip);

/* ---- tensors ----------------------------------------------------------- */
/* A tensor over caller memory (not owned by strata). */
STRATA_API strata_tensor strata_tensor_external(void *data, size_t bytes,
                                                strata_dtype dtype);
/* A view [offset, offset+bytes) of t; sets data NULL if out of range. */
STRATA_API strata_tensor strata_tensor_view(const strata_tensor *t,
                                            size_t offset, size_t bytes);
/* Size in bytes of one element of dtype (0 if not a dtype). */
STRATA_API size_t strata_dtype_size(strata_dtype dtype);
/* A row-major tensor of ndim (1..5) dimensions over caller memory; data
 * NULL on a bad dtype, ndim or shape. */
STRATA_API strata_tensor strata_tensor_nd(void *data, strata_dtype dtype, uint32_t ndim,
                                          const uint32_t *shape);
/* A view by slicing: elements start[k] .. start[k] + size[k] - 1 of every
 * dimension k (same strides, same base); data NULL if out of range. */
STRATA_API strata_tensor strata_tensor_slice(const strata_tensor *t, const uint32_t *start,
                                             const uint32_t *size);
/* Elements of t (the product of its shape). */
STRATA_API uint64_t strata_tensor_numel(const strata_tensor *t);

/* ---- task arguments ---------------------------------------------------- */
STRATA_API void strata_args_init(strata_args *a);
/* Add a tensor with tag INPUT, INOUT, OUTPUT_EXISTING or NO_DEP. */
STRATA_API void strata_args_tensor(strata_args *a, strata_arg_tag tag,
                                   const strata_tensor *t);
/* Add a runtime-allocated OUTPUT of `bytes`; *t is filled at submit and is
 * valid until the enclosing scope ends. */
STRATA_API void strata_args_output(strata_args *a, strata_tensor *t,
                                   size_t bytes, strata_dtype dtype);
STRATA_API void strata_args_scalar(strata_args *a, uint64_t value);
STRATA_API void strata_args_scalar_f64(strata_args *a, double value);
/* Explicit dependency on an earlier task. */
STRATA_API void strata_args_dep(strata_args *a, strata_task_ref task);
/* SPMD: run the kernel as block_dim blocks (1..STRATA_MAX_BLOCK_DIM), each on
 * a core of the kernel's kind, with its index in strata_kernel_block_idx().
 * The task completes when every block has; it fails if any block fails. With
 * sync_start, all blocks start together (none runs its kernel before every
 * block has a core); submit fails with REQUIRE_SYNC_START_INVALID when
 * block_dim exceeds the chip's cores of that kind. */
STRATA_API void strata_args_spmd(strata_args *a, uint32_t block_dim, int sync_start);
/* The task is held: it will not start until strata_orch_release(). */
STRATA_API void strata_args_hold(strata_args *a);

/* ---- orchestration (call only from the orchestration function) ---------- */
/* Submit a task running kernel `kernel`. *out (may be NULL) receives its
 * handle. Blocks while a ring is full (back-pressure). On failure the error
 * is latched for the run (first error wins) and later calls fail fast. */
STRATA_API int strata_orch_submit(strata_orch *o, uint32_t kernel,
                                  strata_args *a, strata_task_ref *out);
/* Open / close a scope. Outputs of tasks submitted inside a scope are freed
 * once the scope ends and their consumers finish. */
STRATA_API int strata_orch_scope_begin(strata_orch *o);
STRATA_API int strata_orch_scope_end(strata_orch *o);
/* Release a task submitted with strata_args_hold(). */
STRATA_API int strata_orch_release(strata_orch *o, strata_task_ref task);
/* Wait until every task writing an overlapping range of t has finished
 * (TENSOR_WAIT_TIMEOUT after tensor_wait_timeout_ms). */
STRATA_API int strata_orch_wait_tensor(strata_orch *o, const strata_tensor *t);
/* Copy the first `bytes` of t to dst once every earlier task writing it has
 * finished (TENSOR_WAIT_TIMEOUT after tensor_wait_timeout_ms). */
STRATA_API int strata_orch_get_tensor_data(strata_orch *o, const strata_tensor *t, void *dst,
                                           size_t bytes);
/* Copy src into the first `bytes` of t once every earlier task reading or
 * writing it has finished; tasks submitted afterwards see the new data. */
STRATA_API int strata_orch_set_tensor_data(strata_orch *o, const strata_tensor *t,
                                           const void *src, size_t bytes);
/* Submit a dummy task: no kernel, no core; its tensor tags and explicit
 * dependencies order it like any task, and it completes as soon as it is
 * READY (a join point, or a fence between phases). */
STRATA_API int strata_orch_submit_dummy(strata_orch *o, strata_args *a, strata_task_ref *out);
/* Submit a MIX task: aic_kernel on the AIC core and aiv_kernel on both AIV
 * cores of one cluster, started together (all three cores or none). The
 * three lanes (strata_kernel_block_idx: 0 = AIC, 1 and 2 = AIV) share the
 * arguments, a scratch block of STRATA_MIX_SCRATCH_BYTES
 * (strata_kernel_mix_scratch) and a barrier (strata_kernel_mix_barrier) to
 * hand data to each other inside the task. */
STRATA_API int strata_orch_submit_mix(strata_orch *o, uint32_t aic_kernel, uint32_t aiv_kernel,
                                      strata_args *a, strata_task_ref *out);
/* Latch EXPLICIT_ORCH_FATAL with a message; returns that status. */
STRATA_API int strata_orch_fatal(strata_orch *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* First error latched for this run (0 if none). */
STRATA_API int strata_orch_status(const strata_orch *o);
/* The chip this orchestration runs on. */
STRATA_API strata_chip *strata_orch_chip(strata_orch *o);

/* ---- kernel context (call only from a kernel) --------------------------- */
STRATA_API uint32_t strata_kernel_ntensors(const strata_kernel_ctx *k);
/* i-th tensor argument in submit order; NULL if out of range. */
STRATA_API const strata_tensor *strata_kernel_tensor(const strata_kernel_ctx *k,
                                                     uint32_t i);
STRATA_API uint64_t strata_kernel_scalar(const strata_kernel_ctx *k, uint32_t i);
STRATA_API double strata_kernel_scalar_f64(const strata_kernel_ctx *k, uint32_t i);
STRATA_API uint32_t strata_kernel_core_id(const strata_kernel_ctx *k);
/* SPMD: this block's index (0..block_dim-1) and the task's block count (1
 * for an ordinary task). */
STRATA_API uint32_t strata_kernel_block_idx(const strata_kernel_ctx *k);
STRATA_API uint32_t strata_kernel_block_dim(const strata_kernel_ctx *k);
/* MIX: the task's scratch block (STRATA_MIX_SCRATCH_BYTES into *bytes if not
 * NULL); NULL in other tasks. */
STRATA_API void *strata_kernel_mix_scratch(const strata_kernel_ctx *k, size_t *bytes);
/* MIX: wait until all three lanes reached this barrier (reusable; writes
 * before it are visible after it). 0, STRATA_ECANCELED if the run was
 * cancelled meanwhile, STRATA_EINVAL outside a MIX task. */
STRATA_API int strata_kernel_mix_barrier(strata_kernel_ctx *k);
STRATA_API strata_core_kind strata_kernel_core_kind(const strata_kernel_ctx *k);
/* Nonzero once the run is cancelled: a long-running kernel must poll this
 * and return (the simulated equivalent of a core reset). */
STRATA_API int strata_kernel_cancelled(const strata_kernel_ctx *k);
/* Progress without finishing (SPEC §4): a kernel that waits for other chips
 * calls this whenever what it waits for moves (a chunk arrives, an epoch
 * advances). The hang detector counts it as progress of the kernel's
 * scheduler, so a wait that keeps moving is never latched, however long it
 * takes. Cheap (one coarse clock read and two stores); k NULL: no-op. */
STRATA_API void strata_kernel_progress(const strata_kernel_ctx *k);
/* What the kernel waits for, named by a hang latch of its task (S1) and by
 * STALL reports: MPI rank `rank` (-1: this host) and chip `chip` of that
 * host's node (-1: the whole rank), at step `step` of what it waits in.
 * rank = chip = -1 clears it. k NULL: no-op. */
STRATA_API void strata_kernel_waiting_for(const strata_kernel_ctx *k, int32_t rank, int32_t chip,
                                          uint32_t step);
/* Mark the task FAILED (its dependents are poisoned, the run returns
 * TASK_FAILED with this message). The kernel should return afterwards. */
STRATA_API void strata_kernel_fail(strata_kernel_ctx *k, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#ifdef __cplusplus
}
#endif
#endif
