"""Quality-gated diversity for text (issue 14, item 6): every dispersion also among the texts
that pass a gate (perplexity, the LLM judge, or both), with the number kept; hand-computed."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from analysis_fixture import Row, build

from monoscope.core.analysis.measure import MeasureRequest, measure
from monoscope.core.attributes.judge_text import verdict
from monoscope.core.store import Study
from monoscope.core.tasks import TaskState

W, G, RUN = "text.words", "text.words|pass", "run:1"


def rows() -> list[Row]:
    """People: 1, 2, 3, 10 words (the 10-word text judged fail). Run: 5, 5, 7 words with
    perplexity 2, 3, 50, all judged pass."""
    def row(body: str, words: float, ok: bool, run: str | None = None,
            ppl: float | None = None) -> Row:
        return Row("a", body, run=run, ppl=ppl, attrs={
            W: (words, None), "text.judge": (1.0 if ok else 0.0, "pass" if ok else "fail")})
    return [row("s1", 1, True), row("s2", 2, True), row("s3", 3, True), row("s4", 10, False),
            row("g1", 5, True, "r", 2.0), row("g2", 5, True, "r", 3.0),
            row("g3", 7, True, "r", 50.0)]


def std(xs: list[float]) -> float:
    m = sum(xs) / len(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / len(xs))


def test_no_gate_no_pass_rows(study: Study, state: TaskState) -> None:
    build(study, rows())
    res = measure(study, MeasureRequest(draws=50, n_boot=50, lexical=False), state)
    assert res.gated == {}
    assert not [r for r in res.rows if r["attribute"].endswith("|pass")]


def test_perplexity_gate(study: Study, state: TaskState) -> None:
    build(study, rows())
    res = measure(study, MeasureRequest(draws=2000, n_boot=50, lexical=False,
                                        gate_ppl_max=20.0), state)
    assert res.gated == {G: "numeric"}
    # people have no perplexity: all four pass; the run keeps 5, 5 (ppl 50 fails)
    src = res.cell("source", G, "std", "", "a")
    assert src["n"] == 4 and src["value"] == pytest.approx(std([1, 2, 3, 10]))
    run = res.cell(RUN, G, "std", "", "a")
    assert run["n"] == 2 and run["value"] == 0.0
    assert res.value(RUN, G, "mean", "", "a") == pytest.approx(5.0)
    # like for like at the run's 2 kept texts: the 6 pairs of {1, 2, 3, 10}
    pairs = [std([a, b]) for i, a in enumerate([1, 2, 3, 10]) for b in [1, 2, 3, 10][i + 1:]]
    m = res.cell("source", G, "std", RUN, "a")
    assert m["n"] == 2 and m["value"] == pytest.approx(sum(pairs) / 6, rel=0.05)
    assert res.value(RUN, G, "index", RUN, "a") == 0.0
    # the ungated rows beside them keep every text; the paper's filter is separate
    assert res.cell(RUN, W, "std", "", "a")["n"] == 3
    assert res.value(RUN, W, "std", "", "a") == pytest.approx(std([5, 5, 7]))
    assert not [r for r in res.rows if r["attribute"] == "text.judge|pass"]


def test_judge_gate_and_both(study: Study, state: TaskState) -> None:
    build(study, rows())
    res = measure(study, MeasureRequest(draws=50, n_boot=50, lexical=False, gate_judge=True),
                  state)
    src = res.cell("source", G, "std", "", "a")
    assert src["n"] == 3 and src["value"] == pytest.approx(math.sqrt(2 / 3))
    run = res.cell(RUN, G, "std", "", "a")
    assert run["n"] == 3 and run["value"] == pytest.approx(std([5, 5, 7]))
    both = measure(study, MeasureRequest(draws=50, n_boot=50, lexical=False, gate_judge=True,
                                         gate_ppl_max=20.0), state)
    assert both.cell("source", G, "std", "", "a")["n"] == 3
    assert both.cell(RUN, G, "std", "", "a")["n"] == 2
    assert both.value(RUN, G, "std", "", "a") == 0.0


def test_judge_verdict_parsing() -> None:
    assert verdict("Yes.") and verdict(" yes, it is") and verdict("**Yes**")
    assert not verdict("No.") and not verdict("") and not verdict("I think yes")
