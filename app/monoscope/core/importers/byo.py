"""Bring your own: import precomputed attributes and generations produced elsewhere.

`import_attributes` reads CSV / JSON lines / Parquet rows (text_id, or dataset + prompt key +
run label + sample index; plus attribute name and value and/or label) into `attributes`.
`import_generations` reads rows (prompt key, text, optional sample index, perplexity, token
counts, ...) into a new run with status ``imported`` and engine ``external``, so that every
attribute, metric and view treats them like local generations. Each import is one transaction:
a bad row changes nothing, and the error names the file, line and column.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from monoscope.core.errors import ImportFailed
from monoscope.core.importers.common import as_text_sql, quote_ident
from monoscope.core.importers.readers import (
    check_csv_rows,
    check_file,
    detect_format,
    reader_sql,
    require_columns,
    row_describer,
    translate_error,
)
from monoscope.core.store import Study
from monoscope.core.tasks import TaskState

SOURCE_RUN = "source"  # run label that means "the human source texts"

# role -> accepted column names, first found wins (an explicit mapping overrides)
ATTRIBUTE_COLUMNS: dict[str, tuple[str, ...]] = {
    "text_id": ("text_id",),
    "dataset": ("dataset",),
    "key": ("key", "prompt_key", "prompt"),
    "run": ("run", "run_label", "origin"),
    "sample": ("sample", "sample_index"),
    "name": ("name", "attribute"),
    "value": ("value",),
    "label": ("label",),
}
GENERATION_COLUMNS: dict[str, tuple[str, ...]] = {
    "key": ("key", "prompt_key", "prompt"),
    "text": ("text", "body", "generation", "completion", "output"),
    "sample": ("sample", "sample_index"),
    "seed": ("seed",),
    "perplexity": ("perplexity", "ppl"),
    "mean_logprob": ("mean_logprob",),
    "n_tokens": ("n_tokens", "completion_tokens"),
    "n_prompt_tokens": ("n_prompt_tokens", "prompt_tokens"),
    "finish_reason": ("finish_reason",),
    "prompt_text": ("prompt_text",),
    "wall_ms": ("wall_ms",),
}
_NUMERIC = {"seed": "BIGINT", "perplexity": "DOUBLE", "mean_logprob": "DOUBLE",
            "n_tokens": "INTEGER", "n_prompt_tokens": "INTEGER", "wall_ms": "DOUBLE",
            "sample": "INTEGER", "value": "DOUBLE", "text_id": "BIGINT"}  # fmt: skip


@dataclass
class ByoReport:
    """What an import wrote."""

    source: str
    rows: int = 0
    written: int = 0
    names: list[str] = field(default_factory=list)
    run_id: int | None = None
    run_label: str | None = None
    prompts: int = 0

    def lines(self) -> list[str]:
        if self.run_id is not None:
            return [
                f"{self.source}: imported {self.written:,} generations for {self.prompts:,} "
                f"prompts as run {self.run_id} ({self.run_label!r}, engine external)."
            ]
        return [
            f"{self.source}: imported {self.written:,} attribute values "
            f"({', '.join(self.names)}) from {self.rows:,} rows."
        ]


def parse_mapping(text: str | None) -> dict[str, str]:
    """``role=column,role=column`` (the CLI's --map) as a dict."""
    out: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        role, sep, col = part.partition("=")
        if not sep or not role.strip() or not col.strip():
            raise ImportFailed(f"Bad --map entry {part!r}: write role=column, e.g. key=movie_id.")
        out[role.strip()] = col.strip()
    return out


class _Source:
    """A file opened through DuckDB, with roles resolved to columns and a staged temp table."""

    def __init__(self, path: Path, fmt: str | None, roles: Mapping[str, tuple[str, ...]],
                 mapping: Mapping[str, str] | None) -> None:  # fmt: skip
        self.path = Path(path)
        check_file(self.path)
        self.fmt = detect_format(self.path, fmt)
        self.roles = roles
        self.mapping = dict(mapping or {})
        unknown = sorted(set(self.mapping) - set(roles))
        if unknown:
            raise ImportFailed(
                f"Unknown role(s) in the mapping: {', '.join(unknown)}. Roles: {', '.join(roles)}."
            )
        self.cols: dict[str, str] = {}
        self.types: dict[str, str] = {}

    def resolve(self, cur: duckdb.DuckDBPyConnection) -> str:
        sql, self.types = reader_sql(cur, self.path, self.fmt)
        require_columns(self.path, self.types, {r: c for r, c in self.mapping.items()})
        for role, names in self.roles.items():
            col = self.mapping.get(role) or next((n for n in names if n in self.types), None)
            if col is not None:
                self.cols[role] = col
        return sql

    def need(self, *roles: str) -> None:
        for role in roles:
            if role not in self.cols:
                raise ImportFailed(
                    f"{self.path} has no column for {role!r} (looked for "
                    f"{', '.join(self.roles[role])}). Columns found: {', '.join(self.types)}. "
                    f"Name it with --map {role}=<column>."
                )

    def stage(self, cur: duckdb.DuckDBPyConnection, sql: str, table: str) -> int:
        sel = ", ".join(
            f"{as_text_sql(col, self.types[col])} AS {quote_ident(role)}"
            for role, col in self.cols.items()
        )
        try:
            cur.execute(
                f"CREATE OR REPLACE TEMP TABLE {table} AS "
                f"SELECT row_number() OVER () AS row_no, {sel} FROM {sql}"
            )
        except duckdb.Error as exc:
            raise translate_error(exc, self.path, self.fmt) from None
        row = cur.execute(f"SELECT count(*) FROM {table}").fetchone()
        n = int(row[0]) if row else 0
        if self.fmt == "csv":
            check_csv_rows(self.path, "utf-8", n)
        return n

    def fail_first(self, cur: duckdb.DuckDBPyConnection, table: str, where: str, what: str,
                   role: str | None = None) -> None:  # fmt: skip
        """Raise naming the first staged row matching ``where`` (and how many match)."""
        rows = cur.execute(
            f"SELECT row_no, count(*) OVER () FROM {table} WHERE {where} ORDER BY row_no LIMIT 1"
        ).fetchall()
        if not rows:
            return
        row_no, n = int(rows[0][0]), int(rows[0][1])
        col = f", column {self.cols[role]!r}" if role and role in self.cols else ""
        more = f" ({n} rows like this)" if n > 1 else ""
        where_txt = row_describer(self.path, self.fmt)(row_no)
        raise ImportFailed(f"{self.path}, {where_txt}{col}: {what}{more}. Nothing was imported.")

    def check_numbers(self, cur: duckdb.DuckDBPyConnection, table: str) -> None:
        for role, typ in _NUMERIC.items():
            if role in self.cols:
                self.fail_first(
                    cur, table,
                    f"{quote_ident(role)} IS NOT NULL AND trim({quote_ident(role)}) <> '' AND "
                    f"TRY_CAST({quote_ident(role)} AS {typ}) IS NULL",
                    f"not a number ({typ.lower()})", role,
                )  # fmt: skip


def _num(role: str, cols: Mapping[str, str], typ: str) -> str:
    """SQL for a staged numeric role (NULL when the column is absent or the cell empty)."""
    if role not in cols:
        return f"CAST(NULL AS {typ})"
    return f"TRY_CAST(NULLIF(trim({quote_ident(role)}), '') AS {typ})"


def _str(role: str, cols: Mapping[str, str]) -> str:
    return quote_ident(role) if role in cols else "CAST(NULL AS VARCHAR)"


def import_attributes(
    study: Study,
    path: str | Path,
    mapping: Mapping[str, str] | None = None,
    dataset: str | None = None,
    version: str = "imported",
    fmt: str | None = None,
    state: TaskState | None = None,
) -> ByoReport:
    """Import attribute values; rows name a text by id or by (dataset, key, run, sample)."""
    src = _Source(Path(path), fmt, ATTRIBUTE_COLUMNS, mapping)
    report = ByoReport(str(src.path))
    if state:
        state.begin("import attributes", 1)
    with study.transaction() as cur:
        sql = src.resolve(cur)
        src.need("name")
        if "value" not in src.cols and "label" not in src.cols:
            src.need("value")
        if "text_id" not in src.cols:
            src.need("key", "sample")
        report.rows = src.stage(cur, sql, "_byo_attr")
        src.check_numbers(cur, "_byo_attr")
        src.fail_first(
            cur, "_byo_attr", "coalesce(trim(name), '') = ''", "empty attribute name", "name"
        )
        has_label = "label" in src.cols
        value_sql = _num("value", src.cols, "DOUBLE")
        label_sql = "NULLIF(label, '')" if has_label else "CAST(NULL AS VARCHAR)"
        src.fail_first(
            cur,
            "_byo_attr",
            f"{value_sql} IS NULL AND {label_sql} IS NULL",
            "neither a value nor a label",
            "value" if "value" in src.cols else "label",
        )
        if "text_id" in src.cols:
            cur.execute(
                f"CREATE OR REPLACE TEMP TABLE _byo_res AS SELECT a.row_no, "
                f"{_num('text_id', src.cols, 'BIGINT')} AS tid FROM _byo_attr a"
            )
            cur.execute("UPDATE _byo_res SET tid = NULL WHERE tid NOT IN (SELECT id FROM texts)")
            src.fail_first(cur, "_byo_res", "tid IS NULL", "no text with this text_id in the study",
                           "text_id")  # fmt: skip
        else:
            _resolve_by_key(cur, src, dataset)
        src.fail_first(
            cur, "(SELECT r.row_no, count(*) OVER (PARTITION BY r.tid, a.name) AS n "
                 "FROM _byo_res r JOIN _byo_attr a USING (row_no))",
            "n > 1", "the same text and attribute name appear on more than one row", "name",
        )  # fmt: skip
        cur.execute(
            "INSERT OR REPLACE INTO attributes (text_id, name, value, label, version) "
            f"SELECT r.tid, trim(a.name), {value_sql}, {label_sql}, ? "
            "FROM _byo_attr a JOIN _byo_res r USING (row_no)",
            [version],
        )
        report.written = report.rows
        report.names = [str(r[0]) for r in cur.execute(
            "SELECT DISTINCT trim(name) FROM _byo_attr ORDER BY 1").fetchall()]  # fmt: skip
        cur.execute("DROP TABLE _byo_attr")
        cur.execute("DROP TABLE _byo_res")
    if state:
        state.progress(1, 1)
    return report


def _resolve_by_key(cur: duckdb.DuckDBPyConnection, src: _Source, dataset: str | None) -> None:
    """Fill _byo_res(row_no, tid) from (dataset, key, run, sample); fail on unmatched rows."""
    if "dataset" in src.cols:
        ds_sql = "a.dataset"
        if dataset is not None:
            ds_sql = f"coalesce(NULLIF(a.dataset, ''), {_lit(dataset)})"
    elif dataset is not None:
        ds_sql = _lit(dataset)
    else:
        names = [str(r[0]) for r in cur.execute("SELECT name FROM datasets ORDER BY id").fetchall()]
        if len(names) != 1:
            raise ImportFailed(
                f"{src.path} has no 'dataset' column and the study has "
                f"{len(names)} datasets ({', '.join(names) or 'none'}): give --dataset NAME."
            )
        ds_sql = _lit(names[0])
    run_sql = "coalesce(NULLIF(a.run, ''), 'source')" if "run" in src.cols else "'source'"
    cur.execute(f"""
        CREATE OR REPLACE TEMP TABLE _byo_res AS
        SELECT a.row_no, min(t.id) AS tid, count(t.id) AS n
        FROM _byo_attr a
        LEFT JOIN datasets d ON d.name = {ds_sql}
        LEFT JOIN prompts p ON p.dataset_id = d.id AND p.key = a.key
        LEFT JOIN runs r ON r.dataset_id = d.id AND r.label = {run_sql}
        LEFT JOIN texts t ON t.prompt_id = p.id
            AND t.sample_index = {_num('sample', src.cols, 'INTEGER')}
            AND ((t.origin = 'source' AND {run_sql} IN ('source', 'human') AND t.run_id IS NULL)
                 OR (t.origin = 'generated' AND t.run_id = r.id))
        GROUP BY a.row_no""")  # fmt: skip
    src.fail_first(
        cur, "_byo_res", "tid IS NULL",
        "no text for this dataset / key / run / sample (check the dataset name, the prompt key, "
        "the run label — 'source' for human texts — and the 0-based sample index)", "key",
    )  # fmt: skip
    src.fail_first(
        cur,
        "_byo_res",
        "n > 1",
        "matches several texts (two runs share this label?): use text_id instead",
        "run",
    )


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def import_generations(
    study: Study,
    path: str | Path,
    dataset: str,
    label: str,
    model_name: str,
    params: Mapping[str, Any] | None = None,
    mapping: Mapping[str, str] | None = None,
    fmt: str | None = None,
    template: str = "external",
    state: TaskState | None = None,
) -> ByoReport:
    """Import texts generated elsewhere (e.g. a vLLM cluster) as a new run of ``dataset``."""
    sampling = dict(params or {})
    src = _Source(Path(path), fmt, GENERATION_COLUMNS, mapping)
    report = ByoReport(str(src.path), run_label=label)
    if not label.strip():
        raise ImportFailed("The run label is empty: give one with --label NAME.")
    if not model_name.strip():
        raise ImportFailed("The model name is empty: give one with --model NAME.")
    ds_id = study.dataset_id(dataset)
    if state:
        state.begin("import generations", 1)
    with study.transaction() as cur:
        clash = cur.execute("SELECT id FROM runs WHERE dataset_id = ? AND label = ?",
                            [ds_id, label]).fetchone()  # fmt: skip
        if clash:
            raise ImportFailed(
                f"Dataset {dataset!r} already has a run labelled {label!r} (run {clash[0]}). "
                "Choose another --label."
            )
        sql = src.resolve(cur)
        src.need("key", "text")
        report.rows = src.stage(cur, sql, "_byo_gen")
        if report.rows == 0:
            raise ImportFailed(f"{src.path} has no rows: there is nothing to import.")
        src.check_numbers(cur, "_byo_gen")
        src.fail_first(cur, "_byo_gen", "text IS NULL", "the text is missing (null)", "text")
        cur.execute(
            "CREATE OR REPLACE TEMP TABLE _byo_p AS SELECT g.row_no, p.id AS prompt_id "
            "FROM _byo_gen g LEFT JOIN prompts p ON p.dataset_id = ? AND p.key = g.key",
            [ds_id],
        )
        keys = [str(r[0]) for r in cur.execute(
            "SELECT key FROM prompts WHERE dataset_id = ? ORDER BY key LIMIT 5", [ds_id]).fetchall()]  # fmt: skip
        src.fail_first(
            cur, "_byo_p", "prompt_id IS NULL",
            f"no prompt with this key in dataset {dataset!r} (keys look like: {', '.join(keys)})",
            "key",
        )  # fmt: skip
        sample_sql = (
            _num("sample", src.cols, "INTEGER")
            if "sample" in src.cols
            else "CAST(row_number() OVER (PARTITION BY g.key ORDER BY g.row_no) - 1 AS INTEGER)"
        )
        seed = int(sampling.get("seed", 0) or 0)
        cur.execute(f"""
            CREATE OR REPLACE TEMP TABLE _byo_rows AS
            SELECT g.*, p.prompt_id, {sample_sql} AS sidx FROM _byo_gen g JOIN _byo_p p USING (row_no)
        """)  # fmt: skip
        src.fail_first(cur, "_byo_rows", "sidx IS NULL OR sidx < 0", "the sample index is missing or negative", "sample")  # fmt: skip
        src.fail_first(
            cur, "(SELECT row_no, count(*) OVER (PARTITION BY prompt_id, sidx) AS n FROM _byo_rows)",
            "n > 1", "the same prompt key and sample index appear twice", "sample",
        )  # fmt: skip
        model_id = _external_model(cur, model_name)
        n_per = cur.execute(
            "SELECT max(c) FROM (SELECT count(*) c FROM _byo_rows GROUP BY prompt_id)").fetchone()  # fmt: skip
        meta = {"source": str(src.path), "model_name": model_name, "columns": src.cols}
        cur.execute(
            "INSERT INTO runs (dataset_id, model_id, label, engine, template, sampling, "
            "n_per_prompt, seed, status, started_at, finished_at, meta) VALUES "
            "(?, ?, ?, 'external', ?, ?, ?, ?, 'imported', current_timestamp, current_timestamp, ?) "
            "RETURNING id",
            [ds_id, model_id, label, template, json.dumps(sampling),
             int(n_per[0] if n_per else 0), seed, json.dumps(meta)],
        )  # fmt: skip
        got = cur.fetchone()
        run_id = int(got[0]) if got else 0
        c = src.cols
        # Draw the ids, then hand them out in file order (nextval order is not row order).
        cur.execute(
            "CREATE OR REPLACE TEMP TABLE _byo_nv AS SELECT nextval('seq_texts') AS nv FROM _byo_rows"
        )
        cur.execute(
            "CREATE OR REPLACE TEMP TABLE _byo_ids AS SELECT n.nv AS tid, r.* FROM "
            "(SELECT *, row_number() OVER (ORDER BY row_no) AS k FROM _byo_rows) r JOIN "
            "(SELECT nv, row_number() OVER (ORDER BY nv) AS k FROM _byo_nv) n USING (k)"
        )
        cur.execute(
            "INSERT INTO texts (id, prompt_id, origin, run_id, sample_index, body, content_hash) "
            "SELECT tid, prompt_id, 'generated', ?, sidx, text, md5(text) FROM _byo_ids",
            [run_id],
        )
        cur.execute(
            f"""INSERT INTO generations (text_id, run_id, prompt_id, sample_index, seed, params,
                prompt_text, n_prompt_tokens, n_tokens, finish_reason, mean_logprob, perplexity,
                wall_ms)
            SELECT tid, ?, prompt_id, sidx, coalesce({_num("seed", c, "BIGINT")}, ?), ?,
                {_str("prompt_text", c)}, {_num("n_prompt_tokens", c, "INTEGER")},
                {_num("n_tokens", c, "INTEGER")}, {_str("finish_reason", c)},
                {_num("mean_logprob", c, "DOUBLE")}, {_num("perplexity", c, "DOUBLE")},
                {_num("wall_ms", c, "DOUBLE")}
            FROM _byo_ids""",
            [run_id, seed, json.dumps(sampling)],
        )
        prompts = cur.execute("SELECT count(DISTINCT prompt_id) FROM _byo_ids").fetchone()
        for table in ("_byo_gen", "_byo_p", "_byo_rows", "_byo_nv", "_byo_ids"):
            cur.execute(f"DROP TABLE {table}")
    report.run_id, report.written = run_id, report.rows
    report.prompts = int(prompts[0]) if prompts else 0
    if state:
        state.progress(1, 1)
    return report


def _external_model(cur: duckdb.DuckDBPyConnection, name: str) -> int:
    """The `models` row standing for a model that ran elsewhere (no local file, no hash)."""
    key = f"external:{name}"
    row = cur.execute("SELECT id FROM models WHERE sha256 = ?", [key]).fetchone()
    if row:
        return int(row[0])
    cur.execute(
        "INSERT INTO models (path, sha256, name) VALUES (?, ?, ?) RETURNING id",
        [f"external://{name}", key, name],
    )
    got = cur.fetchone()
    return int(got[0]) if got else 0
