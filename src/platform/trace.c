/* trace.c - the event recorder (trace_rec.h): per-thread buffers, flushes into
 * Chrome trace-event JSON lines, and the final merge into one file.
 *
 * DESIGN: a thread takes a buffer on its first record (registry mutex, once
 * per thread) and is its only writer until it exits (a pthread key
 * destructor frees the buffer for the next thread). Flushes run when the
 * recording threads of a run are joined (join orders their writes before
 * the flush's reads). Every process appends whole lines with O_APPEND writes
 * to <file>.lines; the process that started tracing merges them into <file>
 * at strata_trace_stop() or exit. Forked children drop what they inherited.
 * Under mpirun, rank r > 0 writes <file>.rank<r>, its timestamps shifted at
 * the merge by the offset of its clock to rank 0's (measured by the MPI
 * layer); strata_trace_merge joins the ranks' files into one timeline.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "platform/trace_rec.h"
#include "strata/trace.h"

/* Records per thread (STRATA_TRACE_BUFFER): bounded memory, drops beyond.
 * Pages are touched only as records arrive. */
static uint32_t tbuf_cap = 1u << 18;
#define MAX_STRINGS 512
#define OUT_CHUNK (1u << 16)

_Atomic int strata__trace_level_v;
static _Atomic int64_t clock_offset_ns; /* rank 0's clock minus this rank's */

void strata__trace_set_clock_offset(int64_t ns) { store_release(&clock_offset_ns, ns); }

typedef struct tbuf {
  strata__tev *ev;
  uint32_t n, tid_hint;
  uint64_t dropped;
  int busy; /* owned by a live thread (registry mutex) */
  struct tbuf *next;
} tbuf;

static pthread_mutex_t reg = PTHREAD_MUTEX_INITIALIZER;
static tbuf *bufs;
static _Thread_local tbuf *mine;
static pthread_key_t exit_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static char path[512];
static pid_t root_pid;
static uint64_t flushes, flow_seq;
static char *strings[MAX_STRINGS];
static char process_label[128];
static uint32_t nstrings;

/* ---- recording --------------------------------------------------------------- */
static void release_buf(void *p) {
  pthread_mutex_lock(&reg);
  ((tbuf *)p)->busy = 0;
  pthread_mutex_unlock(&reg);
}

static void make_key(void) { pthread_key_create(&exit_key, release_buf); }

static tbuf *take_buf(void) {
  pthread_once(&key_once, make_key);
  pthread_mutex_lock(&reg);
  tbuf *b = bufs;
  while (b && (b->busy || b->n)) b = b->next; /* a free, drained buffer */
  if (!b && (b = calloc(1, sizeof(*b))) && (b->ev = malloc(tbuf_cap * sizeof(strata__tev)))) {
    b->next = bufs;
    bufs = b;
  } else if (b && !b->ev) {
    free(b);
    b = NULL;
  }
  if (b) b->busy = 1;
  pthread_mutex_unlock(&reg);
  if (b) pthread_setspecific(exit_key, b);
  return b;
}

void strata__trace_record(const strata__tev *e) {
  tbuf *b = mine ? mine : (mine = take_buf());
  if (!b) return;
  if (b->n < tbuf_cap) b->ev[b->n++] = *e;
  else b->dropped++;
}

uint32_t strata__trace_intern(const char *s) {
  pthread_mutex_lock(&reg);
  uint32_t i = 0;
  while (i < nstrings && strcmp(strings[i], s) != 0) i++;
  if (i == nstrings && nstrings < MAX_STRINGS && (strings[i] = strdup(s))) nstrings++;
  pthread_mutex_unlock(&reg);
  return i < nstrings ? i : 0;
}

void strata__trace_instant(const char *name, const char *msg, uint64_t task, uint32_t tid) {
  if (!strata__trace_on(1)) return;
  strata__tev e = {strata__now_ns(), 0, task, 0, STRATA_TEV_INSTANT, tid,
                   strata__trace_intern(name), strata__trace_intern(msg), 0};
  strata__trace_record(&e);
}

static const char *string_at(uint32_t i) { return i < nstrings ? strings[i] : "?"; }

/* ---- output buffer: whole lines, appended atomically ---------------------------- */
typedef struct out {
  char buf[OUT_CHUNK + 2048];
  size_t len;
  int fd;
} out;

