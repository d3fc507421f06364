/* tasks.c - the tasks of a level run: all-or-nothing submit (directed child
 * tasks, groups, sub tasks), dependencies from the hashed index and explicit
 * deps, ready queues (one per child, one for subs, one for groups),
 * completion, poisoning, the run's first error, and retirement.
 *
 * DESIGN: parent-only, on the thread that runs the orchestration and the
 * loop. A submit first does everything that can fail - validation, window
 * space, edge capacity in each producer, the task itself, index entries -
 * and only then links the task in; a failure leaves the graph as it was and
 * becomes the run's error.
 *
 * Memory is bounded by the window (SPEC §3.1), as the chip's task ring: a
 * task's record holds only its members' arguments (strata__pargs), and
 * finished tasks retire in id order at the end of each loop pass (never
 * inside a completion, which may still walk a task's dependents); the
 * window's slots are indexed by id. A submit that finds the window full
 * runs the loop until the oldest task retires (back-pressure, under the
 * task deadline). A retired task is known by its id only: explicit deps
 * and index entries below the floor are satisfied, or poison their
 * consumer if the task failed (the index's failed set). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "level/level_int.h"

/* ---- queues ------------------------------------------------------------------ */
void strata__tq_push(strata__tqueue *q, strata__ltask *t) {
  t->next = NULL;
  if (q->tail) q->tail->next = t;
  else q->head = t;
  q->tail = t;
}

strata__ltask *strata__tq_pop(strata__tqueue *q) {
  strata__ltask *t = q->head;
  if (t) q->head = t->next;
  if (!q->head) q->tail = NULL;
  return t;
}

/* ---- completion ------------------------------------------------------------------ */
void strata__run_error(strata_node *n, int status, const char *msg) {
  strata__run *r = &n->run;
  if (r->first_error || !status) return;
  r->first_error = status;
  snprintf(r->first_msg, sizeof(r->first_msg), "%s", msg);
}

static strata__ltask **slot(strata__run *r, uint64_t id) {
  return &r->tasks[(id - 1) & (r->window - 1)];
}

static void task_free(strata__ltask *t) {
  for (uint32_t i = 0; t->m && i < t->nmembers; i++) strata__free(t->m[i].args);
  strata__free(t->m);
  strata__free(t->dependents);
  strata__free(t->msg);
  strata__free(t);
}

/* Finished tasks leave the window in id order; a failed one's id is kept
 * (its late consumers are poisoned). Called between loop phases only. */
void strata__run_retire(strata_node *n) {
  strata__run *r = &n->run;
  while (r->tasks && r->floor <= r->ntasks) {
    strata__ltask *t = *slot(r, r->floor);
    if (t->state < STRATA_NT_DONE) break;
    if (t->state == STRATA_NT_FAILED && strata__deps_note_failed(&r->deps, t->id) != 0)
      break; /* no memory to remember it: keep the task until there is */
    *slot(r, r->floor) = NULL;
    task_free(t);
    strata__deps_retire(&r->deps, ++r->floor);
  }
}

static void make_ready(strata_node *n, strata__ltask *t) {
  strata__run *r = &n->run;
  t->state = STRATA_NT_READY;
  if (t->kind == STRATA_LT_SUB) strata__tq_push(&r->subs, t);
  else if (t->kind == STRATA_LT_GROUP) strata__tq_push(&r->groups, t);
  else strata__tq_push(&n->child[t->m[0].target].rq, t);
}

static void complete(strata_node *n, strata__ltask *t, int status, const char *msg);

static void release_dependents(strata_node *n, strata__ltask *t) {
  for (size_t i = 0; i < t->ndependents; i++) {
    strata__ltask *d = t->dependents[i];
    if (t->state == STRATA_NT_FAILED) d->poisoned = 1;
    if (--d->npending > 0) continue;
    if (d->poisoned) complete(n, d, STRATA_TASK_POISONED, "skipped: a task it depends on failed");
    else make_ready(n, d);
  }
}

/* A level task as a complete event on its child's track; the name is
 * (function kind << 16 | id), resolved by the run's flush. */
static void trace_span(const strata_node *n, const strata__ltask *t) {
  uint32_t kind = t->kind == STRATA_LT_SUB ? STRATA_FN_SUB
                  : n->cfg.level == 3      ? STRATA_FN_ORCH
                                           : STRATA_FN_LEVEL_ORCH;
  uint64_t t0 = t->start_ns ? t->start_ns : strata__now_ns();
  strata__tev e = {t0, strata__now_ns() - t0, t->id, 0, STRATA_TEV_SPAN,
                   STRATA_TT_CHILD + t->m[0].target, (kind << 16) | t->m[0].fn, t->m[0].target, 0};
  strata__trace_record(&e);
}

