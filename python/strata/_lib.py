"""_lib.py - loads libstrata.so with ctypes and declares the C structures and
functions the package uses. The layouts mirror include/strata/*.h exactly
(the C compiler's rules, which ctypes follows).

Where the library comes from, first match wins:
  STRATA_LIB (a path to libstrata.so), the installed layout
  (<prefix>/<libdir>/python3/dist-packages/strata -> <prefix>/<libdir>), the
  directories pip's install recorded (_where.py: STRATA_PREFIX's, or the
  source tree's build directories), a build tree next to the sources
  (build/, build-gcc/), then the loader's own search.
"""
import ctypes
import ctypes.util
import os
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char, c_char_p, c_int, c_size_t,
                    c_uint8, c_uint32, c_uint64, c_void_p)

MAX_TENSORS = 256
MAX_DIMS = 5
MAX_SCALARS = 128
MAX_DEPS = 8

_HERE = os.path.dirname(os.path.abspath(__file__))


def recorded_dirs():
    """The library directories a pip install recorded (setup.py), or []."""
    try:
        from ._where import LIB_DIRS
    except ImportError:
        return []
    return LIB_DIRS


def _candidates():
    env = os.environ.get("STRATA_LIB")
    if env:
        yield env
    yield os.path.join(_HERE, "..", "..", "..", "libstrata.so.0")  # installed layout
    for d in recorded_dirs():
        yield os.path.join(d, "libstrata.so.0")
    root = os.path.join(_HERE, "..", "..")
    for build in ("build", "build-gcc", "build-release"):
        yield os.path.join(root, build, "libstrata.so.0")
    found = ctypes.util.find_library("strata")
    if found:
        yield found


def _load():
    errors = []
    for path in _candidates():
        if os.path.sep in path and not os.path.exists(path):
            continue
        try:  # RTLD_GLOBAL: kernel libraries loaded later bind to these symbols
            return ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL), os.path.abspath(path)
        except OSError as e:
            errors.append(f"{path}: {e}")
    raise ImportError("cannot find libstrata.so: set STRATA_LIB to its path, or install strata "
                      "(cmake --install); tried: " + "; ".join(errors or ["nothing found"]))


lib, LIB_PATH = _load()


class Tensor(Structure):
    _fields_ = [("data", c_void_p), ("base", c_void_p), ("bytes", c_size_t), ("dtype", c_int),
                ("ndim", c_uint32), ("owner", c_uint64), ("shape", c_uint32 * MAX_DIMS),
                ("strides", c_uint32 * MAX_DIMS)]


class TaskRef(Structure):
    _fields_ = [("id", c_uint64)]


class Args(Structure):
    _fields_ = [("ntensors", c_uint32), ("nscalars", c_uint32), ("ndeps", c_uint32),
                ("held", c_uint32), ("error", c_int), ("block_dim", c_uint32),
                ("sync_start", c_uint32), ("tensors", Tensor * MAX_TENSORS),
                ("outputs", POINTER(Tensor) * MAX_TENSORS), ("tags", c_uint8 * MAX_TENSORS),
                ("scalars", c_uint64 * MAX_SCALARS), ("deps", TaskRef * MAX_DEPS)]


class ChipConfig(Structure):
    _fields_ = [("field_mask", c_uint64), ("sched_threads", c_uint32), ("clusters", c_uint32),
                ("task_window", c_uint32), ("heap_bytes", c_uint64), ("dep_pool", c_uint32),
                ("scheduler_timeout_ms", c_uint32), ("stream_sync_timeout_ms", c_uint32),
                ("ring_wait_timeout_ms", c_uint32), ("tensor_wait_timeout_ms", c_uint32),
                ("stall_report_ms", c_uint32), ("legacy_sched_timeout", c_uint32),
                ("legacy_idle_cap", c_uint32), ("scope_tasks_cap", c_uint32),
                ("init_delay_ms", c_uint32), ("join_grace_ms", c_uint32),
                ("unordered_timeouts", c_uint32), ("tensormap_cap", c_uint32),
                ("fault_no_dispatch", c_uint32)]


# field name -> field_mask bit, in the order of include/strata/chip.h
CHIP_BITS = {name: 1 << i for i, (name, _) in enumerate(ChipConfig._fields_[1:])}


class NodeConfig(Structure):
    _fields_ = [("field_mask", c_uint64), ("chips", c_uint32), ("subs", c_uint32),
                ("startup_timeout_ms", c_uint32), ("task_timeout_ms", c_uint32),
                ("devmem_bytes", c_uint64), ("init_barrier", c_uint32), ("chip", ChipConfig),
                ("level", c_uint32), ("workers", c_uint32), ("worker_cfg", c_void_p),
                ("task_window", c_uint32)]


NODE_BITS = {"chips": 1, "subs": 2, "startup_timeout_ms": 4, "task_timeout_ms": 8,
             "devmem_bytes": 16, "init_barrier": 32, "level": 64, "workers": 128,
             "task_window": 256}


class RunInfo(Structure):
    _fields_ = [("status", c_int), ("raw_status", c_int), ("orch_code", c_int),
                ("sched_code", c_int), ("sched_thread", c_int), ("report_bitmap", c_uint64),
                ("tasks_submitted", c_uint64), ("tasks_completed", c_uint64),
                ("tasks_failed", c_uint64), ("tasks_poisoned", c_uint64),
                ("stall_reports", c_uint64), ("elapsed_ns", c_uint64), ("hang_class", c_int),
                ("stuck_task", c_uint64), ("stuck_core", c_int), ("stuck_ms", c_uint64),
                ("stuck_kernel", c_char * 32), ("message", c_char * 512)]


