"""Read models of the compare (two runs against the source) and sweep (metric against
temperature) views: stored measurements arranged per run, the source matched to each run.

Tasks in the ``fn(request, state)`` form so the GUI runs them in workers; no Qt here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from monoscope.core.analysis.measure import MeasureResult
from monoscope.core.errors import StudyError
from monoscope.core.explore import queries
from monoscope.core.explore.figure_data import (
    METRICS,
    SOURCE,
    SOURCE_GROUP,
    SWEEP_PARAMETERS,
    FloatArray,
    Group,
    attribute_values,
    group_key,
    groups,
    metric_spec,
    stored_result,
)
from monoscope.core.store import Study, reads

# Numbers shown beside each side of the comparison (all from the stored measurements).
COMPARE_METRICS = ("sentiment.mean", "sentiment.entropy", "sentiment.index", "embedding.cosine",
                   "embedding.index", "topic.entropy", "topic.index")


def attribute_names(study: Study, dataset_id: int) -> list[str]:
    """Numeric attributes present in the dataset (for the histogram picker)."""
    return reads.attribute_names(study, dataset_id, with_value=True)


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
    """One run of the comparison with the source it is measured against: the same prompts
    and the same n (``source_numbers``, matched to this run); ``n`` = texts per prompt,
    ``prompts`` = how many prompts the numbers cover."""

    group: Group
    points: tuple[FloatArray, FloatArray]
    values: FloatArray
    numbers: dict[str, float]
    source_numbers: dict[str, float] = field(default_factory=dict)
    human_range: dict[str, tuple[float, float]] = field(default_factory=dict)
    n: int | None = None
    prompts: int = 0
    index_ci: dict[str, tuple[float, float]] = field(default_factory=dict)  # aggregates only


@dataclass
class CompareData:
    dataset_id: int
    prompt_key: str | None
    attribute: str
    source_points: tuple[FloatArray, FloatArray]
    source_values: FloatArray  # the source texts of the prompts the two runs cover
    source_numbers: dict[str, float]  # source matched to the first run (see Side)
    sides: list[Side]
    edges: FloatArray = field(default_factory=lambda: np.linspace(0, 1, 21))


def side_numbers(res: MeasureResult, run_key: str, prompt_key: str | None
                 ) -> tuple[dict[str, float], dict[str, float], dict[str, tuple[float, float]],
                            int | None, int]:
    """Stored numbers of one run and of the source matched to it, for a prompt or over the
    run's prompts; the human range of each index; matched n; prompts."""
    gen: dict[str, float] = {}
    src: dict[str, float] = {}
    human: dict[str, tuple[float, float]] = {}
    n: int | None = None
    prompts = 0
    for m in COMPARE_METRICS:
        spec = metric_spec(res, m)
        if spec is None:
            gen[m] = src[m] = math.nan
            continue
        attr, stat = spec
        g = res.cell(run_key, attr, stat, run_key, prompt_key)
        s = res.cell(SOURCE, attr, stat, run_key, prompt_key)
        gen[m] = math.nan if g is None or g["value"] is None else float(g["value"])
        src[m] = math.nan if s is None or s["value"] is None else float(s["value"])
        if stat == "index" and s is not None and s["lo"] is not None and s["hi"] is not None:
            human[m] = (float(s["lo"]), float(s["hi"]))
        if g is not None:
            n = g["n"] if n is None else n
            prompts = max(prompts, int(g["prompts"] or (1 if prompt_key else 0)))
    return gen, src, human, n, prompts


def index_ci(res: MeasureResult, run_key: str, prompt_key: str | None
             ) -> dict[str, tuple[float, float]]:
    """The stored 95 % CI of each index metric (aggregates over prompts have one)."""
    out: dict[str, tuple[float, float]] = {}
    for m in COMPARE_METRICS:
        spec = metric_spec(res, m)
        if spec is None or spec[1] != "index":
            continue
        row = res.cell(run_key, spec[0], "index", run_key, prompt_key)
        if row is not None and row["lo"] is not None and row["hi"] is not None:
            out[m] = (float(row["lo"]), float(row["hi"]))
    return out


