/* hang.c - the scheduler hang detector (SPEC §2), its code-100 sub-classes
 * and the STALL diagnostics.
 *
 * Default mode, per scheduler thread, on every idle wake-up:
 *   - owns a RUNNING task: latch SCHEDULER_TIMEOUT (100), class S1, once its
 *     own clock (last completion/dispatch) is older than scheduler_timeout_ms;
 *   - owns nothing: refresh its clock and keep going, unless the deadlock
 *     fallback holds: no thread owns a RUNNING task, tasks are unfinished,
 *     nothing anywhere progressed for the budget, AND the orchestration has
 *     returned or the orchestrator is blocked inside the runtime (ring
 *     back-pressure, tensor wait). Never while user orchestration code runs:
 *     a held task released late is not a deadlock. The fallback's class is
 *     S3 (READY tasks, all cores idle), S5 (the blocked orchestrator waits
 *     for tasks that cannot finish) or S4 (WAITING tasks, dead producers).
 * Legacy mode reproduces the old detector: every idle iteration (~1 ms)
 * counts; any thread reaching legacy_idle_cap latches 100 (class LEGACY),
 * owner or not. STALL reports are logged at most once per stall_report_ms
 * while no progress is made; they never latch.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "chip/chip_int.h"

const char *strata_hang_class_name(int cls) {
  switch (cls) {
    case STRATA_HANG_RUNNING_STALLED: return "S1 running-stalled";
    case STRATA_HANG_READY_IDLE: return "S3 ready-but-all-idle";
    case STRATA_HANG_DEP_DEADLOCK: return "S4 dependency-deadlock";
    case STRATA_HANG_ORCH_STARVATION: return "S5 orchestrator-starvation";
    case STRATA_HANG_LEGACY: return "LEGACY idle cap";
    default: return "none";
  }
}

const char *strata__kernel_name(const strata_chip *chip, uint32_t k) {
  if (k == STRATA_DUMMY_KERNEL) return "(dummy)";
  return k < chip->nkernels ? chip->kernels[k].name : "?";
}

/* What the detector names: class, task (may be NULL) and its age. */
typedef struct hang_report {
  int cls;
  strata__task *task;
  uint64_t age_ms;
} hang_report;

/* The winner of the CAS records the report; the host reads it after join. */
static void record(strata_chip *chip, const hang_report *r) {
  strata__run_hdr *h = &chip->hdr;
  h->hang_class = r->cls;
  h->stuck_task = r->task ? READ_ONCE(r->task->id) : 0;
  h->stuck_core = r->task ? READ_ONCE(r->task->core) : -1;
  h->stuck_kernel = r->task ? READ_ONCE(r->task->kernel) : UINT32_MAX;
  h->stuck_ms = r->age_ms;
}

static int latch(strata__sched *s, const hang_report *r, const char *fmt, ...)
    STRATA_PRINTF(3, 4);

/* First writer wins: 1 for the caller that latched `code`. */
static int claim(strata_chip *chip, int code, int thread) {
  if (thread >= 0) fetch_or(&chip->hdr.report_bitmap, 1ull << (thread & 63));
  int32_t expected = 0;
  if (!cas(&chip->hdr.sched_error_code, &expected, code)) return 0;
  WRITE_ONCE(chip->hdr.sched_error_thread, (int32_t)thread);
  return 1;
}

static void cancel_run(strata_chip *chip) {
  WRITE_ONCE(chip->hdr.cancel, 1); /* shut down all cores */
  strata__wake_all(chip);
}

