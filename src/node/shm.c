/* shm.c - POSIX shared-memory mappings of a node. Each segment is unlinked
 * right after it is mapped: forked children inherit the mapping, and no
 * /dev/shm entry can outlive the node, whatever kills it. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "node/node_int.h"

void *strata__shm_map(const char *tag, size_t bytes) {
  char name[96];
  strata__shm_name(name, sizeof(name), tag);
  int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
  if (fd < 0) return NULL;
  shm_unlink(name);
  void *p = MAP_FAILED;
  if (ftruncate(fd, (off_t)bytes) == 0)
    p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
  close(fd);
  return p == MAP_FAILED ? NULL : p;
}

void strata__shm_unmap(void *p, size_t bytes) {
  if (p) munmap(p, bytes);
}

strata__mailbox *strata__mbox(strata_node *n, uint32_t c) {
  return (strata__mailbox *)(void *)((char *)n->ctl + STRATA_NODE_HDR_BYTES +
                                     (size_t)c * STRATA_MBOX_BYTES);
}
