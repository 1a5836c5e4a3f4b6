"""Heavy libraries and Qt never load on the core's import path (checked in a fresh process)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ["PySide6", "pyqtgraph", "torch", "sentence_transformers", "llama_cpp", "umap", "numba"]


def loaded_after(statement: str) -> set[str]:
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    mods = set(json.loads(proc.stdout.strip().splitlines()[-1]))
    return {h for h in HEAVY if h in mods or any(m.startswith(h + ".") for m in mods)}


def test_core_imports_nothing_heavy() -> None:
    assert loaded_after("import monoscope.core") == set()


def test_core_modules_import_nothing_heavy() -> None:
    stmt = (
        "import pkgutil, importlib, monoscope.core as c\n"
        "for m in pkgutil.walk_packages(c.__path__, 'monoscope.core.'):\n"
        "    if not m.name.endswith('__main__'):\n"
        "        importlib.import_module(m.name)\n"
        "import monoscope.core.analysis.metrics"
    )
    assert loaded_after(stmt) == set()


def test_cli_parser_imports_nothing_heavy() -> None:
    assert loaded_after("from monoscope.cli import build_parser; build_parser()") == set()
