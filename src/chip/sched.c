/* sched.c - scheduler threads: each owns whole clusters of cores, harvests
 * their completions, dispatches READY tasks of the matching kind through the
 * cores' handshake registers, and runs the hang detector when idle.
 *
 * DESIGN: a scheduler is the only writer of its cores' IDLE->ASSIGNED and
 * DONE->IDLE transitions; READY tasks come from the per-kind ready queues
 * shared by all schedulers. When a loop makes no progress it parks on its
 * event for at most one detector period; cores and task-readiers signal it.
 *
 * Barrier pairing: store_release(ASSIGNED) after writing reg_task pairs with
 * the core's load_acquire of reg_state; the core's store_release(DONE) after
 * writing reg_failed pairs with load_acquire in harvest().
 */
#include "chip/chip_int.h"

/* Idle owned cores per kind: tasks this thread readies up to that number
 * are dispatched by it without waking the other schedulers. */
static void grant_credit(strata__sched *s) {
  uint32_t idle[2] = {0, 0};
  for (uint32_t i = 0; i < s->ncores; i++)
    idle[s->cores[i]->kind] += READ_ONCE(s->cores[i]->reg_state) == STRATA_REG_IDLE;
  strata__set_ready_credit(idle[STRATA_CORE_AIC], idle[STRATA_CORE_AIV]);
}

static int harvest(strata__sched *s) {
  strata_chip *chip = s->chip;
  int n = 0;
  for (uint32_t i = 0; i < s->ncores; i++) {
    strata__core *c = s->cores[i];
    if (load_acquire(&c->reg_state) != STRATA_REG_DONE) continue; /* pairs with core DONE */
    strata__task *t = READ_ONCE(c->reg_task);
    int failed = READ_ONCE(c->reg_failed) != 0;
    WRITE_ONCE(c->reg_state, STRATA_REG_IDLE);
    s->running--;
    fetch_sub(&chip->running_total, 1);
    grant_credit(s);
    strata__task_finish(chip, t, failed);
    n++;
  }
  strata__set_ready_credit(0, 0);
  return n;
}

static void assign(strata__sched *s, strata__core *c, strata__task *t) {
  WRITE_ONCE(t->core, (int32_t)c->id);
  WRITE_ONCE(t->start_ns, strata__now_ns());
  WRITE_ONCE(t->state, STRATA_TS_RUNNING);
  s->running++;
  fetch_add(&s->chip->running_total, 1);
  WRITE_ONCE(c->reg_task, t);
  if (strata__trace_on(2)) {
    strata__tev e = {READ_ONCE(t->start_ns), 0, READ_ONCE(t->id), 0, STRATA_TEV_DISPATCH,
                     STRATA_TT_SCHED + s->id, 0, c->id, 0};
    strata__trace_record(&e);
  }
  store_release(&c->reg_state, STRATA_REG_ASSIGNED); /* pairs with core's acquire */
  strata__event_signal(&c->ev);
}

/* Hand READY tasks to idle cores; poisoned tasks are finished unrun. */
static int dispatch(strata__sched *s) {
  strata_chip *chip = s->chip;
  int n = 0;
  if (chip->cfg.fault_no_dispatch) return 0; /* fault injection: a dead dispatcher */
  for (uint32_t i = 0; i < s->ncores; i++) {
    strata__core *c = s->cores[i];
    if (READ_ONCE(c->reg_state) != STRATA_REG_IDLE) continue;
    strata__task *t;
    while ((t = strata__readyq_pop(&chip->readyq[c->kind])) && READ_ONCE(t->poisoned)) {
      strata__task_finish(chip, t, 1);
      n++;
    }
    if (!t) continue;
    assign(s, c, t);
    n++;
  }
  return n;
}

/* How long an idle scheduler parks before re-running the detector. */
static uint64_t park_ns(const strata_chip *chip) {
  if (chip->cfg.legacy_sched_timeout) return STRATA_NS_PER_MS; /* 1 ms iterations */
  uint64_t ns = (uint64_t)chip->cfg.scheduler_timeout_ms * STRATA_NS_PER_MS / 8;
  if (ns < STRATA_NS_PER_MS) ns = STRATA_NS_PER_MS;
  return ns > 100 * STRATA_NS_PER_MS ? 100 * STRATA_NS_PER_MS : ns;
}

/* One run: dispatch, harvest and watch for hangs until the run stops. */
static void sched_run(strata__sched *s) {
  strata_chip *chip = s->chip;
  uint64_t nap = park_ns(chip);
  s->last_progress_ns = strata__now_ns();
  while (!READ_ONCE(chip->hdr.stop) && !strata__run_cancelled(chip)) {
    uint32_t seen = strata__event_read(&s->ev);
    int n = harvest(s) + dispatch(s);
    uint64_t now = strata__now_ns();
    if (n > 0) {
      s->last_progress_ns = now;
      s->idle_iters = 0;
      WRITE_ONCE(chip->last_progress_ns, now);
      continue;
    }
    if (strata__hang_check(s, now)) break;
    strata__event_wait(&s->ev, seen, now + nap);
  }
}

void *strata__sched_main(void *arg) {
  strata__sched *s = arg;
  strata_chip *chip = s->chip; /* written once, before the thread starts */
  uint32_t gen = 0;
  while (strata__await_run(chip, &gen)) { /* lives as long as the chip */
    sched_run(s);
    strata__thread_parked(chip);
  }
  return NULL;
}
