"""`monoscope report`: a self-contained HTML report (index.html + PNG/SVG figures in one folder).

It runs the measure stage, draws the figures headless and writes tables like the paper's:
per-prompt mean sentiment and similarity spectra, the aggregate table, the per-prompt table
sorted by monoculture index, the dataset map and (when runs differ in sampling) a sweep plot;
and the field's cross-model figures: the Hivemind heatmap (groups × groups mean cross-set
cosine) with its matrix, the per-prompt similarity histograms, and the missing-modes table
(source topics a run never wrote about). Every number is a stored row of the measure stage.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monoscope import __version__
from monoscope.core.analysis.measure import (
    EMBEDDING,
    WORDING,
    MeasureRequest,
    MeasureResult,
    measure,
)
from monoscope.core.errors import MonoscopeError
from monoscope.core.explore.figure_data import sentiment_of
from monoscope.core.explore.hivemind import HivemindData, hivemind_data
from monoscope.core.explore.missing import MissingMode, result_missing_modes
from monoscope.core.explore.queries import scope_points, topic_fit, topic_labels
from monoscope.core.report import figures as F
from monoscope.core.store import Study
from monoscope.core.tasks import TaskState

MAX_PROMPT_ROWS = 300


class ReportError(MonoscopeError):
    """The report cannot be written where asked."""


@dataclass(frozen=True)
class ReportRequest:
    out: Path
    dataset: str | None = None
    runs: tuple[str, ...] = ()
    ppl_max: float | None = None
    map_scope: str = "dataset"


@dataclass
class ReportResult:
    index: Path
    figures: list[F.Figure] = field(default_factory=list)
    measure: MeasureResult | None = None


def sentiment_attribute(result: MeasureResult) -> str | None:
    """The sentiment attribute the report shows: the classifier head, else VADER."""
    return sentiment_of(result.attributes)


def build_report(study: Study, request: ReportRequest, state: TaskState) -> ReportResult:
    """Measure, draw and write the report; returns the index path and the figures."""
    out = Path(request.out).expanduser()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"Cannot create the report folder {out}: {exc.strerror}. "
                          "Choose another --out folder.") from None
    res = measure(study, MeasureRequest(dataset=request.dataset, runs=request.runs,
                                        ppl_max=request.ppl_max), state)
    state.begin("report", total=5)
    figs: list[F.Figure] = []
    sent = sentiment_attribute(res)
    if sent:
        f = F.binned_bars(res, sent, "share_positive", F.SENTIMENT_EDGES, out, "sentiment",
                          "Per-prompt mean sentiment", f"mean sentiment per prompt "
                          f"(share POSITIVE, {sent})", "The paper's Figure 1 (left) bins. A "
                          "run piled into the right-most bin praises everything.")
        figs += [f] if f else []
    state.progress(1, 5)
    if EMBEDDING in res.attributes:
        f = F.binned_bars(res, EMBEDDING, "mean_pairwise_cosine", F.SIMILARITY_EDGES, out,
                          "cosine", "Spectrum of per-prompt similarity",
                          "mean pairwise cosine of the texts of a prompt",
                          "Higher = the texts for a prompt say more nearly the same thing.")
        figs += [f] if f else []
    hive = hivemind_data(res)
    for f in (F.hivemind_heatmap(hive, out), F.similarity_histograms(hive, out)):
        figs += [f] if f else []
    for attr in ("code.algorithms", "code.data_structures"):
        if attr in res.attributes:
            f = F.binned_bars(res, attr, "jaccard", F.SIMILARITY_EDGES, out,
                              attr.replace(".", "_"), f"Spectrum of per-prompt {attr} Jaccard",
                              f"mean pairwise Jaccard of {attr} sets",
                              "The paper's Figure 1 (right) analogue.")
            figs += [f] if f else []
    state.progress(2, 5)
    data = scope_points(study, res.dataset_id, request.map_scope)
    if data is not None and data.text_id.size:
        figs.append(F.map_scatter(res, data, out))
    state.progress(3, 5)
    f = F.sweep(res, sent, out)
    figs += [f] if f else []
    f = F.accumulation(res, sent, out)
    figs += [f] if f else []
    likely_html = _likelihood(study, res, out, figs)
    state.progress(4, 5)
    (out / "measure.json").write_text(res.to_json(), encoding="utf-8")
    index = out / "index.html"
    missing = result_missing_modes(res, topic_labels(study, res.dataset_id))
    index.write_text(render_html(res, figs, sent, has_map=data is not None, missing=missing,
                                 topics=topic_fit(study, res.dataset_id), extra=likely_html),
                     encoding="utf-8")
    state.progress(5, 5, str(index))
    return ReportResult(index, figs, res)


# -- HTML ----------------------------------------------------------------------------------
CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222}h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.9em;margin:.5em 0}th,td{padding:.25em .6em;
border-bottom:1px solid #eee;text-align:right}th{background:#f5f5f5}td.l,th.l{text-align:left}
figure{margin:1.5em 0}figure img{max-width:100%}figcaption{color:#555;font-size:.9em}
.sw{display:inline-block;width:.8em;height:.8em;border-radius:2px;margin-right:.3em}
.note{color:#666;font-size:.9em}"""


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and abs(v) >= 100):
        return f"{int(v):,}"
    return f"{v:.{digits}f}"


