"""Attribute framework: a registry of extractors and the `annotate` stage that runs them.

Each family lives in its own module exposing ``EXTRACTORS``; the registry imports them on
first use (a module not built yet is skipped), so adding a family means adding a module to
`EXTRACTOR_MODULES` or calling `register`. `annotate(study, request, state)` runs the chosen
extractors over the texts that lack their attribute at the current version, in batches,
committing each batch, cancellable between batches. Nothing is loaded when nothing is pending.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from monoscope.core.attributes.base import (
    BACKENDS,
    EMBEDDING_MODEL,
    SERVER_BACKEND,
    AnnotateRequest,
    Context,
    Extractor,
    Outcome,
    TextItem,
    Value,
)
from monoscope.core.errors import MonoscopeError
from monoscope.core.store import Study
from monoscope.core.store import datasets as datasets_repo
from monoscope.core.tasks import TaskState

__all__ = [
    "BACKENDS",
    "EMBEDDING_MODEL",
    "AnnotateRequest",
    "AnnotateResult",
    "Context",
    "Extractor",
    "Outcome",
    "TextItem",
    "UnknownAttribute",
    "Value",
    "annotate",
    "extractors",
    "register",
]

EXTRACTOR_MODULES = [
    "monoscope.core.attributes.embedding",
    "monoscope.core.attributes.text",
    "monoscope.core.attributes.sentiment",
    "monoscope.core.attributes.topic",
    "monoscope.core.attributes.judge_text",
    "monoscope.core.attributes.code.extractors",
]

_registry: dict[str, Extractor] = {}
_loaded = False


class UnknownAttribute(MonoscopeError):
    """An attribute name that no extractor provides."""


def register(extractor: Extractor) -> None:
    """Add (or replace) an extractor under its name."""
    _registry[extractor.name] = extractor


def extractors() -> dict[str, Extractor]:
    """All registered extractors by name, built-in families first."""
    global _loaded
    if not _loaded:
        for name in EXTRACTOR_MODULES:
            try:
                module = importlib.import_module(name)
            except ModuleNotFoundError as exc:
                if exc.name == name:
                    continue
                raise
            for ex in getattr(module, "EXTRACTORS", []):
                _registry.setdefault(ex.name, ex)
        _loaded = True
    return dict(_registry)


@dataclass
class AnnotateResult:
    """Per extractor and dataset: how many values were computed, copied and already there."""

    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def computed(self) -> int:
        return sum(o.computed for o in self.outcomes)

    def as_dict(self) -> dict[str, Any]:
        return {"computed": self.computed, "outcomes": [o.as_dict() for o in self.outcomes]}


def _plan(names: list[str] | None, kind: str) -> list[Extractor]:
    """Extractors to run for one dataset kind, dependencies first, in registry order."""
    reg = extractors()
    if names is None:
        wanted = [n for n, ex in reg.items() if kind in ex.kinds]
    else:
        unknown = [n for n in names if n not in reg]
        if unknown:
            raise UnknownAttribute(
                f"Unknown attribute(s) {', '.join(unknown)}. Known: {', '.join(reg)}."
            )
        wanted = list(names)
    ordered: list[str] = []

    def visit(n: str) -> None:
        for dep in reg[n].requires:
            visit(dep)
        if n not in ordered:
            ordered.append(n)

    for n in wanted:
        visit(n)
    return [reg[n] for n in ordered]


def annotate(study: Study, request: AnnotateRequest, state: TaskState | None = None) -> AnnotateResult:
    """Annotate the requested datasets; returns what was done. Raises TaskCancelled if cancelled."""
    state = state or TaskState()
    if request.backend == SERVER_BACKEND and not request.embed_server:
        raise UnknownAttribute("The http embedding backend needs --embed-server URL "
                               "(an OpenAI-compatible /v1/embeddings server).")
    if request.backend not in (*BACKENDS, SERVER_BACKEND):
        raise UnknownAttribute(
            f"Unknown embedding backend {request.backend!r}; use one of "
            f"{', '.join(BACKENDS)} or {SERVER_BACKEND} (with --embed-server URL)."
        )
    known = datasets_repo.datasets(study)
    if request.dataset is not None:
        datasets = [(study.dataset_id(request.dataset), request.dataset)]
    else:
        datasets = [(d.id, d.name) for d in known]
    kinds = {d.id: d.kind for d in known}
    names = list(request.attributes) if request.attributes else None
    ctx = Context(study, request, state)
    result = AnnotateResult()
    for dataset_id, dataset in datasets:
        for ex in _plan(names, kinds[dataset_id]):
            state.check()
            result.outcomes.append(ex.run(ctx, dataset_id, dataset))
            state.partial(result.outcomes[-1])
    study.checkpoint()  # the stage is done: the study file alone holds it
    return result
