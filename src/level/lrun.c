/* lrun.c - a level run: call the level orchestration, close its scopes
 * (each waits, with a deadline, for the tasks submitted in it and frees its
 * scoped allocations), drain, report the first error; plus the node scope
 * and orch_alloc calls. */
#include <stdio.h>
#include <string.h>

#include "level/level_int.h"

#define DRAIN_GRACE_MS 5000 /* beyond the task deadline, with no progress at all */

static int scope_drained(strata_node *n, void *arg) {
  return n->run.scopes[*(uint32_t *)arg].open == 0;
}

/* Wait until every task of scope d has finished. Each in-flight task has
 * its deadline in the loop; this bound holds when nothing progresses at all. */
static int drain(strata_node *n, uint32_t d) {
  for (;;) {
    uint64_t last = n->run.last_progress_ns;
    uint64_t deadline = last + ((uint64_t)n->cfg.task_timeout_ms + DRAIN_GRACE_MS) * STRATA_NS_PER_MS;
    int rc = strata__loop_until(n, scope_drained, &d, deadline, "draining the run's tasks");
    if (rc == 0 || n->run.last_progress_ns == last) return rc;
  }
}

static void scope_close(strata_node *n, uint32_t d) {
  strata__nscope *s = &n->run.scopes[d];
  int rc = drain(n, d);
  if (rc) strata__run_error(n, rc, strata_last_error());
  for (size_t i = 0; rc == 0 && i < s->nbufs; i++)
    strata_node_free(n, s->bufs[i].chip, s->bufs[i].dev);
  s->nbufs = 0;
}

int strata_node_scope_begin(strata_node_orch *o) {
  int rc = strata__orch_check(o);
  if (rc) return rc;
  strata__run *r = &o->node->run;
  if (r->depth >= STRATA_MAX_SCOPE_DEPTH)
    return strata__fail(STRATA_EINVAL, "node scope_begin: nesting deeper than %d "
                        "(STRATA_MAX_SCOPE_DEPTH); end inner scopes before opening new ones",
                        STRATA_MAX_SCOPE_DEPTH);
  strata__nscope *s = &r->scopes[++r->depth];
  s->nbufs = 0; /* open is 0 already: the last scope at this depth drained */
  return 0;
}

int strata_node_scope_end(strata_node_orch *o) {
  int rc = strata__orch_check(o);
  if (rc) return rc;
  strata_node *n = o->node;
  if (n->run.depth == 0)
    return strata__fail(STRATA_EINVAL, "node scope_end without scope_begin; pair them");
  scope_close(n, n->run.depth--);
  return n->run.first_error;
}

static int scope_track(strata__nscope *s, uint32_t chip, void *p) {
  if (strata__array_grow(&s->bufs, &s->cap, s->nbufs, sizeof(*s->bufs), 8)) return STRATA_ENOMEM;
  s->bufs[s->nbufs++] = (strata__nbuf){p, chip};
  return 0;
}

int strata_node_orch_alloc(strata_node_orch *o, uint32_t chip, size_t bytes, strata_dtype dtype,
                           strata_tensor *t) {
  int rc = strata__orch_check(o);
  if (rc) return rc;
  strata_node *n = o->node;
  void *p = NULL;
  rc = t ? strata_node_malloc(n, chip, bytes, &p) : strata__fail(STRATA_EINVAL, "orch_alloc: t is NULL");
  if (rc == 0 && scope_track(&n->run.scopes[n->run.depth], chip, p) != 0) {
    strata_node_free(n, chip, p);
    rc = strata__fail(STRATA_ENOMEM, "out of memory tracking a scoped allocation");
  }
  if (rc == 0) *t = strata_tensor_external(p, bytes, dtype);
  return rc;
}

/* ---- the run ------------------------------------------------------------------------ */
static int run_begin(strata_node *n) {
  strata__run *r = &n->run;
  memset(r, 0, sizeof(*r));
  r->window = n->cfg.task_window;
  r->floor = 1;
  r->tasks = strata__calloc(r->window, sizeof(*r->tasks));
  if (!r->tasks || strata__deps_init(&r->deps) != 0 ||
      strata__array_grow(&r->scratch, &r->cap_scratch, 0, sizeof(*r->scratch), 16) != 0) {
    strata__run_free(n);
    return strata__fail(STRATA_ENOMEM, "out of memory starting a level run");
  }
  r->active = 1;
  r->last_progress_ns = strata__now_ns();
  return 0;
}

static void fill_info(strata_node *n, strata_node_run_info *info, uint64_t t0) {
  strata__run *r = &n->run;
  info->status = r->first_error;
  info->tasks_submitted = r->ntasks;
  info->tasks_completed = r->completed;
  info->tasks_failed = r->failed;
  info->tasks_poisoned = r->poisoned;
  info->elapsed_ns = strata__now_ns() - t0;
  snprintf(info->message, sizeof(info->message), "%s", r->first_msg);
}

/* Trace names of level tasks: (kind << 16 | id) in the registry. */
static const char *fn_namer(void *ctx, uint32_t idx) {
  const strata_node *n = ctx;
  uint32_t kind = idx >> 16, id = idx & 0xffff;
  return kind < STRATA_FN_KINDS && id < n->reg.n[kind] ? n->reg.f[kind][id].name : "?";
}

static int run_checks(strata_node *n, strata_node_orch_fn fn) {
  if (!n || !fn || !n->initialized)
    return strata__fail(STRATA_EINVAL, "node_run: needs an initialised node (strata_node_init) "
                        "and an orchestration function");
  if (n->run.active) return strata__fail(STRATA_EBUSY, "node_run: a run is already in progress");
  strata__loop_poll(n); /* a child that died since the last call is reaped and named */
  return n->broken ? strata__broken_fail(n, "node_run") : 0;
}

int strata_node_run(strata_node *n, strata_node_orch_fn fn, void *args,
                    strata_node_run_info *info) {
  strata_node_run_info local;
  if (!info) info = &local;
  memset(info, 0, sizeof(*info));
  int rc = run_checks(n, fn);
  if (rc == 0) rc = run_begin(n);
  if (rc) {
    snprintf(info->message, sizeof(info->message), "%s", strata_last_error());
    return info->status = rc;
  }
  uint64_t t0 = strata__now_ns();
  fn(&n->orch, args);
  while (n->run.depth > 0) scope_close(n, n->run.depth--);
  scope_close(n, 0);
  fill_info(n, info, t0);
  strata__trace_flush(n->path[0] ? n->path : "level worker", fn_namer, n);
  strata__run_free(n);
  if (info->status) strata__fail(info->status, "%s", info->message);
  return info->status;
}
