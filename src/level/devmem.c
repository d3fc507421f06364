/* devmem.c - device memory of a worker's tree: MALLOC / FREE / COPY_TO /
 * COPY_FROM controls routed to the child that holds chip `chip` (chips are
 * numbered across the tree; a worker child forwards to its own chip). */
#include <stdio.h>
#include <string.h>

#include "level/level_int.h"

/* Child c holding chip `chip`, and the chip's index inside that child. */
static int route(strata_node *n, uint32_t chip, uint32_t *c, uint32_t *local) {
  if (!n || !n->initialized)
    return strata__fail(STRATA_EINVAL, "node is not initialised; call strata_node_init first");
  for (uint32_t k = 0; k < n->nchildren; k++) {
    const strata__child *ch = &n->child[k];
    if (ch->nchips && chip >= ch->first_chip && chip < ch->first_chip + ch->nchips) {
      *c = k;
      *local = chip - ch->first_chip;
      return 0;
    }
  }
  return strata__fail(STRATA_EINVAL, "chip %u does not exist (the tree has %u chips): use "
                      "0..%u or create the worker with more chips", chip, n->total_chips,
                      n->total_chips ? n->total_chips - 1 : 0);
}

static int control(strata_node *n, uint32_t c, uint32_t ctl, const uint64_t arg[4],
                   const void *blob, uint32_t blob_len, void *out, uint64_t *result) {
  strata__ctl q = {.ctl = ctl, .blob = blob, .blob_len = blob_len, .out = out};
  memcpy(q.arg, arg, sizeof(q.arg));
  int rc = strata__ctl_sync(n, c, &q);
  if (rc == 0 && result) *result = q.result;
  return rc;
}

int strata_node_malloc(strata_node *n, uint32_t chip, size_t bytes, void **dev) {
  uint32_t c = 0, local = 0;
  int rc = dev ? route(n, chip, &c, &local) : strata__fail(STRATA_EINVAL, "node_malloc: dev is NULL");
  uint64_t arg[4] = {bytes, local, 0, 0}, addr = 0;
  if (rc == 0) rc = control(n, c, STRATA_CTL_MALLOC, arg, NULL, 0, NULL, &addr);
  if (rc == 0) *dev = (void *)(uintptr_t)addr;
  return rc;
}

int strata_node_free(strata_node *n, uint32_t chip, void *dev) {
  uint32_t c = 0, local = 0;
  int rc = route(n, chip, &c, &local);
  uint64_t arg[4] = {(uint64_t)(uintptr_t)dev, local, 0, 0};
  return rc ? rc : control(n, c, STRATA_CTL_FREE, arg, NULL, 0, NULL, NULL);
}

/* Copies travel through the mailbox blob, one blob-sized piece at a time. */
static int copy(strata_node *n, uint32_t chip, int to_dev, void *dev, void *host, size_t bytes) {
  uint32_t c = 0, local = 0;
  int rc = (dev && host) || bytes == 0 ? route(n, chip, &c, &local)
                                       : strata__fail(STRATA_EINVAL, "node copy: NULL buffer");
  for (size_t off = 0; rc == 0 && off < bytes; off += STRATA_MBOX_BLOB_BYTES) {
    size_t len = bytes - off < STRATA_MBOX_BLOB_BYTES ? bytes - off : STRATA_MBOX_BLOB_BYTES;
    uint64_t arg[4] = {(uint64_t)(uintptr_t)dev + off, len, local, 0};
    char *h = (char *)host + off;
    rc = to_dev ? control(n, c, STRATA_CTL_COPY_TO, arg, h, (uint32_t)len, NULL, NULL)
                : control(n, c, STRATA_CTL_COPY_FROM, arg, NULL, 0, h, NULL);
  }
  return rc;
}

int strata_node_copy_to(strata_node *n, uint32_t chip, void *dev, const void *src, size_t bytes) {
  return copy(n, chip, 1, dev, (void *)(uintptr_t)src, bytes);
}

int strata_node_copy_from(strata_node *n, uint32_t chip, void *dst, const void *dev, size_t bytes) {
  return copy(n, chip, 0, (void *)(uintptr_t)dev, dst, bytes);
}
