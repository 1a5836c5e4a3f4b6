"""Report figures drawn headless with matplotlib (Agg): the paper's Figure 1 analogues and more.

Colours and markers: the one palette of `monoscope.core.explore.palette`, by run id: the
source is neutral grey, each run has the colour and marker shape it has in the window, so a run
keeps its look across every figure of a report and in the explorer.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from monoscope.core.analysis.measure import MeasureResult
from monoscope.core.explore import palette
from monoscope.core.explore.figure_data import SENTIMENT_EDGES as SENTIMENT_EDGES
from monoscope.core.explore.figure_data import SIMILARITY_EDGES as SIMILARITY_EDGES
from monoscope.core.explore.figure_data import bin_index
from monoscope.core.explore.hivemind import HivemindData
from monoscope.core.explore.labels import elide, group_label
from monoscope.core.explore.queries import Points

# SENTIMENT_EDGES, SIMILARITY_EDGES (the paper's Figure 1 bins) are the views' own, so the
# report and the overview bin alike.
SOURCE_COLOUR = palette.hex_of(palette.SOURCE_LIGHT)
RUN_COLOURS = tuple(palette.hex_of(c) for c in palette.RUN_COLOURS)  # by position (replicate)


@dataclass(frozen=True)
class Figure:
    name: str
    title: str
    caption: str
    png: str
    svg: str


def colours(result: MeasureResult) -> dict[str, str]:
    """Hex colour per group key: the window's colour of each run (by run id)."""
    return {g.key: palette.group_hex(g.key) for g in result.groups}


def markers(result: MeasureResult) -> dict[str, str]:
    """matplotlib marker per group key: the window's marker shape of each run."""
    return {g.key: palette.mpl_marker(palette.group_marker(g.key)) for g in result.groups}


def labels(result: MeasureResult) -> dict[str, str]:
    """Each group's legend label (`labels.group_label`: a run's '#id' first)."""
    return {g.key: group_label(g.key, g.label) for g in result.groups}


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


def legend_below(fig: Any, axes: Any, title: str, ncol: int, row_height: float,
                 pad: float = 0.0, fontsize: float | None = None) -> None:
    """One legend for a row of panels (the first panel's entries), under the panels, with the
    title above; the panels shrink by `row_height` per legend row (plus `pad`)."""
    handles, names = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, names, frameon=False, loc="lower center", ncol=min(ncol, len(names)),
               **({"fontsize": fontsize} if fontsize else {}))
    fig.suptitle(title)
    fig.tight_layout(rect=(0, pad + row_height * math.ceil(len(names) / ncol), 1, 1))


def bin_shares(values: Sequence[float | None], edges: Sequence[float]) -> np.ndarray:
    """Share of values per bin; the first bin is closed [e0, e1], the others (e_i, e_i+1]."""
    idx = [bin_index(x, edges) for x in values if x is not None and math.isfinite(x)]
    if not idx:
        return np.zeros(len(edges) - 1)
    return np.bincount(idx, minlength=len(edges) - 1)[: len(edges) - 1] / len(idx)


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
    # that some run is compared on (like the paper's per-book comparison).
    covered = {k for g in result.groups[1:] for k in result.run_prompts(g.key)}
    for g in result.groups:
        per = result.per_prompt(g.key, attribute, stat)
        if g.key == "source" and covered:
            per = {k: v for k, v in per.items() if k in covered}
        vals = list(per.values())
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


