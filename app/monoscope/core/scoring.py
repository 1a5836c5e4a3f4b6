"""Scoring stage: the model's own probabilities of the human texts (and of its own samples).

Sampling shows what a model tends to write, not what it almost never writes. A local model can
say directly: for each prompt, the prompt rendered exactly as the model's runs render it (chat
template or completion prompt, the same `templates` code), followed by each human text,
evaluated teacher-forced through llama.cpp — the prompt's KV evaluated once and shared by
all its texts, each text's tokens in one ``llama_decode`` (`LlamaCppEngine.score` says why
not several texts per decode: a llama.cpp bug). Per text it stores the total and mean
log-probability of the text's tokens, the perplexity, the token count and, compactly, every
token's log-probability and the entropy of the model's next-token distribution there.

A scorer is (model sha256 → ``models.id``, template, `VERSION`); a text's score is keyed by the
scorer and the text, and identical (model, version, rendered prompt, body) pairs are copied,
not recomputed. Rows are inserted per decode batch and never rewritten: scoring again skips
every scored text, and a killed scoring resumes exactly where its last commit ended.

Which prompt a text follows: a generated text its own stored ``prompt_text``; human text k of a
prompt the prompt rendered for sample index k (with a ``{person}`` template the persona of
sample k, so both sides see the same persona mixture). The run's own samples are scored the
same way (teacher-forced under the same scorer), so both sides are comparable.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from monoscope.core.errors import MonoscopeError
from monoscope.core.store import Study
from monoscope.core.store import datasets as datasets_repo
from monoscope.core.store import scores as repo
from monoscope.core.store.frames import resolve_dataset
from monoscope.core.store.study import content_hash
from monoscope.core.tasks import TaskState

if TYPE_CHECKING:
    from monoscope.core.generation.llama_engine import LlamaCppEngine, ScoreOutput

VERSION = "1"  # bump when what a score means changes: texts are scored again under a new scorer


class ScoringError(MonoscopeError):
    """A scoring request the study cannot satisfy."""


@dataclass(frozen=True)
class ScoreRequest:
    dataset: str | None = None
    model: str | None = None  # None: every (model, template) of the dataset's llama.cpp runs
    template: str | None = None  # with a model: preset, text or file (default: the dataset's)
    prompt_keys: tuple[str, ...] | None = None  # None: the runs' prompts (all with a model)
    samples: bool = True  # also the own runs' samples
    threads: int | None = None
    max_tokens: int = 1024  # longer texts are cut (stored as truncated)
    flash_attn: str = "off"  # off: the same per-token numbers as llama.cpp's default eval


@dataclass
class ScorerSpec:
    """What one scorer scores: a model, a template, its runs and their prompts."""

    model_id: int
    model_path: str
    model_name: str
    chat_template: str | None
    template: str
    template_json: dict[str, Any]
    run_ids: list[int] = field(default_factory=list)
    prompt_keys: list[str] = field(default_factory=list)

    @property
    def template_hash(self) -> str:
        return template_hash(self.template_json)


@dataclass
class ScoreResult:
    scorers: list[int] = field(default_factory=list)
    scored: int = 0  # texts scored by the model now
    copied: int = 0  # texts that got the score of an identical (prompt, body) pair
    tokens: int = 0  # text tokens scored now
    seconds: float = 0.0  # wall time of the model calls

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0


def template_json(meta: dict[str, Any]) -> dict[str, Any]:
    """The part of a run's meta that makes its prompts: chat, system, user, base."""
    return {"chat": bool(meta.get("chat")), "system": meta.get("system"),
            "user": meta.get("user"), "base": meta.get("base")}


def template_hash(tj: dict[str, Any]) -> str:
    return hashlib.md5(json.dumps(template_json(tj), sort_keys=True).encode()).hexdigest()


def run_scorers(study: Study, dataset_id: int) -> dict[int, int]:
    """run id -> the scorer of its model and template at the current version (scored or not)."""
    out: dict[int, int] = {}
    for run in repo.llama_runs(study, dataset_id):
        sid = repo.find_scorer(study, run.model_id, template_hash(run.meta), VERSION)
        if sid is not None:
            out[run.id] = sid
    return out


