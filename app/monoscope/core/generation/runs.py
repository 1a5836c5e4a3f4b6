"""Plan runs (and sweeps: grids of runs) and execute them with per-sample commits and resume.

A run = model × template × sampling settings × n samples per prompt × prompts. Running one
generates only the (prompt, sample index) pairs it does not have yet, so re-running a run that
was killed or cancelled completes it without duplicates; each finished sample is committed in
its own transaction together with its provenance.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from monoscope.core.errors import ModelLoadError, MonoscopeError, PromptTooLong, TaskCancelled
from monoscope.core.generation import liveness, verbalized
from monoscope.core.generation.engine import Engine, Job, SampleResult
from monoscope.core.generation.fleet import ServersGone
from monoscope.core.generation.registry import ModelRecord, inspect_model, model_row
from monoscope.core.generation.sampling import Decay, SamplingParams, derive_seed
from monoscope.core.generation.templates import (
    PromptTemplate,
    dataset_domain,
    default_preset,
    render_chat,
    resolve_template,
    system_prompts,
)
from monoscope.core.store import Study
from monoscope.core.store import datasets as datasets_repo
from monoscope.core.store import runs as runs_repo
from monoscope.core.tasks import TaskState

ENGINES = ("llama.cpp", "http")


class RunError(MonoscopeError):
    """A run that cannot be planned or executed as asked."""


@dataclass
class RunRequest:
    """What `monoscope generate` asks for; list-valued settings span a sweep."""

    dataset: str
    model: str = "smollm2"
    template: str | None = None  # preset, template text or file; None = default for the dataset
    n: int = 10
    temperatures: Sequence[float] = (0.8,)
    top_ps: Sequence[float] = (1.0,)
    top_ks: Sequence[int] = (50,)
    min_p: float = 0.0
    repeat_penalty: float = 1.0
    max_tokens: int = 128
    stop: Sequence[str] = ()
    decay: Decay | None = None
    prompts: int | None = None  # first K prompts (by import order)
    prompt_keys: Sequence[str] | None = None
    seed: int = 0
    engine: str = "llama.cpp"
    base_url: str | None = None
    base_urls: Sequence[str] = ()  # more servers (http); with base_url, the run's fleet
    servers_file: str | None = None  # one `URL [SLOTS]` per line (http)
    server_slots: dict[str, int] = field(default_factory=dict)  # URL -> requests in flight
    vllm_cap: int = 64  # requests in flight per vLLM server (it reports no slot count)
    remote_model: str | None = None
    http_concurrency: int = 4  # unused by fleet runs (they size from what each server reports)
    n_parallel: int = 16
    n_ctx: int | None = None
    n_gpu_layers: int = 0
    label: str | None = None
    new: bool = False  # always plan new runs instead of reusing identical ones
    extra: dict[str, Any] = field(default_factory=dict)
    # Mitigations (issue 14): a min-p sweep (None = just `min_p`), verbalized sampling (k
    # answers with probabilities per call; 0 = off) and a system prompt (a name from
    # presets.json's "system_prompts" or the text itself; None = the template's own).
    min_ps: Sequence[float] | None = None
    verbalized_k: int = 0
    system_prompt: str | None = None


def _grid(req: RunRequest) -> list[SamplingParams]:
    min_ps = list(req.min_ps) if req.min_ps else [req.min_p]
    return [
        SamplingParams(
            temperature=t, top_p=p, top_k=k, min_p=mp, repeat_penalty=req.repeat_penalty,
            max_tokens=req.max_tokens, stop=tuple(req.stop), decay=req.decay,
        )
        for t, p, k, mp in itertools.product(req.temperatures, req.top_ps, req.top_ks, min_ps)
    ]


def apply_mitigations(tpl: PromptTemplate, verbalized_k: int = 0, system: str | None = None
                      ) -> tuple[PromptTemplate, dict[str, Any]]:
    """The template with the request's system prompt and verbalized-sampling instruction, and
    the run parameters that record them (`runs.meta.params`, read by the Sweep view)."""
    params: dict[str, Any] = {}
    if system is not None:
        name, text = system_prompt(system)
        params["system_prompt"] = name
        base = tpl.base if tpl.base is not None else tpl.user
        tpl = replace(tpl, system=text or None,
                      base=f"{text}\n\n{base}" if text else base)
    if verbalized_k:
        if not 2 <= verbalized_k <= verbalized.MAX_K:
            raise RunError(f"Verbalized sampling asks for 2 to {verbalized.MAX_K} answers per "
                           f"call; got {verbalized_k}.")
        extra = verbalized.instruction(verbalized_k)
        tpl = replace(tpl, user=tpl.user + extra,
                      base=(tpl.base if tpl.base is not None else tpl.user) + extra)
        params["verbalized_k"] = verbalized_k
    return tpl, params


def plan_runs(study: Study, req: RunRequest) -> list[int]:
    """Create one `runs` row per point of the sampling grid; reuse identical earlier runs."""
    if req.engine not in ENGINES:
        raise RunError(f"Unknown engine {req.engine!r}; use one of {', '.join(ENGINES)}.")
    servers = _servers(req)
    if req.engine == "http" and not servers:
        raise RunError("The http engine needs --base-url URL (repeatable, e.g. "
                       "http://127.0.0.1:8080) or --servers FILE.")
    if req.engine == "http" and req.decay is not None:
        raise RunError("Temperature decay needs per-token control: use the llama.cpp engine.")
    if req.decay is not None and req.decay.end is not None and len(set(req.temperatures)) > 1:
        raise RunError(
            "--decay with an END temperature makes every --temperature of the sweep identical; "
            "write --decay KIND:START:LENGTH so each run decays to its own temperature."
        )
    if req.n < 1:
        raise RunError("--n must be at least 1.")
    ds_id = study.dataset_id(req.dataset)
    ds = datasets_repo.dataset(study, ds_id)
    domain = dataset_domain(ds.name, ds.kind, ds.meta)
    tpl, run_params = apply_mitigations(
        resolve_template(req.template or default_preset(domain), domain), req.verbalized_k,
        req.system_prompt)
    model = _model_for(study, req)
    chat = model.info.is_chat if model else False
    model_id = model.id if model else None
    model_name = model.name if model else (req.remote_model or req.model)
    dataset_prompts = [asdict(p) for p in datasets_repo.prompts(study, ds_id)]
    keys = _prompt_keys(dataset_prompts, req)
    grid = _grid(req)
    sweep = (req.label or f"sweep-{int(time.time())}") if len(grid) > 1 else None
    engine_meta = {
        "n_parallel": req.n_parallel, "n_ctx": req.n_ctx, "n_gpu_layers": req.n_gpu_layers,
        "base_url": servers[0]["url"] if servers else req.base_url,
        "remote_model": req.remote_model, "http_concurrency": req.http_concurrency,
        **({"servers": servers, "vllm_cap": req.vllm_cap} if req.engine == "http" else {}),
        "chat": chat, "system": tpl.system, "base": tpl.base, "user": tpl.user,
        **req.extra,
    }
    if run_params:
        engine_meta["params"] = run_params
    # Check first (the model loads, every prompt fits the context), then write: a failed plan
    # leaves no model row and no planned run behind.
    if model is not None and req.engine == "llama.cpp":
        wanted = set(keys)
        _preflight(req, model, tpl.name, engine_meta,
                   [p for p in dataset_prompts if p["key"] in wanted])
    filt = runs_repo.prompt_filter(keys, req.prompts)
    tpl_text = tpl.text_for(chat)
    samplings = [json.dumps(params.to_json(), sort_keys=True) for params in grid]
    ids: list[int | None] = [None] * len(grid)
    if not req.new and (model is None or model_id is not None):
        ids = runs_repo.find_runs(study, [
            runs_repo.RunKey(ds_id, model_id, tpl_text, sampling, req.n, req.seed, filt,
                             engine=req.engine)
            for sampling in samplings])
    todo = [pos for pos, same in enumerate(ids) if same is None]
    if req.engine == "http":  # a resumed run uses the servers named now
        for rid in ids:
            if rid is not None:
                runs_repo.merge_meta(study, rid, {"servers": servers, "vllm_cap": req.vllm_cap,
                                                  "base_url": servers[0]["url"]})
    new_ids = runs_repo.create_runs(study, model_row(model) if model is not None else None, [
        runs_repo.NewRun(
            dataset_id=ds_id,
            label=req.label or _label(model_name, tpl.name, grid[pos], run_params),
            engine=req.engine, template=tpl.name, template_text=tpl_text,
            sampling=samplings[pos], n_per_prompt=req.n, seed=req.seed, prompt_filter=filt,
            sweep=sweep, meta=engine_meta)
        for pos in todo])
    for pos, new_id in zip(todo, new_ids, strict=True):
        ids[pos] = new_id
    return [int(i) for i in ids if i is not None]


def _servers(req: RunRequest) -> list[dict[str, Any]]:
    """The http run's servers as stored in `runs.meta.servers` ([] for llama.cpp runs)."""
    if req.engine != "http":
        return []
    from monoscope.core.generation.fleet import FleetError, parse_servers, root_url

    try:
        specs = parse_servers([*([req.base_url] if req.base_url else []), *req.base_urls],
                              req.servers_file)
    except FleetError as exc:
        raise RunError(str(exc)) from None
    slots = {root_url(u): n for u, n in req.server_slots.items()}
    return [dict(s.to_json(), slots=slots.get(s.root, s.slots)) for s in specs]


