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
  strata__set_ready_credit(READ_ONCE(s->idle[STRATA_CORE_AIC]), READ_ONCE(s->idle[STRATA_CORE_AIV]));
}

static int harvest(strata__sched *s) {
  strata_chip *chip = s->chip;
  int n = 0;
  for (uint32_t i = 0; i < s->ncores; i++) {
    strata__core *c = s->cores[i];
    if (load_acquire(&c->reg_state) != STRATA_REG_DONE) continue; /* pairs with core DONE */
    strata__task *t = READ_ONCE(c->reg_task); /* NULL: the core finished it (chained) */
    int failed = READ_ONCE(c->reg_failed) != 0;
    WRITE_ONCE(c->reg_state, STRATA_REG_IDLE);
    s->running--;
    fetch_add(&s->idle[c->kind], 1);
    WRITE_ONCE(chip->last_finish_ns, strata__now_coarse_ns());
    if (t) fetch_sub(&chip->running_total, 1); /* the CPU is free again (see kick's
                                                  pairing); a chained core freed it */
    grant_credit(s);
    if (t) strata__block_done(chip, t, failed);
    n++;
  }
  strata__set_ready_credit(0, 0);
  return n;
}

static void assign(strata__sched *s, strata__core *c, strata__task *t, uint32_t block) {
  s->running++;
  fetch_sub(&s->idle[c->kind], 1);
  strata__core_take(c, t, block, strata__now_ns());
  store_release(&c->reg_state, STRATA_REG_ASSIGNED); /* pairs with core's acquire */
  strata__event_signal(&c->ev);
}

/* Claim a CPU for one more kernel (CAS on running_total below the budget,
 * or past the lease); 0 when every CPU already runs a kernel. */
static int claim_cpu(strata_chip *chip) {
  uint32_t r = READ_ONCE(chip->running_total);
  for (;;) { /* a gathering gang's blocks wait for each other: never held back */
    if (r >= strata__kernel_cpus(chip) && !strata__cpu_free(chip) && !READ_ONCE(chip->gang)) return 0;
    if (cas(&chip->running_total, &r, r + 1)) return 1;
  }
}

/* MIX tasks onto whole idle clusters of this scheduler: the three lanes
 * start together, so they take their CPUs regardless of the budget. */
static int dispatch_mix(strata__sched *s) {
  strata_chip *chip = s->chip;
  int n = 0;
  for (uint32_t m = 0; m + 2 < s->ncores && !strata__readyq_empty(&chip->readyq[STRATA_KIND_MIX]); m += 3) {
    strata__core **cl = &s->cores[m]; /* a cluster: AIC, AIV, AIV */
    if (READ_ONCE(cl[0]->reg_state) != STRATA_REG_IDLE || READ_ONCE(cl[1]->reg_state) != STRATA_REG_IDLE ||
        READ_ONCE(cl[2]->reg_state) != STRATA_REG_IDLE)
      continue;
    strata__task *t = strata__pop_live(chip, STRATA_KIND_MIX, &n);
    if (!t) break;
    fetch_add(&chip->running_total, STRATA_MIX_LANES);
    for (uint32_t lane = 0; lane < STRATA_MIX_LANES; lane++) assign(s, cl[lane], t, lane);
    n++;
  }
  return n;
}

/* Hand READY tasks to idle cores while a CPU is free for them. Sets
 * *starved when tasks wait for a CPU. */
static int dispatch(strata__sched *s, int *starved) {
  strata_chip *chip = s->chip;
  int n = 0;
  if (chip->cfg.fault_no_dispatch) return 0; /* fault injection: a dead dispatcher */
  if (!strata__readyq_empty(&chip->readyq[STRATA_KIND_MIX])) n += dispatch_mix(s);
  for (uint32_t i = 0; i < s->ncores; i++) {
    strata__core *c = s->cores[i];
    if (READ_ONCE(c->reg_state) != STRATA_REG_IDLE || strata__readyq_empty(&chip->readyq[c->kind]))
      continue;
    if (!claim_cpu(chip)) {
      *starved = 1;
      break;
    }
    uint32_t block = 0;
    strata__task *t = strata__next_runnable(chip, c->kind, &n, &block);
    if (!t) {
      fetch_sub(&chip->running_total, 1);
      continue;
    }
    assign(s, c, t, block);
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

static void count_idle(strata__sched *s) {
  uint32_t idle[2] = {0, 0};
  for (uint32_t i = 0; i < s->ncores; i++)
    idle[s->cores[i]->kind] += READ_ONCE(s->cores[i]->reg_state) == STRATA_REG_IDLE;
  WRITE_ONCE(s->idle[STRATA_CORE_AIC], idle[STRATA_CORE_AIC]);
  WRITE_ONCE(s->idle[STRATA_CORE_AIV], idle[STRATA_CORE_AIV]);
}

/* Park until signalled. A scheduler that was refused a CPU, or owns running
 * kernels while tasks wait, wakes within a lease, so a budget held by
 * blocked kernels is overdrawn in time; otherwise it sleeps a detector
 * period (waking every 4 ms with nothing waiting only preempted kernels).
 * It spins first only while a CPU is free: when every CPU runs a kernel,
 * spinning would only delay one of them. */
static void sched_park(strata__sched *s, uint32_t seen, uint64_t now, uint64_t nap, int starved) {
  strata_chip *chip = s->chip;
  int waiting = !strata__readyq_empty(&chip->readyq[STRATA_CORE_AIC]) ||
                !strata__readyq_empty(&chip->readyq[STRATA_CORE_AIV]);
  if ((starved || (s->running && waiting)) && nap > STRATA_CPU_LEASE_NS) nap = STRATA_CPU_LEASE_NS;
  int spin = READ_ONCE(chip->running_total) < strata__kernel_cpus(chip) ? STRATA_SPIN_FULL : STRATA_SPIN_NONE;
  strata__event_wait_spin(&s->ev, seen, now + nap, spin);
}

/* One run: dispatch, harvest and watch for hangs until the run stops. */
static void sched_run(strata__sched *s) {
  strata_chip *chip = s->chip;
  uint64_t nap = park_ns(chip);
  s->last_progress_ns = strata__now_ns();
  count_idle(s);
  while (!READ_ONCE(chip->hdr.stop) && !strata__run_cancelled(chip)) {
    uint32_t seen = strata__event_read(&s->ev);
    int starved = 0, n = harvest(s);
    n += dispatch(s, &starved);
    for (uint32_t k = 0; n > 0 && k < 2; k++) /* READY work my cores cannot take */
      if (READ_ONCE(s->idle[k]) == 0 || starved) strata__kick(chip, k, s);
    uint64_t now = strata__now_ns();
    if (n > 0) {
      s->last_progress_ns = now;
      s->idle_iters = 0;
      WRITE_ONCE(chip->last_progress_ns, now);
      continue;
    }
    uint64_t cp = READ_ONCE(s->core_progress_ns); /* completions chained by my cores */
    if (cp > s->last_progress_ns) { /* may be later than `now`: never ahead of it */
      s->last_progress_ns = cp < now ? cp : now;
      s->idle_iters = 0;
    }
    if (strata__hang_check(s, now)) break;
    sched_park(s, seen, now, nap, starved);
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
