"""Data behind the overview, compare and sweep views: per-prompt dispersion per group.

A *group* is the source texts of a dataset or one run's generated texts. Everything here is
plain numpy/DuckDB so the figures can be tested without Qt and reused by reports.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from monoscope.core.errors import StudyError
from monoscope.core.store import Study
from monoscope.metrics import entropy, mean_pairwise_cosine, mean_pairwise_jaccard

SOURCE = "source"
EMBEDDING_MODEL = "all-MiniLM-L6-v2"

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
    rows = study.query("SELECT id, name, kind FROM datasets ORDER BY id")
    return [(int(r["id"]), str(r["name"]), str(r["kind"])) for r in rows]


def dataset_kind(study: Study, dataset_id: int) -> str:
    kind = study.scalar("SELECT kind FROM datasets WHERE id = ?", [dataset_id])
    if kind is None:
        raise StudyError(f"No dataset with id {dataset_id} in {study.path}; pick another one.")
    return str(kind)


def groups(study: Study, dataset_id: int) -> list[Group]:
    """The source group followed by every run of the dataset (oldest first)."""
    out = [Group(SOURCE, "source (human)")]
    rows = study.query(
        "SELECT r.id, r.label, r.sampling, r.status, m.name AS model FROM runs r "
        "LEFT JOIN models m ON m.id = r.model_id WHERE r.dataset_id = ? ORDER BY r.id",
        [dataset_id],
    )
    for r in rows:
        raw = r["sampling"]
        sampling = json.loads(raw) if isinstance(raw, str) else dict(raw or {})
        out.append(
            Group(
                group_key(int(r["id"])), str(r["label"]), int(r["id"]),
                str(r["model"] or ""), sampling, str(r["status"]),
            )
        )
    return out


def sentiment_attribute(study: Study, dataset_id: int) -> str | None:
    """The sentiment attribute to show: the classifier head if computed, else VADER."""
    for name in ("sentiment.head", "sentiment.vader"):
        n = study.scalar(
            "SELECT count(*) FROM attributes a JOIN texts t ON t.id = a.text_id "
            "JOIN prompts p ON p.id = t.prompt_id WHERE a.name = ? AND p.dataset_id = ?",
            [name, dataset_id],
        )
        if n:
            return name
    return None


# -- metrics -------------------------------------------------------------------------------
def binary_entropy(p: float) -> float:
    """Entropy in bits of a two-label distribution with share p (0 at p = 0 or 1)."""
    if p <= 0.0 or p >= 1.0:
        return 0.0
    return float(-(p * math.log2(p) + (1 - p) * math.log2(1 - p)))


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


def mean_ci(values: Sequence[float], n_boot: int = 1000, seed: int = 0) -> tuple[float, float, float]:
    """Mean with a 95 % bootstrap interval (NaNs dropped); all NaN when nothing is left."""
    arr = np.array([v for v in values if not math.isnan(v)], dtype=np.float64)
    if arr.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(arr.mean())
    if arr.size == 1:
        return mean, mean, mean
    rng = np.random.default_rng(seed)
    boots = arr[rng.integers(0, arr.size, size=(n_boot, arr.size))].mean(axis=1)
    lo, hi = np.quantile(boots, [0.025, 0.975])
    return mean, float(lo), float(hi)


# -- per-prompt values per group -----------------------------------------------------------
PerPrompt = dict[str, dict[str, float]]  # group key -> prompt key -> value

_GROUP_SQL = "CASE WHEN t.run_id IS NULL THEN 'source' ELSE 'run:' || t.run_id END"


def _attribute_rows(study: Study, dataset_id: int, name: str) -> list[dict[str, Any]]:
    return study.query(
        f"SELECT {_GROUP_SQL} AS g, p.key, a.value, a.label FROM texts t "
        "JOIN prompts p ON p.id = t.prompt_id JOIN attributes a ON a.text_id = t.id "
        "WHERE p.dataset_id = ? AND a.name = ? ORDER BY g, p.key, t.sample_index",
        [dataset_id, name],
    )


def _positive(value: Any, label: Any) -> float:
    if isinstance(label, str) and label:
        return 1.0 if label.upper().startswith("POS") else 0.0
    return 1.0 if value is not None and float(value) >= 0.5 else 0.0


def sentiment_per_prompt(study: Study, dataset_id: int, stat: str = "mean",
                         attribute: str | None = None) -> PerPrompt:
    """Per prompt share positive (`mean`), `std` or `entropy` of the binary sentiment labels."""
    attr = attribute or sentiment_attribute(study, dataset_id)
    out: PerPrompt = defaultdict(dict)
    if attr is None:
        return dict(out)
    acc: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in _attribute_rows(study, dataset_id, attr):
        acc[(r["g"], r["key"])].append(_positive(r["value"], r["label"]))
    for (g, key), xs in acc.items():
        p = sum(xs) / len(xs)
        if stat == "mean":
            out[g][key] = p
        elif stat == "std":
            out[g][key] = math.sqrt(p * (1 - p))
        elif stat == "entropy":
            out[g][key] = binary_entropy(p)
        else:
            raise ValueError(f"unknown sentiment statistic {stat!r}")
    return dict(out)


def attribute_per_prompt(study: Study, dataset_id: int, name: str, stat: str) -> PerPrompt:
    """Per prompt `mean` or `std` of an attribute's value, or `entropy` of its labels/values."""
    acc: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for r in _attribute_rows(study, dataset_id, name):
        if stat == "entropy":
            acc[(r["g"], r["key"])].append(r["label"] if r["label"] is not None else r["value"])
        elif r["value"] is not None:
            acc[(r["g"], r["key"])].append(float(r["value"]))
    out: PerPrompt = defaultdict(dict)
    for (g, key), xs in acc.items():
        if stat == "entropy":
            out[g][key] = entropy(xs)
        elif stat == "mean":
            out[g][key] = float(np.mean(xs)) if xs else math.nan
        elif stat == "std":
            out[g][key] = float(np.std(xs)) if xs else math.nan
        else:
            raise ValueError(f"unknown statistic {stat!r}")
    return dict(out)


