"""Report figures drawn headless with matplotlib (Agg): the paper's Figure 1 analogues and more.

Colours: the source is always neutral grey; runs take the Okabe-Ito colour-blind-safe palette
in run order, so a run keeps its colour across every figure of a report.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from monoscope.core.measure import MeasureResult
from monoscope.core.projection import MapData

SOURCE_COLOUR = "#8c8c8c"
RUN_COLOURS = ("#E69F00", "#0072B2", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
               "#000000")
# The paper's Figure 1 bins for per-prompt mean sentiment: [0,.35], (.35,.55], ..., (.95,1].
SENTIMENT_EDGES = (0.0, 0.35, 0.55, 0.75, 0.85, 0.95, 1.0)
SIMILARITY_EDGES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


@dataclass(frozen=True)
class Figure:
    name: str
    title: str
    caption: str
    png: str
    svg: str


def colours(result: MeasureResult) -> dict[str, str]:
    out = {"source": SOURCE_COLOUR}
    for i, g in enumerate(result.groups[1:]):
        out[g.key] = RUN_COLOURS[i % len(RUN_COLOURS)]
    return out


def labels(result: MeasureResult) -> dict[str, str]:
    return {g.key: ("source (human)" if g.run_id is None else g.label) for g in result.groups}


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 11, "axes.titlesize": 13, "axes.labelsize": 11,
                         "legend.fontsize": 10, "axes.spines.top": False,
                         "axes.spines.right": False, "svg.fonttype": "none"})
    return plt


def _save(fig: Any, out: Path, name: str, title: str, caption: str) -> Figure:
    if not fig.legends:
        fig.tight_layout()
    fig.savefig(out / f"{name}.png", dpi=130, bbox_inches="tight")
    fig.savefig(out / f"{name}.svg", bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return Figure(name, title, caption, f"{name}.png", f"{name}.svg")


def bin_shares(values: Sequence[float | None], edges: Sequence[float]) -> np.ndarray:
    """Share of values per bin; the first bin is closed [e0, e1], the others (e_i, e_i+1]."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=np.float64)
    if v.size == 0:
        return np.zeros(len(edges) - 1)
    idx = np.digitize(v, np.asarray(edges[1:-1]), right=True)
    return np.bincount(idx, minlength=len(edges) - 1)[: len(edges) - 1] / v.size


def _bin_labels(edges: Sequence[float]) -> list[str]:
    def f(x: float) -> str:
        return f"{x:.2f}".rstrip("0").rstrip(".") if x not in (0.0, 1.0) else f"{x:.0f}"

    return [("[" if i == 0 else "(") + f"{f(a)}, {f(b)}]"
            for i, (a, b) in enumerate(itertools.pairwise(edges))]


def binned_bars(result: MeasureResult, attribute: str, stat: str, edges: Sequence[float],
                out: Path, name: str, title: str, xlabel: str, caption: str) -> Figure | None:
    """Grouped bars: share of prompts per bin of a per-prompt statistic, one bar per group."""
    series = {}
    # Compare over the same prompts: with runs present, the source counts only the prompts
    # that some run generated for (like the paper's per-book comparison).
    covered = {r["prompt"] for g in result.groups[1:] for r in result.rows(attribute, g.key)}
    for g in result.groups:
        rows = result.rows(attribute, g.key)
        if g.key == "source" and covered:
            rows = [r for r in rows if r["prompt"] in covered]
        vals = [r.get(stat) for r in rows]
        if any(v is not None and math.isfinite(v) for v in vals):
            series[g.key] = (bin_shares(vals, edges), sum(v is not None and math.isfinite(v)
                                                         for v in vals))
    if not series or (list(series) == ["source"] and len(result.groups) > 1):
        return None
    plt = _plt()
    col, lab = colours(result), labels(result)
    fig, ax = plt.subplots(figsize=(9.0, 4.2 + 0.25 * len(series)))
    k = len(series)
    width = 0.8 / k
    x = np.arange(len(edges) - 1)
    for i, (key, (shares, n)) in enumerate(series.items()):
        ax.bar(x + (i - (k - 1) / 2) * width, shares, width * 0.95, color=col[key],
               label=f"{lab[key]} (n={n} prompts)", edgecolor="white", linewidth=0.5)
    ax.set_xticks(x, _bin_labels(edges))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("share of prompts")
    ax.set_ylim(0, 1.05)
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    # Below the axes: never over the bars, and the bars keep the full width for their labels.
    ax.legend(frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=1)
    return _save(fig, out, name, title, caption)


