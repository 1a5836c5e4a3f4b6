"""Overview: the paper's Figure 1 analogues for a whole dataset, source vs every run.

Left: histogram of per-prompt share of positive sentiment in the paper's bins; right: the
spectrum of per-prompt mean pairwise similarity (embedding cosine, or algorithm-set Jaccard for
code datasets). Bars are grouped per bin (source grey, each run its colour) and show the share
of prompts. Clicking a bar lists its prompts below; activating one emits `prompt_activated`.
Every group is shown on the prompts the runs cover (the source restricted to them, so the
bars compare like with like); legends give prompts and texts per prompt; values are the
measure stage's stored per-prompt rows.

Embedding::

    view = OverviewView(runner=window.runner)       # or OverviewView() for its own runner
    view.set_study(study)                           # optional dataset_id=...
    view.prompt_activated.connect(window.show_prompt)
    view.export("fig.svg")                          # or the Export… button

All queries run in a worker (`TaskRunner`); the widget only draws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from monoscope.core.explore.figure_data import (
    OverviewData,
    PerPrompt,
    bin_prompts,
    compute_overview,
    dataset_ids,
)
from monoscope.core.store import Study
from monoscope.core.tasks import TaskState
from monoscope.ui.loaders import figure_task
from monoscope.ui.views.figure_common import (
    ClickableBars,
    FigureViewMixin,
    grouped_bars,
)
from monoscope.ui.workers import TaskRunner

NO_DATA = "Open a study with a dataset to see its overview."


def _bin_labels(edges: tuple[float, ...], first_closed: bool = True,
                compact: bool = False) -> list[str]:
    """'[0, 0.35]', '(0.35, 0.55]', …; ``compact`` for axis ticks under narrow bins:
    '[0,.35]', '(.35,.55]'."""
    def num(v: float) -> str:
        text = f"{v:g}"
        return text[1:] if compact and text.startswith("0.") else text

    sep = "," if compact else ", "
    labels = []
    for i in range(len(edges) - 1):
        left = "[" if (i == 0 and first_closed) else "("
        labels.append(f"{left}{num(edges[i])}{sep}{num(edges[i + 1])}]")
    return labels


@dataclass
class OverviewPayload:
    datasets: list[tuple[int, str, str]]  # (id, name, kind) for the picker
    data: OverviewData | None  # None: the study has no dataset


def load_overview(request: tuple[Study, int | None], state: TaskState) -> OverviewPayload:
    """Task: the study's datasets and the overview of one (None: the first)."""
    study, _dataset_id = request
    datasets = dataset_ids(study)
    state.check()
    return OverviewPayload(datasets, figure_task(compute_overview)(request, state))


