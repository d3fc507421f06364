"""setup.py - the build step pyproject.toml cannot express: the version from
include/strata/version.h, and strata/_where.py, which tells the installed
package where libstrata.so (and its kernels library) were at install time:
$STRATA_PREFIX's library directories if set, else this tree's build
directories."""
import os
import re

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = os.path.dirname(os.path.abspath(__file__))


def version():
    with open(os.path.join(ROOT, "include", "strata", "version.h")) as f:
        return re.search(r'STRATA_VERSION_STRING "([^"]+)"', f.read()).group(1)


def lib_dirs():
    prefix = os.environ.get("STRATA_PREFIX")
    if prefix:
        return [os.path.join(prefix, d) for d in ("lib", "lib64", "lib/x86_64-linux-gnu",
                                                  "lib/aarch64-linux-gnu")]
    return [os.path.join(ROOT, b) for b in ("build", "build-gcc", "build-release")]


class BuildPy(build_py):
    def run(self):
        super().run()
        with open(os.path.join(self.build_lib, "strata", "_where.py"), "w") as f:
            f.write('"""_where.py - written by setup.py: where libstrata.so was at install."""\n'
                    f"LIB_DIRS = {lib_dirs()!r}\n")


setup(version=version(), cmdclass={"build_py": BuildPy})
