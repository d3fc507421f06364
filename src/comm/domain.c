/* domain.c - communication domains: created by the node process (a zeroed,
 * uniquely named shm segment, mapped by every member chip on ALLOC_DOMAIN,
 * unlinked as soon as all have it), looked up by kernels in the chip
 * children, released by RELEASE_DOMAIN. A member lost during a run raises
 * the segment's abort word so its peers' waits fail instead of hanging. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "comm/comm_ext.h"
#include "comm/comm_int.h"

/* ---- child side: this process's domains ------------------------------------ */
static strata_comm *local[STRATA_COMM_MAX_DOMAINS];
static uint32_t comm_kernel = UINT32_MAX; /* the collective kernel's id on this chip */

strata_comm *strata_comm_lookup(uint32_t domain) {
  return domain < STRATA_COMM_MAX_DOMAINS ? local[domain] : NULL;
}

uint32_t strata__comm_kernel_id(void) { return comm_kernel; }

/* What a member chip of a hierarchical domain gets with ALLOC_DOMAIN. */
typedef struct hchip_blob {
  uint32_t magic, grank, gsize, pad;
  uint64_t gw_bytes;
  char seg[64], gw[64];
} hchip_blob;

static void *map_named(const char *name, size_t bytes) {
  int fd = shm_open(name, O_RDWR, 0600);
  if (fd < 0) return NULL;
  void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  return p == MAP_FAILED ? NULL : p;
}

static int map_domain(const uint64_t arg[4], const char *name, const hchip_blob *h, char *msg,
                      size_t len) {
  uint32_t domain = (uint32_t)arg[0], rank = (uint32_t)(arg[1] >> 32), n = (uint32_t)arg[1];
  size_t bytes = strata__dom_bytes(n, arg[2]);
  void *p = map_named(name, bytes), *g = h ? map_named(h->gw, h->gw_bytes) : NULL;
  strata_comm *c = strata__calloc(1, sizeof(*c));
  if (!p || !c || (h && !g)) {
    if (p) munmap(p, bytes);
    if (g) munmap(g, h->gw_bytes);
    strata__free(c);
    return snprintf(msg, len, "cannot map %zu B for domain %u (segment %s%s%s)", bytes, domain,
                    name, h ? ", gateway " : "", h ? h->gw : ""), STRATA_ENOMEM;
  }
  *c = (strata_comm){.domain = domain, .rank = rank, .nranks = n, .timeout_ms = (uint32_t)arg[3],
                     .window = arg[2], .hdr = p, .seg_bytes = bytes};
  if (h) c->gw = g, c->gw_bytes = h->gw_bytes, c->grank = h->grank, c->gsize = h->gsize;
  local[domain] = c;
  return 0;
}

static void unmap_domain(uint32_t domain) {
  strata_comm *c = strata_comm_lookup(domain);
  if (!c) return;
  munmap(c->hdr, c->seg_bytes);
  if (c->gw) munmap(c->gw, c->gw_bytes);
  strata__free(c);
  local[domain] = NULL;
}

/* Runs in a chip child: the extension controls of the comm layer. */
static int child_control(strata_chip *chip, uint32_t ctl, const uint64_t arg[4], const void *blob,
                         uint32_t blob_len, char *msg, size_t len) {
  if (!chip) return snprintf(msg, len, "domains are for chip children"), STRATA_EINVAL;
  if (ctl == STRATA__COMM_INIT) {
    if (comm_kernel != UINT32_MAX) return 0;
    return strata_chip_register_kernel(chip, "strata.comm", strata__comm_kernel, STRATA_CORE_AIV,
                                       &comm_kernel);
  }
  if (arg[0] >= STRATA_COMM_MAX_DOMAINS) return STRATA_EINVAL;
  if (ctl == STRATA__COMM_RELEASE_DOMAIN) return unmap_domain((uint32_t)arg[0]), 0;
  const hchip_blob *h = blob;
  if (blob_len == sizeof(*h) && h->magic == STRATA__HDOM_MAGIC) return map_domain(arg, h->seg, h, msg, len);
  char name[64];
  snprintf(name, sizeof(name), "%.*s", (int)(blob_len < 63 ? blob_len : 63), (const char *)blob);
  return map_domain(arg, name, NULL, msg, len);
}