class OverviewView(FigureViewMixin, QWidget):
    """Figure 1 analogues with clickable bars; see the module docstring for embedding."""

    task_key = "overview"

    prompt_activated = Signal(str)
    bar_selected = Signal(str, str, list)  # figure ('sentiment'|'similarity'), group, keys
    loaded = Signal()

    def __init__(self, study: Study | None = None, runner: TaskRunner | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner or TaskRunner(self)
        self.study: Study | None = None
        self.dataset_id: int | None = None  # the dataset asked for (None: the first)
        self.data: OverviewData | None = None
        self.bars: dict[str, list[ClickableBars]] = {}
        self._bins: dict[str, dict[str, list[list[str]]]] = {}

        self.dataset_box = QComboBox()
        self.dataset_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.dataset_box.currentIndexChanged.connect(self._dataset_changed)
        self.status = QLabel("Open a study to see its overview.")
        self.caption = QLabel("")
        self.caption.setWordWrap(True)
        self.caption.setStyleSheet("color: #555;")
        export_btn = QPushButton("Export…")
        export_btn.clicked.connect(self._export_clicked)
        top = QHBoxLayout()
        top.addWidget(QLabel("Dataset:"))
        top.addWidget(self.dataset_box)
        top.addWidget(self.status, 1)
        top.addWidget(export_btn)

        canvas = pg.GraphicsLayoutWidget()
        self.canvas = canvas
        canvas.setBackground("w")
        # the legend spans both figures above them (run labels with n are long)
        self.legend = pg.LegendItem(colCount=1, labelTextColor=(40, 40, 40))
        canvas.addItem(self.legend, row=0, col=0, colspan=2)
        self.sent_plot: pg.PlotItem = canvas.addPlot(row=1, col=0)
        self.sim_plot: pg.PlotItem = canvas.addPlot(row=1, col=1)
        for p in (self.sent_plot, self.sim_plot):
            p.setMouseEnabled(x=False, y=False)
            p.hideButtons()
            p.showGrid(y=True, alpha=0.2)
            p.setLabel("left", "share of prompts")
            p.getAxis("left").enableAutoSIPrefix(False)  # shares, not SI units

        self.list_title = QLabel("Click a bar to list its prompts.")
        self.prompt_list = QListWidget()
        self.prompt_list.itemActivated.connect(self._item_activated)
        self.prompt_list.itemClicked.connect(self._item_activated)
        bottom = QWidget()
        bl = QVBoxLayout(bottom)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.addWidget(self.list_title)
        bl.addWidget(self.prompt_list)

        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.canvas)
        split.addWidget(bottom)
        split.setStretchFactor(0, 4)
        split.setStretchFactor(1, 1)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.caption)
        lay.addWidget(split)
        if study is not None:
            self.set_study(study)

    # -- data -------------------------------------------------------------------------------
    def set_study(self, study: Study | None, dataset_id: int | None = None) -> None:
        """Show a study (None clears); the first dataset unless one is given."""
        self.study = study
        self.dataset_id = dataset_id
        self.dataset_box.blockSignals(True)
        self.dataset_box.clear()
        self.dataset_box.blockSignals(False)
        self.refresh()

    def _dataset_changed(self, _index: int) -> None:
        did = self.dataset_box.currentData()
        self.dataset_id = None if did is None else int(did)
        self.refresh()

    def load_task(self) -> tuple[Any, Any]:
        return load_overview, (self.study, self.dataset_id)

    def show_empty(self) -> None:
        self._clear(NO_DATA)

    def show_data(self, payload: OverviewPayload) -> None:
        self._fill_datasets(payload.datasets)
        if payload.data is None:
            self._clear(NO_DATA)
            return
        self._show(payload.data)

    def _fill_datasets(self, datasets: list[tuple[int, str, str]]) -> None:
        """The picker lists the study's datasets, the one shown current (without emitting)."""
        self.dataset_box.blockSignals(True)
        self.dataset_box.clear()
        for did, name, kind in datasets:
            self.dataset_box.addItem(f"{name} ({kind})", did)
        if self.dataset_id is not None:
            self.dataset_box.setCurrentIndex(max(0, self.dataset_box.findData(self.dataset_id)))
        self.dataset_box.blockSignals(False)

    def _clear(self, message: str) -> None:
        self.data = None
        for p in (self.sent_plot, self.sim_plot):
            for item in list(p.items):
                if isinstance(item, ClickableBars):
                    p.removeItem(item)
        self.legend.clear()
        self.bars.clear()
        self._bins.clear()
        self.status.setText(message)
        self.caption.setText("")

    # -- drawing ----------------------------------------------------------------------------
    def _show(self, data: OverviewData) -> None:
        self._clear("")
        self.data = data
        shown = data.present_groups()
        if not shown:
            self.status.setText(
                "No sentiment or embeddings yet: run Annotate (or `monoscope annotate`) first."
            )
        self._draw("sentiment", self.sent_plot, data.sentiment, data.sentiment_edges,
                   f"per-prompt share positive ({data.sentiment_attribute or 'no sentiment yet'})")
        self._draw("similarity", self.sim_plot, data.similarity, data.similarity_edges,
                   f"per-prompt {data.similarity_label}")
        for g in shown:
            item = next((b for b in self.bars.get("sentiment", []) + self.bars.get("similarity", [])
                         if b.group_key == g.key), None)
            if item is not None:
                self.legend.addItem(item, data.legend(g))
        self.caption.setText(self.caption_text())
        self.loaded.emit()

    def caption_text(self) -> str:
        """What the bars are computed on: the prompts the runs cover, n per group."""
        data = self.data
        if data is None:
            return ""
        runs = [g for g in data.present_groups() if g.run_id is not None]
        n_prompts = len(data.prompts)
        if not runs:
            return (f"Source only: {n_prompts} prompts (no run yet). Values are the stored "
                    "per-prompt measurements.")
        src = data.n_texts.get("source")
        per = f", all of its texts per prompt (median n = {src:g})" if src is not None \
            and math.isfinite(src) else ""
        return (f"Source restricted to the {n_prompts} prompts the runs cover{per}; each run on "
                "its own prompts and samples. Bars: share of each group's prompts per bin "
                "(per-prompt values from the stored measurements).")

    def _draw(self, fig: str, plot: pg.PlotItem, values: PerPrompt,
              edges: tuple[float, ...], title: str) -> None:
        assert self.data is not None
        keys = [g.key for g in self.data.groups if values.get(g.key)]
        heights: list[list[float]] = []
        self._bins[fig] = {}
        for key in keys:
            bins = bin_prompts(values[key], edges)
            self._bins[fig][key] = bins
            n = sum(len(b) for b in bins)
            heights.append([len(b) / n if n else 0.0 for b in bins])
        def clicked(group: str, bin_index: int) -> None:
            self._bar_clicked(fig, group, bin_index)

        self.bars[fig] = grouped_bars(plot, keys, heights, clicked)
        labels = _bin_labels(edges, compact=True)
        plot.getAxis("bottom").setTicks([list(enumerate(labels))])
        plot.setTitle(title, size="10pt")
        plot.setXRange(-0.6, len(labels) - 0.4, padding=0)
        top = max((max(h) for h in heights if h), default=1.0)
        plot.setYRange(0, max(0.05, top * 1.12), padding=0)

    def prompts_in(self, fig: str, group: str, bin_index: int) -> list[str]:
        """Prompt keys of one bar."""
        return list(self._bins.get(fig, {}).get(group, [[]] * (bin_index + 1))[bin_index])

    def _bar_clicked(self, fig: str, group: str, bin_index: int) -> None:
        keys = self.prompts_in(fig, group, bin_index)
        assert self.data is not None
        values = (self.data.sentiment if fig == "sentiment" else self.data.similarity)[group]
        edges = self.data.sentiment_edges if fig == "sentiment" else self.data.similarity_edges
        label = next((g.display for g in self.data.groups if g.key == group), group)
        self.list_title.setText(
            f"{len(keys)} prompts of {label} in {_bin_labels(edges)[bin_index]} ({fig}):"
        )
        self.prompt_list.clear()
        for k in keys:
            v = values.get(k, math.nan)
            item = QListWidgetItem(f"{k}    {v:.3f}")
            item.setData(Qt.ItemDataRole.UserRole, k)
            self.prompt_list.addItem(item)
        self.bar_selected.emit(fig, group, keys)

    def _item_activated(self, item: QListWidgetItem) -> None:
        self.prompt_activated.emit(str(item.data(Qt.ItemDataRole.UserRole)))

