"""PyInstaller hook: pynndescent JIT-compiles with ``numba.njit(cache=True)``.

numba's on-disk cache needs the real source file of each cached function, so the package is
collected as plain ``.py`` files instead of inside the PYZ archive.
"""

from PyInstaller.utils.hooks import copy_metadata

module_collection_mode = "py"
datas = copy_metadata("pynndescent")
