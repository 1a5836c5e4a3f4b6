"""Read models behind the overview, compare and sweep views.

A *group* is the source texts of a dataset or one run's generated texts. Every number comes
from the measure stage's stored rows (`stored_result`); this module only selects and arranges
them (and reads raw values for histograms through the store's `reads` repository; map points
come from `queries.points`). No Qt here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from monoscope.core.analysis.measure import (
    EMBEDDING,
    MeasureRequest,
    MeasureResult,
    ensure_measured,
    load_result,
)
from monoscope.core.errors import StudyError
from monoscope.core.explore.labels import group_label
from monoscope.core.store import Study, reads
from monoscope.core.store import datasets as datasets_repo
from monoscope.core.store import runs as runs_repo

SOURCE = "source"
SENTIMENT_PREFERENCE = ("sentiment.head", "sentiment.vader")  # classifier head, else VADER

# The paper's Figure 1 bins: [0,.35], (.35,.55], (.55,.75], (.75,.85], (.85,.95], (.95,1].
SENTIMENT_EDGES: tuple[float, ...] = (0.0, 0.35, 0.55, 0.75, 0.85, 0.95, 1.0)
SIMILARITY_EDGES: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Group:
    """Source texts (run_id None) or the texts of one run, with what the legend needs."""

    key: str
    label: str
    run_id: int | None = None
    model: str = ""
    sampling: dict[str, Any] = field(default_factory=dict)
    status: str = ""
    params: dict[str, Any] = field(default_factory=dict)  # template + mitigations (RunRow.params)

    def parameter(self, name: str) -> float | str | None:
        """A run parameter the Sweep view can plot along (`SWEEP_PARAMETERS`): sampling first,
        then the run's template and mitigations; a run without verbalized sampling gives 1
        answer per call, one without a system-prompt choice the template's own."""
        v = self.sampling.get(name, self.params.get(name))
        if v is None and self.run_id is not None:
            v = {"verbalized_k": 1, "system_prompt": "template's", "min_p": 0.0}.get(name)
        if isinstance(v, bool):
            return float(v)
        return float(v) if isinstance(v, int | float) else None if v is None else str(v)

    @property
    def display(self) -> str:
        """How every view names the group: 'source (human)', or '#<id> <label>' for a run
        (`labels.run_label`: two runs of one model stay apart)."""
        return group_label(self.key, self.label)

    @property
    def temperature(self) -> float | None:
        t = self.sampling.get("temperature")
        return float(t) if isinstance(t, int | float) else None

    @property
    def top_p(self) -> float | None:
        p = self.sampling.get("top_p")
        return float(p) if isinstance(p, int | float) else None


def group_key(run_id: int | None) -> str:
    return SOURCE if run_id is None else f"run:{run_id}"


def dataset_ids(study: Study) -> list[tuple[int, str, str]]:
    """(id, name, kind) of every dataset, oldest first."""
    return [(d.id, d.name, d.kind) for d in datasets_repo.datasets(study)]


def default_dataset(study: Study | None, dataset_id: int | None = None) -> int | None:
    """The dataset a view shows: the one asked for, else the study's first (None without a
    study or a dataset)."""
    if study is None or dataset_id is not None:
        return None if study is None else dataset_id
    ids = dataset_ids(study)
    return ids[0][0] if ids else None


SOURCE_GROUP = Group(SOURCE, "source (human)")

# Run parameters a sweep can be plotted along (numeric ones on a number axis, the others as
# categories), in the order the Sweep view offers them.
SWEEP_PARAMETERS: dict[str, str] = {
    "temperature": "temperature", "top_p": "top-p", "top_k": "top-k", "min_p": "min-p",
    "verbalized_k": "answers per call (verbalized sampling)", "system_prompt": "system prompt",
    "template": "prompt template",
}


def groups(study: Study, dataset_id: int) -> list[Group]:
    """The source group followed by every run of the dataset (oldest first)."""
    return [SOURCE_GROUP, *(Group(group_key(r.id), r.label, r.id, r.model or "", r.sampling,
                                  r.status, r.params)
                            for r in runs_repo.dataset_runs(study, dataset_id))]


def sentiment_of(attributes: Sequence[str] | dict[str, str]) -> str | None:
    """The sentiment attribute to show among measured ones: the classifier head, else VADER."""
    return next((a for a in SENTIMENT_PREFERENCE if a in attributes), None)


# -- metrics ----------------------------------------------------------------------------------
def bin_index(value: float, edges: Sequence[float]) -> int:
    """Bin of a value for the paper's bins: first bin closed [a,b], the others (a,b]."""
    v = min(max(value, edges[0]), edges[-1])
    for i in range(1, len(edges)):
        if v <= edges[i]:
            return i - 1
    return len(edges) - 2


def bin_prompts(values: dict[str, float], edges: Sequence[float]) -> list[list[str]]:
    """Prompt keys per bin (NaN values are left out)."""
    bins: list[list[str]] = [[] for _ in range(len(edges) - 1)]
    for key, v in values.items():
        if not math.isnan(v):
            bins[bin_index(v, edges)].append(key)
    for b in bins:
        b.sort()
    return bins


PerPrompt = dict[str, dict[str, float]]  # group key -> prompt key -> value


def stored_result(study: Study, dataset_id: int, state: Any = None) -> MeasureResult:
    """The stored measurements of the dataset (default parameters), measured first if they are
    missing or out of date. Every number the views show comes from here."""
    from monoscope.core.tasks import TaskState

    st = state if state is not None else TaskState()
    set_id = ensure_measured(study, dataset_id, st)
    name = datasets_repo.dataset(study, dataset_id).name
    return load_result(study, dataset_id, name, MeasureRequest(dataset=name), set_id)


