/* loop.c - the event loop of a level worker (SPEC §3, STYLE 13). One pass:
 *   1. harvest: replies of tasks and controls, INIT_DONE of late children;
 *   2. reap:    deaths reported by the watcher thread (process.c);
 *   3. expire:  requests past their deadline; a stopped child is named as
 *               the culprit and killed, the healthy child waiting for it is
 *               not blamed;
 *   4. send:    queued controls, then READY tasks (groups all-or-nothing,
 *               directed tasks to their child, sub tasks to any idle sub).
 * Blocking calls queue a request and call strata__loop_until(); the phases
 * only post, read and update state: nothing called from a phase waits or
 * runs the loop again.
 */
#include <signal.h>
#include <sys/wait.h>
#include <stdio.h>
#include <time.h>
#include <string.h>

#include "level/level_int.h"

/* A control's name in messages: an extension's operation by its extension. */
static const char *ctl_label(const strata__ctl *q) {
  if (q->ext && q->ext->op_name) return q->ext->op_name(q->ext_op);
  return strata__ctl_name(q->ctl);
}

/* ---- completing requests ---------------------------------------------------------- */
static void ctl_finish(strata_node *n, uint32_t c, strata__ctl *q, int status, const char *msg) {
  char name[160];
  q->status = status;
  if (status)
    snprintf(q->msg, sizeof(q->msg), "%s: %s failed: %s", strata__child_name(n, c, name, sizeof(name)),
             ctl_label(q), msg[0] ? msg : strata_strerror(status));
  q->done = 1;
  if (q->cb) q->cb(n, q->cb_ctx, status);
  if (q->owned) strata__free(q);
}

static void task_finish(strata_node *n, uint32_t c, int status, const char *msg) {
  strata__child *ch = &n->child[c];
  char name[160], full[640];
  strata__ltask *t = ch->task;
  ch->busy = BUSY_NONE;
  ch->task = NULL;
  snprintf(full, sizeof(full), "%s: %s", strata__child_name(n, c, name, sizeof(name)),
           msg[0] ? msg : strata_strerror(status));
  strata__task_member_done(n, t, status, status ? full : "");
}

/* ---- 1. harvest -------------------------------------------------------------------- */
static void init_reply(strata_node *n, uint32_t c, uint32_t st) {
  strata__child *ch = &n->child[c];
  if (st == STRATA_MB_INIT_DONE) {
    strata__read_init(n, c);
    ch->ready = 1;
  } else if (st == STRATA_MB_INIT_FAILED && !ch->init_failed) {
    ch->init_failed = 1;
    ch->killed_for = KILL_DEADLINE;
    strata__child_kill(n, c); /* its queued work fails once it is reaped */
  }
}

static void harvest(strata_node *n, uint32_t c) {
  strata__child *ch = &n->child[c];
  uint32_t st = strata__read_state(n, c);
  char msg[256];
  if (!ch->ready) {
    init_reply(n, c, st);
  } else if (ch->busy == BUSY_TASK && st == STRATA_MB_TASK_DONE) {
    int rc = strata__read_task(n, c, msg, sizeof(msg));
    task_finish(n, c, rc, msg);
    n->run.last_progress_ns = strata__now_ns();
  } else if (ch->busy == BUSY_CTL && st == STRATA_MB_CONTROL_DONE) {
    strata__ctl *q = ch->ctl;
    ch->busy = BUSY_NONE;
    ch->ctl = NULL;
    strata__read_control(n, c, q);
    snprintf(msg, sizeof(msg), "%s", q->msg);
    ctl_finish(n, c, q, q->status, msg);
  }
}

/* ---- 2. reap ------------------------------------------------------------------------- */
static void fail_queue(strata_node *n, strata__tqueue *q, int status, const char *msg) {
  strata__ltask *t;
  while ((t = strata__tq_pop(q))) strata__task_fail_all(n, t, status, msg);
}

static int subs_alive(const strata_node *n) {
  for (uint32_t c = 0; c < n->nchildren; c++)
    if (n->child[c].kind == STRATA_CHILD_SUB && n->child[c].alive) return 1;
  return 0;
}

/* The first loss, kept for calls after the run (strata__broken_fail). */
static void note_lost(strata_node *n, uint32_t c, const char *msg) {
  char name[160];
  uint64_t now = strata__now_ns(), died = READ_ONCE(n->child[c].died_ns); /* after reap's acquire */
  struct tm tm;
  if (n->broken) return;
  n->broken = 1;
  n->lost_ns = died && died <= now ? died : now;
  time_t at = time(NULL) - (time_t)((now - n->lost_ns) / 1000000000ull);
  snprintf(n->lost_msg, sizeof(n->lost_msg), "%s %s", strata__child_name(n, c, name, sizeof(name)),
           msg);
  if (localtime_r(&at, &tm)) strftime(n->lost_at, sizeof(n->lost_at), "%H:%M:%S", &tm);
}

