#!/usr/bin/env python3
"""check_trace.py - checks a strata trace file; exits 1 naming what is wrong.
  check_trace.py FILE [--tasks N] [--flows] [--min-pids P] [--latch TEXT]
The JSON must parse and follow the trace-event format; task complete events
must number N; every task must start after the end of each task it depends
on; with --flows every dependency must have a flow (s and f) pair; with
--latch an instant "latch 100" whose message holds TEXT must name its task."""
import json
import sys


def fail(msg):
    print("check_trace:", msg)
    sys.exit(1)


def main(argv):
    path, opts = argv[0], dict(zip(argv[1::2], argv[2::2]))
    flows = "--flows" in argv
    if flows:
        opts = dict(zip([a for a in argv[1:] if a != "--flows"][::2],
                        [a for a in argv[1:] if a != "--flows"][1::2]))
    ev = json.load(open(path))["traceEvents"]
    for e in ev:
        if "ph" not in e or "pid" not in e or "name" not in e:
            fail(f"event without ph/pid/name: {e}")
        if e["ph"] != "M" and not isinstance(e.get("ts"), (int, float)):
            fail(f"event without a numeric ts: {e}")
        if e["ph"] == "X" and not isinstance(e.get("dur"), (int, float)):
            fail(f"complete event without dur: {e}")
    tasks = {e["args"]["task"]: e for e in ev if e["ph"] == "X" and e.get("cat") == "task"}
    if "--tasks" in opts and len(tasks) != int(opts["--tasks"]):
        fail(f"{len(tasks)} task events, want {opts['--tasks']}")
    ndeps = 0
    for key, e in tasks.items():
        for d in e["args"].get("deps", []):
            p = tasks.get(d)
            if p is None:
                fail(f"{key} depends on {d}, which is not in the trace")
            if e["ts"] + 0.002 < p["ts"] + p["dur"]:
                fail(f"{key} starts at {e['ts']} before its producer {d} ends at {p['ts'] + p['dur']}")
            ndeps += 1
    if flows:
        s = sum(1 for e in ev if e["ph"] == "s" and e.get("cat") == "dep")
        f = sum(1 for e in ev if e["ph"] == "f" and e.get("cat") == "dep")
        chip_s = s - sum(1 for e in ev if e["ph"] == "X" and e.get("cat") == "level"
                         for _ in e["args"].get("deps", []))
        if ndeps == 0 or s != f or chip_s != ndeps:
            fail(f"{ndeps} task dependencies, {s} flow starts, {f} flow ends")
    pids = {e["pid"] for e in ev}
    if "--min-pids" in opts and len(pids) < int(opts["--min-pids"]):
        fail(f"events from {len(pids)} processes, want at least {opts['--min-pids']}")
    if "--latch" in opts:
        hits = [e for e in ev if e["name"] == "latch 100" and opts["--latch"] in e["args"]["msg"]]
        if not hits or not hits[0]["args"].get("task"):
            fail(f"no 'latch 100' instant naming its task with '{opts['--latch']}'")
    print(f"check_trace: ok: {len(ev)} events, {len(tasks)} tasks, {ndeps} dependencies, "
          f"{len(pids)} processes")


if __name__ == "__main__":
    main(sys.argv[1:])
