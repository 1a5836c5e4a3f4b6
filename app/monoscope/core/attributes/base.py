"""Extractor protocol: what an extractor is and how it runs over a dataset's pending texts.

An extractor turns texts into rows of `attributes` (or, for embeddings, rows of `embeddings`);
the rows are read and written through `monoscope.core.store.attributes`.
Results are versioned: a text counts as done for an extractor only if its row carries the
extractor's current version, so bumping a version recomputes. Context-free extractors (the
value depends on the body alone) reuse any row with the same content hash: nothing is
computed twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from monoscope.core.store import Study
from monoscope.core.store import attributes as attributes_repo
from monoscope.core.store.attributes import TextItem, Value
from monoscope.core.tasks import TaskState

__all__ = [
    "BACKENDS",
    "EMBEDDING_MODEL",
    "SERVER_BACKEND",
    "AnnotateRequest",
    "Context",
    "Extractor",
    "Outcome",
    "TextItem",
    "Value",
]

BACKENDS = ("torch", "onnx-int8")
SERVER_BACKEND = "http"  # vectors from an OpenAI-compatible /v1/embeddings server
EMBEDDING_MODEL = "all-MiniLM-L6-v2"


@dataclass(frozen=True)
class AnnotateRequest:
    """What to annotate: datasets (None = all), attributes (None = the defaults), how."""

    study: str = ""
    dataset: str | None = None
    attributes: Sequence[str] | None = None
    backend: str = "torch"  # or "http" with embed_server
    embed_server: str | None = None  # OpenAI-compatible /v1/embeddings server (backend "http")
    threads: int | None = None
    batch_size: int = 64
    # Run generated code even without the kernel sandbox (bubblewrap); results are marked.
    unsafe_no_sandbox: bool = False
    # Topic model: None = the study's stored choice (k-means unless chosen); a name is stored.
    topic_model: str | None = None


@dataclass
class Context:
    """Shared, lazily filled state of one annotate call (loaded models live here)."""

    study: Study
    request: AnnotateRequest
    state: TaskState
    cache: dict[str, Any] = field(default_factory=dict)


@dataclass
class Outcome:
    """What one extractor did on one dataset: values computed, copied from cache, already done."""

    name: str
    dataset: str
    computed: int = 0
    copied: int = 0
    already: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "dataset": self.dataset, "computed": self.computed,
                "copied": self.copied, "already": self.already}


class Extractor:
    """Base class: subclasses set `name`, `version` and implement `compute`.

    `kinds` are the dataset kinds it runs on by default; `requires` names extractors that must
    run first (e.g. "embedding"); `context_free` enables the content-hash cache.
    """

    name: str = ""
    version: str = "1"
    kinds: tuple[str, ...] = ("text",)
    requires: tuple[str, ...] = ()
    context_free: bool = True
    batch_size: int = 256

    def effective_version(self, ctx: Context) -> str:
        """Version written with the values; may depend on the request (e.g. embedding backend)."""
        return self.version

    def compute(self, ctx: Context, items: list[TextItem]) -> list[Value]:
        """Values for `items`, in order (one model call per batch)."""
        raise NotImplementedError

    def run(self, ctx: Context, dataset_id: int, dataset: str) -> Outcome:
        """Annotate every text of the dataset that lacks this attribute at the current version."""
        out = Outcome(self.name, dataset)
        version = self.effective_version(ctx)
        total = attributes_repo.count_texts(ctx.study, dataset_id)
        if self.context_free:
            out.copied = attributes_repo.copy_cached(ctx.study, dataset_id, self.name, version)
        items = attributes_repo.pending(ctx.study, dataset_id, self.name, version)
        out.already = total - len(items) - out.copied
        ctx.state.begin(f"{self.name} ({dataset})", len(items))
        if not items:
            return out
        # context-free: one computation per distinct body, its value written to every copy
        groups: dict[str, list[TextItem]] = {}
        for it in items:
            groups.setdefault(it.content_hash if self.context_free else str(it.text_id), []).append(it)
        units = list(groups.values())
        done = 0
        for start in range(0, len(units), self.batch_size):
            ctx.state.check()
            batch = units[start : start + self.batch_size]
            values = self.compute(ctx, [g[0] for g in batch])
            out.computed += len(batch)
            rows = [(it.text_id, v) for g, v in zip(batch, values, strict=True) for it in g]
            attributes_repo.write(ctx.study, self.name, version, rows)
            done += len(rows)
            ctx.state.progress(done, len(items))
        return out
