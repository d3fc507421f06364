"""strata - the Python front end of the strata runtime (libstrata.so via
ctypes): chips and level workers, tensors over numpy arrays, callables by
name from compiled libraries, Python orchestrations and sub workers,
collectives, errors as exceptions. `python3 -m strata run vector` mirrors
the `strata` command."""
import sys as _sys

try:
    import numpy as _np  # noqa: F401 - checked here so the message is ours
except ModuleNotFoundError:
    _msg = (f"strata needs numpy, which the Python that runs it cannot import: "
            f"{_sys.executable} (Python {_sys.version.split()[0]}). Use Debian's python3 with "
            f"its numpy (apt-get install python3-numpy; /usr/bin/python3), or a venv made with "
            f"`python3 -m venv --system-site-packages DIR`, which sees it.")
    if _sys.argv and _sys.argv[0] == "-m":  # python -m strata: one line, no traceback
        print(f"strata: {_msg}", file=_sys.stderr)
        raise SystemExit(1)
    raise ImportError(_msg) from None

from ._lib import LIB_PATH, version as _version
from .core import (AIC, AIV, INOUT, INPUT, MAX, MIN, NO_DEP, OUTPUT_EXISTING, PROD, SUM, Chip,
                   Error, Node, TaskArgs, make_args, resolve, tensor, view)
from .kernels import kernels_library

__version__ = _version().decode()
__all__ = ["Chip", "Node", "Error", "TaskArgs", "tensor", "view", "make_args", "resolve",
           "kernels_library", "LIB_PATH", "AIC", "AIV", "INPUT", "INOUT", "OUTPUT_EXISTING",
           "NO_DEP", "SUM", "MAX", "MIN", "PROD"]
