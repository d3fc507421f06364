/* orch.c - the orchestrator thread: runs the user's orchestration function,
 * turns each submit into a wired task (tensormap dependencies, explicit
 * dependencies, ring allocation with back-pressure), manages scopes and
 * latches the first orchestrator error of the run.
 *
 * DESIGN: everything here runs on the orchestrator thread only; the rings,
 * the tensormap and the scope stack are its private state. A task becomes
 * visible to other threads when it is pushed onto a producer's fanout list
 * (CAS, release) or when its wiring guard is dropped (acq_rel decrement).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "chip/chip_int.h"

static int vlatch(strata_chip *chip, int status, const char *fmt, va_list ap) {
  int code = strata_chip_code(status);
  char msg[sizeof(chip->hdr.orch_msg)];
  vsnprintf(msg, sizeof(msg), fmt, ap);
  if (code == 0) return strata__fail(status, "%s", msg);
  int32_t expected = 0;
  if (cas(&chip->hdr.orch_error_code, &expected, code))
    memcpy(chip->hdr.orch_msg, msg, sizeof(msg)); /* winner only; host reads after join */
  WRITE_ONCE(chip->hdr.cancel, 1);
  strata__wake_all(chip);
  return strata__fail(status, "%s", msg);
}

int strata__orch_latch(strata_chip *chip, int status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = vlatch(chip, status, fmt, ap);
  va_end(ap);
  return rc;
}

#define CHECK_ORCH(o, what)                                                              \
  if (!(o) || !(o)->chip)                                                                \
  return strata__fail(STRATA_EINVAL, what ": the orch handle is NULL; call it from the " \
                      "orchestration function with the handle it was given")

int strata_orch_fatal(strata_orch *o, const char *fmt, ...) {
  CHECK_ORCH(o, "orch_fatal");
  va_list ap;
  va_start(ap, fmt);
  int rc = vlatch(o->chip, STRATA_EXPLICIT_ORCH_FATAL, fmt, ap);
  va_end(ap);
  return rc;
}

int strata_orch_status(const strata_orch *o) {
  CHECK_ORCH(o, "orch_status");
  int code = READ_ONCE(o->chip->hdr.orch_error_code);
  if (code) return -(STRATA_CHIP_CODE_BASE + code);
  return READ_ONCE(o->chip->hdr.cancel) ? STRATA_ECANCELED : 0;
}

strata_chip *strata_orch_chip(strata_orch *o) { return o ? o->chip : NULL; }

/* ---- validation and dependency collection --------------------------------- */
#define BAD_ARGS(chip, ...) strata__orch_latch((chip), STRATA_INVALID_ARGS, __VA_ARGS__)

static int validate(strata_chip *chip, uint32_t kernel, const strata_args *a) {
  if (!a) return BAD_ARGS(chip, "submit: args is NULL; build them with strata_args_init");
  if (a->error) return BAD_ARGS(chip, "submit: argument builder overflow or bad tensor "
                                "(max %d tensors, %d scalars, %d deps)",
                                STRATA_MAX_TENSOR_ARGS, STRATA_MAX_SCALAR_ARGS,
                                STRATA_MAX_EXPLICIT_DEPS);
  if (kernel >= chip->nkernels && kernel != STRATA_DUMMY_KERNEL)
    return BAD_ARGS(chip, "submit: kernel id %u is not registered (%u kernels); use "
                    "the id from strata_chip_register_kernel", kernel, chip->nkernels);
  if (a->sync_start && a->block_dim > 1 && kernel != STRATA_DUMMY_KERNEL) {
    strata_core_kind kind = chip->kernels[kernel].kind;
    uint32_t have = kind == STRATA_CORE_AIC ? chip->cfg.clusters : 2 * chip->cfg.clusters;
    if (a->block_dim > have)
      return strata__orch_latch(chip, STRATA_REQUIRE_SYNC_START_INVALID, "submit: kernel "
                                "'%s' asks for %u blocks started together but the chip has "
                                "%u %s cores; lower block_dim, drop sync_start, or raise "
                                "STRATA_CLUSTERS", chip->kernels[kernel].name, a->block_dim,
                                have, kind == STRATA_CORE_AIC ? "AIC" : "AIV");
  }
  for (uint32_t i = 0; i < a->ntensors; i++)
    if (a->tags[i] != STRATA_OUTPUT && (!a->tensors[i].data || !a->tensors[i].base))
      return BAD_ARGS(chip, "submit: tensor argument %u has no data; pass a tensor "
                      "from strata_tensor_external/view or an earlier output", i);
  return 0;
}

