/* transport.c - the parent side of the mailbox protocol (level_int.h): post
 * a request and read a reply. It never waits: the event loop (loop.c) decides
 * when to post and when to look. */
#include <stdio.h>
#include <string.h>

#include "level/level_int.h"

strata__mailbox *strata__mbox(const strata_node *n, uint32_t c) {
  return (strata__mailbox *)(void *)((char *)n->ctl + STRATA_NODE_HDR_BYTES +
                                     (size_t)c * STRATA_MBOX_BYTES);
}

static void post(strata_node *n, uint32_t c, uint32_t state) {
  strata__mailbox *mb = strata__mbox(n, c);
  store_release(&mb->state, state); /* pairs with load_acquire in the child's serve() */
  strata__event_signal(&mb->child_ev);
  if (n->child[c].remote) n->rops->posted(n->rctx, c); /* the transport carries it */
}

void strata__post_task(strata_node *n, uint32_t c, const strata__ltask *t, uint32_t member) {
  strata__mailbox *mb = strata__mbox(n, c);
  mb->command = t->m[member].fn;
  mb->task_id = t->id;
  mb->ext = 0;
  const strata__pargs *a = t->m[member].args;
  memcpy(mb->blob, a, a->bytes); /* sized to content (SPEC §3.1) */
  mb->blob_len = a->bytes;
  post(n, c, STRATA_MB_TASK_READY);
}

void strata__post_control(strata_node *n, uint32_t c, const strata__ctl *q) {
  strata__mailbox *mb = strata__mbox(n, c);
  mb->command = q->ctl;
  memcpy(mb->arg, q->arg, sizeof(mb->arg));
  mb->ext = (uint64_t)(uintptr_t)q->ext;
  mb->ext_op = q->ext_op;
  mb->blob_len = q->blob_len;
  if (q->blob && q->blob_len) memcpy(mb->blob, q->blob, q->blob_len);
  post(n, c, STRATA_MB_CONTROL_REQUEST);
}

void strata__post_shutdown(strata_node *n, uint32_t c) { post(n, c, STRATA_MB_SHUTDOWN); }

uint32_t strata__read_state(strata_node *n, uint32_t c) {
  return load_acquire(&strata__mbox(n, c)->state); /* pairs with the child's reply */
}

void strata__read_control(strata_node *n, uint32_t c, strata__ctl *q) {
  strata__mailbox *mb = strata__mbox(n, c);
  q->status = mb->error_code;
  q->result = mb->result;
  snprintf(q->msg, sizeof(q->msg), "%s", mb->errmsg);
  if (q->out && q->status == 0) memcpy(q->out, mb->blob, (size_t)q->arg[1]);
  WRITE_ONCE(mb->state, STRATA_MB_IDLE);
}

int strata__read_task(strata_node *n, uint32_t c, char *msg, size_t len) {
  strata__mailbox *mb = strata__mbox(n, c);
  int rc = mb->error_code;
  snprintf(msg, len, "%s", mb->errmsg);
  WRITE_ONCE(mb->state, STRATA_MB_IDLE);
  return rc;
}

void strata__read_init(strata_node *n, uint32_t c) {
  strata__mailbox *mb = strata__mbox(n, c);
  strata__child *ch = &n->child[c];
  uint32_t np = (uint32_t)(mb->result < STRATA_MAX_TREE_PIDS ? mb->result : STRATA_MAX_TREE_PIDS);
  memcpy(ch->tree, mb->blob, np * sizeof(pid_t));
  ch->ntree = np;
  store_release(&mb->state, STRATA_MB_IDLE); /* pairs with the child's serve() */
}