def _label(model: str, template: str, params: SamplingParams, run_params: dict[str, Any]) -> str:
    out = f"{model} {template} T={params.temperature:g} p={params.top_p:g}"
    if params.min_p:
        out += f" min-p={params.min_p:g}"
    if "verbalized_k" in run_params:
        out += f" VS k={run_params['verbalized_k']}"
    if "system_prompt" in run_params:
        out += f" system={run_params['system_prompt']}"
    return out


def system_prompt(spec: str) -> tuple[str, str]:
    """(name, text) of a system prompt: a name from presets.json's "system_prompts" ("none" is
    the empty prompt), else the text itself (named "custom")."""
    named = system_prompts()
    if spec in named:
        return spec, named[spec]
    if not spec.strip():
        raise RunError("An empty system prompt: pass a name ("
                       + ", ".join(named) + ") or the prompt's text.")
    return "custom", spec


def _preflight(req: RunRequest, model: ModelRecord, template: str,
               engine_meta: dict[str, Any], prompts: list[dict[str, Any]]) -> None:
    """Load the model and check every rendered prompt against its context; writes nothing."""
    from monoscope.core.generation.llama_engine import LlamaCppEngine

    run = {"template": template, "meta": json.dumps(engine_meta), "n_per_prompt": req.n,
           "seed": req.seed}
    every = {(p["id"], i) for p in prompts for i in range(req.n)}
    with LlamaCppEngine(model.path, n_parallel=1, n_ctx=req.n_ctx, n_gpu_layers=req.n_gpu_layers) as eng:
        jobs = render_jobs(run, prompts, model.info.chat_template, eng.bos_text, eng.eos_text, every)
        _check_lengths(eng, jobs, prompts, _grid(req)[0])


