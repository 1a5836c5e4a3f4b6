"""Generate on a fleet of OpenAI-compatible inference servers (llama-server, vLLM, llama-cpp-python).

`probe(spec)` asks a server what it is and how much it can take: llama.cpp's `llama-server`
reports its slots (`/props` ``total_slots``) and its sampling fields
(``default_generation_settings``); vLLM and llama-cpp-python's server publish their request
schema (`/openapi.json`), from which the fields they would silently ignore are known; one
one-token request with ``n: 2`` (then ``n_cmpl: 2``, llama-server's own name) tells whether the
server really returns several completions per request (llama-cpp-python's accepts ``n`` and
ignores it). Nothing is assumed: what could
not be checked is recorded as unverified.

`FleetEngine` implements the `Engine` protocol over several servers: each server keeps as many
completions in flight as it has slots (+ `depth` queued, so it never idles between requests);
work goes to the server with the most free capacity; a server that supports it gets several
samples of one prompt per request (``n`` with a seed). A server that refuses a connection,
times out or dies is marked down and its in-flight samples go back to the queue for the other
servers (each sample is handed to the runner at most once: no duplicates). When every server is
down, `ServersGone` stops the run; the runner records it as interrupted and a later run of the
same command generates exactly the missing samples. Each `SampleResult` carries its provenance:
the server, the request seed and the sampling fields sent, applied and ignored.
Standard library only (urllib, threads).
"""

from __future__ import annotations

import json
import math
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monoscope.core.errors import MonoscopeError
from monoscope.core.generation.engine import Job, ResultCallback, SampleResult, StepCallback
from monoscope.core.generation.sampling import SamplingParams

DEFAULT_VLLM_CAP = 64  # requests in flight per vLLM server unless set (it batches hundreds)
MAX_THREADS = 512


class FleetError(MonoscopeError):
    """A server list that cannot be used (bad URL, bad servers file, a request the server refuses)."""


class ServersGone(MonoscopeError):
    """Every server of the run is unreachable: the run stops as interrupted."""


class _ServerFault(Exception):
    """A server-side failure (connection refused or reset, timeout, 5xx): try another server."""


# -- the server list ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ServerSpec:
    """One server as the user names it; ``slots`` set by the user overrides what it reports."""

    url: str
    slots: int | None = None

    @property
    def root(self) -> str:
        return root_url(self.url)

    def to_json(self) -> dict[str, Any]:
        return {"url": self.root, "slots": self.slots}


def root_url(url: str) -> str:
    """``http://host:port`` (any trailing ``/`` or ``/v1`` removed)."""
    u = url.strip().rstrip("/")
    if u.endswith("/v1"):
        u = u[:-3]
    if not u.startswith(("http://", "https://")):
        raise FleetError(f"Server URL {url!r} must start with http:// or https:// "
                         "(e.g. http://10.0.0.5:8080).")
    return u


def parse_servers(urls: Sequence[str] = (), file: str | Path | None = None) -> list[ServerSpec]:
    """Servers from repeated ``--base-url`` values and a ``--servers`` file.

    The file holds one server per line: ``URL`` or ``URL SLOTS`` (requests in flight for that
    server); blank lines and ``#`` comments are skipped. Duplicates are dropped.
    """
    specs: list[ServerSpec] = [ServerSpec(root_url(u)) for u in urls if u and u.strip()]
    if file is not None:
        path = Path(file)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise FleetError(f"Cannot read the servers file {path}: {exc.strerror}.") from None
        for no, line in enumerate(lines, 1):
            words = line.split("#", 1)[0].split()
            if not words:
                continue
            if len(words) > 2 or (len(words) == 2 and not words[1].isdigit()):
                raise FleetError(f"{path}:{no}: write `URL` or `URL SLOTS` (a whole number), "
                                 f"not {line.strip()!r}.")
            specs.append(ServerSpec(root_url(words[0]), int(words[1]) if len(words) == 2 else None))
    seen: dict[str, ServerSpec] = {}
    for s in specs:
        seen.setdefault(s.root, s)
    return list(seen.values())


