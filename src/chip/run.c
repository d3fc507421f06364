/* run.c - the host side of a run: reset the per-run state, start the run on
 * the chip's persistent threads (cores, schedulers, orchestrator: created at
 * the first run; schedulers and orchestrator parked between runs, cores
 * parked on their own registers), stream-sync with
 * STREAM_SYNC_TIMEOUT_MS, cancel on expiry, stop the run and wait until every
 * thread parked again (bounded), and report.
 *
 * DESIGN: the host thread owns the chip between runs; during a run it only
 * waits on host_ev. Every run thread has parked before the status is read,
 * so the latched messages (written by the CAS winners) are stable by then.
 * Barrier pairing: the host's store_release(run_gen) after resetting the run
 * state pairs with the threads' load_acquire in strata__await_run; a
 * thread's fetch_add(parked) after its last access of the run pairs with
 * the host's load_acquire in wait_parked.
 */
#include <stdio.h>
#include <string.h>

#include "chip/chip_int.h"

#define PARK_SLICE_MS 1000 /* parked threads re-check `exiting` at least this often */

/* Field by field: a core that just stored DONE may still read stop and
 * cancel (atomics) while the next run is being set up. */
static void reset_hdr(strata__run_hdr *h) {
  WRITE_ONCE(h->orch_error_code, 0);
  WRITE_ONCE(h->sched_error_code, 0);
  WRITE_ONCE(h->sched_error_thread, -1);
  WRITE_ONCE(h->report_bitmap, 0);
  WRITE_ONCE(h->task_error, 0);
  WRITE_ONCE(h->cancel, 0);
  WRITE_ONCE(h->stop, 0);
  WRITE_ONCE(h->orch_done, 0);
  h->hang_class = 0;
  h->stuck_task = h->stuck_ms = 0;
  h->stuck_core = -1;
  h->stuck_kernel = 0;
  h->orch_msg[0] = h->sched_msg[0] = h->task_msg[0] = '\0';
}

static void reset_run(strata_chip *chip) {
  strata__rings_reset(chip);
  for (int q = 0; q < STRATA_NUM_READYQ; q++) strata__readyq_reset(&chip->readyq[q]);
  strata__tmap_reset(&chip->tmap);
  reset_hdr(&chip->hdr);
  WRITE_ONCE(chip->submitted, 0);
  WRITE_ONCE(chip->completed, 0);
  WRITE_ONCE(chip->failed, 0);
  WRITE_ONCE(chip->poisoned, 0);
  WRITE_ONCE(chip->running_total, 0);
  WRITE_ONCE(chip->last_finish_ns, strata__now_coarse_ns());
  WRITE_ONCE(chip->consumed, 0);
  WRITE_ONCE(chip->orch_wake_at, UINT64_MAX);
  WRITE_ONCE(chip->orch_tensor_wait, 0);
  WRITE_ONCE(chip->orch_blocked, STRATA_ORCH_RUNNING);
  WRITE_ONCE(chip->gang, NULL); /* a gang cut short by a cancelled run */
  WRITE_ONCE(chip->stall_reports, 0);
  WRITE_ONCE(chip->last_stall_ns, 0);
  strata__note_progress(chip);
  chip->depth = 0;
  chip->nscope_tasks = 0;
  chip->scope_start[0] = 0;
}

/* Events are counters initialised once at create: a thread may still be
 * signalling one (host_ev, after counting itself parked) as the next run
 * starts, so they are never reset. */
static void reset_threads(strata_chip *chip) {
  for (uint32_t i = 0; i < chip->ncores; i++) WRITE_ONCE(chip->cores[i].reg_state, STRATA_REG_IDLE);
  for (uint32_t s = 0; s < chip->cfg.sched_threads; s++) {
    chip->scheds[s].running = 0;
    chip->scheds[s].idle_iters = 0;
  }
}

/* ---- the persistent threads ---------------------------------------------------- */
typedef struct await_ctx {
  strata_chip *chip;
  uint32_t *gen;
  int run;
} await_ctx;

static int run_or_exit(void *arg) {
  await_ctx *w = arg;
  if (load_acquire(&w->chip->exiting)) return 1; /* pairs with threads_exit's release */
  uint32_t g = load_acquire(&w->chip->run_gen);  /* pairs with start_run's release */
  if (g == *w->gen) return 0;
  *w->gen = g;
  return w->run = 1;
}

int strata__await_run(strata_chip *chip, uint32_t *gen) {
  await_ctx w = {chip, gen, 0};
  strata__event_wait_until(&chip->start_ev, run_or_exit, &w, UINT64_MAX,
                           PARK_SLICE_MS * STRATA_NS_PER_MS);
  return w.run;
}

void strata__thread_parked(strata_chip *chip) {
  fetch_add(&chip->parked, 1); /* pairs with wait_parked's acquire */
  strata__event_signal(&chip->host_ev);
}

