"""Background loads of the explorer window: plain ``fn(request, state)`` tasks for TaskRunner.

They read through `monoscope.core.queries` only, so they run in worker threads and can be
tested without a window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from monoscope.core import queries
from monoscope.core.store import Study
from monoscope.core.tasks import TaskState
from monoscope.ui.views.histograms import AttributeData
from monoscope.ui.views.pointcloud import build_trees

HIST_ATTRIBUTES = ("sentiment.head", "sentiment.vader", "text.words", "text.ttr", "topic",
                   "code.correct", "code.cyclomatic", "code.algorithms", "code.data_structures",
                   "code.wall_ms", "code.peak_kb")


@dataclass
class TableRequest:
    study: Study
    dataset_id: int
    attribute: str | None


@dataclass
class TablePayload:
    attributes: list[str]
    attribute: str | None
    table: queries.PromptTable
    runs: list[queries.RunInfo]


def load_table(req: TableRequest, state: TaskState) -> TablePayload:
    """Attribute names, the ranking attribute (kept if still present) and the prompt table."""
    names = queries.attribute_names(req.study, req.dataset_id)
    attr = req.attribute if req.attribute in names else queries.default_attribute(names)
    state.check()
    return TablePayload(names, attr, queries.prompt_table(req.study, req.dataset_id, attr),
                        queries.runs(req.study, req.dataset_id))


@dataclass
class MapRequest:
    study: Study
    dataset_id: int
    key: str | None  # None = the whole dataset


@dataclass
class MapPayload:
    """What the map and the histograms show for one scope."""

    key: str | None
    points: queries.Points | None
    labels: list[str]
    attrs: list[AttributeData]
    trees: list[object] | None = None


def load_map(req: MapRequest, state: TaskState) -> MapPayload:
    """Points of the scope, the attribute values aligned with them, and the pick index."""
    st, ds = req.study, req.dataset_id
    pts = queries.points(st, ds, req.key)
    labels = ["source", *(r.label for r in queries.runs(st, ds))]
    attrs: list[AttributeData] = []
    trees = None
    if pts is not None and len(pts):
        present = set(queries.attribute_names(st, ds))
        topics = queries.topic_labels(st, ds)
        for name in HIST_ATTRIBUTES:
            state.check()
            if name in present:
                vals, text_labels = queries.attribute_values(st, pts.text_id, name)
                attrs.append(AttributeData(name, vals, topics if name == "topic" else None,
                                           text_labels if any(text_labels[:1000]) else None))
        trees = build_trees(pts.x, pts.y, pts.group, len(labels))
    return MapPayload(req.key, pts, labels, attrs, trees)


def load_text(req: tuple[Study, int], state: TaskState
              ) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """A text's detail and its nearest source texts."""
    st, text_id = req
    return queries.text_detail(st, text_id), queries.nearest_source(st, text_id)


def load_lists(req: tuple[Study, int, str], state: TaskState
               ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The prompt's most generic and most atypical generated texts."""
    st, ds, key = req
    pid = st.scalar("SELECT id FROM prompts WHERE dataset_id = ? AND key = ?", [ds, key])
    return queries.generic_and_atypical(st, int(pid)) if pid is not None else ([], [])