def compute_compare(request: tuple[Study, int, int, int, str | None, str], state: Any = None
                    ) -> CompareData:
    """Task: points, attribute values and stored numbers for two runs and the source."""
    study, dataset_id, run_a, run_b, prompt_key, attribute = request
    by_key = {g.key: g for g in groups(study, dataset_id)}
    chosen = [by_key.get(group_key(r)) for r in (run_a, run_b)]
    if any(g is None for g in chosen):
        raise StudyError("One of the chosen runs is not in this dataset; pick runs again.")
    if state is not None:
        state.begin("compare", 3)
    res = stored_result(study, dataset_id, state)
    mapped = queries.points(study, dataset_id, prompt_key)
    pts = mapped.by_group() if mapped is not None else {}
    empty = (np.zeros(0), np.zeros(0))
    covered: set[str] = set()
    sides = []
    for g in chosen:
        assert g is not None
        covered |= set(res.run_prompts(g.key))
        vals = attribute_values(study, dataset_id, attribute, g.key, prompt_key)
        gen, src, human, n, prompts = side_numbers(res, g.key, prompt_key)
        sides.append(Side(g, pts.get(g.key, empty), vals, gen, src, human, n, prompts,
                          index_ci(res, g.key, prompt_key)))
    if prompt_key is None:  # the whole dataset: the source restricted to the runs' prompts
        src_vals = attribute_values(study, dataset_id, attribute, SOURCE, None, sorted(covered))
        src_pts = _restrict_points(mapped, [int(p["id"]) for p in res.prompts
                                            if p["key"] in covered])
    else:
        src_vals = attribute_values(study, dataset_id, attribute, SOURCE, prompt_key)
        src_pts = pts.get(SOURCE, empty)
    edges = shared_edges([src_vals, *(s.values for s in sides)])
    return CompareData(dataset_id, prompt_key, attribute, src_pts, src_vals,
                       sides[0].source_numbers, sides, edges)


def _restrict_points(mapped: queries.Points | None, prompt_ids: list[int]
                     ) -> tuple[FloatArray, FloatArray]:
    """Source points of the dataset map limited to the given prompts (all source points when
    none of those prompts is on the map)."""
    if mapped is None:
        return np.zeros(0), np.zeros(0)
    source = mapped.run_id < 0
    got = mapped.xy(source & np.isin(mapped.prompt_id, prompt_ids))
    return got if got[0].size or not prompt_ids else mapped.xy(source)


# -- sweep ---------------------------------------------------------------------------------
@dataclass
class SweepPoint:
    """One run: the metric over its prompts (mean, 95 % CI) and the source on the same prompts
    at the same n (`source`), with the human range of an index (`human`)."""

    group: Group
    mean: float
    lo: float
    hi: float
    source: tuple[float, float, float] = (math.nan, math.nan, math.nan)
    human: tuple[float, float] = (math.nan, math.nan)
    n: int | None = None
    prompts: int = 0


@dataclass
class SweepData:
    dataset_id: int
    metric: str
    label: str
    source: tuple[float, float, float]  # the source band: matched to the runs (see below)
    points: list[SweepPoint]
    source_varies: bool = False  # runs cover different prompts or n: one source per point

    def parameters(self) -> list[str]:
        """The run parameters (`SWEEP_PARAMETERS`) that take ≥ 2 values over the points."""
        out = []
        for name in SWEEP_PARAMETERS:
            seen = {p.group.parameter(name) for p in self.points}
            if len(seen - {None}) > 1:
                out.append(name)
        return out

    def categories(self, along: str) -> list[str] | None:
        """The sorted values of a parameter that is not a number (None for a numeric one)."""
        vals = {p.group.parameter(along) for p in self.points} - {None}
        if all(isinstance(v, float) for v in vals):
            return None
        return sorted(str(v) for v in vals)

    def x(self, point: SweepPoint, along: str = "temperature") -> float | None:
        """Where a point sits along a parameter (a category's position for a text one)."""
        v = point.group.parameter(along)
        if v is None:
            return None
        cats = self.categories(along)
        return float(v) if cats is None else float(cats.index(str(v)))

    def lines(self, along: str = "temperature") -> dict[str, list[SweepPoint]]:
        """Points grouped into lines along a run parameter: one line per model and value of
        every other parameter that varies (by default temperature, one line per
        (model, top-p)), sorted along the parameter."""
        others = [q for q in self.parameters() if q != along]
        if along == "temperature" and "top_p" not in others:
            others.append("top_p")
        out: dict[str, list[SweepPoint]] = {}
        for p in self.points:
            if p.group.parameter(along) is None or math.isnan(p.mean):
                continue
            parts = [p.group.model or "model"]
            for q in others:
                v = p.group.parameter(q)
                if q == "top_p" and v is None:
                    v = 1.0
                parts.append(f"{SWEEP_SHORT.get(q, q)}={v:g}" if isinstance(v, float)
                             else f"{SWEEP_SHORT.get(q, q)}={v}")
            out.setdefault(" ".join(parts), []).append(p)
        for pts in out.values():
            pts.sort(key=lambda q: self.x(q, along) or 0.0)
        return out


