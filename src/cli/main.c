/* main.c - the `strata` command line: run the built-in examples on a
 * simulated chip and report the outcome as text or JSON.
 *
 *   strata run <example> [options]   run vector | matmul | dag | pipeline
 *   strata stress allreduce [options] the init-skew reproduction (SPEC §5)
 *   strata bench allreduce [options]  a size sweep like nccl-tests (SPEC §4)
 *   strata list                      list the examples
 *   strata version | help
 * Exit status: 0 success, 1 the run failed or its check did not match,
 * 2 usage error (naming the flag and its valid range). Uses only the
 * public API.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_int.h"
#include "cli/json.h"
#include "cli/opts.h"
#include "examples.h"

typedef struct cli_opts {
  strata_example_opts ex;
  int json;
  const char *trace; /* --trace <file> */
} cli_opts;

/* Where an option's range comes from. */
enum { RANGE_FIXED, RANGE_CHIP_CFG, RANGE_TASKS, RANGE_SIZE };

/* Numeric options: flag, target (chip config field or example option),
 * range (fixed, the chip's config table, or the example's limits). */
typedef struct num_opt {
  const char *flag;
  uint64_t bit;      /* chip config field_mask bit (RANGE_CHIP_CFG) */
  size_t off;
  int wide, range;
  uint64_t min, max; /* RANGE_FIXED */
  const char *help;
} num_opt;

#define CFG32(flag, bit, m, h) {flag, bit, offsetof(strata_chip_config, m), 0, RANGE_CHIP_CFG, 0, 0, h}
#define CFG64(flag, bit, m, h) {flag, bit, offsetof(strata_chip_config, m), 1, RANGE_CHIP_CFG, 0, 0, h}
#define EX(flag, m, w, r, lo, hi, h) {flag, 0, offsetof(strata_example_opts, m), w, r, lo, hi, h}

static const num_opt num_opts[] = {
    EX("--tasks", tasks, 1, RANGE_TASKS, 1, 0, "dag: number of tasks (100000)"),
    EX("--size", size, 0, RANGE_SIZE, 1, 0, "vector/pipeline length, matmul order"),
    EX("--seed", seed, 1, RANGE_FIXED, 0, UINT64_MAX, "random seed (1)"),
    EX("--chips", chips, 0, RANGE_FIXED, 1, STRATA_EXAMPLE_MAX_CHIPS, "pipeline: chip children (4); attention: split heads over N chips"),
    EX("--subs", subs, 0, RANGE_FIXED, 1, STRATA_EXAMPLE_MAX_SUBS, "pipeline: sub children (1)"),
    EX("--nodes", nodes, 0, RANGE_FIXED, 1, STRATA_EXAMPLE_MAX_NODES, "pipeline: an L4 of N nodes"),
    CFG32("--sched-threads", STRATA_CFG_SCHED_THREADS, sched_threads, "scheduler threads (3)"),
    CFG32("--clusters", STRATA_CFG_CLUSTERS, clusters, "clusters of 1 AIC + 2 AIV cores (3)"),
    CFG32("--task-window", STRATA_CFG_TASK_WINDOW, task_window, "task slots per ring, power of 2"),
    CFG64("--heap", STRATA_CFG_HEAP_BYTES, heap_bytes, "heap bytes per ring (K/M/G)"),
    CFG32("--dep-pool", STRATA_CFG_DEP_POOL, dep_pool, "dependency entries per ring"),
    CFG32("--sched-timeout-ms", STRATA_CFG_SCHED_TIMEOUT, scheduler_timeout_ms, "hang budget (10000)"),
    CFG32("--sync-timeout-ms", STRATA_CFG_SYNC_TIMEOUT, stream_sync_timeout_ms,
          "stream sync (50000; 0 = none; > hang budget + 1500)"),
    CFG32("--legacy-idle-cap", STRATA_CFG_LEGACY_IDLE_CAP, legacy_idle_cap, "legacy idle iterations (1000)"),
};

static void opt_range(const num_opt *n, const strata_example *e, uint64_t *min, uint64_t *max) {
  *min = n->min;
  *max = n->max;
  if (n->range == RANGE_CHIP_CFG) strata_chip_config_range(n->bit, min, max);
  if (n->range == RANGE_TASKS) *max = e ? e->max_tasks : 0;
  if (n->range == RANGE_SIZE) *max = e ? e->max_size : 0;
}

