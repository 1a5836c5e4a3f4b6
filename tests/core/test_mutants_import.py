"""The importers' skip rules and report, checked against hand counts (written against the
mutants of `importers/common.py` that the import tests let live; see docs/testing.md).

Rows are staged by hand in an import transaction and loaded with `load_staged`, so every
count below is known from the rows themselves.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from monoscope.core.errors import ImportFailed
from monoscope.core.importers.common import MAX_TEXT_BYTES, ImportReport, load_staged
from monoscope.core.store import Study, staging
from monoscope.core.store.staging import import_transaction
from monoscope.core.tasks import Progress, TaskState

BIG = "x" * (MAX_TEXT_BYTES + 1)  # one byte over the limit
EDGE = "y" * MAX_TEXT_BYTES  # exactly at the limit: kept

# row_no, key, title, context, body, label, rating, meta, prompt_meta
ROWS = [
    (1, "a", "Book A", None, "good", None, None, None, None),
    (2, "a", "Book A", None, "good", None, None, None, None),  # duplicate of row 1
    (3, "a", "Book A", None, "   ", None, None, None, None),  # empty
    (4, "a", "Book A", None, BIG, None, None, None, None),  # oversized
    (5, "b", "Book B", None, BIG, None, None, None, None),  # oversized
    (6, "b", "Book B", None, "", None, None, None, None),  # empty
    (7, "b", "Book B", None, "fine", None, None, None, None),
    (8, "b", "Book B", None, "fine", None, None, None, None),  # duplicate of row 7
    (9, "b", "Book B", None, "fine", None, None, None, None),  # duplicate of row 7
    (10, "c", "Book C", None, EDGE, None, None, None, None),
]


def _load(study: Study, rows: Sequence[tuple[object, ...]], *, dataset: str = "books",
          kind: str = "text", append: bool = False, state: TaskState | None = None,
          tests: Sequence[tuple[object, ...]] = (), **kw: object) -> ImportReport:
    with import_transaction(study) as stage:
        staging.create_stage_tables(stage)
        staging.add_stage_rows(stage, rows)
        staging.add_stage_tests(stage, tests)  # key, kind, ord, input, output
        return load_staged(stage, dataset=dataset, kind=kind, source_uri="file:///reviews.csv",
                           meta={"from": "hand"}, append=append, state=state or TaskState(),
                           describe_row=lambda n: f"line {n + 1}", **kw)  # type: ignore[arg-type]


@pytest.fixture
def study(tmp_path: Path) -> Iterator[Study]:
    s = Study(tmp_path / "s.duckdb")
    yield s
    s.close()


def test_counts_of_each_skip_rule_match_the_rows(study: Study) -> None:
    report = _load(study, ROWS)
    # by hand: 10 rows; empty 3, 6; oversized 4, 5; duplicates 2, 8, 9; kept 1, 7, 10
    assert (report.rows_read, report.skipped_empty, report.oversized, report.duplicates,
            report.texts, report.prompts, report.new_prompts) == (10, 2, 2, 3, 3, 3, 3)
    assert (report.dataset, report.kind, report.source) == ("books", "text", "file:///reviews.csv")
    assert report.appended is False and report.already_present is False
    bodies = study.query("SELECT p.key, t.sample_index, length(t.body) AS n FROM texts t "
                         "JOIN prompts p ON p.id = t.prompt_id ORDER BY t.id")
    assert [(r["key"], r["sample_index"], r["n"]) for r in bodies] == [
        ("a", 0, 4), ("b", 0, 4), ("c", 0, MAX_TEXT_BYTES)]
    row = study.query("SELECT name, kind, source_uri, meta FROM datasets")[0]
    assert (row["name"], row["kind"], row["source_uri"]) == ("books", "text", "file:///reviews.csv")
    assert json.loads(row["meta"]) == {"from": "hand"}


def test_report_lines_and_dict(study: Study) -> None:
    first = _load(study, ROWS)
    assert first.lines() == [
        "file:///reviews.csv imported as dataset 'books' (text):",
        "  rows read                  10",
        "  prompts                     3",
        "  texts written               3",
        "  skipped empty               2",
        "  duplicates skipped          3",
        "  oversized skipped           2  (texts over 1 MB)",
    ]
    more = [(1, "a", "Book A", None, "good", None, None, None, None),  # already stored
            (2, "d", "Book D", None, "new", None, None, None, None),
            (3, "a", "Book A", None, "better", None, None, None, None)]
    second = _load(study, more, append=True)
    assert second.appended is True
    assert (second.duplicates, second.texts, second.new_prompts, second.prompts) == (1, 2, 1, 4)
    assert second.lines()[:4] == [
        "file:///reviews.csv appended to dataset 'books' (text):",
        "  rows read                   3",
        "  prompts                     4  (1 new)",
        "  texts written               2",
    ]
    # "better" is numbered after "good" under key a
    assert study.query("SELECT t.sample_index FROM texts t WHERE t.body = 'better'")[0][
        "sample_index"] == 1
    d = second.as_dict()
    assert d == {"dataset": "books", "kind": "text", "source": "file:///reviews.csv",
                 "prompts": 4, "new_prompts": 1, "texts": 2, "tests": 0, "rows_read": 3,
                 "skipped_empty": 0, "duplicates": 1, "oversized": 0, "appended": True,
                 "already_present": False, "notes": []}
    assert list(d)[-1] == "notes"


def test_progress_steps_are_reported_in_order(study: Study) -> None:
    seen: list[Progress] = []
    state = TaskState(on_progress=seen.append, min_interval_s=0.0)
    _load(study, ROWS, state=state)
    assert [(p.done, p.total, p.message) for p in seen] == [
        (1, 3, "checking texts"), (2, 3, "writing"), (3, 3, "done")]


def test_a_throttled_import_still_reports_its_end(study: Study) -> None:
    seen: list[Progress] = []
    state = TaskState(on_progress=seen.append, min_interval_s=1e9)
    state._last_emit = 1e18  # the last emit "just now": only forced or final steps go through
    _load(study, ROWS, state=state)
    assert [(p.done, p.total, p.message) for p in seen] == [(3, 3, "done")]
    assert state.last is not None and (state.last.done, state.last.total) == (3, 3)


def test_messages_say_what_to_do(study: Study) -> None:
    with pytest.raises(ImportFailed) as err:
        _load(study, ROWS, dataset="  ")
    assert str(err.value) == "The dataset name is empty: give one with --dataset NAME."

    _load(study, ROWS)
    with pytest.raises(ImportFailed) as err:
        _load(study, ROWS)
    assert str(err.value) == (
        "The study already has a dataset named 'books' (3 prompts). Add --append to add these "
        "rows to it (exact duplicates are skipped), or choose another name with --dataset.")
    with pytest.raises(ImportFailed) as err:
        _load(study, ROWS, kind="code", append=True)
    assert str(err.value) == (
        "Dataset 'books' holds text texts; these are code. Import them under another "
        "--dataset name.")

    keyless = [(1, "a", None, None, "ok", None, None, None, None),
               (2, " ", None, None, "ok", None, None, None, None)]
    with pytest.raises(ImportFailed) as err:
        _load(study, keyless, dataset="other")
    assert str(err.value) == (
        "file:///reviews.csv, line 3: the prompt key column 'key' is empty. Every row needs a "
        "key (the book, film or problem it belongs to): fill it in or drop the row.")

    unusable = [(1, "a", None, None, "", None, None, None, None),
                (2, "a", None, None, BIG, None, None, None, None)]
    with pytest.raises(ImportFailed) as err:
        _load(study, unusable, dataset="other")
    assert str(err.value) == (
        "file:///reviews.csv: 2 data row(s) read but none can be imported (1 with an empty "
        "text, 1 with a text over 1 MB, 0 duplicates). Nothing was imported; check the "
        "mapping of text=.")
    # every failure left the study as the one good import made it
    assert study.scalar("SELECT count(*) FROM datasets") == 1
    assert study.scalar("SELECT count(*) FROM texts") == 3


def test_appending_counts_only_the_tests_it_added(study: Study) -> None:
    first = _load(study, [(1, "p1", None, None, "print(1)", None, None, None, None)],
                  tests=[("p1", "public", 0, "1", "1"), ("p1", "private", 0, "2", "2")],
                  dataset="problems", kind="code")
    assert first.tests == 2
    # p1's tests are stored already: its staged ones are left out; p2's three are added
    second = _load(study, [(1, "p1", None, None, "print(2)", None, None, None, None),
                           (2, "p2", None, None, "print(3)", None, None, None, None)],
                   tests=[("p1", "public", 0, "9", "9"), ("p2", "private", 1, "b", "B"),
                          ("p2", "public", 0, "a", "A"), ("p2", "private", 0, "c", "C")],
                   dataset="problems", kind="code", append=True)
    assert second.tests == 3
    rows = study.query("SELECT p.key, t.idx, t.kind, t.input FROM prompt_tests t "
                       "JOIN prompts p ON p.id = t.prompt_id ORDER BY p.key, t.idx")
    # public tests first, then private ones by their order
    assert [(r["key"], r["idx"], r["kind"], r["input"]) for r in rows] == [
        ("p1", 0, "public", "1"), ("p1", 1, "private", "2"),
        ("p2", 0, "public", "a"), ("p2", 1, "private", "c"), ("p2", 2, "private", "b")]
