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
from typing import Any

from monoscope.core.generation.templates import dataset_domain, resolve_template
from monoscope.core.replicate.presets import Config
from monoscope.core.store import Study
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
    rows = study.query("SELECT key FROM prompts WHERE dataset_id = ? ORDER BY id", [dataset_id])
    keys = [str(r["key"]) for r in rows]
    return keys if first is None else keys[:first]


def existing_run(study: Study, dataset_id: int, cfg: Config, seed: int) -> int | None:
    """Id of a run with exactly this config's parameters (what `plan_runs` would reuse)."""
    ds = study.query("SELECT name, kind, meta FROM datasets WHERE id = ?", [dataset_id])[0]
    domain = dataset_domain(ds["name"], ds["kind"], json.loads(ds["meta"]) if ds["meta"] else {})
    tpl = resolve_template(cfg.template, domain)
    sampling = json.dumps(cfg.sampling().to_json(), sort_keys=True)
    filt = json.dumps({"keys": prompt_keys(study, dataset_id, cfg.prompts), "first": cfg.prompts})
    for m in study.query("SELECT id, chat_template IS NOT NULL AS chat FROM models "
                         "WHERE name = ? ORDER BY id DESC", [cfg.model]):
        rid = study.scalar(
            "SELECT id FROM runs WHERE dataset_id=? AND model_id=? AND template_text=? AND "
            "sampling=? AND n_per_prompt=? AND seed=? AND prompt_filter=? ORDER BY id DESC LIMIT 1",
            [dataset_id, m["id"], tpl.text_for(bool(m["chat"])), sampling, cfg.n, seed, filt])
        if rid is not None:
            return int(rid)
    return None


def measured_speed(study: Study, model: str) -> float | None:
    """Tokens/s of this model's earlier runs in the study (None below 30 s of timing)."""
    row = study.query(
        "SELECT sum(CAST(r.meta->>'$.gen_tokens' AS DOUBLE)) AS tok, "
        "sum(CAST(r.meta->>'$.gen_seconds' AS DOUBLE)) AS sec FROM runs r "
        "JOIN models m ON m.id = r.model_id WHERE m.name = ?", [model])[0]
    if row["sec"] and row["sec"] >= 30 and row["tok"]:
        return float(row["tok"]) / float(row["sec"])
    return None


def _fill(study: Study, model: str, max_tokens: int) -> float:
    """Share of max_tokens this model's samples used so far (FILL when unknown)."""
    row = study.query(
        "SELECT count(*) AS n, avg(least(g.n_tokens * 1.0 / ?, 1.0)) AS f FROM generations g "
        "JOIN runs r ON r.id = g.run_id JOIN models m ON m.id = r.model_id "
        "WHERE m.name = ? AND CAST(r.sampling->>'$.max_tokens' AS INTEGER) = ?",
        [max_tokens, model, max_tokens])[0]
    return float(row["f"]) if row["n"] and row["n"] >= 50 and row["f"] else FILL


def estimate(study: Study, dataset_id: int, configs: list[Config], seed: int = 0,
             code: bool = False) -> Estimate:
    """Seconds the replication still needs; counts finished work as free."""
    est = Estimate(load=os.getloadavg()[0], cores=os.cpu_count() or 1)
    for cfg in configs:
        keys = prompt_keys(study, dataset_id, cfg.prompts)
        expected = len(keys) * cfg.n
        rid = existing_run(study, dataset_id, cfg, seed)
        done = int(study.scalar("SELECT count(*) FROM generations WHERE run_id = ?", [rid])) \
            if rid is not None else 0
        speed = measured_speed(study, cfg.model) or TOKENS_PER_S.get(cfg.model, DEFAULT_TOKENS_PER_S)
        todo = expected - done
        secs = (todo * cfg.max_tokens * _fill(study, cfg.model, cfg.max_tokens) / speed
                + (LOAD_S_PER_RUN if todo else 0.0))
        est.runs.append(RunEstimate(cfg, rid, done, expected, speed, secs))
    missing = est.missing_samples
    est.embed_texts = missing + _unembedded_sources(study, dataset_id)
    if code:
        est.sandbox_tests = int(missing * _tests_per_prompt(study, dataset_id))
    est.seconds = (sum(r.seconds for r in est.runs) + est.embed_texts / EMBED_TEXTS_PER_S
                   + est.sandbox_tests * SANDBOX_S_PER_TEST + FIXED_S)
    return est


def _unembedded_sources(study: Study, dataset_id: int) -> int:
    return int(study.scalar(
        "SELECT count(DISTINCT t.content_hash) FROM texts t JOIN prompts p ON p.id = t.prompt_id "
        "WHERE p.dataset_id = ? AND NOT EXISTS (SELECT 1 FROM embeddings e "
        "WHERE e.content_hash = t.content_hash)", [dataset_id]))


def _tests_per_prompt(study: Study, dataset_id: int) -> float:
    row: Any = study.scalar(
        "SELECT count(*) * 1.0 / nullif(count(DISTINCT pt.prompt_id), 0) FROM prompt_tests pt "
        "JOIN prompts p ON p.id = pt.prompt_id WHERE p.dataset_id = ?", [dataset_id])
    return float(row) if row else 0.0
