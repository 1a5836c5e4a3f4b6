"""Replication: presets and grid, persona rotation, decay schedules, perplexity filter, tables."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

from monoscope.core.analysis import metrics
from monoscope.core.analysis.measure import MeasureRequest, measure
from monoscope.core.generation.templates import personas, resolve_template
from monoscope.core.replicate import (
    DECAYS,
    ReplicateError,
    ReplicateRequest,
    decay_temperature,
    expand,
    persona_for,
)
from monoscope.core.replicate.estimate import estimate
from monoscope.core.replicate.tables import Column, assemble, review_metrics
from monoscope.core.store import Study
from monoscope.core.tasks import TaskState

sys.path.insert(0, str(Path(__file__).parent))
from analysis_fixture import Row, build


# -- grid expansion --------------------------------------------------------------------------
def test_paper_reviews_grid_is_the_full_protocol() -> None:
    cfgs = expand(ReplicateRequest("reviews", "films", models=("smollm2", "gemma3-base"),
                                   preset="paper"))
    assert len(cfgs) == 2 * (5 * 4 * 2 + 2)
    for model in ("smollm2", "gemma3-base"):
        mine = [c for c in cfgs if c.model == model and c.decay is None]
        for template in ("personalized", "personation"):
            grid = {(c.temperature, c.top_p) for c in mine if c.template == template}
            assert grid == {(t, p) for t in (0.5, 0.8, 1.0, 1.2, 1.5)
                            for p in (0.90, 0.95, 0.98, 1.00)}
        decays = [c for c in cfgs if c.model == model and c.decay]
        assert sorted(c.decay for c in decays) == ["exponential", "linear"]  # type: ignore[type-var]
    assert {c.top_k for c in cfgs} == {50}
    assert {(c.n, c.max_tokens, c.prompts) for c in cfgs} == {(10, 500, None)}
    assert len({c.label for c in cfgs}) == len(cfgs)  # every run has its own label


def test_quick_reviews_is_small_and_overridable() -> None:
    cfgs = expand(ReplicateRequest("reviews", "films", models=("smollm2",)))
    assert [(c.template, c.temperature, c.top_p) for c in cfgs] == [
        ("personalized", 0.5, 0.9), ("personalized", 0.8, 0.9), ("personalized", 1.2, 0.9),
        ("personalized", 1.5, 0.9), ("personation", 1.0, 0.9)]
    assert {(c.prompts, c.n, c.max_tokens) for c in cfgs} == {(20, 10, 64)}
    more = expand(ReplicateRequest("reviews", "films", models=("smollm2",), prompts=3, n=4,
                                   max_tokens=8, decays=True))
    assert {(c.prompts, c.n, c.max_tokens) for c in more} == {(3, 4, 8)}
    assert [c.decay for c in more if c.decay] == ["linear", "exponential"]


def test_code_grid() -> None:
    cfgs = expand(ReplicateRequest("code", "algorithms", models=("a", "b"), preset="paper"))
    assert [(c.model, c.temperature, c.top_p) for c in cfgs] == [
        (m, t, p) for m in ("a", "b") for t in (0.5, 1.0) for p in (0.9, 1.0)]
    assert {c.template for c in cfgs} == {"code"} and {c.n for c in cfgs} == {20}


@pytest.mark.parametrize("kwargs", [{"protocol": "poems"}, {"preset": "huge"}, {"n": 0},
                                    {"models": ()}])
def test_bad_requests_say_what_to_do(kwargs: dict[str, object]) -> None:
    base: dict[str, object] = {"protocol": "reviews", "dataset": "films"}
    with pytest.raises(ReplicateError):
        expand(ReplicateRequest(**(base | kwargs)))  # type: ignore[arg-type]


# -- personas --------------------------------------------------------------------------------
def test_persona_i_for_sample_i() -> None:
    names = personas()
    assert len(names) == 10 and names[0] == "Trevor Noah" and names[9] == "Jordan Peele"
    assert [persona_for(i) for i in range(12)] == names + names[:2]
    tpl = resolve_template("personation", "films")
    for i in (0, 3, 9, 13):
        chat = tpl.messages("Heat", None, i)[-1]["content"]
        assert f"as if you are {names[i % 10]}" in chat and "Heat" in chat
        base = tpl.completion("Heat", None, i)  # a base model gets the completion prompt
        assert base.startswith(f"I am {names[i % 10]} and I'm writing a review")


# -- decay schedules -------------------------------------------------------------------------
def test_linear_decay_values() -> None:
    assert (DECAYS["linear"].length, DECAYS["linear"].end) == (20, 1.0)
    assert decay_temperature("linear", 0) == pytest.approx(10.0)
    assert decay_temperature("linear", 10) == pytest.approx(5.5)  # halfway: (10 + 1) / 2
    assert decay_temperature("linear", 20) == pytest.approx(1.0)
    assert decay_temperature("linear", 500) == pytest.approx(1.0)


def test_exponential_decay_values() -> None:
    assert (DECAYS["exponential"].length, DECAYS["exponential"].end) == (50, 1.2)
    assert decay_temperature("exponential", 0) == pytest.approx(10.0)
    w = math.exp(-2.5)  # i = L/2: T = 10 e^(-5 i / L) + 1.2 (1 - e^(-5 i / L))
    assert decay_temperature("exponential", 25) == pytest.approx(10 * w + 1.2 * (1 - w))
    assert decay_temperature("exponential", 25) == pytest.approx(1.9224, abs=1e-4)
    assert decay_temperature("exponential", 50) == pytest.approx(1.2)
    assert decay_temperature("exponential", 10_000) == pytest.approx(1.2)
    cfg = next(c for c in expand(ReplicateRequest("reviews", "f", decays=True)) if c.decay)
    assert cfg.sampling().temperature_at(0) == pytest.approx(10.0)


# -- perplexity filter -----------------------------------------------------------------------
def test_perplexity_filter() -> None:
    ppl = [0.0, -1.0, 5.0, 20.0, 20.0001, None, math.nan, math.inf]
    p = [math.nan if v is None else v for v in ppl]
    assert metrics.perplexity_mask(p, 20.0).tolist() == [False, False, True, True, False,
                                                          False, False, False]
    assert metrics.perplexity_mask(p, 5.0).tolist() == [False, False, True] + [False] * 5


# -- table assembly on a tiny study ----------------------------------------------------------
S = "sentiment.vader"


def _p(body: str, prompt: str, label: str, run: str | None = None,
       ppl: float | None = None) -> Row:
    return Row(prompt, body, run, {S: (1.0 if label == "P" else 0.0, "POSITIVE" if label == "P"
                                       else "NEGATIVE")}, ppl)


def _tiny(study: Study) -> dict[str, int]:
    rows = [
        _p("apple pie", "a", "P"), _p("pie apple", "a", "P"), _p("Apple pie.", "a", "N"),
        _p("apple, pie", "a", "N"),
        _p("banana split", "b", "P"), _p("split banana", "b", "P"), _p("Banana split", "b", "P"),
        _p("banana split!", "b", "N"),
        _p("cherry", "c", "N"), _p("cherry tart", "c", "N"),  # c is outside the replication
        _p("great great", "a", "P", "r", 5.0), _p("great movie", "a", "P", "r", 6.0),
        _p("great fun", "a", "P", "r", 7.0), _p("awful", "a", "N", "r", 50.0),
        _p("bad", "b", "N", "r", 5.0), _p("fine", "b", "P", "r", 8.0),
        _p("superb", "b", "P", "r", 0.0),
    ]
    return build(study, rows, runs={"r": {"temperature": 0.8, "top_p": 0.9}})


def _h(*p: float) -> float:
    return -sum(x * math.log2(x) for x in p if x > 0)


def test_table_against_hand_computed_values(study: Study) -> None:
    run = _tiny(study)["r"]
    key = f"run:{run}"
    cols = [Column("source", "source"), Column(key, "r")]
    h3 = _h(1 / 3, 2 / 3)
    # (filter, run share, run entropy, source entropy at the run's n per prompt)
    # with the filter the run keeps 3 texts of a and 2 of b: every 3 of a's PPNN holds 2:1
    # (H(1/3)); of b's PPPN pairs, 3 of 6 are mixed (1 bit) -> 1/2.  Without the filter
    # the run has 4 of a (the whole source: 1 bit) and 3 of b (3 of 4 triples hold the N).
    for ppl_max, gen_share, gen_entropy, src_entropy in (
            (None, (3 / 4 + 2 / 3) / 2, (_h(3 / 4, 1 / 4) + _h(2 / 3, 1 / 3)) / 2,
             (1.0 + 3 / 4 * h3) / 2),
            (20.0, (1.0 + 0.5) / 2, (0.0 + 1.0) / 2, (h3 + 0.5) / 2)):
        res = measure(study, MeasureRequest(dataset="films", ppl_max=ppl_max, n_boot=10,
                                            draws=2000), TaskState())
        t = assemble(res, cols, review_metrics(list(res.attributes)), ["a", "b"], "tiny")
        # the source column covers prompts a and b only (c has no run): shares 1/2 and 3/4
        assert t.value("mean sentiment (share positive)", "source") == pytest.approx(
            0.625, abs=0.02)
        assert t.value("sentiment entropy (bits)", "source") == pytest.approx(
            src_entropy, abs=0.03)
        assert t.value("mean sentiment (share positive)", key) == pytest.approx(gen_share)
        assert t.value("sentiment entropy (bits)", key) == pytest.approx(gen_entropy)
        assert t.value(f"index, {S}", key) == pytest.approx(
            ((0.0 if ppl_max else _h(3 / 4, 1 / 4)) / (h3 if ppl_max else 1.0)
             + (1.0 / 0.5 if ppl_max else _h(2 / 3, 1 / 3) / (3 / 4 * h3))) / 2, rel=0.05)
        assert t.value(f"index, {S}", "source") is None
    # (the last table has the filter) wording: kept run texts great great / great movie / great fun / bad / fine
    assert t.value("vocabulary", key) == 5
    assert t.value("texts kept (perplexity filter)", key) == 5
    assert t.value("unigram entropy (bits)", key) == pytest.approx(
        _h(4 / 8, 1 / 8, 1 / 8, 1 / 8, 1 / 8))
    # source matched to the kept counts per prompt: 3 texts of a, 2 of b, whichever are drawn
    assert t.value("vocabulary", "source") == 4
    assert t.value("unigram entropy (bits)", "source") == pytest.approx(_h(0.3, 0.3, 0.2, 0.2))
    assert any("n = " in note for note in t.notes)


@pytest.mark.slow
def test_estimate_counts_finished_work_as_free(study: Study) -> None:
    """One of the five configs is run for real beforehand: the estimate then gives it no
    samples and no seconds, and leaves the other four exactly as they were."""
    from monoscope.core.generation.runs import plan_runs, run_generation
    from monoscope.core.replicate.pipeline import _run_request

    _tiny(study)
    req = ReplicateRequest("reviews", "films", models=("smollm2",), prompts=2, n=3,
                           max_tokens=10)
    cfgs = expand(req)
    assert len(cfgs) == 5
    ds = study.dataset_id("films")
    before = estimate(study, ds, cfgs)
    assert [(r.run_id, r.done, r.expected) for r in before.runs] == [(None, 0, 6)] * 5
    assert before.missing_samples == 5 * 2 * 3  # five runs, two prompts, three samples each
    (rid,) = plan_runs(study, _run_request(req, cfgs[1]))
    assert run_generation(study, rid, TaskState()).status == "finished"

    after = estimate(study, ds, cfgs)
    done = after.runs[1]
    assert (done.run_id, done.done, done.expected, done.seconds) == (rid, 6, 6, 0.0)
    for i in (0, 2, 3, 4):  # untouched: no run of theirs exists, nothing they read changed
        assert after.runs[i].run_id is None and after.runs[i].done == 0
        assert after.runs[i].seconds == before.runs[i].seconds > 0
    assert after.missing_samples == 4 * 2 * 3
    # to embed: the samples still to make, the 17 texts of the fixture and the run's 6
    assert before.embed_texts == 30 + 17 and after.embed_texts == 24 + 17 + 6
    assert after.seconds == pytest.approx(before.seconds - before.runs[1].seconds)
    assert "24 samples to generate" in after.describe()
    assert "(4 with work left)" in after.describe()


def test_paper_preset_refuses_without_a_terminal(study_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from monoscope.cli import main

    with Study(study_path) as st:
        _tiny(st)
    code = main(["replicate", "reviews", str(study_path), "--dataset", "films", "--preset",
                 "paper", "--model", "smollm2"])
    err = capsys.readouterr().err
    assert code == 1 and "--yes" in err and "hours" in err
    with Study(study_path) as st:  # nothing was planned
        assert st.scalar("SELECT count(*) FROM runs") == 1