/* ---- node side ------------------------------------------------------------------ */
typedef struct pdomain {
  int used;
  uint32_t n, chips[STRATA_NODE_MAX_CHILDREN];
  strata__dom_hdr *hdr;
  size_t bytes;
  char name[64];      /* linked in /dev/shm while members still have to map it */
  uint32_t pending;   /* members that have not mapped it yet */
  uint32_t gen;       /* bumped on release: late callbacks of a released domain */
  const strata__hdom_req *h; /* a node's part of a hierarchical domain (its chips' blobs) */
  char gw_name[64];   /* its gateway segment: unlinked with name, once every member mapped */
  int upper;          /* a domain of a level >= 4 worker: members are worker children */
  uint32_t workers[STRATA__GW_MAX_NODES], nworkers;
} pdomain;

/* Context of a deferred ALLOC_DOMAIN (no-barrier mode). */
typedef struct map_ticket {
  uint32_t d, gen;
} map_ticket;

typedef struct pcomm {
  pdomain d[STRATA_COMM_MAX_DOMAINS];
} pcomm;

static void child_lost(void *ctx, uint32_t child) {
  pcomm *pc = ctx;
  for (uint32_t d = 0; d < STRATA_COMM_MAX_DOMAINS; d++)
    for (uint32_t i = 0; pc->d[d].used && i < pc->d[d].n; i++)
      if (pc->d[d].chips[i] == child) WRITE_ONCE(pc->d[d].hdr->abort, 1);
}

static void unlink_name(pdomain *pd) {
  if (pd->name[0]) shm_unlink(pd->name);
  if (pd->gw_name[0]) shm_unlink(pd->gw_name);
  pd->name[0] = pd->gw_name[0] = '\0';
}

static const strata__ext_ops comm_ops;

static void release_one(strata_node *n, pcomm *pc, uint32_t d) {
  pdomain *pd = &pc->d[d];
  uint32_t gen = pd->gen + 1;
  unlink_name(pd);
  const uint64_t arg[4] = {d, 0, 0, 0};
  for (uint32_t i = 0; !pd->upper && i < pd->n; i++)
    if (strata__level_chip_alive(n, pd->chips[i]))
      strata__ext_control(n, pd->chips[i], &comm_ops, STRATA__COMM_RELEASE_DOMAIN, arg, NULL, 0, 1,
                          NULL, NULL);
  for (uint32_t i = 0; pd->upper && i < pd->nworkers; i++) /* each node releases its part */
    strata__ext_control(n, pd->workers[i], &comm_ops, STRATA__COMM_RELEASE_DOMAIN, arg, NULL, 0, 1,
                        NULL, NULL);
  if (pd->hdr) strata__shm_unmap(pd->hdr, pd->bytes);
  memset(pd, 0, sizeof(*pd));
  pd->gen = gen;
}

static void comm_close(strata_node *n, void *ctx) {
  pcomm *pc = ctx;
  for (uint32_t d = 0; d < STRATA_COMM_MAX_DOMAINS; d++)
    if (pc->d[d].used) release_one(n, pc, d);
  strata__ext_detach(n, &comm_ops); /* teardown reaps children after this */
  strata__free(pc);
}

static int worker_control(strata_node *w, uint32_t ctl, const uint64_t arg[4], const void *blob,
                          uint32_t blob_len, char *msg, size_t len);

static const char *op_name(uint32_t op) {
  return op == STRATA__COMM_INIT ? "COMM_INIT" : op == STRATA__COMM_ALLOC_DOMAIN ? "ALLOC_DOMAIN"
         : op == STRATA__COMM_RELEASE_DOMAIN ? "RELEASE_DOMAIN" : "comm ?";
}

/* The comm layer as an extension of a level worker (level_ext.h). */
static const strata__ext_ops comm_ops = {"comm", op_name, child_control, child_lost, comm_close,
                                         worker_control};

static pcomm *attach(strata_node *n) {
  pcomm *pc = strata__ext_ctx(n, &comm_ops);
  if (pc) return pc;
  pc = strata__calloc(1, sizeof(pcomm));
  if (!pc) return strata__fail(STRATA_ENOMEM, "out of memory for domains"), NULL;
  if (strata__ext_attach(n, &comm_ops, pc) != 0) return strata__free(pc), NULL;
  return pc;
}

