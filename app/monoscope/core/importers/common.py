"""Shared import machinery: staged rows in one layout, loaded into the study atomically.

Every importer (generic table, Goodreads, CodeContests, demos) fills the staging tables of its
import's transaction (``_stage``: row_no, key, title, context, body, label, rating, meta,
prompt_meta; optionally ``_stage_tests``: key, kind, ord, input, output; see
`monoscope.core.store.staging`), then calls `load_staged`. The whole import runs in one
transaction, so a bad file changes nothing.

Rules applied here for every source: empty or whitespace-only texts are skipped and counted;
texts over `MAX_TEXT_BYTES` (1 MB of UTF-8) are skipped and counted (a text that large is a
broken export, not a review); exact duplicates (same prompt key and same body) are kept once and
counted; a row without a prompt key fails the import with its row number.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from monoscope.core.errors import ImportFailed
from monoscope.core.store import imports as imports_repo
from monoscope.core.store import staging
from monoscope.core.store.staging import Stage
from monoscope.core.tasks import TaskState

MAX_TEXT_BYTES = 1_000_000


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


def check_target(stage: Stage, dataset: str, kind: str, append: bool) -> int | None:
    """Existing dataset id when appending; refuse to overwrite or to mix kinds."""
    if not dataset.strip():
        raise ImportFailed("The dataset name is empty: give one with --dataset NAME.")
    found = imports_repo.find_dataset(stage, dataset)
    if found is None:
        return None
    ds_id, ds_kind = found
    if not append:
        n = imports_repo.prompt_count(stage, ds_id)
        raise ImportFailed(
            f"The study already has a dataset named {dataset!r} ({n} prompts). "
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
    stage: Stage,
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

    Must run inside the caller's import transaction; raises ImportFailed before writing
    anything if a row has no key. ``describe_row(row_no)`` names a row for messages (e.g.
    "line 12").
    """
    report = ImportReport(dataset=dataset, kind=kind, source=source_uri, appended=append)
    ds_id = check_target(stage, dataset, kind, append)
    report.rows_read = staging.staged_row_count(stage)
    if report.rows_read == 0:
        raise ImportFailed(f"{source_uri} has no data rows (only a header, or every row was filtered out).")

    bad = staging.first_keyless_row(stage)
    if bad is not None:
        raise ImportFailed(
            f"{source_uri}, {describe_row(bad)}: the prompt key column {key_column!r} is "
            "empty. Every row needs a key (the book, film or problem it belongs to): fill it in "
            "or drop the row."
        )
    state.check()
    state.progress(1, 3, "checking texts")

    report.skipped_empty, report.oversized = staging.count_unusable(stage, MAX_TEXT_BYTES)
    # Keep the first row of each (key, body); when appending, also drop rows already stored.
    kept = imports_repo.keep_new_texts(stage, ds_id, MAX_TEXT_BYTES)
    ok_rows = report.rows_read - report.skipped_empty - report.oversized
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

    written = imports_repo.write_staged(stage, ds_id, name=dataset, kind=kind,
                                        source_uri=source_uri, meta=meta)
    report.new_prompts = written.new_prompts
    report.texts = kept
    report.tests = written.tests
    report.prompts = written.prompts
    state.progress(3, 3, "done", force=True)
    return report