typedef struct prod_set {
  strata__task *task[STRATA_MAX_DEPS];
  uint64_t id[STRATA_MAX_DEPS];
  int n;
} prod_set;

static int add_task(strata_chip *chip, prod_set *p, strata__task *t, uint64_t id) {
  for (int i = 0; i < p->n; i++)
    if (p->task[i] == t) return 0;
  if (p->n >= STRATA_MAX_DEPS)
    return strata__orch_latch(chip, STRATA_DEPENDENCY_OVERFLOW, "task depends on more "
                              "than %d producers; split the access or add a scope "
                              "(STRATA_MAX_DEPS)", STRATA_MAX_DEPS);
  p->task[p->n] = t;
  p->id[p->n++] = id;
  return 0;
}

/* A runtime output stays valid only while its scope is open. */
static int add_owner(strata_chip *chip, prod_set *p, const strata_tensor *t, uint32_t i) {
  strata__task *o = strata__task_by_id(chip, t->owner);
  if (!o || READ_ONCE(o->id) != t->owner || !o->scope_held)
    return BAD_ARGS(chip, "submit: tensor argument %u is the output of task #%llx whose "
                    "scope has ended (its buffer is freed); use it inside that scope "
                    "or copy it to an external tensor", i, (unsigned long long)t->owner);
  return add_task(chip, p, o, t->owner);
}

static int add_tmap(strata_chip *chip, prod_set *p, const strata_tensor *t, int write) {
  strata__task *found[STRATA_MAX_DEPS];
  int n = strata__tmap_lookup(&chip->tmap, t, write, found, 0, STRATA_MAX_DEPS);
  if (n < 0)
    return strata__orch_latch(chip, STRATA_DEPENDENCY_OVERFLOW, "a write conflicts "
                              "with more than %d live accesses of one buffer; add "
                              "explicit ordering or smaller views (STRATA_MAX_DEPS)",
                              STRATA_MAX_DEPS);
  int rc = 0;
  for (int i = 0; i < n && rc == 0; i++) rc = add_task(chip, p, found[i], READ_ONCE(found[i]->id));
  return rc;
}

static int collect(strata_chip *chip, const strata_args *a, prod_set *p) {
  int rc = 0;
  p->n = 0;
  for (uint32_t i = 0; i < a->ntensors && rc == 0; i++) {
    const strata_tensor *t = &a->tensors[i];
    uint8_t tag = a->tags[i];
    if (tag == STRATA_OUTPUT || tag == STRATA_NO_DEP) continue;
    if (t->owner) rc = add_owner(chip, p, t, i);
    if (rc == 0) rc = add_tmap(chip, p, t, tag != STRATA_INPUT);
  }
  for (uint32_t i = 0; i < a->ndeps && rc == 0; i++) {
    strata__task *t = strata__task_by_id(chip, a->deps[i].id);
    if (!t) return BAD_ARGS(chip, "submit: explicit dependency %u is not a task handle", i);
    rc = add_task(chip, p, t, a->deps[i].id);
  }
  return rc;
}

/* ---- building the task ------------------------------------------------------ */
/* A MIX task: three lanes on one cluster, a scratch block, a lane barrier. */
static void mix_setup(strata__task *t, uint32_t aiv, uint8_t *scratch) {
  t->kind = STRATA_KIND_MIX;
  t->kernel_aiv = aiv;
  t->mix_scratch = scratch;
  t->block_dim = STRATA_MIX_LANES;
  WRITE_ONCE(t->blocks_left, STRATA_MIX_LANES);
}

static uint64_t output_bytes(const strata_args *a) {
  uint64_t total = 0;
  for (uint32_t i = 0; i < a->ntensors; i++)
    if (a->tags[i] == STRATA_OUTPUT) total += (a->tensors[i].bytes + 1023) & ~1023ull;
  return total;
}

/* Heap bytes for the arguments beyond what a task holds inline. */
static uint64_t spill_bytes(const strata_args *a) {
  uint64_t b = 0;
  if (a->ntensors > STRATA_TASK_INLINE_TENSORS) b += a->ntensors * sizeof(strata_tensor);
  if (a->nscalars > STRATA_TASK_INLINE_SCALARS) b += a->nscalars * sizeof(uint64_t);
  return (b + 1023) & ~1023ull;
}

