"""test_strata.py - the Python front end: errors as exceptions, chips with
Python orchestrations over numpy arrays (no copy), nodes with compiled chip
kernels and Python sub workers, a Python sub's exception and a kernel's
failure reported (not a hang), collectives from a Python chip
orchestration, an L4 from Python, and `python3 -m strata run vector`."""
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

import strata

LIB = strata.kernels_library()


def spec(sym):
    return f"{LIB}:{sym}"


def test_version_matches_the_header():
    assert strata.__version__.count(".") == 2


def test_invalid_config_is_an_error_with_code_name_and_message():
    with pytest.raises(strata.Error) as e:
        strata.Chip(task_window=1000)
    assert e.value.code == -22 and e.value.name == "EINVAL"
    assert "task_window is 1000" in e.value.message and "power of two" in e.value.message
    with pytest.raises(strata.Error) as e:
        strata.Chip(no_such_field=1)
    assert "no_such_field" in e.value.message


def test_unknown_callable_names_the_library():
    with strata.Chip() as chip, pytest.raises(strata.Error) as e:
        chip.kernel("x", "/nonexistent/libk.so:k")
    assert e.value.name == "ENOENT" and "/nonexistent/libk.so" in e.value.message


def test_chip_orchestration_in_python_over_numpy_arrays_without_copies():
    a = np.arange(1000, dtype=np.float32)
    b = np.full(1000, 0.5, dtype=np.float32)
    c = np.zeros(1000, dtype=np.float32)
    d = np.zeros(1000, dtype=np.float32)
    with strata.Chip(sched_threads=2, clusters=2) as chip:
        add = chip.kernel("add", spec("strata_py_add"))
        mul = chip.kernel("mul", spec("strata_py_mul"))

        def orch(o):
            o.submit(add, inputs=[a, b], outputs=[c])  # c = a + b
            o.submit(mul, inputs=[c, c], outputs=[d])  # waits for c: d = c * c

        info = chip.run(orch)
    assert info["tasks_completed"] == 2
    np.testing.assert_array_equal(d, (a + b) * (a + b))  # written in place in our arrays


def test_task_kinds_from_python_spmd_dummy_and_tensor_data():
    a = np.arange(64, dtype=np.float32)
    b = np.ones(64, dtype=np.float32)
    c = np.zeros(64, dtype=np.float32)
    seen = np.zeros(64, dtype=np.float32)
    with strata.Chip(sched_threads=2, clusters=2) as chip:
        add = chip.kernel("add", spec("strata_py_add"))

        def orch(o):
            o.submit(add, inputs=[a, b], outputs=[c], spmd=3)  # every block adds all: same c
            fence = o.submit_dummy(inputs=[c])
            o.get_tensor_data(c, seen)  # waits for the SPMD task
            o.set_tensor_data(b, np.full(64, 2, dtype=np.float32))  # then c = a + 2
            o.submit(add, inputs=[a, b], outputs=[c], deps=[fence])

        info = chip.run(orch)
    assert info["tasks_completed"] == 3
    np.testing.assert_array_equal(seen, a + 1)
    np.testing.assert_array_equal(c, a + 2)
    with pytest.raises(strata.Error):
        strata.core.make_args(spmd=0)


def test_python_orchestration_exception_fails_the_run():
    with strata.Chip() as chip:
        def orch(o):
            raise RuntimeError("orchestration broke")

        with pytest.raises(strata.Error) as e:
            chip.run(orch)
    assert e.value.name == "EXPLICIT_ORCH_FATAL"
    assert "RuntimeError: orchestration broke" in e.value.message


def make_node(**kw):
    node = strata.Node(chip={"sched_threads": 1, "clusters": 1}, devmem_bytes=1 << 20, **kw)
    stage = node.kernel("stage", spec("strata_py_stage"))
    fail = node.kernel("fail", spec("strata_py_fail"))
    one = node.chip_orch("one", spec("strata_py_one_kernel"))
    return node, stage, fail, one


