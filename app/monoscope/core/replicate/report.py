"""DIR/replication.html: the paper's table, the Figure 1 analogues and the sweep plots.

Figure 1 analogues reuse the report package's binned bars (same bins and colours as the
paper); the sweep plots draw one line per (model, template, top-p) against temperature with
the human source as a band (95 % bootstrap interval of the mean over the same prompts).
"""

from __future__ import annotations

import html
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

from monoscope import __version__
from monoscope.core.analysis.measure import EMBEDDING, MeasureResult
from monoscope.core.replicate.presets import protocol_for
from monoscope.core.replicate.result import ReplicationResult
from monoscope.core.replicate.tables import SOURCE, Metric, Table, source_ref
from monoscope.core.report import figures as F

MODEL_COLOURS = F.RUN_COLOURS
TEMPLATE_STYLES = {"personalized": "-", "personation": "--", "code": "-"}
TOP_P_MARKERS = "osD^v<>"


def headline_groups(res: ReplicationResult, mres: MeasureResult) -> list[Any]:
    """Source plus, per model, the run at the paper's Figure 1 setting (or the nearest)."""
    t0, p0 = protocol_for(res.request).headline
    by_key = {g.key: g for g in mres.groups}
    chosen = [by_key[SOURCE]]
    for model in dict.fromkeys(c.model for c in res.configs):
        cands = [(c, rid) for c, rid in zip(res.configs, res.run_ids, strict=True)
                 if c.model == model and c.decay is None and c.template in
                 ("personalized", "code")]
        if cands:
            c, rid = min(cands, key=lambda x: abs(x[0].temperature - t0) + abs(x[0].top_p - p0))
            chosen.append(replace(by_key[f"run:{rid}"], label=c.label))
    return chosen


def figure1(res: ReplicationResult, mres: MeasureResult, out: Path) -> list[F.Figure]:
    keys = set(res.prompts)
    sub = mres.restricted(keys, headline_groups(res, mres))
    figs: list[F.Figure | None] = []
    if res.request.protocol == "reviews":
        sent = next((a for a in ("sentiment.head", "sentiment.vader") if a in mres.attributes), None)
        if sent:
            figs.append(F.binned_bars(
                sub, sent, "share_positive", F.SENTIMENT_EDGES, out, "figure1_sentiment",
                "Figure 1 (left) analogue: per-prompt mean sentiment",
                f"share of a film's texts labelled POSITIVE ({sent})",
                "The paper's bins. Llama-2-chat put 92.5 % of books in the right-most bin; "
                "the source spreads over all bins."))
    else:
        figs.append(F.binned_bars(
            sub, "code.algorithms", "jaccard", F.SIMILARITY_EDGES, out, "figure1_algorithms",
            "Figure 1 (right) analogue: algorithm-set Jaccard per task",
            "mean pairwise Jaccard of the algorithm sets of a task's solutions",
            "The paper's bins; GPT-4 put 71 % of problems in the top bin, the humans 32 %."))
    if EMBEDDING in mres.attributes:
        figs.append(F.binned_bars(
            sub, EMBEDDING, "mean_pairwise_cosine", F.SIMILARITY_EDGES, out, "figure1_cosine",
            "Spectrum of per-prompt embedding similarity",
            "mean pairwise cosine of a prompt's texts (MiniLM)",
            "Higher = the texts for a prompt say more nearly the same thing."))
    return [f for f in figs if f is not None]


def _source_band(mres: MeasureResult, m: Metric, ref: str | None
                 ) -> tuple[float, float, float] | None:
    """The stored source aggregate matched to run `ref` (same prompts, same n)."""
    r = mres.cell(SOURCE, m.attribute, m.stat, ref or "")
    if r is None or r["value"] is None:
        return None
    v = float(r["value"])
    return (v, float(r["lo"]) if r["lo"] is not None else v,
            float(r["hi"]) if r["hi"] is not None else v)


def sweep_figure(res: ReplicationResult, mres: MeasureResult, rows: list[Metric], out: Path
                 ) -> F.Figure | None:
    """Each table metric against temperature, one line per (model, template, top-p)."""
    table = res.tables[0]
    panels = [m for m in rows] + [Metric(h, "", "corpus") for h in
                                   ("unigram entropy (bits)", "vocabulary")
                                   if any(r[0] == h for r in table.rows)]
    cols = {c.key: c for c in table.columns}
    temps = {c.config.get("temperature") for c in table.columns
             if c.key.startswith("run:") and not c.config.get("decay")}
    if len(temps) < 2 or not panels:
        return None
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    ref = source_ref(mres, table.columns)
    models = list(dict.fromkeys(c.model for c in res.configs))
    top_ps = sorted({c.top_p for c in res.configs})
    ncol = min(3, len(panels))
    nrow = math.ceil(len(panels) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.8 * ncol, 3.9 * nrow), squeeze=False)
    for ax, m in zip(axes.flat, panels, strict=False):
        values = dict(zip([c.key for c in table.columns],
                          next(v for h, v in table.rows if h == m.header), strict=True))
        src = values.get(SOURCE)
        band = _source_band(mres, m, ref) if m.stat != "corpus" else None
        if band is not None:
            mean, lo, hi = band
            ax.axhspan(lo, hi, color=F.SOURCE_COLOUR, alpha=0.25,
                       label="people, same prompts and n (95% CI)")
            src = mean
        if src is not None:
            ax.axhline(src, color=F.SOURCE_COLOUR, lw=1.5, label="source (human)")
        lines: dict[tuple[str, str, float], list[tuple[float, float]]] = {}
        for key, v in values.items():
            c = cols[key].config
            if not key.startswith("run:") or v is None or c.get("decay"):
                continue
            lines.setdefault((c["model"], c["template"], c["top_p"]), []).append(
                (c["temperature"], v))
        for (model, template, top_p), pts in sorted(lines.items()):
            pts.sort()
            ax.plot([p[0] for p in pts], [p[1] for p in pts],
                    TEMPLATE_STYLES.get(template, ":"),
                    marker=TOP_P_MARKERS[top_ps.index(top_p) % len(TOP_P_MARKERS)],
                    color=MODEL_COLOURS[models.index(model) % len(MODEL_COLOURS)], ms=6,
                    mfc="white" if template == "personation" else None,
                    label=f"{model} {template} top-p {top_p:g}")
        ax.set_title(m.header, fontsize=11)
        ax.set_xlabel("temperature")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    title = "Dispersion against temperature, with the human source as a band"
    F.legend_below(fig, axes, title, ncol=3, row_height=0.05 / nrow, pad=0.02, fontsize=9)
    fig.savefig(out / "sweep_temperature.png", dpi=120)
    fig.savefig(out / "sweep_temperature.svg")
    plt.close(fig)
    return F.Figure("sweep_temperature", title, f"Means over the same {len(res.prompts)} "
                    "prompts; line = model and template, marker = top-p; grey = the people on "
                    "the same prompts at the runs' n per prompt (band: 95% bootstrap interval "
                    "over prompts).", "sweep_temperature.png", "sweep_temperature.svg")


