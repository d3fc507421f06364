/* mpi_int.h - private structures of the multi-host layer (SPEC §6): the
 * level engine's remote children carried over Open MPI.
 *
 * DESIGN
 * Under `mpirun -np H`, a root worker of level >= 4 has H worker children;
 * child r is hosted by rank r. Every rank runs one MPI thread (on ranks >= 1
 * the main thread, which never returns from strata_node_init; on rank 0 a
 * thread started after every fork), the only caller of MPI in the process.
 * It plays up to three roles, all polled, none blocking:
 *
 *   bridge (rank 0): takes a request the engine posted into remote child r's
 *                    mailbox (level_ext.h: strata__port_take), sends it to
 *                    rank r, writes the reply back (strata__port_reply);
 *   relay  (every rank): posts requests from rank 0 into the mailbox of the
 *                    one child this rank hosts (its mirror), sends replies,
 *                    INIT_DONE and the child's death back to rank 0;
 *   gateway (every rank): the between-node step of hierarchical collectives
 *                    (gateway.c).
 *
 * Rank 0 sends to itself through MPI like to any rank, so every child takes
 * the same path. Liveness: every rank sends a heartbeat to rank 0 and rank 0
 * to every rank; a peer silent for STRATA_MPI_PEER_TIMEOUT_MS (or an MPI
 * error talking to it) is lost. Rank 0 reports its child as lost, naming the
 * rank; a rank that loses rank 0 kills its subtree and exits. Nothing waits
 * in MPI: every request is tested against the clock (MPI_ERRORS_RETURN).
 */
#ifndef STRATA_MPI_INT_H
#define STRATA_MPI_INT_H

#include <mpi.h>
#include <pthread.h>
#include <string.h>

#include "level/level_ext.h"
#include "platform/atomics.h"
#include "platform/event.h"
#include "platform/platform_int.h"

#define STRATA_MPI_MAX_RANKS 64
#define STRATA_MPI_TAG_CTRL 1
#define STRATA_MPI_TAG_GW 2 /* + domain: gateway data */

enum {
  WIRE_REQ = 1, /* 0 -> r: a mailbox request for child r */
  WIRE_REP,     /* r -> 0: its reply (or INIT_DONE / INIT_FAILED) */
  WIRE_LOST,    /* r -> 0: the child is gone (wstatus, message) */
  WIRE_KILL,    /* 0 -> r: kill the child now */
  WIRE_HB,      /* both ways: alive */
  WIRE_GO,      /* 0 -> r: every rank is ready */
  WIRE_BYE,     /* 0 -> r: the worker is closed on every rank (end of a lifetime) */
  WIRE_PING,    /* r -> 0: arg[0] = r's clock (clock offset for traces) */
  WIRE_PONG,    /* 0 -> r: arg[0] echoed, arg[1] = rank 0's clock */
  WIRE_STOPPED  /* r -> 0: arg[0] = 1 if r's child is stopped now, 0 if continued */
};

/* What travels on STRATA_MPI_TAG_CTRL: this header, then the mailbox message
 * up to its blob_len. */
typedef struct wire_hdr {
  uint32_t type, child;
  int32_t wstatus;
  uint32_t gen; /* the worker's lifetime (claims so far): older ones are dropped */
} wire_hdr;

typedef struct wire_msg {
  wire_hdr h;
  strata__mbox_msg m;
} wire_msg;

static inline size_t wire_len(const wire_msg *w) {
  size_t head = offsetof(wire_msg, m) + offsetof(strata__mbox_msg, blob);
  return w->h.type == WIRE_REQ || w->h.type == WIRE_REP || w->h.type == WIRE_LOST ||
                 w->h.type == WIRE_PING || w->h.type == WIRE_PONG || w->h.type == WIRE_STOPPED
             ? head + w->m.blob_len : offsetof(wire_msg, m);
}

/* w's header and message head zeroed (not the blob), then type and child:
 * a message built from scratch. Returns w. */
static inline wire_msg *wire_head(wire_msg *w, uint32_t type, uint32_t child) {
  memset(w, 0, offsetof(wire_msg, m) + offsetof(strata__mbox_msg, blob));
  w->h.type = type;
  w->h.child = child;
  return w;
}

/* A send in flight (its buffer lives until the send completes). */
typedef struct sendq {
  MPI_Request req;
  int peer;
  struct sendq *next;
  size_t len;
  unsigned char buf[];
} sendq;

struct strata__gw_table; /* gateway.c */

/* The process's MPI session: started by the first multi-host worker, kept
 * across workers, finalized at exit (never after a lost peer). */
typedef struct strata__mpi_proc {
  int up, failed, serve_return;
  MPI_Comm comm;
  MPI_Request rreq;                /* the one posted control receive */
  wire_msg *rbuf;
  int held, held_from;             /* a message of the next lifetime waits in rbuf */
  uint32_t gen;                    /* lifetimes started */
  struct strata__mpi *live;        /* rank 0: the worker whose MPI thread runs (engine
                                      thread writes at start and after the join) */
} strata__mpi_proc;
STRATA_HIDDEN extern strata__mpi_proc strata__mpi_session;