def test_node_pipeline_with_a_python_sub_checked_with_numpy():
    node, stage, _, one = make_node(chips=2, subs=1)

    def verify(t):  # runs in the sub worker process: it reports by failing
        if not np.array_equal(t.tensors[0], t.tensors[1]):
            raise ValueError("pipeline output differs from the reference")

    sub = node.sub("verify", verify)
    with node.init():
        n = 4096
        x0, x1, x2 = (node.array(k, n) for k in (0, 0, 1))
        ref = node.array(1, n)
        x0[:] = np.arange(n)
        ref[:] = 2 * (2 * x0 + 1) + 3  # two stages: y = 2x + s

        def orch(o):
            o.submit_chip(0, one, inputs=[x0], outputs=[x1], scalars=[1.0], kernel=stage)
            o.submit_chip(1, one, inputs=[x1], outputs=[x2], scalars=[3.0], kernel=stage)
            o.submit_sub(sub, inputs=[x2, ref])  # after x2, by overlap

        info = node.run(orch)
        assert info["tasks_completed"] == 3
        np.testing.assert_array_equal(x2, ref)  # device memory, read without a copy


def test_python_sub_exception_is_reported_not_a_hang():
    node, _, _, _ = make_node(chips=1, subs=1)

    def bad(t):
        raise ValueError(f"bad input of {len(t.tensors)} tensors")

    sub = node.sub("bad", bad)
    with node.init():
        t0 = time.monotonic()
        with pytest.raises(strata.Error) as e:
            node.run(lambda o: o.submit_sub(sub))
        assert time.monotonic() - t0 < 10
    assert e.value.name == "TASK_FAILED"
    assert "ValueError: bad input of 0 tensors" in e.value.message
    assert "sub 0 (pid" in e.value.message


def test_kernel_failure_is_an_exception_naming_the_chip():
    node, _, fail, one = make_node(chips=2)
    with node.init():
        x = node.array(1, 8)
        with pytest.raises(strata.Error) as e:
            node.run(lambda o: o.submit_chip(1, one, outputs=[x], kernel=fail))
    assert e.value.name == "TASK_FAILED"
    assert "chip 1 (pid" in e.value.message and "asked to fail" in e.value.message


def test_allreduce_from_a_python_chip_orchestration():
    node = strata.Node(chips=2, chip={"sched_threads": 1, "clusters": 1}, devmem_bytes=1 << 20)

    def reduce_orch(o, t):  # runs in each chip child, on its orchestrator thread
        o.allreduce(int(t.scalars[0]), t.raw.tensors[0], t.raw.tensors[1], strata.SUM)

    red = node.chip_orch("reduce", reduce_orch)
    with node.init():
        dom = node.domain([0, 1])
        ins = [node.array(0, 256, np.float32) for _ in range(2)]
        outs = [node.array(0, 256, np.float32) for _ in range(2)]
        for r in range(2):
            ins[r][:] = np.arange(256) * (r + 1)

        def orch(o):
            o.submit_group([(r, red, {"inouts": [ins[r], outs[r]], "scalars": [dom]})
                            for r in range(2)])

        node.run(orch)
        for r in range(2):
            np.testing.assert_array_equal(outs[r], np.arange(256, dtype=np.float32) * 3)


def test_an_l4_with_python_level_orchestrations_on_its_nodes():
    node = strata.Node(level=4, workers=2, chips=2, chip={"sched_threads": 1, "clusters": 1},
                       devmem_bytes=1 << 20)
    stage = node.kernel("stage", spec("strata_py_stage"))
    one = node.chip_orch("one", spec("strata_py_one_kernel"))

    def on_node(o, t):  # runs in an L3 node process: stage on its chip scalar 1
        o.submit_chip(int(t.scalars[1]), one, inputs=[t.raw.tensors[0]],
                      outputs=[t.raw.tensors[1]], scalars=[t.f64(0)], kernel=stage)

    lorch = node.level_orch("on_node", on_node)
    with node.init():
        assert node.chips == 4
        x, y, z = node.array(0, 64), node.array(3, 64), node.array(1, 64)
        x[:] = np.arange(64)

        def orch(o):  # node 1 then node 0, ordered by y alone
            o.submit_child(1, lorch, inputs=[x], outputs=[y], scalars=[1.0, 1])
            o.submit_child(0, lorch, inputs=[y], outputs=[z], scalars=[5.0, 1])

        assert node.run(orch)["tasks_completed"] == 2
        np.testing.assert_array_equal(z, 2 * (2 * np.arange(64) + 1) + 5)
        with pytest.raises(strata.Error) as e:  # a raise in the node process reaches us
            node.run(lambda o: o.submit_child(1, lorch, inputs=[x], outputs=[y]))
        assert "IndexError" in e.value.message and "L4 child 1" in e.value.message


