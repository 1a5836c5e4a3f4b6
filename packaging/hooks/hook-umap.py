"""PyInstaller hook (overrides the contrib one): umap-learn as source files for numba's cache."""

from PyInstaller.utils.hooks import copy_metadata

module_collection_mode = "py"
datas = copy_metadata("umap-learn")
