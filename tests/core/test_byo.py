"""Bring your own: attributes and generations from CSV / Parquet files made in the test."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from monoscope.cli import main as cli_main
from monoscope.core.errors import ImportFailed
from monoscope.core.importers.byo import import_attributes, import_generations, parse_mapping
from monoscope.core.store import Study, content_hash
from monoscope.testing import raw_connection


def _films(study: Study) -> None:
    con = raw_connection(study)
    con.execute("INSERT INTO datasets (name, kind) VALUES ('films', 'text')")
    ds = study.dataset_id("films")
    for key in ("m1", "m2"):
        con.execute("INSERT INTO prompts (dataset_id, key, title) VALUES (?, ?, ?)", [ds, key, key])
    for key in ("m1", "m2"):
        pid = study.scalar("SELECT id FROM prompts WHERE key = ?", [key])
        for i in range(2):
            body = f"human review {i} of {key}"
            con.execute(
                "INSERT INTO texts (prompt_id, origin, sample_index, body, content_hash) "
                "VALUES (?, 'source', ?, ?, ?)",
                [pid, i, body, content_hash(body)],
            )


def _write_csv(path: Path, rows: list[dict[str, object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


GEN_ROWS = [
    {"movie": "m1", "output": "A dazzling film.", "i": 0, "ppl": 3.5, "tokens": 4},
    {"movie": "m1", "output": "A dazzling film!", "i": 1, "ppl": 4.0, "tokens": 4},
    {"movie": "m2", "output": "Dull and long.", "i": 0, "ppl": "", "tokens": 3},
]


def test_import_generations_from_parquet_makes_an_imported_run(
    study: Study, tmp_path: Path
) -> None:
    _films(study)
    path = tmp_path / "gens.parquet"
    pq.write_table(
        pa.table({
            "movie": [r["movie"] for r in GEN_ROWS],
            "output": [r["output"] for r in GEN_ROWS],
            "i": [r["i"] for r in GEN_ROWS],
            "ppl": [3.5, 4.0, None],
            "tokens": [4, 4, 3],
        }),
        path,
    )  # fmt: skip
    mapping = parse_mapping("key=movie,text=output,sample=i,perplexity=ppl,n_tokens=tokens")
    rep = import_generations(
        study, path, "films", "vllm-llama3", "Llama-3-8B-Instruct",
        params={"temperature": 1.0, "top_p": 0.95}, mapping=mapping,
    )  # fmt: skip
    assert rep.written == 3 and rep.prompts == 2
    run = study.query("SELECT * FROM runs WHERE id = ?", [rep.run_id])[0]
    assert run["status"] == "imported" and run["engine"] == "external"
    assert run["label"] == "vllm-llama3" and run["n_per_prompt"] == 2
    assert json.loads(run["sampling"]) == {"temperature": 1.0, "top_p": 0.95}
    model = study.query("SELECT name FROM models WHERE id = ?", [run["model_id"]])[0]
    assert model["name"] == "Llama-3-8B-Instruct"
    gens = study.query(
        "SELECT p.key, g.sample_index, g.perplexity, g.n_tokens, t.body, t.origin, t.content_hash "
        "FROM generations g JOIN texts t ON t.id = g.text_id JOIN prompts p ON p.id = g.prompt_id "
        "WHERE g.run_id = ? ORDER BY p.key, g.sample_index",
        [rep.run_id],
    )
    assert [(g["key"], g["sample_index"]) for g in gens] == [("m1", 0), ("m1", 1), ("m2", 0)]
    assert [g["perplexity"] for g in gens] == [3.5, 4.0, None]
    assert gens[2]["n_tokens"] == 3 and gens[0]["origin"] == "generated"
    assert gens[0]["content_hash"] == content_hash("A dazzling film.")


def test_import_generations_numbers_samples_and_refuses_clashes(
    study: Study, tmp_path: Path
) -> None:
    _films(study)
    rows = [{"key": r["movie"], "text": r["output"]} for r in GEN_ROWS]
    path = _write_csv(tmp_path / "g.csv", rows)
    rep = import_generations(study, path, "films", "ext", "m")
    idx = study.query(
        "SELECT sample_index FROM generations WHERE run_id = ? ORDER BY text_id", [rep.run_id]
    )
    assert [r["sample_index"] for r in idx] == [0, 1, 0]
    with pytest.raises(ImportFailed, match="already has a run labelled 'ext'"):
        import_generations(study, path, "films", "ext", "m")


def test_import_generations_errors_name_file_line_and_column(study: Study, tmp_path: Path) -> None:
    _films(study)
    before = study.table_counts()
    bad_key = _write_csv(tmp_path / "bad.csv", [
        {"key": "m1", "text": "ok"}, {"key": "nope", "text": "x"},
    ])  # fmt: skip
    with pytest.raises(ImportFailed, match=r"bad\.csv, line 3, column 'key': no prompt"):
        import_generations(study, bad_key, "films", "r1", "m")
    no_text = _write_csv(tmp_path / "cols.csv", [{"key": "m1", "review": "x"}])
    with pytest.raises(ImportFailed, match=r"no column for 'text'.*Columns found: key, review"):
        import_generations(study, no_text, "films", "r2", "m")
    bad_num = _write_csv(tmp_path / "num.csv", [{"key": "m1", "text": "x", "ppl": "high"}])
    with pytest.raises(ImportFailed, match=r"line 2, column 'ppl': not a number"):
        import_generations(study, bad_num, "films", "r3", "m")
    dup = _write_csv(tmp_path / "dup.csv", [
        {"key": "m1", "text": "a", "sample": 0}, {"key": "m1", "text": "b", "sample": 0},
    ])  # fmt: skip
    with pytest.raises(ImportFailed, match="same prompt key and sample index"):
        import_generations(study, dup, "films", "r4", "m")
    assert study.table_counts() == before  # every failure left the study unchanged


def test_import_attributes_by_key_and_by_text_id(study: Study, tmp_path: Path) -> None:
    _films(study)
    gens = _write_csv(
        tmp_path / "g.csv", [{"key": r["movie"], "text": r["output"]} for r in GEN_ROWS]
    )
    run = import_generations(study, gens, "films", "ext", "m")
    rows = [
        {"dataset": "films", "prompt": "m1", "run": "source", "sample": 1, "name": "my.score", "value": 0.25, "label": ""},
        {"dataset": "films", "prompt": "m1", "run": "ext", "sample": 0, "name": "my.score", "value": 0.9, "label": "POSITIVE"},
        {"dataset": "films", "prompt": "m2", "run": "ext", "sample": 0, "name": "my.tag", "value": "", "label": "dull"},
    ]  # fmt: skip
    rep = import_attributes(study, _write_csv(tmp_path / "a.csv", rows), version="v-test")
    assert rep.written == 3 and rep.names == ["my.score", "my.tag"]
    got = study.query(
        "SELECT p.key, t.origin, t.sample_index, a.name, a.value, a.label, a.version "
        "FROM attributes a JOIN texts t ON t.id = a.text_id JOIN prompts p ON p.id = t.prompt_id "
        "ORDER BY a.name, p.key, t.origin"
    )
    assert [(g["key"], g["origin"], g["sample_index"], g["name"], g["value"], g["label"]) for g in got] == [
        ("m1", "generated", 0, "my.score", 0.9, "POSITIVE"),
        ("m1", "source", 1, "my.score", 0.25, None),
        ("m2", "generated", 0, "my.tag", None, "dull"),
    ]  # fmt: skip
    assert {g["version"] for g in got} == {"v-test"}
    tid = int(study.scalar(
        "SELECT text_id FROM generations WHERE run_id = ? AND sample_index = 1", [run.run_id]))  # fmt: skip
    path = tmp_path / "ids.parquet"
    pq.write_table(pa.table({"tid": [tid], "attr": ["my.score"], "score": [0.5]}), path)
    import_attributes(study, path, mapping={"text_id": "tid", "name": "attr", "value": "score"})
    assert study.scalar(
        "SELECT value FROM attributes WHERE text_id = ? AND name = 'my.score'", [tid]) == 0.5  # fmt: skip


def test_import_attributes_errors_leave_study_unchanged(study: Study, tmp_path: Path) -> None:
    _films(study)
    ok = {"key": "m1", "sample": 0, "name": "x", "value": 1}
    cases = [
        ([ok, {**ok, "key": "m9"}], r"line 3, column 'key': no text for this dataset"),
        ([ok, {**ok, "sample": 0}], "more than one row"),
        ([{**ok, "value": "abc"}], r"line 2, column 'value': not a number"),
        ([{**ok, "name": ""}], "empty attribute name"),
        ([{**ok, "value": ""}], "neither a value nor a label"),
    ]
    before = study.table_counts()
    for i, (rows, message) in enumerate(cases):
        with pytest.raises(ImportFailed, match=message):
            import_attributes(study, _write_csv(tmp_path / f"bad{i}.csv", rows))
    with pytest.raises(
        ImportFailed, match=r"no column for 'name'.*Columns found: key, sample, value"
    ):
        import_attributes(
            study, _write_csv(tmp_path / "n.csv", [{"key": "m1", "sample": 0, "value": 1}])
        )
    with pytest.raises(ImportFailed, match="Unknown role"):
        import_attributes(study, _write_csv(tmp_path / "r.csv", [ok]), mapping={"bogus": "key"})
    assert study.table_counts() == before


def test_cli_import_generations_and_attributes(study_path: Path, tmp_path: Path) -> None:
    with Study(study_path) as st:
        _films(st)
    gens = _write_csv(tmp_path / "g.csv", GEN_ROWS)
    rc = cli_main([
        "import-generations", str(study_path), str(gens), "--dataset", "films",
        "--label", "vllm-llama3", "--model", "Llama-3", "--temperature", "0.7", "--top-p", "0.9",
        "--map", "key=movie,text=output,sample=i,perplexity=ppl",
    ])  # fmt: skip
    assert rc == 0
    attrs = _write_csv(tmp_path / "a.csv", [
        {"key": "m2", "run": "vllm-llama3", "sample": 0, "name": "judge", "label": "neg"},
    ])  # fmt: skip
    assert cli_main(["import-attributes", str(study_path), str(attrs), "--dataset", "films"]) == 0
    assert cli_main(["import-attributes", str(study_path), str(tmp_path / "missing.csv")]) == 1
    with Study(study_path) as st:
        run = st.query("SELECT sampling, status FROM runs WHERE label = 'vllm-llama3'")[0]
        assert json.loads(run["sampling"]) == {"temperature": 0.7, "top_p": 0.9}
        assert st.scalar("SELECT label FROM attributes WHERE name = 'judge'") == "neg"
