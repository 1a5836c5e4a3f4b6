"""Background loads of the explorer window: plain ``fn(request, state)`` tasks for TaskRunner.

They read through the explore read models (`monoscope.core.explore`) and the study catalog
(`monoscope.core.store.catalog`), so they run in worker threads and can be tested without a
window; the GUI thread itself runs no query. Statistics come from the measure stage's stored
rows: the prompt table measures once when the stored set is missing or stale (`measured_set`),
every other load reads what is stored and computes nothing.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from monoscope.core.explore import queries
from monoscope.core.explore.figure_data import default_dataset
from monoscope.core.explore.labels import run_label
from monoscope.core.explore.missing import PromptMissingModes, prompt_missing_modes
from monoscope.core.store import Study
from monoscope.core.store import datasets as datasets_repo
from monoscope.core.store.datasets import Dataset
from monoscope.core.tasks import TaskState
from monoscope.ui.contours import Line, source_contours
from monoscope.ui.views.histograms import AttributeData
from monoscope.ui.views.pointcloud import build_trees

HIST_ATTRIBUTES = ("sentiment.head", "sentiment.vader", "text.words", "text.ttr", "topic",
                   "code.correct", "code.cyclomatic", "code.algorithms", "code.data_structures",
                   "code.wall_ms", "code.peak_kb")

# One measure at a time per process: the window's views, the prompt table and the pipeline's
# measure step would otherwise each compute (and replace) the same stored set concurrently.
_MEASURE_LOCK = threading.RLock()


def measuring(state: TaskState) -> Any:
    """Context manager holding the measure lock; waits cancellably (checks ``state``)."""

    class _Held:
        def __enter__(self) -> None:
            while not _MEASURE_LOCK.acquire(timeout=0.1):
                state.check()

        def __exit__(self, *exc: object) -> None:
            _MEASURE_LOCK.release()

    return _Held()


def measured_set(study: Study, dataset_id: int, state: TaskState) -> int:
    """Id of the current stored measurement set, measured first when missing or stale."""
    from monoscope.core.analysis.measure import current_set, ensure_measured

    found = current_set(study, dataset_id)
    if found is not None:
        return found
    with measuring(state):
        return ensure_measured(study, dataset_id, state)


T = TypeVar("T")


def figure_task(compute: Callable[[Any, TaskState], T]
                ) -> Callable[[tuple[Any, ...], TaskState], T | None]:
    """A figure view's task for requests ``(study, dataset id or None, *rest)``: picks the
    dataset (None: the study's first), makes sure the stored set is current (under the measure
    lock), then returns ``compute((study, dataset_id, *rest), state)``, whose own
    `ensure_measured` then only reads; None when the study has no dataset."""

    @functools.wraps(compute)
    def task(request: tuple[Any, ...], state: TaskState) -> T | None:
        study, wanted, *rest = request
        dataset_id = default_dataset(study, wanted)
        if dataset_id is None:
            return None
        measured_set(study, dataset_id, state)
        return compute((study, dataset_id, *rest), state)

    return task


def load_datasets(study: Study, state: TaskState) -> list[Dataset]:
    """The study's datasets with their prompt counts."""
    return datasets_repo.datasets(study)


@dataclass
class TableRequest:
    study: Study
    dataset_id: int
    attribute: str | None
    measure: bool = True  # False: show the stored set only if current, never compute


@dataclass
class TablePayload:
    attributes: list[str]
    attribute: str | None
    table: queries.PromptTable
    runs: list[queries.RunInfo]
    set_id: int | None = None


def load_table(req: TableRequest, state: TaskState) -> TablePayload:
    """Attribute names, the ranking attribute (kept if still present) and the prompt table."""
    names = queries.attribute_names(req.study, req.dataset_id)
    attr = req.attribute if req.attribute in names else queries.default_attribute(names)
    state.check()
    set_id = None
    if attr is not None and req.measure:  # measured here only when missing or stale
        set_id = measured_set(req.study, req.dataset_id, state)
    elif attr is not None:
        from monoscope.core.analysis.measure import current_set

        set_id = current_set(req.study, req.dataset_id)
    return TablePayload(names, attr, queries.prompt_table(req.study, req.dataset_id, attr, set_id),
                        queries.runs(req.study, req.dataset_id), set_id)


@dataclass
class MapRequest:
    study: Study
    dataset_id: int
    key: str | None  # None = the whole dataset
    set_id: int | None = None  # the stored set the prompt table shows (None: look it up)


