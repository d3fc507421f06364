/* norch.c - the node orchestrator and its scheduler, both on the node
 * process's calling thread: submit records a task and its dependencies
 * (overlapping tensors in node device memory, explicit deps), pump()
 * harvests replies, fails the tasks of dead or overdue children, and
 * dispatches READY tasks (a chip task to its chip, a group to all its chips
 * at once, a sub task to any idle sub). A failed task poisons its
 * dependents; the first error of the run wins. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "node/node_int.h"

/* ---- graph ------------------------------------------------------------------- */
static int overlaps(const strata_args *a, const strata_args *b) {
  for (uint32_t i = 0; i < a->ntensors; i++)
    for (uint32_t j = 0; j < b->ntensors; j++) {
      const strata_tensor *x = &a->tensors[i], *y = &b->tensors[j];
      int wx = a->tags[i] != STRATA_INPUT, wy = b->tags[j] != STRATA_INPUT;
      if (a->tags[i] == STRATA_NO_DEP || b->tags[j] == STRATA_NO_DEP || !(wx || wy)) continue;
      uintptr_t xs = (uintptr_t)x->data, ys = (uintptr_t)y->data;
      if (x->base == y->base && xs < ys + y->bytes && ys < xs + x->bytes) return 1;
    }
  return 0;
}

static int conflicts(const strata__ntask *t, const strata__ntask *u) {
  for (uint32_t i = 0; i < t->nmembers; i++)
    for (uint32_t j = 0; j < u->nmembers; j++)
      if (overlaps(&t->m[i].args, &u->m[j].args)) return 1;
  return 0;
}

static int explicit_dep(const strata__ntask *t, uint64_t id) {
  for (uint32_t i = 0; i < t->nmembers; i++)
    for (uint32_t d = 0; d < t->m[i].args.ndeps; d++)
      if (t->m[i].args.deps[d].id == id) return 1;
  return 0;
}

static int add_edge(strata__ntask *from, strata__ntask *to) {
  if (strata__array_grow(&from->dependents, &from->cap_dependents, from->ndependents,
                         sizeof(*from->dependents), 4))
    return STRATA_ENOMEM;
  from->dependents[from->ndependents++] = to;
  to->npending++;
  return 0;
}

static int wire(strata_node *n, strata__ntask *t) {
  for (uint64_t i = 0; i + 1 < t->id; i++) {
    strata__ntask *u = n->tasks[i];
    if (u->state == STRATA_NT_DONE || !(conflicts(t, u) || explicit_dep(t, u->id))) continue;
    if (u->state == STRATA_NT_FAILED) {
      t->poisoned = 1;
      continue;
    }
    if (add_edge(u, t)) return strata__fail(STRATA_ENOMEM, "out of memory wiring node tasks");
  }
  return 0;
}

/* ---- completion ----------------------------------------------------------------- */
static void complete(strata_node *n, strata__ntask *t, int status, const char *msg);

static void release_dependents(strata_node *n, strata__ntask *t) {
  for (size_t i = 0; i < t->ndependents; i++) {
    strata__ntask *d = t->dependents[i];
    if (t->state == STRATA_NT_FAILED) d->poisoned = 1;
    if (--d->npending > 0) continue;
    if (d->poisoned)
      complete(n, d, STRATA_TASK_POISONED, "skipped: a task it depends on failed");
    else
      d->state = STRATA_NT_READY;
  }
}

static void complete(strata_node *n, strata__ntask *t, int status, const char *msg) {
  t->status = status;
  t->state = status ? STRATA_NT_FAILED : STRATA_NT_DONE;
  n->completed++;
  if (status == STRATA_TASK_POISONED) n->poisoned++;
  else if (status) n->failed++;
  if (status && status != STRATA_TASK_POISONED && !n->first_error) {
    n->first_error = status;
    snprintf(n->first_msg, sizeof(n->first_msg), "node task #%llu: %s",
             (unsigned long long)t->id, msg);
  }
  release_dependents(n, t);
}

static void member_done(strata_node *n, strata__ntask *t, int status, const char *msg) {
  if (status && !t->status) {
    t->status = status;
    snprintf(t->msg, sizeof(t->msg), "%s", msg);
  }
  if (++t->ndone == t->nmembers) complete(n, t, t->status, t->msg);
}

/* ---- pump: harvest, deaths, deadlines, dispatch ----------------------------------- */
static void finish_child(strata_node *n, uint32_t c, int status, const char *msg) {
  strata__child *ch = &n->child[c];
  ch->busy = 0;
  member_done(n, ch->task, status, msg);
  ch->task = NULL;
}

