/* core.c - simulated cores: one thread per AIC/AIV core, running the kernel
 * its scheduler hands over through the core's handshake register, plus the
 * kernel-context API kernels use.
 *
 * DESIGN: a core only reads reg_task and writes reg_failed + DONE; it parks
 * on its event while IDLE, across runs. On cancellation it reports tasks DONE(failed)
 * without running them; a running kernel sees strata_kernel_cancelled().
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "chip/chip_int.h"

#define CORE_IDLE_PARK_MS 1000 /* re-check stop at least this often */

/* Level >= 1: the kernel's run as a complete event on this core's track. */
static void trace_task(const strata__core *c, strata__task *t, uint64_t t0) {
  uint64_t bytes = 0;
  for (uint32_t i = 0; i < t->ntensors; i++) bytes += t->targs[i].bytes;
  bytes = bytes < (1ull << 56) ? bytes : (1ull << 56) - 1;
  uint64_t n = t->ntensors < 255 ? t->ntensors : 255; /* 8 bits in the record */
  strata__tev e = {t0, strata__now_ns() - t0, READ_ONCE(t->id), READ_ONCE(t->ready_ns),
                   STRATA_TEV_TASK, STRATA_TT_CORE + c->id, READ_ONCE(t->kernel), c->id,
                   n << 56 | bytes};
  strata__trace_record(&e);
}

/* The task's reusable barrier of n kernels (bar_count, bar_gen): 1 for the
 * last to arrive, which releases the others; 0 for the others once
 * released; -1 if the run was cancelled while waiting (re-checked every
 * 10 ms). Pairing: each arrival's fetch_add (acq_rel), the last one's
 * store_release of bar_gen, the waiters' load_acquire of bar_gen. */
static int task_barrier(strata_chip *chip, strata__task *t, uint32_t n) {
  uint32_t gen = load_acquire(&t->bar_gen);
  if (fetch_add(&t->bar_count, 1) + 1 == n) {
    WRITE_ONCE(t->bar_count, 0);
    store_release(&t->bar_gen, gen + 1);
    strata__futex_wake(&t->bar_gen, 0);
    return 1;
  }
  while (load_acquire(&t->bar_gen) == gen) {
    if (strata__run_cancelled(chip)) return -1;
    strata__futex_wait(&t->bar_gen, gen, strata__now_ns() + 10 * STRATA_NS_PER_MS, 0);
  }
  return 0;
}

/* sync_start: hold this core until every block of the gang has one; the
 * last to arrive ends the gang's turn. 1 if the run was cancelled meanwhile. */
static int gang_gather(strata_chip *chip, strata__task *t) {
  int r = task_barrier(chip, t, t->block_dim);
  if (r == 1) {
    store_release(&chip->gang, NULL); /* pairs with gang_turn's CAS */
    strata__kick(chip, t->kind, NULL); /* a gang waiting for its turn */
  }
  return r < 0;
}

void strata__core_take(strata__core *c, strata__task *t, uint32_t block, uint64_t now) {
  WRITE_ONCE(t->core, (int32_t)c->id);
  WRITE_ONCE(t->start_ns, now);
  WRITE_ONCE(t->state, STRATA_TS_RUNNING);
  WRITE_ONCE(c->reg_task, t);
  WRITE_ONCE(c->reg_block, block);
  if (strata__trace_on(2)) {
    strata__tev e = {strata__now_ns(), 0, READ_ONCE(t->id), 0, STRATA_TEV_DISPATCH,
                     STRATA_TT_SCHED + c->owner, 0, c->id, 0};
    strata__trace_record(&e);
  }
}

static int run_kernel(strata__core *c, strata__task *t, uint32_t block) {
  strata_chip *chip = c->chip;
  strata_kernel_ctx ctx = {t, c, 0, block};
  WRITE_ONCE(c->waiting_for, 0); /* a note is the running kernel's */
  int traced = strata__trace_on(1);
  uint64_t t0 = traced ? strata__now_ns() : 0;
  if (t->sync_start && gang_gather(chip, t)) ctx.failed = 1;
  uint32_t kid = t->kind == STRATA_KIND_MIX && c->kind == STRATA_CORE_AIV ? t->kernel_aiv
                                                                         : READ_ONCE(t->kernel);
  if (ctx.failed || strata__run_cancelled(chip))
    ctx.failed = 1;
  else
    chip->kernels[kid].fn(&ctx);
  if (traced) trace_task(c, t, t0);
  return ctx.failed;
}