def run_module(*args):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(strata.__file__))
    return subprocess.run([sys.executable, "-m", "strata", *args], capture_output=True, text=True,
                          env=env, timeout=60)


def test_python_m_strata_run_vector_mirrors_the_cli():
    p = run_module("run", "vector", "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["check"] is True and out["values"] == [2, 23, 62, 119, 194, 287, 398, 527]
    p = run_module("run", "vector", "--size", "0")
    assert p.returncode == 2 and "--size" in p.stderr and "1..16777216" in p.stderr
    assert run_module("run", "nosuch").returncode == 2


def test_the_pipeline_example_builds_a_kernel_library_and_checks_with_numpy():
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(strata.__file__))
    p = subprocess.run([sys.executable, os.path.join(here, "..", "examples", "pipeline.py"), "2"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "through 2 chips, 12 tasks, checked with numpy" in p.stdout


def test_wrong_argument_types_are_type_or_value_errors_naming_the_argument():
    """Every public entry point checks its arguments: a TypeError or
    ValueError naming the argument (or strata.Error), never an internal
    traceback (AttributeError, ctypes.ArgumentError)."""
    def py_kernel(ctx):
        pass

    with strata.Chip() as chip:
        with pytest.raises(TypeError, match=r"spec must be a str.*lib\.so:symbol.*Python function"):
            chip.kernel("k", py_kernel)
        with pytest.raises(TypeError, match="name must be a str"):
            chip.kernel(3, spec("strata_py_add"))
        with pytest.raises(ValueError, match="kind='gpu'"):
            chip.kernel("k", spec("strata_py_add"), kind="gpu")
        with pytest.raises(TypeError, match="orch must be a Python function"):
            chip.run(42)
        with pytest.raises(TypeError, match="config field 'sched_threads'"):
            strata.Chip(sched_threads="two")
    with pytest.raises(TypeError, match=r"scalars\[0\] must be an int or a float"):
        strata.make_args(scalars=["1"])
    with pytest.raises(TypeError, match="inputs must be a list or tuple"):
        strata.make_args(inputs=np.zeros(4, np.float32))
    with pytest.raises(strata.Error, match="C-contiguous numpy array"):
        strata.tensor([1, 2, 3])
    node = strata.Node(chips=1)
    try:
        with pytest.raises(TypeError, match="spec must be a str"):
            node.kernel("k", py_kernel)
        with pytest.raises(TypeError, match="fn must be a Python function"):
            node.sub("s", "not a function")
        with pytest.raises(TypeError, match="name must be a str"):
            node.level_orch(None, lambda o, t: None)
        node.init()
        with pytest.raises(TypeError, match="chip must be an int"):
            node.array("0", 4)
        with pytest.raises(ValueError, match=r"shape\[0\]=-1 is out of range"):
            node.array(0, (-1,))
        with pytest.raises(TypeError, match="is not a numpy dtype"):
            node.array(0, 4, dtype="float99x")
        with pytest.raises(TypeError, match=r"chips\[0\] must be an int"):
            node.domain(["a"])
        with pytest.raises(TypeError, match="orch must be a Python function"):
            node.run("orch")

        def bad_submit(o):
            o.submit_chip("0", 0)

        with pytest.raises(TypeError, match="chip must be an int"):
            node.run(bad_submit)
    finally:
        node.close()


def test_a_python_without_numpy_is_told_how_to_get_it(tmp_path):
    """An interpreter that cannot import numpy (a bare venv) gets one clear
    message: which interpreter ran, that strata needs numpy, how to get it."""
    venv = tmp_path / "bare"
    made = subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)],
                          capture_output=True, text=True, timeout=120)
    if made.returncode != 0:
        pytest.skip("python3 -m venv is not available: " + made.stderr.strip()[-200:])
    py = str(venv / "bin" / "python")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(strata.__file__))
    p = subprocess.run([py, "-m", "strata", "run", "vector"], capture_output=True, text=True,
                       env=env, timeout=60)
    assert p.returncode == 1
    assert "Traceback" not in p.stderr, p.stderr
    assert "strata needs numpy" in p.stderr and py in p.stderr
    assert "python3-numpy" in p.stderr and "--system-site-packages" in p.stderr
    p = subprocess.run([py, "-c", "import strata"], capture_output=True, text=True, env=env,
                       timeout=60)
    assert p.returncode == 1 and "ImportError: strata needs numpy" in p.stderr