/* chips[0..k) each below `limit` (a live chip child of n if live) and distinct. */
static int check_chip_list(strata_node *n, const uint32_t *chips, uint32_t k, uint32_t limit,
                           int live) {
  for (uint32_t i = 0; i < k; i++) {
    if (chips[i] >= limit || (live && !strata__level_chip_alive(n, chips[i])))
      return live ? strata__fail(STRATA_EINVAL, "domain_create: chip %u is not a live chip",
                                 chips[i])
                  : strata__fail(STRATA_EINVAL, "domain_create: chip %u does not exist (the "
                                 "tree has %u)", chips[i], limit);
    for (uint32_t j = 0; j < i; j++)
      if (chips[j] == chips[i])
        return strata__fail(STRATA_EINVAL, "domain_create: chip %u named twice", chips[i]);
  }
  return 0;
}

static int check_members(strata_node *n, const uint32_t *chips, uint32_t k, size_t window) {
  if (!n || strata__level_chips(n) == 0 || !chips || k == 0 || window < 64)
    return strata__fail(STRATA_EINVAL, "domain_create: needs an initialised L3 node, 1+ chips "
                        "and a window of at least 64 B");
  return check_chip_list(n, chips, k, strata__level_chips(n), 1);
}

/* A uniquely named, zeroed segment (the name lives until every member maps it). */
static strata__dom_hdr *create_segment(char *name, size_t nlen, uint32_t d, const uint32_t *chips,
                                       uint32_t k, size_t window, int32_t host_rank) {
  char what[24];
  snprintf(what, sizeof(what), "dom%u", d);
  strata__dom_hdr *h = strata__shm_map_named(what, strata__dom_bytes(k, window), name, nlen);
  if (!h) return NULL;
  *h = (strata__dom_hdr){STRATA__DOM_MAGIC, 1, k, d, window, strata__dom_stride(window), 0,
                         host_rank, {0}};
  memcpy(h->chip, chips, k * sizeof(*chips));
  return h;
}

/* A member mapped the segment (or failed to): the name goes once all have. */
static void mapped(strata_node *n, void *ctx, int rc) {
  map_ticket *t = ctx;
  pcomm *pc = strata__ext_ctx(n, &comm_ops);
  pdomain *pd = pc ? &pc->d[t->d] : NULL;
  if (pd && pd->used && pd->gen == t->gen && pd->pending > 0) {
    if (rc) WRITE_ONCE(pd->hdr->abort, 1); /* that rank will never join */
    if (--pd->pending == 0) unlink_name(pd);
  }
  strata__free(t);
}

/* Synchronous for ready members; queued until INIT_DONE for the others
 * (no-barrier mode), so fast members can start before slow ones join. */
static int member_control(strata_node *n, uint32_t chip, uint32_t ctl, const uint64_t arg[4],
                          const void *blob, uint32_t len, strata__ext_done_fn done, void *ctx) {
  int wait = strata__level_chip_ready(n, chip);
  int rc = strata__ext_control(n, chip, &comm_ops, ctl, arg, blob, len, wait, wait ? NULL : done,
                               ctx);
  if (wait && done) done(n, ctx, rc);
  return rc;
}

static int map_members(strata_node *n, pdomain *pd, uint32_t d, size_t window) {
  uint32_t timeout = (uint32_t)strata__env_u64("STRATA_COMM_TIMEOUT_MS", 30000, 1, 3600000, 0);
  const uint64_t init[4] = {0, 0, 0, 0};
  int rc = 0;
  pd->pending = pd->n;
  for (uint32_t i = 0; rc == 0 && i < pd->n; i++) {
    const uint64_t arg[4] = {d, ((uint64_t)i << 32) | pd->n, window, timeout};
    map_ticket *t = strata__calloc(1, sizeof(*t));
    if (!t) return strata__fail(STRATA_ENOMEM, "out of memory creating a domain");
    *t = (map_ticket){d, pd->gen};
    hchip_blob hb;
    const void *blob = pd->name;
    uint32_t blen = (uint32_t)strlen(pd->name) + 1;
    if (pd->h) {
      hb = (hchip_blob){STRATA__HDOM_MAGIC, pd->h->grank[i], pd->h->gsize, 0,
                        strata__gw_bytes(pd->h->nnodes, pd->h->cap), "", ""};
      snprintf(hb.seg, sizeof(hb.seg), "%s", pd->name);
      snprintf(hb.gw, sizeof(hb.gw), "%s", pd->h->gw_name);
      blob = &hb, blen = sizeof(hb);
    }
    rc = member_control(n, pd->chips[i], STRATA__COMM_INIT, init, NULL, 0, NULL, NULL);
    if (rc == 0)
      rc = member_control(n, pd->chips[i], STRATA__COMM_ALLOC_DOMAIN, arg, blob, blen, mapped, t);
    else
      strata__free(t);
  }
  return rc;
}

