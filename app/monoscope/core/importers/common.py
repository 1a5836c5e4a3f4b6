"""Shared import machinery: a staging table with one layout, loaded into the study atomically.

Every importer (generic table, Goodreads, CodeContests, demos) fills a temporary table
``_stage`` (row_no, key, title, context, body, label, rating, meta, prompt_meta) and optionally
``_stage_tests`` (key, kind, ord, input, output) on the transaction's cursor, then calls
`load_staged`. The whole import runs in one transaction, so a bad file changes nothing.

Rules applied here for every source: empty or whitespace-only texts are skipped and counted;
texts over `MAX_TEXT_BYTES` (1 MB of UTF-8) are skipped and counted (a text that large is a
broken export, not a review); exact duplicates (same prompt key and same body) are kept once and
counted; a row without a prompt key fails the import with its row number.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import duckdb

from monoscope.core.errors import ImportFailed
from monoscope.core.tasks import TaskState

MAX_TEXT_BYTES = 1_000_000

STAGE_DDL = """
CREATE OR REPLACE TEMP TABLE _stage (
    row_no BIGINT, key VARCHAR, title VARCHAR, context VARCHAR, body VARCHAR,
    label VARCHAR, rating DOUBLE, meta JSON, prompt_meta JSON
);
CREATE OR REPLACE TEMP TABLE _stage_tests (
    key VARCHAR, kind VARCHAR, ord INTEGER, input VARCHAR, output VARCHAR
);
"""


@dataclass
class ImportReport:
    """What an import did: counts of prompts and texts written and of rows skipped on purpose."""

    dataset: str
    kind: str
    source: str
    prompts: int = 0
    new_prompts: int = 0
    texts: int = 0
    tests: int = 0
    rows_read: int = 0
    skipped_empty: int = 0
    duplicates: int = 0
    oversized: int = 0
    appended: bool = False
    already_present: bool = False
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """Human-readable summary for the CLI."""
        if self.already_present:
            return [f"dataset {self.dataset!r} is already in the study; nothing imported."]
        verb = "appended to" if self.appended else "imported as"
        out = [
            f"{self.source} {verb} dataset {self.dataset!r} ({self.kind}):",
            f"  rows read           {self.rows_read:>9,}",
            f"  prompts             {self.prompts:>9,}" + (
                f"  ({self.new_prompts:,} new)" if self.appended else ""),
            f"  texts written       {self.texts:>9,}",
        ]
        if self.tests:
            out.append(f"  tests written       {self.tests:>9,}")
        out += [
            f"  skipped empty       {self.skipped_empty:>9,}",
            f"  duplicates skipped  {self.duplicates:>9,}",
            f"  oversized skipped   {self.oversized:>9,}  (texts over {MAX_TEXT_BYTES // 1_000_000} MB)",
        ]
        out += [f"  note: {n}" for n in self.notes]
        return out

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "notes"} | {"notes": self.notes}


def sql_literal(value: str) -> str:
    """A single-quoted SQL string literal (for file paths in table functions)."""
    return "'" + value.replace("'", "''") + "'"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def as_text_sql(column: str, dtype: str) -> str:
    """SQL turning a column of any type into VARCHAR; JSON strings lose their quotes."""
    col = quote_ident(column)
    if dtype.upper() == "JSON":
        return f"({col} ->> '$')"
    return f"CAST({col} AS VARCHAR)"


def dataset_row(cur: duckdb.DuckDBPyConnection, name: str) -> tuple[int, str] | None:
    row = cur.execute("SELECT id, kind FROM datasets WHERE name = ?", [name]).fetchone()
    return (int(row[0]), str(row[1])) if row else None


def check_target(cur: duckdb.DuckDBPyConnection, dataset: str, kind: str, append: bool) -> int | None:
    """Existing dataset id when appending; refuse to overwrite or to mix kinds."""
    if not dataset.strip():
        raise ImportFailed("The dataset name is empty: give one with --dataset NAME.")
    found = dataset_row(cur, dataset)
    if found is None:
        return None
    ds_id, ds_kind = found
    if not append:
        n = cur.execute("SELECT count(*) FROM prompts WHERE dataset_id = ?", [ds_id]).fetchone()
        raise ImportFailed(
            f"The study already has a dataset named {dataset!r} ({n[0] if n else 0} prompts). "
            "Add --append to add these rows to it (exact duplicates are skipped), "
            "or choose another name with --dataset."
        )
    if ds_kind != kind:
        raise ImportFailed(
            f"Dataset {dataset!r} holds {ds_kind} texts; these are {kind}. "
            "Import them under another --dataset name."
        )
    return ds_id


def load_staged(
    cur: duckdb.DuckDBPyConnection,
    *,
    dataset: str,
    kind: str,
    source_uri: str,
    meta: dict[str, Any],
    append: bool,
    state: TaskState,
    describe_row: Callable[[int], str],
    key_column: str = "key",
) -> ImportReport:
    """Move ``_stage`` (and ``_stage_tests``) into datasets/prompts/texts/prompt_tests.

    Must run inside the caller's transaction; raises ImportFailed before writing anything if a
    row has no key. ``describe_row(row_no)`` names a row for messages (e.g. "line 12").
    """
    report = ImportReport(dataset=dataset, kind=kind, source=source_uri, appended=append)
    ds_id = check_target(cur, dataset, kind, append)
    report.rows_read = _count(cur, "SELECT count(*) FROM _stage")
    if report.rows_read == 0:
        raise ImportFailed(f"{source_uri} has no data rows (only a header, or every row was filtered out).")

    bad = cur.execute(
        "SELECT min(row_no) FROM _stage WHERE key IS NULL OR trim(key) = ''"
    ).fetchone()
    if bad and bad[0] is not None:
        raise ImportFailed(
            f"{source_uri}, {describe_row(int(bad[0]))}: the prompt key column {key_column!r} is "
            "empty. Every row needs a key (the book, film or problem it belongs to): fill it in "
            "or drop the row."
        )
    state.check()
    state.progress(1, 3, "checking texts")

    # regexp_matches is ~10x faster than trim() here, and also counts tabs/newlines as blank.
    empty = "body IS NULL OR NOT regexp_matches(body, '\\S')"
    row = cur.execute(
        f"""SELECT count(*) FILTER (WHERE {empty}),
                   count(*) FILTER (WHERE NOT ({empty}) AND strlen(body) > {MAX_TEXT_BYTES})
            FROM _stage"""
    ).fetchone()
    report.skipped_empty, report.oversized = (int(v) for v in row) if row else (0, 0)
    # Keep the first row of each (key, body); when appending, also drop rows already stored.
    existing = (
        "SELECT p.key, t.content_hash AS h FROM texts t JOIN prompts p ON p.id = t.prompt_id "
        f"WHERE p.dataset_id = {int(ds_id)} AND t.origin = 'source'"
        if ds_id is not None else "SELECT NULL::VARCHAR AS key, NULL::VARCHAR AS h WHERE false"
    )
    cur.execute(
        f"""CREATE OR REPLACE TEMP TABLE _kept AS
        SELECT c.row_no, c.key, c.h FROM (
            SELECT min(row_no) AS row_no, key, h
            FROM (SELECT row_no, key, md5(body) AS h FROM _stage
                  WHERE NOT ({empty}) AND strlen(body) <= {MAX_TEXT_BYTES})
            GROUP BY key, h
        ) c ANTI JOIN ({existing}) e ON e.key = c.key AND e.h = c.h"""
    )
    ok_rows = report.rows_read - report.skipped_empty - report.oversized
    kept = _count(cur, "SELECT count(*) FROM _kept")
    report.duplicates = ok_rows - kept
    if kept == 0 and ds_id is None:
        raise ImportFailed(
            f"{source_uri}: {report.rows_read:,} data row(s) read but none can be imported "
            f"({report.skipped_empty:,} with an empty text, {report.oversized:,} with a text over "
            f"{MAX_TEXT_BYTES // 1_000_000} MB, {report.duplicates:,} duplicates). Nothing was "
            "imported; check the mapping of text=."
        )
    state.check()
    state.progress(2, 3, "writing")

    if ds_id is None:
        row = cur.execute(
            "INSERT INTO datasets (name, kind, source_uri, meta) VALUES (?, ?, ?, ?) RETURNING id",
            [dataset, kind, source_uri, json.dumps(meta)],
        ).fetchone()
        assert row is not None
        ds_id = int(row[0])
    before = _count(cur, f"SELECT count(*) FROM prompts WHERE dataset_id = {ds_id}")
    cur.execute(
        f"""INSERT INTO prompts (dataset_id, key, title, context, meta)
        SELECT {ds_id}, k.key,
               coalesce(arg_min(k.title, k.row_no) FILTER (WHERE k.title IS NOT NULL AND trim(k.title) <> ''), k.key),
               arg_min(k.context, k.row_no) FILTER (WHERE k.context IS NOT NULL AND trim(k.context) <> ''),
               arg_min(k.prompt_meta, k.row_no) FILTER (WHERE k.prompt_meta IS NOT NULL)
        FROM _stage k SEMI JOIN _kept USING (row_no)
        WHERE k.key NOT IN (SELECT key FROM prompts WHERE dataset_id = {ds_id})
        GROUP BY k.key ORDER BY min(k.row_no)"""
    )
    report.new_prompts = _count(cur, f"SELECT count(*) FROM prompts WHERE dataset_id = {ds_id}") - before
    cur.execute(
        f"""INSERT INTO texts (prompt_id, origin, run_id, sample_index, body, content_hash, label, rating, meta)
        SELECT p.id, 'source', NULL,
               coalesce(m.next_index, 0) + row_number() OVER (PARTITION BY k.key ORDER BY k.row_no) - 1,
               s.body, k.h, s.label, s.rating, s.meta
        FROM _kept k JOIN _stage s USING (row_no)
        JOIN prompts p ON p.dataset_id = {ds_id} AND p.key = k.key
        LEFT JOIN (SELECT prompt_id, max(sample_index) + 1 AS next_index FROM texts
                   WHERE origin = 'source' GROUP BY prompt_id) m ON m.prompt_id = p.id
        ORDER BY k.row_no"""
    )
    report.texts = kept
    report.tests = _insert_tests(cur, ds_id)
    report.prompts = _count(cur, f"SELECT count(*) FROM prompts WHERE dataset_id = {ds_id}")
    cur.execute("DROP TABLE IF EXISTS _kept")
    state.progress(3, 3, "done", force=True)
    return report


def _insert_tests(cur: duckdb.DuckDBPyConnection, ds_id: int) -> int:
    """Tests of prompts that have none yet (appending never duplicates a problem's tests)."""
    before = _count(cur, "SELECT count(*) FROM prompt_tests")
    cur.execute(
        f"""INSERT INTO prompt_tests (prompt_id, idx, kind, input, output)
        SELECT p.id, (row_number() OVER (PARTITION BY p.id ORDER BY s.kind = 'private', s.ord) - 1)::INTEGER,
               s.kind, s.input, s.output
        FROM _stage_tests s JOIN prompts p ON p.dataset_id = {ds_id} AND p.key = s.key
        WHERE p.id NOT IN (SELECT prompt_id FROM prompt_tests)
          AND s.input IS NOT NULL AND s.output IS NOT NULL"""
    )
    return _count(cur, "SELECT count(*) FROM prompt_tests") - before


def _count(cur: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = cur.execute(sql).fetchone()
    return int(row[0]) if row and row[0] is not None else 0
