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
from monoscope.core.measure import (
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


def _row(res, prompt: str, group: str, attr: str) -> dict:  # type: ignore[no-untyped-def]
    return next(r for r in res.rows(attr, group) if r["prompt"] == prompt)


def test_per_prompt_values_match_hand_computation(tiny: Study, state: TaskState) -> None:
    res = measure(tiny, MeasureRequest(), state)
    src_a = _row(res, "a", "source", S)
    assert src_a["n"] == 3
    assert src_a["mean"] == pytest.approx((0.9 + 0.2 + 0.7) / 3)
    assert src_a["share_positive"] == pytest.approx(2 / 3)
    h = -(2 / 3 * math.log2(2 / 3) + 1 / 3 * math.log2(1 / 3))
    assert src_a["entropy"] == pytest.approx(h)
    gen_a = _row(res, "a", "run:1", S)
    assert gen_a["entropy"] == pytest.approx(1.0)  # one POSITIVE, one NEGATIVE
    assert gen_a["monoculture_index"] == pytest.approx(1.0 / h)
    assert gen_a["diff_of_means"] == pytest.approx((0.95 + 0.3) / 2 - 0.6)
    # topic: source a has {0, 1, 1}, run a {0, 0}: entropy 0, index 0
    assert _row(res, "a", "source", "topic")["entropy"] == pytest.approx(h)
    assert _row(res, "a", "run:1", "topic")["monoculture_index"] == 0.0
    # embeddings, prompt a: cos([1,0],[0,1]) = 0, cos([1,0],[1,1]) = cos([0,1],[1,1]) = 1/sqrt2
    src_e = _row(res, "a", "source", "embedding")
    assert src_e["mean_pairwise_cosine"] == pytest.approx(2 / math.sqrt(2) / 3)
    gen_e = _row(res, "a", "run:1", "embedding")
    assert gen_e["mean_pairwise_cosine"] == pytest.approx(1 / math.sqrt(1.04))
    # aggregate over prompts a and b: source share positive (2/3 + 1/2) / 2
    agg = res.agg("source", S, "share_positive")
    assert agg is not None and agg["mean"] == pytest.approx((2 / 3 + 0.5) / 2) and agg["n"] == 2
    assert agg["ci_low"] <= agg["mean"] <= agg["ci_high"]
    topics = res.agg("source", "topic", "pooled_distinct")
    assert topics is not None and topics["mean"] == 3
    words = {w["group"]: w for w in res.wording}
    assert words["source"]["vocabulary"] == 7  # good film bad fine ok meh wow
    assert words["run:1"]["vocabulary"] == 4  # great film yes wow


def test_perplexity_filter_changes_the_aggregate(tiny: Study, state: TaskState) -> None:
    plain = measure(tiny, MeasureRequest(), state)
    filtered = measure(tiny, MeasureRequest(ppl_max=20), state)
    assert filtered.filtered_out == {"run:1": 1}
    # the ppl-30 NEGATIVE sample is gone: run share positive goes from (1/2 + 1)/2 to 1
    before = plain.agg("run:1", S, "share_positive")
    after = filtered.agg("run:1", S, "share_positive")
    assert before is not None and after is not None
    assert before["mean"] == pytest.approx(0.75) and after["mean"] == pytest.approx(1.0)
    # the source never passes through the filter
    assert plain.agg("source", S, "mean") == filtered.agg("source", S, "mean")


def test_json_is_strict_and_runs_resolve(tiny: Study, state: TaskState) -> None:
    res = measure(tiny, MeasureRequest(runs=("r1",), attributes=(S,)), state)
    doc = json.loads(res.to_json())  # allow_nan=False inside: no NaN leaks
    assert doc["schema"] == "monoscope.measure/1"
    assert [g["key"] for g in doc["groups"]] == ["source", "run:1"]
    assert set(doc["attributes"]) == {S}
    with pytest.raises(MeasureError, match="Runs: 1 \\(r1\\)"):
        measure(tiny, MeasureRequest(runs=("nope",)), state)


def test_per_prompt_table_sorted_by_index(tiny: Study) -> None:
    rows = per_prompt_table(tiny, "films", S)
    assert [r["prompt"] for r in rows] == ["b", "a"]  # b: index 0 (narrower), a: 1/h
    assert rows[0]["n_source"] == 2 and rows[0]["n[run:1]"] == 1
    assert rows[0]["monoculture_index"] == 0.0


def test_cli_measure_json_and_table(tiny: Study, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(tiny.path)
    tiny.close()
    assert main(["measure", path, "--json", "--ppl-max", "20"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["filter"] == {"ppl_max": 20.0, "dropped": {"run:1": 1}}
    assert main(["measure", path]) == 0
    out = capsys.readouterr().out
    assert "sentiment.vader" in out and "unigram entropy" in out
    assert main(["measure", path, "--run", "zzz"]) == 1