static void harvest(strata_node *n, uint32_t c) {
  char name[64], msg[384];
  strata__mailbox *mb = strata__mbox(n, c);
  if (load_acquire(&mb->state) != STRATA_MB_TASK_DONE) return; /* pairs with the reply */
  int rc = mb->error_code;
  snprintf(msg, sizeof(msg), "%s: %s", strata__child_name(n, c, name, sizeof(name)), mb->errmsg);
  WRITE_ONCE(mb->state, STRATA_MB_IDLE);
  finish_child(n, c, rc, rc ? msg : "");
}

static void check_child(strata_node *n, uint32_t c, uint64_t now) {
  char msg[384];
  strata__child *ch = &n->child[c];
  if (!ch->busy) return;
  harvest(n, c);
  if (!ch->busy) return;
  if (!ch->alive && ch->timed_out) {
    char name[64];
    snprintf(msg, sizeof(msg), "%s did not finish its task within %u ms and was killed; raise "
             "STRATA_NODE_TASK_TIMEOUT_MS if it is just slow",
             strata__child_name(n, c, name, sizeof(name)), n->cfg.task_timeout_ms);
    n->broken = 1;
    finish_child(n, c, STRATA_ETIMEDOUT, msg);
  } else if (!ch->alive) {
    strata__child_died_msg(n, c, "a task", msg, sizeof(msg));
    n->broken = 1;
    finish_child(n, c, STRATA_ENDPOINT_FAILURE, msg);
  } else if (now - ch->start_ns > (uint64_t)n->cfg.task_timeout_ms * STRATA_NS_PER_MS) {
    kill(ch->pid, SIGKILL); /* reaped (aborting its domains) and failed on the next pump */
    ch->timed_out = 1;
    ch->start_ns = now;
  }
}

static void send(strata_node *n, uint32_t c, strata__ntask *t, uint32_t member) {
  strata__mailbox *mb = strata__mbox(n, c);
  strata__child *ch = &n->child[c];
  mb->command = t->m[member].fn;
  mb->task_id = t->id;
  memcpy(mb->blob, &t->m[member].args, sizeof(strata_args));
  mb->blob_len = sizeof(strata_args);
  ch->busy = 1;
  ch->task = t;
  ch->member = member;
  ch->start_ns = strata__now_ns();
  strata__mbox_post(n, c, STRATA_MB_TASK_READY);
}

static int idle_sub(strata_node *n) {
  for (uint32_t c = n->cfg.chips; c < n->nchildren; c++)
    if (n->child[c].alive && n->child[c].ready && !n->child[c].busy) return (int)c;
  return -1;
}

/* All-or-nothing: every member's chip must be idle. */
static int dispatch_one(strata_node *n, strata__ntask *t) {
  if (t->is_sub) {
    int c = idle_sub(n);
    if (c < 0) return 0;
    send(n, (uint32_t)c, t, 0);
  } else {
    for (uint32_t i = 0; i < t->nmembers; i++) {
      strata__child *ch = &n->child[t->m[i].target];
      if (!ch->alive) {
        t->state = STRATA_NT_RUNNING;
        for (uint32_t k = 0; k < t->nmembers; k++)
          member_done(n, t, STRATA_ENDPOINT_FAILURE, "its chip died earlier in this run");
        return 1;
      }
      if (ch->busy || !ch->ready) return 0;
    }
    for (uint32_t i = 0; i < t->nmembers; i++) send(n, t->m[i].target, t, i);
  }
  t->state = STRATA_NT_RUNNING;
  return 1;
}

int strata__norch_pump(strata_node *n) {
  if (n->in_pump) return 0; /* a deferred control is being sent from inside the pump */
  n->in_pump = 1;
  uint64_t now = strata__now_ns();
  int progress = 0;
  strata__reap(n);
  for (uint32_t c = 0; c < n->nchildren; c++) {
    strata__child_ready(n, c);
    check_child(n, c, now);
  }
  for (uint64_t i = 0; i < n->ntasks; i++)
    if (n->tasks[i]->state == STRATA_NT_READY) progress += dispatch_one(n, n->tasks[i]);
  n->in_pump = 0;
  return progress;
}