def scorer_specs(study: Study, dataset_id: int, req: ScoreRequest) -> list[ScorerSpec]:
    """The scorers a request asks for, with their runs and prompts."""
    keys = [p.key for p in datasets_repo.prompts(study, dataset_id)]
    if req.prompt_keys is not None:
        missing = sorted(set(req.prompt_keys) - set(keys))
        if missing:
            raise ScoringError(f"No prompt(s) {', '.join(missing)} in this dataset.")
    if req.model is not None:
        return [_model_spec(study, dataset_id, req, keys)]
    specs: dict[tuple[int, str], ScorerSpec] = {}
    for run in repo.llama_runs(study, dataset_id):
        tj = template_json(run.meta)
        spec = specs.setdefault((run.model_id, template_hash(tj)), ScorerSpec(
            run.model_id, run.model_path, run.model_name, run.chat_template, run.template, tj))
        spec.run_ids.append(run.id)
        spec.prompt_keys += [k for k in run.prompt_keys if k not in spec.prompt_keys]
    if not specs:
        raise ScoringError("This dataset has no llama.cpp runs to take a model and template "
                           "from: name one with --model (and optionally --template).")
    for spec in specs.values():
        if req.prompt_keys is not None:
            spec.prompt_keys = list(req.prompt_keys)
        if not req.samples:
            spec.run_ids = []
    return list(specs.values())


def _model_spec(study: Study, dataset_id: int, req: ScoreRequest, keys: list[str]
                ) -> ScorerSpec:
    from monoscope.core.generation.registry import register_model
    from monoscope.core.generation.templates import (
        dataset_domain,
        default_preset,
        resolve_template,
    )

    assert req.model is not None
    rec = register_model(study, req.model)
    assert rec.id is not None  # registered: the study has its row
    ds = datasets_repo.dataset(study, dataset_id)
    domain = dataset_domain(ds.name, ds.kind, ds.meta)
    tpl = resolve_template(req.template or default_preset(domain), domain)
    chat = rec.info.is_chat
    tj = {"chat": chat, "system": tpl.system, "user": tpl.user, "base": tpl.base}
    spec = ScorerSpec(int(rec.id), str(rec.path), rec.name, rec.info.chat_template, tpl.name, tj)
    spec.prompt_keys = list(req.prompt_keys) if req.prompt_keys is not None else keys
    if req.samples:
        h = template_hash(tj)
        spec.run_ids = [r.id for r in repo.llama_runs(study, dataset_id)
                        if r.model_id == spec.model_id and template_hash(r.meta) == h]
    return spec


def score(study: Study, request: ScoreRequest, state: TaskState) -> ScoreResult:
    """Score every text the request covers that its scorer has not scored yet."""
    dataset_id, _ = resolve_dataset(study, request.dataset)
    result = ScoreResult()
    for spec in scorer_specs(study, dataset_id, request):
        state.check()
        sid = repo.ensure_scorer(study, spec.model_id, spec.template, spec.template_hash,
                                 spec.template_json, VERSION)
        result.scorers.append(sid)
        _score_one(study, dataset_id, spec, sid, request, state, result)
    study.checkpoint()
    return result