def map_scatter(result: MeasureResult, data: MapData, out: Path, name: str = "map") -> Figure:
    """The dataset map: source texts in grey under each run's texts in its colour."""
    plt = _plt()
    col, lab = colours(result), labels(result)
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    src = data.is_source
    ax.scatter(data.x[src], data.y[src], s=7, c=SOURCE_COLOUR, alpha=0.45, linewidths=0,
               label=f"{lab['source']} ({int(src.sum())})")
    for g in result.groups[1:]:
        sel = data.run_id == g.run_id
        if sel.any():
            ax.scatter(data.x[sel], data.y[sel], s=9, c=col[g.key], alpha=0.75, linewidths=0,
                       label=f"{g.label} ({int(sel.sum())})")
    ax.set_xlabel(f"{data.method.upper()} 1")
    ax.set_ylabel(f"{data.method.upper()} 2")
    title = f"Dataset map ({data.method.upper()} fitted on the human texts)"
    ax.set_title(title)
    ax.legend(frameon=False, markerscale=2.5, loc="best")
    return _save(fig, out, name, title, "Each dot is a text. The map is fitted on the source "
                 "texts only; generated texts are placed into it, so runs share one frame.")


SWEEP_STATS = (("embedding", "mean_pairwise_cosine", "mean pairwise cosine (embeddings)"),
               ("@sentiment", "entropy", "per-prompt sentiment entropy (bits)"),
               ("topic", "entropy", "per-prompt topic entropy (bits)"))


def sweep(result: MeasureResult, sentiment: str | None, out: Path) -> Figure | None:
    """Dispersion vs temperature (and top-p as marker) per run, the source value as a band."""
    runs = [g for g in result.groups[1:] if isinstance(g.sampling.get("temperature"), int | float)]
    params = {(g.sampling.get("temperature"), g.sampling.get("top_p")) for g in runs}
    if len(params) < 2:
        return None
    panels = []
    for name, stat, ylabel in SWEEP_STATS:
        attr = sentiment if name == "@sentiment" else name
        if attr and result.agg("source", attr, stat):
            panels.append((attr, stat, ylabel))
    if not panels:
        return None
    plt = _plt()
    col = colours(result)
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4.6), squeeze=False)
    markers = {p: m for p, m in zip(sorted({g.sampling.get("top_p") or 1.0 for g in runs}),
                                     "osD^v<>", strict=False)}
    for ax, (attr, stat, ylabel) in zip(axes[0], panels, strict=True):
        src = result.agg("source", attr, stat)
        assert src is not None
        lo = src["ci_low"] if src["ci_low"] is not None else src["mean"]
        hi = src["ci_high"] if src["ci_high"] is not None else src["mean"]
        ax.axhspan(lo, hi, color=SOURCE_COLOUR, alpha=0.25, label="source 95% CI")
        ax.axhline(src["mean"], color=SOURCE_COLOUR, lw=1.5, label="source")
        for g in runs:
            a = result.agg(g.key, attr, stat)
            if not a or a["mean"] is None:
                continue
            t = float(g.sampling["temperature"])
            err = [[a["mean"] - (a["ci_low"] or a["mean"])], [(a["ci_high"] or a["mean"]) - a["mean"]]]
            ax.errorbar([t], [a["mean"]], yerr=err, fmt=markers.get(g.sampling.get("top_p") or 1.0, "o"),
                        color=col[g.key], ms=7, capsize=3, label=f"{g.label} (top-p {g.sampling.get('top_p', '-')})")
        ax.set_xlabel("temperature")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, frameon=False, loc="lower center", ncol=min(4, len(names)))
    title = "Dispersion vs sampling parameters"
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.06 * (1 + (len(names) - 1) // 4), 1, 1))
    return _save(fig, out, "sweep", title, "Means over prompts with 95% bootstrap intervals; "
                 "marker shape = top-p; the grey band is the human source.")
