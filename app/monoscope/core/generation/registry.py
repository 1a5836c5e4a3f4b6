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
    row = study.scalar("SELECT id FROM models WHERE sha256 = ?", [digest])
    return ModelRecord(None if row is None else int(row), name, path, digest, info)


def record_model(cur: Any, model: ModelRecord) -> int:
    """Insert (or update the path of) the model's row inside the caller's transaction; its id."""
    row = cur.execute("SELECT id FROM models WHERE sha256 = ?", [model.sha256]).fetchone()
    if row:
        cur.execute("UPDATE models SET path = ? WHERE id = ?", [str(model.path), row[0]])
        return int(row[0])
    info = model.info
    got = cur.execute(
        "INSERT INTO models (path, sha256, name, architecture, quantization, n_params, "
        "chat_template, gguf_meta) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        [
            str(model.path), model.sha256, model.name, info.architecture, info.quantization,
            info.n_params, info.chat_template, json.dumps(info.summary(), default=str),
        ],
    ).fetchone()
    assert got is not None
    return int(got[0])


def register_model(study: Study, spec: str) -> ModelRecord:
    """Validate the GGUF, then insert (or find) its row in `models`."""
    model = inspect_model(study, spec)
    with study.transaction() as cur:
        model_id = record_model(cur, model)
    return ModelRecord(model_id, model.name, model.path, model.sha256, model.info)


def model_rows(study: Study) -> list[dict[str, Any]]:
    return study.query(
        "SELECT id, name, path, sha256, architecture, quantization, n_params, "
        "chat_template IS NOT NULL AS chat, gguf_meta->>'$.\"general.name\"' AS gguf_name FROM models ORDER BY id"
    )


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
