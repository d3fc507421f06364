#!/usr/bin/env python3
"""pipeline.py - strata from Python: build a kernel library with the C
compiler, run a pipeline on an L3 node (one stage per chip, y = 2x + k on
chip k; a Python sub worker verifies each block), and check the result
with numpy.

  PYTHONPATH=python STRATA_LIB=build/libstrata.so.0 python3 python/examples/pipeline.py [chips]
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

import strata

KERNELS = r"""
#include <strata.h>
void stage(strata_kernel_ctx *k) {            /* y = 2 x + s0 */
  const double *x = strata_kernel_tensor(k, 0)->data;
  double *y = strata_kernel_tensor(k, 1)->data, s = strata_kernel_scalar_f64(k, 0);
  for (size_t i = 0; i < strata_kernel_tensor(k, 1)->bytes / sizeof(double); i++) y[i] = 2 * x[i] + s;
}
void stage_orch(strata_orch *o, void *arg) {  /* one stage kernel over the node task's args */
  strata_args a = *(const strata_args *)arg;
  uint32_t k;
  a.ndeps = 0;
  if (strata_chip_find_kernel(strata_orch_chip(o), "stage", &k) == 0) strata_orch_submit(o, k, &a, NULL);
}
"""


def include_dir():
    libdir = os.path.dirname(strata.LIB_PATH)
    for d in (os.environ.get("STRATA_INCLUDE"), os.path.join(libdir, "..", "include"),
              os.path.join(libdir, "..", "..", "include")):
        if d and os.path.exists(os.path.join(d, "strata.h")):
            return d
    sys.exit("cannot find strata.h: set STRATA_INCLUDE")


def build_kernels(workdir):
    src, lib = os.path.join(workdir, "stage.c"), os.path.join(workdir, "libstage.so")
    with open(src, "w") as f:
        f.write(KERNELS)
    subprocess.run(["cc", "-std=c11", "-O2", "-shared", "-fPIC", "-I", include_dir(), src,
                    "-o", lib], check=True)
    return lib


def main(chips=3, blocks=4, n=1 << 16):
    with tempfile.TemporaryDirectory() as work:
        lib = build_kernels(work)
        node = strata.Node(chips=chips, subs=1, chip={"sched_threads": 1, "clusters": 1})
        node.kernel("stage", f"{lib}:stage")
        orch = node.chip_orch("stage", f"{lib}:stage_orch")

        def verify(t):  # a Python sub worker: fails the task on a mismatch
            if not np.array_equal(t.tensors[0], t.tensors[1]):
                raise ValueError("block differs from the reference")

        sub = node.sub("verify", verify)
        with node.init():
            x = [[node.array(min(k, chips - 1), n) for k in range(chips + 1)] for _ in range(blocks)]
            want = np.arange(n, dtype=np.float64)
            for k in range(chips):
                want = 2 * want + k
            ref = node.array(0, n)
            ref[:] = want
            for b in range(blocks):
                x[b][0][:] = np.arange(n)

            def pipeline(o):
                for b in range(blocks):
                    for k in range(chips):  # chip k works on block b while k+1 has b-1
                        o.submit_chip(k, orch, inputs=[x[b][k]], outputs=[x[b][k + 1]],
                                      scalars=[float(k)])
                    o.submit_sub(sub, inputs=[x[b][chips], ref])

            info = node.run(pipeline)
            for b in range(blocks):  # and once more here, with numpy, without a copy
                np.testing.assert_array_equal(x[b][chips], want)
    print(f"pipeline: {blocks} blocks x {n} elements through {chips} chips, "
          f"{info['tasks_completed']} tasks, checked with numpy")
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3))