static int latch(strata__sched *s, const hang_report *r, const char *fmt, ...) {
  strata_chip *chip = s->chip;
  if (claim(chip, 100, (int)s->id)) {
    record(chip, r);
    char dump[256], what[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    strata__dump_blocking(chip, dump, sizeof(dump));
    snprintf(chip->hdr.sched_msg, sizeof(chip->hdr.sched_msg), "scheduler thread %u [%s]: "
             "%s. %s", s->id, strata_hang_class_name(r->cls), what, dump);
    strata__log(STRATA_LOG_ERROR, "%s", chip->hdr.sched_msg);
    strata__trace_instant("latch 100", chip->hdr.sched_msg, chip->hdr.stuck_task,
                          STRATA_TT_SCHED + s->id);
  }
  cancel_run(chip);
  return 1;
}

void strata__sched_fatal(strata_chip *chip, int code, const char *fmt, ...) {
  if (claim(chip, code, -1)) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(chip->hdr.sched_msg, sizeof(chip->hdr.sched_msg), fmt, ap);
    va_end(ap);
    strata__log(STRATA_LOG_ERROR, "%s", chip->hdr.sched_msg);
  }
  cancel_run(chip);
}

static strata__task *owned_running(strata__sched *s) {
  for (uint32_t i = 0; i < s->ncores; i++)
    if (READ_ONCE(s->cores[i]->reg_state) == STRATA_REG_ASSIGNED)
      return READ_ONCE(s->cores[i]->reg_task);
  return NULL;
}

static uint64_t age_ms(const strata__task *t, uint64_t now) {
  uint64_t st = t ? READ_ONCE(t->start_ns) : now;
  return now > st ? (now - st) / STRATA_NS_PER_MS : 0;
}

static int legacy_check(strata__sched *s, uint64_t now) {
  if (++s->idle_iters < s->chip->cfg.legacy_idle_cap) return 0;
  strata__task *t = owned_running(s);
  hang_report r = {STRATA_HANG_LEGACY, t, age_ms(t, now)};
  return latch(s, &r, "legacy idle cap reached (%llu idle iterations, owning %u running "
               "task(s)); the default detector would not latch here: unset "
               "STRATA_LEGACY_SCHED_TIMEOUT", (unsigned long long)s->idle_iters, s->running);
}

static int stalled_check(strata__sched *s, uint64_t now, uint64_t budget) {
  if (now <= s->last_progress_ns || now - s->last_progress_ns < budget) return 0;
  strata_chip *chip = s->chip;
  strata__task *t = owned_running(s);
  hang_report r = {STRATA_HANG_RUNNING_STALLED, t, age_ms(t, now)};
  int core = t ? READ_ONCE(t->core) : -1;
  char note[80] = "";
  if (core >= 0 && (uint32_t)core < chip->ncores) strata__wait_note(&chip->cores[core], note, sizeof(note));
  return latch(s, &r, "task #%llx (kernel '%s') on core %d made no progress for %u ms%s "
               "(SCHEDULER_TIMEOUT_MS); fix the kernel (poll strata_kernel_cancelled, report "
               "progress with strata_kernel_progress) or raise STRATA_SCHEDULER_TIMEOUT_MS",
               t ? (unsigned long long)READ_ONCE(t->id) : 0ull,
               t ? strata__kernel_name(chip, READ_ONCE(t->kernel)) : "?", core,
               chip->cfg.scheduler_timeout_ms, note);
}

/* ---- the deadlock fallback ------------------------------------------------- */
static int nothing_moves(strata_chip *chip, uint64_t now, uint64_t budget) {
  uint64_t last = READ_ONCE(chip->last_progress_ns);
  return READ_ONCE(chip->running_total) == 0 &&
         READ_ONCE(chip->completed) < READ_ONCE(chip->submitted) &&
         now > last && now - last >= budget;
}

/* The first READY and the first WAITING task of the run, and their counts. */
typedef struct census {
  strata__task *ready, *waiting;
  uint64_t nready, nwaiting, nrunning;
} census;

/* Visit every unretired task of every ring, oldest first. */
static void each_task(strata_chip *chip, void (*fn)(strata__task *, void *), void *arg) {
  for (uint32_t r = 0; r < STRATA_NUM_RINGS; r++) {
    strata__ring *R = &chip->rings[r];
    uint64_t head = READ_ONCE(R->head), tail = READ_ONCE(R->tail);
    if (head - tail > R->window) tail = head - R->window;
    for (uint64_t i = tail; i < head; i++) fn(&R->tasks[i & (R->window - 1)], arg);
  }
}

