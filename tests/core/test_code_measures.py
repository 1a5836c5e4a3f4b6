"""The code dataset's numbers (the paper's code results): tag-set Jaccard dispersion and
`code.correct` accuracy, through the real measure stage on a real study, against values
worked out by hand below."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from monoscope.core.analysis import metrics
from monoscope.core.analysis.measure import MeasureRequest, measure
from monoscope.core.store import Study
from monoscope.core.tasks import TaskState

sys.path.insert(0, str(Path(__file__).parent))
from analysis_fixture import Row, build

ALGOS, CORRECT = "code.algorithms", "code.correct"

# one prompt; the people's four solutions and the run's three: (tags, test outcome)
SOURCE = [({"A", "B"}, "pass"), ({"A"}, "fail"), ({"B", "C"}, "pass"), (set(), "pass")]
RUN = [({"A"}, "pass"), ({"A"}, "pass"), ({"A", "B"}, "fail")]

# Jaccard per pair. People: {A,B}~{A} 1/2, {A,B}~{B,C} 1/3, every other pair 0 (the untagged
# solution shares nothing with a tagged one): mean 5/6 over 6 pairs = 5/36.
# Run: {A}~{A} 1, {A}~{A,B} 1/2 twice: mean 2/3.
SOURCE_DISPERSION = 1 - 5 / 36
RUN_DISPERSION = 1 - 2 / 3
# among passing solutions only (the quality gate): people {A,B},{B,C},{} -> 1/3, 0, 0;
# run {A},{A} -> 1
SOURCE_DISPERSION_PASSING = 1 - 1 / 9
RUN_DISPERSION_PASSING = 0.0


def _row(tags: set[str], outcome: str, i: int, run: str | None) -> Row:
    label = ";".join(sorted(tags))
    return Row("p", f"def solve_{run or 'human'}_{i}(): pass", run,
               {ALGOS: (float(len(tags)), label),
                CORRECT: (1.0 if outcome == "pass" else 0.0, outcome)}, ppl=3.0)


@pytest.fixture
def code_study(study: Study) -> tuple[Study, int]:
    rows = [_row(t, o, i, None) for i, (t, o) in enumerate(SOURCE)]
    rows += [_row(t, o, i, "r") for i, (t, o) in enumerate(RUN)]
    return study, build(study, rows, dataset="code")["r"]


def test_jaccard_dispersion_by_hand() -> None:
    assert metrics.jaccard_dispersion([t for t, _ in SOURCE]) == pytest.approx(SOURCE_DISPERSION)
    assert metrics.jaccard_dispersion([t for t, _ in RUN]) == pytest.approx(RUN_DISPERSION)
    assert metrics.jaccard_dispersion([{"x"}, {"x"}, {"x"}]) == 0.0
    assert metrics.jaccard_dispersion([set(), set()]) == 0.0  # two untagged: alike
    assert metrics.jaccard_dispersion([{"x", "y"}, {"y", "z"}]) == pytest.approx(1 - 1 / 3)


def test_measure_stage_code_numbers(code_study: tuple[Study, int]) -> None:
    study, rid = code_study
    run = f"run:{rid}"
    res = measure(study, MeasureRequest(dataset="code", attributes=(ALGOS, CORRECT),
                                        draws=4000, n_boot=50, lexical=False), TaskState())
    # whole sets
    assert res.value("source", ALGOS, "dispersion", "", "p") == pytest.approx(SOURCE_DISPERSION)
    assert res.value(run, ALGOS, "dispersion", "", "p") == pytest.approx(RUN_DISPERSION)
    assert res.value("source", ALGOS, "jaccard", "", "p") == pytest.approx(5 / 36)
    assert res.value("source", CORRECT, "accuracy", "", "p") == pytest.approx(3 / 4)
    assert res.value(run, CORRECT, "accuracy", "", "p") == pytest.approx(2 / 3)
    # the quality gate: the same dispersion among passing solutions only
    assert res.value("source", ALGOS + "|pass", "dispersion", "", "p") == pytest.approx(
        SOURCE_DISPERSION_PASSING)
    assert res.value(run, ALGOS + "|pass", "dispersion", "", "p") == pytest.approx(
        RUN_DISPERSION_PASSING)
    # like for like at the run's n = 3: the people's expected dispersion over their four
    # triples, 13/18, 5/6, 8/9 and 1, averages to the whole set's 31/36 (a U-statistic); the
    # stage draws 4000 random triples, so the index sits within Monte Carlo error of
    # (1/3) / (31/36) = 12/31
    idx = res.cell(run, ALGOS, "index", run, "p")
    assert idx is not None and idx["n"] == 3
    assert idx["value"] == pytest.approx(RUN_DISPERSION / SOURCE_DISPERSION, rel=0.02)
    assert res.value("source", CORRECT, "accuracy", run, "p") == pytest.approx(3 / 4, abs=0.02)
    assert res.value(run, CORRECT, "accuracy", run, "p") == pytest.approx(2 / 3)
