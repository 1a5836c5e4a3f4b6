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
from monoscope.core.store import topics as topics_repo
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
    topic_model: str = "kmeans"  # the study's chosen topic model (`annotate --topic-model`)


def study_summary(study: Study) -> StudySummary:
    """Everything `monoscope info` reports about a study (each dataset's `topics`: the model
    that fitted its stored topics and their number, or None)."""
    fits = topics_repo.fitted(study)
    datasets = [{**d, "topics": ({"model": fits[d["id"]][0], "k": fits[d["id"]][1]}
                                 if d["id"] in fits else None)}
                for d in dataset_summaries(study)]
    return StudySummary(
        path=str(study.path),
        schema_version=study.schema_version(),
        tables=study.table_counts(),
        datasets=datasets,
        runs=[{**r, "meta": _json_dict(r["meta"])} for r in runs_repo.run_rows(study)],
        wal_pending_bytes=study.wal_bytes(),
        open_for_writing_in=study.snapshot_of,
        topic_model=topics_repo.chosen_model(study),
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


# -- a table file about to be imported (the import dialog's preview) ---------------------------
@dataclass(frozen=True)
class FilePreview:
    """The first rows of a table file: column names and types, each value as text (None for
    a missing value)."""

    columns: list[str]
    types: list[str]
    rows: list[tuple[str | None, ...]]


@dataclass(frozen=True)
class KeyPreview:
    """What a key (and text) column would make of a file: rows, prompts, rows with a text,
    rows without a key, and the first prompt keys in file order with their row counts."""

    rows: int
    prompts: int
    texts: int
    keyless: int
    first: list[tuple[str, int]]


def _file_sql(path: str | Path) -> str:
    from monoscope.core.store.staging import sql_literal

    return f"SELECT * FROM {sql_literal(str(path))}"


def _unreadable(path: str | Path, exc: duckdb.Error) -> Exception:
    from monoscope.core.errors import ImportFailed

    reason = (str(exc).strip().splitlines() or ["unknown error"])[0][:300]
    return ImportFailed(f"Cannot read {Path(path).name} as a table ({reason}). Import a CSV, TSV, "
                        "JSON-lines or Parquet file with one text per row and a header row.")


def file_preview(path: str | Path, limit: int = 50) -> FilePreview:
    """The columns and first ``limit`` rows of a CSV/JSONL/Parquet file (read by DuckDB in a
    private in-memory connection, no study involved); `ImportFailed` when it cannot be read."""
    con = duckdb.connect()
    try:
        rel = con.sql(f"{_file_sql(path)} LIMIT {int(limit)}")
        cols, types = list(rel.columns), [str(t) for t in rel.types]
        rows = [tuple(None if v is None else str(v) for v in r) for r in rel.fetchall()]
        return FilePreview(cols, types, rows)
    except duckdb.Error as exc:
        raise _unreadable(path, exc) from None
    finally:
        con.close()


def file_key_preview(path: str | Path, key: str, text: str | None, first: int = 8) -> KeyPreview:
    """Counts of what mapping ``key`` (and ``text``) would import from the whole file."""
    from monoscope.core.store.staging import quote_ident

    body = f"CAST({quote_ident(text)} AS VARCHAR)" if text else "NULL"
    base = (f"SELECT row_number() OVER () AS rn, CAST({quote_ident(key)} AS VARCHAR) AS k, "
            f"{body} AS body FROM ({_file_sql(path)})")
    con = duckdb.connect()
    try:
        got = con.sql(
            f"SELECT count(*), count(DISTINCT k), "
            f"count(*) FILTER (WHERE body IS NOT NULL AND trim(body) <> ''), "
            f"count(*) FILTER (WHERE k IS NULL OR trim(k) = '') FROM ({base})").fetchall()[0]
        keys = con.sql(f"SELECT k, count(*) FROM ({base}) WHERE k IS NOT NULL AND trim(k) <> '' "
                       f"GROUP BY k ORDER BY min(rn) LIMIT {int(first)}").fetchall()
    except duckdb.Error as exc:
        raise _unreadable(path, exc) from None
    finally:
        con.close()
    return KeyPreview(int(got[0]), int(got[1]), int(got[2]), int(got[3]),
                      [(str(k), int(n)) for k, n in keys])