/* counted: a scheduler or the orchestrator, which park after each run */
static int start_one(strata_chip *chip, pthread_t *t, int *started, void *(*fn)(void *),
                     void *arg, const char *fmt, uint32_t i, int counted) {
  char name[32];
  snprintf(name, sizeof(name), fmt, i);
  int rc = strata__thread_start(t, fn, arg, name);
  *started = rc == 0;
  chip->nthreads += rc == 0 && counted;
  return rc;
}

/* Once per chip, at its first run: every thread parks at once (gen 0). */
static int start_threads(strata_chip *chip) {
  if (chip->threads_started) return chip->threads_rc; /* a failed start stays failed */
  int rc = 0;
  for (uint32_t i = 0; i < chip->ncores && rc == 0; i++)
    rc = start_one(chip, &chip->cores[i].thread, &chip->cores[i].started, strata__core_main,
                   &chip->cores[i], "strata-core%u", i, 0);
  for (uint32_t s = 0; s < chip->cfg.sched_threads && rc == 0; s++)
    rc = start_one(chip, &chip->scheds[s].thread, &chip->scheds[s].started, strata__sched_main,
                   &chip->scheds[s], "strata-sched%u", s, 1);
  if (rc == 0)
    rc = start_one(chip, &chip->orch_thread, &chip->orch_started, strata__orch_main, chip,
                   "strata-orch%u", 0, 1);
  chip->threads_started = 1; /* even partly: destroy joins the ones that exist */
  chip->threads_rc = rc;
  return rc;
}

static void start_run(strata_chip *chip) {
  WRITE_ONCE(chip->parked, 0);
  store_release(&chip->run_gen, READ_ONCE(chip->run_gen) + 1); /* pairs with await_run */
  strata__event_signal(&chip->start_ev);
}

static int cores_idle(strata_chip *chip) {
  for (uint32_t i = 0; i < chip->ncores; i++) /* pairs with the core's store_release(DONE) */
    if (load_acquire(&chip->cores[i].reg_state) == STRATA_REG_ASSIGNED) return 0;
  return 1;
}

/* Schedulers and orchestrator parked again and no core still runs a kernel,
 * within join_grace_ms; else the chip is wedged (a kernel ignoring
 * cancellation still runs). */
static int all_parked(void *arg) {
  strata_chip *chip = arg;
  return load_acquire(&chip->parked) == chip->nthreads && cores_idle(chip); /* pairs with */
}                                                                            /* thread_parked */

static void wait_parked(strata_chip *chip) {
  if (strata__event_wait_until(&chip->host_ev, all_parked, chip,
                               strata__deadline_ms(chip->cfg.join_grace_ms), 0) != 0)
    chip->wedged = 1;
}

int strata__threads_exit(strata_chip *chip) {
  if (!chip->threads_started) return 0;
  store_release(&chip->exiting, 1); /* pairs with await_run's acquire */
  strata__wake_all(chip);
  strata__event_signal(&chip->start_ev);
  uint64_t deadline = strata__deadline_ms(chip->cfg.join_grace_ms);
  int rc = 0;
  for (uint32_t i = 0; i < chip->ncores; i++)
    if (chip->cores[i].started) rc |= strata__thread_join(chip->cores[i].thread, deadline);
  for (uint32_t s = 0; s < chip->cfg.sched_threads; s++)
    if (chip->scheds[s].started) rc |= strata__thread_join(chip->scheds[s].thread, deadline);
  if (chip->orch_started) rc |= strata__thread_join(chip->orch_thread, deadline);
  return rc ? STRATA_ETIMEDOUT : 0;
}

static int run_finished(void *arg) {
  strata_chip *chip = arg;
  return strata__run_cancelled(chip) ||
         (READ_ONCE(chip->hdr.orch_done) &&
          READ_ONCE(chip->completed) == READ_ONCE(chip->submitted));
}

/* Stream sync: wait for the run, at most stream_sync_timeout_ms. */
static int stream_sync(strata_chip *chip) {
  return strata__event_wait_until(&chip->host_ev, run_finished, chip,
                                  strata__deadline_ms(chip->cfg.stream_sync_timeout_ms),
                                  100 * STRATA_NS_PER_MS);
}

static void stop_run(strata_chip *chip) {
  WRITE_ONCE(chip->hdr.stop, 1);
  smp_mb(); /* pairs with smp_mb in run_assigned: stop vs a core's DONE */
  strata__wake_scheds(chip); /* a cancelled run already woke the cores */
  wait_parked(chip);
}

static int status_of(strata_chip *chip, int sync_timeout, int launch_rc, char *msg, size_t len) {
  const strata__run_hdr *h = &chip->hdr;
  int oc = READ_ONCE(h->orch_error_code), sc = READ_ONCE(h->sched_error_code);
  int rc = 0;
  if (oc) {
    rc = -(STRATA_CHIP_CODE_BASE + oc);
    snprintf(msg, len, "%s", h->orch_msg);
  } else if (sc) {
    rc = -(STRATA_CHIP_CODE_BASE + sc);
    snprintf(msg, len, "%s", h->sched_msg);
  } else if (sync_timeout) {
    rc = STRATA_STREAM_SYNC_TIMEOUT;
  } else if (launch_rc) {
    rc = launch_rc;
    snprintf(msg, len, "%s", strata_last_error());
  } else if (READ_ONCE(h->task_error)) {
    rc = STRATA_TASK_FAILED;
    snprintf(msg, len, "%s", h->task_msg);
  }
  if (chip->wedged && rc == 0) rc = STRATA_CHIP_WEDGED;
  return rc;
}

