"""Likelihood: what the model would never say — its own log-probabilities of the human texts.

For one run whose model and template scored the texts (`monoscope score`): the prompt's map
coloured by the model's mean per-token log-probability of each text (a colour scale with its
legend; the run's samples as outlined markers over the people), the histograms of the human
texts' and the samples' log-probabilities with the stored measures in the caption (gap, share
of human texts below the samples' 5th percentile, the people's own range), the prompt's least
likely human texts, the dataset's prompts ranked by how improbable their human texts are, and
the sample tree of the run's samples of the prompt (shared openings merged, width = samples,
colour = entropy of the sampling distribution at each step).

Reads stored scores and measure rows in a worker (`load_likelihood`); computes no statistic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPen, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QGraphicsRectItem,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from monoscope.core.explore.figure_data import default_dataset
from monoscope.core.explore.labels import run_label
from monoscope.core.explore.likelihood import (
    LogprobPoints,
    PromptLikelihood,
    ScoredRun,
    map_logprob,
    prompt_likelihood,
    prompt_ranking,
    scored_runs,
)
from monoscope.core.explore.palette import run_colour
from monoscope.core.explore.sample_tree import SampleTree, sample_tree
from monoscope.core.explore.state import Change, ExplorerState
from monoscope.core.store import Study
from monoscope.core.tasks import TaskState
from monoscope.ui.loaders import measured_set
from monoscope.ui.views.figure_common import FigureViewMixin, legend_below
from monoscope.ui.workers import TaskRunner

LOGPROB_MAP = "viridis"  # low (dark purple) = improbable to the model, high (yellow) = likely
ENTROPY_MAP = "plasma"
TREE_DEPTH = 32  # tokens of the sample tree drawn


@dataclass
class LikelihoodPayload:
    runs: list[ScoredRun] = field(default_factory=list)
    run: ScoredRun | None = None
    prompt: PromptLikelihood | None = None
    ranking: list[dict[str, Any]] = field(default_factory=list)
    points: LogprobPoints | None = None
    tree: SampleTree | None = None
    message: str = ""


def load_likelihood(request: tuple[Study, int | None, str | None, int | None],
                    state: TaskState) -> LikelihoodPayload:
    """Task: the scored runs of the dataset and, for the chosen (or first) one, the prompt's
    scores, map, sample tree and the dataset's prompt ranking (stored rows only)."""
    study, wanted, prompt_key, run_id = request
    dataset_id = default_dataset(study, wanted)
    if dataset_id is None:
        return LikelihoodPayload(message="Open a study with a dataset.")
    runs = scored_runs(study, dataset_id)
    if not runs:
        return LikelihoodPayload(message="No scores yet: run `monoscope score STUDY` (the "
                                         "model's own log-probabilities of the human texts).")
    run = next((r for r in runs if r.run_id == run_id), runs[0])
    from monoscope.core.analysis.measure import stored

    set_id = measured_set(study, dataset_id, state)
    result = stored(study, dataset_id)
    state.check()
    out = LikelihoodPayload(runs, run, ranking=prompt_ranking(result, run) if result else [])
    if prompt_key is None:
        out.message = "Choose a prompt in the table to see its texts under the model."
        return out
    out.prompt = prompt_likelihood(study, dataset_id, prompt_key, run, result)
    out.points = map_logprob(study, dataset_id, prompt_key, run)
    out.tree = sample_tree(study, dataset_id, prompt_key, run.run_id, TREE_DEPTH)
    del set_id
    return out


def _fmt(v: Any, digits: int = 2) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{v:.{digits}f}"