def _cell(a: dict[str, Any] | None, ci: bool = True) -> str:
    """A stored aggregate row: value with its 95 % interval."""
    if not a or a.get("value") is None:
        return "–"
    v = float(a["value"])
    lo, hi = a.get("lo"), a.get("hi")
    fixed = lo is None or (lo == hi == v)  # no spread: a whole set, or a count over it
    if fixed and v.is_integer():  # counts
        return f"{int(v):,}"
    band = ""
    if ci and not fixed and lo is not None and hi is not None:
        band = f" <span class=note>[{_fmt(a['lo'])}, {_fmt(a['hi'])}]</span>"
    return _fmt(v) + band


def aggregate_columns(res: MeasureResult, sent: str | None) -> list[tuple[str, str, str]]:
    """(header, attribute, stat) of the paper-style aggregate table, only those with data."""
    cand = []
    if sent:
        cand += [("mean sentiment", sent, "share_positive"), ("sentiment entropy", sent, "entropy")]
    cand += [("topic entropy", "topic", "entropy"), ("distinct topics", "topic", "pooled_distinct"),
             ("pairwise cosine", EMBEDDING, "mean_pairwise_cosine"), ("Vendi", EMBEDDING, "vendi"),
             ("coverage", EMBEDDING, "coverage"), ("precision", EMBEDDING, "precision"),
             ("algorithms Jaccard", "code.algorithms", "jaccard"),
             ("data-structures Jaccard", "code.data_structures", "jaccard"),
             ("accuracy", "code.correct", "accuracy"), ("words", "text.words", "mean"),
             ("unigram entropy", WORDING, "unigram_entropy"), ("vocabulary", WORDING, "vocabulary")]
    runs = [g.key for g in res.groups if g.run_id is not None]
    return [c for c in cand if any(res.cell(k, c[1], c[2], k) for k in runs)]


INDEX_NOTE = ("index = the run's dispersion / the people's dispersion on the same prompt at the "
              "same number of texts, averaged over the run's prompts, with a 95 % bootstrap CI "
              "(prompts and subsample draws). <i>people</i> = the range (95 %) of the index that "
              "a random set of human texts of the same size scores against the people. "
              "★ CI excludes 1; † outside the people's range.")


def index_cell(res: MeasureResult, run_key: str, attribute: str) -> str:
    """Index [CI] with the human range and the flags, for the HTML tables."""
    a = res.cell(run_key, attribute, "index", run_key)
    if a is None or a["value"] is None:
        return "–"
    b = res.cell("source", attribute, "index", run_key)
    v, lo, hi = float(a["value"]), a["lo"], a["hi"]
    flags = ""
    if lo is not None and hi is not None and not (lo <= 1.0 <= hi):
        flags += "★"
    human = ""
    if b is not None and b["lo"] is not None and b["hi"] is not None:
        human = f" <span class=note>people {_fmt(b['lo'], 2)}–{_fmt(b['hi'], 2)}</span>"
        if not (b["lo"] <= v <= b["hi"]):
            flags += "†"
    return f"{_fmt(v, 2)}{flags} <span class=note>[{_fmt(lo, 2)}, {_fmt(hi, 2)}]</span>{human}"


