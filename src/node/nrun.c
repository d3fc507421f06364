/* nrun.c - a node run: call the node orchestration, drain every task with
 * the children's deadlines, report the first error; plus node scopes and
 * their scoped device allocations. */
#include <stdio.h>
#include <string.h>

#include "node/node_int.h"

void strata__norch_free(strata_node *n) {
  for (uint64_t i = 0; i < n->ntasks; i++) {
    strata__free(n->tasks[i]->dependents);
    strata__free(n->tasks[i]->m);
    strata__free(n->tasks[i]);
  }
  strata__free(n->tasks);
  n->tasks = NULL;
  n->ntasks = n->cap_tasks = 0;
  for (uint32_t d = 0; d <= STRATA_MAX_SCOPE_DEPTH; d++) {
    strata__free(n->scopes[d].bufs);
    memset(&n->scopes[d], 0, sizeof(n->scopes[d]));
  }
}

void strata__norch_reset(strata_node *n) {
  strata__norch_free(n);
  n->completed = n->failed = n->poisoned = 0;
  n->first_error = 0;
  n->first_msg[0] = '\0';
  n->depth = 0;
  n->scopes[0].first_task = 1;
}

/* Wait until every task with id >= first has finished. */
static void drain_from(strata_node *n, uint64_t first) {
  for (;;) {
    uint32_t seen = strata__event_read(&n->hdr->parent_ev);
    strata__norch_pump(n);
    uint64_t open = 0;
    for (uint64_t i = first ? first - 1 : 0; i < n->ntasks; i++)
      open += n->tasks[i]->state < STRATA_NT_DONE;
    if (open == 0) return;
    /* every in-flight task has a deadline (task_timeout_ms) enforced by pump */
    strata__event_wait(&n->hdr->parent_ev, seen, strata__now_ns() + 20 * STRATA_NS_PER_MS);
  }
}

int strata_node_scope_begin(strata_node_orch *o) {
  strata_node *n = o->node;
  if (n->depth >= STRATA_MAX_SCOPE_DEPTH)
    return strata__fail(STRATA_EINVAL, "node scope_begin: nesting deeper than %d "
                        "(STRATA_MAX_SCOPE_DEPTH); end inner scopes before opening new ones",
                        STRATA_MAX_SCOPE_DEPTH);
  strata__nscope *s = &n->scopes[++n->depth];
  s->first_task = n->ntasks + 1;
  s->nbufs = 0;
  return 0;
}

static void scope_close(strata_node *n, strata__nscope *s) {
  drain_from(n, s->first_task);
  for (size_t i = 0; i < s->nbufs; i++)
    if (n->child[s->bufs[i].chip].alive) strata_node_free(n, s->bufs[i].chip, s->bufs[i].dev);
  s->nbufs = 0;
}

int strata_node_scope_end(strata_node_orch *o) {
  strata_node *n = o->node;
  if (n->depth == 0) return strata__fail(STRATA_EINVAL, "node scope_end without scope_begin");
  scope_close(n, &n->scopes[n->depth--]);
  return 0;
}

static int scope_track(strata__nscope *s, uint32_t chip, void *p) {
  if (strata__array_grow(&s->bufs, &s->cap, s->nbufs, sizeof(*s->bufs), 8)) return STRATA_ENOMEM;
  s->bufs[s->nbufs++] = (strata__nbuf){p, chip};
  return 0;
}

int strata_node_orch_alloc(strata_node_orch *o, uint32_t chip, size_t bytes, strata_dtype dtype,
                           strata_tensor *t) {
  strata_node *n = o->node;
  void *p = NULL;
  int rc = t ? strata_node_malloc(n, chip, bytes, &p) : strata__fail(STRATA_EINVAL, "t is NULL");
  if (rc == 0 && scope_track(&n->scopes[n->depth], chip, p) != 0) {
    strata_node_free(n, chip, p);
    rc = strata__fail(STRATA_ENOMEM, "out of memory tracking a scoped allocation");
  }
  if (rc == 0) *t = strata_tensor_external(p, bytes, dtype);
  return rc;
}

static void fill_info(strata_node *n, strata_node_run_info *info, uint64_t t0) {
  info->status = n->first_error;
  info->tasks_submitted = n->ntasks;
  info->tasks_completed = n->completed;
  info->tasks_failed = n->failed;
  info->tasks_poisoned = n->poisoned;
  info->elapsed_ns = strata__now_ns() - t0;
  snprintf(info->message, sizeof(info->message), "%s", n->first_msg);
}

int strata_node_run(strata_node *n, strata_node_orch_fn fn, void *args,
                    strata_node_run_info *info) {
  strata_node_run_info local;
  if (!info) info = &local;
  memset(info, 0, sizeof(*info));
  if (!n || !fn || !n->initialized)
    return info->status = strata__fail(STRATA_EINVAL, "node_run: needs an initialised node "
                                       "and an orchestration function");
  if (n->broken)
    return info->status = strata__fail(STRATA_ENDPOINT_FAILURE, "node_run: the node lost a "
                                       "child earlier; close it and create a new one");
  uint64_t t0 = strata__now_ns();
  strata__norch_reset(n);
  fn(&n->orch, args);
  while (n->depth > 0) scope_close(n, &n->scopes[n->depth--]);
  scope_close(n, &n->scopes[0]);
  fill_info(n, info, t0);
  strata__norch_free(n);
  if (info->status) strata__fail(info->status, "%s", info->message);
  return info->status;
}
