"""`run_replication`: generate every config, annotate, project, measure, assemble, report.

Every stage is resumable or cached, so re-running the same request does no repeated work:
runs are found by their parameters (`plan_runs` reuses them; finished ones generate nothing,
unfinished ones only their missing samples), annotate and project skip what is stored, and
the measure + tables + figures step is skipped when a fingerprint of its inputs is unchanged.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monoscope.core.errors import MonoscopeError
from monoscope.core.replicate.estimate import Estimate, estimate, prompt_keys
from monoscope.core.replicate.presets import (
    DECAYS,
    Config,
    ReplicateError,
    ReplicateRequest,
    expand,
    protocol_for,
)
from monoscope.core.replicate.tables import (
    SOURCE,
    Column,
    Table,
    assemble,
    code_metrics,
    review_metrics,
)
from monoscope.core.store import Study
from monoscope.core.tasks import TaskState

VERSION = "2"  # bump when tables or figures change, to invalidate cached reports
RESULT_FILE = "replication.json"


@dataclass
class ReplicationResult:
    request: ReplicateRequest
    dataset: str
    configs: list[Config]
    run_ids: list[int]
    estimate: Estimate
    prompts: list[str]
    generated_now: int = 0
    tokens_now: int = 0
    annotated_now: int = 0
    measured_now: bool = False
    tables: list[Table] = field(default_factory=list)
    out: Path | None = None
    report: Path | None = None
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def repeated_nothing(self) -> bool:
        """True when this call found every piece of work already done."""
        return not (self.generated_now or self.annotated_now or self.measured_now)


def default_out(study: Study, protocol: str) -> Path:
    return study.path.with_name(f"{study.path.stem}-replication-{protocol}")


def ensure_dataset(study: Study, name: str, state: TaskState) -> int:
    """The dataset's id; a bundled demo (films, algorithms) is imported when missing."""
    if study.scalar("SELECT id FROM datasets WHERE name = ?", [name]) is None:
        from monoscope.core.importers import DEMOS, import_demo

        if name not in DEMOS:
            raise ReplicateError(
                f"The study has no dataset {name!r}. Import it first (`monoscope import ...`) "
                f"or use a demo: {', '.join(DEMOS)}.")
        import_demo(study, name, state)
    return study.dataset_id(name)


def plan(study: Study, request: ReplicateRequest, state: TaskState | None = None
         ) -> tuple[int, list[Config], Estimate]:
    """Dataset id, configs and time estimate; creates nothing but a missing demo dataset."""
    state = state or TaskState()
    configs = expand(request)
    ds_id = ensure_dataset(study, request.dataset, state)
    kind = str(study.scalar("SELECT kind FROM datasets WHERE id = ?", [ds_id]))
    want = want_kind(request)
    if kind != want:
        raise ReplicateError(
            f"Dataset {request.dataset!r} holds {kind}; `replicate {request.protocol}` needs a "
            f"{want} dataset (e.g. --dataset {'algorithms' if want == 'code' else 'films'}).")
    return ds_id, configs, estimate(study, ds_id, configs, request.seed, code=want == "code")