static void complete(strata_node *n, strata__ltask *t, int status, const char *msg) {
  strata__run *r = &n->run;
  if (strata__trace_on(1)) trace_span(n, t);
  t->status = status;
  t->state = status ? STRATA_NT_FAILED : STRATA_NT_DONE;
  r->completed++;
  r->last_progress_ns = strata__now_ns();
  for (uint32_t d = 0; d <= t->depth; d++) r->scopes[d].open--;
  if (status == STRATA_TASK_POISONED) r->poisoned++;
  else if (status) r->failed++;
  if (status && status != STRATA_TASK_POISONED && !r->first_error) {
    char m[640];
    snprintf(m, sizeof(m), "%s task #%llu: %s", n->path[0] ? n->path : "level",
             (unsigned long long)t->id, msg);
    strata__run_error(n, status, m);
  }
  release_dependents(n, t);
}

void strata__task_member_done(strata_node *n, strata__ltask *t, int status, const char *msg) {
  if (status && !t->status) {
    t->status = status;
    strata__free(t->msg);
    size_t len = strlen(msg) + 1;
    t->msg = strata__calloc(1, len);
    if (t->msg) memcpy(t->msg, msg, len);
  }
  if (++t->ndone == t->nmembers) complete(n, t, t->status, t->msg ? t->msg : "failed");
}

void strata__task_fail_all(strata_node *n, strata__ltask *t, int status, const char *msg) {
  t->state = STRATA_NT_RUNNING;
  while (t->ndone < t->nmembers) strata__task_member_done(n, t, status, msg);
}

/* ---- submit -------------------------------------------------------------------- */
static int bad(strata_node *n, int status, const char *what) {
  char m[640];
  snprintf(m, sizeof(m), "%s submit rejected: %s", n->path[0] ? n->path : "level", what);
  strata__run_error(n, status, m); /* a rejected submit is the run's error too */
  return strata__fail(status, "%s", m);
}

static int check_args(strata_node *n, const strata_args *a) {
  if (!a || a->error) return bad(n, STRATA_INVALID_ARGS, "missing or overflowing args");
  uintptr_t lo = (uintptr_t)n->tree_mem, hi = lo + n->tree_bytes; /* valid in every process */
  for (uint32_t i = 0; i < a->ntensors; i++) {
    uintptr_t d = (uintptr_t)a->tensors[i].data;
    if (a->tags[i] == STRATA_OUTPUT)
      return bad(n, STRATA_INVALID_ARGS, "a tensor is OUTPUT; allocate it with "
                 "strata_node_orch_alloc and pass OUTPUT_EXISTING");
    if (!d && a->tags[i] == STRATA_NO_DEP && !a->tensors[i].bytes) continue; /* a stand-in */
    if (d < lo || d + a->tensors[i].bytes > hi)
      return bad(n, STRATA_INVALID_ARGS, "a tensor is not in the tree's device memory; "
                 "allocate it with strata_node_malloc/orch_alloc");
  }
  return 0;
}

/* Producers of the new task into run->scratch (deduplicated by mark). */
static int collect(strata_node *n, const strata_node_member *m, uint32_t nm) {
  strata__run *r = &n->run;
  r->nscratch = 0;
  r->poison_new = 0;
  r->mark++;
  for (uint32_t i = 0; i < nm; i++) {
    const strata_args *a = m[i].args;
    for (uint32_t k = 0; k < a->ntensors; k++) {
      if (a->tags[k] == STRATA_NO_DEP) continue;
      if (strata__deps_lookup(&r->deps, &a->tensors[k], a->tags[k] != STRATA_INPUT, r->mark,
                              &r->scratch, &r->nscratch, &r->cap_scratch, &r->poison_new))
        return STRATA_ENOMEM;
    }
    for (uint32_t k = 0; k < a->ndeps; k++) {
      uint64_t id = a->deps[k].id;
      if (id == 0 || id > r->ntasks) return STRATA_INVALID_ARGS;
      if (id < r->floor) { /* retired: done, or failed */
        r->poison_new |= strata__deps_failed(&r->deps, id);
        continue;
      }
      strata__ltask *p = *slot(r, id);
      if (p->mark == r->mark) continue;
      if (strata__array_grow(&r->scratch, &r->cap_scratch, r->nscratch, sizeof(*r->scratch), 16))
        return STRATA_ENOMEM;
      p->mark = r->mark;
      r->scratch[r->nscratch++] = p;
    }
  }
  return 0;
}

/* Capacity for one more dependent in every unfinished producer. */
static int reserve_edges(strata_node *n) {
  strata__run *r = &n->run;
  for (size_t i = 0; i < r->nscratch; i++) {
    strata__ltask *p = r->scratch[i];
    if (p->state >= STRATA_NT_DONE) continue;
    if (strata__array_grow(&p->dependents, &p->cap_dependents, p->ndependents,
                           sizeof(*p->dependents), 4))
      return STRATA_ENOMEM;
  }
  return 0;
}

