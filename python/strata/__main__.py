"""python3 -m strata - mirrors the `strata` command for what the Python
package can run by itself: `run vector [--size N] [--json]`, `list`,
`version`, `help`. Exit status 0 ok, 1 run failed or check mismatch,
2 usage error (naming the flag and its range)."""
import json
import sys
import time

import numpy as np

from . import Chip, Error, __version__, kernels_library, tensor

MAX_SIZE = 1 << 24
USAGE = """usage: python3 -m strata run vector [--size N] [--json]
       python3 -m strata list | version | help
  --size N   vector length (16); 1..16777216
  --json     print the result as JSON (the fields of `strata run --json`)"""


def vector(size):
    """c=a+b; d=c+1; e=c+2; g=d*e; f=g+c on a chip, checked with numpy."""
    lib = kernels_library()
    a = np.arange(size, dtype=np.float32)
    b = 2 * a
    tmp = [np.zeros(size, np.float32) for _ in range(5)]
    c, d, e, g, f = tmp
    with Chip() as chip:
        add = chip.kernel("add", f"{lib}:strata_py_add")
        adds = chip.kernel("adds", f"{lib}:strata_py_adds")
        mul = chip.kernel("mul", f"{lib}:strata_py_mul")

        def orch(o):
            o.submit(add, inputs=[a, b], outputs=[c])
            o.submit(adds, inputs=[c], outputs=[d], scalars=[1.0])
            o.submit(adds, inputs=[c], outputs=[e], scalars=[2.0])
            o.submit(mul, inputs=[d, e], outputs=[g])
            o.submit(add, inputs=[g, c], outputs=[f])

        info = chip.run(orch)
    ref = (a + b + 1) * (a + b + 2) + (a + b)
    return info, f, bool(np.array_equal(f, ref))


def report(info, values, check, as_json, error=None):
    status = error.code if error else 0
    fields = {"example": "vector", "status": status,
              "status_name": error.name if error else "OK",
              "check": check and not error,
              "detail": f"f = (a+b+1)*(a+b+2)+(a+b) for {len(values)} elements" if check else "",
              "tasks_submitted": info.get("tasks_submitted", 0),
              "tasks_completed": info.get("tasks_completed", 0),
              "elapsed_ms": info.get("elapsed_ns", 0) / 1e6,
              "values": [float(v) for v in values[:8]],
              "message": error.message if error else ""}
    if as_json:
        print(json.dumps(fields))
        return
    print(f"example vector: {fields['status_name']} "
          f"({'check passed' if fields['check'] else 'run failed' if error else 'CHECK FAILED'})")
    print(f"  tasks {fields['tasks_completed']}/{fields['tasks_submitted']} completed, "
          f"{fields['elapsed_ms']:.3f} ms")
    if fields["detail"]:
        print(f"  {fields['detail']}")
    if error:
        print(f"  error: {error.message}")
    print("  values: " + " ".join(f"{v:g}" for v in fields["values"]))


def parse_run(argv):
    opts = {"size": 16, "json": False}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--json":
            opts["json"] = True
        elif a == "--size":
            v = argv[i + 1] if i + 1 < len(argv) else None
            if v is None or not v.isdigit() or not 1 <= int(v) <= MAX_SIZE:
                raise SystemExit(f"strata: --size {'is missing its value' if v is None else 'is out of range (got ' + repr(v) + ')'}: valid 1..{MAX_SIZE}")
            opts["size"] = int(v)
            i += 1
        elif a in ("-h", "--help"):
            print(USAGE)
            raise SystemExit(0)
        else:
            raise SystemExit(f"strata: unknown option '{a}' (see python3 -m strata help)")
        i += 1
    return opts


def main(argv):
    cmd = argv[0] if argv else "help"
    if cmd in ("help", "-h", "--help"):
        print(USAGE)
        return 0
    if cmd == "version":
        print(f"strata {__version__} (python)")
        return 0
    if cmd == "list":
        print("vector   c=a+b; d=c+1; e=c+2; g=d*e; f=g+c on float vectors")
        return 0
    if cmd != "run" or len(argv) < 2 or argv[1] != "vector":
        print(f"strata: {'unknown example' if cmd == 'run' else 'unknown command'} "
              f"'{argv[1] if cmd == 'run' and len(argv) > 1 else cmd}'\n{USAGE}", file=sys.stderr)
        return 2
    try:
        opts = parse_run(argv[2:])
    except SystemExit as e:
        if isinstance(e.code, str):
            print(e.code, file=sys.stderr)
            return 2
        return e.code
    t0 = time.monotonic()
    try:
        info, values, check = vector(opts["size"])
        report(info, values, check, opts["json"])
        return 0 if check else 1
    except Error as e:
        report({"elapsed_ns": int((time.monotonic() - t0) * 1e9)}, [], False, opts["json"], e)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
