"""The reference for Shaib et al.'s lexical set measures: the `diversity` package 0.3.1 itself,
as installed by `packaging/setup.sh --dev` (`pip install --no-deps diversity==0.3.1`).

Its package `__init__` imports spacy, transformers and `evaluate` (which fetches metrics from a
hub), none of which can be installed beside Monoscope or used offline, so the four modules the
tests need are loaded from the installed package's files one by one, without the `__init__`.
`evaluate.load` is only used by homogenization's BERTScore/BLEU branches, which the tests do not
call: an empty stand-in module satisfies the import.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path
from typing import Any


def _module(name: str) -> Any:
    spec = importlib.util.find_spec("diversity")  # finds the package, does not import it
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the reference package is missing: run `bash packaging/setup.sh "
                          "--dev` (it installs diversity==0.3.1 with --no-deps)")
    path = Path(next(iter(spec.submodule_search_locations))) / f"{name}.py"
    if "evaluate" not in sys.modules:
        stand_in = types.ModuleType("evaluate")
        stand_in.load = None  # type: ignore[attr-defined]
        sys.modules["evaluate"] = stand_in
    mod_spec = importlib.util.spec_from_file_location(f"diversity_ref_{name}", path)
    assert mod_spec is not None and mod_spec.loader is not None
    mod = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(mod)
    return mod


compression_ratio = _module("compression").compression_ratio
ngram_diversity_score = _module("ngram_diversity").ngram_diversity_score
self_repetition_score = _module("self_repetition").self_repetition_score
homogenization_score = _module("homogenization").homogenization_score