/* Where the task's arguments live: inline, or after its outputs in the heap
 * block (heap is NULL when the task has neither outputs nor a spill). */
static void place_args(strata__task *t, const strata_args *a, uint8_t *heap, uint64_t out_bytes) {
  t->targs = t->tensors;
  t->sargs = t->scalars;
  if (!spill_bytes(a)) return;
  uint8_t *spill = heap + out_bytes;
  if (a->ntensors > STRATA_TASK_INLINE_TENSORS) {
    t->targs = (strata_tensor *)spill;
    spill += a->ntensors * sizeof(strata_tensor);
  }
  if (a->nscalars > STRATA_TASK_INLINE_SCALARS) t->sargs = (uint64_t *)spill;
}

static void fill_args(strata__task *t, strata_args *a, uint8_t *heap, uint64_t out_bytes,
                      uint64_t id) {
  place_args(t, a, heap, out_bytes);
  for (uint32_t i = 0; i < a->ntensors; i++) {
    strata_tensor *dst = &t->targs[i];
    *dst = a->tensors[i];
    if (a->tags[i] != STRATA_OUTPUT) continue;
    dst->data = dst->base = heap;
    dst->owner = id;
    heap += (dst->bytes + 1023) & ~1023ull;
    if (a->outputs[i]) *a->outputs[i] = *dst;
  }
  memcpy(t->sargs, a->scalars, a->nscalars * sizeof(uint64_t));
  t->ntensors = (uint16_t)a->ntensors;
  t->nscalars = (uint16_t)a->nscalars;
  t->block_dim = a->block_dim ? a->block_dim : 1;
  t->sync_start = (uint8_t)(a->sync_start && t->block_dim > 1);
  WRITE_ONCE(t->next_block, 0);
  WRITE_ONCE(t->blocks_left, t->block_dim);
  WRITE_ONCE(t->block_failed, 0);
  WRITE_ONCE(t->bar_count, 0);
  WRITE_ONCE(t->bar_gen, 0);
}

/* Make c wait for p through dep entry e, unless p has already finished. */
static void wire(strata__task *c, strata__task *p, strata__dep *e) {
  e->consumer = c;
  fetch_add_relaxed(&c->fanin, 1); /* before the CAS: p may finish right after */
  strata__dep *old = load_acquire(&p->fanout); /* pairs with xchg in task_finish */
  for (;;) {
    if (old == STRATA_FANOUT_CLOSED) {
      fetch_sub(&c->fanin, 1); /* the guard keeps it above zero */
      if (READ_ONCE(p->failed)) WRITE_ONCE(c->poisoned, 1); /* set before the xchg we saw */
      return;
    }
    e->next = old;
    if (cas(&p->fanout, &old, e)) return; /* publishes e; pairs with xchg */
  }
}

/* Level 3: the edges of a new task, as records of the orchestrator. */
static void trace_edges(uint64_t id, const prod_set *p) {
  for (int i = 0; i < p->n; i++) {
    strata__tev e = {strata__now_ns(), 0, id, p->id[i], STRATA_TEV_EDGE, STRATA_TT_ORCH, 0, 0, 0};
    strata__trace_record(&e);
  }
}

static void wire_all(strata__task *t, prod_set *p, strata__dep *deps) {
  if (strata__trace_on(3)) trace_edges(READ_ONCE(t->id), p);
  for (int i = 0; i < p->n; i++) {
    if (!strata__task_tryref(p->task[i], p->id[i])) { /* finished: consumed or retired */
      if (READ_ONCE(p->task[i]->id) == p->id[i] && READ_ONCE(p->task[i]->failed))
        WRITE_ONCE(t->poisoned, 1);
      continue;
    }
    t->prod[t->nprod++] = p->task[i];
    wire(t, p->task[i], &deps[i]);
  }
}

/* Cannot fail: precheck reserved the entries. */
static void record_accesses(strata_chip *chip, strata__task *t, const strata_args *a, uint64_t id) {
  for (uint32_t i = 0; i < a->ntensors; i++)
    if (a->tags[i] != STRATA_NO_DEP)
      strata__tmap_record(&chip->tmap, &t->targs[i], a->tags[i] != STRATA_INPUT, t, id);
}

static void hold_in_scope(strata_chip *chip, strata__task *t) {
  chip->scope_tasks[chip->nscope_tasks++] = t;
  t->scope_held = 1;
  fetch_add_relaxed(&t->refs, 1);
}

