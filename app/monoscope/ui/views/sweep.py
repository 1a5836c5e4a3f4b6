"""Sweep: a dispersion metric vs temperature, one line per (model, top-p), the source as a band.

Each point is one run (mean of the per-prompt metric, with a 95 % bootstrap interval as an
error bar); the grey band is the source mean's interval and the dashed line its mean. Clicking
a point emits `run_activated(run_id)` so the window can open that run.

Embedding (UI-1)::

    view = SweepView(runner=window.runner)
    view.set_study(study, dataset_id)
    view.run_activated.connect(window.show_run)
    view.set_metric("sentiment.entropy")
    view.export("sweep.svg")
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from monoscope.core.compare_data import SweepData, compute_sweep
from monoscope.core.figure_data import METRICS, SOURCE, dataset_ids
from monoscope.core.store import Study
from monoscope.ui.views.figure_common import (
    RUN_COLORS,
    FigureViewMixin,
    group_color,
)
from monoscope.ui.workers import TaskRunner


class SweepView(FigureViewMixin, QWidget):
    """Metric vs temperature per top-p with the source band; see the module docstring."""

    task_key = "sweep"

    run_activated = Signal(int)
    loaded = Signal()

    def __init__(self, study: Study | None = None, runner: TaskRunner | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner or TaskRunner(self)
        self.study: Study | None = None
        self.dataset_id: int | None = None
        self.data: SweepData | None = None
        self.scatters: dict[str, pg.ScatterPlotItem] = {}

        self.metric_box = QComboBox()
        for key, label in METRICS.items():
            self.metric_box.addItem(label, key)
        self.metric_box.setCurrentIndex(self.metric_box.findData("sentiment.entropy"))
        self.metric_box.currentIndexChanged.connect(lambda _i: self.refresh())
        export_btn = QPushButton("Export…")
        export_btn.clicked.connect(self._export_clicked)
        self.status = QLabel()
        top = QHBoxLayout()
        top.addWidget(QLabel("Metric"))
        top.addWidget(self.metric_box)
        top.addWidget(self.status, 1)
        top.addWidget(export_btn)

        self.canvas = pg.PlotWidget(background="w")
        self.plot: pg.PlotItem = self.canvas.getPlotItem()
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.setLabel("bottom", "temperature")
        self.legend = self.plot.addLegend(offset=(-10, 10))
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.canvas, 1)
        if study is not None:
            self.set_study(study)

    def set_study(self, study: Study | None, dataset_id: int | None = None) -> None:
        self.study = study
        ids = [d[0] for d in dataset_ids(study)] if study is not None else []
        self.dataset_id = dataset_id if dataset_id is not None else (ids[0] if ids else None)
        self.refresh()

    def set_metric(self, metric: str) -> None:
        self.metric_box.setCurrentIndex(self.metric_box.findData(metric))

    def refresh(self) -> None:
        if self.study is None or self.dataset_id is None:
            self.status.setText("Open a study with runs at several temperatures.")
            return
        self.status.setText("Loading…")
        job = self.runner.submit("sweep", compute_sweep,
                                 (self.study, self.dataset_id, str(self.metric_box.currentData())))
        job.finished.connect(self._show)
        job.failed.connect(self.status.setText)

    def _show(self, data: SweepData) -> None:
        self.data = data
        self.plot.clear()
        self.scatters.clear()
        legend = self.legend
        legend.clear()
        self.plot.setLabel("left", data.label)
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        mean, lo, hi = data.source
        if not math.isnan(mean):
            band = pg.LinearRegionItem((lo, hi), orientation="horizontal", movable=False,
                                       brush=pg.mkBrush(group_color(SOURCE, 60)),
                                       pen=pg.mkPen(group_color(SOURCE, 120)))
            self.plot.addItem(band)
            line = pg.InfiniteLine(mean, angle=0, pen=pg.mkPen(group_color(SOURCE)[:3], width=2,
                                                              style=pg.QtCore.Qt.PenStyle.DashLine))
            self.plot.addItem(line)
            legend.addItem(pg.PlotDataItem(pen=pg.mkPen(group_color(SOURCE)[:3], width=2)),
                           f"source {mean:.3f} [{lo:.3f}, {hi:.3f}]")
        lines = data.lines()
        all_y: list[float] = [v for v in (mean, lo, hi) if not math.isnan(v)]
        for i, (name, pts) in enumerate(lines.items()):
            color = RUN_COLORS[i % len(RUN_COLORS)]
            x = np.array([p.group.temperature for p in pts], dtype=float)
            y = np.array([p.mean for p in pts])
            curve = pg.PlotDataItem(x, y, pen=pg.mkPen(color, width=2), symbol="o", symbolSize=10,
                                    symbolBrush=pg.mkBrush(color), name=name)
            self.plot.addItem(curve)
            err_lo = np.array([p.mean - p.lo for p in pts])
            err_hi = np.array([p.hi - p.mean for p in pts])
            self.plot.addItem(pg.ErrorBarItem(x=x, y=y, top=err_hi, bottom=err_lo, beam=0.03,
                                              pen=pg.mkPen(color, width=1)))
            scatter = pg.ScatterPlotItem(x, y, size=14, pen=None, brush=pg.mkBrush(0, 0, 0, 0),
                                         data=[p.group.run_id for p in pts], hoverable=True,
                                         tip=lambda x, y, data: f"run #{data}  T={x:g}  {y:.3f}")
            scatter.sigClicked.connect(self._point_clicked)
            self.plot.addItem(scatter)
            self.scatters[name] = scatter
            all_y += [p.lo for p in pts] + [p.hi for p in pts]
        temps = [p.group.temperature for ps in lines.values() for p in ps]
        if temps:
            self.plot.setXRange(min(temps) - 0.1, max(temps) + 0.1, padding=0)
        finite = [v for v in all_y if not math.isnan(v)]
        if finite:
            span = max(finite) - min(finite) or 0.1
            self.plot.setYRange(min(finite) - 0.1 * span, max(finite) + 0.1 * span, padding=0)
        n_runs = sum(len(p) for p in lines.values())
        self.status.setText(f"{n_runs} runs; click a point to open its run."
                            if n_runs else "No runs with this metric yet: annotate the study first.")
        self.loaded.emit()

    def _point_clicked(self, _item: Any, points: Any, *_: Any) -> None:
        if len(points):
            self.run_activated.emit(int(points[0].data()))