# Metric name -> label. Each maps to a stored (attribute, statistic); see `metric_spec`.
METRICS: dict[str, str] = {
    "sentiment.mean": "share positive sentiment",
    "sentiment.entropy": "sentiment entropy (bits)",
    "sentiment.index": "monoculture index, sentiment",
    "embedding.cosine": "mean pairwise cosine",
    "embedding.index": "monoculture index, embeddings",
    "embedding.vendi": "Vendi score (embeddings)",
    "topic.entropy": "topic entropy (bits)",
    "topic.index": "monoculture index, topic",
    "code.jaccard": "algorithm-set Jaccard",
    "text.words": "mean length (words)",
    "text.ttr": "mean type-token ratio",
}


def metric_spec(result: MeasureResult, metric: str) -> tuple[str, str] | None:
    """(attribute, statistic) of a metric in the stored set; None when the study lacks it."""
    if metric not in METRICS:
        raise StudyError(f"Unknown metric {metric!r}; choose one of {', '.join(METRICS)}.")
    head, tail = metric.split(".", 1)
    attr: str | None
    if head == "sentiment":
        attr = sentiment_of(result.attributes)
    elif head == "code":
        attr = "code.algorithms"
    elif head in ("text",):
        attr = metric
    else:
        attr = head
    if attr is None or attr not in result.attributes:
        return None
    stat = {"mean": "share_positive" if head == "sentiment" else "mean", "entropy": "entropy",
            "index": "index", "cosine": "mean_pairwise_cosine", "vendi": "vendi",
            "jaccard": "jaccard", "words": "mean", "ttr": "mean"}[tail]
    return attr, stat


def covered_prompts(result: MeasureResult) -> list[str]:
    """Prompts that at least one run is compared on (all prompts when there is no run)."""
    runs = [g.key for g in result.groups if g.run_id is not None]
    keys = sorted({k for r in runs for k in result.run_prompts(r)})
    return keys or [p["key"] for p in result.prompts]


def attribute_values(study: Study, dataset_id: int, name: str, group: str,
                     prompt_key: str | None = None, prompts: Sequence[str] | None = None
                     ) -> FloatArray:
    """Values of one attribute for one group (optionally one prompt, or only ``prompts``),
    for histograms."""
    run_id = None if group == SOURCE else int(group.split(":", 1)[1])
    return reads.group_attribute_values(study, dataset_id, name, run_id, prompt_key, prompts)


# -- overview (the paper's Figure 1 analogues) ---------------------------------------------
@dataclass
class OverviewData:
    """Per-prompt share positive and pairwise similarity per group, over the prompts the runs
    cover (the source restricted to them), with prompts and texts per prompt for the legend."""

    dataset_id: int
    groups: list[Group]
    sentiment_attribute: str | None
    sentiment: PerPrompt
    similarity_label: str
    similarity: PerPrompt
    prompts: list[str] = field(default_factory=list)  # the prompts every group is shown on
    n_texts: dict[str, float] = field(default_factory=dict)  # group -> median texts per prompt
    sentiment_edges: tuple[float, ...] = SENTIMENT_EDGES
    similarity_edges: tuple[float, ...] = SIMILARITY_EDGES

    def present_groups(self) -> list[Group]:
        """Groups that have any value in either figure (source first)."""
        keys = {g for g, v in self.sentiment.items() if v} | {
            g for g, v in self.similarity.items() if v}
        return [g for g in self.groups if g.key in keys]

    def legend(self, group: Group) -> str:
        """Label with n: prompts and texts per prompt (median)."""
        n_p = len(set(self.sentiment.get(group.key, {})) | set(self.similarity.get(group.key, {})))
        n_t = self.n_texts.get(group.key)
        per = f", n = {n_t:g}/prompt" if n_t is not None and math.isfinite(n_t) else ""
        return f"{group.display} ({n_p} prompts{per})"


def compute_overview(request: tuple[Study, int], state: Any = None) -> OverviewData:
    """Task: the stored per-prompt values the overview draws for one dataset."""
    study, dataset_id = request
    res = stored_result(study, dataset_id, state)
    keys = set(covered_prompts(res))
    grps = groups(study, dataset_id)
    sent_attr = sentiment_of(res.attributes)
    if res.kind == "code" and "code.algorithms" in res.attributes:
        sim_attr, sim_stat = "code.algorithms", "jaccard"
        label = "mean pairwise Jaccard of algorithm sets"
    else:
        sim_attr, sim_stat = EMBEDDING, "mean_pairwise_cosine"
        label = "mean pairwise cosine of embeddings"
    sent: PerPrompt = {}
    sim: PerPrompt = {}
    n_texts: dict[str, float] = {}
    for g in grps:
        if sent_attr:
            sent[g.key] = {k: v for k, v in res.per_prompt(g.key, sent_attr, "share_positive")
                           .items() if k in keys}
        sim[g.key] = {k: v for k, v in res.per_prompt(g.key, sim_attr, sim_stat).items()
                      if k in keys}
        ns = [r["n"] for r in res.rows if r["grp"] == g.key and r["ref"] == ""
              and r["prompt"] in keys and r["stat"] == "dispersion"
              and r["attribute"] == (sent_attr or sim_attr)]
        n_texts[g.key] = float(np.median(ns)) if ns else math.nan
    return OverviewData(dataset_id, grps, sent_attr, sent, label, sim, sorted(keys), n_texts)