static int precheck(strata_chip *chip, const strata_args *a, uint64_t heap) {
  int rc = strata_orch_status(&chip->orch);
  if (rc) return rc;
  if (heap && chip->nscope_tasks >= chip->cfg.scope_tasks_cap)
    return strata__orch_latch(chip, STRATA_SCOPE_TASKS_OVERFLOW, "more than %u tasks "
                              "with outputs are held by open scopes; end scopes sooner "
                              "or raise STRATA_SCOPE_TASKS_CAP", chip->cfg.scope_tasks_cap);
  rc = strata__tmap_reserve(&chip->tmap, a->ntensors);
  if (rc == STRATA_TENSORMAP_OVERFLOW)
    return strata__orch_latch(chip, rc, "the dependency map holds %u live accesses "
                              "(tensormap_cap) and this task adds %u; raise "
                              "STRATA_TENSORMAP_CAP, or let earlier tasks finish (fewer "
                              "held or waiting tasks)", chip->cfg.tensormap_cap, a->ntensors);
  if (rc)
    return strata__orch_latch(chip, rc, "out of memory for the dependency map (%u live "
                              "accesses); free host memory or lower STRATA_TENSORMAP_CAP",
                              chip->cfg.tensormap_cap);
  return 0;
}

#define NOT_MIX UINT32_MAX
static int submit(strata_orch *o, uint32_t kernel, uint32_t aiv, strata_args *a,
                  strata_task_ref *out);

int strata_orch_submit(strata_orch *o, uint32_t kernel, strata_args *a,
                       strata_task_ref *out) {
  CHECK_ORCH(o, "orch_submit");
  return submit(o, kernel, NOT_MIX, a, out);
}

int strata_orch_submit_dummy(strata_orch *o, strata_args *a, strata_task_ref *out) {
  CHECK_ORCH(o, "orch_submit_dummy");
  return submit(o, STRATA_DUMMY_KERNEL, NOT_MIX, a, out);
}

int strata_orch_submit_mix(strata_orch *o, uint32_t aic_kernel, uint32_t aiv_kernel,
                           strata_args *a, strata_task_ref *out) {
  CHECK_ORCH(o, "orch_submit_mix");
  strata_chip *chip = o->chip;
  int ok = aic_kernel < chip->nkernels && aiv_kernel < chip->nkernels &&
           chip->kernels[aic_kernel].kind == STRATA_CORE_AIC &&
           chip->kernels[aiv_kernel].kind == STRATA_CORE_AIV;
  if (!ok)
    return BAD_ARGS(chip, "submit_mix: kernels %u and %u must be a registered AIC kernel and "
                    "a registered AIV kernel", aic_kernel, aiv_kernel);
  if (a && a->block_dim > 1)
    return BAD_ARGS(chip, "submit_mix: a MIX task is one cluster; drop strata_args_spmd");
  return submit(o, aic_kernel, aiv_kernel, a, out);
}

/* A task; kernel STRATA_DUMMY_KERNEL: dependencies only, finished unrun;
 * aiv != NOT_MIX: a MIX task (kernel on the AIC lane, aiv on the AIV lanes). */
static int submit(strata_orch *o, uint32_t kernel, uint32_t aiv, strata_args *a,
                  strata_task_ref *out) {
  strata_chip *chip = o->chip;
  int rc = validate(chip, kernel, a);
  uint64_t out_bytes = rc ? 0 : output_bytes(a), spill = rc ? 0 : spill_bytes(a);
  uint64_t heap_bytes = out_bytes + spill + (aiv != NOT_MIX ? STRATA_MIX_SCRATCH_BYTES : 0);
  if (rc == 0) rc = precheck(chip, a, heap_bytes);
  prod_set p;
  if (rc == 0) rc = collect(chip, a, &p);
  strata__task *t;
  uint8_t *heap;
  strata__dep *deps;
  uint32_t ring = chip->depth < STRATA_NUM_RINGS - 1 ? chip->depth : STRATA_NUM_RINGS - 1;
  if (rc == 0) rc = strata__ring_alloc(chip, ring, heap_bytes, (uint32_t)p.n, &t, &heap, &deps);
  if (rc != 0) return rc;
  uint64_t id = READ_ONCE(t->id);
  WRITE_ONCE(t->kernel, kernel);
  t->dummy = kernel == STRATA_DUMMY_KERNEL;
  t->kind = (uint8_t)(t->dummy ? STRATA_CORE_AIV : chip->kernels[kernel].kind);
  fill_args(t, a, heap, out_bytes, id);
  if (out_bytes) hold_in_scope(chip, t); /* its outputs live until the scope ends */
  if (aiv != NOT_MIX) mix_setup(t, aiv, heap + out_bytes + spill);
  wire_all(t, &p, deps);
  record_accesses(chip, t, a, id);
  t->held = a->held ? 1 : 0;
  if (t->held) fetch_add_relaxed(&t->fanin, 1);
  fetch_add_relaxed(&chip->submitted, 1);
  strata__note_progress(chip);
  strata__task_dec_fanin(chip, t); /* drop the wiring guard: publishes t */
  if (out) out->id = id;
  return 0;
}