/* ---- submit --------------------------------------------------------------------- */
static int check_args(strata_node *n, const strata_args *a) {
  if (!a || a->error)
    return strata__fail(STRATA_INVALID_ARGS, "node submit: missing or overflowing args");
  uintptr_t lo = (uintptr_t)n->devmem, hi = lo + n->devmem_bytes;
  for (uint32_t i = 0; i < a->ntensors; i++) {
    uintptr_t d = (uintptr_t)a->tensors[i].data;
    if (a->tags[i] == STRATA_OUTPUT)
      return strata__fail(STRATA_INVALID_ARGS, "node submit: tensor %u is OUTPUT; allocate "
                          "it with strata_node_orch_alloc and pass OUTPUT_EXISTING", i);
    if (d < lo || d + a->tensors[i].bytes > hi)
      return strata__fail(STRATA_INVALID_ARGS, "node submit: tensor %u is not in node device "
                          "memory; allocate it with strata_node_malloc/orch_alloc", i);
  }
  return 0;
}

static strata__ntask *new_task(strata_node *n, uint32_t nmembers) {
  strata__ntask *t = strata__calloc(1, sizeof(*t));
  if (t) t->m = strata__calloc(nmembers, sizeof(strata__nmember));
  if (!t || !t->m || strata__array_grow(&n->tasks, &n->cap_tasks, n->ntasks, sizeof(*n->tasks), 64)) {
    if (t) strata__free(t->m);
    strata__free(t);
    return NULL;
  }
  n->tasks[n->ntasks++] = t;
  t->id = n->ntasks;
  t->nmembers = nmembers;
  return t;
}

static int submit(strata_node *n, int is_sub, const strata_node_member *m, uint32_t nm,
                  strata_task_ref *out) {
  if (n->broken)
    return strata__fail(STRATA_ENDPOINT_FAILURE, "node lost a child earlier; close it and "
                        "create a new one");
  strata__ntask *t = new_task(n, nm);
  if (!t) return strata__fail(STRATA_ENOMEM, "out of memory for a node task");
  t->is_sub = is_sub;
  for (uint32_t i = 0; i < nm; i++) t->m[i] = (strata__nmember){m[i].chip, m[i].orch, *m[i].args, 0};
  int rc = wire(n, t);
  if (rc) return rc;
  if (t->npending == 0 && t->poisoned)
    complete(n, t, STRATA_TASK_POISONED, "skipped: a task it depends on failed");
  else if (t->npending == 0)
    t->state = STRATA_NT_READY;
  if (out) out->id = t->id;
  strata__norch_pump(n);
  return 0;
}

static int check_member(strata_node *n, const strata_node_member *m) {
  if (m->chip >= n->cfg.chips)
    return strata__fail(STRATA_INVALID_ARGS, "node submit: chip %u does not exist (%u chips)",
                        m->chip, n->cfg.chips);
  if (m->orch >= n->reg.n[STRATA_REG_ORCH])
    return strata__fail(STRATA_INVALID_ARGS, "node submit: chip orchestration %u is not "
                        "registered", m->orch);
  return check_args(n, m->args);
}

int strata_node_submit_group(strata_node_orch *o, const strata_node_member *m, uint32_t nm,
                             strata_task_ref *out) {
  strata_node *n = o->node;
  if (!m || nm == 0 || nm > STRATA_NODE_MAX_GROUP)
    return strata__fail(STRATA_INVALID_ARGS, "node group: 1..%d members", STRATA_NODE_MAX_GROUP);
  for (uint32_t i = 0; i < nm; i++) {
    int rc = check_member(n, &m[i]);
    if (rc) return rc;
    for (uint32_t k = 0; k < i; k++)
      if (m[k].chip == m[i].chip)
        return strata__fail(STRATA_INVALID_ARGS, "node group: chip %u named twice", m[i].chip);
  }
  return submit(n, 0, m, nm, out);
}

int strata_node_submit_chip(strata_node_orch *o, uint32_t chip, uint32_t orch,
                            const strata_args *a, strata_task_ref *out) {
  strata_node_member m = {chip, orch, a};
  return strata_node_submit_group(o, &m, 1, out);
}

int strata_node_submit_sub(strata_node_orch *o, uint32_t fn, const strata_args *a,
                           strata_task_ref *out) {
  strata_node *n = o->node;
  if (n->cfg.subs == 0 || fn >= n->reg.n[STRATA_REG_SUB])
    return strata__fail(STRATA_INVALID_ARGS, "node submit_sub: %s",
                        n->cfg.subs ? "sub function not registered" : "the node has no sub workers");
  int rc = check_args(n, a);
  strata_node_member m = {0, fn, a};
  return rc ? rc : submit(n, 1, &m, 1, out);
}

strata_node *strata_node_orch_node(strata_node_orch *o) { return o->node; }
