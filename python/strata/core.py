"""core.py - the Python front end over libstrata.so: errors as exceptions,
tensors over numpy arrays (no copy), task arguments, chips with Python
orchestrations, level workers (nodes) with Python level orchestrations, sub
workers and chip orchestrations written in Python, callables by name from
compiled libraries, and collectives.

Python callables registered on a node run in its forked children (a sub in
a sub worker, a chip orchestration on a chip's orchestrator thread): they are
registered before strata_node_init, so every child inherits them.
"""
import ctypes
import traceback

import numpy as np

from . import _lib as L

__all__ = ["Error", "Chip", "Node", "tensor", "AIC", "AIV", "INPUT", "OUTPUT_EXISTING", "INOUT",
           "NO_DEP", "SUM", "MAX", "MIN", "PROD"]

AIC, AIV = 0, 1
INPUT, INOUT, OUTPUT_EXISTING, NO_DEP = 0, 2, 3, 4
SUM, MAX, MIN, PROD = 0, 1, 2, 3
EINVAL, TASK_FAILED = -22, -2001
FN_KERNEL, FN_ORCH, FN_SUB, FN_LEVEL_ORCH = 0, 1, 2, 3

_DTYPES = {np.dtype(np.uint8): 0, np.dtype(np.int32): 1, np.dtype(np.int64): 2,
           np.dtype(np.float16): 3, np.dtype(np.float32): 5, np.dtype(np.float64): 6,
           np.dtype(np.int8): 7, np.dtype(np.int16): 8}
_NP = {v: k for k, v in _DTYPES.items()}
_KIND = {"aic": AIC, "aiv": AIV, AIC: AIC, AIV: AIV}


class Error(Exception):
    """A strata failure: .code (the status), .name (e.g. "EINVAL") and
    .message (what was wrong and how to fix it)."""

    def __init__(self, code, message=None):
        self.code = code
        self.name = L.err_name(code).decode()
        self.message = message if message else L.last_error().decode()
        if not self.message:
            self.message = L.strerror(code).decode()
        super().__init__(f"{self.name} ({code}): {self.message}")


def check(rc, message=None):
    if rc != 0:
        raise Error(rc, message)
    return rc


# ---- argument checks: a wrong type is a TypeError naming the argument -----------------
_SPEC = ('a kernel is named by a C symbol of this program ("symbol") or of a compiled '
         'library ("lib.so:symbol"), or by the name it was registered under')


def _need_str(value, arg, what):
    if not isinstance(value, str):
        raise TypeError(f"{arg} must be a str ({what}), not {type(value).__name__}")
    return value


def _need_spec(spec, arg="spec"):
    if callable(spec):
        raise TypeError(f"{arg} must be a str: {_SPEC}; a Python function cannot run on a "
                        "core (write Python code as a sub worker, Node.sub, or a chip "
                        "orchestration, Node.chip_orch)")
    return _need_str(spec, arg, _SPEC)


