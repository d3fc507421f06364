/* graph.c - task-graph transitions shared by the orchestrator and the
 * schedulers: readiness, completion, poisoning and reference release.
 *
 * Barrier pairing:
 *   - fanin: every decrement is acq_rel; the thread that takes it to zero
 *     therefore sees the orchestrator's argument writes (released by its
 *     guard decrement) and any producer's poisoned store.
 *   - fanout: the orchestrator's CAS (release) publishing a dep entry pairs
 *     with the exchange (acquire) that closes the list in task_finish; the
 *     state store before that exchange is what a late pusher reads after
 *     seeing FANOUT_CLOSED.
 *   - refs: the final decrement (acq_rel) is followed by a release store of
 *     CONSUMED, paired with the orchestrator's acquire in ring_retire; no
 *     thread touches the task after its own decrement.
 */
#include "chip/chip_int.h"

const char *strata__state_name(uint32_t state) {
  static const char *const names[] = {"FREE",      "PENDING", "READY",   "RUNNING",
                                      "COMPLETED", "FAILED",  "CONSUMED"};
  return state < STRATA_ARRAY_SIZE(names) ? names[state] : "?";
}

int strata__run_cancelled(strata_chip *chip) { return READ_ONCE(chip->hdr.cancel) != 0; }

void strata__note_progress(strata_chip *chip) {
  WRITE_ONCE(chip->last_progress_ns, strata__now_coarse_ns()); /* per submit: cheap clock */
}

void strata__wake_scheds(strata_chip *chip) {
  strata__event_signal(&chip->orch_ev);
  for (uint32_t s = 0; s < chip->cfg.sched_threads; s++)
    strata__event_signal(&chip->scheds[s].ev);
}

void strata__wake_all(strata_chip *chip) {
  strata__wake_scheds(chip);
  strata__event_signal(&chip->host_ev);
  for (uint32_t c = 0; c < chip->ncores; c++) strata__event_signal(&chip->cores[c].ev);
}

void strata__task_unref(strata_chip *chip, strata__task *t) {
  if (fetch_sub(&t->refs, 1) != 1) return;
  store_release(&t->state, STRATA_TS_CONSUMED); /* pairs with ring_retire */
  uint64_t n = fetch_add(&chip->consumed, 1) + 1;
  smp_mb(); /* pairs with smp_mb after orch_wake_at is set in ring_wait */
  if (n >= READ_ONCE(chip->orch_wake_at)) strata__event_signal(&chip->orch_ev);
}

int strata__task_tryref(strata__task *t, uint64_t id) {
  if (READ_ONCE(t->id) != id) return 0; /* recycled: long finished */
  int32_t r = load_acquire(&t->refs); /* pairs with fetch_sub in unref: see `failed` */
  while (r > 0)
    if (cas(&t->refs, &r, r + 1)) return 1;
  return 0; /* consumed */
}

/* Idle cores per kind that the calling scheduler thread will fill in its
 * next dispatch pass; zero on every other thread. */
static _Thread_local uint32_t ready_credit[2];

void strata__set_ready_credit(uint32_t aic, uint32_t aiv) {
  ready_credit[STRATA_CORE_AIC] = aic;
  ready_credit[STRATA_CORE_AIV] = aiv;
}

void strata__task_ready(strata_chip *chip, strata__task *t) {
  WRITE_ONCE(t->state, STRATA_TS_READY);
  if (strata__trace_on(2)) WRITE_ONCE(t->ready_ns, strata__now_ns());
  if (strata__readyq_push(&chip->readyq[t->kind], t) != 0) { /* sized for every slot */
    strata__sched_fatal(chip, 104, "ready queue of %s tasks is full (capacity "
                               "%llu, 4 x PTO2_RING_TASK_WINDOW): cannot happen unless the "
                               "queue sizing is broken; report it with the task window used",
                               t->kind == STRATA_KIND_MIX ? "MIX" : t->kind == STRATA_CORE_AIC ? "AIC" : "AIV",
                               (unsigned long long)chip->readyq[t->kind].mask + 1);
    return;
  }
  if (t->kind != STRATA_KIND_MIX && ready_credit[t->kind] > 0) { /* this scheduler runs it next */
    ready_credit[t->kind]--;
    return;
  }
  strata__kick(chip, t->kind, NULL);
}

uint32_t strata__kernel_cpus(strata_chip *chip) {
  uint32_t b = chip->cpu_budget, o = READ_ONCE(chip->orch_cpu);
  return b > o ? b - o : 1;
}

int strata__cpu_free(strata_chip *chip) {
  if (READ_ONCE(chip->running_total) < strata__kernel_cpus(chip)) return 1;
  uint64_t now = strata__now_coarse_ns(), last = READ_ONCE(chip->last_finish_ns);
  /* both coarse: one tick more, so a tick boundary never ends a lease early */
  return now > last && now - last >= STRATA_CPU_LEASE_NS + strata__coarse_res_ns();
}