def _model_for(study: Study, req: RunRequest) -> ModelRecord | None:
    """The local GGUF, checked (id None if new); an http run may name a model only the server has."""
    if req.engine == "http" and req.remote_model and req.model in ("", "none"):
        return None
    try:
        return inspect_model(study, req.model)
    except ModelLoadError:
        if req.engine != "http":
            raise
        return None  # remote-only model: completion prompts, no local metadata


def _prompt_keys(dataset_prompts: list[dict[str, Any]], req: RunRequest) -> list[str]:
    """The keys a request covers, in import order (checked against the dataset)."""
    keys = [str(p["key"]) for p in dataset_prompts]
    if req.prompt_keys:
        wanted = set(req.prompt_keys)
        missing = wanted - set(keys)
        if missing:
            raise RunError(f"No prompt(s) {', '.join(sorted(missing))} in dataset {req.dataset!r}.")
        keys = [k for k in keys if k in wanted]
    if req.prompts is not None:
        keys = keys[: req.prompts]
    if not keys:
        raise RunError(f"Dataset {req.dataset!r} has no prompts to generate for.")
    return keys


@dataclass(frozen=True)
class RunSummary:
    run_id: int
    status: str
    expected: int
    generated_now: int
    total: int
    tokens_now: int
    seconds: float

    @property
    def tokens_per_s(self) -> float:
        return self.tokens_now / self.seconds if self.seconds > 0 else 0.0


def _make_engine(run: dict[str, Any], model: dict[str, Any] | None) -> Engine:
    meta = json.loads(run["meta"] or "{}")
    if run["engine"] == "http":
        from monoscope.core.generation.fleet import FleetEngine, ServerSpec

        servers = meta.get("servers") or [{"url": meta["base_url"], "slots": None}]
        return FleetEngine([ServerSpec(s["url"], s.get("slots")) for s in servers],
                           model=meta.get("remote_model"),
                           vllm_cap=int(meta.get("vllm_cap") or 64))
    from monoscope.core.generation.llama_engine import LlamaCppEngine

    assert model is not None
    return LlamaCppEngine(
        model["path"], n_parallel=meta.get("n_parallel") or 16, n_ctx=meta.get("n_ctx"),
        n_gpu_layers=meta.get("n_gpu_layers") or 0,
    )