def _likelihood(study: Study, res: MeasureResult, out: Path, figs: list[F.Figure]) -> str:
    """Per scored run: the per-prompt histograms of the model's log-probabilities of the human
    texts and of its samples (a figure) and the per-prompt table, from stored rows."""
    from monoscope.core.explore.likelihood import prompt_likelihood, prompt_ranking, scored_runs

    e = html.escape
    parts = []
    for run in scored_runs(study, res.dataset_id):
        ranking = prompt_ranking(res, run)
        if not ranking:
            continue
        per = [p for r in ranking[:12] if (p := prompt_likelihood(
            study, res.dataset_id, r["prompt"], run, res, limit=3)) is not None]
        fig = F.logprob_histograms(run.run_id, run.label, per, out)
        if fig is not None:
            figs.append(fig)
        parts.append(f"<h2>What {e(run.model)} would not say ({e(run.label)})</h2>"
                     "<p class=note>Mean per-token log-probability (nats) of each prompt's "
                     "human texts and of the run's own samples under the run's model and "
                     "template (teacher-forced); gap = human − samples; below p5 = share of "
                     "human texts less likely than the samples' 5th percentile, beside the "
                     "range people score against people. Lowest human first.</p>"
                     "<table><tr><th class=l>prompt</th><th>human texts</th><th>human</th>"
                     "<th>samples</th><th>gap</th><th>below p5</th><th>people</th>"
                     "<th class=l>least likely human text</th></tr>")
        least = {p.prompt_key: p.least_likely[0]["snippet"] if p.least_likely else ""
                 for p in per}
        for r in ranking[:MAX_PROMPT_ROWS]:
            ppl = (f"{_fmt(100 * r['people_lo'], 0)}–{_fmt(100 * r['people_hi'], 0)} %"
                   if r.get("people_lo") is not None else "")
            share = f"{_fmt(100 * r['share'], 0)} %" if r.get("share") is not None else ""
            parts.append(f"<tr><td class=l>{e(str(r['title']))}</td><td>{_fmt(r['n'])}</td>"
                         f"<td>{_fmt(r['human'], 2)}</td><td>{_fmt(r['samples'], 2)}</td>"
                         f"<td>{_fmt(r['gap'], 2)}</td><td>{share}</td><td>{ppl}</td>"
                         f"<td class=l>{e(least.get(r['prompt'], ''))}</td></tr>")
        parts.append("</table>")
    return "\n".join(parts)


def render_html(res: MeasureResult, figs: list[F.Figure], sent: str | None,
                has_map: bool = True, missing: list[MissingMode] | None = None,
                topics: str | None = None, extra: str = "") -> str:
    e = html.escape
    col, lab = F.colours(res), F.labels(res)
    parts = [f"<!doctype html><html><head><meta charset=utf-8><title>Monoscope report: "
             f"{e(res.dataset)}</title><style>{CSS}</style></head><body>",
             f"<h1>Generative monoculture report: {e(res.dataset)}</h1>",
             f"<p class=note>{len(res.prompts)} prompts, {len(res.groups) - 1} runs. "
             f"Perplexity filter: {'0 &lt; ppl ≤ ' + _fmt(res.request.ppl_max, 1) if res.request.ppl_max else 'off'}. "
             f"Monoscope {e(__version__)}. Method: Wu et al., “Generative Monoculture in Large "
             "Language Models” (ICLR 2025)."
             + (f" Topics: {e(topics)}." if topics and "topic" in res.attributes else "")
             + "</p>", "<h2>Groups</h2><table><tr><th class=l>group"
             "</th><th class=l>model</th><th class=l>sampling</th><th>texts</th></tr>"]
    for g in res.groups:
        samp = ", ".join(f"{k}={v}" for k, v in g.sampling.items() if k in
                         ("temperature", "top_p", "top_k", "min_p", "max_tokens"))
        texts = res.cell(g.key, WORDING, "texts")
        parts.append(f"<tr><td class=l><span class=sw style='background:{col[g.key]}'></span>"
                     f"{e(lab[g.key])}</td><td class=l>{e(g.model or '')}</td><td class=l>"
                     f"{e(samp)}</td><td>{_fmt(int(texts['value']) if texts else None)}</td>"
                     "</tr>")
    parts.append("</table>")
    runs = [g for g in res.groups if g.run_id is not None]
    cols = aggregate_columns(res, sent)
    if runs and cols:
        parts.append("<h2>Aggregate: each run beside the people on the same prompts and n</h2>"
                     "<p class=note>Mean over the run's prompts with a 95% bootstrap CI. The "
                     "source row under each run is measured on that run's prompts, at the "
                     "run's number of texts per prompt (random subsets of the people's texts, "
                     "averaged over draws), so the two rows compare like with like.</p>")
        head = "".join(f"<th>{e(h)}</th>" for h, _, _ in cols)
        parts.append(f"<table><tr><th class=l>group</th><th>prompts</th><th>n/prompt</th>"
                     f"{head}</tr>")
        for g in runs:
            first = next((res.cell(g.key, a, s_, g.key) for _, a, s_ in cols
                          if res.cell(g.key, a, s_, g.key)), None)
            n_p = first["prompts"] if first else None
            n_t = first["n"] if first else None
            for key, name in (("source", f"source on {lab[g.key]}'s prompts"),
                              (g.key, lab[g.key])):
                cells = "".join(f"<td>{_cell(res.cell(key, a, s_, g.key))}</td>"
                                for _, a, s_ in cols)
                parts.append(f"<tr><td class=l>{e(name)}</td><td>{_fmt(n_p)}</td>"
                             f"<td>{_fmt(n_t)}</td>{cells}</tr>")
        parts.append("</table>")
        idx_attrs = [a for a in res.attributes if any(res.cell(g.key, a, "index", g.key)
                                                       for g in runs)]
        if idx_attrs:
            parts.append("<h2>Monoculture index and the human baseline</h2>"
                         f"<p class=note>{INDEX_NOTE}</p><table><tr><th class=l>run</th>"
                         + "".join(f"<th>{e(a)}</th>" for a in idx_attrs) + "</tr>")
            for g in runs:
                parts.append(f"<tr><td class=l>{e(lab[g.key])}</td>" + "".join(
                    f"<td>{index_cell(res, g.key, a)}</td>" for a in idx_attrs) + "</tr>")
            parts.append("</table>")
    for f in figs:
        parts.append(f"<h2>{e(f.title)}</h2><figure><img src='{e(f.png)}' alt='{e(f.title)}'>"
                     f"<figcaption>{e(f.caption)} <a href='{e(f.svg)}'>SVG</a></figcaption>"
                     "</figure>")
    if not has_map:
        parts.append("<p class=note>No map yet: run <code>monoscope project STUDY</code> "
                     "to add the dataset map.</p>")
    parts.append(_hivemind_table(hivemind_data(res)))
    parts.append(_missing_table(res, missing or []))
    parts.append(extra)
    parts.append(_prompt_table(res, sent))
    parts.append("<p class=note>All numbers: <a href='measure.json'>measure.json</a> "
                 "(schema in docs/measure-schema.md).</p></body></html>")
    return "\n".join(parts)


