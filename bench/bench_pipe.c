/* bench_pipe.c - round trip of one byte over a pair of pipes between a
 * parent and a forked child (the classic ping-pong baseline). */
#include <sys/wait.h>
#include <unistd.h>

#include "latency.h"

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 20000, ab[2], ba[2];
  char b = 0;
  if (pipe(ab) || pipe(ba)) return 1;
  pid_t pid = fork();
  if (pid == 0) {
    close(ab[1]); /* keep only our ends, so the parent's close ends the loop */
    close(ba[0]);
    while (read(ab[0], &b, 1) == 1 && write(ba[1], &b, 1) == 1) {
    }
    _exit(0);
  }
  close(ab[0]);
  close(ba[1]);
  double *s = calloc((size_t)n, sizeof(double));
  for (int i = 0; i < n + 1000; i++) {
    double t0 = bench_now();
    if (write(ab[1], &b, 1) != 1 || read(ba[0], &b, 1) != 1) return 1;
    if (i >= 1000) s[i - 1000] = bench_now() - t0;
  }
  close(ab[1]);
  waitpid(pid, NULL, 0);
  latency_report("pipe", s, n);
  free(s);
  return 0;
}
