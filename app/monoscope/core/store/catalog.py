"""Study-level listings: what a study holds, for the dialogs, the explorer and `monoscope info`.

Datasets, their prompts' keys and titles, registered model files, run summaries, table counts
and the write-ahead log; plus the columns of a table file about to be imported. Every function
reads only (through `Study.query`/`Study.scalar`, a cursor of the calling thread), so they run
in worker threads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from monoscope.core.store import runs as runs_repo
from monoscope.core.store.study import Study


def _json_dict(raw: Any) -> dict[str, Any]:
    if isinstance(raw, str):
        value = json.loads(raw)
        return dict(value) if isinstance(value, dict) else {}
    return dict(raw or {})


def model_paths(study: Study) -> list[str]:
    """Paths of the model files registered in the study, sorted."""
    return [str(r["path"]) for r in study.query("SELECT DISTINCT path FROM models ORDER BY path")]


def accumulation_attributes(study: Study, set_id: int) -> list[str]:
    """Attributes with stored accumulation curves (rows ref 'acc') in a measurement set."""
    rows = study.query(
        "SELECT DISTINCT attribute FROM measurements WHERE set_id = ? AND ref = 'acc' "
        "ORDER BY attribute", [set_id])
    return [str(r["attribute"]) for r in rows]


def dataset_summaries(study: Study) -> list[dict[str, Any]]:
    """Per dataset: id, name, kind, source_uri and its counts of prompts, source texts and
    generated texts, oldest first."""
    return study.query(
        """SELECT d.id, d.name, d.kind, d.source_uri,
                  (SELECT count(*) FROM prompts p WHERE p.dataset_id = d.id) AS prompts,
                  (SELECT count(*) FROM texts t JOIN prompts p ON p.id = t.prompt_id
                    WHERE p.dataset_id = d.id AND t.origin = 'source') AS source_texts,
                  (SELECT count(*) FROM texts t JOIN prompts p ON p.id = t.prompt_id
                    WHERE p.dataset_id = d.id AND t.origin = 'generated') AS generated_texts
           FROM datasets d ORDER BY d.id"""
    )


@dataclass(frozen=True)
class StudySummary:
    """What `monoscope info` shows: schema, table counts, datasets, runs and the WAL."""

    path: str
    schema_version: int
    tables: dict[str, int]
    datasets: list[dict[str, Any]]
    runs: list[dict[str, Any]]
    wal_pending_bytes: int  # committed work still only in the write-ahead log
    open_for_writing_in: str | None  # the lock holder, when this is a snapshot copy


def study_summary(study: Study) -> StudySummary:
    """Everything `monoscope info` reports about a study."""
    return StudySummary(
        path=str(study.path),
        schema_version=study.schema_version(),
        tables=study.table_counts(),
        datasets=dataset_summaries(study),
        runs=[{**r, "meta": _json_dict(r["meta"])} for r in runs_repo.run_rows(study)],
        wal_pending_bytes=study.wal_bytes(),
        open_for_writing_in=study.snapshot_of,
    )


def file_columns(path: str | Path) -> list[str]:
    """Column names of a CSV/JSONL/Parquet file (read by DuckDB, no study involved); empty
    when DuckDB cannot read the file."""
    text = str(path)
    try:
        con = duckdb.connect()
        rel = con.sql(f"SELECT * FROM '{text.replace(chr(39), chr(39) * 2)}' LIMIT 0")
        cols = list(rel.columns)
        con.close()
        return cols
    except duckdb.Error:
        return []
