"""kernels.py - where the package's own compiled kernels live
(libstrata_pykernels.so: add, adds, mul, stage and the chip orchestration
one_kernel), built by CMake next to libstrata and installed in the package.
STRATA_PYKERNELS overrides the search."""
import os

from ._lib import LIB_PATH

_NAME = "libstrata_pykernels.so"


def kernels_library():
    """Path of libstrata_pykernels.so, for specs like f"{path}:strata_py_add"."""
    here = os.path.dirname(os.path.abspath(__file__))
    for p in (os.environ.get("STRATA_PYKERNELS"), os.path.join(here, _NAME),
              os.path.join(os.path.dirname(LIB_PATH), "python", _NAME)):
        if p and os.path.exists(p):
            return os.path.abspath(p)
    raise FileNotFoundError(f"{_NAME} not found: build strata (cmake) or set STRATA_PYKERNELS")