# -- talking to a server -----------------------------------------------------------------------
def _request(url: str, body: dict[str, Any] | None, timeout: float, api_key: str | None
             ) -> tuple[dict[str, Any], str | None]:
    """GET (body None) or POST JSON; (answer, Server header). Raises `_ServerFault` for a
    server-side failure and `FleetError` for a request the server refuses (4xx)."""
    headers = {"Content-Type": "application/json"} | (
        {"Authorization": f"Bearer {api_key}"} if api_key else {})
    req = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode(),
                                 method="GET" if body is None else "POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            data = json.loads(resp.read())
            return (data if isinstance(data, dict) else {"data": data}), resp.headers.get("Server")
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")[:300]
        if exc.code >= 500 or exc.code in (408, 429):
            raise _ServerFault(f"{url} answered {exc.code}: {detail}") from None
        raise FleetError(f"{url} answered {exc.code}: {detail}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:  # refused, reset, timeout, bad JSON
        reason = getattr(exc, "reason", exc)
        raise _ServerFault(f"{url}: {reason}") from None


# our sampling field -> the names servers use for it (first accepted one is sent)
_FIELD_NAMES: dict[str, tuple[str, ...]] = {
    "temperature": ("temperature",), "top_p": ("top_p",), "top_k": ("top_k",),
    "min_p": ("min_p",), "repeat_penalty": ("repeat_penalty", "repetition_penalty"),
    "seed": ("seed",), "max_tokens": ("max_tokens", "n_predict"), "stop": ("stop",),
}


@dataclass
class ServerInfo:
    """What a probe found: health, kind, capacity and the request fields the server declares."""

    url: str
    healthy: bool = False
    kind: str = "unknown"  # llama-server | vllm | llama-cpp-python | openai
    model: str | None = None
    slots: int = 1
    slots_from: str = "default"  # user | /props total_slots | vllm cap | one request at a time
    multi: bool = False  # several completions per request really returned
    multi_field: str = "n"  # the field asking for them (``n``; llama-server also ``n_cmpl``)
    fields: frozenset[str] | None = None  # request fields the server declares; None: unknown
    fields_from: str = "unverified"  # openapi | /props | unverified
    server_header: str | None = None
    error: str | None = None
    probe_ms: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"url": self.url, "healthy": self.healthy, "kind": self.kind, "model": self.model,
                "slots": self.slots, "slots_from": self.slots_from, "multi": self.multi,
                "fields_from": self.fields_from, "error": self.error,
                "probe_ms": round(self.probe_ms, 1)}

    def send_fields(self, params: SamplingParams, seed: int) -> tuple[dict[str, Any], list[str]]:
        """(request fields with the server's names, our fields it would ignore)."""
        wanted: dict[str, Any] = {"temperature": params.temperature, "top_p": params.top_p,
                                  "seed": seed, "max_tokens": params.max_tokens}
        # a field the server declares is always sent, its neutral value included: otherwise the
        # server's own default applies silently (llama-server and llama-cpp-python's server
        # default to top_k 40 and min_p 0.05)
        declared = self.fields or frozenset()
        if params.top_k or "top_k" in declared:
            wanted["top_k"] = params.top_k or (-1 if self.kind == "vllm" else 0)  # 0/-1: off
        if params.min_p or "min_p" in declared:
            wanted["min_p"] = params.min_p
        if params.repeat_penalty != 1.0 or declared & {"repeat_penalty", "repetition_penalty"}:
            wanted["repeat_penalty"] = params.repeat_penalty
        if params.stop:
            wanted["stop"] = list(params.stop)
        body: dict[str, Any] = {}
        ignored: list[str] = []
        for ours, value in wanted.items():
            names = _FIELD_NAMES[ours]
            if self.fields is None:
                body[names[0]] = value
                continue
            name = next((n for n in names if n in self.fields), None)
            if name is None:
                ignored.append(ours)
                body[names[0]] = value  # sent anyway; recorded as ignored
            else:
                body[name] = value
        return body, ignored


