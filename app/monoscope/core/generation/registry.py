"""Model registry: resolve a bundled name or a .gguf path, and record the file in `models`.

A model row carries the file's sha256, so a run's provenance names the exact weights even if
the file is later moved or renamed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monoscope.core import assets
from monoscope.core.errors import ModelLoadError
from monoscope.core.generation.gguf import GGUFInfo, read_gguf
from monoscope.core.store import Study
from monoscope.core.store import runs as runs_repo


def bundled_models() -> list[str]:
    return [a.name for a in assets.ASSETS.values() if a.kind == "model"]


def resolve_model(spec: str, fetch: bool = True) -> tuple[str, Path]:
    """(display name, path) for a bundled model name or a path to a .gguf file."""
    if spec in bundled_models():
        return spec, assets.locate(spec, fetch_if_missing=fetch)
    p = Path(spec).expanduser()
    if p.exists():
        return p.stem, p.resolve()
    raise ModelLoadError(
        f"No model {spec!r}: give a bundled model ({', '.join(bundled_models())}) or the path "
        "of a .gguf file."
    )


@dataclass(frozen=True)
class ModelRecord:
    id: int | None  # None: checked, not yet in the study's `models`
    name: str
    path: Path
    sha256: str
    info: GGUFInfo


def _sha256(path: Path) -> str:
    """sha256 of a model file, cached next to the assets by (path, size, mtime)."""
    st = path.stat()
    cache_file = assets.cache_dir() / "model_sha256.json"
    key = f"{path.resolve()}|{st.st_size}|{int(st.st_mtime)}"
    try:
        cache: dict[str, str] = json.loads(cache_file.read_text())
    except (OSError, ValueError):
        cache = {}
    if key in cache:
        return cache[key]
    digest = assets.sha256_file(path)
    cache[key] = digest
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        cache_file.write_text(json.dumps(cache, indent=1))
    except OSError:
        pass
    return digest


def inspect_model(study: Study, spec: str) -> ModelRecord:
    """Resolve and validate the GGUF (header and size) and find its row; writes nothing."""
    name, path = resolve_model(spec)
    info = read_gguf(path)
    digest = _sha256(path)
    return ModelRecord(runs_repo.model_id(study, digest), name, path, digest, info)


def model_row(model: ModelRecord) -> runs_repo.ModelRow:
    """The `models` row of a checked model file."""
    info = model.info
    return runs_repo.ModelRow(
        path=str(model.path), sha256=model.sha256, name=model.name,
        architecture=info.architecture, quantization=info.quantization, n_params=info.n_params,
        chat_template=info.chat_template, gguf_meta=info.summary(),
    )


def register_model(study: Study, spec: str) -> ModelRecord:
    """Validate the GGUF, then insert (or find) its row in `models`."""
    model = inspect_model(study, spec)
    model_id = runs_repo.save_model(study, model_row(model))
    return ModelRecord(model_id, model.name, model.path, model.sha256, model.info)


def model_rows(study: Study) -> list[dict[str, Any]]:
    """Every model registered in the study, with its metadata."""
    return runs_repo.model_rows(study)


def describe(info: GGUFInfo) -> dict[str, Any]:
    """A short, human-readable summary for `monoscope models`."""
    return {
        "name": info.name,
        "architecture": info.architecture,
        "quantization": info.quantization,
        "params": info.n_params,
        "context": info.context_length,
        "kind": "chat (template in GGUF)" if info.is_chat else "base (completion prompts)",
    }
