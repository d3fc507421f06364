/* hang.c - the scheduler hang detector (SPEC §2) and STALL diagnostics.
 *
 * Default mode, per scheduler thread, on every idle wake-up:
 *   - owns a RUNNING task: latch SCHEDULER_TIMEOUT (100) once its own clock
 *     (last completion/dispatch) is older than scheduler_timeout_ms;
 *   - owns nothing: refresh its clock and keep going, unless the deadlock
 *     fallback holds: no thread owns a RUNNING task, tasks are unfinished,
 *     and nothing anywhere progressed (completion, dispatch, wiring) for the
 *     budget - then latch 100.
 * Legacy mode reproduces the old detector: every idle iteration (~1 ms)
 * counts; any thread reaching legacy_idle_cap latches 100, owner or not.
 * STALL reports are logged at most once per stall_report_ms while no
 * progress is made; they never latch.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "chip/chip_int.h"

static int latch(strata__sched *s, const char *fmt, ...) STRATA_PRINTF(2, 3);

static int latch(strata__sched *s, const char *fmt, ...) {
  strata_chip *chip = s->chip;
  fetch_or(&chip->hdr.report_bitmap, 1ull << (s->id & 63));
  int32_t expected = 0;
  if (cas(&chip->hdr.sched_error_code, &expected, 100)) {
    WRITE_ONCE(chip->hdr.sched_error_thread, (int32_t)s->id);
    char dump[256];
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    strata__dump_blocking(chip, dump, sizeof(dump));
    snprintf(chip->hdr.sched_msg, sizeof(chip->hdr.sched_msg),
             "scheduler thread %u: %s. %s", s->id, what, dump);
    strata__log(STRATA_LOG_ERROR, "%s", chip->hdr.sched_msg);
  }
  WRITE_ONCE(chip->hdr.cancel, 1); /* shut down all cores */
  strata__wake_all(chip);
  return 1;
}

static strata__task *owned_running(strata__sched *s) {
  for (uint32_t i = 0; i < s->ncores; i++)
    if (READ_ONCE(s->cores[i]->reg_state) == STRATA_REG_ASSIGNED)
      return READ_ONCE(s->cores[i]->reg_task);
  return NULL;
}

static int deadlocked(strata_chip *chip, uint64_t now, uint64_t budget) {
  uint64_t last = READ_ONCE(chip->last_progress_ns);
  return READ_ONCE(chip->running_total) == 0 &&
         READ_ONCE(chip->completed) < READ_ONCE(chip->submitted) &&
         now > last && now - last >= budget;
}

int strata__hang_check(strata__sched *s, uint64_t now) {
  strata_chip *chip = s->chip;
  uint64_t budget = (uint64_t)chip->cfg.scheduler_timeout_ms * STRATA_NS_PER_MS;
  strata__stall_report(chip, now);
  if (chip->cfg.legacy_sched_timeout) {
    if (++s->idle_iters < chip->cfg.legacy_idle_cap) return 0;
    return latch(s, "legacy idle cap reached (%llu idle iterations, owning %u running "
                 "task(s)); the default detector would not latch here",
                 (unsigned long long)s->idle_iters, s->running);
  }
  if (s->running > 0) {
    if (now - s->last_progress_ns < budget) return 0;
    strata__task *t = owned_running(s);
    return latch(s, "task #%llx (kernel %u) made no progress for %u ms "
                 "(SCHEDULER_TIMEOUT_MS); fix the kernel or raise the budget",
                 t ? (unsigned long long)READ_ONCE(t->id) : 0ull,
                 t ? READ_ONCE(t->kernel) : 0u, chip->cfg.scheduler_timeout_ms);
  }
  s->last_progress_ns = now; /* owns nothing: not its hang to report */
  if (!deadlocked(chip, now, budget)) return 0;
  return latch(s, "deadlock: %llu task(s) unfinished, none RUNNING, no progress for "
               "%u ms; a dependency can never be satisfied (held task never released?)",
               (unsigned long long)(READ_ONCE(chip->submitted) - READ_ONCE(chip->completed)),
               chip->cfg.scheduler_timeout_ms);
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
  strata__warn("STALL: no progress for %llu ms. %s",
               (unsigned long long)((now - last) / STRATA_NS_PER_MS), dump);
}

/* ---- dump of what blocks ------------------------------------------------- */
typedef struct dump_acc {
  uint64_t count[STRATA_TS_CONSUMED + 1];
  char running[192], waiting[160];
  size_t rlen, wlen;
} dump_acc;

static void note_task(dump_acc *d, strata__task *t, uint64_t now) {
  uint32_t st = READ_ONCE(t->state);
  if (st > STRATA_TS_CONSUMED) return;
  d->count[st]++;
  if (st == STRATA_TS_RUNNING && d->rlen < sizeof(d->running) - 48)
    d->rlen += (size_t)snprintf(d->running + d->rlen, sizeof(d->running) - d->rlen,
                                " #%llx@core%d(%llums)",
                                (unsigned long long)READ_ONCE(t->id), READ_ONCE(t->core),
                                (unsigned long long)((now - READ_ONCE(t->start_ns)) /
                                                     STRATA_NS_PER_MS));
  else if (st == STRATA_TS_PENDING && d->wlen < sizeof(d->waiting) - 40)
    d->wlen += (size_t)snprintf(d->waiting + d->wlen, sizeof(d->waiting) - d->wlen,
                                " #%llx(fanin %d)", (unsigned long long)READ_ONCE(t->id),
                                READ_ONCE(t->fanin));
}

static void scan_rings(strata_chip *chip, dump_acc *d, uint64_t now) {
  for (uint32_t r = 0; r < STRATA_NUM_RINGS; r++) {
    strata__ring *R = &chip->rings[r];
    uint64_t head = READ_ONCE(R->head), tail = READ_ONCE(R->tail);
    if (head - tail > R->window) tail = head - R->window;
    for (uint64_t i = tail; i < head; i++) note_task(d, &R->tasks[i & (R->window - 1)], now);
  }
}

void strata__dump_blocking(strata_chip *chip, char *buf, size_t len) {
  dump_acc d;
  memset(&d, 0, sizeof(d));
  scan_rings(chip, &d, strata__now_ns());
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
