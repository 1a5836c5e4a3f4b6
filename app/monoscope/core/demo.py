"""The demo study end to end: import both demos, small runs of the two bundled models, then
score (films: the models' own log-probabilities), annotate, project, measure (one `run_chain` per dataset) and report. Every step is cached or
resumable, so a second call does no repeated work."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from monoscope.core.generation.runs import RunRequest
from monoscope.core.pipeline import (
    Annotate,
    Generate,
    Measure,
    Project,
    Score,
    Stage,
    StepResult,
    run_chain,
)
from monoscope.core.store import Study
from monoscope.core.store import runs as runs_repo
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


def _generate(req: DemoRequest, dataset: str, n: int, max_tokens: int, prompts: int | None
              ) -> list[Stage]:
    """A generate step with one small run per model (no step without generation)."""
    if not req.generate:
        return []
    return [Generate([RunRequest(dataset=dataset, model=model, n=n,
                                 temperatures=(req.temperature,), top_ps=(req.top_p,),
                                 max_tokens=max_tokens, prompts=prompts, seed=req.seed)
                      for model in req.models])]


def run_demo(req: DemoRequest, state: TaskState) -> DemoResult:
    """Build (or bring up to date) the demo study and its HTML report."""
    from monoscope.core.importers import import_demo
    from monoscope.core.report import ReportRequest, build_report

    result = DemoResult(req.study)
    with Study(req.study) as study:
        for name in ("films", "algorithms"):
            rep = import_demo(study, name, state)
            result.steps.append(f"import {name}: " + ("already present" if rep.already_present
                                                       else f"{rep.texts} texts"))
        # films: per-prompt maps of the prompts that have generations (after a generate step,
        # the chain's scope is its runs' prompts); algorithms: the dataset map only
        films_keys = None if req.generate else runs_repo.generated_prompt_keys(
            study, study.dataset_id("films"))
        chains: list[tuple[str, list[Stage], list[str] | None]] = [
            ("films", [*_generate(req, "films", req.films_n, req.films_max_tokens,
                                  req.films_prompts), Score(), Annotate(), Project(), Measure()],
             films_keys),
            ("algorithms", [*_generate(req, "algorithms", req.code_n, req.code_max_tokens, None),
                            Annotate(), Project(scopes=("dataset",))], None),
        ]
        for dataset, steps, keys in chains:
            for step in run_chain(study, steps, state, dataset=dataset, prompt_keys=keys):
                result.steps += _describe(dataset, step)
                if step.name == "generate":
                    result.run_ids += [s.run_id for s in step.value]
        report = build_report(study, ReportRequest(out=req.out, dataset="films"), state)
        result.report = report.index
        result.steps.append(f"report: {report.index}")
    return result


def _describe(dataset: str, step: StepResult) -> list[str]:
    """The log lines of one chain step."""
    if step.name == "generate":
        return [f"generate {dataset}: run {s.run_id} {s.status}" for s in step.value]
    if step.name == "annotate":
        return [f"annotate {dataset}: {step.value.computed} values computed"]
    if step.name == "score":
        return [f"score {dataset}: {step.value.scored} texts scored ("
                f"{step.value.tokens_per_s:.0f} tok/s), {step.value.copied} copied"]
    if step.name == "project":
        return [f"project {dataset}: {len(step.value.maps)} maps"]
    return [f"measure {dataset}: {len(step.value.groups)} groups (source + runs)"]