static uint32_t ntensors(const strata_node_member *m, uint32_t nm) {
  uint32_t k = 0;
  for (uint32_t i = 0; i < nm; i++) k += m[i].args->ntensors;
  return k;
}

/* Each member gets a record of its own arguments, sized to them. */
static strata__ltask *new_task(strata_node *n, const strata_node_member *m, uint32_t nm) {
  strata__run *r = &n->run;
  strata__ltask *t = strata__calloc(1, sizeof(*t));
  int ok = t && (t->m = strata__calloc(nm, sizeof(strata__lmember))) != NULL;
  for (uint32_t i = 0; ok && i < nm; i++) {
    t->m[i] = (strata__lmember){m[i].chip, m[i].orch, strata__pargs_new(m[i].args)};
    t->nmembers = i + 1;
    ok = t->m[i].args != NULL;
  }
  if (!ok || strata__deps_reserve(&r->deps, ntensors(m, nm))) {
    if (t) task_free(t);
    return NULL;
  }
  return t;
}

/* ---- the window: back-pressure ---------------------------------------------------- */
static int window_has_room(strata_node *n, void *arg) {
  (void)arg;
  return n->run.ntasks - n->run.floor + 1 < n->run.window;
}

/* Run the loop until the oldest task retires, under the task deadline. */
static int window_wait(strata_node *n) {
  if (window_has_room(n, NULL)) return 0;
  uint64_t oldest = n->run.floor;
  uint64_t deadline = strata__deadline_ms(n->cfg.task_timeout_ms);
  if (strata__loop_until(n, window_has_room, NULL, deadline, "the task window") == 0) return 0;
  char what[320];
  snprintf(what, sizeof(what), "the task window of %u tasks is full and task #%llu did not "
           "finish within %u ms (STRATA_NODE_TASK_TIMEOUT_MS); raise STRATA_NODE_TASK_WINDOW "
           "(task_window) or submit fewer tasks ahead of the ones they wait for",
           n->run.window, (unsigned long long)oldest, n->cfg.task_timeout_ms);
  return bad(n, STRATA_ETIMEDOUT, what);
}

/* Cannot fail: everything was reserved. */
static void link_task(strata_node *n, strata__ltask *t) {
  strata__run *r = &n->run;
  t->id = ++r->ntasks;
  *slot(r, t->id) = t;
  t->poisoned = (uint8_t)r->poison_new;
  t->depth = (uint8_t)r->depth;
  for (uint32_t d = 0; d <= r->depth; d++) r->scopes[d].open++;
  for (size_t i = 0; i < r->nscratch; i++) {
    strata__ltask *p = r->scratch[i];
    if (strata__trace_on(3)) {
      strata__tev e = {strata__now_ns(), 0, t->id, p->id, STRATA_TEV_EDGE, STRATA_TT_LEVEL, 0, 1, 0};
      strata__trace_record(&e);
    }
    if (p->state == STRATA_NT_FAILED) t->poisoned = 1;
    if (p->state >= STRATA_NT_DONE) continue;
    p->dependents[p->ndependents++] = t;
    t->npending++;
  }
  for (uint32_t i = 0; i < t->nmembers; i++) {
    const strata__pargs *a = t->m[i].args;
    const uint8_t *tags = strata__pargs_tags(a);
    for (uint32_t k = 0; k < a->ntensors; k++)
      if (tags[k] != STRATA_NO_DEP)
        strata__deps_record(&r->deps, &strata__pargs_tensors(a)[k], tags[k] != STRATA_INPUT, t);
  }
  if (t->npending == 0 && t->poisoned)
    complete(n, t, STRATA_TASK_POISONED, "skipped: a task it depends on failed");
  else if (t->npending == 0)
    make_ready(n, t);
}

static int submit(strata_node *n, uint8_t kind, const strata_node_member *m, uint32_t nm,
                  strata_task_ref *out) {
  if (n->broken) /* the message names the child; bad() copies it before failing */
    return strata__broken_fail(n, "submit"), bad(n, STRATA_ENDPOINT_FAILURE, strata_last_error());
  int rc = window_wait(n);
  if (rc) return rc;
  rc = collect(n, m, nm);
  if (rc == STRATA_INVALID_ARGS)
    return bad(n, rc, "an explicit dependency is not a task of this run");
  if (rc == 0) rc = reserve_edges(n);
  strata__ltask *t = rc == 0 ? new_task(n, m, nm) : NULL;
  if (!t) return bad(n, STRATA_ENOMEM, "out of memory for the task or its dependencies; "
                     "the graph is unchanged");
  t->kind = kind;
  link_task(n, t);
  if (out) out->id = t->id;
  strata__loop_poll(n); /* start it now if its child is idle */
  return 0;
}