static int free_slot(pcomm *pc, uint32_t *d) {
  *d = 0;
  while (*d < STRATA_COMM_MAX_DOMAINS && pc->d[*d].used) (*d)++;
  if (*d == STRATA_COMM_MAX_DOMAINS)
    return strata__fail(STRATA_ENOSPC, "domain_create: %d domains already exist; release one",
                        STRATA_COMM_MAX_DOMAINS);
  return 0;
}

/* A one-node domain at slot d over this L3's chips; h: its part of a
 * hierarchical domain. */
static int create_at(strata_node *n, pcomm *pc, uint32_t d, const uint32_t *chips, uint32_t k,
                     size_t window, const strata__hdom_req *h) {
  pdomain *pd = &pc->d[d];
  pd->hdr = create_segment(pd->name, sizeof(pd->name), d, chips, k, window,
                           h ? (int32_t)h->node_rank[h->node] : -1);
  if (!pd->hdr) return strata__fail(STRATA_ENOMEM, "cannot create a %zu B domain segment in "
                                    "/dev/shm", strata__dom_bytes(k, window));
  pd->used = 1;
  pd->n = k;
  pd->h = h;
  if (h) snprintf(pd->gw_name, sizeof(pd->gw_name), "%s", h->gw_name);
  pd->bytes = strata__dom_bytes(k, window);
  memcpy(pd->chips, chips, k * sizeof(*chips));
  int rc = map_members(n, pd, d, window); /* unlinks the name once every member mapped it */
  pd->h = NULL;
  if (rc) release_one(n, pc, d);
  return rc;
}

static int upper_create(strata_node *n, const uint32_t *chips, uint32_t k, size_t window,
                        uint32_t *domain);

int strata_node_domain_create(strata_node *n, const uint32_t *chips, uint32_t k, size_t window,
                              uint32_t *domain) {
  window = (window + 63) & ~(size_t)63;
  if (n && domain && strata__level_workers(n) > 0) return upper_create(n, chips, k, window, domain);
  int rc = domain ? check_members(n, chips, k, window) : strata__fail(STRATA_EINVAL, "domain is NULL");
  pcomm *pc = rc ? NULL : attach(n);
  if (!pc) return rc ? rc : STRATA_ENOMEM;
  uint32_t d = 0;
  rc = free_slot(pc, &d);
  if (rc == 0) rc = create_at(n, pc, d, chips, k, window, NULL);
  if (rc == 0) *domain = d;
  return rc;
}

/* ---- domains over the chips of several nodes (comm_ext.h) ---------------------- */
/* In an L3 worker child: its part of a hierarchical domain, at the slot the
 * root chose. The gateway segment was created by this node's rank. */
static int worker_control(strata_node *w, uint32_t ctl, const uint64_t arg[4], const void *blob,
                          uint32_t blob_len, char *msg, size_t len) {
  pcomm *pc = attach(w);
  uint32_t d = (uint32_t)arg[0];
  if (!pc || d >= STRATA_COMM_MAX_DOMAINS)
    return snprintf(msg, len, "domain %u: out of memory or out of range", d), STRATA_EINVAL;
  if (ctl == STRATA__COMM_RELEASE_DOMAIN) {
    if (pc->d[d].used) release_one(w, pc, d);
    return 0;
  }
  const strata__hdom_req *h = blob;
  if (ctl != STRATA__COMM_ALLOC_DOMAIN || blob_len != sizeof(*h) || h->magic != STRATA__HDOM_MAGIC)
    return snprintf(msg, len, "control %u is not a domain control for a node", ctl), STRATA_EINVAL;
  if (!h->gw_name[0])
    return snprintf(msg, len, "a domain over chips of several nodes needs their ranks' "
                    "gateways: run the program under mpirun (one L3 node per rank)"), STRATA_ENOSYS;
  if (pc->d[d].used) return snprintf(msg, len, "domain %u already exists here", d), STRATA_EBUSY;
  int rc = create_at(w, pc, d, h->local_chip, h->nlocal, h->window, h);
  if (rc) snprintf(msg, len, "%s", strata_last_error());
  return rc;
}

