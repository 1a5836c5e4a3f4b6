"""The demo study end to end: import both demos, small runs of the two bundled models, then
annotate, project, measure and report. Every step is cached or resumable, so a second call
does no repeated work."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monoscope.core.store import Study
from monoscope.core.tasks import TaskState


@dataclass
class DemoRequest:
    study: Path
    out: Path
    models: tuple[str, ...] = ("smollm2", "gemma3-base")
    films_prompts: int = 12
    films_n: int = 8
    films_max_tokens: int = 96
    code_n: int = 4
    code_max_tokens: int = 200
    generate: bool = True
    temperature: float = 1.0
    top_p: float = 0.95
    seed: int = 0


@dataclass
class DemoResult:
    study: Path
    report: Path | None = None
    run_ids: list[int] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)


def _generate(study: Study, req: DemoRequest, dataset: str, n: int, max_tokens: int,
              prompts: int | None, state: TaskState, log: list[str]) -> list[int]:
    from monoscope.core.generation.runs import RunRequest, plan_runs, run_generation

    ids: list[int] = []
    for model in req.models:
        run_req = RunRequest(
            dataset=dataset, model=model, n=n, temperatures=(req.temperature,),
            top_ps=(req.top_p,), max_tokens=max_tokens, prompts=prompts, seed=req.seed,
        )
        for run_id in plan_runs(study, run_req):
            state.check()
            summary = run_generation(study, run_id, state)
            log.append(f"generate {dataset} with {model}: run {run_id} {summary.status}")
            ids.append(run_id)
    return ids


def run_demo(req: DemoRequest, state: TaskState) -> DemoResult:
    """Build (or bring up to date) the demo study and its HTML report."""
    from monoscope.core.analysis.measure import MeasureRequest, measure
    from monoscope.core.analysis.projection import ProjectionRequest, project
    from monoscope.core.attributes import annotate
    from monoscope.core.attributes.base import AnnotateRequest
    from monoscope.core.importers import import_demo
    from monoscope.core.report import ReportRequest, build_report

    result = DemoResult(req.study)
    with Study(req.study) as study:
        for name in ("films", "algorithms"):
            rep = import_demo(study, name, state)
            result.steps.append(f"import {name}: " + ("already present" if rep.already_present
                                                       else f"{rep.texts} texts"))
        if req.generate:
            result.run_ids += _generate(study, req, "films", req.films_n, req.films_max_tokens,
                                        req.films_prompts, state, result.steps)
            result.run_ids += _generate(study, req, "algorithms", req.code_n,
                                        req.code_max_tokens, None, state, result.steps)
        done = annotate(study, AnnotateRequest(study=str(req.study)), state)
        result.steps.append(f"annotate: {done.computed} values computed")
        films_keys = _generated_prompt_keys(study, "films")
        scopes = ("dataset", *(f"prompt:{k}" for k in films_keys))
        project(study, ProjectionRequest(dataset="films", scopes=scopes), state)
        project(study, ProjectionRequest(dataset="algorithms", scopes=("dataset",)), state)
        result.steps.append(f"project: dataset maps + {len(films_keys)} per-prompt maps")
        m = measure(study, MeasureRequest(dataset="films"), state)
        result.steps.append(f"measure films: {len(m.groups)} groups (source + runs)")
        report = build_report(study, ReportRequest(out=req.out, dataset="films"), state)
        result.report = report.index
        result.steps.append(f"report: {report.index}")
    return result


def _generated_prompt_keys(study: Study, dataset: str) -> list[str]:
    rows: list[dict[str, Any]] = study.query(
        "SELECT DISTINCT p.key, p.id FROM prompts p JOIN texts t ON t.prompt_id = p.id "
        "JOIN datasets d ON d.id = p.dataset_id WHERE d.name = ? AND t.origin = 'generated' "
        "ORDER BY p.id", [dataset])
    return [str(r["key"]) for r in rows]
