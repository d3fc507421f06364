/* process.c - the node's children as processes: fork them all (before any
 * thread exists in the parent), detect deaths with waitpid, and tear the
 * tree down: SHUTDOWN, a grace period, then SIGKILL and reaping. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "node/node_int.h"

#define TEARDOWN_GRACE_MS 2000

const char *strata__child_name(const strata_node *n, uint32_t c, char *buf, size_t len) {
  const strata__child *ch = &n->child[c];
  snprintf(buf, len, "%s %u (pid %d)", ch->kind == STRATA_CHILD_CHIP ? "chip" : "sub",
           ch->index, (int)ch->pid);
  return buf;
}

void strata__child_died_msg(const strata_node *n, uint32_t c, const char *during, char *buf,
                            size_t len) {
  char name[64];
  int st = n->child[c].wstatus;
  strata__child_name(n, c, name, sizeof(name));
  if (WIFSIGNALED(st))
    snprintf(buf, len, "%s died (killed by signal %d) during %s", name, WTERMSIG(st), during);
  else
    snprintf(buf, len, "%s exited with status %d during %s", name, WEXITSTATUS(st), during);
}

int strata__spawn_children(strata_node *n) {
  fflush(NULL); /* no buffered output duplicated into the children */
  for (uint32_t c = 0; c < n->nchildren; c++) {
    pid_t pid = fork();
    if (pid == 0) strata__child_main(n, c);
    if (pid < 0)
      return strata__fail(STRATA_ENOMEM, "cannot fork child %u: %s; lower the number of "
                          "chips and subs", c, strerror(errno));
    n->child[c].pid = pid;
    n->child[c].alive = 1;
  }
  return 0;
}

int strata__reap(strata_node *n) {
  int died = 0;
  for (uint32_t c = 0; c < n->nchildren; c++) {
    strata__child *ch = &n->child[c];
    if (!ch->alive) continue;
    if (waitpid(ch->pid, &ch->wstatus, WNOHANG) == ch->pid) {
      ch->alive = 0;
      died++;
      if (n->comm_child_lost) n->comm_child_lost(n, c); /* abort its peers' waits */
    }
  }
  return died;
}

static uint32_t alive_count(strata_node *n) {
  uint32_t k = 0;
  for (uint32_t c = 0; c < n->nchildren; c++) k += n->child[c].alive;
  return k;
}

void strata__teardown(strata_node *n) {
  for (uint32_t c = 0; c < n->nchildren; c++) {
    if (!n->child[c].alive) continue;
    uint32_t st = load_acquire(&strata__mbox(n, c)->state); /* pairs with child replies */
    if (n->child[c].busy || st == STRATA_MB_TASK_READY || st == STRATA_MB_CONTROL_REQUEST ||
        (!n->child[c].ready && st != STRATA_MB_INIT_DONE))
      kill(n->child[c].pid, SIGKILL); /* mid-request or mid-init: would not see SHUTDOWN soon */
    else
      strata__mbox_post(n, c, STRATA_MB_SHUTDOWN);
  }
  uint64_t deadline = strata__deadline_ms(TEARDOWN_GRACE_MS);
  while (strata__reap(n) >= 0 && alive_count(n) > 0 && strata__now_ns() < deadline) {
    uint32_t seen = strata__event_read(&n->hdr->parent_ev);
    strata__event_wait(&n->hdr->parent_ev, seen, strata__now_ns() + 10 * STRATA_NS_PER_MS);
  }
  for (uint32_t c = 0; c < n->nchildren; c++) {
    strata__child *ch = &n->child[c];
    if (!ch->alive) continue;
    kill(ch->pid, SIGKILL);
    while (waitpid(ch->pid, &ch->wstatus, 0) < 0 && errno == EINTR) {
    }
    ch->alive = 0;
  }
}
