"""Accumulation: how an attribute's dispersion grows with the number of texts, per group.

For the current prompt, or pooled over the prompts of each run ("all prompts of each run"),
the stored accumulation curves (`monoscope.core.analysis.measure`, rows ref 'acc' / 'acc:run:<id>'):
dispersion at n = 2, 3, … up to the group's size, with the 95 % band (per prompt: the range
over subsample draws; pooled: the bootstrap CI over prompts). The source is grey, each run its
colour; pooled, the source is drawn once per run, on that run's prompts (dashed, the run's
colour at the edge) so each run is read against the people of its own prompts. The slope is
what Moon et al. (2025) call the diversity growth rate.

Embedding::

    view = AccumulationView(runner=window.runner, state=window.state)
    view.set_study(study, dataset_id)  # None: the study's first dataset
    view.set_prompt("film-001")        # the prompt the "current prompt" scope shows
    view.set_scope(pooled=True)
    view.export("accumulation.svg")

With an `ExplorerState`, the "current prompt" follows the prompt chosen in the explorer. All
queries run in a worker (`TaskRunner`); the widget only draws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from monoscope.core.explore.compare_data import AccumulationData, Curve, compute_accumulation
from monoscope.core.explore.figure_data import SOURCE, default_dataset
from monoscope.core.explore.labels import attribute_label
from monoscope.core.explore.state import Change, ExplorerState
from monoscope.core.store import Study, catalog
from monoscope.core.tasks import TaskState
from monoscope.ui.loaders import measured_set
from monoscope.ui.views.figure_common import (
    FigureViewMixin,
    group_color,
    line_plot,
    plain_axis,
)
from monoscope.ui.workers import TaskRunner

PREFERRED = ("sentiment.head", "sentiment.vader", "embedding", "topic", "code.algorithms")
DISPERSION_LABEL = {"embedding": "1 − mean pairwise cosine", "topic": "topic entropy (bits)",
                    "text.words": "std of length (words)", "text.ttr": "std of type-token ratio",
                    "code.algorithms": "1 − mean pairwise Jaccard",
                    "code.data_structures": "1 − mean pairwise Jaccard"}


@dataclass
class AccumulationPayload:
    attributes: list[str]  # attributes with stored curves
    data: AccumulationData | None


def load_accumulation(request: tuple[Study, int | None, str | None, str | None],
                      state: TaskState) -> AccumulationPayload | None:
    """Task: the attributes with stored curves and the curves of one (chosen or default)
    attribute for one prompt (or pooled when the key is None) of a dataset (None: the study's
    first). Reads stored rows only (the set is measured first if it is missing or stale);
    None when the study has no dataset."""
    study, wanted, attribute, prompt_key = request
    dataset_id = default_dataset(study, wanted)
    if dataset_id is None:
        return None
    set_id = measured_set(study, dataset_id, state)
    names = catalog.accumulation_attributes(study, set_id)
    if not names:
        return AccumulationPayload([], None)
    attr = attribute if attribute in names else next(
        (a for a in PREFERRED if a in names), names[0])
    state.check()
    return AccumulationPayload(names, compute_accumulation(
        (study, dataset_id, attr, prompt_key), state))


NO_DATASET = "Open a study with a dataset to see accumulation curves."


class AccumulationView(FigureViewMixin, QWidget):
    """Dispersion against n per group; see the module docstring."""

    task_key = "accumulation"

    loaded = Signal()

    def __init__(self, study: Study | None = None, runner: TaskRunner | None = None,
                 parent: QWidget | None = None, state: ExplorerState | None = None) -> None:
        super().__init__(parent)
        self.runner = runner or TaskRunner(self)
        self.state = state
        self.study: Study | None = None
        self.dataset_id: int | None = None  # None: the study's first
        self.prompt_key: str | None = None
        self.data: AccumulationData | None = None
        self.curve_items: dict[str, pg.PlotDataItem] = {}

        self.attribute = QComboBox()
        self.attribute.setToolTip("Attribute whose dispersion is accumulated")
        self.attribute.currentIndexChanged.connect(lambda _i: self.refresh())
        self.scope = QComboBox()
        self.scope.addItem("all prompts of each run (pooled)", True)
        self.scope.addItem("current prompt", False)
        self.scope.setToolTip("Pooled: mean over the prompts a run covers (the source on the "
                              "same prompts); current prompt: the prompt chosen in the table")
        self.scope.currentIndexChanged.connect(lambda _i: self.refresh())
        export_btn = QPushButton("Export…")
        export_btn.clicked.connect(self._export_clicked)
        self.status = QLabel("Open a study to see accumulation curves.")
        top = QHBoxLayout()
        top.addWidget(QLabel("Attribute"))
        top.addWidget(self.attribute)
        top.addWidget(QLabel("Prompts"))
        top.addWidget(self.scope)
        top.addWidget(self.status, 1)
        top.addWidget(export_btn)
        self.caption = QLabel("")
        self.caption.setWordWrap(True)
        self.caption.setStyleSheet("color: #555;")

        self.canvas, self.plot, self.legend = line_plot("n (texts per prompt)")
        plain_axis(self.plot.getAxis("left"))
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.caption)
        lay.addWidget(self.canvas, 1)
        if state is not None:
            state.subscribe(self._state_changed)
        if study is not None:
            self.set_study(study)

    # -- inputs -----------------------------------------------------------------------------
    def _state_changed(self, change: Change) -> None:
        if "prompt" in change and change.now.prompt is not None:
            self.set_prompt(change.now.prompt)

    def showEvent(self, event: QShowEvent) -> None:
        """Brought to the front: take the explorer's prompt."""
        super().showEvent(event)
        if self.state is not None and not event.spontaneous():
            self.set_prompt(self.state.prompt)

    def set_study(self, study: Study | None, dataset_id: int | None = None) -> None:
        """Show a study (None clears); its first dataset unless one is given."""
        self.study = study
        self.dataset_id = dataset_id
        self.attribute.blockSignals(True)
        self.attribute.clear()
        self.attribute.blockSignals(False)
        if study is None:
            self._clear("Open a study to see accumulation curves.")
            return
        self.refresh()

    def set_prompt(self, key: str | None) -> None:
        """The prompt of the 'current prompt' scope (reloads only when that scope shows)."""
        if key == self.prompt_key:
            return
        self.prompt_key = key
        self.scope.setItemText(1, f"current prompt ({key})" if key else "current prompt")
        if not self.pooled():
            self.refresh()

    def set_scope(self, pooled: bool) -> None:
        self.scope.setCurrentIndex(0 if pooled else 1)

    def set_attribute(self, name: str) -> None:
        i = self.attribute.findData(name)
        if i >= 0:
            self.attribute.setCurrentIndex(i)

    def pooled(self) -> bool:
        return bool(self.scope.currentData()) or self.prompt_key is None

    def load_task(self) -> tuple[Any, Any]:
        key = None if self.pooled() else self.prompt_key
        return load_accumulation, (self.study, self.dataset_id, self.attribute.currentData(),
                                   key)

    def show_empty(self) -> None:
        self._clear(NO_DATASET)

    def show_data(self, data: Any) -> None:
        self._show(data)

    # -- drawing ----------------------------------------------------------------------------
    def _clear(self, message: str) -> None:
        self.data = None
        self.plot.clear()
        self.legend.clear()
        self.curve_items.clear()
        self.caption.setText("")
        self.status.setText(message)

    def _fill_attributes(self, names: list[str], current: str) -> None:
        self.attribute.blockSignals(True)
        self.attribute.clear()
        for n in names:
            self.attribute.addItem(attribute_label(n), n)
        self.attribute.setCurrentIndex(max(0, self.attribute.findData(current)))
        self.attribute.blockSignals(False)

    def _show(self, payload: AccumulationPayload | None) -> None:
        if payload is None:
            self._clear(NO_DATASET)
            return
        if payload.data is None:
            self._clear("No accumulation curves stored: measure the study (with curves) first.")
            return
        data = payload.data
        self._fill_attributes(payload.attributes, data.attribute)
        self._clear("")
        self.data = data
        self.plot.setLabel("left", f"dispersion: {DISPERSION_LABEL.get(data.attribute, 'entropy of labels (bits)')}")
        pooled = data.prompt_key is None
        all_y: list[float] = []
        for c in self.merged_curves():
            ok = np.isfinite(c.mean)
            if not ok.any():
                continue
            x, y = c.n[ok], c.mean[ok]
            lo = np.where(np.isfinite(c.lo[ok]), c.lo[ok], y)
            hi = np.where(np.isfinite(c.hi[ok]), c.hi[ok], y)
            is_src = c.group.key == SOURCE
            edge = group_color(c.against) if (is_src and c.against) else group_color(c.group.key)
            fill = group_color(SOURCE if is_src else c.group.key, 45)
            lower = pg.PlotDataItem(x, lo, pen=pg.mkPen(None))
            upper = pg.PlotDataItem(x, hi, pen=pg.mkPen(None))
            band = pg.FillBetweenItem(lower, upper, brush=pg.mkBrush(fill))
            self.plot.addItem(lower)
            self.plot.addItem(upper)
            self.plot.addItem(band)
            if is_src:
                pen = pg.mkPen(group_color(SOURCE)[:3], width=2,
                               style=Qt.PenStyle.DashLine if pooled else Qt.PenStyle.SolidLine)
                sym_brush = pg.mkBrush(*edge[:3])
            else:
                pen = pg.mkPen(edge[:3], width=2)
                sym_brush = pg.mkBrush(*edge[:3])
            item = pg.PlotDataItem(x, y, pen=pen, symbol="o", symbolSize=5,
                                   symbolPen=pg.mkPen(edge[:3]), symbolBrush=sym_brush)
            self.plot.addItem(item)
            name = self._legend_name(c)
            self.legend.addItem(item, name)
            self.curve_items[f"{c.group.key}|{c.against or ''}"] = item
            all_y += [float(v) for v in lo] + [float(v) for v in hi]
        self.plot.setLogMode(x=False, y=False)
        ns = [float(v) for c in data.curves for v in c.n if math.isfinite(v)]
        if ns:
            self.plot.setXRange(0, max(ns) * 1.03 + 1, padding=0)
        if all_y:
            top = max(all_y)
            self.plot.setYRange(min(0.0, min(all_y)), top * 1.08 if top > 0 else 1.0, padding=0)
        self.caption.setText(self.caption_text())
        n_curves = len(self.curve_items)
        self.status.setText(f"{n_curves} curves" if n_curves else
                            "No curves for this attribute and scope (a group needs ≥ 2 texts).")
        self.loaded.emit()

    def merged_curves(self) -> list[Curve]:
        """The curves to draw: pooled source curves that coincide (runs on the same prompts)
        are drawn once, labelled with every run they stand for."""
        if self.data is None:
            return []
        labels = {c.group.key: f"#{c.group.run_id}" for c in self.data.curves
                  if c.group.run_id is not None}
        out: list[Curve] = []
        merged_runs: dict[int, list[str]] = {}
        for c in self.data.curves:
            twin = next((i for i, o in enumerate(out) if c.group.key == SOURCE
                         and o.group.key == SOURCE and c.against is not None
                         and np.array_equal(o.n, c.n) and o.prompts == c.prompts
                         and np.allclose(o.mean, c.mean, equal_nan=True)), None)
            if twin is None:
                if c.group.key == SOURCE and c.against is not None:
                    merged_runs[len(out)] = [labels.get(c.against, c.against)]
                out.append(c)
                continue
            merged_runs[twin].append(labels.get(str(c.against), str(c.against)))
            runs = merged_runs[twin]
            out[twin] = replace(out[twin], label="source on the prompts of runs "
                                + ", ".join(runs), against=None)
        return out

    def _legend_name(self, c: Curve) -> str:
        n_max = int(np.nanmax(c.n)) if len(c.n) else 0
        if self.data is not None and self.data.prompt_key is None:
            prompts = max(c.prompts) if c.prompts else 0
            return f"{c.label} ({prompts} prompts, n ≤ {n_max})"
        return f"{c.label} (n = {n_max})"

    def caption_text(self) -> str:
        d = self.data
        if d is None:
            return ""
        if d.prompt_key is None:
            return ("Pooled: at each n, the mean over the prompts where both the run and the "
                    "source have at least n texts, with its 95 % bootstrap CI over prompts. "
                    "Dashed grey: the source on a run's prompts (markers in that run's colour; "
                    "one grey curve when runs share their prompts). A run below the grey curve "
                    "at the same n is narrower than people.")
        return (f"Prompt {d.prompt_key}: at each n, the mean dispersion over random subsets "
                "of n texts, with the 2.5–97.5 % range over those draws; grey = source.")

    def curve_groups(self) -> list[str]:
        """Keys of the drawn curves ('group|against'), for tests."""
        return list(self.curve_items)
