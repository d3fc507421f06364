#!/bin/sh
# cli_expect.sh - run a CLI command and check its exit status and output:
#   cli_expect.sh <status> <extended regex> <command> [args...]
# Fails (exit 1) naming what differed; the output is printed either way.
want=$1; pattern=$2; shift 2
out=$("$@" 2>&1); got=$?
printf '%s\n' "$out"
[ "$got" -eq "$want" ] || { echo "cli_expect: exit status $got, want $want"; exit 1; }
printf '%s\n' "$out" | grep -Eq -- "$pattern" || { echo "cli_expect: no line matches: $pattern"; exit 1; }