def _fmt(v: float | None, header: str = "") -> str:
    if v is None or not math.isfinite(v):
        return "–"
    if header in ("vocabulary", "texts kept (perplexity filter)", "distinct topics (pooled)"):
        return f"{round(v):,}"
    return f"{v:.3f}"


def table_html(t: Table) -> str:
    """Configurations as rows (source first), metrics as columns: the paper's layout."""
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h, _ in t.rows)
    out = [f"<table><tr><th class=l>configuration</th>{head}</tr>"]
    for i, c in enumerate(t.columns):
        cells = "".join(f"<td>{_fmt(v[i], h)}</td>" for h, v in t.rows)
        out.append(f"<tr><td class=l>{e(c.label)}</td>{cells}</tr>")
    out.append("</table>")
    out += [f"<p class=note>{e(n)}</p>" for n in t.notes]
    return "\n".join(out)


def table_text(t: Table) -> str:
    """The same table for a terminal."""
    heads = [h.split(" (")[0][:18] for h, _ in t.rows]
    width = max(len(c.label) for c in t.columns) + 2
    lines = [" " * width + "".join(f"{h:>19}" for h in heads)]
    for i, c in enumerate(t.columns):
        lines.append(f"{c.label:<{width}}" + "".join(f"{_fmt(v[i], h):>19}" for h, v in t.rows))
    return "\n".join(lines + t.notes)


PAPER_NOTE = {
    "reviews": "Paper (Goodreads, 742 books): source 0.659 mean sentiment / 0.809 entropy / "
               "2.181 topic entropy; Llama-2-chat personalized T0.8 p0.9: 0.991 / 0.038 / 1.42; "
               "Llama-2 base T1.2: 0.743–0.804 / 0.60–0.74 / 2.24.",
    "code": "Paper (CodeContests, 100 problems, GPT-4): algorithm Jaccard 0.628 source vs "
            "0.815–0.853; embedding cosine 0.655 vs 0.786–0.843; accuracy 0.692 vs 0.829–0.843.",
}


def write_report(res: ReplicationResult, mres: MeasureResult, rows: list[Metric], out: Path
                 ) -> Path:
    figs = figure1(res, mres, out)
    sw = sweep_figure(res, mres, rows, out)
    figs += [sw] if sw else []
    e = html.escape
    r = res.request
    parts = [f"<!doctype html><html><head><meta charset=utf-8><title>Replication: "
             f"{e(res.dataset)}</title><style>{CSS}</style></head><body>",
             f"<h1>Generative monoculture, replicated: {e(r.protocol)} on {e(res.dataset)}</h1>",
             f"<p class=note>Preset <b>{e(r.preset)}</b>: {len(res.configs)} runs, "
             f"{len(res.prompts)} prompts, models {e(', '.join(r.models))}. Monoscope "
             f"{e(__version__)}. Method: Wu, Black &amp; Chandrasekaran, “Generative Monoculture "
             "in Large Language Models” (ICLR 2025).</p>",
             f"<p class=note>{e(PAPER_NOTE[r.protocol])}</p>"]
    for t in res.tables:
        parts += [f"<h2>{e(t.title)}</h2>", table_html(t)]
    for f in figs:
        parts.append(f"<h2>{e(f.title)}</h2><figure><img src='{e(f.png)}' alt='{e(f.title)}'>"
                     f"<figcaption>{e(f.caption)} <a href='{e(f.svg)}'>SVG</a></figcaption>"
                     "</figure>")
    parts.append(f"<p class=note>Numbers: <a href='replication.json'>replication.json</a>. "
                 f"Run ids: {', '.join(map(str, res.run_ids))}; the explorer's compare and sweep "
                 "views show the same runs.</p></body></html>")
    index = out / "replication.html"
    index.write_text("\n".join(parts), encoding="utf-8")
    return index


CSS = """body{font-family:system-ui,sans-serif;max-width:1150px;margin:2em auto;padding:0 1em;
color:#222}h1{font-size:1.5em}h2{margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}th,td{padding:.25em .5em;
border-bottom:1px solid #eee;text-align:right}th{background:#f5f5f5}td.l,th.l{text-align:left}
figure{margin:1.5em 0}figure img{max-width:100%}figcaption{color:#555;font-size:.9em}
.note{color:#666;font-size:.9em}"""
