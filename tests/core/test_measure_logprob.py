"""The likelihood measures against hand-computed values, on a study whose scores are written
through the real schema (no model needed): mean log-probabilities, the gap, the share of human
texts below the 5th percentile of the samples, and the people's own baseline."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from monoscope.core.analysis.measure import MeasureRequest, measure, people_baseline
from monoscope.core.scoring import VERSION, run_scorers, template_hash, template_json
from monoscope.core.store import Study, content_hash
from monoscope.core.store import scores as scores_repo
from monoscope.core.tasks import TaskState
from monoscope.testing import raw_connection

SRC = [-2.0, -3.0, -4.0, -5.0, -6.0, -7.0, -8.0, -9.0]
GEN = [-1.0, -1.5, -2.0, -2.5]
META = {"chat": True, "system": None, "user": "Write a review of {title}: ", "base": None}


def scored_study(path: Path) -> tuple[Study, int]:
    st = Study(path)
    con = raw_connection(st)
    con.execute("INSERT INTO datasets (name, kind) VALUES ('films', 'text')")
    con.execute("INSERT INTO prompts (dataset_id, key, title) VALUES (1, 'm0', 'Signs')")
    con.execute("INSERT INTO models (path, sha256, name) VALUES ('/x.gguf', 'abc', 'tiny')")
    con.execute("INSERT INTO runs (dataset_id, model_id, label, engine, template, sampling, "
                "n_per_prompt, seed, status, meta) VALUES (1, 1, 'r', 'llama.cpp', 'p', '{}', "
                "4, 0, 'finished', ?)", [json.dumps(META)])
    rows = []
    for i, (origin, v) in enumerate([("source", v) for v in SRC] +
                                    [("generated", v) for v in GEN]):
        body = f"text {i}"
        tid = con.execute(
            "INSERT INTO texts (prompt_id, origin, run_id, sample_index, body, content_hash) "
            "VALUES (1, ?, ?, ?, ?, ?) RETURNING id",
            [origin, 1 if origin == "generated" else None, i, body, content_hash(body)]
        ).fetchone()[0]
        rows.append(scores_repo.ScoreRow(int(tid), "ctx", content_hash(body), 5, 2, False,
                                         2 * v, v, float(np.exp(-v)), 1.0,
                                         scores_repo.pack_f16([v, v]),
                                         scores_repo.pack_f16([1.0, 1.0]), None))
    sid = scores_repo.ensure_scorer(st, 1, "p", template_hash(template_json(META)),
                                    template_json(META), VERSION)
    assert scores_repo.write_scores(st, sid, rows) == len(rows)
    assert scores_repo.write_scores(st, sid, rows) == 0  # a scored text is never rewritten
    return st, sid


def test_likelihood_measures_match_hand_computation(tmp_path: Path) -> None:
    st, sid = scored_study(tmp_path / "s.duckdb")
    with st:
        assert run_scorers(st, 1) == {1: sid}
        res = measure(st, MeasureRequest(attributes=("logprob",), wording=False, draws=40),
                      TaskState())
        assert res.value("source", "logprob", "mean_logprob", ref="run:1", prompt="m0") == \
            pytest.approx(-5.5)
        assert res.value("run:1", "logprob", "mean_logprob", ref="run:1", prompt="m0") == \
            pytest.approx(-1.75)
        assert res.value("run:1", "logprob", "gap", ref="run:1", prompt="m0") == \
            pytest.approx(-3.75)
        # 5th percentile of the samples (linear): -2.5 + 0.15 * 0.5 = -2.425; 7 of 8 below
        assert res.value("run:1", "logprob", "p5", ref="run:1", prompt="m0") == \
            pytest.approx(-2.425)
        assert res.value("run:1", "logprob", "share_below_p5", ref="run:1", prompt="m0") == \
            pytest.approx(7 / 8)
        # rows say how many texts they stand on: the 8 human texts, the run's 4 samples
        share_row = res.cell("run:1", "logprob", "share_below_p5", ref="run:1", prompt="m0")
        p5_row = res.cell("run:1", "logprob", "p5", ref="run:1", prompt="m0")
        assert share_row is not None and share_row["n"] == 8
        assert p5_row is not None and p5_row["n"] == 4
        # aggregates over the one prompt equal it
        assert res.value("run:1", "logprob", "gap", ref="run:1") == pytest.approx(-3.75)
        assert res.value("source", "logprob", "mean_logprob", ref="run:1") == pytest.approx(-5.5)
        assert res.value("run:1", "logprob", "mean_logprob", ref="run:1") == \
            pytest.approx(-1.75)
        # the people against themselves: m = min(4, 8 // 2) = 4 texts in the samples' place
        base = res.cell("source", "logprob", "gap", ref="run:1", prompt="m0")
        assert base is not None and base["n"] == 4 and base["draws"] == 40
        gaps, shares = people_baseline(np.array(SRC), 4, 3, np.random.default_rng(0))
        assert gaps.shape == shares.shape == (3,)
        assert abs(base["value"]) < 2.0 and base["lo"] <= base["value"] <= base["hi"]
        share = res.cell("source", "logprob", "share_below_p5", ref="run:1", prompt="m0")
        assert share is not None and 0.0 <= share["lo"] <= share["hi"] <= 1.0


def test_people_baseline_by_hand() -> None:
    """A = the first m of a fixed permutation: check one draw against the definition."""
    src = np.array(SRC)
    rng = np.random.default_rng(5)
    perm = np.random.default_rng(5).permutation(src.size)
    gaps, shares = people_baseline(src, 3, 1, rng)
    a, b = src[perm[:3]], src[perm[3:]]
    assert gaps[0] == pytest.approx(b.mean() - a.mean())
    assert shares[0] == pytest.approx(float((b < np.quantile(a, 0.05)).mean()))


def test_report_has_the_per_prompt_figure_and_table(tmp_path: Path) -> None:
    from monoscope.core.report import ReportRequest, build_report

    st, _sid = scored_study(tmp_path / "r.duckdb")
    with st:
        rep = build_report(st, ReportRequest(out=tmp_path / "rep"), TaskState())
    page = rep.index.read_text(encoding="utf-8")
    assert "What tiny would not say (r)" in page
    assert "<td>-5.50</td><td>-1.75</td><td>-3.75</td><td>88 %</td>" in page
    assert (tmp_path / "rep" / "logprob_run1.png").stat().st_size > 5_000