static void usage(FILE *out) {
  fprintf(out, "usage: strata run <example> [options]     run an example (strata list)\n"
               "       strata stress allreduce [options]  the init-skew reproduction\n"
               "       strata bench allreduce [options]   time a size sweep (nccl-tests style)\n"
               "       strata list | version | help\n"
               "       strata trace summary <file> [--json] | strata trace svg <file> -o <out.svg>\n"
               "       strata trace merge -o <out> <file> [<file>.rank1 ...]  (traces of mpirun ranks)\n"
               "run options:\n  --json                  print the result as JSON\n"
               "  --trace <file>          write a Chrome trace (STRATA_TRACE_LEVEL 1..3, default 1)\n"
               "  --legacy-sched-timeout  use the old idle-cap hang detector\n");
  for (size_t i = 0; i < CLI_ARRAY_SIZE(num_opts); i++) {
    uint64_t lo, hi;
    opt_range(&num_opts[i], NULL, &lo, &hi);
    if (num_opts[i].range == RANGE_TASKS || num_opts[i].range == RANGE_SIZE)
      fprintf(out, "  %-22s  %s; 1..N by example\n", num_opts[i].flag, num_opts[i].help);
    else
      fprintf(out, "  %-22s  %s; %llu..%llu\n", num_opts[i].flag, num_opts[i].help,
              (unsigned long long)lo, (unsigned long long)hi);
  }
  cli_stress_usage(out);
  cli_bench_usage(out);
  fprintf(out, "exit status: 0 ok, 1 the run failed or its check did not match, 2 usage\n");
}

static int set_num(cli_opts *o, const num_opt *n, const strata_example *e, const char *val) {
  uint64_t v, lo, hi;
  opt_range(n, e, &lo, &hi);
  if (hi == 0) {
    fprintf(stderr, "strata: %s does not apply to the %s example\n", n->flag, e->name);
    return CLI_USAGE;
  }
  int rc = cli_number(n->flag, val, lo, hi, &v);
  if (rc) return rc;
  char *base = n->range == RANGE_CHIP_CFG ? (char *)&o->ex.cfg : (char *)&o->ex;
  if (n->wide)
    *(uint64_t *)(void *)(base + n->off) = v;
  else
    *(uint32_t *)(void *)(base + n->off) = (uint32_t)v;
  o->ex.cfg.field_mask |= n->bit;
  return 0;
}

static int parse_flag(cli_opts *o, const strata_example *e, int argc, char **argv, int *i) {
  const char *a = argv[*i];
  if (strcmp(a, "--json") == 0) return o->json = 1, 0;
  if (strcmp(a, "--trace") == 0) return cli_trace_flag(argc, argv, i, &o->trace);
  if (strcmp(a, "--legacy-sched-timeout") == 0) {
    o->ex.cfg.legacy_sched_timeout = 1;
    o->ex.cfg.field_mask |= STRATA_CFG_LEGACY;
    return 0;
  }
  for (size_t k = 0; k < CLI_ARRAY_SIZE(num_opts); k++)
    if (strcmp(a, num_opts[k].flag) == 0)
      return set_num(o, &num_opts[k], e, *i + 1 < argc ? argv[++*i] : NULL);
  fprintf(stderr, "strata: unknown option '%s' (see strata help)\n", a);
  return CLI_USAGE;
}

static void print_text(const char *name, const strata_example_result *r) {
  printf("example %s: %s (%s)\n", name, r->status ? strata_err_name(r->status) : "OK",
         r->status ? "run failed" : (r->check ? "check passed" : "CHECK FAILED"));
  printf("  tasks %llu/%llu completed, %.3f ms\n",
         (unsigned long long)r->info.tasks_completed,
         (unsigned long long)r->info.tasks_submitted, (double)r->info.elapsed_ns / 1e6);
  if (r->detail[0]) printf("  %s\n", r->detail);
  if (r->info.hang_class)
    printf("  hang: %s, task #%llx '%s' on core %d, stuck %llu ms\n",
           strata_hang_class_name(r->info.hang_class), (unsigned long long)r->info.stuck_task,
           r->info.stuck_kernel, r->info.stuck_core, (unsigned long long)r->info.stuck_ms);
  if (r->info.message[0]) printf("  error: %s\n", r->info.message);
  for (int i = 0; i < r->nvalues; i++) printf("%s%g", i ? " " : "  values: ", r->values[i]);
  if (r->nvalues) printf("\n");
}