def _score_one(study: Study, dataset_id: int, spec: ScorerSpec, sid: int, req: ScoreRequest,
               state: TaskState, result: ScoreResult) -> None:
    prompts = {p.id: p for p in datasets_repo.prompts(study, dataset_id)}
    wanted = set(spec.prompt_keys)
    prompt_ids = [pid for pid, p in prompts.items() if p.key in wanted]
    todo = repo.pending(study, sid, dataset_id, prompt_ids, spec.run_ids)
    label = f"score {spec.model_name} {spec.template}"
    if not todo:
        state.begin(label, 0)
        return
    state.begin(f"{label}: loading model", len(todo))
    from monoscope.core.generation.llama_engine import LlamaCppEngine, ScoreItem

    with LlamaCppEngine(spec.model_path, n_parallel=1, prompt_slots=1, n_threads=req.threads,
                        flash_attn=req.flash_attn) as eng:
        contexts = _contexts(eng, spec, prompts, todo)
        copied = repo.copy_cached(study, sid, spec.model_id, VERSION, [
            (t.text_id, content_hash(contexts[t.text_id]), t.content_hash) for t in todo])
        result.copied += len(copied)
        items = [ScoreItem((t, content_hash(contexts[t.text_id])), contexts[t.text_id], t.body)
                 for t in todo if t.text_id not in copied]
        done = len(copied)
        state.begin(label, len(todo), done)
        buffer: list[repo.ScoreRow] = []
        t0 = time.perf_counter()
        tokens = 0

        def collect(out: ScoreOutput) -> None:
            buffer.append(_row(eng, out))

        def flush(n_tokens: int) -> None:
            nonlocal done, tokens
            tokens += n_tokens
            if buffer:
                repo.write_scores(study, sid, buffer)
                done += len(buffer)
                result.scored += len(buffer)
                buffer.clear()
            el = time.perf_counter() - t0
            state.progress(done, len(todo), f"{tokens / el:.0f} tok/s" if el > 0 else "")

        eng.score(items, collect, check=state.check, max_tokens=req.max_tokens, on_batch=flush)
        flush(0)
        result.tokens += tokens
        result.seconds += time.perf_counter() - t0


def _contexts(eng: LlamaCppEngine, spec: ScorerSpec, prompts: dict[int, Any],
              todo: Sequence[repo.PendingText]) -> dict[int, str]:
    """text id -> the exact prompt text the text follows."""
    from monoscope.core.generation.templates import PromptTemplate, render_chat

    tj = spec.template_json
    tpl = PromptTemplate(spec.template, str(tj["user"]), tj.get("system"), tj.get("base"))
    cache: dict[tuple[int, int], str] = {}
    persona = tpl.uses_person
    out: dict[int, str] = {}
    for t in todo:
        if t.origin == "generated" and t.prompt_text is not None:
            out[t.text_id] = t.prompt_text
            continue
        p = prompts[t.prompt_id]
        key = (t.prompt_id, t.sample_index if persona else 0)
        if key not in cache:
            if spec.chat_template:
                cache[key] = render_chat(spec.chat_template,
                                         tpl.messages(p.title, p.context, key[1]),
                                         eng.bos_text, eng.eos_text)
            else:
                cache[key] = tpl.completion(p.title, p.context, key[1])
        out[t.text_id] = cache[key]
    return out


def token_ends(pieces: Sequence[bytes], body: str) -> list[int] | None:
    """End byte offset of each token in the body's UTF-8 bytes, or None when the pieces do not
    spell the body (a tokenizer that adds a leading space is allowed for)."""
    raw = body.encode("utf-8")
    joined = b"".join(pieces)
    ends = np.cumsum([len(p) for p in pieces]).tolist() if pieces else []
    if joined == raw:
        return [int(e) for e in ends]
    if joined == b" " + raw:
        return [max(0, int(e) - 1) for e in ends]
    return None


def _row(eng: LlamaCppEngine, out: ScoreOutput) -> repo.ScoreRow:
    t: repo.PendingText = out.key[0]
    n = len(out.tokens)
    total = float(np.sum(out.logprobs, dtype=np.float64)) if n else None
    mean = total / n if total is not None and n else None
    ends = token_ends([eng.piece(tok) for tok in out.tokens], t.body) if n else []
    return repo.ScoreRow(
        text_id=t.text_id, context_hash=str(out.key[1]),
        content_hash=t.content_hash, n_context=out.n_context, n_tokens=n,
        truncated=out.truncated, total_logprob=total, mean_logprob=mean,
        perplexity=math.exp(-mean) if mean is not None else None,
        mean_entropy=float(np.mean(out.entropies, dtype=np.float64)) if n else None,
        logprobs=repo.pack_f16(out.logprobs), entropies=repo.pack_f16(out.entropies),
        ends=repo.pack_u32(ends) if ends is not None else None)