SWEEP_SHORT = {"temperature": "T", "top_p": "top-p", "top_k": "top-k", "min_p": "min-p",
               "verbalized_k": "k", "system_prompt": "system", "template": "template"}


def _triple(row: dict[str, Any] | None) -> tuple[float, float, float]:
    if row is None:
        return math.nan, math.nan, math.nan
    return tuple(math.nan if row[k] is None else float(row[k])  # type: ignore[return-value]
                 for k in ("value", "lo", "hi"))


def compute_sweep(request: tuple[Study, int, str], state: Any = None) -> SweepData:
    """Task: per run the stored aggregate of a metric (mean, 95 % CI over prompts) and the
    source measured on that run's prompts at its n."""
    study, dataset_id, metric = request
    if metric not in METRICS:
        raise StudyError(f"Unknown metric {metric!r}; choose one of {', '.join(METRICS)}.")
    res = stored_result(study, dataset_id, state)
    spec = metric_spec(res, metric)
    points = []
    for g in groups(study, dataset_id):
        if g.run_id is None or spec is None:
            continue
        attr, stat = spec
        row = res.cell(g.key, attr, stat, g.key)
        src_row = res.cell(SOURCE, attr, stat, g.key)
        m, lo, hi = _triple(row)
        src = _triple(src_row)
        human = (src[1], src[2]) if stat == "index" else (math.nan, math.nan)
        points.append(SweepPoint(g, m, lo, hi, src, human, row["n"] if row else None,
                                 int(row["prompts"] or 0) if row else 0))
    sources = {(round(p.source[0], 12), round(p.source[1], 12), round(p.source[2], 12))
               for p in points if math.isfinite(p.source[0])}
    varies = len(sources) > 1
    # one band when every run is compared on the same prompts at the same n; otherwise none
    # (the view draws each run's own matched source beside it)
    band = next(p.source for p in points if math.isfinite(p.source[0])) \
        if len(sources) == 1 else (math.nan, math.nan, math.nan)
    return SweepData(dataset_id, metric, METRICS[metric], band, points, varies)


# -- accumulation ----------------------------------------------------------------------------
@dataclass
class Curve:
    """Dispersion against n for one group: mean over draws (per prompt) or over prompts
    (pooled), with a 95 % range; ``prompts`` = prompts behind each point (pooled)."""

    group: Group
    label: str
    n: FloatArray
    mean: FloatArray
    lo: FloatArray
    hi: FloatArray
    prompts: list[int] = field(default_factory=list)
    against: str | None = None  # pooled source curves: the run whose prompts they cover


@dataclass
class AccumulationData:
    dataset_id: int
    attribute: str
    prompt_key: str | None
    curves: list[Curve]


def accumulation_attributes(res: MeasureResult) -> list[str]:
    return sorted({r["attribute"] for r in res.rows if r["ref"] == "acc"})


def compute_accumulation(request: tuple[Study, int, str, str | None], state: Any = None
                         ) -> AccumulationData:
    """Task: stored accumulation curves of one attribute, for one prompt (source and every run
    on it) or pooled (per run: the run and the source over the run's prompts)."""
    study, dataset_id, attribute, prompt_key = request
    res = stored_result(study, dataset_id, state)
    curves: list[Curve] = []

    def make(g: Group, rows: list[dict[str, Any]], label: str, against: str | None) -> None:
        rows = [r for r in rows if r["value"] is not None]
        if not rows:
            return
        arr = {k: np.array([math.nan if r[k] is None else float(r[k]) for r in rows])
               for k in ("n", "value", "lo", "hi")}
        curves.append(Curve(g, label, arr["n"], arr["value"], arr["lo"], arr["hi"],
                            [int(r["prompts"] or 0) for r in rows], against))

    for g in groups(study, dataset_id):
        if prompt_key is not None:
            make(g, res.curve(g.key, attribute, "acc", prompt_key), g.display, None)
        elif g.run_id is not None:
            ref = f"acc:{g.key}"
            make(g, res.curve(g.key, attribute, ref), g.display, None)
            make(SOURCE_GROUP, res.curve(SOURCE, attribute, ref),
                 f"source on the prompts of {g.display}", g.key)
    return AccumulationData(dataset_id, attribute, prompt_key, curves)
