"""The models of a chain in a helper process (`monoscope.core.offload`): the same numbers as in
process, the helper ended with its session (nothing the chain loaded stays), errors and a
cancel coming back to the caller. Real MiniLM and real UMAP."""

from __future__ import annotations

import os
import signal
from typing import Any

import numpy as np
import pytest

from monoscope.core import offload
from monoscope.core.analysis import projection_models
from monoscope.core.attributes import embedding
from monoscope.core.errors import TaskCancelled
from monoscope.core.generation import RunRequest
from monoscope.core.generation.engine import SampleResult
from monoscope.core.pipeline import Annotate, Generate, Project, run_chain
from monoscope.core.store import Study, content_hash
from monoscope.core.tasks import TaskState
from monoscope.testing import raw_connection

pytestmark = pytest.mark.slow

SUBJECTS = ["The film", "This movie", "The director", "The cast", "The script"]
VERBS = ["is a tender", "feels like a clumsy", "offers a dazzling", "remains a forgettable"]
ENDS = ["story of love.", "heist thriller.", "war epic.", "comedy of errors.", "ghost tale."]


def sentences(n: int, offset: int) -> list[str]:
    return [f"{SUBJECTS[(i + offset) % 5]} {VERBS[(i // 5 + offset) % 4]} "
            f"{ENDS[(i * 3 + offset) % 5]} ({i + offset})" for i in range(n)]


class Fake:
    """A deterministic engine: no llama.cpp model."""

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
            on_result(SampleResult(j, f"A generated review {j.prompt_id}/{j.sample_index}.",
                                   5, 3, "length", -1.0, 2.7, 1.0))


def films(st: Study) -> None:
    """Two prompts of 20 human texts each (enough for a UMAP map per prompt)."""
    con = raw_connection(st)
    con.execute("INSERT INTO datasets (name, kind, meta) VALUES ('films', 'text', '{}')")
    for i, key in enumerate(("m0", "m1")):
        pid = con.execute("INSERT INTO prompts (dataset_id, key, title, context) VALUES "
                          "(1, ?, ?, 'x') RETURNING id", [key, f"Film {i}"]).fetchone()[0]
        for j, body in enumerate(sentences(20, 7 * i)):
            con.execute("INSERT INTO texts (prompt_id, origin, sample_index, body, content_hash) "
                        "VALUES (?, 'source', ?, ?, ?)", [pid, j, body, content_hash(body)])


@pytest.fixture
def helpers(monkeypatch: pytest.MonkeyPatch) -> list[offload.Helper]:
    """Every helper a session starts, kept for the test to inspect."""
    made: list[offload.Helper] = []

    class Recorded(offload.Helper):
        def __init__(self, state: TaskState | None = None) -> None:
            super().__init__(state)
            made.append(self)

    monkeypatch.setattr(offload, "Helper", Recorded)
    return made


def test_a_chain_in_a_session_runs_its_models_in_the_helper_and_ends_it(
        study: Study, helpers: list[offload.Helper], monkeypatch: pytest.MonkeyPatch) -> None:
    """After a run, annotate + project in a session: the embedder and UMAP load only in the
    helper process (they would raise here), which has ended when the chain returns."""
    films(study)

    def not_here(*_a: Any, **_k: Any) -> None:
        raise AssertionError("a model was loaded in the calling process")

    monkeypatch.setattr(embedding.TorchEmbedder, "__init__", not_here)
    monkeypatch.setattr(projection_models.Umap, "__init__", not_here)
    req = RunRequest("films", model="none", engine="http", base_url="http://127.0.0.1:9/v1",
                     remote_model="fake", n=2, prompt_keys=("m1",))
    with offload.session() as helper:
        assert offload.current() is helper and not helper.alive()  # started on first use
        results = run_chain(study, [
            Generate([req], engine=Fake()),
            Annotate(attributes=("embedding", "text.words"), threads=1),
            Project(method="umap")], TaskState())
        pid = helper.pid
    assert offload.current() is None
    assert helpers == [helper] and pid is not None
    # the helper loaded the models, and has ended: what it loaded is gone with it
    assert helper.calls.count("embed") == 1
    assert {"umap_fit", "umap_save", "umap_transform"} <= set(helper.calls)
    assert helper.proc is not None and helper.proc.returncode is not None and not helper.alive()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    # exactly what changed: 40 human + 2 generated texts embedded, maps for the dataset and
    # the run's prompt only, every text of each scope placed
    assert [r.name for r in results] == ["generate", "annotate", "project"]
    assert study.scalar("SELECT count(*) FROM embeddings") == 42
    maps = {(r["scope"], int(r["n"])) for r in study.query(
        "SELECT scope, count(*) AS n FROM projections JOIN projection_points ON "
        "projection_points.projection_id = projections.id GROUP BY scope")}
    assert maps == {("dataset", 42), ("prompt:m1", 22)}
    for (fp,) in raw_connection(study).execute(
            "SELECT json_extract_string(params, '$.fingerprint') FROM projections").fetchall():
        assert projection_models.model_cache(fp).is_file()  # saved by the helper, for later


def test_the_helper_computes_what_the_process_computes(helpers: list[offload.Helper]) -> None:
    """The same vectors (MiniLM) and the same map (UMAP fit and transform), bit for bit."""
    texts = sentences(24, 0)
    x = embedding.load_embedder("torch", 1).encode(texts)
    rest = x[16:]
    local = projection_models.Umap(x[:16], 15, 0.1, 42)
    with offload.session() as helper:
        remote = helper.call("embed", "torch", 1, texts)
        fitted = projection_models.fit_umap(x[:16], 15, 0.1, 42)
        assert isinstance(fitted, projection_models.OffloadedUmap)
        placed = fitted.transform(rest)
    assert remote.dtype == np.float32 and np.array_equal(remote, x)
    assert np.array_equal(fitted.embedding, local.embedding)
    assert np.array_equal(placed, local.transform(rest))
    assert not helper.alive()


def test_errors_and_cancel_come_back_to_the_caller() -> None:
    x = np.zeros((2, 4), dtype=np.float32)
    state = TaskState()
    with offload.session(state) as helper:
        pid = helper.call("ping")
        assert pid == helper.pid and pid != os.getpid()
        with pytest.raises(KeyError):  # the child's own exception, raised here
            helper.call("umap_transform", 12345, x)
        assert helper.call("ping") == pid  # and the child goes on serving
        state.cancel()
        with pytest.raises(TaskCancelled):
            helper.call("ping")
        assert not helper.alive()  # a cancel kills the child
    with offload.session() as helper:
        pid = helper.call("ping")
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(offload.HelperError, match="model helper process ended"):
            helper.call("ping")
