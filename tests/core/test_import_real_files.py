"""Real-world files (issue 13): every row imported, counted as skipped with its reason, or a clear error.

Each test writes its own file, imports it into a real study, and checks the exact rows stored.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import duckdb
import pytest

from monoscope.cli import main as cli_main
from monoscope.core.errors import ImportFailed
from monoscope.core.importers import ColumnMap, import_table
from monoscope.core.importers.readers import check_csv_rows
from monoscope.core.store import Study

MB = 1 << 20
FR = ColumnMap.parse("key=film,text=review")


def bodies(study: Study) -> list[tuple[str, str]]:
    return [(r["key"], r["body"]) for r in study.query(
        "SELECT p.key, t.body FROM texts t JOIN prompts p ON p.id = t.prompt_id ORDER BY t.id")]


@pytest.mark.parametrize("name, data", [
    ("pandas.csv", ",film,review\n0,A,good\n1,B,bad\n2,A,fine\n"),
    ("pandas.tsv", "\tfilm\treview\n0\tA\tgood\n1\tB\tbad\n2\tA\tfine\n"),
])
def test_pandas_index_column_is_named_and_ignored(study: Study, tmp_path: Path, name: str, data: str) -> None:
    src = tmp_path / name
    src.write_text(data, encoding="utf-8")
    report = import_table(study, src, dataset="films", mapping=FR)
    assert (report.rows_read, report.texts, report.prompts) == (3, 3, 2)
    assert bodies(study) == [("A", "good"), ("B", "bad"), ("A", "fine")]
    assert any("'column0'" in n for n in report.notes)
    # and the index column itself can be mapped by that name
    report = import_table(study, src, dataset="by-index", mapping=ColumnMap.parse("key=column0,text=review"))
    assert report.prompts == 3


@pytest.mark.parametrize("variant", ["plain", "quoted", "gzip"])
def test_50mb_last_row_is_counted_as_oversized_not_lost(study: Study, tmp_path: Path, variant: str) -> None:
    big = "x" * (50 * MB)
    src = tmp_path / "last.csv"
    src.write_text(f'film,review\nA,hello\nB,{chr(34) + big + chr(34) if variant == "quoted" else big}\n')
    if variant == "gzip":
        import gzip

        src = tmp_path / "last.csv.gz"
        src.write_bytes(gzip.compress((tmp_path / "last.csv").read_bytes(), 1))
    report = import_table(study, src, dataset="films", mapping=FR)
    assert (report.rows_read, report.texts, report.oversized) == (2, 1, 1)
    assert bodies(study) == [("A", "hello")]
    assert "oversized skipped           1" in "\n".join(report.lines())


def test_header_plus_one_oversized_row_is_not_no_data_rows(study: Study, tmp_path: Path) -> None:
    src = tmp_path / "one.csv"
    src.write_text("film,review\nB," + "y" * (50 * MB) + "\n")
    with pytest.raises(ImportFailed, match=r"1 data row\(s\) read but none can be imported .*1 with a text over 1 MB") as err:
        import_table(study, src, dataset="films", mapping=FR)
    assert "no data rows" not in str(err.value)
    assert study.scalar("SELECT count(*) FROM datasets") == 0


def test_3mb_field_imports_whole(study: Study, tmp_path: Path) -> None:
    plot = "plot " * (3 * MB // 5)
    src = tmp_path / "wide.csv"
    src.write_text(f'film,plot,review\nA,"{plot}",short review\nB,brief,"another, with comma"\n')
    report = import_table(study, src, dataset="films",
                          mapping=ColumnMap.parse("key=film,context=plot,text=review"))
    assert (report.rows_read, report.texts) == (2, 2)
    ctx = study.scalar("SELECT context FROM prompts WHERE key = 'A'")
    assert ctx == plot and len(ctx) == len(plot) >= 3_000_000
    assert bodies(study) == [("A", "short review"), ("B", "another, with comma")]


def test_50mb_line_without_delimiter_is_a_clear_error(study_path: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "nodelim.csv"
    src.write_text("film,review\nA,fine\n" + "z" * (50 * MB) + "\nC,end\n")
    code = cli_main(["import", str(study_path), str(src), "--dataset", "films", "--map", "key=film,text=review"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert "line 3: the row has 1 fields but the header has 2" in err
    with Study(study_path) as st:
        assert st.scalar("SELECT count(*) FROM texts") == 0 and st.scalar("SELECT count(*) FROM datasets") == 0


def test_huge_header_fails_fast(study: Study, tmp_path: Path) -> None:
    src = tmp_path / "wide_header.csv"
    src.write_bytes(b"c," * (25 * MB) + b"c\n1,2\n")  # 50 MB header, 25M columns
    t0 = time.perf_counter()
    with pytest.raises(ImportFailed, match=r"first line \(the header\) is longer than 1 MB"):
        import_table(study, src, dataset="w", mapping=FR)
    assert time.perf_counter() - t0 < 30  # was quadratic: never finished
    many = tmp_path / "many.csv"
    many.write_text(",".join(f"c{i}" for i in range(20_000)) + "\n" + ",".join("1" * 20_000) + "\n")
    with pytest.raises(ImportFailed, match=r"the header has 20,000 columns; Monoscope reads at most 10,000"):
        import_table(study, many, dataset="w", mapping=FR)
    dup = tmp_path / "dup.csv"
    dup.write_text("film,review,film\nA,b,c\n")
    with pytest.raises(ImportFailed, match="repeats the column"):
        import_table(study, dup, dataset="w", mapping=FR)
    assert study.table_counts()["texts"] == 0


def _nested_parquet(path: Path) -> Path:
    con = duckdb.connect()
    con.execute(
        f"""COPY (SELECT * FROM (VALUES
            ('A', {{'text': 'great film', 'score': 5}}, ['x', 'y'], 7),
            ('B', {{'text': 'dull film', 'score': 1}}, ['z'], 8)) v(film, review, tags, n))
        TO '{path}' (FORMAT parquet)""")
    con.close()
    return path


def test_parquet_struct_and_list_refused_nested_field_mapped(study: Study, tmp_path: Path) -> None:
    src = _nested_parquet(tmp_path / "nested.parquet")
    with pytest.raises(ImportFailed, match=r"column 'review' \(mapped to text\) holds STRUCT\(.*text=review\.text"):
        import_table(study, src, dataset="p", mapping=FR)
    with pytest.raises(ImportFailed, match=r"column 'tags' \(mapped to text\) holds VARCHAR\[\]"):
        import_table(study, src, dataset="p", mapping=ColumnMap.parse("key=film,text=tags"))
    with pytest.raises(ImportFailed, match=r"no column 'review\.body'"):
        import_table(study, src, dataset="p", mapping=ColumnMap.parse("key=film,text=review.body"))
    assert study.table_counts()["texts"] == 0
    report = import_table(study, src, dataset="p",
                          mapping=ColumnMap.parse("key=film,text=review.text,rating=review.score"))
    assert report.texts == 2
    assert bodies(study) == [("A", "great film"), ("B", "dull film")]
    assert study.query("SELECT rating FROM texts ORDER BY id") == [{"rating": 5.0}, {"rating": 1.0}]


def test_jsonl_nested_field(study: Study, tmp_path: Path) -> None:
    src = tmp_path / "n.jsonl"
    src.write_text("\n".join(json.dumps({"film": f, "review": {"text": t}}) for f, t in
                             [("A", "one"), ("B", "two")]) + "\n")
    import_table(study, src, dataset="j", mapping=ColumnMap.parse("key=film,text=review.text"))
    assert bodies(study) == [("A", "one"), ("B", "two")]


def test_all_number_text_column_warns(study: Study, tmp_path: Path) -> None:
    src = tmp_path / "nums.csv"
    src.write_text("film,review,stars\nA,good,5\nB,bad,1\nC,ok,3.5\n")
    report = import_table(study, src, dataset="n", mapping=ColumnMap.parse("key=film,text=stars"))
    assert any("every text in column 'stars' is a number" in n for n in report.notes)
    assert [b for _k, b in bodies(study)] == ["5", "1", "3.5"]
    pq = _nested_parquet(tmp_path / "n.parquet")
    report = import_table(study, pq, dataset="n2", mapping=ColumnMap.parse("key=film,text=n"))
    assert any("holds numbers (INTEGER)" in n for n in report.notes)


HTML_ROWS = [
    ("A", "It&#039;s great &amp; fun.<br /><br />See it."),
    ("A", "Tom &quot;the cat&quot; &lt;3"),
    ("B", "Plain text, nothing to decode."),
]


def _html_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("film,review\n" + "".join(f'{k},"{b.replace(chr(34), chr(34) * 2)}"\n' for k, b in rows))
    return path


def test_html_entities_decoded_and_reported(study: Study, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _html_csv(tmp_path / "html.csv", HTML_ROWS)
    report = import_table(study, src, dataset="h", mapping=FR)
    assert bodies(study) == [("A", "It's great & fun.\n\nSee it."), ("A", 'Tom "the cat" <3'),
                             ("B", "Plain text, nothing to decode.")]
    assert any("holds escaped HTML" in n and "2 values" in n for n in report.notes)
    meta = json.loads(study.scalar("SELECT meta FROM datasets WHERE name = 'h'"))
    assert meta["html_decoded"] == {"review": 2}
    report = import_table(study, src, dataset="raw", mapping=FR, html="keep")
    raw = study.query("SELECT t.body FROM texts t JOIN prompts p ON p.id = t.prompt_id "
                      "JOIN datasets d ON d.id = p.dataset_id WHERE d.name = 'raw' ORDER BY t.id")
    assert [r["body"] for r in raw] == [b for _k, b in HTML_ROWS]
    assert not any("HTML" in n for n in report.notes)
    code = cli_main(["import", str(study.path.with_name("cli.duckdb")), str(src), "--dataset", "h",
                     "--map", "key=film,text=review"])
    assert code == 0 and "note: column 'review' holds escaped HTML" in capsys.readouterr().out


def test_a_lone_entity_is_not_escaped_html(study: Study, tmp_path: Path) -> None:
    rows = [("A", "AT&amp;T wrote this")] + [("B", f"plain review {i}") for i in range(300)]
    import_table(study, _html_csv(tmp_path / "lone.csv", rows), dataset="l", mapping=FR)
    assert bodies(study)[0] == ("A", "AT&amp;T wrote this")


def test_row_count_cross_check(tmp_path: Path) -> None:
    src = tmp_path / "multi.csv"
    src.write_text('film,review\nA,"two\nlines"\n\nB,plain\n')
    check_csv_rows(src, "utf-8", 2)  # 5 lines, 2 records: the exact count agrees
    with pytest.raises(ImportFailed, match=r"DuckDB read 1 rows but the file holds 2 records.*nothing was imported"):
        check_csv_rows(src, "utf-8", 1)