/* Chaining: after a kernel the core finishes its task itself and takes the
 * next READY task of its kind, keeping its CPU: a busy core costs no
 * scheduler round trip (and no context switch) per task. The scheduler
 * keeps the register protocol: the core leaves the chain with DONE and a
 * NULL task once there is nothing to take (or the run stops). */
static strata__task *chain_next(strata__core *c, strata__task *t, int failed, uint32_t *block) {
  strata_chip *chip = c->chip;
  strata__sched *s = &chip->scheds[c->owner];
  strata__block_done(chip, t, failed);
  uint64_t now = strata__now_coarse_ns(); /* stamps for budgets of ms and more */
  WRITE_ONCE(s->core_progress_ns, now); /* the owner's hang clock sees it */
  WRITE_ONCE(chip->last_finish_ns, now);
  WRITE_ONCE(chip->last_progress_ns, now);
  if (READ_ONCE(chip->hdr.stop) || strata__run_cancelled(chip) || chip->cfg.fault_no_dispatch ||
      !chip->chain)
    return NULL;
  int finished = 0;
  strata__task *n = strata__next_runnable(chip, c->kind, &finished, block);
  if (n) strata__core_take(c, n, *block, now);
  return n;
}

static void run_assigned(strata__core *c) {
  strata_chip *chip = c->chip;
  strata__task *t = READ_ONCE(c->reg_task);
  uint32_t block = READ_ONCE(c->reg_block);
  int failed = run_kernel(c, t, block);
  while (!failed && chip->chain && (t = chain_next(c, t, failed, &block)) != NULL)
    failed = run_kernel(c, t, block);
  /* t == NULL: finished here, the scheduler only returns the core to IDLE */
  WRITE_ONCE(c->reg_task, t);
  WRITE_ONCE(c->reg_failed, (uint32_t)failed);
  if (!t) fetch_sub(&chip->running_total, 1); /* chain over: its CPU is free at once */
  store_release(&c->reg_state, STRATA_REG_DONE); /* pairs with harvest's acquire */
  strata__event_signal(&chip->scheds[c->owner].ev);
  if (!t) strata__kick(chip, c->kind, NULL); /* work readied meanwhile gets the CPU */
  smp_mb(); /* pairs with smp_mb in stop_run: DONE vs the stop flag */
  if (READ_ONCE(chip->hdr.stop) || strata__run_cancelled(chip))
    strata__event_signal(&chip->host_ev); /* the host may be in wait_parked */
}

/* A core knows nothing of runs: it serves its handshake register for the
 * chip's whole life (parked on its event while IDLE), so starting a run
 * wakes only the threads a run needs. The host sees a core's end of a run
 * through reg_state (acquire) instead of a parked count. */
void *strata__core_main(void *arg) {
  strata__core *c = arg;
  strata_chip *chip = c->chip; /* written once, before the thread starts */
  for (;;) {
    uint32_t seen = strata__event_read(&c->ev);
    /* pairs with store_release(ASSIGNED) in the scheduler's assign() */
    if (load_acquire(&c->reg_state) == STRATA_REG_ASSIGNED) {
      run_assigned(c);
      continue;
    }
    if (load_acquire(&chip->exiting)) break; /* pairs with threads_exit's release */
    /* a short pure spin catches the next hand-off; no yield phase: an idle
     * core must not take CPU time from a core running a kernel */
    strata__event_wait_spin(&c->ev, seen, strata__deadline_ms(CORE_IDLE_PARK_MS), STRATA_SPIN_SHORT);
  }
  return NULL;
}

/* ---- kernel context (a NULL context reads as an empty task) ------------------ */
uint32_t strata_kernel_ntensors(const strata_kernel_ctx *k) { return k ? k->task->ntensors : 0; }

const strata_tensor *strata_kernel_tensor(const strata_kernel_ctx *k, uint32_t i) {
  return k && i < k->task->ntensors ? &k->task->targs[i] : NULL;
}