typedef struct strata__mpi {
  int rank, size;
  MPI_Comm comm;
  uint32_t gen;                    /* this worker's lifetime */
  strata_node *root;               /* rank 0: the worker whose children are remote */
  strata_node *mirror;             /* the child this rank hosts */
  /* the thread (rank 0) */
  pthread_t thread;
  int thread_started;
  _Atomic uint32_t stop;           /* engine: the worker is closing */
  _Atomic uint32_t abandon;        /* exit handler: the process ends with the worker
                                      open: end the job, then leave the loop */
  _Atomic uint64_t kill_mask;      /* engine sets (kill op), MPI thread takes: a bit per rank */
  /* control traffic */
  sendq *sends;
  int bye_sent, bye_seen;
  /* liveness */
  uint64_t heard[STRATA_MPI_MAX_RANKS], last_hb, peer_timeout_ns;
  int lost[STRATA_MPI_MAX_RANKS];
  int failed;                      /* a peer was lost: no MPI_Finalize */
  /* bridge (rank 0) */
  int gone[STRATA_MPI_MAX_RANKS];  /* remote child reported lost */
  _Atomic int stopped[STRATA_MPI_MAX_RANKS]; /* MPI thread writes (WIRE_STOPPED), the
                                     engine reads at a deadline (relaxed: a hint) */
  int ready[STRATA_MPI_MAX_RANKS];
  int go_sent;
  /* relay */
  int relay_busy, relay_done;      /* a request in the child's hands; the child is gone */
  int child_stopped;               /* last stop state sent to rank 0 */
  uint64_t stop_checked;           /* when the child's /proc state was read last */
  wire_msg *scratch;               /* one message being built */
  char host[64];
  uint64_t digest;                 /* strata__registry_digest of this rank's worker */
  struct strata__gw_table *gw;
  /* clock offset to rank 0 (NTP-style, the round trip with the least delay) */
  uint32_t pings;
  uint64_t best_rtt;
  int64_t best_off;
  uint64_t last_activity;
  strata__event wake;              /* parks the loop when there is no mirror */
} strata__mpi;

/* ---- transport.c: the MPI thread's loop and the control traffic ---- */
STRATA_HIDDEN int strata__mpi_start(strata__mpi *st);
STRATA_HIDDEN void strata__mpi_loop(strata__mpi *st);
STRATA_HIDDEN void strata__mpi_finish(strata__mpi *st);
STRATA_HIDDEN void strata__mpi_end_process(int status) __attribute__((noreturn));
/* Send w (copied) to peer; errors mark the peer lost. */
STRATA_HIDDEN void strata__mpi_send(strata__mpi *st, int peer, const wire_msg *w);
STRATA_HIDDEN void strata__mpi_peer_lost(strata__mpi *st, int peer, const char *why);
STRATA_HIDDEN void strata__mpi_errstr(int rc, char *buf, size_t len);

/* ---- bridge.c (rank 0) ---- */
STRATA_HIDDEN extern const strata__remote_ops strata__bridge_ops;
STRATA_HIDDEN void strata__bridge_poll(strata__mpi *st);
STRATA_HIDDEN void strata__bridge_on(strata__mpi *st, int from, const wire_msg *w);
STRATA_HIDDEN void strata__bridge_peer_lost(strata__mpi *st, int peer, const char *why);
STRATA_HIDDEN int strata__bridge_done(strata__mpi *st);
/* Kill every rank's subtree (a failure, or the process exits mid-job). */
STRATA_HIDDEN void strata__bridge_end_job(strata__mpi *st);
/* At exit with the worker still open: end the job, stop and join the MPI
 * thread (MPI must not be finalized under it). */
STRATA_HIDDEN void strata__bridge_abandon(strata__mpi *st);

/* ---- relay.c (every rank) ---- */
STRATA_HIDDEN void strata__relay_poll(strata__mpi *st);
STRATA_HIDDEN void strata__relay_on(strata__mpi *st, wire_msg *w);
/* Serve child `rank` for rank 0 until it closes the worker: then end the
 * process, or return STRATA_MPI_SERVED in serve-return mode. */
STRATA_HIDDEN int strata__serve_rank(strata_node *n, strata__mpi *st);

/* ---- gateway.c ---- */
STRATA_HIDDEN int strata__gw_poll(strata__mpi *st); /* 1 if it moved data */
STRATA_HIDDEN int strata__gw_active(const strata__mpi *st);
STRATA_HIDDEN int strata__gw_park(strata__mpi *st, uint64_t deadline);
STRATA_HIDDEN void strata__gw_close_all(strata__mpi *st);
/* Relay: a hierarchical ALLOC_DOMAIN / RELEASE_DOMAIN on its way to the
 * child; the gateway maps or drops its segment (msg's blob names it). */
STRATA_HIDDEN int strata__gw_control(strata__mpi *st, strata__mbox_msg *m);
/* The node answered a control: names it had to map are unlinked. */
STRATA_HIDDEN void strata__gw_replied(strata__mpi *st, const strata__mbox_msg *m);
STRATA_HIDDEN void strata__gw_peer_lost(strata__mpi *st, int peer);

/* ---- host.c: the rank's fork server ---- */
/* Fork the server once (before MPI_Init: no thread may exist yet). */
STRATA_HIDDEN int strata__host_start(void);
/* Child c of n, forked by the server: its mirror here. */
STRATA_HIDDEN int strata__host_mirror(const strata_node *n, uint32_t c, strata_node **out);

/* ---- rank.c ---- */
STRATA_HIDDEN int strata__mpi_env(int *rank, int *size);
STRATA_HIDDEN void strata__mpi_worker_closed(void);

#endif
