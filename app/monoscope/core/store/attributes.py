"""Repository of attribute rows (table `attributes`) and the reads that annotating and measuring
start from: texts (pending ones, bodies) and a prompt's tests.

An attribute row is (text_id, name, value, label, version). A text counts as done for an
extractor when it has a row of the extractor's name at its current version; context-free
attributes are shared between identical texts through their content hash.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from monoscope.core.store.study import Study


@dataclass(frozen=True)
class TextItem:
    """One text to annotate, as read from the store."""

    text_id: int
    content_hash: str
    body: str
    origin: str
    prompt_id: int


@dataclass(frozen=True)
class Value:
    """One attribute value: a number, a label, or both."""

    value: float | None
    label: str | None = None


def count_texts(study: Study, dataset_id: int) -> int:
    """Number of texts (source and generated) of the dataset."""
    return int(study.scalar(
        "SELECT count(*) FROM texts t JOIN prompts p ON p.id = t.prompt_id WHERE p.dataset_id = ?",
        [dataset_id],
    ))


def pending(study: Study, dataset_id: int, name: str, version: str) -> list[TextItem]:
    """Texts of the dataset without a `name` row at `version`, in id order."""
    with study.reader() as cur:
        rows = cur.execute(
            """SELECT t.id, t.content_hash, t.body, t.origin, t.prompt_id
               FROM texts t JOIN prompts p ON p.id = t.prompt_id
               WHERE p.dataset_id = ? AND NOT EXISTS (
                   SELECT 1 FROM attributes a
                   WHERE a.text_id = t.id AND a.name = ? AND a.version = ?)
               ORDER BY t.id""",
            [dataset_id, name, version],
        ).fetchall()
    return [TextItem(int(r[0]), r[1], r[2], r[3], int(r[4])) for r in rows]


def copy_cached(study: Study, dataset_id: int, name: str, version: str) -> int:
    """Give pending texts the value of any text with the same content hash; returns rows copied."""
    with study.transaction() as cur:
        before = cur.execute("SELECT count(*) FROM attributes WHERE name = ? AND version = ?",
                             [name, version]).fetchone()
        cur.execute(
            """INSERT OR REPLACE INTO attributes (text_id, name, value, label, version)
               SELECT t.id, c.name, c.value, c.label, c.version
               FROM texts t JOIN prompts p ON p.id = t.prompt_id
               JOIN (SELECT DISTINCT ON (t2.content_hash) t2.content_hash, a.name, a.value,
                            a.label, a.version
                     FROM attributes a JOIN texts t2 ON t2.id = a.text_id
                     WHERE a.name = ? AND a.version = ?) c ON c.content_hash = t.content_hash
               WHERE p.dataset_id = ? AND NOT EXISTS (
                   SELECT 1 FROM attributes x
                   WHERE x.text_id = t.id AND x.name = ? AND x.version = ?)""",
            [name, version, dataset_id, name, version],
        )
        after = cur.execute("SELECT count(*) FROM attributes WHERE name = ? AND version = ?",
                            [name, version]).fetchone()
    return int(after[0] if after else 0) - int(before[0] if before else 0)


def write(study: Study, name: str, version: str, rows: Sequence[tuple[int, Value]]) -> None:
    """Insert or replace (text_id, value) rows of one attribute in one transaction."""
    with study.transaction() as cur:
        insert_rows(cur, name, version, rows)


def insert_rows(cur: duckdb.DuckDBPyConnection, name: str, version: str,
                rows: Sequence[tuple[int, Value]]) -> None:
    """`write` inside a transaction the store already holds (``cur`` from `Study.transaction`)."""
    table = pa.table({
        "text_id": pa.array([r[0] for r in rows], type=pa.int64()),
        "value": pa.array([r[1].value for r in rows], type=pa.float64()),
        "label": pa.array([r[1].label for r in rows], type=pa.string()),
    })
    cur.register("_attr_rows", table)
    cur.execute(
        "INSERT OR REPLACE INTO attributes (text_id, name, value, label, version) "
        "SELECT text_id, ?, value, label, ? FROM _attr_rows",
        [name, version],
    )
    cur.unregister("_attr_rows")


def delete_rows(cur: duckdb.DuckDBPyConnection, dataset_id: int, name: str) -> None:
    """Drop every `name` row of the dataset's texts, inside a transaction the store holds."""
    cur.execute("DELETE FROM attributes WHERE name = ? AND text_id IN (SELECT t.id FROM "
                "texts t JOIN prompts p ON p.id = t.prompt_id WHERE p.dataset_id = ?)",
                [name, dataset_id])


def values(study: Study, dataset_id: int, name: str, version: str,
           origin: str | None = None) -> dict[int, float]:
    """text_id -> value of the dataset's `name` rows at `version` (optionally of one origin,
    'source' or 'generated'), in text id order."""
    extra, params = ("AND t.origin = ?", [origin]) if origin is not None else ("", [])
    rows = study.query(
        "SELECT a.text_id, a.value FROM attributes a JOIN texts t ON t.id = a.text_id "
        "JOIN prompts p ON p.id = t.prompt_id WHERE p.dataset_id = ? AND a.name = ? "
        f"AND a.version = ? {extra} ORDER BY a.text_id",
        [dataset_id, name, version, *params])
    return {int(r["text_id"]): float(r["value"]) for r in rows}


def text_bodies(study: Study, dataset_id: int) -> tuple[npt.NDArray[np.int64], list[str]]:
    """(text ids, bodies) of every text of the dataset, ordered by id, read through Arrow."""
    with study.reader() as cur:
        tab: Any = cur.sql("SELECT t.id, t.body FROM texts t JOIN prompts p ON p.id = t.prompt_id "
                           "WHERE p.dataset_id = ? ORDER BY t.id", params=[dataset_id]
                           ).to_arrow_table()
    ids = np.asarray(tab.column("id").combine_chunks().to_numpy(zero_copy_only=False),
                     dtype=np.int64)
    bodies: list[str] = tab.column("body").combine_chunks().to_pylist()
    return ids, bodies


def prompt_tests(study: Study, prompt_id: int, limit: int) -> list[tuple[str, str]]:
    """(input, expected output) of a prompt's first `limit` tests, in order (code datasets)."""
    rows = study.query(
        "SELECT input, output FROM prompt_tests WHERE prompt_id = ? ORDER BY idx LIMIT ?",
        [prompt_id, limit],
    )
    return [(str(r["input"]), str(r["output"])) for r in rows]
