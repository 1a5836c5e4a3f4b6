"""Goodreads and CodeContests importers on small fixture files (tests/fixtures/make_import_fixtures.py)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from monoscope.cli import main as cli_main
from monoscope.core.errors import ImportFailed
from monoscope.core.importers import (
    CodeContestsOptions,
    GoodreadsOptions,
    import_codecontests,
    import_goodreads,
)
from monoscope.core.store import Study

FIX = Path(__file__).resolve().parent.parent / "fixtures"
REVIEWS = FIX / "goodreads_reviews_sample.json.gz"
BOOKS = FIX / "goodreads_books_sample.json.gz"


def _fixture_reviews() -> list[dict[str, object]]:
    with gzip.open(REVIEWS, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def test_goodreads_paper_filter(study: Study) -> None:
    report = import_goodreads(study, REVIEWS, books=BOOKS)
    # Expected from the fixture itself: books with >= 10 distinct reviews of 300-700 words.
    rows = _fixture_reviews()
    fit: dict[str, set[str]] = {}
    for r in rows:
        words = len(str(r["review_text"]).split())
        if 300 <= words <= 700:
            fit.setdefault(str(r["book_id"]), set()).add(str(r["review_text"]))
    eligible = {b: len(v) for b, v in fit.items() if len(v) >= 10}
    assert set(eligible) == {"1001", "1002", "1004"}
    assert report.prompts == len(eligible)
    assert report.texts == sum(min(10, n) for n in eligible.values())
    assert report.duplicates == 1  # the fixture repeats one review of book 1004
    prompts = {p["key"]: p for p in study.query("SELECT * FROM prompts")}
    assert prompts["1001"]["title"] == "The Long Road"
    assert prompts["1001"]["context"] == "A walk across a country."
    assert prompts["1004"]["context"] is None  # empty description
    texts = study.query("SELECT t.*, p.key FROM texts t JOIN prompts p ON p.id = t.prompt_id")
    for t in texts:
        assert 300 <= len(t["body"].split()) <= 700
        expected = (None if t["rating"] is None else "positive" if t["rating"] >= 4
                    else "negative" if t["rating"] <= 2 else "neutral")
        assert t["label"] == expected
        assert t["rating"] != 0  # Goodreads 0 = unrated -> NULL
    by_book: dict[str, list[int]] = {}
    for t in texts:
        by_book.setdefault(t["key"], []).append(t["sample_index"])
    assert all(sorted(v) == list(range(len(v))) for v in by_book.values())


def test_goodreads_sampling_is_seeded(tmp_path: Path) -> None:
    picks = []
    for seed in (1, 1, 2):
        with Study(tmp_path / f"s{len(picks)}.duckdb") as st:
            import_goodreads(st, REVIEWS, options=GoodreadsOptions(per_book=3, max_books=2, seed=seed))
            picks.append(sorted(r["meta"] for r in st.query("SELECT meta FROM texts")))
            assert st.scalar("SELECT count(*) FROM prompts") == 2
            assert st.scalar("SELECT count(*) FROM texts") == 6
    assert picks[0] == picks[1]
    assert picks[0] != picks[2]


def test_goodreads_rejects_a_books_file_as_reviews(study: Study) -> None:
    before = study.table_counts()
    with pytest.raises(ImportFailed, match=r"no 'review_text' field.*--books"):
        import_goodreads(study, BOOKS)
    assert study.table_counts() == before


def test_goodreads_missing_book_id_names_the_line(study: Study, tmp_path: Path) -> None:
    bad = tmp_path / "goodreads_reviews_bad.json.gz"
    lines = [json.dumps(r) for r in _fixture_reviews()[:5]]
    lines.insert(3, json.dumps({"review_id": "x", "review_text": "orphan", "rating": 3}))
    bad.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    with pytest.raises(ImportFailed, match=r"line 4: the review has no book_id"):
        import_goodreads(study, bad)
    assert study.scalar("SELECT count(*) FROM texts") == 0


@pytest.mark.parametrize("name", ["codecontests_sample.parquet", "codecontests_sample.jsonl"])
def test_codecontests(study: Study, name: str) -> None:
    report = import_codecontests(study, FIX / name)
    # add-two has 5 Python 3 solutions (>= 4); max-of-list 2; py2-only has Python 2 only.
    assert (report.prompts, report.texts, report.tests) == (1, 5, 3)
    assert study.scalar("SELECT kind FROM datasets") == "code"
    p = study.query("SELECT * FROM prompts")[0]
    assert p["key"] == "add-two" and p["context"].startswith("Read two integers")
    assert json.loads(p["meta"])["cf_tags"] == ["math", "implementation"]
    tests = study.query("SELECT idx, kind, input, output FROM prompt_tests ORDER BY idx")
    assert [(t["idx"], t["kind"]) for t in tests] == [(0, "public"), (1, "public"), (2, "private")]
    assert tests[2]["input"] == "100 -1\n" and tests[2]["output"] == "99\n"
    bodies = [r["body"] for r in study.query("SELECT body FROM texts")]
    assert not any("#include" in b for b in bodies)


def test_codecontests_options(study: Study) -> None:
    opt = CodeContestsOptions(min_solutions=2, per_problem=1)
    report = import_codecontests(study, FIX / "codecontests_sample.parquet", options=opt)
    assert (report.prompts, report.texts) == (2, 2)
    assert report.tests == 4
    before = study.table_counts()
    with pytest.raises(ImportFailed, match="already has a dataset named 'codecontests'"):
        import_codecontests(study, FIX / "codecontests_sample.parquet", options=opt)
    assert study.table_counts() == before


def test_codecontests_wrong_file(study: Study, tmp_path: Path) -> None:
    src = tmp_path / "other.jsonl"
    src.write_text('{"name": "x", "text": "y"}\n')
    with pytest.raises(ImportFailed, match="no column 'description'"):
        import_codecontests(study, src)
    assert study.scalar("SELECT count(*) FROM datasets") == 0


def test_cli_goodreads_and_codecontests(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "cli.duckdb")
    assert cli_main(["import-goodreads", db, str(REVIEWS), "--books", str(BOOKS), "--per-book", "4"]) == 0
    assert cli_main(["import-codecontests", db, str(FIX / "codecontests_sample.parquet")]) == 0
    out = capsys.readouterr().out
    assert "dataset 'goodreads'" in out and "dataset 'codecontests'" in out
    assert cli_main(["import-goodreads", db, str(BOOKS), "--dataset", "g2"]) == 1
    assert "review_text" in capsys.readouterr().err