def _prompt_table(res: MeasureResult, sent: str | None) -> str:
    """Per-prompt table sorted by the mean monoculture index over runs (narrowest first)."""
    attr = EMBEDDING if EMBEDDING in res.attributes else sent or next(iter(res.attributes), None)
    runs = [g for g in res.groups if g.run_id is not None]
    if attr is None or not runs:
        return ""
    e = html.escape
    titles = {p["key"]: p["title"] for p in res.prompts}
    covered = sorted({k for g in runs for k in res.run_prompts(g.key)})

    def idx(p: str, g: str) -> float:
        r = res.cell(g, attr, "index", g, p)
        return float(r["value"]) if r and r["value"] is not None else math.nan

    def key(p: str) -> float:
        v = [x for g in runs if math.isfinite(x := idx(p, g.key))]
        return sum(v) / len(v) if v else math.inf

    order = sorted(covered, key=key)[:MAX_PROMPT_ROWS]
    head = "".join(f"<th>{e(g.label)}: n</th><th>{e(g.label)}: index</th>"
                   f"<th>people at that n</th>" for g in runs)
    rows = [f"<h2>Per prompt, sorted by monoculture index ({e(attr)})</h2><p class=note>"
            f"{INDEX_NOTE}</p><table><tr><th class=l>prompt</th><th class=l>title</th>"
            f"<th>source n</th><th>source dispersion</th>{head}</tr>"]
    for p in order:
        src = res.cell("source", attr, "dispersion", "", p) or {}
        run_cells = ""
        for g in runs:
            r = res.cell(g.key, attr, "index", g.key, p) or {}
            b = res.cell("source", attr, "index", g.key, p) or {}
            human = (f"{_fmt(b.get('lo'), 2)}–{_fmt(b.get('hi'), 2)}"
                     if b.get("lo") is not None else "–")
            run_cells += (f"<td>{_fmt(r.get('n'))}</td><td>{_fmt(r.get('value'), 2)}</td>"
                          f"<td>{human}</td>")
        rows.append(f"<tr><td class=l>{e(p)}</td><td class=l>{e(str(titles.get(p, '')))}</td>"
                    f"<td>{_fmt(src.get('n'))}</td><td>{_fmt(src.get('value'))}</td>"
                    f"{run_cells}</tr>")
    rows.append("</table>")
    return "\n".join(rows)


