"""`run_replication`: generate every config, annotate, project, measure, assemble, report.

The stages run through `monoscope.core.pipeline.run_chain`. Every stage is resumable or cached,
so re-running the same request does no repeated work: runs are found by their parameters
(`plan_runs` reuses them; finished ones generate nothing, unfinished ones only their missing
samples), annotate and project skip what is stored, and the measure + tables + figures step is
skipped when a fingerprint of its inputs is unchanged.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from monoscope.core.errors import MonoscopeError, StudyError
from monoscope.core.generation.runs import RunRequest
from monoscope.core.pipeline import Annotate, Generate, Measure, Project, Stage, run_chain
from monoscope.core.replicate.estimate import Estimate, estimate, prompt_keys
from monoscope.core.replicate.presets import (
    DECAYS,
    Config,
    ReplicateError,
    ReplicateRequest,
    expand,
    protocol_for,
)
from monoscope.core.replicate.result import ReplicationResult
from monoscope.core.replicate.tables import (
    SOURCE,
    Column,
    Table,
    assemble,
    code_metrics,
    review_metrics,
)
from monoscope.core.store import Study
from monoscope.core.store import datasets as datasets_repo
from monoscope.core.store import runs as runs_repo
from monoscope.core.tasks import TaskState

VERSION = "2"  # bump when tables or figures change, to invalidate cached reports
RESULT_FILE = "replication.json"

def default_out(study: Study, protocol: str) -> Path:
    return study.path.with_name(f"{study.path.stem}-replication-{protocol}")


def ensure_dataset(study: Study, name: str, state: TaskState) -> int:
    """The dataset's id; a bundled demo (films, algorithms) is imported when missing."""
    try:
        return study.dataset_id(name)
    except StudyError:
        from monoscope.core.importers import DEMOS, import_demo

        if name not in DEMOS:
            raise ReplicateError(
                f"The study has no dataset {name!r}. Import it first (`monoscope import ...`) "
                f"or use a demo: {', '.join(DEMOS)}.") from None
        import_demo(study, name, state)
    return study.dataset_id(name)


def plan(study: Study, request: ReplicateRequest, state: TaskState | None = None
         ) -> tuple[int, list[Config], Estimate]:
    """Dataset id, configs and time estimate; creates nothing but a missing demo dataset."""
    state = state or TaskState()
    configs = expand(request)
    ds_id = ensure_dataset(study, request.dataset, state)
    kind = datasets_repo.dataset(study, ds_id).kind
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
    kind = want_kind(request)
    if kind == "code" and request.unsafe_no_sandbox:
        from monoscope.core.sandbox import UNSAFE, isolation

        if isolation(True) == UNSAFE:
            res.notes.append("programs ran WITHOUT the kernel sandbox "
                             "(code.correct version '+unsafe-no-sandbox')")
    steps: list[Stage] = [
        # one run per config; one loaded model serves all runs of that model
        Generate(requests=[_run_request(request, cfg) for cfg in configs], share_engine=True),
        _annotate(request, kind)]
    if request.project:
        steps.append(Project(scopes=("dataset",),
                             method="pca" if request.preset == "quick" else "auto"))
    for step in run_chain(study, steps, state, dataset=request.dataset):
        res.stage_seconds[step.name] = step.seconds
        res.notes += step.notes
        if step.name == "generate":
            res.run_ids = [s.run_id for s in step.value]
            res.generated_now = sum(s.generated_now for s in step.value)
            res.tokens_now = sum(s.tokens_now for s in step.value)
        elif step.name == "annotate":
            res.annotated_now = step.value.computed
    t3 = time.perf_counter()
    out = Path(request.out).expanduser() if request.out else default_out(study, request.protocol)
    _measure_and_report(study, ds_id, res, out, state)
    res.stage_seconds["measure+report"] = time.perf_counter() - t3
    res.seconds = time.perf_counter() - t0
    return res


def _run_request(request: ReplicateRequest, cfg: Config) -> RunRequest:
    """The generation request of one config (a single run)."""
    return RunRequest(
        dataset=request.dataset, model=cfg.model, template=cfg.template, n=cfg.n,
        temperatures=(cfg.temperature,), top_ps=(cfg.top_p,), top_ks=(cfg.top_k,),
        max_tokens=cfg.max_tokens, decay=DECAYS[cfg.decay] if cfg.decay else None,
        prompts=cfg.prompts, seed=request.seed, n_parallel=request.n_parallel,
        label=cfg.label, extra={"replicate": f"{request.protocol}/{request.preset}"},
        min_p=cfg.min_p, verbalized_k=cfg.verbalized_k, system_prompt=cfg.system_prompt)


def want_kind(request: ReplicateRequest) -> str:
    return "code" if request.protocol == "code" else "text"


def _annotate(request: ReplicateRequest, kind: str) -> Annotate:
    """Every attribute of the dataset's kind; the trained sentiment head is optional (VADER
    still gives the paper's binary sentiment), a missing one is noted."""
    from monoscope.core.attributes import extractors

    names = [n for n, ex in extractors().items() if kind in ex.kinds]
    return Annotate(attributes=names, unsafe_no_sandbox=request.unsafe_no_sandbox,
                    optional=("sentiment.head",))


def fingerprint(study: Study, ds_id: int, run_ids: list[int], request: ReplicateRequest) -> str:
    """Hash of everything the tables depend on: samples, attributes, embeddings, settings."""
    gen, att, emb, src = runs_repo.replication_inputs(study, ds_id, run_ids)
    blob = json.dumps([VERSION, run_ids, gen, att, emb, src, request.ppl_max, request.protocol],
                      default=str, sort_keys=True)
    return hashlib.md5(blob.encode()).hexdigest()


def _columns(study: Study, configs: list[Config], run_ids: list[int]) -> list[Column]:
    cols = [Column(SOURCE, "source (human)")]
    for cfg, rid in zip(configs, run_ids, strict=True):
        cols.append(Column(f"run:{rid}", cfg.label, {
            "model": cfg.model, "template": cfg.template, "temperature": cfg.temperature,
            "top_p": cfg.top_p, "top_k": cfg.top_k, "decay": cfg.decay, "n": cfg.n,
            "max_tokens": cfg.max_tokens, "run_id": rid, "min_p": cfg.min_p,
            "verbalized_k": cfg.verbalized_k, "system_prompt": cfg.system_prompt}))
    return cols


def _measure_and_report(study: Study, ds_id: int, res: ReplicationResult, out: Path,
                        state: TaskState) -> None:
    from monoscope.core.analysis.measure import MeasureRequest
    from monoscope.core.explore.queries import topic_fit
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
    (step,) = run_chain(study, [Measure(MeasureRequest(
        dataset=res.dataset, runs=tuple(map(str, res.run_ids)), ppl_max=res.request.ppl_max,
        n_boot=200))], state)
    mres = step.value
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
    fit = topic_fit(study, ds_id)
    if fit and "topic" in attrs:
        table.notes.append(f"topics: {fit}")
    table.notes += res.notes
    res.tables = [table]
    res.report = write_report(res, mres, rows, out)
    cached.write_text(json.dumps({
        "fingerprint": fp, "request": res.request.__dict__, "run_ids": res.run_ids,
        "prompts": res.prompts, "tables": [t.to_dict() for t in res.tables],
    }, indent=2, default=str), encoding="utf-8")
