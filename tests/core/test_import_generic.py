"""Generic table import: mapping over CSV / JSON lines / Parquet, skip rules, and failures that leave the study unchanged."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import duckdb
import pytest

from monoscope.cli import main as cli_main
from monoscope.core.errors import ImportFailed
from monoscope.core.importers import MAX_TEXT_BYTES, ColumnMap, import_table
from monoscope.core.store import Study, content_hash

MAP = ColumnMap.parse("key=book_id,title=book_title,text=review_text,label=label,rating=stars")

ROWS = [
    # book_id, book_title, review_text, label, stars
    ("b1", "First Book", "Loved it, \"truly\" a gem.", "positive", "5"),
    ("b1", "First Book", "Too long.\nSecond line.", "negative", "2"),
    ("b1", "First Book", "Loved it, \"truly\" a gem.", "positive", "5"),  # duplicate
    ("b2", "Second Book", "   ", "neutral", "3"),  # whitespace only: skipped
    ("b2", "Second Book", "Fine.", "neutral", ""),
    ("b3", "", "No title given.", "", "4"),
]


def _csv_field(v: str) -> str:
    return '"' + v.replace('"', '""') + '"'


def write_csv(path: Path, rows: list[tuple[str, ...]] = ROWS,
              header: str = "book_id,book_title,review_text,label,stars") -> Path:
    lines = [header] + [",".join(_csv_field(v) for v in r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_jsonl(path: Path) -> Path:
    keys = ("book_id", "book_title", "review_text", "label", "stars")
    with path.open("w", encoding="utf-8") as fh:
        for r in ROWS:
            d = dict(zip(keys, r, strict=True))
            d["stars"] = int(d["stars"]) if d["stars"] else None
            fh.write(json.dumps(d) + "\n")
    return path


def write_parquet(path: Path, csv_path: Path) -> Path:
    con = duckdb.connect()
    con.execute(f"COPY (SELECT * FROM read_csv('{csv_path}', all_varchar=true)) TO '{path}' (FORMAT parquet)")
    con.close()
    return path


def check_happy(study: Study, name: str) -> None:
    prompts = study.query(
        "SELECT p.key, p.title, count(t.id) AS n FROM prompts p JOIN texts t ON t.prompt_id = p.id "
        "JOIN datasets d ON d.id = p.dataset_id WHERE d.name = ? GROUP BY ALL ORDER BY p.key", [name])
    assert [(p["key"], p["title"], p["n"]) for p in prompts] == [
        ("b1", "First Book", 2), ("b2", "Second Book", 1), ("b3", "b3", 1)]
    texts = study.query(
        "SELECT t.* FROM texts t JOIN prompts p ON p.id = t.prompt_id WHERE p.key = 'b1' "
        "AND p.dataset_id = (SELECT id FROM datasets WHERE name = ?) ORDER BY sample_index", [name])
    assert [t["sample_index"] for t in texts] == [0, 1]
    assert texts[0]["body"] == ROWS[0][2]
    assert texts[1]["body"] == "Too long.\nSecond line."
    assert texts[0]["label"] == "positive" and texts[0]["rating"] == 5.0
    assert all(t["origin"] == "source" and t["run_id"] is None for t in texts)
    assert all(t["content_hash"] == content_hash(t["body"]) for t in texts)


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet", "csv.gz"])
def test_import_happy_paths(study: Study, tmp_path: Path, fmt: str) -> None:
    src = write_csv(tmp_path / "reviews.csv")
    if fmt == "jsonl":
        src = write_jsonl(tmp_path / "reviews.jsonl")
    elif fmt == "parquet":
        src = write_parquet(tmp_path / "reviews.parquet", src)
    elif fmt == "csv.gz":
        gz = tmp_path / "reviews.csv.gz"
        gz.write_bytes(gzip.compress(src.read_bytes()))
        src = gz
    report = import_table(study, src, dataset="books", mapping=MAP)
    assert (report.prompts, report.texts) == (3, 4)
    assert (report.skipped_empty, report.duplicates, report.oversized) == (1, 1, 0)
    assert report.rows_read == len(ROWS)
    check_happy(study, "books")
    meta = json.loads(study.scalar("SELECT meta FROM datasets WHERE name = 'books'"))
    assert meta["mapping"]["key"] == "book_id"


def test_refuses_existing_dataset_then_appends_without_duplicates(study: Study, tmp_path: Path) -> None:
    src = write_csv(tmp_path / "reviews.csv")
    import_table(study, src, dataset="books", mapping=MAP)
    before = study.table_counts()
    with pytest.raises(ImportFailed, match=r"already has a dataset named 'books'.*--append"):
        import_table(study, src, dataset="books", mapping=MAP)
    assert study.table_counts() == before
    more = write_csv(tmp_path / "more.csv", [ROWS[0], ("b1", "First Book", "A new view.", "", "3"),
                                             ("b9", "Ninth", "Fresh key.", "", "1")])
    report = import_table(study, more, dataset="books", mapping=MAP, append=True)
    assert (report.texts, report.duplicates, report.new_prompts, report.prompts) == (2, 1, 1, 4)
    idx = study.query("SELECT t.sample_index, t.body FROM texts t JOIN prompts p ON p.id = t.prompt_id "
                      "WHERE p.key = 'b1' ORDER BY t.sample_index")
    assert [r["sample_index"] for r in idx] == [0, 1, 2] and idx[2]["body"] == "A new view."


def test_oversized_texts_are_skipped_and_counted(study: Study, tmp_path: Path) -> None:
    big = "word " * (MAX_TEXT_BYTES // 5 + 10)
    src = write_csv(tmp_path / "big.csv", [("k", "K", big, "", ""), ("k", "K", "small", "", "")])
    report = import_table(study, src, dataset="big", mapping=MAP)
    assert (report.texts, report.oversized) == (1, 1)


def test_latin1_with_encoding_option(study: Study, tmp_path: Path) -> None:
    src = tmp_path / "latin.csv"
    src.write_bytes("book_id,review_text\nk,caf\xe9 au lait\n".encode("latin-1"))
    report = import_table(study, src, dataset="l", mapping=ColumnMap.parse("key=book_id,text=review_text"),
                          encoding="latin-1")
    assert report.texts == 1
    assert study.scalar("SELECT body FROM texts") == "café au lait"


# --- failures: message names the problem, the study is unchanged ---------------------------------

BAD_CASES = {
    "unterminated_quote": (
        b'book_id,review_text\nk1,"fine"\nk2,"never closed\nk3,other\n', r"line 3: .*unterminated quote"),
    "wrong_field_count": (
        b"book_id,review_text\nk1,fine\nk2,too,many\nk3,ok\n", r"line 3: the row has 3 fields but the header has 2"),
    "non_utf8": (
        b"book_id,review_text\nk1,fine\nk2,caf\xe9\n", r"line 3: byte 0xe9 is not UTF-8.*--encoding latin-1"),
    "empty_file": (b"", r"is empty"),
    "whitespace_file": (b"  \n\n", r"is empty"),
    "header_only": (b"book_id,review_text\n", r"no data rows"),
    "null_key": (
        b"book_id,review_text\nk1,fine\n,orphan text\n", r"line 3: the prompt key column 'book_id' is empty"),
    "missing_column": (
        b"bookid,review_text\nk1,fine\n", r"no column 'book_id'.*Did you mean 'bookid'.*Columns found: bookid, review_text"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_csv_fails_cleanly(study: Study, tmp_path: Path, case: str) -> None:
    data, pattern = BAD_CASES[case]
    good = write_csv(tmp_path / "good.csv")
    import_table(study, good, dataset="books", mapping=MAP)
    before = study.table_counts()
    src = tmp_path / f"{case}.csv"
    src.write_bytes(data)
    with pytest.raises(ImportFailed, match=pattern) as info:
        import_table(study, src, dataset="broken", mapping=ColumnMap.parse("key=book_id,text=review_text"))
    assert src.name in str(info.value)
    assert study.table_counts() == before
    assert study.scalar("SELECT count(*) FROM datasets WHERE name = 'broken'") == 0


JSONL_CASES = {
    "broken_line": (b'{"k": "a", "t": "x"}\n{"k": "b", "t": "y"\n{"k": "c", "t": "z"}\n', r"line 2: not valid JSON"),
    "non_utf8": (b'{"k": "a", "t": "x"}\n{"k": "b", "t": "caf\xe9"}\n', r"line 2: byte 0xe9 .* not UTF-8"),
    "null_key": (b'{"k": "a", "t": "x"}\n\n{"k": null, "t": "y"}\n', r"line 3: the prompt key column 'k' is empty"),
    "missing_column": (b'{"key": "a", "t": "x"}\n', r"no column 'k'.*Columns found: key, t"),
}


@pytest.mark.parametrize("case", sorted(JSONL_CASES))
def test_bad_jsonl_fails_cleanly(study: Study, tmp_path: Path, case: str) -> None:
    data, pattern = JSONL_CASES[case]
    before = study.table_counts()
    src = tmp_path / f"{case}.jsonl"
    src.write_bytes(data)
    with pytest.raises(ImportFailed, match=pattern):
        import_table(study, src, dataset="broken", mapping=ColumnMap.parse("key=k,text=t"))
    assert study.table_counts() == before


def test_not_a_parquet_file(study: Study, tmp_path: Path) -> None:
    src = tmp_path / "fake.parquet"
    src.write_bytes(b"this is not parquet at all")
    before = study.table_counts()
    with pytest.raises(ImportFailed, match="not a readable Parquet file"):
        import_table(study, src, dataset="p", mapping=ColumnMap.parse("key=a,text=b"))
    assert study.table_counts() == before


def test_rating_that_is_not_a_number(study: Study, tmp_path: Path) -> None:
    src = write_csv(tmp_path / "r.csv", [("k", "K", "text", "", "five")])
    with pytest.raises(ImportFailed, match=r"line 2: rating 'five' in column 'stars' is not a number"):
        import_table(study, src, dataset="r", mapping=MAP)
    assert study.scalar("SELECT count(*) FROM texts") == 0


@pytest.mark.parametrize("spec, pattern", [
    ("text=review_text", "needs key"), ("key=a,text=b,stars=c", "unknown role 'stars'"), ("key", "role=column")])
def test_bad_mapping_spec(spec: str, pattern: str) -> None:
    with pytest.raises(ImportFailed, match=pattern):
        ColumnMap.parse(spec)


def test_cli_exit_codes_and_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    study_file = tmp_path / "cli.duckdb"
    good = write_csv(tmp_path / "good.csv")
    argv = ["import", str(study_file), str(good), "--dataset", "books", "--map",
            "key=book_id,title=book_title,text=review_text,rating=stars"]
    assert cli_main(argv) == 0
    out = capsys.readouterr().out
    assert "texts written" in out and "duplicates skipped          1" in out
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"book_id,review_text\nk1,fine\nk2,caf\xe9\n")
    with Study(study_file) as st:
        before = st.table_counts()
    assert cli_main(["import", str(study_file), str(bad), "--dataset", "bad", "--map",
                     "key=book_id,text=review_text"]) == 1
    err = capsys.readouterr().err
    assert "line 3" in err and "not UTF-8" in err and "Traceback" not in err
    with Study(study_file) as st:
        assert st.table_counts() == before


def test_tsv_with_byte_order_mark(study: Study, tmp_path: Path) -> None:
    src = tmp_path / "excel.tsv"
    src.write_bytes("\ufeffid\tbody\nk1\tone, with a comma\nk1\ttwo\n".encode())
    report = import_table(study, src, dataset="t", mapping=ColumnMap.parse("key=id,text=body"))
    assert (report.prompts, report.texts) == (1, 2)
    assert study.scalar("SELECT body FROM texts ORDER BY sample_index LIMIT 1") == "one, with a comma"


def test_cancelled_import_changes_nothing(study: Study, tmp_path: Path) -> None:
    from monoscope.core.errors import TaskCancelled
    from monoscope.core.tasks import TaskState

    state = TaskState()
    state.cancel()
    before = study.table_counts()
    with pytest.raises(TaskCancelled):
        import_table(study, write_csv(tmp_path / "r.csv"), dataset="c", mapping=MAP, state=state)
    assert study.table_counts() == before


def test_large_import_keeps_file_order_across_row_groups(study: Study, tmp_path: Path) -> None:
    """130k rows (more than one DuckDB row group): each text gets its own row's prompt, body,
    hash, rating and sample index, and ids follow the file, with empties and duplicates dropped
    all along the file."""
    n = 130_000
    rows = []
    for i in range(n):
        body = "" if i % 997 == 0 else f"review {i // 3 if i % 5 == 0 else i}"  # empties, duplicates
        rows.append(f"k{i % 7},{body},{i % 5 + 1}")
    src = tmp_path / "big.csv"
    src.write_text("key,body,stars\n" + "\n".join(rows) + "\n", encoding="utf-8")
    report = import_table(study, src, dataset="big", mapping=ColumnMap.parse("key=key,text=body,rating=stars"))
    expected, seen, index = [], set(), {}
    for line in rows:
        key, body, stars = line.split(",")
        if not body or (key, body) in seen:
            continue
        seen.add((key, body))
        index[key] = index.get(key, -1) + 1
        expected.append((key, index[key], body, content_hash(body), float(stars)))
    assert report.rows_read == n
    assert (report.texts, report.skipped_empty) == (len(expected), sum(1 for i in range(n) if i % 997 == 0))
    assert report.duplicates == n - report.skipped_empty - len(expected) > 0
    got = study.query("SELECT p.key, t.sample_index, t.body, t.content_hash, t.rating FROM texts t "
                      "JOIN prompts p ON p.id = t.prompt_id ORDER BY t.id")
    assert [tuple(r.values()) for r in got] == expected


def test_rows_staged_out_of_order_are_written_in_row_order(study: Study) -> None:
    """An importer may fill the staging table in any order (the demos insert window results):
    the texts still get ids, and sample indexes, in row_no order."""
    from monoscope.core.importers.common import load_staged
    from monoscope.core.store import staging
    from monoscope.core.tasks import TaskState

    order = [5, 2, 8, 1, 7, 3, 6, 4]  # row_no as staged
    with staging.import_transaction(study) as stage:
        staging.create_stage_tables(stage)
        staging.add_stage_rows(stage, [(r, "ab"[r % 2], None, None, f"text {r}" if r != 6 else "text 2",
                                        None, float(r), None, None) for r in order])
        report = load_staged(stage, dataset="shuffled", kind="text", source_uri="test", meta={},
                             append=False, state=TaskState(), describe_row=str)
    assert (report.texts, report.duplicates) == (7, 1)  # row 6 repeats row 2 under key 'a'
    got = study.query("SELECT p.key, t.sample_index, t.body, t.rating FROM texts t "
                      "JOIN prompts p ON p.id = t.prompt_id ORDER BY t.id")
    assert [tuple(r.values()) for r in got] == [
        ("b", 0, "text 1", 1.0), ("a", 0, "text 2", 2.0), ("b", 1, "text 3", 3.0),
        ("a", 1, "text 4", 4.0), ("b", 2, "text 5", 5.0), ("b", 3, "text 7", 7.0),
        ("a", 2, "text 8", 8.0)]
    assert [r["key"] for r in study.query("SELECT key FROM prompts ORDER BY id")] == ["b", "a"]