/* ---- the public submit calls ------------------------------------------------------ */
int strata__orch_check(strata_node_orch *o) {
  if (!o || !o->node || !o->node->run.active)
    return strata__fail(STRATA_EINVAL, "call it from a level orchestration run by "
                        "strata_node_run (orch handle is NULL or stale)");
  return 0;
}

/* The kind of function a child runs, and whether child c can run it. */
static int check_member(strata_node *n, const strata_node_member *m) {
  if (!m->args) return bad(n, STRATA_INVALID_ARGS, "a member has no args");
  int l3 = n->cfg.level == 3; /* above, cfg.chips only describes the L3s below */
  uint32_t nchild = l3 ? n->cfg.chips : n->cfg.workers;
  uint32_t kind = l3 ? STRATA_FN_ORCH : STRATA_FN_LEVEL_ORCH;
  char what[160];
  if (m->chip >= nchild) {
    snprintf(what, sizeof(what), "child %u does not exist (%u %s children)", m->chip, nchild,
             l3 ? "chip" : "worker");
    return bad(n, STRATA_INVALID_ARGS, what);
  }
  if (m->orch >= n->reg.n[kind]) {
    snprintf(what, sizeof(what), "%s %u is not registered", kind == STRATA_FN_ORCH ?
             "chip orchestration" : "level orchestration", m->orch);
    return bad(n, STRATA_INVALID_ARGS, what);
  }
  return check_args(n, m->args);
}

int strata_node_submit_group(strata_node_orch *o, const strata_node_member *m, uint32_t nm,
                             strata_task_ref *out) {
  int rc = strata__orch_check(o);
  if (rc) return rc;
  strata_node *n = o->node;
  if (!m || nm == 0 || nm > STRATA_NODE_MAX_GROUP)
    return bad(n, STRATA_INVALID_ARGS, "a group needs 1..16 members (STRATA_NODE_MAX_GROUP)");
  for (uint32_t i = 0; i < nm; i++) {
    rc = check_member(n, &m[i]);
    for (uint32_t k = 0; rc == 0 && k < i; k++)
      if (m[k].chip == m[i].chip) rc = bad(n, STRATA_INVALID_ARGS, "a child is named twice in a group");
    if (rc) return rc;
  }
  return submit(n, nm == 1 ? STRATA_LT_CHILD : STRATA_LT_GROUP, m, nm, out);
}

int strata_node_submit_child(strata_node_orch *o, uint32_t child, uint32_t fn,
                             const strata_args *a, strata_task_ref *out) {
  strata_node_member m = {child, fn, a};
  return strata_node_submit_group(o, &m, 1, out);
}

int strata_node_submit_chip(strata_node_orch *o, uint32_t chip, uint32_t orch,
                            const strata_args *a, strata_task_ref *out) {
  return strata_node_submit_child(o, chip, orch, a, out);
}

int strata_node_submit_sub(strata_node_orch *o, uint32_t fn, const strata_args *a,
                           strata_task_ref *out) {
  int rc = strata__orch_check(o);
  if (rc) return rc;
  strata_node *n = o->node;
  if (n->cfg.subs == 0) return bad(n, STRATA_INVALID_ARGS, "the worker has no sub children");
  if (fn >= n->reg.n[STRATA_FN_SUB]) return bad(n, STRATA_INVALID_ARGS, "sub function not registered");
  rc = check_args(n, a);
  strata_node_member m = {0, fn, a};
  return rc ? rc : submit(n, STRATA_LT_SUB, &m, 1, out);
}

strata_node *strata_node_orch_node(strata_node_orch *o) { return o ? o->node : NULL; }

int strata_node_orch_fatal(strata_node_orch *o, const char *fmt, ...) {
  int rc = strata__orch_check(o);
  if (rc) return rc;
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt ? fmt : "(no message)", ap);
  va_end(ap);
  strata__run_error(o->node, STRATA_EXPLICIT_ORCH_FATAL, msg);
  return strata__fail(STRATA_EXPLICIT_ORCH_FATAL, "%s", msg);
}

/* ---- end of a run --------------------------------------------------------------------- */
void strata__run_free(strata_node *n) {
  strata__run *r = &n->run;
  for (uint64_t id = r->floor; r->tasks && id <= r->ntasks; id++) task_free(*slot(r, id));
  strata__free(r->tasks);
  strata__free(r->scratch);
  strata__deps_destroy(&r->deps);
  for (uint32_t d = 0; d <= STRATA_MAX_SCOPE_DEPTH; d++) strata__free(r->scopes[d].bufs);
  memset(r, 0, sizeof(*r));
  for (uint32_t c = 0; c < n->nchildren; c++) n->child[c].rq = (strata__tqueue){NULL, NULL};
}