def _openapi_fields(doc: dict[str, Any]) -> frozenset[str] | None:
    """Properties of the completions request schema in a FastAPI server's /openapi.json."""
    paths = doc.get("paths") or {}
    op = (paths.get("/v1/completions") or {}).get("post") or {}
    content = ((op.get("requestBody") or {}).get("content") or {}).get("application/json") or {}
    schema = content.get("schema") or {}
    schemas = (doc.get("components") or {}).get("schemas") or {}
    refs = [schema.get("$ref")] + [s.get("$ref") for s in schema.get("anyOf", []) if isinstance(s, dict)]
    props: set[str] = set()
    for ref in refs:
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            props |= set((schemas.get(ref.rsplit("/", 1)[1]) or {}).get("properties") or {})
    return frozenset(props) if props else None


def probe(spec: ServerSpec, timeout_s: float = 10.0, vllm_cap: int = DEFAULT_VLLM_CAP,
          api_key: str | None = None, test_multi: bool = True) -> ServerInfo:
    """Ask a server what it is, how many requests it takes and which fields it applies."""
    t0 = time.perf_counter()
    info = ServerInfo(spec.root)
    props: dict[str, Any] | None = None
    try:
        props, info.server_header = _request(spec.root + "/props", None, timeout_s, api_key)
    except (_ServerFault, FleetError):
        props = None
    try:
        models, hdr = _request(spec.root + "/v1/models", None, timeout_s, api_key)
        info.server_header = info.server_header or hdr
    except (_ServerFault, FleetError) as exc:
        info.error = str(exc)
        info.probe_ms = (time.perf_counter() - t0) * 1000
        return info
    data = models.get("data") or []
    first = data[0] if data and isinstance(data[0], dict) else {}
    info.model = str(first.get("id")) if first.get("id") is not None else None
    if props is not None and "total_slots" in props:
        info.kind = "llama-server"
        info.slots, info.slots_from = max(1, int(props["total_slots"])), "/props total_slots"
        settings = props.get("default_generation_settings") or {}
        declared = set(settings.get("params") or settings)
        if declared:
            info.fields = frozenset(declared | {"max_tokens", "stop", "seed"})
            info.fields_from = "/props"
    else:
        try:
            doc, _ = _request(spec.root + "/openapi.json", None, timeout_s, api_key)
        except (_ServerFault, FleetError):
            doc = {}
        fields = _openapi_fields(doc)
        if fields is not None:
            info.fields, info.fields_from = fields, "openapi"
        doc_paths = doc.get("paths") or {}
        if first.get("owned_by") == "vllm":
            info.kind = "vllm"
            info.slots, info.slots_from = max(1, vllm_cap), "vllm cap"
        elif "/extras/tokenize" in doc_paths:
            info.kind = "llama-cpp-python"  # one Llama behind a lock: one request at a time
            info.slots, info.slots_from = 1, "one request at a time"
        else:
            info.kind = "openai"
    if spec.slots:
        info.slots, info.slots_from = int(spec.slots), "user"
    info.healthy = True
    for name in ("n", "n_cmpl") if test_multi else ():
        try:
            body: dict[str, Any] = {"prompt": "The", "max_tokens": 1, name: 2, "seed": 1,
                                    "temperature": 1.0}
            if info.model:
                body["model"] = info.model
            got, _ = _request(spec.root + "/v1/completions", body, timeout_s, api_key)
            info.multi, info.multi_field = len(got.get("choices") or []) == 2, name
        except FleetError:
            info.multi = False
        except _ServerFault as exc:
            info.healthy, info.error = False, str(exc)
            break
        if info.multi:
            break
    info.probe_ms = (time.perf_counter() - t0) * 1000
    return info


def probe_all(specs: Sequence[ServerSpec], timeout_s: float = 10.0,
              vllm_cap: int = DEFAULT_VLLM_CAP, test_multi: bool = True) -> list[ServerInfo]:
    """Probe servers in parallel (the run dialog's health and capacity list)."""
    if not specs:
        return []
    with ThreadPoolExecutor(max_workers=min(16, len(specs))) as pool:
        return list(pool.map(lambda s: probe(s, timeout_s, vllm_cap, test_multi=test_multi), specs))


