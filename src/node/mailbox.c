/* mailbox.c - the parent side of the mailbox protocol (see node_int.h):
 * post a request, wait for the reply with a deadline while watching for the
 * child's death, and synchronous controls. While a node run is active the
 * waits keep pumping the node orchestrator, so other children progress. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "node/node_int.h"

#define PARENT_NAP_MS 20

void strata__mbox_post(strata_node *n, uint32_t c, uint32_t state) {
  strata__mailbox *mb = strata__mbox(n, c);
  store_release(&mb->state, state); /* pairs with load_acquire in the child's serve() */
  strata__event_signal(&mb->child_ev);
}

static void nap(strata_node *n, uint32_t seen, uint64_t deadline) {
  uint64_t t = strata__now_ns() + PARENT_NAP_MS * STRATA_NS_PER_MS;
  strata__event_wait(&n->hdr->parent_ev, seen, t < deadline ? t : deadline);
}

/* The child died or missed the deadline (then it is killed): a failure
 * naming the child, never a hang. */
static int child_lost(strata_node *n, uint32_t c, const char *during, int timed_out) {
  char msg[384], name[64];
  n->broken = 1;
  if (timed_out) {
    kill(n->child[c].pid, SIGKILL);
    strata__child_name(n, c, name, sizeof(name));
    return strata__fail(STRATA_ETIMEDOUT, "%s did not answer within %u ms during %s and was "
                        "killed; raise STRATA_NODE_TASK_TIMEOUT_MS if it is just slow", name,
                        n->cfg.task_timeout_ms, during);
  }
  strata__child_died_msg(n, c, during, msg, sizeof(msg));
  return strata__fail(STRATA_ENDPOINT_FAILURE, "%s", msg);
}

int strata__wait_reply(strata_node *n, uint32_t c, uint32_t want, uint64_t deadline,
                       const char *during) {
  strata__mailbox *mb = strata__mbox(n, c);
  for (;;) {
    uint32_t seen = strata__event_read(&n->hdr->parent_ev);
    if (load_acquire(&mb->state) == want) return 0; /* pairs with the child's reply */
    nap(n, seen, deadline); /* spins first: a quick reply costs no syscall */
    if (load_acquire(&mb->state) == want) return 0;
    if (n->tasks) strata__norch_pump(n); /* no-op when called from inside the pump */
    strata__reap(n);
    if (!n->child[c].alive) return child_lost(n, c, during, 0);
    if (strata__now_ns() >= deadline) return child_lost(n, c, during, 1);
  }
}

/* ---- readiness (no-barrier mode: each child on its own) -------------------------- */
static void run_deferred(strata_node *n, uint32_t c) {
  strata__child *ch = &n->child[c];
  for (size_t i = 0; i < ch->ndefer; i++) {
    strata__deferred *d = &ch->defer[i];
    int rc = strata__control(n, c, d->ctl, d->arg, d->blob, d->blob_len, NULL);
    if (d->done) d->done(n, d->ctx, rc);
  }
  ch->ndefer = 0;
}

int strata__child_ready(strata_node *n, uint32_t c) {
  strata__child *ch = &n->child[c];
  if (ch->ready || !ch->alive) return ch->ready;
  uint32_t st = load_acquire(&strata__mbox(n, c)->state); /* pairs with the child's reply */
  if (st == STRATA_MB_INIT_DONE) {
    store_release(&strata__mbox(n, c)->state, STRATA_MB_IDLE); /* pairs with serve() */
    ch->ready = 1;
    run_deferred(n, c);
  } else if (st == STRATA_MB_INIT_FAILED || strata__now_ns() >= n->init_deadline) {
    kill(ch->pid, SIGKILL); /* its tasks fail as "died" once reaped */
    n->broken = 1;
  }
  return ch->ready;
}

int strata__control_deferred(strata_node *n, uint32_t c, uint32_t ctl, const uint64_t arg[4],
                             const void *blob, uint32_t blob_len,
                             void (*done)(strata_node *, void *, int), void *ctx) {
  strata__child *ch = &n->child[c];
  if (ch->ready || blob_len > sizeof(ch->defer->blob)) {
    int rc = strata__control(n, c, ctl, arg, blob, blob_len, NULL);
    if (done) done(n, ctx, rc);
    return rc;
  }
  if (strata__array_grow(&ch->defer, &ch->cap_defer, ch->ndefer, sizeof(*ch->defer), 4))
    return strata__fail(STRATA_ENOMEM, "out of memory queueing a control");
  strata__deferred *d = &ch->defer[ch->ndefer++];
  *d = (strata__deferred){ctl, blob_len, {arg[0], arg[1], arg[2], arg[3]}, {0}, done, ctx};
  if (blob_len) memcpy(d->blob, blob, blob_len);
  return 0;
}

static int wait_ready(strata_node *n, uint32_t c) {
  while (!strata__child_ready(n, c)) {
    uint32_t seen = strata__event_read(&n->hdr->parent_ev);
    strata__reap(n);
    if (!n->child[c].alive) return child_lost(n, c, "init", 0);
    if (strata__now_ns() >= n->init_deadline) return child_lost(n, c, "init", 1);
    nap(n, seen, n->init_deadline);
  }
  return 0;
}

int strata__wait_idle(strata_node *n, uint32_t c, uint64_t deadline) {
  int rc = wait_ready(n, c);
  if (rc) return rc;
  while (n->child[c].busy) {
    uint32_t seen = strata__event_read(&n->hdr->parent_ev);
    strata__norch_pump(n);
    if (!n->child[c].busy) break;
    if (!n->child[c].alive) return child_lost(n, c, "a task", 0);
    if (strata__now_ns() >= deadline) return child_lost(n, c, "a task", 1);
    nap(n, seen, deadline);
  }
  return 0;
}

static const char *control_name(uint32_t ctl) {
  static const char *const names[] = {"?",       "MALLOC",   "FREE",       "COPY_TO",
                                      "COPY_FROM", "PREPARE", "REGISTER",   "UNREGISTER",
                                      "COMM_INIT", "ALLOC_DOMAIN", "RELEASE_DOMAIN"};
  return ctl < STRATA_ARRAY_SIZE(names) ? names[ctl] : "?";
}

int strata__control(strata_node *n, uint32_t c, uint32_t ctl, const uint64_t arg[4],
                    const void *blob, uint32_t blob_len, uint64_t *result) {
  char during[48], name[64];
  snprintf(during, sizeof(during), "control %s", control_name(ctl));
  uint64_t deadline = strata__deadline_ms(n->cfg.task_timeout_ms);
  if (!n->child[c].alive) return child_lost(n, c, during, 0);
  int rc = strata__wait_idle(n, c, deadline);
  if (rc) return rc;
  strata__mailbox *mb = strata__mbox(n, c);
  mb->command = ctl;
  memcpy(mb->arg, arg, sizeof(mb->arg));
  mb->blob_len = blob_len;
  if (blob_len) memcpy(mb->blob, blob, blob_len);
  strata__mbox_post(n, c, STRATA_MB_CONTROL_REQUEST);
  rc = strata__wait_reply(n, c, STRATA_MB_CONTROL_DONE, deadline, during);
  if (rc) return rc;
  rc = mb->error_code;
  if (result) *result = mb->result;
  WRITE_ONCE(mb->state, STRATA_MB_IDLE);
  if (rc)
    return strata__fail(rc, "%s: %s failed: %s", strata__child_name(n, c, name, sizeof(name)),
                        control_name(ctl), mb->errmsg);
  return 0;
}
