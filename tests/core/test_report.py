"""Report: index.html plus PNG and SVG figures, referenced from the HTML; the paper's bins."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from analysis_fixture import build, clustered

from monoscope.cli import main
from monoscope.core.analysis.projection import ProjectionRequest, project
from monoscope.core.report import ReportRequest, build_report
from monoscope.core.report.figures import SENTIMENT_EDGES, bin_shares
from monoscope.core.store import Study
from monoscope.core.tasks import TaskState
from monoscope.testing import raw_connection

RUNS = {"instruct T0.8": {"temperature": 0.8, "top_p": 0.95},
        "instruct T1.2": {"temperature": 1.2, "top_p": 0.95}}


def _study(study: Study) -> Study:
    rows = clustered(6, 8, 5, {"instruct T0.8": 0.3, "instruct T1.2": 0.6}, dim=8)
    rng = np.random.default_rng(3)
    for r in rows:
        pos = rng.random() < (0.5 if r.run is None else 0.97)
        r.attrs["sentiment.vader"] = (0.8 if pos else 0.2, "POSITIVE" if pos else "NEGATIVE")
        k = int(rng.integers(0, 5 if r.run is None else 2))
        r.attrs["topic"] = (float(k), f"topic {k}")
    build(study, rows, runs=RUNS, model="all-MiniLM-L6-v2", backend="torch")
    project(study, ProjectionRequest(method="pca"), TaskState())
    return study


def test_paper_bins_are_closed_on_the_right() -> None:
    shares = bin_shares([0.0, 0.35, 0.36, 0.55, 0.951, 1.0, None], SENTIMENT_EDGES)
    assert shares.tolist() == [2 / 6, 2 / 6, 0, 0, 0, 2 / 6]


def test_report_writes_html_png_svg(study: Study, tmp_path: Path) -> None:
    out = tmp_path / "report"
    _study(study)
    for k in range(5):  # a stored BERTopic fit: the report names the model
        raw_connection(study).execute("INSERT INTO topics (dataset_id, topic, label, size, "
                                      "version) VALUES (1, ?, ?, 10, 'bertopic-1/torch')",
                                      [k, f"topic {k}"])
    res = build_report(study, ReportRequest(out=out), TaskState())
    names = {f.name for f in res.figures}
    assert {"sentiment", "cosine", "map", "sweep"} <= names
    html = (out / "index.html").read_text()
    for f in res.figures:
        png, svg = out / f.png, out / f.svg
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
        assert svg.read_text().lstrip().startswith("<?xml") and "<svg" in svg.read_text()
        assert f"src='{f.png}'" in html and f"href='{f.svg}'" in html
    # every referenced file exists next to index.html (self-contained folder)
    for ref in re.findall(r"(?:src|href)='([^']+)'", html):
        assert (out / ref).exists(), ref
    assert "instruct T0.8" in html and "Per prompt, sorted by monoculture index" in html
    assert ("Topics: BERTopic (UMAP + HDBSCAN + c-TF-IDF): 5 topics fitted on the source "
            "texts.") in html
    doc = json.loads((out / "measure.json").read_text())
    assert doc["schema"] == "monoscope.measure/2" and len(doc["groups"]) == 3


def test_cli_report(study: Study, tmp_path: Path) -> None:
    path = str(_study(study).path)
    study.close()
    assert main(["report", path, "--out", str(tmp_path / "r"), "--ppl-max", "7"]) == 0
    html = (tmp_path / "r" / "index.html").read_text()
    assert "0 &lt; ppl ≤ 7.0" in html


def test_report_compares_the_source_on_exactly_the_runs_prompts(study: Study,
                                                                 tmp_path: Path) -> None:
    """Runs on 3 of 6 prompts: every source number beside a run covers those 3 (SQL says
    which), Figure 1's source bars count 3 prompts, the HTML says n and prompts."""
    _study(study)
    raw_connection(study).execute("DELETE FROM generations WHERE prompt_id IN (SELECT id FROM prompts "
                      "WHERE key IN ('p03', 'p04', 'p05'))")
    raw_connection(study).execute("DELETE FROM texts WHERE run_id IS NOT NULL AND prompt_id IN (SELECT id "
                      "FROM prompts WHERE key IN ('p03', 'p04', 'p05'))")
    res = build_report(study, ReportRequest(out=tmp_path / "r"), TaskState())
    m = res.measure
    assert m is not None
    for g in m.groups[1:]:
        sql = {r["key"] for r in study.query(
            "SELECT DISTINCT p.key FROM texts t JOIN prompts p ON p.id = t.prompt_id "
            "WHERE t.run_id = ?", [g.run_id])}
        assert sql == {"p00", "p01", "p02"}
        assert set(m.run_prompts(g.key)) == sql
        for attr, stat in (("sentiment.vader", "share_positive"), ("topic", "entropy"),
                           ("embedding", "mean_pairwise_cosine")):
            src = m.cell("source", attr, stat, g.key)
            assert src["prompts"] == 3 and src["n"] == 5, (attr, src)  # 5 samples per prompt
            per = [m.cell("source", attr, stat, g.key, k) for k in sorted(sql)]
            assert src["value"] == pytest.approx(np.mean([r["value"] for r in per]))
        # the source's whole-set aggregate covers all 6 prompts: a different number
        assert m.cell("source", "sentiment.vader", "share_positive")["prompts"] == 6
    html = (tmp_path / "r" / "index.html").read_text()
    assert "source on #1 instruct T0.8&#x27;s prompts" in html or "source on #1 instruct T0.8's" in html
    assert "n = 5" in html or "<td>5</td>" in html
    fig1 = next(f for f in res.figures if f.name == "sentiment")
    svg = (tmp_path / "r" / fig1.svg).read_text()
    assert "source (human) (n=3 prompts)" in svg


