"""Generic import of a CSV / JSON-lines / Parquet table with a column mapping.

One row = one human text for one prompt: ``key`` groups rows into prompts (a book id, a film),
``title`` and ``context`` describe the prompt, ``text`` is the body, ``label``/``rating`` are
optional. Example: ``--map key=book_id,title=book_title,text=review_text,rating=stars``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import duckdb

from monoscope.core.errors import ImportFailed
from monoscope.core.importers.cleaning import HTML_MODES, decode_html, number_only_note
from monoscope.core.importers.common import STAGE_DDL, ImportReport, load_staged
from monoscope.core.importers.readers import (
    TableSource,
    check_csv_rows,
    check_file,
    detect_format,
    open_table,
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
        """From ``key=book_id,text=review_text,...`` (the CLI's --map).

        A nested field of a struct (Parquet, JSON) is named with a dot: ``text=review.text``.
        """
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


_NESTED = ("STRUCT(", "MAP(", "UNION(")
_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
            "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL")


def _is_nested(dtype: str) -> bool:
    return dtype.upper().startswith(_NESTED) or dtype.endswith("]")


def resolve_column(cur: duckdb.DuckDBPyConnection, src: TableSource, name: str) -> tuple[str, str] | None:
    """(SQL expression, DuckDB type) of a column or of a nested field ``col.field``; None if absent."""
    from monoscope.core.importers.common import quote_ident, sql_literal

    if name in src.types:
        return quote_ident(name), src.types[name]
    head, _, rest = name.partition(".")
    while rest:  # the longest column name that prefixes the path wins ("a.b" then "a")
        if head in src.types:
            break
        more, _, rest = rest.partition(".")
        head = f"{head}.{more}"
    if not rest or head not in src.types:
        return None
    base = quote_ident(head)
    if src.types[head].upper() == "JSON":
        return f"({base} ->> {sql_literal('$.' + rest)})", "VARCHAR"
    expr = base + "".join(f"[{sql_literal(part)}]" for part in rest.split("."))
    try:
        row = cur.execute(f"DESCRIBE SELECT {expr} AS v FROM {src.sql}").fetchone()
    except duckdb.Error:
        return None
    return (expr, str(row[1])) if row else None


def _text_sql(expr: str, dtype: str) -> str:
    if dtype.upper() == "JSON":
        return f"({expr} ->> '$')"
    return f"CAST({expr} AS VARCHAR)"


def _mapped_columns(cur: duckdb.DuckDBPyConnection, path: Path, src: TableSource,
                    mapping: ColumnMap, notes: list[str]) -> dict[str, str]:
    """Role -> SQL expression; refuses a missing column and a struct/list where text belongs."""
    import difflib

    out: dict[str, str] = {}
    for role, name in mapping.roles().items():
        if name is None:
            out[role] = "NULL::VARCHAR"
            continue
        found = resolve_column(cur, src, name)
        if found is None:
            close = difflib.get_close_matches(name, list(src.types), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ImportFailed(
                f"{path} has no column {name!r} (mapped to {role}).{hint} Columns found: "
                f"{', '.join(src.types)}. Fix the mapping, e.g. --map {role}=<one of those>."
            )
        expr, dtype = found
        if _is_nested(dtype):
            example = ""
            if dtype.upper().startswith("STRUCT("):
                fields_ = cur.execute(f"SELECT unnest(struct_keys({expr})) FROM (SELECT * FROM {src.sql} "
                                      f"WHERE {expr} IS NOT NULL LIMIT 1)").fetchall()
                if fields_:
                    example = (f" Pick one of its fields instead, e.g. --map {role}={name}."
                               f"{fields_[0][0]} (fields: {', '.join(str(f[0]) for f in fields_)}).")
            raise ImportFailed(
                f"{path}: column {name!r} (mapped to {role}) holds {dtype} values, not text; "
                f"importing it would store their printed form.{example or ' Map a column that holds one text per row.'}"
            )
        if role == "text" and dtype.upper().startswith(_NUMERIC):  # ids and labels may well be numbers
            notes.append(f"column {name!r} (mapped to {role}) holds numbers ({dtype}), not text: "
                         "check the mapping")
        out[role] = _text_sql(expr, dtype)
    return out


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
    html: str = "auto",
    state: TaskState | None = None,
) -> ImportReport:
    """Import one file as (or into, with ``append``) a dataset, in a single transaction.

    ``html``: ``auto`` decodes HTML entities (and ``<br>`` breaks) in a column that clearly holds
    escaped HTML, ``keep`` stores the texts as written.
    """
    state = state or TaskState()
    if kind not in KINDS:
        raise ImportFailed(f"Unknown kind {kind!r}: use 'text' or 'code'.")
    if html not in HTML_MODES:
        raise ImportFailed(f"Unknown html mode {html!r}: use one of {', '.join(HTML_MODES)}.")
    src = Path(path).expanduser()
    fmt = detect_format(src, fmt)
    check_file(src)
    state.begin(f"import {src.name}", 3)
    with study.memory_budget(), study.transaction() as cur:
        table = open_table(cur, src, fmt, encoding)
        notes = list(table.notes)
        cols = _mapped_columns(cur, src, table, mapping, notes)
        cur.execute(STAGE_DDL)
        try:  # straight into the staging layout; rating stays text until checked
            cur.execute(
                f"""CREATE OR REPLACE TEMP TABLE _stage AS SELECT
                    row_number() OVER () AS row_no, trim({cols['key']}) AS key, {cols['title']} AS title,
                    {cols['context']} AS context, {cols['text']} AS body, {cols['label']} AS label,
                    {cols['rating']} AS rating, NULL::JSON AS meta, NULL::JSON AS prompt_meta
                FROM {table.sql}"""
            )
        except Exception as exc:  # duckdb.Error subclasses, plus conversion errors
            raise translate_error(exc, src, fmt, encoding) from None
        state.check()
        if fmt == "csv":
            staged = cur.execute("SELECT count(*) FROM _stage").fetchone()
            check_csv_rows(src, encoding, int(staged[0]) if staged else 0, table.lines)
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
        note = number_only_note(cur, mapping.text)
        if note:
            notes.append(note)
        decoded: dict[str, int] = {}
        if html == "auto":
            roles: dict[str, str | None] = {"body": mapping.text, "title": mapping.title, "context": mapping.context}
            changed = decode_html(cur, [c for c, name in roles.items() if name is not None])
            for column, n in changed.items():
                name = str(roles[column])
                decoded[name] = n
                notes.append(
                    f"column {name!r} holds escaped HTML: decoded entities (&amp; -> &, "
                    f"&#039; -> ') and <br> line breaks in {n:,} values; --keep-html "
                    "imports them as written")
        meta = {
            "importer": "generic",
            "file": str(src.resolve()),
            "format": fmt,
            "mapping": {k: v for k, v in mapping.roles().items() if v is not None},
            "html_decoded": decoded,
        }
        report = load_staged(
            cur, dataset=dataset, kind=kind, source_uri=str(src.resolve()), meta=meta,
            append=append, state=state, describe_row=describe, key_column=mapping.key,
        )
        report.notes = notes + report.notes
    study.checkpoint()  # the stage is done: the study file alone holds it
    return report
