"""run_chain: step order, per-step results and progress, cancel between steps, and scope."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from monoscope.core.errors import TaskCancelled
from monoscope.core.generation import RunRequest
from monoscope.core.generation.engine import SampleResult
from monoscope.core.pipeline import (
    ChainRequest,
    Generate,
    Project,
    StepResult,
    StepStarted,
    run_chain,
)
from monoscope.core.store import Study, content_hash
from monoscope.core.tasks import Progress, TaskState
from monoscope.testing import raw_connection

KEYS = ["m0", "m1", "m2", "m3"]


class Step:
    """A stage that records its call, opens its own progress section and leaves a note."""

    def __init__(self, name: str, calls: list[str], on_run: Any = None) -> None:
        self.name = name
        self.calls = calls
        self.on_run = on_run

    def run(self, request: ChainRequest, state: TaskState) -> str:
        self.calls.append(self.name)
        state.begin(f"{self.name} work", 1)
        state.progress(1, 1)
        request.notes.append(f"note from {self.name}")
        if self.on_run:
            self.on_run(request, state)
        return f"{self.name} done"


class Fake:
    """A deterministic engine: no model needed."""

    name = "fake"

    def version(self) -> str:
        return "fake 1"

    def context_limit(self) -> None:
        return None

    def count_tokens(self, text: str) -> None:
        return None

    def close(self) -> None:
        pass

    def generate(self, jobs: Any, params: Any, on_result: Any, check: Any = lambda: None,
                 on_step: Any = None) -> None:
        for j in jobs:
            check()
            on_result(SampleResult(j, f"generated {j.prompt_id}/{j.sample_index}", 5, 3,
                                   "length", -1.0, 2.7, 1.0))


def films(st: Study) -> None:
    con = raw_connection(st)
    con.execute("INSERT INTO datasets (name, kind, meta) VALUES ('films', 'text', '{}')")
    for i, key in enumerate(KEYS):
        pid = con.execute("INSERT INTO prompts (dataset_id, key, title, context) VALUES "
                          "(1, ?, ?, 'x') RETURNING id", [key, f"Film {i}"]).fetchone()[0]
        for j in range(4):
            body = f"review {j} of film {i}"
            con.execute("INSERT INTO texts (prompt_id, origin, sample_index, body, content_hash) "
                        "VALUES (?, 'source', ?, ?, ?)", [pid, j, body, content_hash(body)])


def test_steps_run_in_chain_order_each_with_its_record(study: Study) -> None:
    calls: list[str] = []
    seen: list[Progress] = []
    events: list[Any] = []
    state = TaskState(on_progress=seen.append, on_partial=events.append, min_interval_s=0)
    steps = [Step("measure", calls), Step("annotate", calls), Step("project", calls)]
    results = run_chain(study, steps, state, dataset="films")
    assert calls == ["annotate", "project", "measure"]
    assert [r.name for r in results] == calls
    assert results[0].value == "annotate done" and results[0].notes == ["note from annotate"]
    assert all(r.seconds >= 0 for r in results)
    # each step's own progress section, in order
    stages = [p.stage for p in seen]
    assert stages.index("annotate work") < stages.index("project work") < stages.index("measure work")
    assert [e.name for e in events if isinstance(e, StepStarted)] == calls
    assert [e.name for e in events if isinstance(e, StepResult)] == calls


def test_unknown_or_repeated_steps_are_refused(study: Study) -> None:
    with pytest.raises(ValueError, match="Unknown chain step 'report'"):
        run_chain(study, [Step("report", [])], TaskState())
    with pytest.raises(ValueError, match="each step once"):
        run_chain(study, [Step("project", []), Step("project", [])], TaskState())


def test_cancel_stops_between_steps(study: Study) -> None:
    calls: list[str] = []
    state = TaskState()
    steps = [Step("annotate", calls, on_run=lambda _r, s: s.cancel()), Step("measure", calls)]
    with pytest.raises(TaskCancelled):
        run_chain(study, steps, state)
    assert calls == ["annotate"]


def test_after_a_run_the_chain_projects_only_its_prompts(study: Study) -> None:
    """A 2-prompt run followed by project draws the dataset map and those 2 prompts' maps
    (the window's follow-up once projected every prompt of the dataset)."""
    films(study)
    rng = np.random.default_rng(0)

    def embed(request: ChainRequest, _state: TaskState) -> None:  # stands in for annotate
        con = raw_connection(request.study)
        for (h,) in con.execute("SELECT DISTINCT content_hash FROM texts").fetchall():
            con.execute("INSERT INTO embeddings VALUES (?, 'all-MiniLM-L6-v2', 'torch', 8, ?)",
                        [h, rng.normal(size=8).astype(np.float32).tolist()])

    req = RunRequest("films", model="none", engine="http", base_url="http://127.0.0.1:9/v1",
                     remote_model="fake", n=2, prompt_keys=("m3", "m1"))
    results = run_chain(study, [Project(method="pca"), Step("annotate", [], on_run=embed),
                                Generate([req], engine=Fake())], TaskState())
    gen = results[0]
    assert gen.name == "generate" and [s.generated_now for s in gen.value] == [4]
    scopes = {r["scope"] for r in study.query("SELECT DISTINCT scope FROM projections")}
    assert scopes == {"dataset", "prompt:m1", "prompt:m3"}
    assert results[-1].value.dataset == "films"
    # Without a generate step the scope is the dataset: every prompt gets its map.
    request = ChainRequest(study, "films")
    assert Project().scopes_for(request) == ("dataset", "prompts")
    assert Project(scopes=("dataset",)).scopes_for(request) == ("dataset",)


def test_generate_resumes_runs_and_reports_each(study: Study) -> None:
    films(study)
    from monoscope.core.generation import plan_runs

    (rid,) = plan_runs(study, RunRequest("films", model="none", engine="http",
                                         base_url="http://127.0.0.1:9/v1", remote_model="fake",
                                         n=1, prompts=2))
    events: list[Any] = []
    (res,) = run_chain(study, [Generate(run_ids=[rid], engine=Fake())],
                       TaskState(on_partial=events.append))
    assert [s.total for s in res.value] == [2]
    tagged = [e for e in events if isinstance(e, tuple)]
    assert tagged[0] == ("started", rid) and tagged[-1][0] == "ended"
    assert tagged[-1][1].run_id == rid and tagged[-1][1].status == "finished"
    assert study.scalar("SELECT status FROM runs") == "finished"