def map_scatter(result: MeasureResult, data: Points, out: Path, name: str = "map") -> Figure:
    """The dataset map: source texts in grey under each run's texts in its colour."""
    plt = _plt()
    col, lab, mark = colours(result), labels(result), markers(result)
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    src = data.is_source
    ax.scatter(data.x[src], data.y[src], s=7, c=SOURCE_COLOUR, alpha=0.45, linewidths=0,
               label=f"{lab['source']} ({int(src.sum())})")
    for g in result.groups[1:]:  # on top of the source, each run in its colour and shape
        sel = data.run_id == g.run_id
        if sel.any():
            ax.scatter(data.x[sel], data.y[sel], s=22, c=col[g.key], marker=mark[g.key],
                       alpha=0.9, linewidths=0.4, edgecolors="white", zorder=3,
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


def _agg(result: MeasureResult, group: str, attr: str, stat: str, ref: str
         ) -> tuple[float, float, float] | None:
    a = result.cell(group, attr, stat, ref)
    if a is None or a["value"] is None:
        return None
    v = float(a["value"])
    return (v, float(a["lo"]) if a["lo"] is not None else v,
            float(a["hi"]) if a["hi"] is not None else v)


def sweep(result: MeasureResult, sentiment: str | None, out: Path) -> Figure | None:
    """Dispersion vs temperature (marker = top-p) per run, each beside the source measured on
    that run's prompts at its n (grey; a band when every run shares prompts and n)."""
    runs = [g for g in result.groups[1:] if isinstance(g.sampling.get("temperature"), int | float)]
    params = {(g.sampling.get("temperature"), g.sampling.get("top_p")) for g in runs}
    if len(params) < 2:
        return None
    panels = []
    for name, stat, ylabel in SWEEP_STATS:
        attr = sentiment if name == "@sentiment" else name
        if attr and any(_agg(result, g.key, attr, stat, g.key) for g in runs):
            panels.append((attr, stat, ylabel))
    if not panels:
        return None
    plt = _plt()
    col = colours(result)
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4.6), squeeze=False)
    markers = {p: m for p, m in zip(sorted({g.sampling.get("top_p") or 1.0 for g in runs}),
                                     "osD^v<>", strict=False)}
    n_prompts: set[int] = set()
    for ax, (attr, stat, ylabel) in zip(axes[0], panels, strict=True):
        srcs = {g.key: _agg(result, "source", attr, stat, g.key) for g in runs}
        distinct = {s for s in srcs.values() if s is not None}
        if len(distinct) == 1:
            m, lo, hi = next(iter(distinct))
            ax.axhspan(lo, hi, color=SOURCE_COLOUR, alpha=0.25,
                       label="people, same prompts and n (95% CI)")
            ax.axhline(m, color=SOURCE_COLOUR, lw=1.5)
        for g in runs:
            a = _agg(result, g.key, attr, stat, g.key)
            row = result.cell(g.key, attr, stat, g.key)
            if a is None or row is None:
                continue
            n_prompts.add(int(row["prompts"] or 0))
            t = float(g.sampling["temperature"])
            src = srcs[g.key]
            if src is not None and len(distinct) > 1:
                ax.errorbar([t], [src[0]], yerr=[[src[0] - src[1]], [src[2] - src[0]]],
                            fmt="_", color=SOURCE_COLOUR, ms=14, capsize=3)
            err = [[a[0] - a[1]], [a[2] - a[0]]]
            ax.errorbar([t], [a[0]], yerr=err,
                        fmt=markers.get(g.sampling.get("top_p") or 1.0, "o"),
                        color=col[g.key], ms=7, capsize=3,
                        label=f"{g.label} (top-p {g.sampling.get('top_p', '-')}, n={row['n']})")
        ax.set_xlabel("temperature")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    title = "Dispersion vs sampling parameters"
    legend_below(fig, axes, title, ncol=4, row_height=0.06)
    prompts = ", ".join(str(n) for n in sorted(n_prompts))
    return _save(fig, out, "sweep", title, "Means over each run's prompts "
                 f"({prompts} prompts) with 95% bootstrap intervals; marker shape = top-p; "
                 "grey = the people on the same prompts at the same n per prompt.")


