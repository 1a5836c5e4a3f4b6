"""OpenAI-compatible HTTP engine (llama.cpp's server, llama-cpp-python's server, vLLM, ...).

Sends the already rendered prompt to the legacy ``/completions`` endpoint, one request per
sample with the sample's seed (a few in flight at once), and asks for token log-probabilities so the run records
perplexity when the server provides them. Same `SampleResult`s as the in-process engine.
Standard library only (urllib).
"""

from __future__ import annotations

import json
import math
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

from monoscope.core.errors import MonoscopeError
from monoscope.core.generation.engine import Job, ResultCallback, SampleResult, StepCallback
from monoscope.core.generation.sampling import SamplingParams


class HTTPEngineError(MonoscopeError):
    """The server could not be reached or refused a request."""


class OpenAIEngine:
    """Client for an OpenAI-compatible completions endpoint."""

    name = "http"

    def __init__(
        self, base_url: str, model: str | None = None, api_key: str | None = None,
        timeout_s: float = 600.0, logprobs: bool = True, concurrency: int = 4,
    ) -> None:
        url = base_url.rstrip("/")
        self.base_url = url if url.endswith("/v1") else url + "/v1"
        self.model = model
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.logprobs = logprobs
        self.concurrency = max(1, int(concurrency))
        self._server: str | None = None

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        req = urllib.request.Request(
            self.base_url + path, data=json.dumps(body).encode(), method="POST",
            headers={"Content-Type": "application/json"}
            | ({"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}),
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                self._server = resp.headers.get("Server") or self._server
                data: dict[str, Any] = json.loads(resp.read())
                return data
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:300]
            raise HTTPEngineError(f"{self.base_url}{path} answered {exc.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise HTTPEngineError(
                f"Cannot reach {self.base_url}: {exc}. Is the server running? Check --base-url."
            ) from None

    def version(self) -> str:
        return f"openai-http {self.base_url}" + (f" ({self._server})" if self._server else "")

    def context_limit(self) -> int | None:
        return None  # unknown over HTTP; the server rejects prompts that do not fit

    def count_tokens(self, text: str) -> int | None:
        return None

    def close(self) -> None:
        pass

    def _body(self, job: Job, params: SamplingParams, logprobs: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "prompt": job.prompt_text, "max_tokens": params.max_tokens,
            "temperature": params.temperature, "top_p": params.top_p, "seed": job.seed % (2**31),
            "n": 1, "stream": False,
        }
        if self.model:
            body["model"] = self.model
        if params.top_k:
            body["top_k"] = params.top_k  # llama.cpp / vLLM extension
        if params.min_p:
            body["min_p"] = params.min_p
        if params.repeat_penalty != 1.0:
            body["repeat_penalty"] = params.repeat_penalty
        if params.stop:
            body["stop"] = list(params.stop)
        if logprobs:
            body["logprobs"] = 1
        return body

    def generate(
        self,
        jobs: Sequence[Job],
        params: SamplingParams,
        on_result: ResultCallback,
        check: Callable[[], None] = lambda: None,
        on_step: StepCallback | None = None,
    ) -> None:
        """One request per sample, `concurrency` in flight; results and `check()` run in the
        calling thread, so the runner commits from its own thread."""
        from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

        pending: set[Future[SampleResult]] = set()
        queue = list(jobs)
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            try:
                while queue or pending:
                    check()
                    while queue and len(pending) < self.concurrency:
                        pending.add(pool.submit(self._one, queue.pop(0), params))
                    done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                    for fut in done:
                        res = fut.result()
                        if on_step is not None:
                            on_step(res.n_tokens)
                        on_result(res)
            except BaseException:
                for fut in pending:
                    fut.cancel()
                raise

    def _one(self, job: Job, params: SamplingParams) -> SampleResult:
        t0 = time.perf_counter()
        try:
            data = self._post("/completions", self._body(job, params, self.logprobs))
        except HTTPEngineError:
            if not self.logprobs:
                raise
            self.logprobs = False  # some servers refuse logprobs: go on without perplexity
            data = self._post("/completions", self._body(job, params, False))
        choice = data["choices"][0]
        usage = data.get("usage") or {}
        lps = [x for x in ((choice.get("logprobs") or {}).get("token_logprobs") or []) if x is not None]
        mean = sum(lps) / len(lps) if lps else None
        n_tokens = int(usage.get("completion_tokens") or len(lps))
        reason = choice.get("finish_reason") or "stop"
        if reason == "stop" and n_tokens < params.max_tokens and not params.stop:
            reason = "eos"
        return SampleResult(
            job, str(choice.get("text", "")), int(usage.get("prompt_tokens") or 0), n_tokens,
            reason, mean, math.exp(-mean) if mean is not None else None,
            (time.perf_counter() - t0) * 1000.0,
        )