def run_replication(study: Study, request: ReplicateRequest, state: TaskState
                    ) -> ReplicationResult:
    """Run the whole protocol; safe to call again (it resumes and reuses)."""
    t0 = time.perf_counter()
    ds_id, configs, est = plan(study, request, state)
    proto = protocol_for(request)
    res = ReplicationResult(request, request.dataset, configs, [], est,
                            prompt_keys(study, ds_id, proto.prompts))
    _generate(study, request, configs, res, state)
    res.stage_seconds["generate"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    res.annotated_now = _annotate(study, request.dataset, want_kind(request), res, state)
    res.stage_seconds["annotate"] = time.perf_counter() - t1
    if request.project:
        t2 = time.perf_counter()
        from monoscope.core.analysis.projection import ProjectionRequest, project

        method = "pca" if request.preset == "quick" else "auto"
        project(study, ProjectionRequest(dataset=request.dataset, method=method), state)
        res.stage_seconds["project"] = time.perf_counter() - t2
    t3 = time.perf_counter()
    out = Path(request.out).expanduser() if request.out else default_out(study, request.protocol)
    _measure_and_report(study, ds_id, res, out, state)
    res.stage_seconds["measure+report"] = time.perf_counter() - t3
    res.seconds = time.perf_counter() - t0
    return res


def _generate(study: Study, request: ReplicateRequest, configs: list[Config],
              res: ReplicationResult, state: TaskState) -> None:
    """One run per config; one loaded model serves all runs of that model."""
    from monoscope.core.generation import RunRequest, plan_runs, run_generation

    engines: dict[str, Any] = {}
    try:
        for i, cfg in enumerate(configs):
            state.check()
            rid = plan_runs(study, RunRequest(
                dataset=request.dataset, model=cfg.model, template=cfg.template, n=cfg.n,
                temperatures=(cfg.temperature,), top_ps=(cfg.top_p,), top_ks=(cfg.top_k,),
                max_tokens=cfg.max_tokens, decay=DECAYS[cfg.decay] if cfg.decay else None,
                prompts=cfg.prompts, seed=request.seed, n_parallel=request.n_parallel,
                label=cfg.label, extra={"replicate": f"{request.protocol}/{request.preset}"}))[0]
            res.run_ids.append(rid)
            done = study.scalar("SELECT count(*) FROM generations WHERE run_id = ?", [rid])
            if int(done) >= len(res.prompts) * cfg.n:
                run_generation(study, rid, state)  # marks it finished, generates nothing
                continue
            if cfg.model not in engines:
                for other in list(engines):  # keep one model in memory at a time
                    engines.pop(other).close()
                engines[cfg.model] = _engine(study, cfg.model, request.n_parallel)
            state.begin(f"replicate {i + 1}/{len(configs)}: {cfg.label}")
            s = run_generation(study, rid, state, engine=engines[cfg.model])
            res.generated_now += s.generated_now
            res.tokens_now += s.tokens_now
    finally:
        for eng in engines.values():
            eng.close()


def want_kind(request: ReplicateRequest) -> str:
    return "code" if request.protocol == "code" else "text"


def _annotate(study: Study, dataset: str, kind: str, res: ReplicationResult,
              state: TaskState) -> int:
    """Every default attribute of the dataset's kind; a missing optional model is noted."""
    from monoscope.core.attributes import AnnotateRequest, annotate, extractors
    from monoscope.core.errors import AssetMissing

    names = [n for n, ex in extractors().items() if kind in ex.kinds]
    while True:
        try:
            req = AnnotateRequest(study=str(study.path), dataset=dataset, attributes=names,
                                  unsafe_no_sandbox=res.request.unsafe_no_sandbox)
            if kind == "code" and req.unsafe_no_sandbox:
                from monoscope.core.sandbox import UNSAFE, isolation

                if isolation(True) == UNSAFE:
                    res.notes.append("programs ran WITHOUT the kernel sandbox "
                                     "(code.correct version '+unsafe-no-sandbox')")
            return annotate(study, req, state).computed
        except AssetMissing as exc:
            if "sentiment.head" not in names:
                raise
            # The trained head is optional: VADER still gives the paper's binary sentiment.
            names.remove("sentiment.head")
            res.notes.append(f"sentiment.head skipped: {exc}")


def _engine(study: Study, model: str, n_parallel: int) -> Any:
    from monoscope.core.generation.llama_engine import LlamaCppEngine
    from monoscope.core.generation.registry import register_model

    rec = register_model(study, model)
    return LlamaCppEngine(rec.path, n_parallel=n_parallel)


def fingerprint(study: Study, ds_id: int, run_ids: list[int], request: ReplicateRequest) -> str:
    """Hash of everything the tables depend on: samples, attributes, embeddings, settings."""
    gen = study.query(
        "SELECT run_id, count(*) AS n, sum(hash(text_id, perplexity)) AS h FROM generations "
        "WHERE run_id IN (SELECT unnest(?)) GROUP BY run_id ORDER BY run_id", [run_ids])
    att = study.query(
        "SELECT count(*) AS n, sum(hash(a.text_id, a.name, a.value, a.label, a.version)) AS h "
        "FROM attributes a JOIN texts t ON t.id = a.text_id JOIN prompts p ON p.id = t.prompt_id "
        "WHERE p.dataset_id = ?", [ds_id])
    emb = study.scalar(
        "SELECT count(*) FROM embeddings e WHERE e.content_hash IN (SELECT t.content_hash FROM "
        "texts t JOIN prompts p ON p.id = t.prompt_id WHERE p.dataset_id = ?)", [ds_id])
    src = study.scalar("SELECT count(*) FROM texts t JOIN prompts p ON p.id = t.prompt_id "
                       "WHERE p.dataset_id = ? AND t.run_id IS NULL", [ds_id])
    blob = json.dumps([VERSION, run_ids, gen, att, emb, src, request.ppl_max, request.protocol],
                      default=str, sort_keys=True)
    return hashlib.md5(blob.encode()).hexdigest()


def _columns(study: Study, configs: list[Config], run_ids: list[int]) -> list[Column]:
    cols = [Column(SOURCE, "source (human)")]
    for cfg, rid in zip(configs, run_ids, strict=True):
        cols.append(Column(f"run:{rid}", cfg.label, {
            "model": cfg.model, "template": cfg.template, "temperature": cfg.temperature,
            "top_p": cfg.top_p, "top_k": cfg.top_k, "decay": cfg.decay, "n": cfg.n,
            "max_tokens": cfg.max_tokens, "run_id": rid}))
    return cols


def _measure_and_report(study: Study, ds_id: int, res: ReplicationResult, out: Path,
                        state: TaskState) -> None:
    from monoscope.core.analysis.measure import MeasureRequest, measure
    from monoscope.core.replicate.report import write_report

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MonoscopeError(f"Cannot create the report folder {out}: {exc.strerror}. "
                             "Pass another folder with --out.") from None
    res.out = out
    fp = fingerprint(study, ds_id, res.run_ids, res.request)
    cached = out / RESULT_FILE
    if cached.is_file() and (out / "replication.html").is_file():
        try:
            old = json.loads(cached.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            old = {}
        if old.get("fingerprint") == fp:
            res.tables = [Table(t["title"], [Column(**c) for c in t["columns"]],
                                [(r["metric"], r["values"]) for r in t["rows"]], t["notes"])
                          for t in old["tables"]]
            res.report = out / "replication.html"
            return
    mres = measure(study, MeasureRequest(dataset=res.dataset, runs=tuple(map(str, res.run_ids)),
                                         ppl_max=res.request.ppl_max, n_boot=200), state)
    res.measured_now = True
    cols = _columns(study, res.configs, res.run_ids)
    attrs = list(mres.attributes)
    rows = code_metrics(attrs) if res.request.protocol == "code" else review_metrics(attrs)
    title = (f"{res.request.protocol} on {res.dataset} ({res.request.preset} preset, "
             f"{len(res.prompts)} prompts)")
    table = assemble(mres, cols, rows, res.prompts, title)
    pf = res.request.ppl_max
    table.notes.append(f"perplexity filter: 0 < ppl ≤ {pf:g} on generated texts" if pf
                       else "perplexity filter: off")
    table.notes += res.notes
    res.tables = [table]
    res.report = write_report(res, mres, rows, out)
    cached.write_text(json.dumps({
        "fingerprint": fp, "request": res.request.__dict__, "run_ids": res.run_ids,
        "prompts": res.prompts, "tables": [t.to_dict() for t in res.tables],
    }, indent=2, default=str), encoding="utf-8")