def _hivemind_table(data: HivemindData) -> str:
    """The Hivemind matrix as a table: value [95 % CI over prompts] and the prompts behind
    each cell (rows: grp, columns: ref)."""
    if not data.has_matrix():
        return ""
    e = html.escape
    head = "".join(f"<th>{e(lab)}</th>" for lab in data.labels)
    rows = ["<h2 id=hivemind-matrix>Hivemind matrix</h2><p class=note>Mean cross-set cosine "
            "of the embeddings (row group against column group, same prompt), averaged over "
            "the prompts both cover, with a 95 % bootstrap CI over prompts; n = prompts. "
            "Diagonal: two disjoint halves of the group — the source's is the yardstick "
            "(people against other people).</p>",
            f"<table class=hivemind><tr><th class=l>group</th>{head}</tr>"]
    for i, lab in enumerate(data.labels):
        cells = ""
        for j in range(len(data.keys)):
            v = float(data.value[i, j])
            if not math.isfinite(v):
                cells += "<td>–</td>"
                continue
            cells += (f"<td data-grp='{e(data.keys[i])}' data-ref='{e(data.keys[j])}'>"
                      f"{_fmt(v)} <span class=note>[{_fmt(float(data.lo[i, j]))}, "
                      f"{_fmt(float(data.hi[i, j]))}] n={int(data.prompts[i, j])}</span></td>")
        rows.append(f"<tr><td class=l>{e(lab)}</td>{cells}</tr>")
    rows.append("</table>")
    return "\n".join(rows)


def _missing_table(res: MeasureResult, missing: list[MissingMode]) -> str:
    """Missing modes: per run the mean number of modes its matched texts lack beside the
    people's at the same n, then every (prompt, topic) the run never wrote about."""
    runs = [g for g in res.groups if g.run_id is not None]
    summary = [(g, res.cell(g.key, "topic", "missing_modes", g.key),
                res.cell("source", "topic", "missing_modes", g.key)) for g in runs]
    summary = [t for t in summary if t[1] is not None]
    if not summary and not missing:
        return ""
    e = html.escape
    lab = F.labels(res)
    share = f"{res.missing_share:.0%}"
    parts = [f"<h2 id=missing-modes>Missing modes</h2><p class=note>A mode is a source topic "
             f"holding ≥ {share} of a prompt's human texts. Below: the modes a run's texts "
             "lack, first on average at the run's n beside people at the same n (random "
             "human subsets of that size, modes taken from the other human texts), then "
             "every topic of a prompt that none of the run's texts is about (share = the "
             "topic's share of the prompt's human texts).</p>"]
    if summary:
        parts.append("<table class=missing-summary><tr><th class=l>run</th><th>prompts</th>"
                     "<th>n/prompt</th><th>modes missed by the run</th><th>by people at that "
                     "n</th></tr>")
        for g, a, b in summary:
            assert a is not None
            parts.append(f"<tr><td class=l>{e(lab[g.key])}</td><td>{_fmt(a['prompts'])}</td>"
                         f"<td>{_fmt(a['n'])}</td><td>{_cell(a)}</td><td>{_cell(b)}</td></tr>")
        parts.append("</table>")
    if missing:
        titles = {p["key"]: p["title"] for p in res.prompts}
        parts.append("<table class=missing><tr><th class=l>run</th><th class=l>prompt</th>"
                     "<th class=l>title</th><th class=l>topic</th><th class=l>topic words</th>"
                     "<th>share of human texts</th><th>human texts</th></tr>")
        for m in missing[:MAX_PROMPT_ROWS]:
            parts.append(f"<tr><td class=l>{e(lab.get(m.run_key, m.run_key))}</td>"
                         f"<td class=l>{e(m.prompt)}</td>"
                         f"<td class=l>{e(str(titles.get(m.prompt, '')))}</td>"
                         f"<td class=l>{e(m.topic)}</td><td class=l>{e(m.label)}</td>"
                         f"<td>{m.share:.1%}</td><td>{m.n_source}</td></tr>")
        parts.append("</table>")
        if len(missing) > MAX_PROMPT_ROWS:
            parts.append(f"<p class=note>First {MAX_PROMPT_ROWS} of {len(missing)} rows; all "
                         "are in measure.json (<code>stat = missing_mode:&lt;topic&gt;</code>)."
                         "</p>")
    return "\n".join(parts)
