"""Commands run through the real command line (`monoscope.cli.main`) on real study files:
init, project, run-code against a prompt's tests and a whole (smallest) replication."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from analysis_fixture import Row, build, clustered

from monoscope.cli import main
from monoscope.core.store import SCHEMA_VERSION, Study
from monoscope.core.store.study import migrations
from monoscope.testing import raw_connection

MINILM = {"model": "all-MiniLM-L6-v2", "backend": "torch"}


def test_init_creates_then_leaves_a_study(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "new.duckdb"
    assert main(["init", str(path)]) == 0
    assert capsys.readouterr().out.strip() == (
        f"study {path}: schema {SCHEMA_VERSION} (current {SCHEMA_VERSION})")
    with Study(path, read_only=True, create=False) as st:
        assert [r["version"] for r in st.query(
            "SELECT version FROM schema_migrations ORDER BY 1")] == [m[0] for m in migrations()]
        assert st.scalar("SELECT count(*) FROM information_schema.tables "
                         "WHERE table_name IN ('datasets', 'texts', 'runs')") == 3
    with Study(path) as st:
        st.write("INSERT INTO datasets (name, kind) VALUES ('kept', 'text')")
    assert main(["init", str(path)]) == 0  # a second init changes nothing
    with Study(path, read_only=True, create=False) as st:
        assert st.scalar("SELECT name FROM datasets") == "kept"
    bad = tmp_path / "notes.duckdb"
    bad.write_text("not a database")
    assert main(["init", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "notes.duckdb" in err and "Traceback" not in err
    assert bad.read_text() == "not a database"


def test_project_command_stores_pca_maps_per_prompt(study_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    with Study(study_path) as st:
        build(st, clustered(2, 8, 3, {"r": 0.3}), **MINILM)  # 8 source texts each: PCA
    assert main(["project", str(study_path), "--scope", "prompts", "--method", "pca"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and all("pca" in ln and "fitted" in ln for ln in lines)
    assert all("11 points" in ln and "(3 placed now)" in ln for ln in lines)
    with Study(study_path, read_only=True, create=False) as st:
        (proj,) = st.query("SELECT p.id FROM projections p JOIN prompts q "
                           "ON p.scope = 'prompt:' || q.key WHERE q.key = 'p01'")
        pts = st.query(
            "SELECT t.id, t.origin, e.vector, pp.x, pp.y FROM projection_points pp "
            "JOIN texts t ON t.id = pp.text_id JOIN embeddings e USING (content_hash) "
            "WHERE pp.projection_id = ? ORDER BY t.id", [proj["id"]])
    # by hand: the top-2 principal axes of the prompt's 8 human vectors; generated texts are
    # placed on the same axes (signs of axes are arbitrary)
    x = np.array([r["vector"] for r in pts], dtype=np.float64)
    src = np.array([r["origin"] == "source" for r in pts])
    mean = x[src].mean(axis=0)
    axes = np.linalg.svd(x[src] - mean, full_matrices=False)[2][:2]
    want = (x - mean) @ axes.T
    got = np.array([[r["x"], r["y"]] for r in pts])
    assert src.sum() == 8 and (~src).sum() == 3
    for k in range(2):
        sign = np.sign(got[0, k] * want[0, k])
        assert np.allclose(got[:, k], sign * want[:, k], atol=1e-4)
    assert main(["project", str(study_path), "--scope", "prompts", "--method", "pca"]) == 0
    assert all("reused" in ln and "(0 placed now)" in ln
               for ln in capsys.readouterr().out.strip().splitlines())


DOUBLE = "n = int(input())\nprint(n * 2)\n"


def test_run_code_against_a_prompts_tests(study_path: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    with Study(study_path) as st:
        con = raw_connection(st)
        con.execute("INSERT INTO datasets (name, kind) VALUES ('algos', 'code')")
        con.execute("INSERT INTO prompts (dataset_id, key, title) VALUES (1, 'double', 'D')")
        for i, (inp, out) in enumerate([("2", "4"), ("5", "10"), ("21\n", "42\n")]):
            con.execute("INSERT INTO prompt_tests VALUES (1, ?, 'public', ?, ?)", [i, inp, out])
    good, wrong = tmp_path / "good.py", tmp_path / "wrong.md"
    good.write_text(DOUBLE)
    wrong.write_text("My answer:\n```python\nn = int(input())\nprint(n + 2)\n```\n")
    args = ["--study", str(study_path), "--dataset", "algos", "--prompt", "double"]
    assert main(["run-code", str(good), *args]) == 0
    out = capsys.readouterr()
    rows = [json.loads(ln) for ln in out.out.splitlines()]
    assert [(r["test"], r["status"], r["isolation"]) for r in rows] == [
        (0, "pass", "bwrap"), (1, "pass", "bwrap"), (2, "pass", "bwrap")]
    assert "pass: 100% of 3 passed" in out.err
    assert main(["run-code", str(wrong), *args]) == 1  # 2 + 2 == 2 * 2: one test of three
    out = capsys.readouterr()
    assert [json.loads(ln)["status"] for ln in out.out.splitlines()] == ["pass", "fail", "fail"]
    assert "fail: 33% of 3 passed" in out.err
    assert main(["run-code", str(good), "--study", str(study_path), "--dataset", "algos",
                 "--prompt", "nope"]) == 1
    assert "has no tests" in capsys.readouterr().err


REVIEWS = {
    "a": ["A warm, funny film; I loved every minute.", "Dull and far too long.",
          "Beautifully shot, with a moving lead performance.", "The plot made no sense at all.",
          "A delight for the whole family.", "I walked out halfway through."],
    "b": ["Gripping from start to finish.", "Clumsy dialogue and wooden acting.",
          "A clever, surprising thriller.", "Forgettable in every way.",
          "The best film of the year.", "An insult to the original."],
}


@pytest.mark.slow
def test_replicate_reviews_smallest_run_end_to_end(study_path: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """The quick preset cut to one prompt, two samples of eight tokens, SmolLM2 only: five
    real runs, real annotation, measures, tables and the HTML report."""
    with Study(study_path) as st:
        build(st, [Row(k, body) for k, bodies in REVIEWS.items() for body in bodies])
    out = tmp_path / "report"
    code = main(["replicate", "reviews", str(study_path), "--dataset", "films", "--model",
                 "smollm2", "--prompts", "1", "--n", "2", "--max-tokens", "8", "--no-decay",
                 "--out", str(out), "--yes", "--quiet"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "10 samples to generate" in printed and "generated 10 new samples" in printed
    assert f"report: {out}" in printed
    assert "<title>Replication: films" in (out / "replication.html").read_text()
    assert {"figure1_sentiment.png", "figure1_cosine.png"} <= {p.name for p in out.iterdir()}
    saved = json.loads((out / "replication.json").read_text())
    assert saved["prompts"] == ["a"]
    with Study(study_path, read_only=True, create=False) as st:
        runs = st.query("SELECT id, status FROM runs ORDER BY id")
        assert len(runs) == 5 and {r["status"] for r in runs} == {"finished"}
        assert sorted(saved["run_ids"]) == [r["id"] for r in runs]
        per_run = st.query("SELECT run_id, count(*) AS n, min(p.key) AS k FROM texts t "
                           "JOIN prompts p ON p.id = t.prompt_id WHERE t.origin = 'generated' "
                           "GROUP BY run_id ORDER BY run_id")
        assert [(r["n"], r["k"]) for r in per_run] == [(2, "a")] * 5
        # every text of the replicated prompt carries its sentiment and an embedding
        assert st.scalar(
            "SELECT count(*) FROM texts t JOIN prompts p ON p.id = t.prompt_id "
            "WHERE p.key = 'a' AND NOT EXISTS (SELECT 1 FROM attributes a WHERE "
            "a.text_id = t.id AND a.name = 'sentiment.vader')") == 0
        assert st.scalar("SELECT count(*) FROM measure_sets") >= 1
    # run again: everything is reused, nothing generated
    assert main(["replicate", "reviews", str(study_path), "--dataset", "films", "--model",
                 "smollm2", "--prompts", "1", "--n", "2", "--max-tokens", "8", "--no-decay",
                 "--out", str(out), "--yes", "--quiet"]) == 0
    again = capsys.readouterr().out
    assert "0 samples to generate" in again and "generated 0 new samples" in again


def _tiny_reviews(path: Path) -> Path:
    """The films demo's file format (category, text, movie_name, has_plot_and_reviews) with two
    films of 30 snippets each, the fewest the demo takes as prompts."""
    import bz2
    import csv

    words = ["kind", "dull", "joyful", "long", "lovely", "flat", "sharp", "tense", "witty", "noisy"]
    with bz2.open(path, "wt", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["category", "text", "movie_name", "has_plot_and_reviews"])
        for film in ("dragon_film", "cop_film"):
            w.writerow(["plot", f"The plot of {film}.", film, "True"])
            for i in range(30):
                w.writerow(["fresh" if i % 2 else "rotten",
                            f"{film} review {i}: {words[i % 10]} and {words[i * 3 % 10]}.",
                            film, "True"])
    return path


@pytest.mark.slow
def test_headless_demo_on_the_smallest_inputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """`monoscope demo --headless --no-generate` with a two-film reviews file: both demos
    imported, annotated, projected and measured, the report and three screenshots written;
    a second call does no repeated work."""
    monkeypatch.setenv("MONOSCOPE_ASSET_ROTTEN_TOMATOES",
                       str(_tiny_reviews(tmp_path / "rt.csv.bz2")))
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    out = tmp_path / "demo"
    args = ["demo", "--dir", str(out), "--no-generate", "--headless"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "import films: 60 texts" in printed and "project films: 2 maps" in printed
    assert (out / "report" / "index.html").is_file()
    for view in ("map", "overview", "compare"):
        png = out / "screenshots" / f"{view}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", view
    with Study(out / "demo.duckdb", read_only=True, create=False) as st:
        assert [r["name"] for r in st.query("SELECT name FROM datasets ORDER BY id")] == [
            "films", "algorithms"]
        films = st.dataset_id("films")
        assert st.scalar("SELECT count(*) FROM prompts WHERE dataset_id = ?", [films]) == 2
        # every film snippet has its embedding and its VADER sentiment
        assert st.scalar(
            "SELECT count(*) FROM texts t JOIN prompts p ON p.id = t.prompt_id "
            "JOIN embeddings e ON e.content_hash = t.content_hash "
            "JOIN attributes a ON a.text_id = t.id AND a.name = 'sentiment.vader' "
            "WHERE p.dataset_id = ?", [films]) == 60
        assert st.scalar("SELECT count(*) FROM measure_sets WHERE dataset_id = ?", [films]) == 1
    assert main(args) == 0
    again = capsys.readouterr().out
    assert "import films: already present" in again
    assert "annotate films: 0 values computed" in again
    assert "annotate algorithms: 0 values computed" in again
