#!/bin/sh
# mpi_run.sh [--expect REGEX [--expect REGEX2]] [--stdout-lines N] [--signal N] <ranks> <program> [args...]: run a program under
# `mpirun --oversubscribe --mca btl self,tcp -np <ranks>` (TCP forced, over
# the loopback interface: every rank is on this machine; root allowed), then check that the job left no process and no /dev/shm entry
# behind (only what this run created: its processes carry a marker in their
# environment, its segments a tag in their names). The program's exit
# status is the result; with --expect, the output must match REGEX instead
# (a failure test: the error names the culprit, whoever ends the job).
# No process of the job may end on a signal the test did not send (a crash
# in a failure path): mpirun's report of a rank ended by a signal, or a
# child that died of SIGSEGV/SIGBUS/SIGFPE/SIGILL/SIGABRT, fails the run;
# --signal N allows the one the test sends (a kill -N of a rank).
expect=""; lines=""; sent=""; also=""
if [ "$1" = "--expect" ]; then expect=$2; shift 2; fi
if [ "$1" = "--expect" ]; then also=$2; shift 2; fi # a second line that must match too
if [ "$1" = "--stdout-lines" ]; then lines=$2; shift 2; fi
if [ "$1" = "--signal" ]; then sent=$2; shift 2; fi
np=$1; shift
out=$(mktemp)
mark="m$$x$(date +%s%N | tail -c 9)"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
pass=""
for v in $(env | sed -n 's/^\(STRATA_[A-Z0-9_]*\)=.*/\1/p'); do pass="$pass -x $v"; done
STRATA_SHM_TAG="$mark" STRATA_TEST_MARK="$mark" mpirun -x STRATA_SHM_TAG -x STRATA_TEST_MARK --oversubscribe \
  --mca btl self,tcp --mca btl_tcp_if_include lo --mca oob_tcp_if_include lo --bind-to none \
  -np "$np" $pass "$@" >"$out" 2>"$out.err"
rc=$?
cat "$out" "$out.err"
if [ -n "$lines" ] && [ "$(wc -l <"$out")" -ne "$lines" ]; then
  echo "mpi_run.sh: expected $lines line(s) on stdout (rank 0 prints, the others stay quiet)" >&2
  rc=1
fi
cat "$out.err" >>"$out"
crash=$(grep -Eo "exited on signal [0-9]+|killed by signal (4|6|7|8|11)\b" "$out" |
        grep -Ev "^exited on signal ${sent:-none}\b" | head -1)
if [ -n "$crash" ]; then
  echo "mpi_run.sh: a process of the job ended on a signal the test did not send: $crash" >&2
  rm -f "$out" "$out.err"
  exit 1
fi
if [ -n "$expect" ]; then
  if ! grep -Eq "$expect" "$out" || { [ -n "$also" ] && ! grep -Eq "$also" "$out"; }; then
    echo "mpi_run.sh: expected output matching '$expect'${also:+ and '$also'} (status $rc)" >&2
    rc=1
  else
    rc=0
  fi
fi
rm -f "$out" "$out.err"
left=""
for i in $(seq 1 50); do
  left=$(grep -l "STRATA_TEST_MARK=$mark" /proc/[0-9]*/environ 2>/dev/null | grep -v "/proc/$$/")
  [ -z "$left" ] && break
  sleep 0.1
done
if [ -n "$left" ]; then
  echo "mpi_run.sh: processes left behind:" >&2
  for f in $left; do p=${f#/proc/}; p=${p%/environ}; ps -o pid,ppid,stat,args -p "$p" | tail -n +2 >&2; done
  exit 1
fi
if ls /dev/shm 2>/dev/null | grep -q -- "-$mark\$"; then
  echo "mpi_run.sh: /dev/shm entries left behind:" $(ls /dev/shm | grep -- "-$mark\$") >&2
  exit 1
fi
exit $rc
