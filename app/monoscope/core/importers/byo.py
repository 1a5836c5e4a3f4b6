"""Bring your own: import precomputed attributes and generations produced elsewhere.

`import_attributes` reads CSV / JSON lines / Parquet rows (text_id, or dataset + prompt key +
run label + sample index; plus attribute name and value and/or label) into `attributes`.
`import_generations` reads rows (prompt key, text, optional sample index, perplexity, token
counts, ...) into a new run with status ``imported`` and engine ``external``, so that every
attribute, metric and view treats them like local generations. Each import is one transaction:
a bad row changes nothing, and the error names the file, line and column.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monoscope.core.errors import ImportFailed
from monoscope.core.importers.readers import (
    check_csv_rows,
    check_file,
    detect_format,
    open_table,
    require_columns,
    row_describer,
)
from monoscope.core.store import Study, staging
from monoscope.core.store import imports as imports_repo
from monoscope.core.store.staging import ByoRows, NumberType, Offender, Stage, TableSource
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
_NUMERIC: dict[str, NumberType] = {"seed": "BIGINT", "perplexity": "DOUBLE", "mean_logprob": "DOUBLE",
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
    """A file opened through the store, with roles resolved to columns and its rows staged."""

    def __init__(self, path: Path, fmt: str | None, roles: Mapping[str, tuple[str, ...]],
                 mapping: Mapping[str, str] | None, rows: ByoRows) -> None:  # fmt: skip
        self.path = Path(path)
        check_file(self.path)
        self.fmt = detect_format(self.path, fmt)
        self.roles = roles
        self.rows = rows
        self.mapping = dict(mapping or {})
        unknown = sorted(set(self.mapping) - set(roles))
        if unknown:
            raise ImportFailed(
                f"Unknown role(s) in the mapping: {', '.join(unknown)}. Roles: {', '.join(roles)}."
            )
        self.cols: dict[str, str] = {}
        self.types: dict[str, str] = {}

    def resolve(self, stage: Stage) -> TableSource:
        table = open_table(stage, self.path, self.fmt)
        self.types = table.types
        require_columns(self.path, self.types, {r: c for r, c in self.mapping.items()})
        for role, names in self.roles.items():
            col = self.mapping.get(role) or next((n for n in names if n in self.types), None)
            if col is not None:
                self.cols[role] = col
        return table

    def need(self, *roles: str) -> None:
        for role in roles:
            if role not in self.cols:
                raise ImportFailed(
                    f"{self.path} has no column for {role!r} (looked for "
                    f"{', '.join(self.roles[role])}). Columns found: {', '.join(self.types)}. "
                    f"Name it with --map {role}=<column>."
                )

    def stage(self, stage: Stage, table: TableSource) -> int:
        n = staging.stage_byo_rows(stage, table, self.rows, self.cols)
        if self.fmt == "csv":
            check_csv_rows(self.path, "utf-8", n)
        return n

    def fail(self, found: Offender | None, what: str, role: str | None = None) -> None:
        """Raise naming the first staged row a check found (and how many it found)."""
        if found is None:
            return
        col = f", column {self.cols[role]!r}" if role and role in self.cols else ""
        more = f" ({found.count} rows like this)" if found.count > 1 else ""
        where_txt = row_describer(self.path, self.fmt)(found.row_no)
        raise ImportFailed(f"{self.path}, {where_txt}{col}: {what}{more}. Nothing was imported.")

    def check_numbers(self, stage: Stage) -> None:
        for role, typ in _NUMERIC.items():
            if role in self.cols:
                self.fail(staging.first_non_number(stage, self.rows, role, typ),
                          f"not a number ({typ.lower()})", role)


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
    src = _Source(Path(path), fmt, ATTRIBUTE_COLUMNS, mapping, "attributes")
    report = ByoReport(str(src.path))
    if state:
        state.begin("import attributes", 1)
    with staging.import_transaction(study) as stage:
        table = src.resolve(stage)
        src.need("name")
        if "value" not in src.cols and "label" not in src.cols:
            src.need("value")
        if "text_id" not in src.cols:
            src.need("key", "sample")
        report.rows = src.stage(stage, table)
        src.check_numbers(stage)
        src.fail(staging.first_blank(stage, "attributes", "name"), "empty attribute name", "name")
        src.fail(
            staging.first_without_value_or_label(stage, src.cols),
            "neither a value nor a label",
            "value" if "value" in src.cols else "label",
        )
        if "text_id" in src.cols:
            imports_repo.resolve_attribute_text_ids(stage, src.cols)
            src.fail(imports_repo.first_unmatched_attribute(stage),
                     "no text with this text_id in the study", "text_id")  # fmt: skip
        else:
            _resolve_by_key(stage, src, dataset)
        src.fail(
            imports_repo.first_repeated_attribute(stage),
            "the same text and attribute name appear on more than one row", "name",
        )  # fmt: skip
        report.names = imports_repo.write_attributes(stage, src.cols, version)
        report.written = report.rows
    if state:
        state.progress(1, 1)
    return report


def _resolve_by_key(stage: Stage, src: _Source, dataset: str | None) -> None:
    """Find each row's text from (dataset, key, run, sample); fail on unmatched rows."""
    if "dataset" not in src.cols and dataset is None:
        names = imports_repo.dataset_names(stage)
        if len(names) != 1:
            raise ImportFailed(
                f"{src.path} has no 'dataset' column and the study has "
                f"{len(names)} datasets ({', '.join(names) or 'none'}): give --dataset NAME."
            )
        dataset = names[0]
    imports_repo.resolve_attribute_keys(stage, src.cols, dataset)
    src.fail(
        imports_repo.first_unmatched_attribute(stage),
        "no text for this dataset / key / run / sample (check the dataset name, the prompt key, "
        "the run label — 'source' for human texts — and the 0-based sample index)", "key",
    )  # fmt: skip
    src.fail(
        imports_repo.first_ambiguous_attribute(stage),
        "matches several texts (two runs share this label?): use text_id instead",
        "run",
    )


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
    src = _Source(Path(path), fmt, GENERATION_COLUMNS, mapping, "generations")
    report = ByoReport(str(src.path), run_label=label)
    if not label.strip():
        raise ImportFailed("The run label is empty: give one with --label NAME.")
    if not model_name.strip():
        raise ImportFailed("The model name is empty: give one with --model NAME.")
    ds_id = study.dataset_id(dataset)
    if state:
        state.begin("import generations", 1)
    with staging.import_transaction(study) as stage:
        clash = imports_repo.run_labelled(stage, ds_id, label)
        if clash is not None:
            raise ImportFailed(
                f"Dataset {dataset!r} already has a run labelled {label!r} (run {clash}). "
                "Choose another --label."
            )
        table = src.resolve(stage)
        src.need("key", "text")
        report.rows = src.stage(stage, table)
        if report.rows == 0:
            raise ImportFailed(f"{src.path} has no rows: there is nothing to import.")
        src.check_numbers(stage)
        src.fail(staging.first_null(stage, "generations", "text"), "the text is missing (null)", "text")
        imports_repo.match_generation_prompts(stage, ds_id)
        unknown = imports_repo.first_unknown_prompt(stage)
        if unknown is not None:
            keys = imports_repo.prompt_keys(stage, ds_id, 5)
            src.fail(
                unknown,
                f"no prompt with this key in dataset {dataset!r} (keys look like: {', '.join(keys)})",
                "key",
            )  # fmt: skip
        seed = int(sampling.get("seed", 0) or 0)
        imports_repo.number_generations(stage, src.cols)
        src.fail(imports_repo.first_bad_sample(stage), "the sample index is missing or negative", "sample")  # fmt: skip
        src.fail(
            imports_repo.first_repeated_sample(stage),
            "the same prompt key and sample index appear twice", "sample",
        )  # fmt: skip
        model_id = imports_repo.external_model(stage, model_name)
        meta = {"source": str(src.path), "model_name": model_name, "columns": src.cols}
        run_id, prompts = imports_repo.write_external_run(
            stage, ds_id, model_id, label=label, template=template, sampling=sampling,
            seed=seed, meta=meta, roles=src.cols,
        )
    report.run_id, report.written = run_id, report.rows
    report.prompts = prompts
    if state:
        state.progress(1, 1)
    return report