static void sync_timeout_msg(strata_chip *chip, char *msg, size_t len) {
  char dump[384];
  strata__dump_blocking(chip, dump, sizeof(dump));
  snprintf(msg, len, "stream sync: the run did not finish within %u ms "
           "(STREAM_SYNC_TIMEOUT_MS; %llu of %llu tasks done) and was cancelled; "
           "raise the budget or look for a slow peer. %s",
           chip->cfg.stream_sync_timeout_ms, (unsigned long long)READ_ONCE(chip->completed),
           (unsigned long long)READ_ONCE(chip->submitted), dump);
}

static void fill_info(strata_chip *chip, strata_run_info *info, int rc, uint64_t t0) {
  const strata__run_hdr *h = &chip->hdr;
  info->status = rc;
  info->orch_code = READ_ONCE(h->orch_error_code);
  info->sched_code = READ_ONCE(h->sched_error_code);
  info->raw_status = info->orch_code ? -info->orch_code : -info->sched_code;
  info->sched_thread = READ_ONCE(h->sched_error_thread);
  info->report_bitmap = READ_ONCE(h->report_bitmap);
  info->tasks_submitted = READ_ONCE(chip->submitted);
  info->tasks_completed = READ_ONCE(chip->completed);
  info->tasks_failed = READ_ONCE(chip->failed);
  info->tasks_poisoned = READ_ONCE(chip->poisoned);
  info->stall_reports = READ_ONCE(chip->stall_reports);
  info->elapsed_ns = strata__now_ns() - t0;
  info->hang_class = h->hang_class;
  info->stuck_task = h->stuck_task;
  info->stuck_core = h->stuck_core;
  info->stuck_ms = h->stuck_ms;
  if (h->stuck_task)
    snprintf(info->stuck_kernel, sizeof(info->stuck_kernel), "%s",
             strata__kernel_name(chip, h->stuck_kernel));
}

static const char *kernel_namer(void *ctx, uint32_t k) {
  return strata__kernel_name(ctx, k);
}

/* The records of the previous run become JSON lines: before the next run
 * and at destroy, so a run's own time excludes writing its trace. */
void strata__chip_trace_flush(strata_chip *chip) {
  if (!chip->trace_pending) return;
  chip->trace_pending = 0;
  strata__trace_flush("chip", kernel_namer, chip); /* every run thread is joined */
}

static int run_checks(strata_chip *chip, strata_orch_fn orch) {
  if (!chip || !orch)
    return strata__fail(STRATA_EINVAL, "chip_run: chip and orch must be non-NULL (create "
                        "the chip with strata_chip_create, pass an orchestration function)");
  if (chip->in_run) return strata__fail(STRATA_EBUSY, "chip_run: a run is already in progress");
  if (chip->wedged)
    return strata__fail(STRATA_CHIP_WEDGED, "chip_run: a kernel of an earlier run never "
                        "returned after cancellation; destroy this chip and create a new one");
  return 0;
}

int strata_chip_run(strata_chip *chip, strata_orch_fn orch, void *args, strata_run_info *info) {
  strata_run_info local;
  if (!info) info = &local;
  memset(info, 0, sizeof(*info));
  int rc = run_checks(chip, orch);
  if (rc) return info->status = rc;
  strata__chip_trace_flush(chip);
  uint64_t t0 = strata__now_ns();
  chip->in_run = 1;
  chip->orch_fn = orch;
  chip->orch_args = args;
  reset_run(chip);
  reset_threads(chip);
  int launch_rc = start_threads(chip);
  if (launch_rc == 0) start_run(chip);
  int timed_out = launch_rc == 0 && stream_sync(chip) != 0;
  if (timed_out) sync_timeout_msg(chip, info->message, sizeof(info->message));
  if (timed_out) strata__trace_instant("stream-sync timeout", info->message, 0, STRATA_TT_ORCH);
  if (timed_out || launch_rc) WRITE_ONCE(chip->hdr.cancel, 1);
  if (launch_rc == 0) stop_run(chip);
  rc = status_of(chip, timed_out, launch_rc, info->message, sizeof(info->message));
  if (rc == STRATA_CHIP_WEDGED)
    snprintf(info->message, sizeof(info->message), "a thread did not stop within %u ms "
             "of cancellation (a kernel ignoring strata_kernel_cancelled?); the chip is "
             "unusable", chip->cfg.join_grace_ms);
  fill_info(chip, info, rc, t0);
  chip->trace_pending = strata__trace_on(1); /* flushed outside the timed run */
  chip->in_run = 0;
  if (rc) strata__fail(rc, "%s", info->message);
  return rc;
}