/* A scheduler that may own an idle cluster (an idle AIC and two idle AIV). */
static void kick_mix(strata_chip *chip) {
  for (uint32_t i = 0; i < chip->cfg.sched_threads; i++) {
    strata__sched *s = &chip->scheds[i];
    if (READ_ONCE(s->idle[STRATA_CORE_AIC]) >= 1 && READ_ONCE(s->idle[STRATA_CORE_AIV]) >= 2) {
      strata__event_signal(&s->ev);
      return;
    }
  }
}

/* Barrier pairing: the readier pushes the task, smp_mb, then reads idle[]
 * and running_total; a scheduler increments idle / decrements running,
 * smp_mb, then pops. Either the scheduler pops the task or we see it. */
void strata__kick(strata_chip *chip, uint32_t kind, const strata__sched *self) {
  smp_mb();
  if (kind == STRATA_KIND_MIX) { /* needs a whole idle cluster, not a free CPU */
    if (!strata__readyq_empty(&chip->readyq[kind])) kick_mix(chip);
    return;
  }
  if (strata__readyq_empty(&chip->readyq[kind]) || !strata__cpu_free(chip))
    return; /* a completion frees a CPU and its scheduler dispatches */
  /* the lowest-numbered scheduler with an idle core: the same thread tends
   * to be chosen, so it is often still awake (spinning) when kicked */
  for (uint32_t i = 0; i < chip->cfg.sched_threads; i++) {
    strata__sched *s = &chip->scheds[i];
    if (s != self && READ_ONCE(s->idle[kind]) > 0) {
      strata__event_signal(&s->ev);
      return;
    }
  }
}

/* A sync_start task may hand out blocks only while it is the gang that
 * gathers (one at a time, so two gangs never hold parts of the cores). */
static int gang_turn(strata_chip *chip, strata__task *t) {
  strata__task *g = NULL;
  return cas(&chip->gang, &g, t) || g == t;
}

strata__task *strata__pop_live(strata_chip *chip, uint32_t kind, int *finished) {
  strata__task *t;
  while ((t = strata__readyq_pop(&chip->readyq[kind])) && (READ_ONCE(t->poisoned) || t->dummy)) {
    strata__task_finish(chip, t, READ_ONCE(t->poisoned) != 0);
    ++*finished;
  }
  return t;
}

strata__task *strata__next_runnable(strata_chip *chip, uint32_t kind, int *finished,
                                    uint32_t *block) {
  strata__task *t, *deferred = NULL;
  while ((t = strata__pop_live(chip, kind, finished)) && t->sync_start && !gang_turn(chip, t)) {
    strata__readyq_push(&chip->readyq[kind], t); /* its turn comes when the gang gathered */
    if (deferred == t) return NULL;
    if (!deferred) deferred = t;
  }
  if (!t) return NULL;
  *block = 0;
  if (t->block_dim == 1) return t; /* an ordinary task: no block bookkeeping */
  uint32_t b = fetch_add(&t->next_block, 1);
  if (b + 1 < t->block_dim) strata__readyq_push(&chip->readyq[kind], t); /* more blocks */
  *block = b;
  return t;
}

void strata__block_done(strata_chip *chip, strata__task *t, int failed) {
  if (t->block_dim == 1) return strata__task_finish(chip, t, failed); /* one block */
  if (failed) WRITE_ONCE(t->block_failed, 1);
  if (fetch_sub(&t->blocks_left, 1) != 1) return; /* acq_rel: sees the others' failures */
  strata__task_finish(chip, t, READ_ONCE(t->block_failed) != 0);
}

void strata__task_dec_fanin(strata_chip *chip, strata__task *t) {
  if (fetch_sub(&t->fanin, 1) == 1) strata__task_ready(chip, t);
}

/* Wake the host if this completion may have finished the run. Pairs with
 * the orchestrator's orch_done store + smp_mb in orch_main. */
static void check_run_end(strata_chip *chip, uint64_t done) {
  smp_mb(); /* pairs with smp_mb after orch_done store in orch_main */
  if (READ_ONCE(chip->hdr.orch_done) && done == READ_ONCE(chip->submitted))
    strata__event_signal(&chip->host_ev);
}

void strata__task_finish(strata_chip *chip, strata__task *t, int failed) {
  int poisoned = READ_ONCE(t->poisoned) != 0;
  if (failed) WRITE_ONCE(t->failed, 1); /* published by the state store below */
  store_release(&t->state, failed ? STRATA_TS_FAILED : STRATA_TS_COMPLETED);
  strata__dep *d = xchg(&t->fanout, STRATA_FANOUT_CLOSED); /* pairs with wire CAS */
  while (d) {
    strata__dep *next = d->next; /* read before the consumer may recycle d */
    if (failed) WRITE_ONCE(d->consumer->poisoned, 1);
    strata__task_dec_fanin(chip, d->consumer);
    d = next;
  }
  for (uint32_t i = 0; i < t->nprod; i++) strata__task_unref(chip, t->prod[i]);
  if (failed) fetch_add_relaxed(poisoned ? &chip->poisoned : &chip->failed, 1);
  strata__task_unref(chip, t); /* completion reference: last touch of t */
  check_run_end(chip, fetch_add(&chip->completed, 1) + 1);
  smp_mb(); /* pairs with smp_mb after orch_tensor_wait is set */
  if (READ_ONCE(chip->orch_tensor_wait)) strata__event_signal(&chip->orch_ev);
}
