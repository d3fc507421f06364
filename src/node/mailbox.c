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
    if (n->tasks) strata__norch_pump(n);
    strata__reap(n);
    if (!n->child[c].alive) return child_lost(n, c, during, 0);
    if (strata__now_ns() >= deadline) return child_lost(n, c, during, 1);
  }
}

int strata__wait_idle(strata_node *n, uint32_t c, uint64_t deadline) {
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
