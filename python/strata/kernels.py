"""kernels.py - where the package's own compiled kernels live
(libstrata_pykernels.so: add, adds, mul, stage and the chip orchestration
one_kernel), built by CMake next to libstrata and installed in the package.
STRATA_PYKERNELS overrides the search."""
import os

from ._lib import LIB_PATH, recorded_dirs

_NAME = "libstrata_pykernels.so"


def kernels_library():
    """Path of libstrata_pykernels.so, for specs like f"{path}:strata_py_add"."""
    here = os.path.dirname(os.path.abspath(__file__))
    libdirs = [os.path.dirname(LIB_PATH)] + recorded_dirs()
    found = [os.environ.get("STRATA_PYKERNELS"), os.path.join(here, _NAME)]
    for d in libdirs:  # a build tree, or an installed prefix's package
        found += [os.path.join(d, "python", _NAME),
                  os.path.join(d, "python3", "dist-packages", "strata", _NAME)]
    for p in found:
        if p and os.path.exists(p):
            return os.path.abspath(p)
    raise FileNotFoundError(f"{_NAME} not found: build strata (cmake) or set STRATA_PYKERNELS")
