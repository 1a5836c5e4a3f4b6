"""Measure: per-prompt statistics against hand-computed values, the perplexity filter, CLI."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from analysis_fixture import Row, build

from monoscope.cli import main
from monoscope.core.analysis.measure import (
    MeasureError,
    MeasureRequest,
    measure,
    per_prompt_table,
)
from monoscope.core.store import Study
from monoscope.core.tasks import TaskState

S = "sentiment.vader"
MINILM = {"model": "all-MiniLM-L6-v2", "backend": "torch"}


def _rows() -> list[Row]:
    def r(prompt: str, body: str, run: str | None, sent: float, lab: str, topic: int,
          vec: list[float], ppl: float | None = None) -> Row:
        return Row(prompt, body, run=run, ppl=ppl, vector=vec,
                   attrs={S: (sent, lab), "topic": (topic, f"t{topic}"),
                          "text.words": (float(len(body.split())), None)})
    return [
        r("a", "good film", None, 0.9, "POSITIVE", 0, [1, 0]),
        r("a", "bad film", None, 0.2, "NEGATIVE", 1, [0, 1]),
        r("a", "fine film ok", None, 0.7, "POSITIVE", 1, [1, 1]),
        r("a", "great film", "r1", 0.95, "POSITIVE", 0, [1, 0], ppl=3.0),
        r("a", "great film yes", "r1", 0.3, "NEGATIVE", 0, [1, 0.2], ppl=30.0),
        r("b", "meh", None, 0.4, "NEGATIVE", 2, [0, 1]),
        r("b", "wow", None, 0.8, "POSITIVE", 2, [1, 0]),
        r("b", "wow wow", "r1", 0.8, "POSITIVE", 2, [1, 0], ppl=4.0),
    ]


@pytest.fixture
def tiny(study: Study) -> Study:
    build(study, _rows(), **MINILM)
    return study


def own(res, prompt: str, group: str, attr: str, stat: str) -> float:  # type: ignore[no-untyped-def]
    """A whole-set value (the group's own texts of the prompt)."""
    return res.value(group, attr, stat, "", prompt)


def test_per_prompt_values_match_hand_computation(tiny: Study, state: TaskState) -> None:
    res = measure(tiny, MeasureRequest(draws=400), state)
    assert res.cell("source", S, "dispersion", "", "a")["n"] == 3
    assert own(res, "a", "source", S, "mean") == pytest.approx((0.9 + 0.2 + 0.7) / 3)
    assert own(res, "a", "source", S, "share_positive") == pytest.approx(2 / 3)
    h = -(2 / 3 * math.log2(2 / 3) + 1 / 3 * math.log2(1 / 3))
    assert own(res, "a", "source", S, "entropy") == pytest.approx(h)
    assert own(res, "a", "run:1", S, "entropy") == pytest.approx(1.0)  # one POS, one NEG
    # like for like: the run has 2 texts, so the source is measured on 2 of its 3: of the
    # three pairs two are mixed (1 bit) and one is pure (0 bits) -> 2/3 bit on average
    src2 = res.cell("source", S, "entropy", "run:1", "a")
    assert src2["n"] == 2 and src2["draws"] == 400
    assert src2["value"] == pytest.approx(2 / 3, abs=0.05)
    assert res.value("run:1", S, "index", "run:1", "a") == pytest.approx(1.0 / src2["value"])
    assert res.value("run:1", S, "diff_of_means", "run:1", "a") == pytest.approx(
        (0.95 + 0.3) / 2 - 0.6)
    # topic: run a has {0, 0}: entropy 0, index 0
    assert own(res, "a", "source", "topic", "entropy") == pytest.approx(h)
    assert res.value("run:1", "topic", "index", "run:1", "a") == 0.0
    # embeddings, prompt a: cos([1,0],[0,1]) = 0, cos([1,0],[1,1]) = cos([0,1],[1,1]) = 1/sqrt2
    assert own(res, "a", "source", "embedding", "mean_pairwise_cosine") == pytest.approx(
        2 / math.sqrt(2) / 3)
    assert own(res, "a", "run:1", "embedding", "mean_pairwise_cosine") == pytest.approx(
        1 / math.sqrt(1.04))
    # aggregate of the source over its own prompts a and b: share positive (2/3 + 1/2) / 2
    agg = res.cell("source", S, "share_positive")
    assert agg["value"] == pytest.approx((2 / 3 + 0.5) / 2) and agg["prompts"] == 2
    assert agg["lo"] <= agg["value"] <= agg["hi"]
    assert res.value("source", "topic", "pooled_distinct") == 3
    assert res.value("source", "wording", "vocabulary") == 7  # good film bad fine ok meh wow
    assert res.value("run:1", "wording", "vocabulary") == 4  # great film yes wow


def test_perplexity_filter_changes_the_aggregate(tiny: Study, state: TaskState) -> None:
    plain = measure(tiny, MeasureRequest(), state)
    filtered = measure(tiny, MeasureRequest(ppl_max=20), state)
    assert filtered.filtered_out == {"run:1": 1}
    # the ppl-30 NEGATIVE sample is gone: run share positive goes from (1/2 + 1)/2 to 1
    assert plain.value("run:1", S, "share_positive") == pytest.approx(0.75)
    assert filtered.value("run:1", S, "share_positive") == pytest.approx(1.0)
    # the filter keeps exactly 0 < ppl <= 20: prompt a keeps the ppl-3 sample only
    assert filtered.cell("run:1", S, "dispersion", "", "a")["n"] == 1
    # the source never passes through the filter
    assert plain.value("source", S, "mean") == filtered.value("source", S, "mean")
    # both parameter sets are stored side by side
    assert tiny.scalar("SELECT count(*) FROM measure_sets") == 2


def test_perplexity_filter_boundary_is_inclusive(tiny: Study, state: TaskState) -> None:
    res = measure(tiny, MeasureRequest(ppl_max=4.0, attributes=(S,)), state)
    # run samples: ppl 3 (a), 30 (a), 4 (b): 3 and 4 are kept, 30 is not
    assert res.filtered_out == {"run:1": 1}
    assert res.cell("run:1", S, "dispersion", "", "b")["n"] == 1


def test_json_is_strict_and_runs_resolve(tiny: Study, state: TaskState) -> None:
    res = measure(tiny, MeasureRequest(runs=("r1",), attributes=(S,)), state)
    doc = json.loads(res.to_json())  # allow_nan=False inside: no NaN leaks
    assert doc["schema"] == "monoscope.measure/2"
    assert [g["key"] for g in doc["groups"]] == ["source", "run:1"]
    assert set(doc["attributes"]) == {S}
    assert {r["attribute"] for r in doc["rows"]} == {S, "wording"}
    with pytest.raises(MeasureError, match="Runs: 1 \\(r1\\)"):
        measure(tiny, MeasureRequest(runs=("nope",)), state)


def test_per_prompt_table_sorted_by_index(tiny: Study) -> None:
    rows = per_prompt_table(tiny, "films", S)
    # a: 2 run texts vs the people at n = 2 -> index about 1.5; b: one run text, no
    # dispersion is defined at n = 1, so no index (sorted last)
    assert [r["prompt"] for r in rows] == ["a", "b"]
    assert rows[0]["n_source"] == 3 and rows[0]["n[run:1]"] == 2
    assert rows[0]["monoculture_index"] == pytest.approx(1.5, abs=0.12)
    assert math.isnan(rows[1]["monoculture_index"])


def test_cli_measure_json_and_table(tiny: Study, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(tiny.path)
    tiny.close()
    assert main(["measure", path, "--json", "--ppl-max", "20"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["filter"] == {"ppl_max": 20.0, "dropped": {"run:1": 1}}
    assert main(["measure", path]) == 0
    out = capsys.readouterr().out
    assert "sentiment.vader" in out and "index" in out and "people" in out
    assert main(["measure", path]) == 0
    assert "stored results read back" in capsys.readouterr().out
    assert main(["measure", path, "--entropy", "miller-madow", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["params"]["entropy"] == "miller-madow"
    assert main(["measure", path, "--run", "zzz"]) == 1