def _need_int(value, arg, lo=0, hi=(1 << 32) - 1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{arg} must be an int, not {type(value).__name__}")
    if not lo <= int(value) <= hi:
        raise ValueError(f"{arg}={value} is out of range {lo}..{hi}")
    return int(value)


def _need_callable(fn, arg):
    if not callable(fn):
        raise TypeError(f"{arg} must be a Python function, not {type(fn).__name__}")
    return fn


def _need_kind(kind):
    if kind not in _KIND:
        raise ValueError(f"kind={kind!r}: a core kind is 'aic' or 'aiv' (strata.AIC, strata.AIV)")
    return _KIND[kind]


def _need_seq(value, arg):
    if isinstance(value, (str, bytes, np.ndarray)) or not hasattr(value, "__len__"):
        raise TypeError(f"{arg} must be a list or tuple, not {type(value).__name__}")
    return value


# ---- tensors -------------------------------------------------------------------------
def tensor(a):
    """A strata tensor over numpy array `a` (C-contiguous; no copy). The array
    must stay alive while the tensor is used."""
    if not isinstance(a, np.ndarray) or not a.flags["C_CONTIGUOUS"]:
        raise Error(EINVAL, "tensor() needs a C-contiguous numpy array (np.ascontiguousarray)")
    if a.dtype not in _DTYPES:
        raise Error(EINVAL, f"dtype {a.dtype} is not a strata dtype "
                    "(u8, i8, i16, i32, i64, f16, f32, f64)")
    ptr = a.ctypes.data
    t = L.Tensor(ptr, ptr, a.nbytes, _DTYPES[a.dtype])
    dims = a.shape if 1 <= a.ndim <= L.MAX_DIMS else (a.size,)  # more dims: flat
    t.ndim = len(dims)
    step = 1
    for k in reversed(range(len(dims))):  # C order: the last dimension is contiguous
        t.shape[k], t.strides[k] = dims[k], step
        step *= dims[k]
    return t


def _as_tensor(x):
    return x if isinstance(x, L.Tensor) else tensor(x)


def view(t, dtype=None, count=None):
    """A numpy array over the bytes of tensor t (no copy)."""
    dt = np.dtype(dtype) if dtype is not None else _NP.get(t.dtype, np.dtype(np.uint8))
    n = t.bytes // dt.itemsize if count is None else count
    buf = (ctypes.c_char * (n * dt.itemsize)).from_address(t.data)
    return np.frombuffer(buf, dtype=dt, count=n)


def make_args(inputs=(), outputs=(), inouts=(), scalars=(), deps=(), kernel=None, spmd=None,
              sync_start=False):
    """strata_args: tensors in the order inputs, inouts, outputs (written in
    place: OUTPUT_EXISTING), then scalars (ints, or floats as f64 bits).
    kernel: for the package's one_kernel chip orchestration, the kernel it
    runs (appended as the last scalar, which one_kernel takes off). spmd: run as that many blocks
    (sync_start: all started together)."""
    a = L.Args()
    if spmd is not None:
        if not 1 <= int(spmd) <= 65535:
            raise Error(EINVAL, f"spmd={spmd}: block_dim must be 1..65535")
        a.block_dim, a.sync_start = int(spmd), 1 if sync_start else 0
    for arg, v in (("inputs", inputs), ("outputs", outputs), ("inouts", inouts),
                   ("scalars", scalars), ("deps", deps)):
        _need_seq(v, arg)
    for i, x in enumerate(scalars):
        if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
            raise TypeError(f"scalars[{i}] must be an int or a float, not {type(x).__name__}")
    tensors = [(INPUT, x) for x in inputs] + [(INOUT, x) for x in inouts] + \
              [(OUTPUT_EXISTING, x) for x in outputs]
    if len(tensors) > L.MAX_TENSORS or len(scalars) > L.MAX_SCALARS or len(deps) > L.MAX_DEPS:
        raise Error(EINVAL, f"at most {L.MAX_TENSORS} tensors, {L.MAX_SCALARS} scalars and "
                    f"{L.MAX_DEPS} deps per task")
    for i, (tag, x) in enumerate(tensors):
        a.tensors[i] = _as_tensor(x)
        a.tags[i] = tag
    a.ntensors = len(tensors)
    for i, s in enumerate(scalars):
        a.scalars[i] = (np.float64(s).view(np.uint64).item() if isinstance(s, float)
                        else int(s) & 0xFFFFFFFFFFFFFFFF)
    a.nscalars = len(scalars)
    for i, d in enumerate(deps):
        a.deps[i].id = _need_int(d, f"deps[{i}]", 0, (1 << 64) - 1)
    a.ndeps = len(deps)
    if kernel is not None:
        if len(scalars) >= L.MAX_SCALARS:
            raise Error(EINVAL, f"with kernel=, at most {L.MAX_SCALARS - 1} scalars")
        a.scalars[a.nscalars] = _need_int(kernel, "kernel")
        a.nscalars += 1
    return a


class TaskArgs:
    """What a Python sub function or chip orchestration receives: .tensors
    (numpy arrays over the task's tensors, no copy), .scalars (ints) and
    .raw (the strata_args)."""

    def __init__(self, raw):
        self.raw = raw
        self.tensors = [view(raw.tensors[i]) for i in range(raw.ntensors)]
        self.scalars = [raw.scalars[i] for i in range(raw.nscalars)]

    def f64(self, i):
        return np.uint64(self.scalars[i]).view(np.float64).item()


def _result(info):
    return {f: getattr(info, f) if not isinstance(getattr(info, f), bytes)
            else getattr(info, f).decode(errors="replace") for f, _ in info._fields_}


# ---- chip ------------------------------------------------------------------------------
def _config(struct, init, bits, what, kw):
    """A config struct from init(), with kw's fields set and their mask bits."""
    c = struct()
    init(ctypes.byref(c))
    for k, v in kw.items():
        if k not in bits:
            raise Error(EINVAL, f"unknown {what} config field '{k}'; fields: {', '.join(bits)}")
        try:
            setattr(c, k, v)
        except TypeError as e:
            raise TypeError(f"{what} config field '{k}': {e}") from None
        c.field_mask |= bits[k]
    return c


def _chip_config(kw):
    return _config(L.ChipConfig, L.chip_config_init, L.CHIP_BITS, "chip", kw)


def resolve(spec):
    """Address of callable `spec` ("symbol" or "library.so:symbol") here."""
    fn = ctypes.c_void_p()
    check(L.callable_resolve(_need_spec(spec).encode(), ctypes.byref(fn)))
    return fn


class ChipOrch:
    """The handle a Python chip orchestration gets: submit tasks, scopes,
    collectives (inside a node's chip child)."""

    def __init__(self, ptr):
        self.ptr = ptr

    def kernel(self, name):
        k = ctypes.c_uint32()
        name = _need_str(name, "name", "the name a kernel was registered under")
        check(L.chip_find_kernel(L.orch_chip(self.ptr), name.encode(), ctypes.byref(k)))
        return k.value

    def submit(self, kernel, **args):
        """A task (spmd=N, sync_start=True for SPMD); returns its handle."""
        kernel = _need_int(kernel, "kernel")
        a = args.pop("args", None) or make_args(**args)
        ref = L.TaskRef()
        check(L.orch_submit(self.ptr, kernel, ctypes.byref(a), ctypes.byref(ref)))
        return ref.id

    def submit_dummy(self, **args):
        """A dummy task: dependencies only, no kernel."""
        a = make_args(**args)
        ref = L.TaskRef()
        check(L.orch_submit_dummy(self.ptr, ctypes.byref(a), ctypes.byref(ref)))
        return ref.id

    def submit_mix(self, aic_kernel, aiv_kernel, **args):
        """A MIX task: aic_kernel and aiv_kernel on one cluster at once."""
        a = make_args(**args)
        ref = L.TaskRef()
        check(L.orch_submit_mix(self.ptr, aic_kernel, aiv_kernel, ctypes.byref(a),
                                ctypes.byref(ref)))
        return ref.id

    def get_tensor_data(self, t, out):
        """Copy tensor t into numpy array `out` once its earlier writers finished."""
        check(L.orch_get_tensor_data(self.ptr, ctypes.byref(_as_tensor(t)),
                                     out.ctypes.data, out.nbytes))
        return out

    def set_tensor_data(self, t, src):
        """Copy numpy array `src` into tensor t once its earlier readers and writers finished."""
        src = np.ascontiguousarray(src)
        check(L.orch_set_tensor_data(self.ptr, ctypes.byref(_as_tensor(t)),
                                     src.ctypes.data, src.nbytes))

    def allreduce(self, domain, inp, out, op=SUM):
        check(L.comm_submit_allreduce(self.ptr, domain, ctypes.byref(_as_tensor(inp)),
                                      ctypes.byref(_as_tensor(out)), op, 0, None))

    def allgather(self, domain, inp, out):
        check(L.comm_submit_allgather(self.ptr, domain, ctypes.byref(_as_tensor(inp)),
                                      ctypes.byref(_as_tensor(out)), None))

    def barrier(self, domain):
        check(L.comm_submit_barrier(self.ptr, domain, None))


def _orch_trampoline(fn, with_args):
    """A C strata_orch_fn around fn: a Python exception becomes the run's
    EXPLICIT_ORCH_FATAL with the traceback's last line."""

    def call(o, arg):
        try:
            if with_args:
                fn(ChipOrch(o), TaskArgs(ctypes.cast(arg, ctypes.POINTER(L.Args)).contents))
            else:
                fn(ChipOrch(o))
        except BaseException as e:  # noqa: BLE001 - reported through the run
            L.orch_fatal(o, b"%s", f"python orchestration raised {type(e).__name__}: {e}".encode())

    return L.ORCH_FN(call)


class _Handle:
    """A C object owned by Python: close() (or leaving a with block) destroys it."""

    ptr = ctypes.c_void_p()

    def _destroy(self):
        raise NotImplementedError

    def close(self):
        if self.ptr:
            self._destroy()
            self.ptr = ctypes.c_void_p()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Chip(_Handle):
    """A simulated chip: Chip(sched_threads=2, ...) with strata_chip_config
    fields; kernels from compiled libraries by name; run(orch) calls the
    Python orchestration orch(o) on the chip's orchestrator thread."""

    def __init__(self, **config):
        self.ptr = ctypes.c_void_p()
        cfg = _chip_config(config)
        check(L.chip_create(ctypes.byref(cfg), ctypes.byref(self.ptr)))
        self._keep = []

    def kernel(self, name, spec, kind="aiv"):
        k = ctypes.c_uint32()
        name = _need_str(name, "name", "the kernel's name")
        check(L.chip_register_kernel(self.ptr, name.encode(), resolve(spec), _need_kind(kind),
                                     ctypes.byref(k)))
        return k.value

    def run(self, orch):
        fn = _orch_trampoline(_need_callable(orch, "orch"), with_args=False)
        info = L.RunInfo()
        rc = L.chip_run(self.ptr, fn, None, ctypes.byref(info))
        check(rc, info.message.decode(errors="replace"))
        return _result(info)

    def _destroy(self):
        L.chip_destroy(self.ptr)


# ---- level workers ------------------------------------------------------------------------
class NodeOrch:
    """The handle a Python level orchestration gets."""

    def __init__(self, ptr, node):
        self.ptr = ptr
        self.node = node

    def submit_chip(self, chip, orch, **args):
        chip, orch = _need_int(chip, "chip"), _need_int(orch, "orch")
        a = args.pop("args", None) or make_args(**args)
        ref = L.TaskRef()
        check(L.node_submit_child(self.ptr, chip, orch, ctypes.byref(a), ctypes.byref(ref)))
        return ref.id

    submit_child = submit_chip

    def submit_sub(self, fn, **args):
        fn = _need_int(fn, "fn")
        a = make_args(**args)
        ref = L.TaskRef()
        check(L.node_submit_sub(self.ptr, fn, ctypes.byref(a), ctypes.byref(ref)))
        return ref.id

    def submit_group(self, members):
        """members: [(chip, orch, args dict), ...], dispatched all-or-nothing."""
        for i, m in enumerate(_need_seq(members, "members")):
            if not isinstance(m, (tuple, list)) or len(m) != 3 or not isinstance(m[2], dict):
                raise TypeError(f"members[{i}] must be (chip, orch, args dict)")
            _need_int(m[0], f"members[{i}] chip"), _need_int(m[1], f"members[{i}] orch")
        args = [make_args(**m[2]) for m in members]
        arr = (L.NodeMember * len(members))(
            *[L.NodeMember(m[0], m[1], ctypes.pointer(a)) for m, a in zip(members, args)])
        ref = L.TaskRef()
        check(L.node_submit_group(self.ptr, arr, len(members), ctypes.byref(ref)))
        return ref.id

    def scope(self):
        return _Scope(self.ptr)


class _Scope:
    def __init__(self, ptr):
        self.ptr = ptr

    def __enter__(self):
        check(L.node_scope_begin(self.ptr))

    def __exit__(self, *exc):
        check(L.node_scope_end(self.ptr))


def _sub_trampoline(fn):
    """A C strata_sub_fn around fn(TaskArgs): an exception is the task's
    failure, with its type and message (never a hang)."""

    def call(args, msg, length):
        try:
            fn(TaskArgs(args.contents))
            return 0
        except BaseException as e:  # noqa: BLE001 - reported through the run
            text = f"python sub raised {type(e).__name__}: {e}".encode()[: max(0, length - 1)]
            ctypes.memmove(msg, text + b"\0", len(text) + 1)
            return TASK_FAILED

    return L.SUB_FN(call)


class Node(_Handle):
    """A level worker: Node(chips=2, subs=1, level=3, workers=0, ...,
    chip={chip config}). Register callables, then init(), then run()."""

    def __init__(self, chip=None, **config):
        cfg = _config(L.NodeConfig, L.node_config_init, L.NODE_BITS, "node", config)
        cfg.chip = _chip_config(chip or {})
        self.ptr = ctypes.c_void_p()
        check(L.node_create(ctypes.byref(cfg), ctypes.byref(self.ptr)))
        self._keep = []  # trampolines must outlive every process that may call them
        self._arrays = []

    def _by_name(self, kind, name, spec, core=AIV):
        i = ctypes.c_uint32()
        name, spec = _need_str(name, "name", "the callable's name"), _need_spec(spec)
        check(L.node_register_by_name(self.ptr, kind, name.encode(), spec.encode(),
                                      _need_kind(core), ctypes.byref(i)))
        return i.value

    def kernel(self, name, spec, kind="aiv"):
        """A kernel from a compiled library: spec "lib.so:symbol"."""
        return self._by_name(FN_KERNEL, name, spec, kind)

    def chip_orch(self, name, spec_or_fn):
        """A chip orchestration: a spec, or a Python fn(o, task_args)."""
        if isinstance(spec_or_fn, str):
            return self._by_name(FN_ORCH, name, spec_or_fn)
        name = _need_str(name, "name", "the orchestration's name")
        fn = _orch_trampoline(_need_callable(spec_or_fn, "spec_or_fn"), with_args=True)
        self._keep.append(fn)
        i = ctypes.c_uint32()
        check(L.node_register_orch(self.ptr, name.encode(), fn, ctypes.byref(i)))
        return i.value

    def level_orch(self, name, fn):
        """A level orchestration written in Python, run by a next-level worker
        child (L4 and up) as a task: fn(o, task_args) with o a NodeOrch."""
        name, fn = _need_str(name, "name", "the orchestration's name"), _need_callable(fn, "fn")

        def call(o, arg):
            try:
                fn(NodeOrch(o, None), TaskArgs(ctypes.cast(arg, ctypes.POINTER(L.Args)).contents))
            except BaseException as e:  # noqa: BLE001 - the worker's run reports it
                L.node_orch_fatal(o, b"%s", f"python level orchestration raised "
                                  f"{format_exception(e)}".encode())

        tramp = L.NODE_ORCH_FN(call)
        self._keep.append(tramp)
        i = ctypes.c_uint32()
        check(L.node_register_level_orch(self.ptr, name.encode(), tramp, ctypes.byref(i)))
        return i.value

    def sub(self, name, fn):
        """A sub worker function written in Python: fn(task_args); raise to fail."""
        name = _need_str(name, "name", "the sub function's name")
        tramp = _sub_trampoline(_need_callable(fn, "fn"))
        self._keep.append(tramp)
        i = ctypes.c_uint32()
        check(L.node_register_sub(self.ptr, name.encode(), tramp, ctypes.byref(i)))
        return i.value

    def init(self):
        check(L.node_init(self.ptr))
        return self

    @property
    def chips(self):
        return L.node_chips(self.ptr)

    def array(self, chip, shape, dtype=np.float64):
        """A numpy array in chip `chip`'s device memory (no copy: device
        memory is mapped in this process). Freed when the node closes."""
        chip = _need_int(chip, "chip")
        try:
            dt = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"dtype={dtype!r} is not a numpy dtype") from None
        shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(_need_seq(shape, "shape"))
        for k, d in enumerate(shape):
            _need_int(d, f"shape[{k}]", 0, 1 << 40)
        nbytes = int(np.prod(shape)) * dt.itemsize
        p = ctypes.c_void_p()
        check(L.node_malloc(self.ptr, chip, max(nbytes, 1), ctypes.byref(p)))
        buf = (ctypes.c_char * max(nbytes, 1)).from_address(p.value)
        a = np.frombuffer(buf, dtype=dt, count=int(np.prod(shape))).reshape(shape)
        self._arrays.append(a)
        return a

    def domain(self, chips, window=1 << 16):
        """A communication domain over chips (rank i = chips[i])."""
        chips = [_need_int(c, f"chips[{i}]") for i, c in enumerate(_need_seq(chips, "chips"))]
        window = _need_int(window, "window", 0, (1 << 63) - 1)
        arr = (ctypes.c_uint32 * len(chips))(*chips)
        d = ctypes.c_uint32()
        check(L.domain_create(self.ptr, arr, len(chips), window, ctypes.byref(d)))
        return d.value

    def run(self, orch, *args):
        """Run the Python level orchestration orch(o, *args) and drain it.
        Raises Error with the first failure (or the orchestration's own
        exception); returns the run info as a dict."""
        _need_callable(orch, "orch")
        raised = []

        def call(o, _):
            try:
                orch(NodeOrch(o, self), *args)
            except BaseException as e:  # noqa: BLE001 - re-raised below
                raised.append(e)

        fn = L.NODE_ORCH_FN(call)
        info = L.NodeRunInfo()
        rc = L.node_run(self.ptr, fn, None, ctypes.byref(info))
        if raised:
            raise raised[0]
        check(rc, info.message.decode(errors="replace"))
        return _result(info)

    def _destroy(self):
        self._arrays.clear()  # views of device memory die with the node
        L.node_close(self.ptr)


def format_exception(e):
    return "".join(traceback.format_exception_only(type(e), e)).strip()