def test_headline_entropy_is_the_papers_plugin_entropy(study: Study) -> None:
    """The stored per-prompt `entropy` is `metrics.entropy` (plug-in, bits) of the labels,
    bit for bit; Miller-Madow is a separate statistic."""
    from monoscope.core.analysis import metrics
    from monoscope.core.analysis.measure import MeasureRequest, measure

    _study(study)
    res = measure(study, MeasureRequest(), TaskState())
    for key in ("p00", "p03"):
        labels = [r["label"] for r in study.query(
            "SELECT a.label FROM attributes a JOIN texts t ON t.id = a.text_id JOIN prompts p "
            "ON p.id = t.prompt_id WHERE p.key = ? AND t.run_id IS NULL AND a.name = "
            "'sentiment.vader'", [key])]
        assert res.value("source", "sentiment.vader", "entropy", "", key) == metrics.entropy(
            labels)
        assert res.value("source", "sentiment.vader", "dispersion", "", key) == metrics.entropy(
            labels)


def test_report_has_the_hivemind_heatmap_histograms_and_missing_modes(study: Study,
                                                                      tmp_path: Path) -> None:
    """The cross-model part of the report: the heatmap and the similarity histograms are
    figures (PNG + SVG), the matrix table and the missing-modes tables carry exactly the stored
    rows (read back with SQL)."""
    import html as html_lib

    out = tmp_path / "r"
    res = build_report(_study(study), ReportRequest(out=out), TaskState())
    names = [f.name for f in res.figures]
    assert names.index("cosine") < names.index("hivemind") < names.index("similarity_hist")
    page = (out / "index.html").read_text()
    for name in ("hivemind", "similarity_hist"):
        assert (out / f"{name}.png").stat().st_size > 10_000
        assert f"src='{name}.png'" in page
    set_id = study.scalar("SELECT max(id) FROM measure_sets")
    labels = {"source": "source (human)", "run:1": "#1 instruct T0.8", "run:2": "#2 instruct T1.2"}

    # the heatmap's SVG and the matrix table show every stored cell
    stored = study.query("SELECT grp, ref, value, lo, hi, prompts FROM measurements "
                         "WHERE set_id = ? AND prompt_id IS NULL AND attribute = 'embedding' "
                         "AND stat = 'cross_cosine'", [set_id])
    assert len(stored) == 9
    svg = (out / "hivemind.svg").read_text()
    for r in stored:
        assert f"{r['value']:.3f}" in svg
        cell = re.search(rf"<td data-grp='{r['grp']}' data-ref='{r['ref']}'>([^<]+) "
                         r"<span class=note>\[([^,]+), ([^\]]+)\] n=(\d+)</span>", page)
        assert cell is not None, (r["grp"], r["ref"])
        assert cell.groups() == (f"{r['value']:.3f}", f"{r['lo']:.3f}", f"{r['hi']:.3f}",
                                 str(r["prompts"]))
        assert r["prompts"] == 6
    assert "n = 6 prompts" in svg and "source (human)" in svg and "#1 instruct T0.8" in svg

    # the histograms: every group with its prompts, per-prompt values from the stored rows
    hist_svg = (out / "similarity_hist.svg").read_text()
    for key, label in labels.items():
        n = study.scalar("SELECT count(*) FROM measurements WHERE set_id = ? AND grp = ? "
                         "AND ref = '' AND prompt_id IS NOT NULL AND attribute = 'embedding' "
                         "AND stat = 'mean_pairwise_cosine'", [set_id, key])
        assert n == 6 and f"{label} (n={n} prompts)" in hist_svg

    # missing modes: the summary rows and the list, exactly the stored ones
    summary = page[page.index("<table class=missing-summary>"):]
    summary = summary[:summary.index("</table>")]
    for key in ("run:1", "run:2"):
        a = study.query("SELECT value, prompts, n FROM measurements WHERE set_id = ? AND "
                        "prompt_id IS NULL AND grp = ? AND ref = ? AND attribute = 'topic' "
                        "AND stat = 'missing_modes'", [set_id, key, key])[0]
        b = study.query("SELECT value FROM measurements WHERE set_id = ? AND prompt_id IS NULL "
                        "AND grp = 'source' AND ref = ? AND attribute = 'topic' "
                        "AND stat = 'missing_modes'", [set_id, key])[0]
        row = re.search(rf"<tr><td class=l>{re.escape(labels[key])}</td>(.*?)</tr>", summary)
        assert row is not None
        cells = [c.split(" <span")[0] for c in re.findall(r"<td>(.*?)</td>", row.group(1))]
        people = b["value"]
        assert cells == ["6", "4", f"{a['value']:.3f}",
                         str(int(people)) if people == int(people) else f"{people:.3f}"]
        assert a["prompts"] == 6 and a["n"] == 4  # m = min(5 run texts, 8 people // 2)
    modes = study.query(
        "SELECT m.grp, p.key, substr(m.stat, 14) AS topic, m.value, m.n FROM measurements m "
        "JOIN prompts p ON p.id = m.prompt_id WHERE m.set_id = ? AND m.grp = m.ref "
        "AND m.attribute = 'topic' AND m.stat LIKE 'missing_mode:%'", [set_id])
    assert len(modes) >= 6  # the runs write about 2 of the people's 5 topics
    table = page[page.index("<table class=missing>"):]
    table = table[:table.index("</table>")]
    got = re.findall(r"<tr><td class=l>([^<]+)</td><td class=l>([^<]+)</td><td class=l>"
                     r"[^<]*</td><td class=l>([^<]+)</td><td class=l>[^<]*</td>"
                     r"<td>([\d.]+)%</td><td>(\d+)</td></tr>", table)
    assert sorted((html_lib.unescape(lab), p, t, s, n) for lab, p, t, s, n in got) == sorted(
        (labels[m["grp"]], m["key"], m["topic"], f"{m['value'] * 100:.1f}", str(m["n"]))
        for m in modes)
