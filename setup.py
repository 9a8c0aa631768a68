"""Builds simtune's Python extension with the project's CMake (target `python`, in build/, the
developer build directory, configured here when it is not yet) for `pip install .`; the
package's Python files come from python/simtune/."""

import importlib.machinery
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
CMAKE_DIR = ROOT / "build"


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        if not (CMAKE_DIR / "CMakeCache.txt").exists():
            # The base interpreter, not a venv's: the build directory outlives the venv.
            python = getattr(sys, "_base_executable", sys.executable)
            subprocess.run(["cmake", "-S", str(ROOT), "-B", str(CMAKE_DIR), "-G", "Ninja",
                            "-DCMAKE_BUILD_TYPE=Release", f"-DPython3_EXECUTABLE={python}"],
                           check=True)
        subprocess.run(["cmake", "--build", str(CMAKE_DIR), "--target", "python"], check=True)
        suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
        built = CMAKE_DIR / "python" / "simtune" / f"_simtune{suffix}"
        if not built.exists():
            sys.exit(f"{built} is missing: {CMAKE_DIR} was configured for another Python than "
                     f"{sys.executable}; remove its CMakeCache.txt and run again")
        target = Path(self.get_ext_fullpath(ext.name))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(built, target)


setup(
    packages=["simtune"],
    package_dir={"": "python"},
    package_data={"simtune": ["py.typed", "*.pyi"]},
    ext_modules=[Extension("simtune._simtune", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
    options={"build": {"build_base": str(CMAKE_DIR / "setuptools")}},
)