static void print_json(const char *name, const strata_example_result *r) {
  cli_json j;
  cli_json_begin(&j, stdout);
  cli_json_str(&j, "example", name);
  cli_json_int(&j, "status", r->status);
  cli_json_str(&j, "status_name", strata_err_name(r->status));
  cli_json_int(&j, "raw_status", r->info.raw_status);
  cli_json_bool(&j, "check", r->status == 0 && r->check);
  cli_json_str(&j, "detail", r->detail);
  cli_json_int(&j, "tasks_submitted", (long long)r->info.tasks_submitted);
  cli_json_int(&j, "tasks_completed", (long long)r->info.tasks_completed);
  cli_json_int(&j, "stall_reports", (long long)r->info.stall_reports);
  cli_json_str(&j, "hang_class", r->info.hang_class ? strata_hang_class_name(r->info.hang_class) : "");
  cli_json_int(&j, "stuck_task", (long long)r->info.stuck_task);
  cli_json_str(&j, "stuck_kernel", r->info.stuck_kernel);
  cli_json_int(&j, "stuck_core", r->info.stuck_core);
  cli_json_num(&j, "elapsed_ms", (double)r->info.elapsed_ns / 1e6);
  cli_json_nums(&j, "values", r->values, r->nvalues);
  cli_json_str(&j, "message", r->info.message);
  cli_json_end(&j);
}

static int cmd_run(int argc, char **argv) {
  if (argc < 3 || cli_is_help(argv[2])) return usage(argc < 3 ? stderr : stdout), argc < 3 ? CLI_USAGE : 0;
  const strata_example *e = strata_example_find(argv[2]);
  if (!e) {
    fprintf(stderr, "strata: unknown example '%s' (see strata list)\n", argv[2]);
    return CLI_USAGE;
  }
  cli_opts o;
  memset(&o, 0, sizeof(o));
  o.ex.seed = 1;
  for (int i = 3; i < argc; i++) {
    if (cli_is_help(argv[i])) return usage(stdout), 0;
    if (parse_flag(&o, e, argc, argv, &i) != 0) return CLI_USAGE;
  }
  char why[320];
  if (e->check && e->check(&o.ex, why, sizeof(why)) != 0) { /* options that cannot go together */
    fprintf(stderr, "strata: %s\n", why);
    return CLI_USAGE;
  }
  strata_chip_config resolved; /* the timeout ordering is a usage error too */
  if (strata_chip_config_resolve(&o.ex.cfg, &resolved) != 0) {
    fprintf(stderr, "strata: %s\n", strata_last_error());
    return CLI_USAGE;
  }
  if (o.trace && cli_trace_begin(o.trace) != 0) return 1;
  strata_example_result r;
  memset(&r, 0, sizeof(r));
  e->run(&o.ex, &r);
  if (o.trace && strata_trace_stop() != 0) fprintf(stderr, "strata: %s\n", strata_last_error());
  if (o.json)
    print_json(e->name, &r);
  else
    print_text(e->name, &r);
  return (r.status == 0 && r.check) ? 0 : 1;
}

int main(int argc, char **argv) {
  const char *cmd = argc > 1 ? argv[1] : "help";
  if (strcmp(cmd, "run") == 0) return cmd_run(argc, argv);
  if (strcmp(cmd, "stress") == 0) return cli_stress(argc, argv);
  if (strcmp(cmd, "bench") == 0) return cli_bench(argc, argv);
  if (strcmp(cmd, "trace") == 0) return cli_trace(argc, argv);
  if (strcmp(cmd, "list") == 0) {
    for (const strata_example *e = strata_examples(); e->name; e++)
      printf("%-8s %s\n", e->name, e->summary);
    return 0;
  }
  if (strcmp(cmd, "version") == 0) return printf("strata %s\n", STRATA_VERSION_STRING), 0;
  if (strcmp(cmd, "help") == 0 || cli_is_help(cmd)) return usage(stdout), 0;
  fprintf(stderr, "strata: unknown command '%s'\n", cmd);
  usage(stderr);
  return CLI_USAGE;
}