def choice_logprobs(choice: dict[str, Any]) -> list[float]:
    """A completion choice's token log-probabilities: OpenAI's legacy ``token_logprobs`` list
    (vLLM, llama-cpp-python) or llama-server's ``content`` list of ``{token, logprob}``."""
    lp = choice.get("logprobs")
    if not isinstance(lp, dict):
        return []
    if isinstance(lp.get("token_logprobs"), list):
        return [float(x) for x in lp["token_logprobs"] if x is not None]
    content = lp.get("content")
    if isinstance(content, list):
        return [float(t["logprob"]) for t in content
                if isinstance(t, dict) and t.get("logprob") is not None]
    return []


# -- the engine ----------------------------------------------------------------------------------
@dataclass
class _Unit:
    """Jobs sent in one request (several only to a server that returns ``n`` completions)."""

    jobs: list[Job]
    attempt: int = 1
    redone_from: list[str] = field(default_factory=list)


@dataclass
class _Server:
    info: ServerInfo
    limit: int
    in_flight: int = 0
    down: str | None = None
    samples: int = 0
    tokens: int = 0

    @property
    def free(self) -> int:
        return 0 if self.down else self.limit - self.in_flight


class FleetEngine:
    """Generate on several OpenAI-compatible servers at once (see the module docstring)."""

    name = "http"

    def __init__(
        self, servers: Sequence[ServerSpec], model: str | None = None, api_key: str | None = None,
        timeout_s: float = 600.0, logprobs: bool = True, depth: int = 1,
        vllm_cap: int = DEFAULT_VLLM_CAP, max_per_request: int = 16,
        probe_timeout_s: float = 10.0,
    ) -> None:
        if not servers:
            raise FleetError("No server given: pass --base-url URL (repeatable) or --servers FILE.")
        self.specs = list(servers)
        self.model = model
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.logprobs = logprobs
        self.depth = max(0, depth)
        self.vllm_cap = vllm_cap
        self.max_per_request = max(1, max_per_request)
        self.probe_timeout_s = probe_timeout_s
        self.servers: list[_Server] = []
        self._lock = threading.Lock()

    # Engine protocol ---------------------------------------------------------------------------
    def version(self) -> str:
        if not self.servers:
            return "openai-http fleet " + " ".join(s.root for s in self.specs)
        parts = [f"{s.info.url} ({s.info.kind}{', ' + s.info.server_header if s.info.server_header else ''}"
                 f", {s.limit} in flight)" for s in self.servers]
        return "openai-http fleet " + "; ".join(parts)

    def context_limit(self) -> int | None:
        return None  # per server; a prompt too long is refused by the server (a 400)

    def count_tokens(self, text: str) -> int | None:
        return None

    def close(self) -> None:
        pass

    def connect(self) -> list[ServerInfo]:
        """Probe every server (in parallel); raise `ServersGone` when none answers."""
        infos = probe_all(self.specs, self.probe_timeout_s, self.vllm_cap)
        self.servers = []
        for info in infos:
            server = _Server(info, info.slots + self.depth)
            if not info.healthy:
                server.down = info.error or "did not answer"
            self.servers.append(server)
        if not any(s.down is None for s in self.servers):
            raise ServersGone(self._gone_message(0))
        return infos

    def server_stats(self) -> dict[str, dict[str, Any]]:
        """Per server: samples, tokens, in flight, down reason (for the runs dock)."""
        with self._lock:
            return {s.info.url: {"samples": s.samples, "tokens": s.tokens,
                                 "in_flight": s.in_flight, "slots": s.info.slots,
                                 "down": s.down} for s in self.servers}

    def _gone_message(self, missing: int) -> str:
        why = "; ".join(f"{s.info.url}: {s.down}" for s in self.servers) or "no server"
        left = f" {missing} samples are still missing." if missing else ""
        return (f"Every server is unreachable ({why}). The run stops as interrupted.{left} "
                "Start the servers (or name others) and run the same command again: it "
                "generates exactly the missing samples.")

    # the run -----------------------------------------------------------------------------------
    def generate(
        self,
        jobs: Sequence[Job],
        params: SamplingParams,
        on_result: ResultCallback,
        check: Callable[[], None] = lambda: None,
        on_step: StepCallback | None = None,
    ) -> None:
        """Spread the jobs over the servers by free capacity; results and `check()` run in the
        calling thread (the runner commits from its own thread)."""
        if not self.servers:
            self.connect()
        queue: deque[_Unit] = deque(_Unit([j]) for j in jobs)
        handed: set[tuple[int, int]] = set()
        pending: dict[Future[list[SampleResult]], tuple[_Server, _Unit]] = {}
        workers = min(MAX_THREADS, sum(s.limit for s in self.servers))
        pool = ThreadPoolExecutor(max_workers=max(1, workers))
        try:
            while queue or pending:
                check()
                self._dispatch(queue, pending, pool, params)
                if not pending:
                    if queue:
                        raise ServersGone(self._gone_message(sum(len(u.jobs) for u in queue)))
                    break
                done, _ = wait(list(pending), timeout=0.5, return_when=FIRST_COMPLETED)
                for fut in done:
                    server, unit = pending.pop(fut)
                    with self._lock:
                        server.in_flight -= len(unit.jobs)
                    try:
                        results = fut.result()
                    except _ServerFault as exc:
                        with self._lock:
                            server.down = server.down or str(exc)
                        queue.appendleft(_Unit(unit.jobs, unit.attempt + 1,
                                               [*unit.redone_from, server.info.url]))
                        continue
                    for res in results:
                        key = (res.job.prompt_id, res.job.sample_index)
                        if key in handed:
                            continue  # never hand a sample twice
                        handed.add(key)
                        with self._lock:
                            server.samples += 1
                            server.tokens += res.n_tokens
                        if on_step is not None:
                            on_step(res.n_tokens)
                        on_result(res)
        except BaseException:
            # cancelled or failed: do not wait for requests still running on the servers
            # (their answers are dropped; those samples stay missing for the next session)
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()

    def _dispatch(self, queue: deque[_Unit], pending: dict[Future[list[SampleResult]],
                  tuple[_Server, _Unit]], pool: ThreadPoolExecutor, params: SamplingParams) -> None:
        while queue:
            live = [s for s in self.servers if s.free > 0]
            if not live:
                return
            server = max(live, key=lambda s: (s.free / s.limit, s.free))
            unit = queue.popleft()
            # llama-server's usage counts only the first completion of a request: several per
            # request only when each one's token count comes with it (its logprobs)
            group = server.info.multi and (self.logprobs or server.info.kind != "llama-server")
            if group and len(unit.jobs) == 1:
                # several samples of the same prompt in one request (n completions, one seed)
                take = min(server.free, self.max_per_request)
                while (len(unit.jobs) < take and queue and len(queue[0].jobs) == 1
                       and queue[0].jobs[0].prompt_text == unit.jobs[0].prompt_text):
                    nxt = queue.popleft()
                    unit.attempt = max(unit.attempt, nxt.attempt)
                    unit.redone_from += [u for u in nxt.redone_from if u not in unit.redone_from]
                    unit.jobs.append(nxt.jobs[0])
            with self._lock:
                server.in_flight += len(unit.jobs)
            pending[pool.submit(self._request_unit, server, unit, params)] = (server, unit)

    def _request_unit(self, server: _Server, unit: _Unit, params: SamplingParams) -> list[SampleResult]:
        info = server.info
        first = unit.jobs[0]
        seed = first.seed % (2**31)
        fields, ignored = info.send_fields(params, seed)
        body: dict[str, Any] = {"prompt": first.prompt_text, "stream": False, **fields}
        if len(unit.jobs) > 1:
            body[info.multi_field] = len(unit.jobs)
        if self.model or info.model:
            body["model"] = self.model or info.model
        if self.logprobs:
            body["logprobs"] = 1
        if info.kind == "llama-server":
            body["verbose"] = True  # its answer then carries the settings it applied
        t0 = time.perf_counter()
        try:
            data, _ = _request(info.url + "/v1/completions", body, self.timeout_s, self.api_key)
        except FleetError:
            if not self.logprobs:
                raise
            self.logprobs = False  # some servers refuse logprobs: go on without perplexity
            body.pop("logprobs", None)
            data, _ = _request(info.url + "/v1/completions", body, self.timeout_s, self.api_key)
        wall = (time.perf_counter() - t0) * 1000.0
        choices = sorted(data.get("choices") or [], key=lambda c: int(c.get("index") or 0))
        if len(choices) < len(unit.jobs):
            raise FleetError(f"{info.url} returned {len(choices)} completions for n={len(unit.jobs)}; "
                             "set its slots to 1 request per sample (URL 1 in the servers file).")
        usage = data.get("usage") or {}
        applied, overridden, checked = self._applied(info, fields, ignored, data)
        out: list[SampleResult] = []
        for k, (job, choice) in enumerate(zip(unit.jobs, choices, strict=False)):
            lps = choice_logprobs(choice)
            mean = sum(lps) / len(lps) if lps else None
            if len(unit.jobs) == 1:
                n_tokens = int(usage.get("completion_tokens") or len(lps))
            else:
                n_tokens = len(lps) if lps else int(usage.get("completion_tokens") or 0) // len(unit.jobs)
            reason = choice.get("finish_reason") or "stop"
            if reason == "stop" and n_tokens < params.max_tokens and not params.stop:
                reason = "eos"
            prov: dict[str, Any] = {
                "server": info.url, "server_kind": info.kind, "server_model": info.model,
                "request_seed": seed, "sent": fields, "applied": applied,
                "ignored": ignored, "checked": checked, "attempt": unit.attempt,
            }
            if overridden:
                prov["overridden"] = overridden
            if len(unit.jobs) > 1:
                prov["completions"] = len(unit.jobs)
                prov["completion_index"] = k
                if info.kind == "llama-server":  # it seeds completion k with seed + k
                    prov["sample_seed"] = seed + k
            if unit.redone_from:
                prov["redone_from"] = list(unit.redone_from)
            out.append(SampleResult(
                job, str(choice.get("text", "")), int(usage.get("prompt_tokens") or 0), n_tokens,
                reason, mean, math.exp(-mean) if mean is not None else None, wall, prov))
        return out

    @staticmethod
    def _applied(info: ServerInfo, fields: dict[str, Any], ignored: list[str],
                 data: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any], str]:
        """(fields the server applied or None if unknown, fields it changed, how we know):
        from the response when the server echoes its settings (llama-server), else from the
        request schema it declares (fields it does not declare are ignored), else unverified."""
        settings = data.get("generation_settings")
        if settings is None:  # llama-server's OpenAI route echoes them under `verbose: true`
            settings = (data.get("__verbose") or {}).get("generation_settings")
        if isinstance(settings, dict):  # llama-server echoes what it applied
            settings = settings.get("params", settings)
            applied: dict[str, Any] = {}
            changed: dict[str, Any] = {}
            for name, value in fields.items():
                key = "n_predict" if name == "max_tokens" and "n_predict" in settings else name
                if key not in settings:
                    continue
                got = settings[key]
                applied[name] = got
                if isinstance(value, float | int) and isinstance(got, float | int):
                    if not math.isclose(float(value), float(got), rel_tol=1e-6, abs_tol=1e-9):
                        changed[name] = got
                elif value != got:
                    changed[name] = got
            return applied, changed, "response"
        if info.fields is None:
            return None, {}, "unverified"
        names = {n for ours in ignored for n in _FIELD_NAMES[ours]}
        return {k: v for k, v in fields.items() if k not in names}, {}, info.fields_from
