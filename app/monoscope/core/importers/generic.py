"""Generic import of a CSV / JSON-lines / Parquet table with a column mapping.

One row = one human text for one prompt: ``key`` groups rows into prompts (a book id, a film),
``title`` and ``context`` describe the prompt, ``text`` is the body, ``label``/``rating`` are
optional. Example: ``--map key=book_id,title=book_title,text=review_text,rating=stars``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

from monoscope.core.errors import ImportFailed
from monoscope.core.importers.common import STAGE_DDL, ImportReport, as_text_sql, load_staged
from monoscope.core.importers.readers import (
    check_file,
    detect_format,
    reader_sql,
    require_columns,
    row_describer,
    translate_error,
)
from monoscope.core.store import Study
from monoscope.core.tasks import TaskState

KINDS = ("text", "code")


@dataclass(frozen=True)
class ColumnMap:
    """Which file column fills which role; only ``key`` and ``text`` are required."""

    key: str
    text: str
    title: str | None = None
    context: str | None = None
    label: str | None = None
    rating: str | None = None

    @classmethod
    def parse(cls, spec: str) -> ColumnMap:
        """From ``key=book_id,text=review_text,...`` (the CLI's --map)."""
        roles = {f.name for f in fields(cls)}
        values: dict[str, str] = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            role, sep, col = part.partition("=")
            role, col = role.strip(), col.strip()
            if not sep or not col:
                raise ImportFailed(f"--map entry {part!r} should look like role=column, e.g. key=book_id.")
            if role not in roles:
                raise ImportFailed(
                    f"--map names an unknown role {role!r}; roles are {', '.join(sorted(roles))}."
                )
            values[role] = col
        missing = [r for r in ("key", "text") if r not in values]
        if missing:
            raise ImportFailed(
                f"--map needs {' and '.join(missing)}=<column>, e.g. --map key=book_id,text=review_text."
            )
        return cls(**values)

    def roles(self) -> dict[str, str | None]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def import_table(
    study: Study,
    path: str | Path,
    *,
    dataset: str,
    mapping: ColumnMap,
    kind: str = "text",
    fmt: str | None = None,
    encoding: str = "utf-8",
    append: bool = False,
    state: TaskState | None = None,
) -> ImportReport:
    """Import one file as (or into, with ``append``) a dataset, in a single transaction."""
    state = state or TaskState()
    if kind not in KINDS:
        raise ImportFailed(f"Unknown kind {kind!r}: use 'text' or 'code'.")
    src = Path(path).expanduser()
    fmt = detect_format(src, fmt)
    check_file(src)
    state.begin(f"import {src.name}", 3)
    with study.transaction() as cur:
        sql, types = reader_sql(cur, src, fmt, encoding)
        require_columns(src, types, mapping.roles())

        def col(role: str) -> str:
            name = mapping.roles()[role]
            return "NULL::VARCHAR" if name is None else as_text_sql(name, types[name])

        rating = col("rating")
        cur.execute(STAGE_DDL)
        try:  # straight into the staging layout; rating stays text until checked
            cur.execute(
                f"""CREATE OR REPLACE TEMP TABLE _stage AS SELECT
                    row_number() OVER () AS row_no, trim({col('key')}) AS key, {col('title')} AS title,
                    {col('context')} AS context, {col('text')} AS body, {col('label')} AS label,
                    {rating} AS rating, NULL::JSON AS meta, NULL::JSON AS prompt_meta
                FROM {sql}"""
            )
        except Exception as exc:  # duckdb.Error subclasses, plus conversion errors
            raise translate_error(exc, src, fmt, encoding) from None
        state.check()
        describe = row_describer(src, fmt, encoding)
        bad = cur.execute(
            "SELECT row_no, rating FROM _stage WHERE rating IS NOT NULL "
            "AND trim(rating) <> '' AND TRY_CAST(rating AS DOUBLE) IS NULL "
            "ORDER BY row_no LIMIT 1"
        ).fetchone()
        if bad:
            raise ImportFailed(
                f"{src}, {describe(int(bad[0]))}: rating {bad[1]!r} in column {mapping.rating!r} "
                "is not a number. Fix the value or map another rating column."
            )
        cur.execute("ALTER TABLE _stage ALTER rating TYPE DOUBLE USING TRY_CAST(rating AS DOUBLE)")
        meta = {
            "importer": "generic",
            "file": str(src.resolve()),
            "format": fmt,
            "mapping": {k: v for k, v in mapping.roles().items() if v is not None},
        }
        return load_staged(
            cur, dataset=dataset, kind=kind, source_uri=str(src.resolve()), meta=meta,
            append=append, state=state, describe_row=describe, key_column=mapping.key,
        )
