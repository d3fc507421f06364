"""strata - the Python front end of the strata runtime (libstrata.so via
ctypes): chips and level workers, tensors over numpy arrays, callables by
name from compiled libraries, Python orchestrations and sub workers,
collectives, errors as exceptions. `python3 -m strata run vector` mirrors
the `strata` command."""
from ._lib import LIB_PATH, version as _version
from .core import (AIC, AIV, INOUT, INPUT, MAX, MIN, NO_DEP, OUTPUT_EXISTING, PROD, SUM, Chip,
                   Error, Node, TaskArgs, make_args, resolve, tensor, view)
from .kernels import kernels_library

__version__ = _version().decode()
__all__ = ["Chip", "Node", "Error", "TaskArgs", "tensor", "view", "make_args", "resolve",
           "kernels_library", "LIB_PATH", "AIC", "AIV", "INPUT", "INOUT", "OUTPUT_EXISTING",
           "NO_DEP", "SUM", "MAX", "MIN", "PROD"]