def jaccard_per_prompt(study: Study, dataset_id: int, name: str = "code.algorithms") -> PerPrompt:
    """Per prompt mean pairwise Jaccard of tag sets stored as `;`-joined labels."""
    acc: dict[tuple[str, str], list[frozenset[str]]] = defaultdict(list)
    for r in _attribute_rows(study, dataset_id, name):
        tags = str(r["label"] or "")
        acc[(r["g"], r["key"])].append(frozenset(t for t in tags.split(";") if t))
    out: PerPrompt = defaultdict(dict)
    for (g, key), sets in acc.items():
        out[g][key] = mean_pairwise_jaccard(sets)
    return dict(out)


def embeddings_by_prompt(study: Study, dataset_id: int) -> dict[tuple[str, str], FloatArray]:
    """(group, prompt key) -> 2-D float array of text embeddings (one backend per hash)."""
    cur = study.cursor()
    try:
        table = cur.sql(
            f"SELECT {_GROUP_SQL} AS g, p.key AS key, e.vector AS vector FROM texts t "
            "JOIN prompts p ON p.id = t.prompt_id JOIN ("
            "  SELECT content_hash, any_value(vector ORDER BY backend DESC) AS vector "
            "  FROM embeddings WHERE model = ? GROUP BY content_hash"
            ") e ON e.content_hash = t.content_hash WHERE p.dataset_id = ? "
            "ORDER BY g, key",
            params=[EMBEDDING_MODEL, dataset_id],
        ).to_arrow_table()
    finally:
        cur.close()
    if table.num_rows == 0:
        return {}
    g = table.column("g").to_pylist()
    k = table.column("key").to_pylist()
    vec_col = table.column("vector").combine_chunks()
    flat = np.asarray(vec_col.flatten().to_numpy(zero_copy_only=False), dtype=np.float64)
    mat = flat.reshape(table.num_rows, -1)
    out: dict[tuple[str, str], FloatArray] = {}
    start = 0
    for i in range(1, table.num_rows + 1):
        if i == table.num_rows or (g[i], k[i]) != (g[start], k[start]):
            out[(g[start], k[start])] = mat[start:i]
            start = i
    return out


def cosine_per_prompt(study: Study, dataset_id: int) -> PerPrompt:
    """Per prompt mean pairwise cosine of the MiniLM embeddings."""
    out: PerPrompt = defaultdict(dict)
    for (g, key), vectors in embeddings_by_prompt(study, dataset_id).items():
        out[g][key] = mean_pairwise_cosine(vectors)
    return dict(out)


def similarity_per_prompt(study: Study, dataset_id: int) -> tuple[str, PerPrompt]:
    """The paper's similarity spectrum: algorithm-set Jaccard for code, else embedding cosine."""
    if dataset_kind(study, dataset_id) == "code":
        values = jaccard_per_prompt(study, dataset_id)
        if values:
            return "mean pairwise Jaccard of algorithm sets", values
    return "mean pairwise cosine of embeddings", cosine_per_prompt(study, dataset_id)


# Metric name -> (label, function(study, dataset_id) -> PerPrompt). Used by the sweep view.
METRICS: dict[str, str] = {
    "sentiment.entropy": "sentiment entropy (bits)",
    "sentiment.std": "sentiment std",
    "sentiment.mean": "share positive sentiment",
    "embedding.cosine": "mean pairwise cosine",
    "topic.entropy": "topic entropy (bits)",
    "code.jaccard": "algorithm-set Jaccard",
    "text.words": "mean length (words)",
    "text.ttr": "mean type-token ratio",
}


