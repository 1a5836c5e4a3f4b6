"""Extractor protocol and the store helpers they share (pending texts, cache copy, bulk writes).

An extractor turns texts into rows of `attributes` (or, for embeddings, rows of `embeddings`).
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
from monoscope.core.tasks import TaskState

BACKENDS = ("torch", "onnx-int8")
EMBEDDING_MODEL = "all-MiniLM-L6-v2"


@dataclass(frozen=True)
class AnnotateRequest:
    """What to annotate: datasets (None = all), attributes (None = the defaults), how."""

    study: str = ""
    dataset: str | None = None
    attributes: Sequence[str] | None = None
    backend: str = "torch"
    threads: int | None = None
    batch_size: int = 64
    # Run generated code even without the kernel sandbox (bubblewrap); results are marked.
    unsafe_no_sandbox: bool = False


@dataclass(frozen=True)
class TextItem:
    """One text to annotate, as read from the store."""

    text_id: int
    content_hash: str
    body: str
    origin: str
    prompt_id: int


@dataclass(frozen=True)
class Value:
    """One attribute value: a number, a label, or both."""

    value: float | None
    label: str | None = None


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
        total = count_texts(ctx.study, dataset_id)
        if self.context_free:
            out.copied = copy_cached(ctx.study, dataset_id, self.name, version)
        items = pending_texts(ctx.study, dataset_id, self.name, version)
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
            write_attributes(ctx.study, self.name, version, rows)
            done += len(rows)
            ctx.state.progress(done, len(items))
        return out


# -- store helpers ---------------------------------------------------------------------------
def count_texts(study: Study, dataset_id: int) -> int:
    return int(study.scalar(
        "SELECT count(*) FROM texts t JOIN prompts p ON p.id = t.prompt_id WHERE p.dataset_id = ?",
        [dataset_id],
    ))


def pending_texts(study: Study, dataset_id: int, name: str, version: str) -> list[TextItem]:
    """Texts of the dataset without a `name` row at `version`, in id order."""
    with study.reader() as cur:
        rows = cur.execute(
            """SELECT t.id, t.content_hash, t.body, t.origin, t.prompt_id
               FROM texts t JOIN prompts p ON p.id = t.prompt_id
               WHERE p.dataset_id = ? AND NOT EXISTS (
                   SELECT 1 FROM attributes a
                   WHERE a.text_id = t.id AND a.name = ? AND a.version = ?)
               ORDER BY t.id""",
            [dataset_id, name, version],
        ).fetchall()
    return [TextItem(int(r[0]), r[1], r[2], r[3], int(r[4])) for r in rows]


def copy_cached(study: Study, dataset_id: int, name: str, version: str) -> int:
    """Give pending texts the value of any text with the same content hash; returns rows copied."""
    with study.transaction() as cur:
        before = cur.execute("SELECT count(*) FROM attributes WHERE name = ? AND version = ?",
                             [name, version]).fetchone()
        cur.execute(
            """INSERT OR REPLACE INTO attributes (text_id, name, value, label, version)
               SELECT t.id, c.name, c.value, c.label, c.version
               FROM texts t JOIN prompts p ON p.id = t.prompt_id
               JOIN (SELECT DISTINCT ON (t2.content_hash) t2.content_hash, a.name, a.value,
                            a.label, a.version
                     FROM attributes a JOIN texts t2 ON t2.id = a.text_id
                     WHERE a.name = ? AND a.version = ?) c ON c.content_hash = t.content_hash
               WHERE p.dataset_id = ? AND NOT EXISTS (
                   SELECT 1 FROM attributes x
                   WHERE x.text_id = t.id AND x.name = ? AND x.version = ?)""",
            [name, version, dataset_id, name, version],
        )
        after = cur.execute("SELECT count(*) FROM attributes WHERE name = ? AND version = ?",
                            [name, version]).fetchone()
    return int(after[0] if after else 0) - int(before[0] if before else 0)


def write_attributes(study: Study, name: str, version: str, rows: list[tuple[int, Value]]) -> None:
    """Insert or replace (text_id, value) rows of one attribute in one transaction."""
    with study.transaction() as cur:
        insert_attributes(cur, name, version, rows)


def insert_attributes(cur: Any, name: str, version: str, rows: list[tuple[int, Value]]) -> None:
    """`write_attributes` inside the caller's transaction (``cur`` from `Study.transaction`)."""
    import pyarrow as pa

    table = pa.table({
        "text_id": pa.array([r[0] for r in rows], type=pa.int64()),
        "value": pa.array([r[1].value for r in rows], type=pa.float64()),
        "label": pa.array([r[1].label for r in rows], type=pa.string()),
    })
    cur.register("_attr_rows", table)
    cur.execute(
        "INSERT OR REPLACE INTO attributes (text_id, name, value, label, version) "
        "SELECT text_id, ?, value, label, ? FROM _attr_rows",
        [name, version],
    )
    cur.unregister("_attr_rows")