static void out_flush(out *o) {
  for (size_t off = 0; off < o->len;) {
    ssize_t w = write(o->fd, o->buf + off, o->len - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    off += (size_t)w;
  }
  o->len = 0;
}

static void out_line(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_line(out *o, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(o->buf + o->len, sizeof(o->buf) - o->len - 1, fmt, ap);
  va_end(ap);
  if (k < 0 || (size_t)k >= sizeof(o->buf) - o->len - 1) return; /* a line too long: dropped */
  o->len += (size_t)k;
  o->buf[o->len++] = '\n';
  if (o->len >= OUT_CHUNK) out_flush(o);
}

const char *strata__json_escape(const char *s, char *buf, size_t len) {
  size_t k = 0;
  for (; s && *s && k + 7 < len; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') buf[k++] = '\\', buf[k++] = (char)c;
    else if (c < 0x20) k += (size_t)snprintf(buf + k, len - k, "\\u%04x", c);
    else buf[k++] = (char)c;
  }
  buf[k] = '\0';
  return buf;
}

static double us(uint64_t ns) { return (double)ns / 1000.0; }

/* ---- flush: records -> JSON lines ------------------------------------------------ */
typedef struct recs {
  strata__tev *ev;
  size_t n;
  uint64_t dropped;
} recs;

static int take_records(recs *r) {
  size_t total = 0;
  pthread_mutex_lock(&reg);
  for (tbuf *b = bufs; b; b = b->next) total += b->n;
  r->ev = malloc((total ? total : 1) * sizeof(strata__tev));
  r->n = r->dropped = 0;
  for (tbuf *b = bufs; b && r->ev; b = b->next) {
    memcpy(r->ev + r->n, b->ev, b->n * sizeof(strata__tev));
    r->n += b->n;
    r->dropped += b->dropped;
    b->n = 0;
    b->dropped = 0;
  }
  pthread_mutex_unlock(&reg);
  return r->ev ? 0 : -1;
}

/* The tasks of one flush, by id (open addressing), for deps and flows. */
typedef struct tmap {
  const strata__tev **slot;
  size_t mask;
} tmap;

static size_t hash_id(uint64_t id) { return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 17); }

static int tmap_build(tmap *m, const recs *r, uint32_t type) {
  size_t cap = 16;
  while (cap < 2 * r->n + 16) cap <<= 1;
  m->slot = calloc(cap, sizeof(*m->slot));
  m->mask = cap - 1;
  for (size_t i = 0; m->slot && i < r->n; i++) {
    if (r->ev[i].type != type) continue;
    size_t h = hash_id(r->ev[i].id) & m->mask;
    while (m->slot[h]) h = (h + 1) & m->mask;
    m->slot[h] = &r->ev[i];
  }
  return m->slot ? 0 : -1;
}

static const strata__tev *tmap_get(const tmap *m, uint64_t id) {
  for (size_t h = hash_id(id) & m->mask; m->slot[h]; h = (h + 1) & m->mask)
    if (m->slot[h]->id == id) return m->slot[h];
  return NULL;
}

typedef struct flush_ctx {
  out *o;
  int pid;
  uint64_t run;
  const recs *r;
  tmap tasks, spans;
  strata__trace_namer namer;
  void *nctx;
} flush_ctx;

static void key(const flush_ctx *f, uint64_t id, int level, char *buf, size_t len) {
  snprintf(buf, len, "%d.%llu.%s%llx", f->pid, (unsigned long long)f->run, level ? "L" : "",
           (unsigned long long)id);
}

/* ",\"deps\":[...]" of the producers of task id (level 3 records only; an
 * empty list says the task had none, so a reader knows deps were traced). */
static void deps_of(const flush_ctx *f, uint64_t id, int level, char *buf, size_t len) {
  size_t k = (size_t)snprintf(buf, len, ",\"deps\":[");
  char kb[64];
  for (size_t i = 0, n = 0; i < f->r->n && k + 80 < len; i++) {
    const strata__tev *e = &f->r->ev[i];
    if (e->type != STRATA_TEV_EDGE || e->id != id || (int)e->aux != level) continue;
    key(f, e->a, level, kb, sizeof(kb));
    k += (size_t)snprintf(buf + k, len - k, "%s\"%s\"", n++ ? "," : "", kb);
  }
  snprintf(buf + k, len - k, "]");
}

static void write_task(const flush_ctx *f, const strata__tev *e, int level) {
  char name[96], kb[64], deps[1024] = "", ready[96] = "";
  key(f, e->id, level, kb, sizeof(kb));
  if (strata__trace_on(3)) deps_of(f, e->id, level, deps, sizeof(deps));
  size_t k = 0;
  if (e->a) k = (size_t)snprintf(ready, sizeof(ready), ",\"ready_ts\":%.3f", us(e->a));
  if (e->b) snprintf(ready + k, sizeof(ready) - k, ",\"tensors\":%u,\"bytes\":%llu",
                     (unsigned)(e->b >> 56), (unsigned long long)(e->b & ((1ull << 56) - 1)));
  out_line(f->o, "{\"name\":\"%s\",\"cat\":\"%s\",\"ph\":\"X\",\"ts\":%.3f,\"dur\":%.3f,"
           "\"pid\":%d,\"tid\":%u,\"args\":{\"task\":\"%s\",\"%s\":%u%s%s}}",
           strata__json_escape(f->namer ? f->namer(f->nctx, e->name) : "task", name, sizeof(name)),
           level ? "level" : "task", us(e->ts), us(e->dur), f->pid, e->tid, kb,
           level ? "child" : "core", e->aux, ready, deps);
}

static void write_flow(const flush_ctx *f, const strata__tev *e) {
  const tmap *m = e->aux ? &f->spans : &f->tasks;
  const strata__tev *p = tmap_get(m, e->a), *c = tmap_get(m, e->id);
  if (!p || !c) return;
  uint64_t id = ++flow_seq;
  double at = us(p->ts + p->dur) - (p->dur ? 0.001 : 0);
  out_line(f->o, "{\"name\":\"dep\",\"cat\":\"dep\",\"ph\":\"s\",\"id\":\"%d.%llu\","
           "\"ts\":%.3f,\"pid\":%d,\"tid\":%u}", f->pid, (unsigned long long)id, at, f->pid, p->tid);
  out_line(f->o, "{\"name\":\"dep\",\"cat\":\"dep\",\"ph\":\"f\",\"bp\":\"e\","
           "\"id\":\"%d.%llu\",\"ts\":%.3f,\"pid\":%d,\"tid\":%u}", f->pid,
           (unsigned long long)id, us(c->ts), f->pid, c->tid);
}

static void write_instant(const flush_ctx *f, const strata__tev *e) {
  char name[96], msg[768], kb[64] = "";
  if (e->id) key(f, e->id, 0, kb, sizeof(kb));
  out_line(f->o, "{\"name\":\"%s\",\"cat\":\"event\",\"ph\":\"i\",\"s\":\"p\",\"ts\":%.3f,"
           "\"pid\":%d,\"tid\":%u,\"args\":{\"msg\":\"%s\",\"task\":\"%s\"}}",
           strata__json_escape(string_at(e->name), name, sizeof(name)), us(e->ts), f->pid, e->tid,
           strata__json_escape(string_at(e->aux), msg, sizeof(msg)), kb);
}

static void write_step(const flush_ctx *f, const strata__tev *e) {
  out_line(f->o, "{\"name\":\"collective step\",\"cat\":\"comm\",\"ph\":\"X\",\"ts\":%.3f,"
           "\"dur\":%.3f,\"pid\":%d,\"tid\":%u,\"args\":{\"domain\":%u,\"step\":%llu,"
           "\"rank\":%llu,\"ranks\":%u}}", us(e->ts), us(e->dur), f->pid, e->tid, e->name,
           (unsigned long long)e->id, (unsigned long long)e->a, e->aux);
}

static void write_dispatch(const flush_ctx *f, const strata__tev *e) {
  char kb[64];
  key(f, e->id, 0, kb, sizeof(kb));
  out_line(f->o, "{\"name\":\"dispatch\",\"cat\":\"sched\",\"ph\":\"i\",\"s\":\"t\","
           "\"ts\":%.3f,\"pid\":%d,\"tid\":%u,\"args\":{\"task\":\"%s\",\"core\":%u}}",
           us(e->ts), f->pid, e->tid, kb, e->aux);
}

static const char *role(uint32_t tid, char *buf, size_t len) {
  if (tid >= STRATA_TT_CHILD) snprintf(buf, len, "child %u", tid - STRATA_TT_CHILD);
  else if (tid >= STRATA_TT_LEVEL) snprintf(buf, len, "level loop");
  else if (tid >= STRATA_TT_ORCH) snprintf(buf, len, "orchestrator");
  else if (tid >= STRATA_TT_SCHED) snprintf(buf, len, "scheduler %u", tid - STRATA_TT_SCHED);
  else snprintf(buf, len, "core %u", tid - STRATA_TT_CORE);
  return buf;
}

static void write_names(const flush_ctx *f, const char *pname) {
  char name[128], r[32];
  uint8_t seen[6000 / 8 + 1] = {0};
  out_line(f->o, "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%d,\"args\":{\"name\":"
           "\"%s (pid %d)\"}}", f->pid, strata__json_escape(pname, name, sizeof(name)), f->pid);
  for (size_t i = 0; i < f->r->n; i++) {
    uint32_t t = f->r->ev[i].tid;
    if (t >= 6000 || (seen[t / 8] >> (t % 8)) & 1) continue;
    seen[t / 8] |= (uint8_t)(1u << (t % 8));
    out_line(f->o, "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":%u,"
             "\"args\":{\"name\":\"%s\"}}", f->pid, t, role(t, r, sizeof(r)));
  }
}

static void write_records(const flush_ctx *f) {
  for (size_t i = 0; i < f->r->n; i++) {
    const strata__tev *e = &f->r->ev[i];
    switch (e->type) {
      case STRATA_TEV_TASK: write_task(f, e, 0); break;
      case STRATA_TEV_SPAN: write_task(f, e, 1); break;
      case STRATA_TEV_DISPATCH: write_dispatch(f, e); break;
      case STRATA_TEV_EDGE: write_flow(f, e); break;
      case STRATA_TEV_STEP: write_step(f, e); break;
      default: write_instant(f, e); break;
    }
  }
  if (f->r->dropped)
    out_line(f->o, "{\"name\":\"strata.dropped\",\"ph\":\"C\",\"ts\":%.3f,\"pid\":%d,"
             "\"args\":{\"dropped\":%llu}}", us(strata__now_ns()), f->pid,
             (unsigned long long)f->r->dropped);
}

static int open_lines(void) {
  char lp[600];
  snprintf(lp, sizeof(lp), "%s.lines", path);
  return open(lp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

void strata__trace_set_process(const char *label) {
  snprintf(process_label, sizeof(process_label), "%s", label);
}

void strata__trace_flush(const char *pname, strata__trace_namer namer, void *ctx) {
  if (!strata__trace_on(1)) return;
  if (process_label[0]) pname = process_label;
  recs r;
  if (take_records(&r) != 0) return;
  static out o; /* one flush at a time: the registry mutex below */
  pthread_mutex_lock(&reg);
  flush_ctx f = {&o, (int)getpid(), ++flushes, &r, {NULL, 0}, {NULL, 0}, namer, ctx};
  o.fd = open_lines();
  pthread_mutex_unlock(&reg);
  if (o.fd >= 0 && tmap_build(&f.tasks, &r, STRATA_TEV_TASK) == 0 &&
      tmap_build(&f.spans, &r, STRATA_TEV_SPAN) == 0) {
    if (r.n) write_names(&f, pname);
    write_records(&f);
    out_flush(&o);
  }
  if (o.fd >= 0) close(o.fd);
  free(f.tasks.slot);
  free(f.spans.slot);
  free(r.ev);
}

/* ---- start, stop and the merge --------------------------------------------------- */
static void forget_inherited(void) { /* in a forked child: the parent's records are not ours */
  for (tbuf *b = bufs; b; b = b->next) b->n = 0, b->dropped = 0;
}

static void at_exit(void) { strata_trace_stop(); }

int strata_trace_start(const char *file, int level) {
  if (!file || !*file || level < 1 || level > 3)
    return strata__fail(STRATA_EINVAL, "trace_start: give a file and a level 1..3 (1 tasks, 2 + "
                        "dispatch, 3 + dependency flows)");
  if (!STRATA_TRACE_COMPILED)
    return strata__fail(STRATA_ENOSYS, "trace_start: this build has no tracing code "
                        "(STRATA_TRACE_COMPILED=0); rebuild with it on");
  if (READ_ONCE(strata__trace_level_v))
    return strata__fail(STRATA_EBUSY, "trace_start: already tracing to %s; stop it first", path);
  int rank = strata__launcher_size() > 1 ? strata__launcher_rank() : 0;
  if (rank) snprintf(path, sizeof(path), "%s.rank%d", file, rank); /* merged by strata_trace_merge */
  else snprintf(path, sizeof(path), "%s", file);
  char lp[600];
  snprintf(lp, sizeof(lp), "%s.lines", path);
  int fd = open(lp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return strata__fail(STRATA_EINVAL, "trace_start: cannot write %s: %s", lp, strerror(errno));
  close(fd);
  root_pid = getpid();
  tbuf_cap = (uint32_t)strata__env_u64("STRATA_TRACE_BUFFER", 1u << 18, 1024, 1u << 24, 0);
  static int registered;
  if (!registered) registered = !atexit(at_exit) && !pthread_atfork(NULL, NULL, forget_inherited);
  WRITE_ONCE(strata__trace_level_v, level);
  return 0;
}

void strata__trace_env_init(void) {
  const char *file = getenv("STRATA_TRACE");
  if (!file || !*file || READ_ONCE(strata__trace_level_v) || root_pid) return; /* once */
  int level = (int)strata__env_u64("STRATA_TRACE_LEVEL", 1, 1, 3, 0);
  if (strata_trace_start(file, level) != 0)
    strata__warn_once("trace-start", "STRATA_TRACE=%s: %s; not tracing", file, strata_last_error());
}

/* Add off_us to the number after every `"<key>":` of line (ts, ready_ts). */
static void shift_key(char *line, size_t cap, const char *key, double off_us) {
  for (char *p = strstr(line, key); p; p = strstr(p + 1, key)) {
    char *num = p + strlen(key), *end, rest[4096];
    double v = strtod(num, &end);
    if (end == num) continue;
    snprintf(rest, sizeof(rest), "%s", end);
    snprintf(num, cap - (size_t)(num - line), "%.3f%s", v + off_us, rest);
  }
}

/* Copy <file>.lines into <file> as one JSON object, lines joined by commas,
 * timestamps moved to rank 0's clock. */
static int merge(void) {
  double off_us = (double)load_acquire(&clock_offset_ns) / 1000.0;
  char lp[600];
  snprintf(lp, sizeof(lp), "%s.lines", path);
  FILE *in = fopen(lp, "r"), *o = fopen(path, "w");
  if (!in || !o) {
    if (in) fclose(in);
    if (o) fclose(o);
    return strata__fail(STRATA_EINVAL, "trace_stop: cannot write %s: %s", path, strerror(errno));
  }
  fprintf(o, "{\"traceEvents\":[\n");
  char line[4096];
  int first = 1;
  while (fgets(line, sizeof(line), in)) {
    if (line[0] != '{') continue;
    strtok(line, "\n");
    if (off_us != 0) shift_key(line, sizeof(line), "\"ts\":", off_us);
    if (off_us != 0) shift_key(line, sizeof(line), "\"ready_ts\":", off_us);
    fprintf(o, "%s%s", first ? "" : ",\n", line);
    first = 0;
  }
  fprintf(o, "\n],\"displayTimeUnit\":\"ms\",\"otherData\":{\"producer\":\"strata %s\","
          "\"clock\":\"CLOCK_MONOTONIC, one host clock for every process\",\"rank\":%d,"
          "\"clock_offset_us\":%.3f}}\n", STRATA_VERSION_STRING, strata__launcher_rank(), off_us);
  fclose(in);
  int rc = fclose(o);
  unlink(lp);
  return rc == 0 ? 0 : strata__fail(STRATA_EINVAL, "trace_stop: writing %s failed", path);
}

int strata_trace_stop(void) {
  if (!READ_ONCE(strata__trace_level_v) || getpid() != root_pid) return 0;
  strata__trace_flush("strata", NULL, NULL); /* what this process still holds */
  WRITE_ONCE(strata__trace_level_v, 0);
  return merge();
}