int strata_orch_release(strata_orch *o, strata_task_ref ref) {
  CHECK_ORCH(o, "orch_release");
  strata_chip *chip = o->chip;
  strata__task *t = strata__task_by_id(chip, ref.id);
  if (!t || READ_ONCE(t->id) != ref.id || !t->held)
    return strata__fail(STRATA_EINVAL, "release: task #%llx is not a held task (or "
                        "was already released)", (unsigned long long)ref.id);
  t->held = 0;
  strata__note_progress(chip); /* a release is progress: the hang budget restarts */
  strata__task_dec_fanin(chip, t);
  return 0;
}

/* ---- scopes -------------------------------------------------------------- */
int strata_orch_scope_begin(strata_orch *o) {
  CHECK_ORCH(o, "orch_scope_begin");
  strata_chip *chip = o->chip;
  if (chip->depth >= STRATA_MAX_SCOPE_DEPTH)
    return strata__fail(STRATA_EINVAL, "scope_begin: nesting deeper than %d (STRATA_MAX_SCOPE_DEPTH); "
                        "end inner scopes before opening new ones",
                        STRATA_MAX_SCOPE_DEPTH);
  chip->scope_start[++chip->depth] = chip->nscope_tasks;
  return 0;
}

static void scope_close(strata_chip *chip) {
  uint32_t start = chip->scope_start[chip->depth];
  for (uint32_t i = start; i < chip->nscope_tasks; i++) {
    strata__task *t = chip->scope_tasks[i];
    t->scope_held = 0;
    strata__task_unref(chip, t);
  }
  chip->nscope_tasks = start;
}

int strata_orch_scope_end(strata_orch *o) {
  CHECK_ORCH(o, "orch_scope_end");
  strata_chip *chip = o->chip;
  if (chip->depth == 0)
    return strata__fail(STRATA_EINVAL, "scope_end without a matching scope_begin");
  scope_close(chip);
  chip->depth--;
  return 0;
}

/* ---- waiting for a tensor -------------------------------------------------- */
/* An earlier task still writes t (or, for a write, still reads or writes it). */
static int tensor_busy(strata_chip *chip, const strata_tensor *t, int write) {
  strata__task *found[STRATA_MAX_DEPS];
  if (t->owner) {
    strata__task *o = strata__task_by_id(chip, t->owner);
    if (o && READ_ONCE(o->id) == t->owner &&
        load_acquire(&o->state) < STRATA_TS_COMPLETED) /* pairs with task_finish */
      return 1;
  }
  int n = strata__tmap_lookup(&chip->tmap, t, write, found, 0, STRATA_MAX_DEPS);
  for (int i = 0; i < n; i++) /* FAILED writers are found too, but they are done */
    if (load_acquire(&found[i]->state) < STRATA_TS_COMPLETED) return 1; /* pairs with task_finish */
  return n < 0;
}

static int tensor_wait_loop(strata_orch *o, const strata_tensor *t, int write) {
  strata_chip *chip = o->chip;
  uint64_t deadline = strata__deadline_ms(chip->cfg.tensor_wait_timeout_ms);
  for (;;) {
    uint32_t seen = strata__event_read(&chip->orch_ev);
    if (!tensor_busy(chip, t, write)) return 0;
    int rc = strata_orch_status(o);
    if (rc) return rc;
    uint64_t now = strata__now_ns();
    if (now >= deadline)
      return strata__orch_latch(chip, STRATA_TENSOR_WAIT_TIMEOUT, "tensor at %p was "
                                "not written within %u ms; raise "
                                "STRATA_TENSOR_WAIT_TIMEOUT_MS or check its producer",
                                t->data, chip->cfg.tensor_wait_timeout_ms);
    uint64_t nap = now + 50 * STRATA_NS_PER_MS;
    strata__event_wait(&chip->orch_ev, seen, nap < deadline ? nap : deadline);
  }
}