static int upper_check(strata_node *n, const uint32_t *chips, uint32_t k, size_t window) {
  if (!chips || k == 0 || k > STRATA_NODE_MAX_CHILDREN || window < 64)
    return strata__fail(STRATA_EINVAL, "domain_create: 1..%d chips and a window of at least "
                        "64 B", STRATA_NODE_MAX_CHILDREN);
  return check_chip_list(n, chips, k, strata_node_chips(n), 0);
}

/* The request for every node with members: node g = the g-th such worker. */
static void upper_plan(strata_node *n, pdomain *pd, strata__hdom_req *h, size_t window) {
  uint32_t per = strata_node_chips(n) / strata__level_workers(n), node_of[STRATA_NODE_MAX_CHILDREN];
  memset(h, 0, sizeof(*h));
  for (uint32_t w = 0; w < strata__level_workers(n); w++) node_of[w] = UINT32_MAX;
  for (uint32_t q = 0; q < pd->n; q++) {
    uint32_t w = pd->chips[q] / per;
    if (node_of[w] == UINT32_MAX) node_of[w] = pd->nworkers, pd->workers[pd->nworkers++] = w;
  }
  uint32_t count[STRATA__GW_MAX_NODES] = {0};
  for (uint32_t q = 0; q < pd->n; q++) {
    uint32_t g = node_of[pd->chips[q] / per];
    h->gnode[q] = (uint16_t)g;
    h->glocal[q] = (uint16_t)count[g]++;
    if (count[g] > h->maxlocal) h->maxlocal = count[g];
  }
  for (uint32_t g = 0; g < pd->nworkers; g++) h->node_rank[g] = pd->workers[g];
  h->magic = STRATA__HDOM_MAGIC;
  h->window = h->cap = window;
  h->timeout_ms = (uint32_t)strata__env_u64("STRATA_COMM_TIMEOUT_MS", 30000, 1, 3600000, 0);
  h->gsize = pd->n;
  h->nnodes = pd->nworkers;
}

/* Node g's part: its chips (local indices of its worker) and their ranks. */
static void upper_node(strata_node *n, const pdomain *pd, strata__hdom_req *h, uint32_t g) {
  uint32_t per = strata_node_chips(n) / strata__level_workers(n);
  h->node = g;
  h->nlocal = 0;
  for (uint32_t q = 0; q < pd->n; q++)
    if (h->gnode[q] == g) {
      h->local_chip[h->nlocal] = pd->chips[q] - pd->workers[g] * per;
      h->grank[h->nlocal++] = q;
    }
}

static int upper_create(strata_node *n, const uint32_t *chips, uint32_t k, size_t window,
                        uint32_t *domain) {
  int rc = upper_check(n, chips, k, window);
  pcomm *pc = rc ? NULL : attach(n);
  uint32_t d = 0;
  if (!pc) return rc ? rc : STRATA_ENOMEM;
  rc = free_slot(pc, &d);
  strata__hdom_req *h = rc ? NULL : strata__calloc(1, sizeof(*h));
  if (!h) return rc ? rc : strata__fail(STRATA_ENOMEM, "out of memory creating a domain");
  pdomain *pd = &pc->d[d];
  pd->used = pd->upper = 1;
  pd->n = k;
  memcpy(pd->chips, chips, k * sizeof(*chips));
  upper_plan(n, pd, h, window);
  h->domain = d;
  const uint64_t arg[4] = {d, 0, window, 0};
  for (uint32_t g = 0; rc == 0 && g < pd->nworkers; g++) {
    upper_node(n, pd, h, g);
    rc = strata__ext_control(n, pd->workers[g], &comm_ops, STRATA__COMM_ALLOC_DOMAIN, arg, h,
                             sizeof(*h), 1, NULL, NULL);
  }
  strata__free(h);
  if (rc) return release_one(n, pc, d), rc;
  *domain = d;
  return 0;
}

int strata_node_domain_release(strata_node *n, uint32_t d) {
  pcomm *pc = strata__ext_ctx(n, &comm_ops);
  if (!pc || d >= STRATA_COMM_MAX_DOMAINS || !pc->d[d].used)
    return strata__fail(STRATA_EINVAL, "domain_release: domain %u does not exist (or node is "
                        "NULL); release a domain returned by strata_node_domain_create", d);
  if (strata__level_run_active(n))
    return strata__fail(STRATA_EBUSY, "domain_release: a node run is in progress; release "
                        "the domain after it drains");
  release_one(n, pc, d);
  return 0;
}

const strata__ext_ops *strata__comm_ext_ops(void) { return &comm_ops; }
