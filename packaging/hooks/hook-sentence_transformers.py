"""PyInstaller hook: sentence-transformers reads its own package data and version metadata."""

from PyInstaller.utils.hooks import collect_data_files, copy_metadata

datas = collect_data_files("sentence_transformers") + copy_metadata("sentence_transformers")
# transformers/sentence-transformers call inspect.getsource on some classes: keep the sources.
module_collection_mode = "pyz+py"