def metric_per_prompt(study: Study, dataset_id: int, metric: str) -> PerPrompt:
    """Per-prompt values of one of `METRICS` for every group of the dataset."""
    if metric.startswith("sentiment."):
        return sentiment_per_prompt(study, dataset_id, metric.split(".", 1)[1])
    if metric == "embedding.cosine":
        return cosine_per_prompt(study, dataset_id)
    if metric == "topic.entropy":
        return attribute_per_prompt(study, dataset_id, "topic", "entropy")
    if metric == "code.jaccard":
        return jaccard_per_prompt(study, dataset_id)
    if metric in ("text.words", "text.ttr"):
        return attribute_per_prompt(study, dataset_id, metric, "mean")
    raise StudyError(f"Unknown metric {metric!r}; choose one of {', '.join(METRICS)}.")


def attribute_values(study: Study, dataset_id: int, name: str, group: str,
                     prompt_key: str | None = None) -> FloatArray:
    """Values of one attribute for one group (optionally one prompt), for histograms."""
    cond = "t.run_id IS NULL" if group == SOURCE else "t.run_id = ?"
    params: list[Any] = [dataset_id, name]
    if group != SOURCE:
        params.append(int(group.split(":", 1)[1]))
    sql = ("SELECT a.value FROM texts t JOIN prompts p ON p.id = t.prompt_id "
           "JOIN attributes a ON a.text_id = t.id WHERE p.dataset_id = ? AND a.name = ? "
           f"AND a.value IS NOT NULL AND {cond}")
    if prompt_key is not None:
        sql += " AND p.key = ?"
        params.append(prompt_key)
    rows = study.query(sql, params)
    return np.array([float(r["value"]) for r in rows], dtype=np.float64)


def map_points(study: Study, dataset_id: int, prompt_key: str | None = None
               ) -> dict[str, tuple[FloatArray, FloatArray]]:
    """Group -> (x, y) of the newest projection for the dataset or for one prompt's scope."""
    scope = "dataset" if prompt_key is None else f"prompt:{prompt_key}"
    pid = study.scalar(
        "SELECT id FROM projections WHERE dataset_id = ? AND scope = ? "
        "ORDER BY (method = 'umap') DESC, id DESC LIMIT 1",
        [dataset_id, scope],
    )
    if pid is None:
        return {}
    sql = (f"SELECT {_GROUP_SQL} AS g, pp.x, pp.y FROM projection_points pp "
           "JOIN texts t ON t.id = pp.text_id WHERE pp.projection_id = ?")
    params: list[Any] = [pid]
    if prompt_key is not None:
        sql += " AND t.prompt_id = (SELECT id FROM prompts WHERE dataset_id = ? AND key = ?)"
        params += [dataset_id, prompt_key]
    acc: dict[str, tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    for r in study.query(sql, params):
        acc[r["g"]][0].append(float(r["x"]))
        acc[r["g"]][1].append(float(r["y"]))
    return {g: (np.array(xs), np.array(ys)) for g, (xs, ys) in acc.items()}


# -- overview (the paper's Figure 1 analogues) ---------------------------------------------
@dataclass
class OverviewData:
    """Per-prompt mean sentiment and pairwise similarity per group, with the paper's bins."""

    dataset_id: int
    groups: list[Group]
    sentiment_attribute: str | None
    sentiment: PerPrompt
    similarity_label: str
    similarity: PerPrompt
    sentiment_edges: tuple[float, ...] = SENTIMENT_EDGES
    similarity_edges: tuple[float, ...] = SIMILARITY_EDGES

    def present_groups(self) -> list[Group]:
        """Groups that have any value in either figure (source first)."""
        keys = set(self.sentiment) | set(self.similarity)
        return [g for g in self.groups if g.key in keys]


def compute_overview(request: tuple[Study, int], state: Any = None) -> OverviewData:
    """Task: everything the overview draws for one dataset (a few queries and numpy)."""
    study, dataset_id = request
    steps = 3
    if state is not None:
        state.begin("overview", steps)
    grps = groups(study, dataset_id)
    attr = sentiment_attribute(study, dataset_id)
    sent = sentiment_per_prompt(study, dataset_id, "mean", attr) if attr else {}
    if state is not None:
        state.check()
        state.progress(1, steps, "sentiment")
    label, sim = similarity_per_prompt(study, dataset_id)
    if state is not None:
        state.progress(steps, steps, "similarity")
    return OverviewData(dataset_id, grps, attr, sent, label, sim)
