"""FleetEngine against the vLLM and llama-server protocols, served by tiny stdlib HTTP servers
of this test on 127.0.0.1 (no vLLM or llama-server binary here): slot discovery, ``n``
completions per request, fields a server does not declare, settings a server overrides.
The real-model fleet tests are in test_generation_fleet.py."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from monoscope.core.generation.engine import Job, SampleResult
from monoscope.core.generation.fleet import FleetEngine, ServerSpec, probe
from monoscope.core.generation.sampling import SamplingParams


class _Stub(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, kind: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.kind = kind
        self.bodies: list[dict[str, Any]] = []
        self.url = f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: _Stub

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, code: int, obj: Any) -> None:
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        kind = self.server.kind
        if self.path == "/v1/models":
            self._send(200, {"data": [{"id": "served", "owned_by": "vllm" if kind == "vllm" else "llamacpp"}]})
        elif self.path == "/props" and kind == "llama-server":
            self._send(200, {"total_slots": 4, "default_generation_settings": {"params": {
                "temperature": 0.8, "top_k": 40, "top_p": 0.95, "min_p": 0.05, "seed": -1,
                "n_predict": -1, "repeat_penalty": 1.0}}})
        elif self.path == "/openapi.json" and kind == "vllm":
            props = {k: {} for k in ("model", "prompt", "n", "seed", "temperature", "top_p",
                                     "top_k", "max_tokens", "stop", "logprobs",
                                     "repetition_penalty", "stream")}
            self._send(200, {"paths": {"/v1/completions": {"post": {"requestBody": {"content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/CompletionRequest"}}}}}}},
                "components": {"schemas": {"CompletionRequest": {"properties": props}}}})
        else:
            self._send(404, {"detail": "Not Found"})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.bodies.append(body)
        kind = self.server.kind
        n = int(body.get("n_cmpl" if kind == "llama-server" else "n") or 1)
        choices = [{"index": i, "text": f" s{body.get('seed')}c{i}", "finish_reason": "length",
                    "logprobs": {"token_logprobs": [-0.5, -1.5]}} for i in range(n)]
        out: dict[str, Any] = {"choices": choices,
                               "usage": {"prompt_tokens": 5, "completion_tokens": 2 * n}}
        if kind == "llama-server":  # echoes what it applied; this one caps top_k at 20
            out["generation_settings"] = {"temperature": body.get("temperature"), "top_k": 20,
                                          "top_p": body.get("top_p"), "seed": body.get("seed"),
                                          "n_predict": body.get("max_tokens")}
        self._send(200, out)


@pytest.fixture
def stub(request: pytest.FixtureRequest) -> Iterator[_Stub]:
    srv = _Stub(request.param)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.mark.parametrize("stub", ["vllm"], indirect=True)
def test_vllm_cap_n_per_request_and_undeclared_field(stub: _Stub) -> None:
    info = probe(ServerSpec(stub.url), vllm_cap=8)
    assert (info.kind, info.slots, info.slots_from, info.multi, info.multi_field) == (
        "vllm", 8, "vllm cap", True, "n")
    eng = FleetEngine([ServerSpec(stub.url)], vllm_cap=8, depth=0)
    jobs = [Job(1, i, 100 + i, "prompt A") for i in range(6)] + [Job(2, 0, 200, "prompt B")]
    out: list[SampleResult] = []
    stub.bodies.clear()
    eng.generate(jobs, SamplingParams(max_tokens=2, top_k=40, min_p=0.05, repeat_penalty=1.1),
                 out.append)
    got = sorted((r.job.prompt_id, r.job.sample_index) for r in out)
    assert got == [(1, i) for i in range(6)] + [(2, 0)]
    sent = [b for b in stub.bodies if b.get("prompt") != "The"]
    assert sorted((b["prompt"], b.get("n", 1)) for b in sent) == [("prompt A", 6), ("prompt B", 1)]
    a = next(b for b in sent if b["prompt"] == "prompt A")
    assert a["seed"] == 100 and a["repetition_penalty"] == 1.1 and "repeat_penalty" not in a
    by_index = {r.job.sample_index: r for r in out if r.job.prompt_id == 1}
    for i, r in by_index.items():
        p = r.provenance or {}
        assert r.text == f" s100c{i}" and r.n_tokens == 2
        assert (p["completions"], p["completion_index"], p["request_seed"]) == (6, i, 100)
        assert p["ignored"] == ["min_p"] and p["checked"] == "openapi"
        assert p["applied"] == {"temperature": 0.8, "top_p": 1.0, "seed": 100, "max_tokens": 2,
                                "top_k": 40, "repetition_penalty": 1.1}
        assert p["server_kind"] == "vllm" and p["server"] == stub.url


@pytest.mark.parametrize("stub", ["llama-server"], indirect=True)
def test_llama_server_slots_and_overridden_setting(stub: _Stub) -> None:
    info = probe(ServerSpec(stub.url))
    assert (info.kind, info.slots, info.slots_from, info.fields_from) == (
        "llama-server", 4, "/props total_slots", "/props")
    assert (info.multi, info.multi_field) == (True, "n_cmpl")  # `n` alone gave one choice
    eng = FleetEngine([ServerSpec(stub.url, slots=1)], depth=0)
    out: list[SampleResult] = []
    eng.generate([Job(1, 0, 7, "p"), Job(1, 1, 8, "p")], SamplingParams(max_tokens=2, top_k=40),
                 out.append)
    assert len(out) == 2
    for r in out:  # slots=1 set by hand: one sample per request
        p = r.provenance or {}
        assert "completions" not in p and p["checked"] == "response"
        assert p["overridden"] == {"top_k": 20}
        assert p["applied"]["top_k"] == 20 and p["applied"]["max_tokens"] == 2
