/* level_ext.h - the small interface through which a layer above the level
 * engine (src/comm) extends a worker without the engine knowing it:
 *
 *   - parent side: attach an ops table with a context to a worker; the
 *     engine calls child_lost() when one of its children dies (before the
 *     tasks of that child fail) and close() before the worker tears down;
 *   - child side: extension controls (COMM_INIT, ALLOC_DOMAIN,
 *     RELEASE_DOMAIN) carry the ops table; the chip child calls its
 *     child_control() with its chip runtime. The table is a static object of
 *     libstrata, at the same address in every forked process of the tree;
 *   - queries the extension needs: is a run active, is a child alive.
 *
 * Nothing here exposes the engine's structures.
 */
#ifndef STRATA_LEVEL_EXT_H
#define STRATA_LEVEL_EXT_H

#include <stddef.h>
#include <stdint.h>

#include "platform/platform_int.h"
#include "strata/chip.h"
#include "strata/node.h"

/* Extension controls (SPEC §3 names): sent to chip children only. */
enum { STRATA_CTL_COMM_INIT = 8, STRATA_CTL_ALLOC_DOMAIN = 9, STRATA_CTL_RELEASE_DOMAIN = 10 };

typedef struct strata__ext_ops {
  const char *name;
  /* child side, in a chip child: execute extension control `ctl` */
  int (*child_control)(strata_chip *chip, uint32_t ctl, const uint64_t arg[4], const void *blob,
                       uint32_t blob_len, char *msg, size_t len);
  /* parent side: child `child` died; `close`: the worker is going away */
  void (*child_lost)(void *ctx, uint32_t child);
  void (*close)(strata_node *n, void *ctx);
} strata__ext_ops;

/* Completion of an asynchronous extension control: status 0 or the error. */
typedef void (*strata__ext_done_fn)(strata_node *n, void *ctx, int status);

/* Attach ops with ctx to n (once per ops); ENOSPC if too many extensions. */
STRATA_HIDDEN int strata__ext_attach(strata_node *n, const strata__ext_ops *ops, void *ctx);
/* The context attached with ops, or NULL. */
STRATA_HIDDEN void *strata__ext_ctx(strata_node *n, const strata__ext_ops *ops);
STRATA_HIDDEN void strata__ext_detach(strata_node *n, const strata__ext_ops *ops);
/* Send extension control ctl to chip child `child`. wait = 1: run the loop
 * until it is done and return its status; wait = 0: queue it (it is sent
 * once the child is ready and idle) and call done(n, ctx, status) later. */
STRATA_HIDDEN int strata__ext_control(strata_node *n, uint32_t child, const strata__ext_ops *ops,
                                      uint32_t ctl, const uint64_t arg[4], const void *blob,
                                      uint32_t blob_len, int wait, strata__ext_done_fn done,
                                      void *ctx);
/* 1 while strata_node_run is in progress. */
STRATA_HIDDEN int strata__level_run_active(const strata_node *n);
/* 1 if n is initialised and child `chip` (a chip child index) is alive. */
STRATA_HIDDEN int strata__level_chip_alive(strata_node *n, uint32_t chip);
/* 1 if chip child `chip` has reported INIT_DONE. */
STRATA_HIDDEN int strata__level_chip_ready(strata_node *n, uint32_t chip);
/* Number of chip children (0 if n is NULL or not initialised). */
STRATA_HIDDEN uint32_t strata__level_chips(const strata_node *n);

#endif