static void count_task(strata__task *t, void *arg) {
  census *c = arg;
  uint32_t st = READ_ONCE(t->state);
  if (st == STRATA_TS_READY && !c->nready++) c->ready = t;
  if (st == STRATA_TS_PENDING && !c->nwaiting++) c->waiting = t;
  c->nrunning += st == STRATA_TS_RUNNING;
}

/* "waits on #a (RUNNING) #b (PENDING)", or "is held"; only once the
 * orchestration returned (prod[] is the orchestrator's until then). */
static void producers_of(strata_chip *chip, const strata__task *t, char *buf, size_t len) {
  buf[0] = '\0';
  if (!t || !load_acquire(&chip->hdr.orch_done)) return; /* pairs with orch_main's release */
  size_t n = (size_t)snprintf(buf, len, t->held ? "; it is held (never released?)" : "; it waits on");
  for (uint32_t i = 0; i < t->nprod && i < 3 && n < len; i++)
    n += (size_t)snprintf(buf + n, len - n, " #%llx '%s' (%s)",
                          (unsigned long long)READ_ONCE(t->prod[i]->id),
                          strata__kernel_name(chip, READ_ONCE(t->prod[i]->kernel)),
                          strata__state_name(READ_ONCE(t->prod[i]->state)));
}

static int fallback_latch(strata__sched *s, const census *c, uint32_t blocked, uint64_t stuck) {
  strata_chip *chip = s->chip;
  if (c->nready) {
    hang_report r = {STRATA_HANG_READY_IDLE, c->ready, stuck};
    return latch(s, &r, "%llu task(s) READY (first #%llx '%s') but every core idle for "
                 "%llu ms: dispatch stopped (STRATA_FAULT_NO_DISPATCH set?)",
                 (unsigned long long)c->nready, (unsigned long long)READ_ONCE(c->ready->id),
                 strata__kernel_name(chip, READ_ONCE(c->ready->kernel)),
                 (unsigned long long)stuck);
  }
  char prods[160];
  producers_of(chip, c->waiting, prods, sizeof(prods));
  hang_report r = {blocked ? STRATA_HANG_ORCH_STARVATION : STRATA_HANG_DEP_DEADLOCK,
                   c->waiting, stuck};
  return latch(s, &r, "%s%llu task(s) WAITING, none RUNNING, no progress for %llu ms; "
               "first #%llx '%s'%s; a dependency can never be satisfied: release held "
               "tasks before waiting on their outputs",
               blocked == STRATA_ORCH_BLOCKED_RING ? "the orchestrator waits for ring space; " :
               blocked == STRATA_ORCH_BLOCKED_TENSOR ? "the orchestrator waits for a tensor; " : "",
               (unsigned long long)c->nwaiting, (unsigned long long)stuck,
               c->waiting ? (unsigned long long)READ_ONCE(c->waiting->id) : 0ull,
               c->waiting ? strata__kernel_name(chip, READ_ONCE(c->waiting->kernel)) : "?",
               prods);
}

static int fallback_check(strata__sched *s, uint64_t now, uint64_t budget) {
  strata_chip *chip = s->chip;
  uint32_t blocked = load_acquire(&chip->orch_blocked); /* pairs with orch_block() */
  if (!blocked && !load_acquire(&chip->hdr.orch_done)) return 0; /* pairs with orch_main */
  if (!nothing_moves(chip, now, budget)) return 0;
  census c;
  memset(&c, 0, sizeof(c));
  each_task(chip, count_task, &c);
  if (c.nrunning) return 0; /* a dispatch raced with the counters: not a deadlock */
  return fallback_latch(s, &c, blocked,
                        (now - READ_ONCE(chip->last_progress_ns)) / STRATA_NS_PER_MS);
}

