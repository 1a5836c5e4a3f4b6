"""Data behind the compare (two runs against the source) and sweep (metric vs temperature) views.

Tasks in the ``fn(request, state)`` form so the GUI runs them in workers; no Qt here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from monoscope.core.errors import StudyError
from monoscope.core.figure_data import (
    METRICS,
    SOURCE,
    FloatArray,
    Group,
    attribute_values,
    group_key,
    groups,
    map_points,
    mean_ci,
    metric_per_prompt,
)
from monoscope.core.store import Study

# Dispersion numbers shown beside each side of the comparison.
COMPARE_METRICS = ("sentiment.mean", "sentiment.entropy", "embedding.cosine", "topic.entropy")


def attribute_names(study: Study, dataset_id: int) -> list[str]:
    """Numeric attributes present in the dataset (for the histogram picker)."""
    rows = study.query(
        "SELECT DISTINCT a.name FROM attributes a JOIN texts t ON t.id = a.text_id "
        "JOIN prompts p ON p.id = t.prompt_id WHERE p.dataset_id = ? AND a.value IS NOT NULL "
        "ORDER BY a.name",
        [dataset_id],
    )
    return [str(r["name"]) for r in rows]


def shared_edges(samples: list[FloatArray], bins: int = 20) -> FloatArray:
    """Common histogram edges: unit interval for scores, integer bins for small counts."""
    allv = np.concatenate([s for s in samples if s.size]) if any(s.size for s in samples) else np.zeros(0)
    if allv.size == 0:
        return np.linspace(0.0, 1.0, bins + 1)
    lo, hi = float(allv.min()), float(allv.max())
    if lo >= 0.0 and hi <= 1.0:
        return np.linspace(0.0, 1.0, bins + 1)
    if np.all(allv == np.round(allv)) and hi - lo <= 40:
        return np.arange(lo - 0.5, hi + 1.5, 1.0)
    if hi == lo:
        hi = lo + 1.0
    return np.linspace(lo, hi, bins + 1)


def normalised_hist(values: FloatArray, edges: FloatArray) -> FloatArray:
    """Share of values per bin (sums to 1; zeros when empty)."""
    counts, _ = np.histogram(values, bins=edges)
    total = counts.sum()
    return counts / total if total else counts.astype(np.float64)


@dataclass
class Side:
    """One run of the comparison with the source it is drawn against."""

    group: Group
    points: tuple[FloatArray, FloatArray]
    values: FloatArray
    numbers: dict[str, float]


@dataclass
class CompareData:
    dataset_id: int
    prompt_key: str | None
    attribute: str
    source_points: tuple[FloatArray, FloatArray]
    source_values: FloatArray
    source_numbers: dict[str, float]
    sides: list[Side]
    edges: FloatArray = field(default_factory=lambda: np.linspace(0, 1, 21))


def _scope_value(per_prompt: dict[str, float], prompt_key: str | None) -> float:
    if prompt_key is not None:
        return per_prompt.get(prompt_key, math.nan)
    return mean_ci(list(per_prompt.values()))[0]


def compute_compare(request: tuple[Study, int, int, int, str | None, str], state: Any = None) -> CompareData:
    """Task: points, attribute values and dispersion numbers for two runs and the source."""
    study, dataset_id, run_a, run_b, prompt_key, attribute = request
    by_key = {g.key: g for g in groups(study, dataset_id)}
    chosen = [by_key.get(group_key(r)) for r in (run_a, run_b)]
    if any(g is None for g in chosen):
        raise StudyError("One of the chosen runs is not in this dataset; pick runs again.")
    if state is not None:
        state.begin("compare", 2 + len(COMPARE_METRICS))
    pts = map_points(study, dataset_id, prompt_key)
    if not pts and prompt_key is not None:
        pts = _dataset_points_for_prompt(study, dataset_id, prompt_key)
    empty = (np.zeros(0), np.zeros(0))
    per_metric = {}
    for i, m in enumerate(COMPARE_METRICS):
        if state is not None:
            state.check()
            state.progress(1 + i, 2 + len(COMPARE_METRICS), m)
        per_metric[m] = metric_per_prompt(study, dataset_id, m)

    def numbers(key: str) -> dict[str, float]:
        return {m: _scope_value(per_metric[m].get(key, {}), prompt_key) for m in COMPARE_METRICS}

    src_vals = attribute_values(study, dataset_id, attribute, SOURCE, prompt_key)
    sides = []
    for g in chosen:
        assert g is not None
        vals = attribute_values(study, dataset_id, attribute, g.key, prompt_key)
        sides.append(Side(g, pts.get(g.key, empty), vals, numbers(g.key)))
    edges = shared_edges([src_vals, *(s.values for s in sides)])
    return CompareData(dataset_id, prompt_key, attribute, pts.get(SOURCE, empty), src_vals,
                       numbers(SOURCE), sides, edges)


def _dataset_points_for_prompt(study: Study, dataset_id: int, prompt_key: str
                               ) -> dict[str, tuple[FloatArray, FloatArray]]:
    """A prompt's points on the dataset map when no per-prompt map was fitted."""
    pid = study.scalar(
        "SELECT id FROM projections WHERE dataset_id = ? AND scope = 'dataset' "
        "ORDER BY (method = 'umap') DESC, id DESC LIMIT 1", [dataset_id])
    if pid is None:
        return {}
    rows = study.query(
        "SELECT CASE WHEN t.run_id IS NULL THEN 'source' ELSE 'run:' || t.run_id END AS g, "
        "pp.x, pp.y FROM projection_points pp JOIN texts t ON t.id = pp.text_id "
        "JOIN prompts p ON p.id = t.prompt_id WHERE pp.projection_id = ? AND p.key = ?",
        [pid, prompt_key])
    out: dict[str, tuple[list[float], list[float]]] = {}
    for r in rows:
        xs, ys = out.setdefault(r["g"], ([], []))
        xs.append(float(r["x"]))
        ys.append(float(r["y"]))
    return {g: (np.array(x), np.array(y)) for g, (x, y) in out.items()}