class NodeRunInfo(Structure):
    _fields_ = [("status", c_int), ("tasks_submitted", c_uint64), ("tasks_completed", c_uint64),
                ("tasks_failed", c_uint64), ("tasks_poisoned", c_uint64),
                ("elapsed_ns", c_uint64), ("message", c_char * 640)]


class NodeMember(Structure):
    _fields_ = [("chip", c_uint32), ("orch", c_uint32), ("args", POINTER(Args))]


ORCH_FN = CFUNCTYPE(None, c_void_p, c_void_p)                 # strata_orch_fn
NODE_ORCH_FN = CFUNCTYPE(None, c_void_p, c_void_p)            # strata_node_orch_fn
SUB_FN = CFUNCTYPE(c_int, POINTER(Args), c_void_p, c_size_t)  # strata_sub_fn


def _proto(name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


P = POINTER
strerror = _proto("strata_strerror", c_char_p, c_int)
err_name = _proto("strata_err_name", c_char_p, c_int)
last_error = _proto("strata_last_error", c_char_p)
hang_class_name = _proto("strata_hang_class_name", c_char_p, c_int)
callable_resolve = _proto("strata_callable_resolve", c_int, c_char_p, P(c_void_p))
chip_config_init = _proto("strata_chip_config_init", None, P(ChipConfig))
chip_create = _proto("strata_chip_create", c_int, P(ChipConfig), P(c_void_p))
chip_destroy = _proto("strata_chip_destroy", c_int, c_void_p)
chip_register_kernel = _proto("strata_chip_register_kernel", c_int, c_void_p, c_char_p,
                              c_void_p, c_int, P(c_uint32))
chip_find_kernel = _proto("strata_chip_find_kernel", c_int, c_void_p, c_char_p, P(c_uint32))
chip_run = _proto("strata_chip_run", c_int, c_void_p, ORCH_FN, c_void_p, P(RunInfo))
orch_submit = _proto("strata_orch_submit", c_int, c_void_p, c_uint32, P(Args), P(TaskRef))
orch_chip = _proto("strata_orch_chip", c_void_p, c_void_p)
orch_submit_dummy = _proto("strata_orch_submit_dummy", c_int, c_void_p, P(Args), P(TaskRef))
orch_submit_mix = _proto("strata_orch_submit_mix", c_int, c_void_p, c_uint32, c_uint32, P(Args),
                         P(TaskRef))
orch_get_tensor_data = _proto("strata_orch_get_tensor_data", c_int, c_void_p, P(Tensor), c_void_p,
                              c_size_t)
orch_set_tensor_data = _proto("strata_orch_set_tensor_data", c_int, c_void_p, P(Tensor), c_void_p,
                              c_size_t)
orch_fatal = _proto("strata_orch_fatal", c_int, c_void_p, c_char_p, c_char_p)
orch_scope_begin = _proto("strata_orch_scope_begin", c_int, c_void_p)
orch_scope_end = _proto("strata_orch_scope_end", c_int, c_void_p)
node_config_init = _proto("strata_node_config_init", None, P(NodeConfig))
node_create = _proto("strata_node_create", c_int, P(NodeConfig), P(c_void_p))
node_init = _proto("strata_node_init", c_int, c_void_p)
node_close = _proto("strata_node_close", c_int, c_void_p)
node_chips = _proto("strata_node_chips", c_uint32, c_void_p)
node_register_sub = _proto("strata_node_register_sub", c_int, c_void_p, c_char_p, SUB_FN,
                           P(c_uint32))
node_register_orch = _proto("strata_node_register_orch", c_int, c_void_p, c_char_p, ORCH_FN,
                            P(c_uint32))
node_register_level_orch = _proto("strata_node_register_level_orch", c_int, c_void_p, c_char_p,
                                  NODE_ORCH_FN, P(c_uint32))
node_register_by_name = _proto("strata_node_register_by_name", c_int, c_void_p, c_int, c_char_p,
                               c_char_p, c_int, P(c_uint32))
node_malloc = _proto("strata_node_malloc", c_int, c_void_p, c_uint32, c_size_t, P(c_void_p))
node_free = _proto("strata_node_free", c_int, c_void_p, c_uint32, c_void_p)
node_run = _proto("strata_node_run", c_int, c_void_p, NODE_ORCH_FN, c_void_p, P(NodeRunInfo))
node_submit_child = _proto("strata_node_submit_child", c_int, c_void_p, c_uint32, c_uint32,
                           P(Args), P(TaskRef))
node_submit_sub = _proto("strata_node_submit_sub", c_int, c_void_p, c_uint32, P(Args), P(TaskRef))
node_submit_group = _proto("strata_node_submit_group", c_int, c_void_p, P(NodeMember), c_uint32,
                           P(TaskRef))
node_orch_fatal = _proto("strata_node_orch_fatal", c_int, c_void_p, c_char_p, c_char_p)
node_scope_begin = _proto("strata_node_scope_begin", c_int, c_void_p)
node_scope_end = _proto("strata_node_scope_end", c_int, c_void_p)
domain_create = _proto("strata_node_domain_create", c_int, c_void_p, P(c_uint32), c_uint32,
                       c_size_t, P(c_uint32))
domain_release = _proto("strata_node_domain_release", c_int, c_void_p, c_uint32)
comm_submit_allreduce = _proto("strata_comm_submit_allreduce", c_int, c_void_p, c_uint32,
                               P(Tensor), P(Tensor), c_int, c_int, P(TaskRef))
comm_submit_allgather = _proto("strata_comm_submit_allgather", c_int, c_void_p, c_uint32,
                               P(Tensor), P(Tensor), P(TaskRef))
comm_submit_barrier = _proto("strata_comm_submit_barrier", c_int, c_void_p, c_uint32, P(TaskRef))
version = _proto("strata_version", c_char_p)