/* Block in the runtime until no earlier task conflicts with accessing t. */
static int wait_access(strata_orch *o, const strata_tensor *t, int write) {
  strata_chip *chip = o->chip;
  WRITE_ONCE(chip->orch_tensor_wait, 1);
  strata__orch_block(chip, STRATA_ORCH_BLOCKED_TENSOR);
  smp_mb(); /* pairs with smp_mb in task_finish: flag vs task state */
  int rc = tensor_wait_loop(o, t, write);
  strata__orch_block(chip, STRATA_ORCH_RUNNING);
  WRITE_ONCE(chip->orch_tensor_wait, 0);
  return rc;
}

int strata_orch_wait_tensor(strata_orch *o, const strata_tensor *t) {
  CHECK_ORCH(o, "orch_wait_tensor");
  if (!t || !t->data) return strata__fail(STRATA_EINVAL, "wait_tensor: no tensor");
  return wait_access(o, t, 0);
}

static int check_copy(const strata_tensor *t, const void *p, size_t bytes, const char *what) {
  if (!t || !t->data || !p)
    return strata__fail(STRATA_EINVAL, "%s: NULL tensor, tensor data or buffer; pass a "
                        "tensor from strata_tensor_* and a host buffer", what);
  if (bytes > t->bytes)
    return strata__fail(STRATA_EINVAL, "%s: %zu bytes asked of a %zu-byte tensor; copy at "
                        "most its size", what, bytes, t->bytes);
  return 0;
}

int strata_orch_get_tensor_data(strata_orch *o, const strata_tensor *t, void *dst, size_t bytes) {
  CHECK_ORCH(o, "orch_get_tensor_data");
  int rc = check_copy(t, dst, bytes, "get_tensor_data");
  if (rc == 0) rc = wait_access(o, t, 0); /* its writers */
  if (rc == 0 && bytes) memcpy(dst, t->data, bytes);
  return rc;
}

int strata_orch_set_tensor_data(strata_orch *o, const strata_tensor *t, const void *src,
                                size_t bytes) {
  CHECK_ORCH(o, "orch_set_tensor_data");
  int rc = check_copy(t, src, bytes, "set_tensor_data");
  if (rc == 0) rc = wait_access(o, t, 1); /* its readers and writers */
  if (rc == 0 && bytes) memcpy(t->data, src, bytes);
  return rc;
}

/* ---- the thread ------------------------------------------------------------ */
/* The orchestrator counts against the kernels' CPU budget while it runs:
 * leaving a CPU (blocked, or done) may let one more kernel start. */
static void orch_cpu(strata_chip *chip, uint32_t on) {
  WRITE_ONCE(chip->orch_cpu, on);
  if (on) return;
  strata__kick(chip, STRATA_CORE_AIC, NULL);
  strata__kick(chip, STRATA_CORE_AIV, NULL);
}

void strata__orch_block(strata_chip *chip, uint32_t where) {
  store_release(&chip->orch_blocked, where); /* pairs with fallback_check's acquire */
  orch_cpu(chip, where == STRATA_ORCH_RUNNING);
}

/* One run: the user's orchestration, then the scopes it left open. */
static void orch_run(strata_chip *chip) {
  orch_cpu(chip, 1);
  chip->orch_fn(&chip->orch, chip->orch_args);
  if (chip->depth > 0)
    strata__warn("orchestration returned with %u open scope(s); closing them", chip->depth);
  for (; chip->depth > 0; chip->depth--) scope_close(chip);
  scope_close(chip); /* the run's outer scope */
  strata__note_progress(chip); /* the orchestration's end restarts the hang budget */
  store_release(&chip->hdr.orch_done, 1); /* pairs with fallback_check's acquire */
  orch_cpu(chip, 0);
  smp_mb(); /* pairs with smp_mb in check_run_end */
  if (READ_ONCE(chip->completed) == READ_ONCE(chip->submitted))
    strata__event_signal(&chip->host_ev);
}

void *strata__orch_main(void *arg) {
  strata_chip *chip = arg;
  uint32_t gen = 0;
  while (strata__await_run(chip, &gen)) { /* lives as long as the chip */
    orch_run(chip);
    strata__thread_parked(chip);
  }
  return NULL;
}
