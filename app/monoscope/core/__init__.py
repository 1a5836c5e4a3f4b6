"""Monoscope's computing core: store, import, generation, attributes, metrics, projection.

Never imports Qt (a test and an import-linter contract keep it so) nor, at import time, any
heavy library (torch, sentence-transformers, llama_cpp, umap): those load inside the task
that needs them.
"""