@dataclass
class MapPayload:
    """What the map and the histograms show for one scope; ``measurements`` are the stored
    rows of the scope (one prompt, or the dataset aggregates), empty when not measured."""

    key: str | None
    points: queries.Points | None
    labels: list[str]
    attrs: list[AttributeData]
    trees: list[object] | None = None
    measurements: list[dict[str, Any]] = field(default_factory=list)
    set_id: int | None = None
    run_keys: list[str] = field(default_factory=list)  # group key of each label
    missing: PromptMissingModes | None = None  # the prompt's missing modes (None: no prompt)
    contours: tuple[Line, Line] | None = None  # the source's 50 % / 90 % curves on the map


def load_map(req: MapRequest, state: TaskState) -> MapPayload:
    """Points of the scope, the attribute values aligned with them, the pick index and the
    stored measurements of the scope and, for a prompt, its missing modes (read, never
    computed: switching prompts does no statistics work)."""
    st, ds = req.study, req.dataset_id
    pts = queries.points(st, ds, req.key)
    run_list = queries.run_labels(st, ds)
    labels = ["source", *(run_label(rid, label) for rid, label in run_list)]
    keys = ["source", *(f"run:{rid}" for rid, _ in run_list)]
    attrs: list[AttributeData] = []
    trees = None
    contours = None
    set_id = req.set_id
    if set_id is None:
        from monoscope.core.analysis.measure import current_set

        set_id = current_set(st, ds)
    rows = queries.prompt_measurements(st, set_id, req.key, ds) if set_id is not None else []
    if pts is not None and len(pts):
        topics = queries.topic_labels(st, ds)
        values = queries.attributes_values(st, pts.text_id, HIST_ATTRIBUTES)
        state.check()
        for name in HIST_ATTRIBUTES:
            if name in values:
                vals, text_labels = values[name]
                attrs.append(AttributeData(
                    name, vals, topics if name == "topic" else None,
                    text_labels if any(text_labels[:1000]) else None,
                    [r for r in rows if r["attribute"] == name]))
        trees = build_trees(pts.x, pts.y, pts.group, len(labels))
        src = pts.group == 0
        contours = source_contours(pts.x[src], pts.y[src])
    missing = None
    if req.key is not None and set_id is not None:
        missing = prompt_missing_modes(st, ds, set_id, req.key, rows, dict(zip(keys, labels,
                                                                              strict=True)))
    return MapPayload(req.key, pts, labels, attrs, trees, rows, set_id, keys, missing, contours)


def load_text(req: tuple[Any, ...], state: TaskState
              ) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """A text's detail and its nearest source texts: (study, text id[, the selection's text
    ids or None[, the scorer the Likelihood tab shows or None]])."""
    st, text_id, among, scorer_id = (*req, None, None, None)[:4]
    return (queries.text_detail(st, text_id, scorer_id),
            queries.nearest_source(st, text_id, among=among))


def load_map_colour(req: tuple[Study, int, int | None, Any], state: TaskState
                    ) -> tuple[list[tuple[int, str]], Any, str]:
    """(the dataset's scorers as (id, label), the chosen scorer's mean per-token
    log-probability of each map point or None, its label) for the map's "Colour by"."""
    from monoscope.core.explore.likelihood import logprob_values, scorer_choices

    st, ds, scorer_id, text_ids = req
    choices = scorer_choices(st, ds)
    chosen = next((c for c in choices if c.scorer_id == scorer_id), None)
    if chosen is None:
        return [(c.scorer_id, c.label) for c in choices], None, ""
    values = logprob_values(st, ds, chosen.scorer_id, text_ids)
    return [(c.scorer_id, c.label) for c in choices], values, chosen.label


def load_snippet(req: tuple[Study, int], state: TaskState) -> tuple[int, str]:
    """(text id, the start of its body) for the map's hover tooltip."""
    st, text_id = req
    return text_id, queries.snippet(st, text_id)


def load_lists(req: tuple[Study, int, str] | tuple[Study, int, str, tuple[int, ...] | None],
               state: TaskState) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The prompt's most generic and most atypical generated texts (of the selection, a
    fourth item)."""
    st, ds, key, among = (*req, None) if len(req) == 3 else req
    pid = datasets_repo.prompt_id(st, ds, key)
    return queries.generic_and_atypical(st, pid, among=among) if pid is not None else ([], [])