int strata__broken_fail(const strata_node *n, const char *what) {
  uint64_t ago = (strata__now_ns() - n->lost_ns) / STRATA_NS_PER_MS;
  return strata__fail(STRATA_ENDPOINT_FAILURE, "%s: the worker lost a child earlier: %s, %llu.%03llu "
                      "s ago (at %s); close the worker and create a new one", what, n->lost_msg,
                      (unsigned long long)(ago / 1000), (unsigned long long)(ago % 1000),
                      n->lost_at);
}

void strata__child_lost(strata_node *n, uint32_t c, int status, const char *msg) {
  strata__child *ch = &n->child[c];
  note_lost(n, c, msg);
  if (n->run.active && ch->busy != BUSY_TASK) { /* idle, but the run's tree is broken */
    char full[640], name[160];
    snprintf(full, sizeof(full), "%s: %s", strata__child_name(n, c, name, sizeof(name)), msg);
    strata__run_error(n, status, full);
  }
  if (ch->busy == BUSY_TASK) task_finish(n, c, status, msg);
  if (ch->busy == BUSY_CTL) ctl_finish(n, c, ch->ctl, status, msg);
  ch->busy = BUSY_NONE;
  ch->ctl = NULL;
  for (strata__ctl *q = ch->ctl_head, *next; q; q = next) {
    next = q->next;
    ctl_finish(n, c, q, status, msg);
  }
  ch->ctl_head = ch->ctl_tail = NULL;
  char full[640], name[160];
  snprintf(full, sizeof(full), "%s: %s", strata__child_name(n, c, name, sizeof(name)), msg);
  fail_queue(n, &ch->rq, STRATA_ENDPOINT_FAILURE, full);
  if (!subs_alive(n)) fail_queue(n, &n->run.subs, STRATA_ENDPOINT_FAILURE, full);
}

static void lost_msg(strata_node *n, uint32_t c, int *status, char *msg, size_t len) {
  strata__child *ch = &n->child[c];
  char ctl[48];
  snprintf(ctl, sizeof(ctl), "control %s", ch->ctl ? ctl_label(ch->ctl) : "?");
  const char *during = ch->busy == BUSY_TASK ? "a task" : ch->busy == BUSY_CTL ? ctl
                       : ch->ready ? "idle time" : "init";
  *status = STRATA_ENDPOINT_FAILURE;
  if (ch->killed_for == KILL_DEADLINE && !ch->ready && !ch->init_failed) {
    *status = STRATA_ETIMEDOUT;
    snprintf(msg, len, "was not ready within the %u ms startup deadline and was killed; raise "
             "STRATA_NODE_STARTUP_TIMEOUT_MS for slow inits", n->cfg.startup_timeout_ms);
  } else if (ch->killed_for == KILL_DEADLINE && !ch->init_failed) {
    *status = STRATA_ETIMEDOUT;
    snprintf(msg, len, "did not finish %s within %u ms and was killed; raise "
             "STRATA_NODE_TASK_TIMEOUT_MS if it is just slow", during, n->cfg.task_timeout_ms);
  } else if (ch->init_failed) {
    *status = STRATA_CHILD_INIT_FAILED;
    snprintf(msg, len, "failed to initialise: %s", strata__mbox(n, c)->errmsg);
  } else if (ch->killed_for == KILL_STOPPED) {
    *status = STRATA_ETIMEDOUT;
    snprintf(msg, len, "was stopped (SIGSTOP?) past the %u ms deadline and was killed",
             n->cfg.task_timeout_ms);
  } else if (ch->remote) {
    snprintf(msg, len, "%s", ch->remote_msg);
  } else {
    char full[384];
    strata__child_died_msg(n, c, during, full, sizeof(full));
    snprintf(msg, len, "%s", strchr(full, ')') ? strchr(full, ')') + 2 : full);
  }
}

static void reap(strata_node *n) {
  if (!load_acquire(&n->deaths)) return; /* pairs with report_death's release */
  strata__reap(n);
  for (uint32_t c = 0; c < n->nchildren; c++) {
    strata__child *ch = &n->child[c];
    if (ch->alive || (ch->pid == 0 && !ch->remote) || ch->lost) continue;
    char msg[384];
    int status;
    lost_msg(n, c, &status, msg, sizeof(msg));
    ch->lost = 1;
    strata__child_lost(n, c, status, msg);
  }
}

