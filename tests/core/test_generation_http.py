"""The OpenAI-compatible HTTP engine against llama-cpp-python's own server on loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest

from monoscope.core import assets
from monoscope.core.generation import RunRequest, plan_runs, run_generation
from monoscope.core.generation.http_engine import HTTPEngineError, OpenAIEngine
from monoscope.core.store import Study
from monoscope.core.tasks import TaskState

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    pytest.importorskip("uvicorn", reason="install llama-cpp-python's server extras (dev deps)")
    port = _free_port()
    model = assets.locate("smollm2")
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
           "--port", str(port), "--n_ctx", "1024", "--n_threads", "1", "--verbose", "False"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=dict(os.environ, HF_HUB_OFFLINE="1"))
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/models", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode()[-2000:] if proc.stderr else ""
                pytest.fail(f"llama_cpp.server did not start: {err}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_http_run_writes_the_same_records(server: str, study: Study) -> None:
    with study.transaction() as cur:
        cur.execute("INSERT INTO datasets (name, kind) VALUES ('films', 'text')")
        cur.execute("INSERT INTO prompts (dataset_id, key, title) VALUES (1, 'm0', 'Signs')")
    ids = plan_runs(study, RunRequest("films", model="smollm2", n=2, max_tokens=6,
                                      engine="http", base_url=server))
    s = run_generation(study, ids[0], TaskState())
    assert s.status == "finished" and s.total == 2
    run = study.query("SELECT engine, engine_version FROM runs")[0]
    assert run["engine"] == "http" and server.removesuffix("/v1") in run["engine_version"]
    rows = study.query("SELECT g.*, t.body FROM generations g JOIN texts t ON t.id = g.text_id "
                       "ORDER BY sample_index")
    assert len(rows) == 2
    for r in rows:
        assert r["prompt_text"].startswith("<|im_start|>")  # chat template from the GGUF
        assert 0 < r["n_tokens"] <= 6 and r["n_prompt_tokens"] > 10
        assert r["finish_reason"] in ("eos", "length")
        assert r["mean_logprob"] is not None and r["mean_logprob"] < 0
        assert r["perplexity"] > 1
        assert json.loads(r["params"])["seed"] == r["seed"]


def test_http_same_seed_same_text(server: str) -> None:
    from monoscope.core.generation.engine import Job
    from monoscope.core.generation.sampling import SamplingParams

    eng = OpenAIEngine(server)
    out: list = []
    jobs = [Job(1, 0, 42, "The film was"), Job(1, 1, 42, "The film was")]
    eng.generate(jobs, SamplingParams(temperature=1.0, max_tokens=8), out.append)
    assert out[0].text == out[1].text and out[0].text


def test_unreachable_server_is_a_clear_error() -> None:
    from monoscope.core.generation.engine import Job
    from monoscope.core.generation.sampling import SamplingParams

    eng = OpenAIEngine(f"http://127.0.0.1:{_free_port()}", timeout_s=2)
    with pytest.raises(HTTPEngineError, match="Is the server running"):
        eng.generate([Job(1, 0, 1, "x")], SamplingParams(max_tokens=2), lambda r: None)


def test_http_remote_only_model_gets_completion_prompts(server: str, study: Study) -> None:
    with study.transaction() as cur:
        cur.execute("INSERT INTO datasets (name, kind) VALUES ('films', 'text')")
        cur.execute("INSERT INTO prompts (dataset_id, key, title) VALUES (1, 'm0', 'Signs')")
    ids = plan_runs(study, RunRequest("films", model="none", remote_model="served-model", n=1,
                                      max_tokens=4, engine="http", base_url=server))
    run_generation(study, ids[0], TaskState())
    assert study.scalar("SELECT model_id FROM runs") is None
    row = study.query("SELECT prompt_text, n_tokens FROM generations")[0]
    assert row["prompt_text"] == "Below is a personalized review of the movie titled Signs: "
    assert row["n_tokens"] > 0
