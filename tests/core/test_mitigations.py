"""Mitigation presets (issue 14, item 8): verbalized sampling stored as k samples, a min-p sweep
and system prompts recorded as run parameters, the replicate preset, and the sweep axis."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from monoscope.core.explore.compare_data import SweepData, SweepPoint
from monoscope.core.explore.figure_data import groups
from monoscope.core.generation import RunRequest, plan_runs, run_generation
from monoscope.core.generation.engine import SampleResult
from monoscope.core.generation.verbalized import instruction, parse
from monoscope.core.replicate.presets import ReplicateRequest, expand
from monoscope.core.store import Study
from monoscope.core.tasks import TaskState

from .test_generation_runs import add_films

GOOD = ("<response><text>A tender, funny film.</text><probability>0.5</probability></response>\n"
        "<response><text>Too long by half.</text><probability>30%</probability></response>\n"
        "<response><text>Forgettable.</text><probability>0.2</probability></response>")


# -- the parser, on hand-written outputs ------------------------------------------------------
def test_parse_well_formed() -> None:
    got = parse(GOOD, 3)
    assert got.parsed and got.notes == []
    assert [(a.text, a.probability) for a in got.answers] == [
        ("A tender, funny film.", 0.5), ("Too long by half.", 0.3), ("Forgettable.", 0.2)]


def test_parse_lenient_and_flagged() -> None:
    text = ("Sure!\n<response><text> One </text><probability>1.5</probability></response>"
            "<response><text>Two</text></response>"
            "<RESPONSE>Three <probability>0.1</probability></RESPONSE>"
            "<response><text>  </text><probability>0.2</probability></response>"
            "<response><text>Four</text><probability>abc</probability></response>")
    got = parse(text, 3)
    assert got.parsed
    # tags in any case; text without <text> tags is what stands beside the probability
    assert [(a.text, a.probability) for a in got.answers] == [
        ("One", None), ("Two", None), ("Three", 0.1)]
    assert got.notes == ["probability '1.5' not in [0, 1]", "response without probability",
                         "empty response skipped", "probability 'abc' not in [0, 1]",
                         "1 answers beyond k=3 kept only in the raw output"]


@pytest.mark.parametrize("text", [
    "", "Just one review, no tags at all.", "<response><text>never closed",
    "<response> </response>",
    # what SmolLM2-135M wrote when asked for 5: no <text>, the probability outside the block
    "<response>5</response><probability>60</probability></response> \n\nMovies. You can do."])
def test_parse_malformed_keeps_the_whole_output(text: str) -> None:
    got = parse(text, 5)
    assert not got.parsed
    assert [(a.text, a.probability) for a in got.answers] == [(text, None)]
    assert got.notes


# -- a run split into samples ----------------------------------------------------------------
class Scripted:
    """An engine that answers call 0 well-formed and call 1 with free text."""

    name = "scripted"

    def version(self) -> str:
        return "scripted 1"

    def context_limit(self) -> None:
        return None

    def count_tokens(self, text: str) -> None:
        return None

    def generate(self, jobs: Any, params: Any, on_result: Any, check: Any = lambda: None,
                 on_step: Any = None) -> None:
        for j in jobs:
            check()
            text = GOOD if j.sample_index == 0 else "I liked it a lot, honestly."
            on_result(SampleResult(j, text, 11, 40, "eos", -1.0, math.e, 5.0))

    def close(self) -> None:
        pass


def stored(st: Study, run_id: int) -> list[dict[str, Any]]:
    return st.query("SELECT t.id, t.sample_index, t.body, t.meta, g.params, g.n_tokens, "
                    "g.perplexity FROM texts t JOIN generations g ON g.text_id = t.id "
                    "WHERE t.run_id = ? ORDER BY t.sample_index", [run_id])


@pytest.mark.slow
def test_verbalized_run_stores_each_answer_with_probability_and_parent(study: Study) -> None:
    add_films(study)
    (rid,) = plan_runs(study, RunRequest("films", model="smollm2", n=2, prompts=1,
                                         max_tokens=16, verbalized_k=3))
    run = study.query("SELECT label, template_text, meta FROM runs WHERE id = ?", [rid])[0]
    assert run["label"].endswith("VS k=3")
    assert instruction(3).strip() in run["template_text"]
    assert json.loads(run["meta"])["params"] == {"verbalized_k": 3}
    summary = run_generation(study, rid, TaskState(), engine=Scripted())
    assert summary.generated_now == 2 and summary.expected == 2  # calls
    rows = stored(study, rid)
    assert [r["sample_index"] for r in rows] == [0, 1, 2, 3]  # call 0 → 0..2, call 1 → 3
    assert [r["body"] for r in rows] == ["A tender, funny film.", "Too long by half.",
                                         "Forgettable.", "I liked it a lot, honestly."]
    first = rows[0]["id"]
    metas = [json.loads(r["meta"])["verbalized"] for r in rows]
    params = [json.loads(r["params"])["verbalized"] for r in rows]
    assert [m["probability"] for m in metas] == [0.5, 0.3, 0.2, None]
    assert [m["parsed"] for m in metas] == [True, True, True, False]
    assert [m["parent"] for m in metas] == [first, first, first, rows[3]["id"]]
    assert [(m["call"], m["answer"], m["of"]) for m in metas] == [
        (0, 0, 3), (0, 1, 3), (0, 2, 3), (1, 0, 1)]
    assert metas[0]["raw"] == GOOD and "raw" not in metas[1]
    assert metas[3]["raw"] == rows[3]["body"]  # malformed: stored whole, nothing lost
    assert params == [{k: v for k, v in m.items() if k != "raw"} for m in metas]
    # the call's tokens counted once; its perplexity on every answer
    assert [r["n_tokens"] for r in rows] == [40, 0, 0, 40]
    assert [r["perplexity"] for r in rows] == [pytest.approx(math.e)] * 4
    # resume: every call is done, nothing generated again
    again = run_generation(study, rid, TaskState(), engine=Scripted())
    assert again.generated_now == 0 and len(stored(study, rid)) == 4


@pytest.mark.slow
def test_verbalized_real_tiny_run_loses_nothing(study: Study,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The bundled SmolLM2 (135 M) asked for 3 answers: whatever it writes is stored either as
    its parsed answers (each found in the call's raw output) or whole, flagged."""
    monkeypatch.setenv("MONOSCOPE_THREADS", "1")
    add_films(study)
    (rid,) = plan_runs(study, RunRequest("films", model="smollm2", n=2, prompts=1,
                                         max_tokens=96, verbalized_k=3, n_parallel=2))
    run_generation(study, rid, TaskState())
    rows = stored(study, rid)
    calls: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        calls.setdefault(r["sample_index"] // 3, []).append(r)
    assert sorted(calls) == [0, 1]
    for c, got in calls.items():
        metas = [json.loads(r["meta"])["verbalized"] for r in got]
        raw = metas[0]["raw"]
        assert [r["sample_index"] for r in got] == [c * 3 + j for j in range(len(got))]
        assert all(m["parent"] == got[0]["id"] for m in metas)
        if metas[0]["parsed"]:
            assert 1 <= len(got) <= 3 and all(r["body"] in raw for r in got)
        else:
            assert len(got) == 1 and got[0]["body"] == raw


# -- min-p sweep and system prompts as run parameters -----------------------------------------
@pytest.mark.slow
def test_min_p_sweep_and_system_prompts_are_run_parameters(study: Study) -> None:
    add_films(study)
    ids = plan_runs(study, RunRequest("films", model="smollm2", n=1, prompts=1, max_tokens=8,
                                      temperatures=(1.0, 1.5), min_ps=(0.0, 0.05, 0.1, 0.2)))
    assert len(ids) == 8
    runs = study.query("SELECT id, label, sampling FROM runs ORDER BY id")
    got = [(json.loads(r["sampling"])["temperature"], json.loads(r["sampling"])["min_p"])
           for r in runs]
    assert got == [(t, mp) for t in (1.0, 1.5) for mp in (0.0, 0.05, 0.1, 0.2)]
    assert runs[1]["label"] == "smollm2 personalized-films T=1 p=1 min-p=0.05"
    (sys_id,) = plan_runs(study, RunRequest("films", model="smollm2", n=1, prompts=1,
                                            max_tokens=8, temperatures=(1.0,),
                                            system_prompt="critic"))
    meta = json.loads(study.scalar("SELECT meta FROM runs WHERE id = ?", [sys_id]))
    assert meta["params"] == {"system_prompt": "critic"}
    assert meta["system"].startswith("You are a critic")
    # the Sweep view's read model sees them
    gs = {g.run_id: g for g in groups(study, 1) if g.run_id is not None}
    assert [gs[i].parameter("min_p") for i in ids] == [0.0, 0.05, 0.1, 0.2] * 2
    assert gs[sys_id].parameter("system_prompt") == "critic"
    assert gs[ids[0]].parameter("system_prompt") == "template's"
    assert gs[ids[0]].parameter("verbalized_k") == 1.0
    points = [SweepPoint(gs[i], float(n), float(n), float(n)) for n, i in enumerate(ids)]
    data = SweepData(1, "embedding.cosine", "cosine", (0.0, 0.0, 0.0), points)
    assert data.parameters() == ["temperature", "min_p"]
    lines = data.lines("min_p")
    model = gs[ids[0]].model
    assert set(lines) == {f"{model} T=1", f"{model} T=1.5"}
    assert [data.x(p, "min_p") for p in lines[f"{model} T=1.5"]] == [0.0, 0.05, 0.1, 0.2]
    with_sys = SweepData(1, "m", "m", (0.0, 0.0, 0.0),
                         [*points[:1], SweepPoint(gs[sys_id], 9.0, 9.0, 9.0)])
    assert with_sys.parameters() == ["system_prompt"]
    assert with_sys.categories("system_prompt") == ["critic", "template's"]
    assert [with_sys.x(p, "system_prompt") for p in with_sys.points] == [1.0, 0.0]


def test_replicate_mitigations_preset() -> None:
    cfgs = expand(ReplicateRequest("reviews", "films", models=("smollm2",),
                                   preset="mitigations"))
    assert len(cfgs) == 13
    assert [(c.temperature, c.min_p) for c in cfgs[:8]] == [
        (t, mp) for t in (1.0, 1.5) for mp in (0.0, 0.05, 0.1, 0.2)]
    vs = cfgs[8]
    assert (vs.verbalized_k, vs.n, vs.max_tokens) == (5, 2, 320)  # 2 calls × 5 = 10 texts
    assert cfgs[9].template == "personation"
    assert [c.system_prompt for c in cfgs[10:]] == ["creative", "critic", "diverse"]
    assert cfgs[1].label == "smollm2 personalized T=1 p=1 min-p=0.05"
    with pytest.raises(Exception, match="reviews protocol"):
        expand(ReplicateRequest("code", "algorithms", preset="mitigations"))
