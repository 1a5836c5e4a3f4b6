"""How long a replication will take on this machine, before anything starts.

Generation time = missing samples × expected new tokens / tokens per second, where tokens/s
comes from earlier runs of the same model in this study when there are enough of them, else
from the speeds measured on the 2-core reference machine (docs/replication.md). Annotation
time = texts without an embedding / embedding rate, plus sandboxed test runs for code.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from monoscope.core.generation.templates import dataset_domain, resolve_template
from monoscope.core.replicate.presets import Config
from monoscope.core.store import Study
from monoscope.core.store import datasets as datasets_repo
from monoscope.core.store import runs as runs_repo
from monoscope.core.tasks import format_eta

# Aggregate tokens/s with 16 sequences batched, measured on 2 cores (FINDINGS.md).
TOKENS_PER_S = {"smollm2": 240.0, "gemma3-base": 205.0}
DEFAULT_TOKENS_PER_S = 120.0
EMBED_TEXTS_PER_S = 55.0  # MiniLM on torch, short texts, 2 cores
SANDBOX_S_PER_TEST = 0.06  # two sandboxes at a time (benchmarks/README.md)
FILL = 0.9  # share of max_tokens a sample uses before it stops, when nothing is measured yet
LOAD_S_PER_RUN = 3.0  # model load + prompt evaluation per run
FIXED_S = 20.0  # imports (torch, sentence-transformers) and the measure stage


@dataclass
class RunEstimate:
    config: Config
    run_id: int | None  # an existing run with the same parameters, if any
    done: int
    expected: int
    tokens_per_s: float
    seconds: float


@dataclass
class Estimate:
    runs: list[RunEstimate] = field(default_factory=list)
    embed_texts: int = 0
    sandbox_tests: int = 0
    seconds: float = 0.0
    load: float = 0.0  # 1-minute load average when estimated
    cores: int = 1

    @property
    def missing_samples(self) -> int:
        return sum(r.expected - r.done for r in self.runs)

    def describe(self) -> str:
        n_new = sum(1 for r in self.runs if r.done < r.expected)
        return (f"{len(self.runs)} runs ({n_new} with work left), {self.missing_samples:,} samples "
                f"to generate, {self.embed_texts:,} texts to embed"
                + (f", {self.sandbox_tests:,} sandboxed tests" if self.sandbox_tests else "")
                + f": about {format_eta(self.seconds)} on this machine" + self.busy_note())

    def busy_note(self) -> str:
        """Other processes slow llama.cpp down a lot (to ~1/3 with one busy neighbour)."""
        if self.load <= self.cores + 0.5 or not self.missing_samples:
            return ""
        return (f" when idle; it is busy now (load {self.load:.0f} on {self.cores} cores), "
                f"so expect up to {min(self.load / self.cores, 10):.0f}× longer")


def prompt_keys(study: Study, dataset_id: int, first: int | None) -> list[str]:
    """The prompts a replication covers: the first K by import order (as `generate` picks)."""
    keys = [p.key for p in datasets_repo.prompts(study, dataset_id)]
    return keys if first is None else keys[:first]


def existing_run(study: Study, dataset_id: int, cfg: Config, seed: int) -> int | None:
    """Id of a run with exactly this config's parameters (what `plan_runs` would reuse)."""
    ds = datasets_repo.dataset(study, dataset_id)
    from monoscope.core.generation.runs import apply_mitigations

    tpl, _ = apply_mitigations(
        resolve_template(cfg.template, dataset_domain(ds.name, ds.kind, ds.meta)),
        cfg.verbalized_k, cfg.system_prompt)
    sampling = json.dumps(cfg.sampling().to_json(), sort_keys=True)
    filt = runs_repo.prompt_filter(prompt_keys(study, dataset_id, cfg.prompts), cfg.prompts)
    for model_id, chat in runs_repo.models_named(study, cfg.model):
        (rid,) = runs_repo.find_runs(study, [runs_repo.RunKey(
            dataset_id, model_id, tpl.text_for(chat), sampling, cfg.n, seed, filt)])
        if rid is not None:
            return rid
    return None


def measured_speed(study: Study, model: str) -> float | None:
    """Tokens/s of this model's earlier runs in the study (None below 30 s of timing)."""
    tokens, seconds = runs_repo.model_speed(study, model)
    if seconds >= 30 and tokens:
        return tokens / seconds
    return None


def _fill(study: Study, model: str, max_tokens: int) -> float:
    """Share of max_tokens this model's samples used so far (FILL when unknown)."""
    n, fill = runs_repo.token_fill(study, model, max_tokens)
    return fill if n >= 50 and fill else FILL


def estimate(study: Study, dataset_id: int, configs: list[Config], seed: int = 0,
             code: bool = False) -> Estimate:
    """Seconds the replication still needs; counts finished work as free."""
    est = Estimate(load=os.getloadavg()[0], cores=os.cpu_count() or 1)
    for cfg in configs:
        keys = prompt_keys(study, dataset_id, cfg.prompts)
        expected = len(keys) * cfg.n
        rid = existing_run(study, dataset_id, cfg, seed)
        done = (runs_repo.sample_count(study, rid, cfg.verbalized_k or 1)
                if rid is not None else 0)
        speed = measured_speed(study, cfg.model) or TOKENS_PER_S.get(cfg.model, DEFAULT_TOKENS_PER_S)
        todo = expected - done
        secs = (todo * cfg.max_tokens * _fill(study, cfg.model, cfg.max_tokens) / speed
                + (LOAD_S_PER_RUN if todo else 0.0))
        est.runs.append(RunEstimate(cfg, rid, done, expected, speed, secs))
    missing = est.missing_samples
    est.embed_texts = missing + runs_repo.unembedded_texts(study, dataset_id)
    if code:
        est.sandbox_tests = int(missing * runs_repo.tests_per_prompt(study, dataset_id))
    est.seconds = (sum(r.seconds for r in est.runs) + est.embed_texts / EMBED_TEXTS_PER_S
                   + est.sandbox_tests * SANDBOX_S_PER_TEST + FIXED_S)
    return est