# -- sweep ---------------------------------------------------------------------------------
@dataclass
class SweepPoint:
    group: Group
    mean: float
    lo: float
    hi: float


@dataclass
class SweepData:
    dataset_id: int
    metric: str
    label: str
    source: tuple[float, float, float]
    points: list[SweepPoint]

    def lines(self) -> dict[str, list[SweepPoint]]:
        """Points grouped into lines: one per (model, top-p), sorted by temperature."""
        out: dict[str, list[SweepPoint]] = {}
        for p in self.points:
            if p.group.temperature is None or math.isnan(p.mean):
                continue
            top_p = p.group.top_p if p.group.top_p is not None else 1.0
            name = f"{p.group.model or 'model'} top-p={top_p:g}"
            out.setdefault(name, []).append(p)
        for pts in out.values():
            pts.sort(key=lambda q: q.group.temperature or 0.0)
        return out


def compute_sweep(request: tuple[Study, int, str], state: Any = None) -> SweepData:
    """Task: mean (95 % bootstrap CI) over prompts of a metric for the source and every run."""
    study, dataset_id, metric = request
    if metric not in METRICS:
        raise StudyError(f"Unknown metric {metric!r}; choose one of {', '.join(METRICS)}.")
    if state is not None:
        state.begin("sweep", 1)
    per = metric_per_prompt(study, dataset_id, metric)
    src = mean_ci(list(per.get(SOURCE, {}).values()))
    points = []
    for g in groups(study, dataset_id):
        if g.run_id is None:
            continue
        m, lo, hi = mean_ci(list(per.get(g.key, {}).values()))
        points.append(SweepPoint(g, m, lo, hi))
    if state is not None:
        state.progress(1, 1)
    return SweepData(dataset_id, metric, METRICS[metric], src, points)