def render_jobs(
    run: dict[str, Any], prompts: list[dict[str, Any]], chat_template: str | None,
    bos: str, eos: str, missing: set[tuple[int, int]],
) -> list[Job]:
    """The exact prompt text and seed of every missing sample."""
    meta = json.loads(run["meta"] or "{}")
    tpl = PromptTemplate(run["template"], meta["user"], meta.get("system"), meta.get("base"))
    jobs = []
    for p in prompts:
        for i in range(run["n_per_prompt"]):
            if (p["id"], i) not in missing:
                continue
            if chat_template:
                text = render_chat(chat_template, tpl.messages(p["title"], p["context"], i), bos, eos)
            else:
                text = tpl.completion(p["title"], p["context"], i)
            jobs.append(Job(p["id"], i, derive_seed(run["seed"], p["key"], i), text))
    return jobs


def run_generation(
    study: Study, run_id: int, state: TaskState, engine: Engine | None = None
) -> RunSummary:
    """Generate every missing sample of a run, committing each as it finishes."""
    work = runs_repo.run_work(study, run_id)
    if work is None:
        raise RunError(f"No run {run_id} in {study.path}; see `monoscope runs {study.path}`.")
    run, model, prompts, have = work.run, work.model, work.prompts, work.done
    if model is None and run["engine"] != "http":
        raise RunError(f"Run {run_id} has no model; plan it again with --model.")
    k = verbalized_k(run)
    if k:  # a call's answers are sample indices call·k … call·k + k−1
        have = {(p, i // k) for p, i in have}
    n = run["n_per_prompt"]
    expected = len(prompts) * n
    missing = {(p["id"], i) for p in prompts for i in range(n)} - have
    if not missing:
        runs_repo.set_status(study, run_id, "finished", finished=True)
        return RunSummary(run_id, "finished", expected, 0, len(have), 0, 0.0)
    params = SamplingParams.from_json(json.loads(run["sampling"]))
    own = engine is None
    state.begin(f"run {run_id}: loading model", expected, len(have))
    eng = engine if engine is not None else _make_engine(run, model)
    try:
        local = getattr(eng, "bos_text", None) is not None
        jobs = render_jobs(
            run, prompts, model["chat_template"] if model else None, getattr(eng, "bos_text", "") if local else "",
            getattr(eng, "eos_text", "") if local else "", missing,
        )
        _check_lengths(eng, jobs, prompts, params)
        connect = getattr(eng, "connect", None)
        if connect is not None and not getattr(eng, "servers", None):
            try:
                connect()  # probe the servers: capacity, fields, health
            except ServersGone as exc:  # nothing started: the run keeps its status
                runs_repo.merge_meta(study, run_id, {"interrupted": str(exc)})
                raise
        meta = runs_repo.start_session(study, run_id, eng.version(), liveness.owner())
        run = dict(run, meta=json.dumps(meta))
        return _execute(study, run, eng, jobs, params, state, expected, len(have))
    finally:
        if own:
            eng.close()


def verbalized_k(run: dict[str, Any]) -> int:
    """Answers asked per call of a verbalized-sampling run (0 for any other run)."""
    meta = json.loads(run["meta"] or "{}")
    return int((meta.get("params") or {}).get("verbalized_k") or 0)


def _check_lengths(eng: Engine, jobs: list[Job], prompts: list[dict[str, Any]], params: SamplingParams) -> None:
    """Raise PromptTooLong before any work if a prompt plus max tokens exceeds the context."""
    limit = eng.context_limit()
    if limit is None:
        return
    keys = {p["id"]: p["key"] for p in prompts}
    for text, job in {j.prompt_text: j for j in jobs}.items():
        n = eng.count_tokens(text)
        if n is not None and n + params.max_tokens > limit:
            raise PromptTooLong(
                f"The prompt for {keys.get(job.prompt_id, job.prompt_id)!r} is {n} tokens; with "
                f"--max-tokens {params.max_tokens} it needs {n + params.max_tokens} but the model's "
                f"context holds {limit}. Shorten the template or prompt context, or lower "
                "--max-tokens. Nothing was generated."
            )


def _execute(
    study: Study, run: dict[str, Any], eng: Engine, jobs: list[Job], params: SamplingParams,
    state: TaskState, expected: int, done0: int,
) -> RunSummary:
    run_id = run["id"]
    base_params = params.to_json()
    meta = json.loads(run["meta"] or "{}")
    live = meta["live"]
    vs_k = int((meta.get("params") or {}).get("verbalized_k") or 0)
    count = {"samples": 0, "tokens": 0}
    t0 = time.perf_counter()
    state.begin(f"run {run_id}", expected, done0)

    def commit(res: SampleResult) -> None:
        j = res.job
        sample_params = dict(base_params, seed=j.seed)
        if "{person}" in (meta.get("user", "") + (meta.get("base") or "")):
            from monoscope.core.generation.templates import personas

            names = personas()
            sample_params["person"] = names[j.sample_index % len(names)]
        if res.provenance:
            sample_params.update(res.provenance)
            url = res.provenance.get("server")
            if url:  # per-server samples and tokens of this session (the runs dock)
                per = live.setdefault("servers", {}).setdefault(str(url), {"samples": 0, "tokens": 0})
                per["samples"] += 1
                per["tokens"] += res.n_tokens
        # heartbeat + this session's speed, committed with the sample (survives kill -9)
        live.update(heartbeat=time.time(), tokens=count["tokens"] + res.n_tokens,
                    seconds=time.perf_counter() - t0)
        sample = runs_repo.NewSample(
            prompt_id=j.prompt_id, sample_index=j.sample_index, seed=j.seed,
            params=sample_params, prompt_text=j.prompt_text, text=res.text,
            n_prompt_tokens=res.n_prompt_tokens, n_tokens=res.n_tokens,
            finish_reason=res.finish_reason, mean_logprob=res.mean_logprob,
            perplexity=res.perplexity, wall_ms=res.wall_ms,
            token_record=(res.tokens, res.token_logprobs or (), res.token_entropies or (),
                          res.pieces or ()) if res.tokens is not None else None)
        runs_repo.commit_samples(study, run_id, split_answers(sample, vs_k) if vs_k
                                 else [sample], meta)
        count["samples"] += 1
        count["tokens"] += res.n_tokens
        el = time.perf_counter() - t0
        state.progress(done0 + count["samples"], expected, f"{count['tokens'] / el:.0f} tok/s")
        state.partial(res)

    try:
        eng.generate(jobs, params, commit, check=state.check)
    except (TaskCancelled, KeyboardInterrupt):
        _end_session(study, run_id, "cancelled", count["tokens"], time.perf_counter() - t0)
        raise
    except ServersGone as exc:  # every server went away: resume later with the same command
        # stored as a session that ended while running (no live owner): `run_table` shows
        # it as interrupted, like a killed run, and the next run of the command resumes it
        _end_session(study, run_id, "running", count["tokens"], time.perf_counter() - t0)
        runs_repo.merge_meta(study, run_id, {"interrupted": str(exc)})
        raise
    except BaseException:
        _end_session(study, run_id, "failed", count["tokens"], time.perf_counter() - t0)
        raise
    _end_session(study, run_id, "finished", count["tokens"], time.perf_counter() - t0)
    return RunSummary(
        run_id, "finished", expected, count["samples"], done0 + count["samples"],
        count["tokens"], time.perf_counter() - t0,
    )


def split_answers(call: runs_repo.NewSample, k: int) -> list[runs_repo.NewSample]:
    """One verbalized-sampling call as its answers: sample index call·k + j, each with its
    stated probability; the call's raw output kept in the first answer's text meta; the call's
    token count on the first answer only (its perplexity, finish reason and timing on all); the
    call's per-token record belongs to no single answer and is not kept.
    Output that does not parse is one text, the whole output, flagged ``parsed: false``."""
    got = verbalized.parse(call.text, k)
    out = []
    for j, ans in enumerate(got.answers):
        info: dict[str, Any] = {"call": call.sample_index, "answer": j, "of": len(got.answers),
                                "k": k, "probability": ans.probability, "parsed": got.parsed}
        if got.notes:
            info["notes"] = got.notes
        params = {**call.params, "verbalized": info}
        text_meta = {"verbalized": {**info, "raw": call.text} if j == 0 else info}
        out.append(replace(call, sample_index=call.sample_index * k + j, text=ans.text,
                           params=params, n_tokens=call.n_tokens if j == 0 else 0,
                           text_meta=text_meta, token_record=None))
    return out


def _end_session(study: Study, run_id: int, status: str, tokens: int, seconds: float) -> None:
    """Fold this session's tokens and wall seconds into the run's totals; set the final status."""
    runs_repo.end_session(study, run_id, status, tokens, seconds)
    if status == "finished":
        study.checkpoint()


def run_table(study: Study) -> list[dict[str, Any]]:
    """Runs with sample counts and tokens/s over every session.

    ``status`` is ``interrupted`` for a run marked running whose process is gone (crash,
    kill -9); the stored status stays ``running`` until the run is resumed.
    """
    rows = runs_repo.run_rows(study)
    for r in rows:
        meta = json.loads(r.pop("meta") or "{}")
        r["status"] = liveness.effective_status(str(r["status"]), meta)
        r["tok_s"] = liveness.tokens_per_s(meta)
        r["servers"] = liveness.server_speeds(meta)
    return rows