/* ---- 3. deadlines ------------------------------------------------------------------------ */
static uint64_t child_deadline(const strata_node *n, const strata__child *ch) {
  if (!ch->alive) return UINT64_MAX;
  if (!ch->ready) return n->init_deadline;
  if (ch->busy == BUSY_NONE) return UINT64_MAX;
  return ch->start_ns + (uint64_t)n->cfg.task_timeout_ms * STRATA_NS_PER_MS;
}

/* A child whose process is stopped: its /proc state here, or what its
 * transport learned on the rank that hosts it. */
static int child_is_stopped(const strata_node *n, uint32_t c) {
  const strata__child *ch = &n->child[c];
  if (!ch->remote) return strata__child_stopped(ch);
  return n->rops->stopped && n->rops->stopped(n->rctx, c);
}

/* Kill every stopped child, naming it as the culprit; returns how many. */
static int kill_stopped(strata_node *n, uint32_t waiter) {
  char name[160], wname[160], msg[640];
  int k = 0;
  for (uint32_t c = 0; c < n->nchildren; c++) {
    strata__child *ch = &n->child[c];
    if (!ch->alive || !child_is_stopped(n, c)) continue;
    ch->killed_for = KILL_STOPPED;
    strata__child_kill(n, c);
    snprintf(msg, sizeof(msg), "%s is stopped (SIGSTOP?) and made no progress for %u ms%s%s; "
             "it was killed: send SIGCONT sooner or raise STRATA_NODE_TASK_TIMEOUT_MS",
             strata__child_name(n, c, name, sizeof(name)), n->cfg.task_timeout_ms,
             c == waiter ? "" : "; waiting for it: ",
             c == waiter ? "" : strata__child_name(n, waiter, wname, sizeof(wname)));
    strata__run_error(n, STRATA_ETIMEDOUT, msg);
    strata__trace_instant("stopped child killed", msg, 0, STRATA_TT_LEVEL);
    k++;
  }
  return k;
}

static void expire(strata_node *n, uint64_t now) {
  for (uint32_t c = 0; c < n->nchildren; c++) {
    strata__child *ch = &n->child[c];
    if (now < child_deadline(n, ch) || ch->killed_for) continue;
    if (kill_stopped(n, c) && !child_is_stopped(n, c)) {
      ch->start_ns = now; /* healthy: its wait fails once the culprit is gone */
      continue;
    }
    if (ch->killed_for) continue;
    ch->killed_for = KILL_DEADLINE;
    strata__child_kill(n, c); /* failed as timed out once reaped */
    strata__trace_instant("deadline kill", ch->path, 0, STRATA_TT_LEVEL);
  }
}

/* ---- 4. send -------------------------------------------------------------------------------- */
static int can_take(const strata__child *ch) {
  return ch->alive && ch->ready && ch->busy == BUSY_NONE && !ch->killed_for;
}

static void send_task(strata_node *n, uint32_t c, strata__ltask *t, uint32_t member) {
  strata__child *ch = &n->child[c];
  ch->busy = BUSY_TASK;
  ch->task = t;
  ch->member = member;
  ch->start_ns = strata__now_ns();
  if (t->state != STRATA_NT_RUNNING) t->start_ns = ch->start_ns;
  t->state = STRATA_NT_RUNNING;
  strata__post_task(n, c, t, member);
}

/* 1 sendable, 0 wait, -1 a member's child is gone. */
static int group_state(const strata_node *n, const strata__ltask *t) {
  int ok = 1;
  for (uint32_t i = 0; i < t->nmembers; i++) {
    const strata__child *ch = &n->child[t->m[i].target];
    if (!ch->alive || ch->killed_for) return -1;
    ok &= can_take(ch) && !ch->ctl_head;
  }
  return ok;
}

static void send_groups(strata_node *n) {
  strata__ltask *t;
  while ((t = n->run.groups.head)) {
    int s = group_state(n, t);
    if (s == 0) return; /* in order: a later group never overtakes this one */
    strata__tq_pop(&n->run.groups);
    if (s < 0) {
      strata__task_fail_all(n, t, STRATA_ENDPOINT_FAILURE, "a member's child died earlier");
      continue;
    }
    for (uint32_t i = 0; i < t->nmembers; i++) send_task(n, t->m[i].target, t, i);
  }
}

