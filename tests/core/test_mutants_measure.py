"""The measure stage, checked on values derived independently (written against surviving mutants).

Expectations are counted or computed here by hand (or with scipy) from the rows the test
writes, never with the code under test.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from analysis_fixture import build, clustered

from monoscope.cli import main
from monoscope.core.analysis.measure import MeasureRequest, measure
from monoscope.core.store import Study
from monoscope.core.tasks import TaskState

RUNS = {"instruct T0.8": {"temperature": 0.8, "top_p": 0.95},
        "instruct T1.2": {"temperature": 1.2, "top_p": 0.95}}


@pytest.fixture
def report_study(study: Study) -> Study:
    """The report's fixture: 6 prompts, 8 human texts and 5 generations per run each, the
    generations' perplexities 5, 6, 7, 8, 9."""
    rows = clustered(6, 8, 5, {"instruct T0.8": 0.3, "instruct T1.2": 0.6}, dim=8)
    rng = np.random.default_rng(3)
    for r in rows:
        pos = rng.random() < (0.5 if r.run is None else 0.97)
        r.attrs["sentiment.vader"] = (0.8 if pos else 0.2, "POSITIVE" if pos else "NEGATIVE")
    build(study, rows, runs=RUNS, model="all-MiniLM-L6-v2", backend="torch")
    return study


def test_ppl_max_7_on_the_report_fixture_keeps_5_6_and_7(
        report_study: Study, capsys: pytest.CaptureFixture[str]) -> None:
    """The issue's case: 0 < ppl <= 7 keeps 3 of 5 per prompt: 2 x 6 = 12 dropped per run
    (18 if the boundary were exclusive)."""
    path = str(report_study.path)
    report_study.close()
    assert main(["measure", path, "--json", "--ppl-max", "7", "--attribute", "sentiment.vader",
                 "--no-lexical"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["filter"] == {"ppl_max": 7.0, "dropped": {"run:1": 12, "run:2": 12}}
    ns = {(r["grp"], r["prompt"]): r["n"] for r in doc["rows"]
          if r["stat"] == "dispersion" and r["ref"] == "" and r["prompt"] is not None
          and r["attribute"] == "sentiment.vader"}
    assert set(ns.values()) == {8, 3}  # 8 human texts, 3 kept generations, every prompt
    assert sum(1 for (g, _), n in ns.items() if g != "source" and n == 3) == 12


def test_ppl_filter_in_the_stage_matches_a_hand_count(report_study: Study) -> None:
    state = TaskState()
    for ppl_max, kept in [(4.9, 0), (5.0, 1), (6.5, 2), (9.0, 5), (100.0, 5)]:
        res = measure(report_study, MeasureRequest(ppl_max=ppl_max, attributes=("sentiment.vader",),
                                                   lexical=False, wording=False), state)
        assert res.filtered_out == {"run:1": 6 * (5 - kept), "run:2": 6 * (5 - kept)}, ppl_max