class LikelihoodView(FigureViewMixin, QWidget):
    """See the module docstring."""

    task_key = "likelihood"
    prompt_activated = Signal(str)
    text_requested = Signal(int)
    loaded = Signal()

    def __init__(self, study: Study | None = None, runner: TaskRunner | None = None,
                 parent: QWidget | None = None, state: ExplorerState | None = None) -> None:
        super().__init__(parent)
        self.runner = runner or TaskRunner(self)
        self.state = state
        self.study: Study | None = None
        self.dataset_id: int | None = None
        self.prompt_key: str | None = None
        self.payload: LikelihoodPayload | None = None

        self.run_box = QComboBox()
        self.run_box.setToolTip("The run whose model and template scored the texts")
        self.run_box.currentIndexChanged.connect(lambda _i: self.refresh())
        self.status = QLabel("Open a study to see the model's own probabilities.")
        self.status.setWordWrap(True)
        export_btn = QPushButton("Export…")
        export_btn.clicked.connect(self._export_clicked)
        top = QHBoxLayout()
        top.addWidget(QLabel("Run"))
        top.addWidget(self.run_box)
        top.addWidget(self.status, 1)
        top.addWidget(export_btn)
        self.caption = QLabel("")
        self.caption.setWordWrap(True)
        self.caption.setTextFormat(Qt.TextFormat.RichText)

        canvas: Any = pg.GraphicsLayoutWidget()
        self.canvas = canvas
        canvas.setBackground("w")
        self.map_plot = canvas.addPlot(row=0, col=0)
        self.map_plot.setAspectLocked(True)
        self.map_plot.hideAxis("left")
        self.map_plot.hideAxis("bottom")
        self.map_plot.setTitle("log-probability map")
        self.cmap = pg.colormap.get(LOGPROB_MAP)
        self.colorbar = pg.ColorBarItem(values=(-8, -2), colorMap=self.cmap, interactive=False,
                                        label="mean log p per token (nats)")
        canvas.addItem(self.colorbar, row=0, col=1)
        self.people = pg.ScatterPlotItem(size=8, pen=pg.mkPen(80, 80, 80, 120))
        self.samples = pg.ScatterPlotItem(size=9, symbol="t")
        for it in (self.people, self.samples):
            self.map_plot.addItem(it)
        self.hist_plot = canvas.addPlot(row=1, col=0, colspan=2)
        self.hist_plot.setLabel("bottom", "mean log-probability per token (nats)")
        self.hist_plot.setLabel("left", "share of texts")
        self.hist_plot.getAxis("left").enableAutoSIPrefix(False)
        self.hist_legend = legend_below(canvas, row=2, colspan=2)  # off the histogram's data
        canvas.ci.layout.setRowStretchFactor(0, 3)
        canvas.ci.layout.setRowStretchFactor(1, 2)

        self.least = self._table(["log p/token", "tokens", "human text"])
        self.least.cellActivated.connect(self._least_activated)
        self.least.cellClicked.connect(self._least_activated)
        self.ranking = self._table(["prompt", "human", "samples", "gap", "below p5",
                                    "people"])
        self.ranking.cellActivated.connect(self._ranking_activated)
        self.tree_plot = pg.PlotWidget(background="w")
        self.tree_plot.setLabel("bottom", "token")
        self.tree_plot.setLabel("left", "samples")
        self.tree_plot.getViewBox().invertY(True)
        self.tree_bar = pg.ColorBarItem(values=(0, 3), colorMap=pg.colormap.get(ENTROPY_MAP),
                                        interactive=False, label="entropy (nats)")
        self.tree_bar.setImageItem(pg.ImageItem(), insert_in=self.tree_plot.getPlotItem())
        self.tree_caption = QLabel("")
        self.tree_caption.setWordWrap(True)
        tree_page = QWidget()
        tl = QVBoxLayout(tree_page)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addWidget(self.tree_caption)
        tl.addWidget(self.tree_plot, 1)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.least, "Least likely human texts")
        self.tabs.addTab(self.ranking, "Prompts by improbability")
        self.tabs.addTab(tree_page, "Sample tree")

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.canvas)
        split.addWidget(self.tabs)
        split.setSizes([560, 520])
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.caption)
        lay.addWidget(split, 1)
        if state is not None:
            state.subscribe(self._state_changed)
        if study is not None:
            self.set_study(study)

    @staticmethod
    def _table(headers: list[str]) -> QTableWidget:
        t = QTableWidget(0, len(headers))
        t.setHorizontalHeaderLabels(headers)
        t.verticalHeader().setVisible(False)
        t.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        t.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        t.horizontalHeader().setStretchLastSection(True)
        t.setWordWrap(True)
        return t

    # -- inputs -----------------------------------------------------------------------------
    def _state_changed(self, change: Change) -> None:
        if "prompt" in change.fields and change.now.prompt is not None:
            self.set_prompt(change.now.prompt)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self.state is not None and not event.spontaneous():
            self.set_prompt(self.state.prompt)

    def set_study(self, study: Study | None, dataset_id: int | None = None) -> None:
        self.study, self.dataset_id = study, dataset_id
        self.run_box.blockSignals(True)
        self.run_box.clear()
        self.run_box.blockSignals(False)
        if study is None:
            self._clear("Open a study to see the model's own probabilities.")
            return
        self.refresh()

    def set_prompt(self, key: str | None) -> None:
        if key == self.prompt_key:
            return
        self.prompt_key = key
        self.refresh()

    def refresh(self) -> None:
        if self.study is None or self.defer_while_hidden():
            return
        self.status.setText("Loading…")
        run = self.run_box.currentData()
        job = self.runner.submit(self.task_key, load_likelihood,
                                 (self.study, self.dataset_id, self.prompt_key,
                                  int(run) if run is not None else None))
        job.finished.connect(self._show)
        job.failed.connect(self.status.setText)

    # -- drawing ----------------------------------------------------------------------------
    def _clear(self, message: str) -> None:
        self.payload = None
        self.status.setText(message)
        self.caption.setText("")
        self.people.clear()
        self.samples.clear()
        self.hist_plot.clear()
        self.hist_legend.clear()
        self.least.setRowCount(0)
        self.ranking.setRowCount(0)
        self.tree_plot.clear()
        self.tree_caption.setText("")

    def _show(self, payload: LikelihoodPayload) -> None:
        self._clear(payload.message)
        self.payload = payload
        self.run_box.blockSignals(True)
        self.run_box.clear()
        for r in payload.runs:
            self.run_box.addItem(f"{run_label(r.run_id, r.label)} ({r.model})", r.run_id)
        if payload.run is not None:
            self.run_box.setCurrentIndex(self.run_box.findData(payload.run.run_id))
        self.run_box.blockSignals(False)
        self._draw_ranking(payload.ranking)
        p = payload.prompt
        if p is not None:
            self.status.setText(f"{p.prompt_key}: {p.human.size} human texts, "
                                f"{p.sample_ids.size} samples scored by {p.run.model}")
            self._draw_map(payload.points, p)
            self._draw_hist(p)
            self._draw_least(p)
            self.caption.setText(self._caption(p))
        self._draw_tree(payload.tree)
        self.loaded.emit()

    def _caption(self, p: PromptLikelihood) -> str:
        m = p.measures
        gap, share = m.get("run:gap"), m.get("run:share_below_p5")
        pg_, ps = m.get("source:gap"), m.get("source:share_below_p5")
        parts = [f"Human texts {_fmt((m.get('source:mean_logprob') or {}).get('value'))} vs "
                 f"samples {_fmt((m.get('run:mean_logprob') or {}).get('value'))} nats/token"]
        if gap:
            rng = (f" (people vs people {_fmt(pg_['lo'])} … {_fmt(pg_['hi'])})"
                   if pg_ and pg_.get("lo") is not None else "")
            parts.append(f"gap <b>{_fmt(gap['value'])}</b>{rng}")
        if share:
            rng = (f" (people {_fmt(100 * ps['lo'], 0)}–{_fmt(100 * ps['hi'], 0)} %)"
                   if ps and ps.get("lo") is not None else "")
            parts.append(f"<b>{_fmt(100 * share['value'], 0)} %</b> of the human texts below "
                         f"the samples' 5th percentile{rng}")
        return " · ".join(parts)

    def _draw_map(self, data: LogprobPoints | None, p: PromptLikelihood) -> None:
        if data is None:
            self.map_plot.setTitle("no map for this prompt yet (monoscope project)")
            return
        pts, lp = data.points, data.logprob
        finite = lp[np.isfinite(lp)]
        lo, hi = ((float(np.percentile(finite, 2)), float(np.percentile(finite, 98)))
                  if finite.size else (-8.0, -2.0))
        if hi <= lo:
            hi = lo + 1.0
        self.colorbar.setLevels((lo, hi))
        t = np.clip((lp - lo) / (hi - lo), 0, 1)
        lut = self.cmap.map(np.nan_to_num(t, nan=0.0), mode="byte")
        brushes = [pg.mkBrush(*c[:3], 230) if np.isfinite(v) else pg.mkBrush(200, 200, 200, 120)
                   for c, v in zip(lut, lp, strict=True)]
        src = pts.is_source
        own = pts.run_id == p.run.run_id
        self.people.setData(pts.x[src], pts.y[src], brush=[b for b, s in zip(brushes, src,
                                                                              strict=True) if s],
                            data=pts.text_id[src])
        colour = run_colour(p.run.run_id)
        self.samples.setData(pts.x[own], pts.y[own],
                             brush=[b for b, s in zip(brushes, own, strict=True) if s],
                             pen=pg.mkPen(*colour, width=1.6), data=pts.text_id[own])
        self.map_plot.setTitle(f"{p.prompt_key}: people ● and samples ▲")

    def _draw_hist(self, p: PromptLikelihood) -> None:
        both = np.concatenate([p.human, p.samples])
        if both.size == 0:
            return
        edges = np.linspace(float(both.min()), float(both.max()) + 1e-9, 21)
        colour = run_colour(p.run.run_id)
        for vals, name, pen, brush in (
                (p.human, "human texts", pg.mkPen(90, 90, 90, width=2), (140, 140, 140, 90)),
                (p.samples, f"{run_label(p.run.run_id, p.run.label)} samples", pg.mkPen(*colour, width=2),
                 (*colour, 70))):
            if vals.size == 0:
                continue
            counts, _ = np.histogram(vals, edges)
            item = self.hist_plot.plot(edges, counts / vals.size, stepMode="center", pen=pen,
                                       fillLevel=0, brush=brush)
            self.hist_legend.addItem(item, name)
        cut = p.measures.get("run:p5")
        if cut and cut.get("value") is not None:
            line = pg.InfiniteLine(float(cut["value"]), angle=90,
                                   pen=pg.mkPen(*colour, style=Qt.PenStyle.DashLine),
                                   label="samples' 5th pct", labelOpts={"position": 0.9})
            self.hist_plot.addItem(line)

    def _draw_least(self, p: PromptLikelihood) -> None:
        self.least.setRowCount(len(p.least_likely))
        for i, r in enumerate(p.least_likely):
            for j, v in enumerate((_fmt(r["mean_logprob"]), str(r["n_tokens"]), r["snippet"])):
                item = QTableWidgetItem(v)
                item.setData(Qt.ItemDataRole.UserRole, int(r["text_id"]))
                self.least.setItem(i, j, item)
        self.least.resizeRowsToContents()

    def _draw_ranking(self, rows: list[dict[str, Any]]) -> None:
        self.ranking.setRowCount(len(rows))
        for i, r in enumerate(rows):
            people = (f"{_fmt(100 * r['people_lo'], 0)}–{_fmt(100 * r['people_hi'], 0)} %"
                      if r.get("people_lo") is not None else "–")
            vals = (r["title"], _fmt(r["human"]), _fmt(r["samples"]), _fmt(r["gap"]),
                    f"{_fmt(100 * r['share'], 0)} %" if r.get("share") is not None else "–",
                    people)
            for j, v in enumerate(vals):
                item = QTableWidgetItem(v)
                item.setData(Qt.ItemDataRole.UserRole, r["prompt"])
                self.ranking.setItem(i, j, item)

    def _draw_tree(self, tree: SampleTree | None) -> None:
        self.tree_plot.clear()
        if tree is None:
            self.tree_caption.setText("No per-token record for this prompt and run (runs "
                                      "made before this version, or by an HTTP server).")
            return
        cmap = pg.colormap.get(ENTROPY_MAP)
        hi = max([max(n.entropies) for n in tree.nodes if n.entropies] + [1.0])
        self.tree_bar.setLevels((0.0, hi))
        for n in tree.nodes:
            w = min(len(n.tokens), max(0, TREE_DEPTH - n.depth))
            if w <= 0:
                continue
            for j in range(w):  # one cell per token, coloured by its entropy
                c = cmap.map(min(1.0, n.entropies[j] / hi), mode="qcolor")
                rect = QGraphicsRectItem(QRectF(n.depth + j, n.y0, 1.0, n.count))
                rect.setBrush(QBrush(c))
                rect.setPen(QPen(QColor(255, 255, 255), 0))
                self.tree_plot.addItem(rect)
            if n.count >= max(2, tree.n_samples // 8) or len(tree.nodes) <= 12:
                text = "".join(n.pieces[:w]).replace("\n", "⏎")
                # on a light box (dark cells stay legible); a deeper label covers the tail of
                # its parent's where they meet
                label = pg.TextItem(text[:60], color=(20, 20, 20), anchor=(0, 0.5),
                                    fill=pg.mkBrush(255, 255, 255, 215))
                label.setPos(n.depth + 0.1, n.y0 + n.count / 2)
                label.setZValue(10 + n.depth)
                self.tree_plot.addItem(label)
        self.tree_plot.setXRange(0, min(TREE_DEPTH, tree.depth) + 1)
        self.tree_plot.setYRange(0, tree.n_samples)
        k, c = tree.shared_prefix()
        prompts = (f" ({tree.prompts} prompt texts: personas)" if tree.prompts > 1 else "")
        shared = (f"{c} of {tree.n_samples} share the first {k} tokens" if k else
                  "no opening is shared by half of them")
        self.tree_caption.setText(
            f"{tree.n_samples} samples of {tree.prompt_key}{prompts}: {len(tree.roots)} "
            f"different first tokens; {shared}. Width = samples through a branch; colour = "
            "entropy of the sampling distribution at each token.")

    # -- clicks -----------------------------------------------------------------------------
    def _least_activated(self, row: int, _col: int) -> None:
        item = self.least.item(row, 0)
        if item is not None:
            self.text_requested.emit(int(item.data(Qt.ItemDataRole.UserRole)))

    def _ranking_activated(self, row: int, _col: int) -> None:
        item = self.ranking.item(row, 0)
        if item is not None:
            self.prompt_activated.emit(str(item.data(Qt.ItemDataRole.UserRole)))