def accumulation(result: MeasureResult, sentiment: str | None, out: Path) -> Figure | None:
    """Dispersion against the number of texts per prompt, pooled over each run's prompts:
    the run beside the people on the same prompts (Moon et al.'s accumulation view)."""
    attrs = [a for a in ("embedding", sentiment, "topic") if a and any(
        result.curve(g.key, a, f"acc:{g.key}") for g in result.groups[1:])]
    if not attrs:
        return None
    plt = _plt()
    col, lab = colours(result), labels(result)
    fig, axes = plt.subplots(1, len(attrs), figsize=(4.8 * len(attrs), 4.4), squeeze=False)
    for ax, attr in zip(axes[0], attrs, strict=True):
        for g in result.groups[1:]:
            ref = f"acc:{g.key}"
            for key, style, name in (("source", "--", f"people on {lab[g.key]}'s prompts"),
                                     (g.key, "-", lab[g.key])):
                rows = result.curve(key, attr, ref)
                if not rows:
                    continue
                n = [r["n"] for r in rows]
                v = [r["value"] for r in rows]
                lo = [r["lo"] if r["lo"] is not None else r["value"] for r in rows]
                hi = [r["hi"] if r["hi"] is not None else r["value"] for r in rows]
                c = SOURCE_COLOUR if key == "source" else col[g.key]
                ax.plot(n, v, style, color=c, marker="o", ms=3, label=name)
                ax.fill_between(n, lo, hi, color=c, alpha=0.12, linewidth=0)
        ax.set_xlabel("texts per prompt (n)")
        ax.set_ylabel(f"dispersion of {attr}")
        ax.grid(alpha=0.3)
    title = "Accumulation: dispersion as texts are added"
    legend_below(fig, axes, title, ncol=3, row_height=0.08)
    return _save(fig, out, "accumulation", title, "Mean over the prompts where both sides "
                 "reach n (each point: 50 random subsets of n texts per prompt), 95% CI over "
                 "prompts. A run whose curve flattens early keeps saying the same things.")


def _heat_cmap() -> Any:
    """The shared heat scale (`palette.HEAT`) as a matplotlib colour map."""
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list(
        "monoscope-heat", [tuple(c / 255 for c in rgb) for rgb in palette.HEAT])


def _short(label: str, size: int = 26) -> str:
    """A long label cut in the middle (a run's '#id' first, its sampling last)."""
    return elide(label, size)


def hivemind_heatmap(data: HivemindData, out: Path) -> Figure | None:
    """The groups × groups mean cross-set cosine (stored rows), values and prompts in the
    cells, the source's own cell (people against people) outlined as the yardstick."""
    if not data.has_matrix():
        return None
    plt = _plt()
    size = len(data.keys)
    lo, hi = data.scale
    side = 2.2 + 1.55 * size
    fig, ax = plt.subplots(figsize=(side + 1.6, side))
    shown = np.ma.masked_invalid(data.value)
    im = ax.imshow(shown, cmap=_heat_cmap(), vmin=lo, vmax=hi)
    for i in range(size):
        for j in range(size):
            v = float(data.value[i, j])
            if not math.isfinite(v):
                continue
            ink = palette.hex_of(palette.ink_on(palette.heat_colour((v - lo) / (hi - lo))))
            p = int(data.prompts[i, j])
            ax.text(j, i - 0.08, f"{v:.3f}", ha="center", va="center", color=ink,
                    fontsize=11, fontweight="bold")
            ax.text(j, i + 0.2, f"n = {p} prompt{'s' if p != 1 else ''}", ha="center",
                    va="center", color=ink, fontsize=8)
    if "source" in data.keys:
        s = data.keys.index("source")
        if math.isfinite(float(data.value[s, s])):
            import matplotlib.patches as patches

            ax.add_patch(patches.Rectangle((s - 0.46, s - 0.46), 0.92, 0.92, fill=False,
                                           edgecolor="white", linestyle="--", linewidth=1.6))
    names = [_short(lab) for lab in data.labels]
    ax.set_xticks(range(size), names, rotation=20, ha="right")
    ax.set_yticks(range(size), names)
    ax.spines[:].set_visible(False)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="mean cosine")
    title = "Hivemind: how alike the groups write"
    ax.set_title(title)
    s_val = ""
    if "source" in data.keys:
        s = data.keys.index("source")
        if math.isfinite(float(data.value[s, s])):
            s_val = (f" People against other people (the outlined cell, two disjoint halves "
                     f"of a prompt's human texts) score {data.value[s, s]:.3f}: the yardstick.")
    return _save(fig, out, "hivemind", title, "Each cell: the mean cosine between the "
                 "embeddings of two groups' texts for the same prompt, averaged over the "
                 "prompts both cover (n); on the diagonal between two disjoint halves of the "
                 "group (after Jiang et al. 2025, “Artificial Hivemind”)." + s_val)


