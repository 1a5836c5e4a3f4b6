"""Repository of stored measurements (tables `measure_sets` and `measurements`).

The measure stage writes a whole set at once (replacing the previous set for the same dataset
and parameters, in one transaction); every reader loads rows from here. The input fingerprint
is computed in SQL so that checking "is the stored set current?" costs a few aggregate queries.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pyarrow as pa

from monoscope.core.store.study import Study

COLUMNS = ("prompt_id", "grp", "ref", "attribute", "stat", "n", "prompts", "draws", "value",
           "sd", "lo", "hi")
_TYPES = {"prompt_id": pa.int64(), "grp": pa.string(), "ref": pa.string(),
          "attribute": pa.string(), "stat": pa.string(), "n": pa.int32(), "prompts": pa.int32(),
          "draws": pa.int32(), "value": pa.float64(), "sd": pa.float64(), "lo": pa.float64(),
          "hi": pa.float64()}


def input_fingerprint(study: Study, dataset_id: int, embedding_model: str, backend: str) -> str:
    """md5 over everything a measurement depends on: texts (with run and perplexity),
    attribute rows (value, label, version), the vectors' presence, and the runs."""
    parts: list[Any] = []
    parts += study.query(
        "SELECT count(*) AS n, sum(hash(t.id, t.content_hash, t.run_id, g.perplexity)) AS h "
        "FROM texts t JOIN prompts p ON p.id = t.prompt_id "
        "LEFT JOIN generations g ON g.text_id = t.id WHERE p.dataset_id = ?", [dataset_id])
    parts += study.query(
        "SELECT count(*) AS n, sum(hash(a.text_id, a.name, a.value, a.label, a.version)) AS h "
        "FROM attributes a JOIN texts t ON t.id = a.text_id JOIN prompts p "
        "ON p.id = t.prompt_id WHERE p.dataset_id = ?", [dataset_id])
    parts += study.query(
        "SELECT count(*) AS n, sum(hash(t.id, e.content_hash)) AS h FROM texts t "
        "JOIN prompts p ON p.id = t.prompt_id JOIN embeddings e ON e.content_hash = "
        "t.content_hash AND e.model = ? AND e.backend = ? WHERE p.dataset_id = ?",
        [embedding_model, backend, dataset_id])
    parts += study.query(
        "SELECT id, label, sampling FROM runs WHERE dataset_id = ? ORDER BY id", [dataset_id])
    parts += study.query(
        "SELECT count(*) AS n, sum(hash(x.scorer_id, x.text_id, x.mean_logprob)) AS h "
        "FROM text_scores x JOIN texts t ON t.id = x.text_id JOIN prompts p "
        "ON p.id = t.prompt_id WHERE p.dataset_id = ?", [dataset_id])
    return hashlib.md5(json.dumps(parts, default=str).encode()).hexdigest()


def params_hash(params: dict[str, Any]) -> str:
    return hashlib.md5(json.dumps(params, sort_keys=True).encode()).hexdigest()


def find_set(study: Study, dataset_id: int, phash: str) -> dict[str, Any] | None:
    """The stored set for these parameters: id, fingerprint, version, params, seconds."""
    rows = study.query(
        "SELECT id, fingerprint, version, params, seconds, created_at FROM measure_sets "
        "WHERE dataset_id = ? AND params_hash = ?", [dataset_id, phash])
    return rows[0] if rows else None


def load_set(study: Study, set_id: int) -> dict[str, Any]:
    """One stored set by id: id, fingerprint, version, params, seconds, created_at."""
    return study.query(
        "SELECT id, fingerprint, version, params, seconds, created_at FROM measure_sets "
        "WHERE id = ?", [set_id])[0]


def newest_set(study: Study, dataset_id: int) -> dict[str, Any] | None:
    rows = study.query(
        "SELECT id, fingerprint, version, params, params_hash, seconds, created_at "
        "FROM measure_sets WHERE dataset_id = ? ORDER BY created_at DESC, id DESC LIMIT 1",
        [dataset_id])
    return rows[0] if rows else None


def replace_set(study: Study, dataset_id: int, phash: str, params: dict[str, Any],
                fingerprint: str, version: str, seconds: float,
                rows: dict[str, list[Any]]) -> int:
    """Write a new set (and drop the old one for the same parameters) in one transaction."""
    table = pa.table({c: pa.array(rows[c], type=_TYPES[c]) for c in COLUMNS})
    with study.transaction() as cur:
        old = cur.execute("SELECT id FROM measure_sets WHERE dataset_id = ? AND params_hash = ?",
                          [dataset_id, phash]).fetchall()
        for (oid,) in old:
            cur.execute("DELETE FROM measurements WHERE set_id = ?", [oid])
            cur.execute("DELETE FROM measure_sets WHERE id = ?", [oid])
        new_id = int(cur.execute(
            "SELECT coalesce(max(id), 0) + 1 FROM measure_sets").fetchone()[0])  # type: ignore[index]
        cur.execute(
            "INSERT INTO measure_sets (id, dataset_id, params_hash, params, fingerprint, version, "
            "seconds) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [new_id, dataset_id, phash, json.dumps(params, sort_keys=True), fingerprint,
             version, seconds])
        cur.register("_measure_rows", table)
        cur.execute(f"INSERT INTO measurements (set_id, {', '.join(COLUMNS)}) "
                    f"SELECT ?, {', '.join(COLUMNS)} FROM _measure_rows", [new_id])
        cur.unregister("_measure_rows")
    return new_id


def load_rows(study: Study, set_id: int) -> pa.Table:
    """Every row of a set with the prompt key, as an Arrow table."""
    with study.reader() as cur:
        return cur.sql(
            "SELECT p.key AS prompt, m.* EXCLUDE (set_id) FROM measurements m "
            "LEFT JOIN prompts p ON p.id = m.prompt_id WHERE m.set_id = ?",
            params=[set_id]).to_arrow_table()


def load_prompt_rows(study: Study, set_id: int, attribute: str) -> list[dict[str, Any]]:
    """The per-prompt rows of one attribute (for the prompt table): small and fast."""
    return study.query(
        "SELECT m.prompt_id, m.grp, m.ref, m.stat, m.n, m.draws, m.value, m.lo, m.hi "
        "FROM measurements m WHERE m.set_id = ? AND m.attribute = ? AND m.prompt_id IS NOT NULL "
        "AND m.ref NOT LIKE 'acc%' AND m.stat IN ('dispersion', 'index')", [set_id, attribute])
