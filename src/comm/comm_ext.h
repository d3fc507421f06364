/* comm_ext.h - what the comm layer offers the layers above it (src/mpi):
 * its extension ops (to name extension controls that travel between ranks),
 * the request that creates a hierarchical domain on one node, and the
 * gateway segment through which a node's chips hand the between-node step
 * of a collective to their rank's gateway (the MPI thread).
 *
 * Hierarchical domain over chips of several nodes (SPEC §4, §6): every node
 * with members holds an ordinary domain over its own members (shm steps) and
 * one gateway segment, created and mapped by its rank's gateway before the
 * node's chips map it:
 *
 *   [strata__gw_hdr: STRATA__GW_HDR_BYTES][buffer set 0][buffer set 1]
 *   buffer set = [in: cap][out: nnodes x cap]; epoch e uses set e % 2
 *
 * Exchange of epoch e (counters never reset; wrap-safe comparisons):
 *   chips:   write in[e] (the leader, or every chip at its offset followed by
 *            a local barrier); leader: len[e % 2], then req = e (release, wake)
 *   gateway: in epoch order; sees req >= e (acquire) and ack[l] >= e - 2 for
 *            every member l (acquire: each finished reading epoch e - 2, the
 *            last use of this set); copies in[e] to out[e][node] (unless
 *            self_in: an allreduce reads its own part from in[e]), sends in[e]
 *            to every other node and receives theirs into out[e][g]; once all
 *            completed: done = e (release, wake)
 *   chips:   wait done >= e (acquire), read out[e], ack[own] = e (release)
 * A chip writes in[e] only after ack[l] >= e - 2 for every member l
 * (acquire): each finished reading epoch e - 2, in[e - 2] included (an
 * allreduce reads its own node's part there), and the gateway, which sent it
 * before done, no longer reads it. A per-member ack, not a count: members
 * that finished later epochs (a broadcast off the root's node has no local
 * step to hold them) cannot stand in for one still reading. So an allreduce
 * can compute chunk e + 1 while e travels (two epochs in flight). abort
 * (gateway: a node was lost) fails every wait.
 */
#ifndef STRATA_COMM_EXT_H
#define STRATA_COMM_EXT_H

#include "level/level_ext.h"
#include "platform/atomics.h"

#define STRATA__GW_MAGIC 0x53544757u  /* "STGW" */
#define STRATA__HDOM_MAGIC 0x5354484du /* "STHM" */
#define STRATA__GW_MAX_NODES 64
#define STRATA__GW_MAX_RANKS 1024
#define STRATA__GW_HDR_BYTES 16384u

/* A counter other processes wait on (futex): value (release / acquire) and
 * the number of parked waiters (smp_mb on both sides, as in event.h). */
typedef struct strata__signal {
  _Atomic uint32_t value;
  _Atomic uint32_t waiters;
  char pad[56];
} strata__signal;
_Static_assert(sizeof(strata__signal) == 64, "one signal per cache line");

/* Head of a gateway segment. Written by the gateway before any chip maps
 * it, except the signals and len (see the protocol above). */
typedef struct strata__gw_hdr {
  uint32_t magic, domain, nnodes, node, nlocal, maxlocal, gsize, pad;
  uint64_t cap;                                /* bytes of `in` and of each out[g] */
  uint32_t node_rank[STRATA__GW_MAX_NODES];    /* the MPI rank hosting node g */
  uint16_t gnode[STRATA__GW_MAX_RANKS];        /* domain rank q lives on node gnode[q] */
  uint16_t glocal[STRATA__GW_MAX_RANKS];       /* ... as local member glocal[q] */
  strata__signal req;                          /* leader */
  strata__signal done;                         /* gateway */
  strata__signal ack[STRATA_NODE_MAX_CHILDREN]; /* member l: last epoch it finished */
  uint64_t len[2];                             /* leader, before req (per set) */
  uint32_t self_in[2];                         /* leader, before req: 1 = the node's
                                                  own part is read from in (no copy) */
  _Atomic uint32_t abort;                      /* gateway */
  _Atomic uint32_t moved;                      /* gateway: +1 per transfer completed
                                                  (relaxed: progress only, SPEC §4) */
  _Atomic int32_t wait_rank;                   /* gateway: a rank whose transfer of the
                                                  current exchange is pending, or -1
                                                  (relaxed: names a stopped peer) */
} strata__gw_hdr;
_Static_assert(sizeof(strata__gw_hdr) <= STRATA__GW_HDR_BYTES, "gateway header fits");

static inline unsigned char *strata__gw_in(strata__gw_hdr *g, uint32_t e) {
  return (unsigned char *)g + STRATA__GW_HDR_BYTES + (size_t)(e & 1) * (1 + g->nnodes) * g->cap;
}
static inline unsigned char *strata__gw_out(strata__gw_hdr *g, uint32_t node, uint32_t e) {
  return strata__gw_in(g, e) + (size_t)(1 + node) * g->cap;
}
static inline size_t strata__gw_bytes(uint32_t nnodes, uint64_t cap) {
  return STRATA__GW_HDR_BYTES + 2 * (size_t)(1 + nnodes) * cap;
}

/* ALLOC_DOMAIN of a hierarchical domain, as the root sends it to a worker
 * child hosting members (the blob); the hosting rank's gateway fills
 * gw_name (and creates that segment) on its way to the child. */
typedef struct strata__hdom_req {
  uint32_t magic, domain, timeout_ms, nlocal;
  uint64_t window, cap;
  uint32_t nnodes, node, gsize, maxlocal;
  uint32_t local_chip[STRATA_NODE_MAX_CHILDREN]; /* the worker's chips, member order */
  uint32_t grank[STRATA_NODE_MAX_CHILDREN];      /* their domain ranks */
  uint32_t node_rank[STRATA__GW_MAX_NODES];      /* worker index = MPI rank of node g */
  uint16_t gnode[STRATA__GW_MAX_RANKS], glocal[STRATA__GW_MAX_RANKS];
  char gw_name[64];
} strata__hdom_req;

/* The comm layer's operations, carried by the engine's one extension control
 * (STRATA_CTL_EXT, ext "comm"). */
enum { STRATA__COMM_INIT = 1, STRATA__COMM_ALLOC_DOMAIN, STRATA__COMM_RELEASE_DOMAIN };

/* The comm layer's extension ops (level_ext.h). */
STRATA_HIDDEN const strata__ext_ops *strata__comm_ext_ops(void);

/* Gateway side: post a signal (release store of v, wake parked chips). */
STRATA_HIDDEN void strata__signal_post(strata__signal *s, uint32_t v);

#endif