int strata__hang_check(strata__sched *s, uint64_t now) {
  strata_chip *chip = s->chip;
  uint64_t budget = (uint64_t)chip->cfg.scheduler_timeout_ms * STRATA_NS_PER_MS;
  strata__stall_report(chip, now);
  if (chip->cfg.legacy_sched_timeout) return legacy_check(s, now);
  if (s->running > 0) return stalled_check(s, now, budget);
  s->last_progress_ns = now; /* owns nothing: not its hang to report */
  return fallback_check(s, now, budget);
}

void strata__stall_report(strata_chip *chip, uint64_t now) {
  uint64_t period = (uint64_t)chip->cfg.stall_report_ms * STRATA_NS_PER_MS;
  uint64_t last = READ_ONCE(chip->last_progress_ns);
  if (period == 0 || now <= last || now - last < period) return;
  uint64_t prev = READ_ONCE(chip->last_stall_ns);
  if (now - prev < period || !cas(&chip->last_stall_ns, &prev, now)) return;
  char dump[768];
  strata__dump_blocking(chip, dump, sizeof(dump));
  fetch_add_relaxed(&chip->stall_reports, 1);
  char msg[900];
  snprintf(msg, sizeof(msg), "no progress for %llu ms. %s",
           (unsigned long long)((now - last) / STRATA_NS_PER_MS), dump);
  strata__warn("STALL: %s", msg);
  strata__trace_instant("STALL", msg, 0, STRATA_TT_SCHED);
}

/* ---- dump of what blocks ------------------------------------------------- */
typedef struct dump_acc {
  const strata_chip *chip;
  uint64_t now;
  uint64_t count[STRATA_TS_CONSUMED + 1];
  char running[224], waiting[192];
  size_t rlen, wlen;
} dump_acc;

static void note_task(strata__task *t, void *arg) {
  dump_acc *d = arg;
  uint64_t now = d->now;
  uint32_t st = READ_ONCE(t->state);
  if (st > STRATA_TS_CONSUMED) return;
  d->count[st]++;
  const char *k = strata__kernel_name(d->chip, READ_ONCE(t->kernel));
  if (st == STRATA_TS_RUNNING && d->rlen < sizeof(d->running) - 64)
    d->rlen += (size_t)snprintf(d->running + d->rlen, sizeof(d->running) - d->rlen,
                                " #%llx '%s'@core%d(%llums)", (unsigned long long)READ_ONCE(t->id),
                                k, READ_ONCE(t->core), (unsigned long long)age_ms(t, now));
  else if (st == STRATA_TS_PENDING && d->wlen < sizeof(d->waiting) - 56)
    d->wlen += (size_t)snprintf(d->waiting + d->wlen, sizeof(d->waiting) - d->wlen,
                                " #%llx '%s'(fanin %d)", (unsigned long long)READ_ONCE(t->id), k,
                                READ_ONCE(t->fanin));
}

void strata__dump_blocking(strata_chip *chip, char *buf, size_t len) {
  dump_acc d;
  memset(&d, 0, sizeof(d));
  d.chip = chip;
  d.now = strata__now_ns();
  each_task(chip, note_task, &d);
  uint32_t busy = 0;
  for (uint32_t c = 0; c < chip->ncores; c++)
    busy += READ_ONCE(chip->cores[c].reg_state) != STRATA_REG_IDLE;
  snprintf(buf, len, "tasks: %llu RUNNING [%s ], %llu READY, %llu WAITING [%s ], %llu "
           "finished unretired; %u/%u cores busy",
           (unsigned long long)d.count[STRATA_TS_RUNNING], d.running,
           (unsigned long long)d.count[STRATA_TS_READY],
           (unsigned long long)d.count[STRATA_TS_PENDING], d.waiting,
           (unsigned long long)(d.count[STRATA_TS_COMPLETED] + d.count[STRATA_TS_FAILED] +
                                d.count[STRATA_TS_CONSUMED]),
           busy, chip->ncores);
}