static void send_one(strata_node *n, uint32_t c) {
  strata__child *ch = &n->child[c];
  if (ch->ctl_head) {
    strata__ctl *q = ch->ctl_head;
    ch->ctl_head = q->next;
    if (!ch->ctl_head) ch->ctl_tail = NULL;
    ch->busy = BUSY_CTL;
    ch->ctl = q;
    ch->start_ns = strata__now_ns();
    strata__post_control(n, c, q);
    return;
  }
  strata__ltask *t = strata__tq_pop(ch->kind == STRATA_CHILD_SUB ? &n->run.subs : &ch->rq);
  if (t && ch->kind == STRATA_CHILD_SUB) t->m[0].target = c; /* any idle sub: this one */
  if (t) send_task(n, c, t, 0);
}

static void send(strata_node *n) {
  send_groups(n);
  for (uint32_t c = 0; c < n->nchildren; c++)
    if (can_take(&n->child[c])) send_one(n, c);
}

/* ---- the loop -------------------------------------------------------------------------------- */
static void pass(strata_node *n) {
  for (uint32_t c = 0; c < n->nchildren; c++)
    if (n->child[c].alive) harvest(n, c);
  reap(n);
  expire(n, strata__now_ns());
  send(n);
  if (n->run.active) strata__run_retire(n);
}

void strata__loop_poll(strata_node *n) { pass(n); }

static uint64_t next_wake(const strata_node *n, uint64_t deadline) {
  uint64_t w = deadline;
  for (uint32_t c = 0; c < n->nchildren; c++) {
    uint64_t d = child_deadline(n, &n->child[c]);
    if (d < w && !n->child[c].killed_for) w = d;
  }
  return w;
}

int strata__loop_until(strata_node *n, strata__until_fn until, void *arg, uint64_t deadline,
                       const char *what) {
  for (;;) {
    uint32_t seen = strata__event_read(&n->hdr->parent_ev);
    pass(n);
    if (until(n, arg)) return 0;
    uint64_t now = strata__now_ns();
    if (now >= deadline)
      return strata__fail(STRATA_ETIMEDOUT, "%s%s%s did not complete before its deadline; "
                          "raise STRATA_NODE_TASK_TIMEOUT_MS if the children are just slow",
                          n->path, n->path[0] ? ": " : "", what);
    strata__event_wait(&n->hdr->parent_ev, seen, next_wake(n, deadline));
  }
}

/* ---- controls ------------------------------------------------------------------------------------ */
void strata__ctl_queue(strata_node *n, uint32_t c, strata__ctl *q) {
  strata__child *ch = &n->child[c];
  q->next = NULL;
  q->done = 0;
  if (!ch->alive || ch->init_failed) {
    ctl_finish(n, c, q, STRATA_ENDPOINT_FAILURE, "the child is gone");
    return;
  }
  if (ch->ctl_tail) ch->ctl_tail->next = q;
  else ch->ctl_head = q;
  ch->ctl_tail = q;
}

/* q (on the caller's stack) timed out: take it out of the child's hands. */
static void ctl_abandon(strata_node *n, uint32_t c, strata__ctl *q) {
  strata__child *ch = &n->child[c];
  if (ch->ctl == q) {
    ch->killed_for = KILL_DEADLINE;
    strata__child_kill(n, c);
    ch->busy = BUSY_NONE;
    ch->ctl = NULL;
  }
  strata__ctl **pp = &ch->ctl_head;
  while (*pp && *pp != q) pp = &(*pp)->next;
  if (*pp) *pp = q->next;
  ch->ctl_tail = NULL;
  for (strata__ctl *x = ch->ctl_head; x; x = x->next) ch->ctl_tail = x;
}

static int ctl_done(strata_node *n, void *arg) {
  (void)n;
  return ((strata__ctl *)arg)->done;
}

int strata__ctl_sync(strata_node *n, uint32_t c, strata__ctl *q) {
  char what[64];
  snprintf(what, sizeof(what), "control %s", ctl_label(q));
  strata__ctl_queue(n, c, q);
  /* the child may first finish a task: its deadline, then the control's */
  uint64_t deadline = strata__deadline_ms(n->cfg.task_timeout_ms) +
                      (uint64_t)n->cfg.task_timeout_ms * STRATA_NS_PER_MS + STRATA_NS_PER_MS * 1000;
  int rc = strata__loop_until(n, ctl_done, q, deadline, what);
  if (rc) ctl_abandon(n, c, q);
  if (rc) return rc;
  if (q->status) return strata__fail(q->status, "%s", q->msg);
  return 0;
}
