"""FleetEngine against llama.cpp's real `llama-server` binary on 127.0.0.1 (skipped when there
is none: set $LLAMA_SERVER, put it on PATH, or build it as benchmarks/fleet.py's
LLAMA_SERVER_HINT says). The stubs of test_fleet_protocol.py mimic its protocol; this checks it
against the server itself: /props slots, several completions per request (`n`) seeded
seed + k, the settings it echoes under `verbose`, and its own defaults (top_k 40, min_p 0.05)
overridden by what the run asked for."""

from __future__ import annotations

import json
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fleet_servers import LlamaCppServer, find_llama_server

from monoscope.core import assets
from monoscope.core.generation.engine import Job, SampleResult
from monoscope.core.generation.fleet import FleetEngine, ServerSpec, probe
from monoscope.core.generation.sampling import SamplingParams

pytestmark = pytest.mark.slow

PROMPT = "Once upon a time"


@pytest.fixture(scope="module")
def server() -> Iterator[LlamaCppServer]:
    binary = find_llama_server()
    if binary is None:
        pytest.skip("no llama-server binary ($LLAMA_SERVER, PATH or /tmp/llama-srv/bin): "
                    "build it as benchmarks/fleet.py's LLAMA_SERVER_HINT says")
    srv = LlamaCppServer(binary, assets.locate("smollm2"), slots=4, threads=1, ctx_per_slot=256)
    srv.wait_ready()
    yield srv
    srv.stop()


def _post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    req = urllib.request.Request(url + "/v1/completions", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=300) as r:
        out: dict[str, Any] = json.loads(r.read())
    return out


def test_probe_real_llama_server(server: LlamaCppServer) -> None:
    info = probe(ServerSpec(server.url))
    assert (info.healthy, info.kind, info.slots, info.slots_from, info.fields_from) == (
        True, "llama-server", 4, "/props total_slots", "/props")
    assert info.multi and info.multi_field == "n"  # `n` is its alias of n_cmpl
    assert info.fields is not None and {"top_k", "min_p", "repeat_penalty"} <= info.fields


def test_n_completions_seeds_and_applied_settings(server: LlamaCppServer) -> None:
    eng = FleetEngine([ServerSpec(server.url)], depth=0)
    jobs = [Job(p, i, 1000 * p + i, f"{PROMPT} {p}") for p in (1, 2) for i in range(4)]
    out: list[SampleResult] = []
    params = SamplingParams(temperature=0.8, top_p=1.0, top_k=50, max_tokens=8)
    eng.generate(jobs, params, out.append)
    assert sorted((r.job.prompt_id, r.job.sample_index) for r in out) == [
        (p, i) for p in (1, 2) for i in range(4)]
    for r in out:
        p = r.provenance or {}
        assert (p["server_kind"], p["completions"], p["checked"]) == ("llama-server", 4, "response")
        assert p["request_seed"] == 1000 * r.job.prompt_id  # the first sample's seed
        assert p["sample_seed"] == p["request_seed"] + p["completion_index"]
        # min_p 0 and top_k 50 were sent and applied (the server's defaults are 0.05 and 40)
        assert p["sent"]["min_p"] == 0.0 and p["applied"]["min_p"] == 0.0
        assert p["applied"]["top_k"] == 50 and p["applied"]["seed"] == p["request_seed"]
        assert p["applied"]["max_tokens"] == 8 and "overridden" not in p
        assert 1 <= r.n_tokens <= 8 and r.mean_logprob is not None and r.mean_logprob < 0
        assert r.finish_reason == ("length" if r.n_tokens == 8 else "eos")
    # completion k of a request is what one request with seed + k generates
    third = next(r for r in out if r.job.prompt_id == 1 and r.job.sample_index == 2)
    p = third.provenance or {}
    alone = _post(server.url, {"prompt": third.job.prompt_text,
                               **{**p["sent"], "seed": p["sample_seed"]}})
    assert alone["choices"][0]["text"] == third.text
    assert len({r.text for r in out}) == 8  # distinct seeds, distinct samples


def test_without_logprobs_one_sample_per_request(server: LlamaCppServer) -> None:
    """llama-server's usage counts only a request's first completion: without logprobs (the
    per-completion count) each sample gets its own request and its own exact count."""
    eng = FleetEngine([ServerSpec(server.url)], depth=0, logprobs=False)
    out: list[SampleResult] = []
    eng.generate([Job(1, i, 7 + i, PROMPT) for i in range(3)],
                 SamplingParams(top_k=50, max_tokens=6), out.append)
    assert sorted(r.job.sample_index for r in out) == [0, 1, 2]
    for r in out:
        p = r.provenance or {}
        assert "completions" not in p and p["request_seed"] == 7 + r.job.sample_index
        sent = {**p["sent"], "seed": p["request_seed"]}
        again = _post(server.url, {"prompt": PROMPT, **sent})
        assert (r.text, r.n_tokens) == (again["choices"][0]["text"],
                                        again["usage"]["completion_tokens"])
        assert r.mean_logprob is None