uint64_t strata_kernel_scalar(const strata_kernel_ctx *k, uint32_t i) {
  return k && i < k->task->nscalars ? k->task->sargs[i] : 0;
}

double strata_kernel_scalar_f64(const strata_kernel_ctx *k, uint32_t i) {
  uint64_t bits = strata_kernel_scalar(k, i);
  double d;
  memcpy(&d, &bits, sizeof(d));
  return d;
}

uint32_t strata_kernel_core_id(const strata_kernel_ctx *k) { return k ? k->core->id : 0; }
uint32_t strata_kernel_block_idx(const strata_kernel_ctx *k) { return k ? k->block : 0; }
uint32_t strata_kernel_block_dim(const strata_kernel_ctx *k) { return k ? k->task->block_dim : 1; }

static int is_mix(const strata_kernel_ctx *k) { return k && k->task->kind == STRATA_KIND_MIX; }

void *strata_kernel_mix_scratch(const strata_kernel_ctx *k, size_t *bytes) {
  if (bytes) *bytes = is_mix(k) ? STRATA_MIX_SCRATCH_BYTES : 0;
  return is_mix(k) ? k->task->mix_scratch : NULL;
}

int strata_kernel_mix_barrier(strata_kernel_ctx *k) {
  if (!is_mix(k))
    return strata__fail(STRATA_EINVAL, "mix_barrier: not in a MIX task (submit it with "
                        "strata_orch_submit_mix)");
  return task_barrier(k->core->chip, k->task, STRATA_MIX_LANES) < 0 ? STRATA_ECANCELED : 0;
}

strata_core_kind strata_kernel_core_kind(const strata_kernel_ctx *k) {
  return k ? k->core->kind : STRATA_CORE_AIC;
}

int strata_kernel_cancelled(const strata_kernel_ctx *k) {
  return !k || strata__run_cancelled(k->core->chip); /* no context: stop */
}

void strata_kernel_progress(const strata_kernel_ctx *k) {
  if (!k) return;
  strata_chip *chip = k->core->chip;
  uint64_t now = strata__now_coarse_ns();
  WRITE_ONCE(chip->scheds[k->core->owner].core_progress_ns, now); /* the owner's hang clock */
  WRITE_ONCE(chip->last_progress_ns, now); /* STALL reports and the deadlock fallback */
}

/* The note is one word, so a latch never reads half of one:
 * bit 63 set | (rank + 1) << 48 | (chip + 1) << 32 | step. */
void strata_kernel_waiting_for(const strata_kernel_ctx *k, int32_t rank, int32_t chip,
                               uint32_t step) {
  if (!k) return;
  uint64_t v = rank < 0 && chip < 0 ? 0 : 1ull << 63 | (uint64_t)((rank + 1) & 0x7fff) << 48 |
                                                (uint64_t)((chip + 1) & 0xffff) << 32 | step;
  WRITE_ONCE(k->core->waiting_for, v);
}

void strata__wait_note(const strata__core *c, char *buf, size_t len) {
  uint64_t v = READ_ONCE(c->waiting_for);
  int rank = (int)((v >> 48) & 0x7fff) - 1, chip = (int)((v >> 32) & 0xffff) - 1;
  char r[24] = "", ch[24] = "";
  if (rank >= 0) snprintf(r, sizeof(r), "rank %d", rank);
  if (chip >= 0) snprintf(ch, sizeof(ch), "%schip %d", rank >= 0 ? " " : "", chip);
  if (v) snprintf(buf, len, " (it waits for %s%s, step %u)", r, ch, (unsigned)v);
  else if (len) buf[0] = '\0';
}

void strata_kernel_fail(strata_kernel_ctx *k, const char *fmt, ...) {
  if (!k || !fmt) return;
  strata_chip *chip = k->core->chip;
  k->failed = 1;
  int32_t expected = 0;
  if (!cas(&chip->hdr.task_error, &expected, STRATA_TASK_FAILED)) return;
  char msg[384];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  snprintf(chip->hdr.task_msg, sizeof(chip->hdr.task_msg),
           "kernel '%s' (task #%llx, core %u) failed: %s; its dependents were skipped",
           chip->kernels[READ_ONCE(k->task->kernel)].name,
           (unsigned long long)READ_ONCE(k->task->id), k->core->id, msg);
}