def similarity_histograms(data: HivemindData, out: Path) -> Figure | None:
    """Hivemind's histogram: the share of each group's prompts per bin of its per-prompt
    mean pairwise cosine (stored rows), groups overlaid in their colours."""
    series = [(k, lab, *data.histogram(k)) for k, lab in zip(data.keys, data.labels,
                                                             strict=True)]
    series = [s for s in series if s[3]]
    if not series or (len(series) == 1 and len(data.keys) > 1):
        return None
    plt = _plt()
    edges = np.asarray(data.edges)
    fig, ax = plt.subplots(figsize=(9.0, 4.2 + 0.25 * len(series)))
    first = min(int(np.flatnonzero(sh > 0)[0]) for _, _, sh, _ in series)
    for key, lab, shares, n in series:
        c = palette.group_hex(key)
        ax.stairs(shares, edges, fill=True, color=c, alpha=0.22)
        ax.stairs(shares, edges, color=c, linewidth=1.8, label=f"{lab} (n={n} prompts)")
    ax.set_xlim(float(edges[max(0, first - 1)]), float(edges[-1]))
    ax.set_xlabel("mean pairwise cosine of a prompt's texts")
    ax.set_ylabel("share of prompts")
    title = "Per-prompt similarity of each group"
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=1)
    return _save(fig, out, "similarity_hist", title, "Hivemind's figure: for each group, "
                 "the mean pairwise cosine of its texts for each prompt, in bins of 0.05 "
                 "(the source on the prompts the runs cover).")


def logprob_histograms(run_id: int, label: str, prompts: Sequence[Any], out: Path
                       ) -> Figure | None:
    """Per prompt (small multiples): histograms of the mean per-token log-probability of the
    human texts and of the run's samples under the run's model, the samples' 5th percentile
    dashed (from the stored `logprob` rows)."""
    prompts = [p for p in prompts if p.human.size and p.samples.size]
    if not prompts:
        return None
    plt = _plt()
    cols = min(4, len(prompts))
    rows = math.ceil(len(prompts) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows + 0.8),
                             squeeze=False, sharex=True)
    colour = palette.hex_of(palette.run_colour(run_id))
    allv = np.concatenate([np.concatenate([p.human, p.samples]) for p in prompts])
    edges = np.linspace(float(allv.min()), float(allv.max()) + 1e-9, 25)
    for ax, p in zip(axes.flat, prompts, strict=False):
        ax.hist(p.human, edges, weights=np.full(p.human.size, 1 / p.human.size),
                color="#888888", alpha=0.6, label="human texts")
        ax.hist(p.samples, edges, weights=np.full(p.samples.size, 1 / p.samples.size),
                color=colour, alpha=0.55, label="samples")
        cut = p.measures.get("run:p5")
        if cut and cut.get("value") is not None:
            ax.axvline(float(cut["value"]), color=colour, ls="--", lw=1)
        share = p.measures.get("run:share_below_p5")
        title = p.prompt_key[:28]
        if share and share.get("value") is not None:
            title += f"  ({100 * float(share['value']):.0f} % < p5)"
        ax.set_title(title, fontsize=9)
    for ax in list(axes.flat)[len(prompts):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("log p per token (nats)")
    legend_below(fig, axes, f"The model's log-probabilities: {label}", 2, 0.06 / rows)
    name = f"logprob_run{run_id}"
    return _save(fig, out, name, f"The model's own log-probabilities per prompt: {label}",
                 "Histograms of the mean per-token log-probability of each human text (grey) "
                 "and of each of the run's samples (colour) under the run's model and template; "
                 "dashed: the samples' 5th percentile. Human texts left of it are ones the "
                 "model would not produce.")
