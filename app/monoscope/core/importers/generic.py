"""Generic import of a CSV / JSON-lines / Parquet table with a column mapping.

One row = one human text for one prompt: ``key`` groups rows into prompts (a book id, a film),
``title`` and ``context`` describe the prompt, ``text`` is the body, ``label``/``rating`` are
optional. Example: ``--map key=book_id,title=book_title,text=review_text,rating=stars``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, fields
from pathlib import Path

from monoscope.core.errors import ImportFailed
from monoscope.core.importers.cleaning import HTML_MODES, decode_html, number_only_note
from monoscope.core.importers.common import ImportReport, load_staged
from monoscope.core.importers.readers import (
    check_csv_rows,
    check_file,
    detect_format,
    open_table,
    row_describer,
)
from monoscope.core.store import Study, staging
from monoscope.core.store.staging import Column, Stage, StagedText, TableSource
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


def _mapped_columns(stage: Stage, path: Path, src: TableSource,
                    mapping: ColumnMap, notes: list[str]) -> dict[str, Column | None]:
    """Role -> column; refuses a missing column and a struct/list where text belongs."""
    out: dict[str, Column | None] = {}
    for role, name in mapping.roles().items():
        if name is None:
            out[role] = None
            continue
        found = staging.resolve_column(stage, src, name)
        if found is None:
            close = difflib.get_close_matches(name, list(src.types), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ImportFailed(
                f"{path} has no column {name!r} (mapped to {role}).{hint} Columns found: "
                f"{', '.join(src.types)}. Fix the mapping, e.g. --map {role}=<one of those>."
            )
        dtype = found.dtype
        if staging.is_nested_type(dtype):
            example = ""
            if staging.is_struct_type(dtype):
                fields_ = staging.struct_fields(stage, src, found)
                if fields_:
                    example = (f" Pick one of its fields instead, e.g. --map {role}={name}."
                               f"{fields_[0]} (fields: {', '.join(fields_)}).")
            raise ImportFailed(
                f"{path}: column {name!r} (mapped to {role}) holds {dtype} values, not text; "
                f"importing it would store their printed form.{example or ' Map a column that holds one text per row.'}"
            )
        if role == "text" and staging.is_numeric_type(dtype):  # ids and labels may well be numbers
            notes.append(f"column {name!r} (mapped to {role}) holds numbers ({dtype}), not text: "
                         "check the mapping")
        out[role] = found
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
    with study.memory_budget(), staging.import_transaction(study) as stage:
        table = open_table(stage, src, fmt, encoding)
        notes = list(table.notes)
        cols = _mapped_columns(stage, src, table, mapping, notes)
        staging.create_stage_tables(stage)
        key, text = cols["key"], cols["text"]
        assert key is not None and text is not None  # required roles of a ColumnMap
        # straight into the staging layout; rating stays text until checked
        staging.stage_table_rows(stage, table, key=key, text=text, title=cols["title"],
                                 context=cols["context"], label=cols["label"],
                                 rating=cols["rating"])
        state.check()
        if fmt == "csv":
            check_csv_rows(src, encoding, staging.staged_row_count(stage), table.lines)
        describe = row_describer(src, fmt, encoding)
        bad = staging.first_bad_rating(stage)
        if bad:
            raise ImportFailed(
                f"{src}, {describe(bad[0])}: rating {bad[1]!r} in column {mapping.rating!r} "
                "is not a number. Fix the value or map another rating column."
            )
        staging.ratings_as_numbers(stage)
        note = number_only_note(stage, mapping.text)
        if note:
            notes.append(note)
        decoded: dict[str, int] = {}
        if html == "auto":
            roles: dict[StagedText, str | None] = {"body": mapping.text, "title": mapping.title, "context": mapping.context}
            changed = decode_html(stage, [c for c, name in roles.items() if name is not None])
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
            stage, dataset=dataset, kind=kind, source_uri=str(src.resolve()), meta=meta,
            append=append, state=state, describe_row=describe, key_column=mapping.key,
        )
        report.notes = notes + report.notes
    study.checkpoint()  # the stage is done: the study file alone holds it
    return report
