"""Sweep: a dispersion metric vs a run parameter (temperature by default, one line per
(model, top-p)), the source as a band.

*Along* picks the parameter: any that varies over the dataset's runs — temperature, top-p,
top-k, min-p, verbalized sampling's answers per call, the system prompt or the template (the
last two as categories); the runs' other varying parameters make the lines.

Each point is one run (the stored aggregate: mean of the per-prompt metric over the run's
prompts, with its 95 % bootstrap interval as an error bar). The source is measured on the
same prompts at the same n as each run: one grey band (and dashed mean) when that is the same
for every run, else a grey source marker beside each point. For a monoculture index the dashed
line is 1 (as varied as people) and the grey band / bars are the range of indices people score
against themselves at the runs' n. Clicking a point emits `run_activated(run_id)`; the window
opens that run in Compare.

Embedding::

    view = SweepView(runner=window.runner)
    view.set_study(study, dataset_id)      # None: the study's first dataset
    view.run_activated.connect(window.open_run)
    view.set_metric("sentiment.entropy")
    view.export("sweep.svg")

All queries run in a worker (`TaskRunner`); the widget only draws.
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

from monoscope.core.explore.compare_data import SweepData, compute_sweep
from monoscope.core.explore.figure_data import METRICS, SOURCE, SWEEP_PARAMETERS
from monoscope.core.store import Study
from monoscope.ui.loaders import figure_task
from monoscope.ui.views.figure_common import (
    RUN_COLORS,
    FigureViewMixin,
    group_color,
    line_plot,
    plain_axis,
)
from monoscope.ui.workers import TaskRunner

NO_DATA = "Open a study with runs at several temperatures."


class SweepView(FigureViewMixin, QWidget):
    """Metric vs a run parameter (temperature, min-p, …) with the source band; see the module
    docstring."""

    task_key = "sweep"

    run_activated = Signal(int)
    loaded = Signal()

    def __init__(self, study: Study | None = None, runner: TaskRunner | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner or TaskRunner(self)
        self.study: Study | None = None
        self.dataset_id: int | None = None  # None: the study's first
        self.data: SweepData | None = None
        self.scatters: dict[str, pg.ScatterPlotItem] = {}
        self.source_items: list[Any] = []

        self.metric_box = QComboBox()
        for key, label in METRICS.items():
            self.metric_box.addItem(label, key)
        self.metric_box.setCurrentIndex(self.metric_box.findData("sentiment.entropy"))
        self.metric_box.currentIndexChanged.connect(lambda _i: self.refresh())
        self.along_box = QComboBox()
        self.along_box.addItem(SWEEP_PARAMETERS["temperature"], "temperature")
        self.along_box.currentIndexChanged.connect(lambda _i: self._redraw())
        export_btn = QPushButton("Export…")
        export_btn.clicked.connect(self._export_clicked)
        self.status = QLabel()
        self.caption = QLabel("")
        self.caption.setWordWrap(True)
        self.caption.setStyleSheet("color: #555;")
        top = QHBoxLayout()
        top.addWidget(QLabel("Metric"))
        top.addWidget(self.metric_box)
        top.addWidget(QLabel("Along"))
        top.addWidget(self.along_box)
        top.addWidget(self.status, 1)
        top.addWidget(export_btn)

        self.canvas, self.plot, self.legend = line_plot("temperature")
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.caption)
        lay.addWidget(self.canvas, 1)
        if study is not None:
            self.set_study(study)

    def set_study(self, study: Study | None, dataset_id: int | None = None) -> None:
        """Show a study (None clears); its first dataset unless one is given."""
        self.study = study
        self.dataset_id = dataset_id
        self.refresh()

    def set_metric(self, metric: str) -> None:
        self.metric_box.setCurrentIndex(self.metric_box.findData(metric))

    @property
    def along(self) -> str:
        """The run parameter on the x axis."""
        return str(self.along_box.currentData() or "temperature")

    def set_along(self, name: str) -> None:
        """Plot along a run parameter (one of the offered ones, see `along_box`)."""
        i = self.along_box.findData(name)
        if i >= 0:
            self.along_box.setCurrentIndex(i)

    def _offer_parameters(self, data: SweepData) -> None:
        """The Along choices: temperature and every parameter that varies over the runs."""
        names = ["temperature", *[n for n in data.parameters() if n != "temperature"]]
        current = self.along
        self.along_box.blockSignals(True)
        self.along_box.clear()
        for n in names:
            self.along_box.addItem(SWEEP_PARAMETERS[n], n)
        self.along_box.setCurrentIndex(max(0, self.along_box.findData(current)))
        self.along_box.blockSignals(False)

    def _redraw(self) -> None:
        if self.data is not None:
            self._show(self.data)

    def load_task(self) -> tuple[Any, Any]:
        return figure_task(compute_sweep), (self.study, self.dataset_id,
                                            str(self.metric_box.currentData()))

    def show_empty(self) -> None:
        self.status.setText(NO_DATA)

    def show_data(self, data: SweepData | None) -> None:
        self._show(data)

    def _show(self, data: SweepData | None) -> None:
        if data is None:
            self.status.setText(NO_DATA)
            return
        self.data = data
        self._offer_parameters(data)
        along = self.along
        self.plot.setLabel("bottom", SWEEP_PARAMETERS[along])
        cats = data.categories(along)
        self.plot.getAxis("bottom").setTicks(
            None if cats is None else [[(float(i), c) for i, c in enumerate(cats)]])
        self.plot.clear()
        self.scatters.clear()
        self.source_items = []
        legend = self.legend
        legend.clear()
        self.plot.setLabel("left", data.label)
        plain_axis(self.plot.getAxis("left"))
        is_index = data.metric.endswith(".index")
        grey = group_color(SOURCE)[:3]
        dash = pg.mkPen(grey, width=2, style=pg.QtCore.Qt.PenStyle.DashLine)
        mean, lo, hi = data.source
        lines = data.lines(along)
        dodge = self._dodge(lines)
        all_y: list[float] = []
        if is_index:
            self.plot.addItem(pg.InfiniteLine(1.0, angle=0, pen=dash))
            legend.addItem(pg.PlotDataItem(pen=dash), "1 = as varied as people")
            all_y.append(1.0)
        if not math.isnan(lo) and not math.isnan(hi) and (is_index or not data.source_varies):
            band = pg.LinearRegionItem((lo, hi), orientation="horizontal", movable=False,
                                       brush=pg.mkBrush(group_color(SOURCE, 50)),
                                       pen=pg.mkPen(group_color(SOURCE, 110)))
            self.plot.addItem(band)
            self.source_items.append(band)
            all_y += [lo, hi]
            if is_index:
                legend.addItem(pg.PlotDataItem(pen=pg.mkPen(grey, width=8)),
                               f"people vs themselves at the runs' n: {lo:.2f}–{hi:.2f}")
            else:
                self.plot.addItem(pg.InfiniteLine(mean, angle=0, pen=dash))
                legend.addItem(pg.PlotDataItem(pen=dash),
                               f"source on the runs' prompts and n: {mean:.3f} "
                               f"[{lo:.3f}, {hi:.3f}]")
        if data.source_varies:
            # one source (or human range) per run: grey bars beside each point
            pts_all = [p for ps in lines.values() for p in ps]
            xs = np.array([self._x(p) + dodge.get(p.group.key, 0.0)
                           + self._step(lines) * 0.5 for p in pts_all], dtype=float)
            if is_index:  # the stored baseline (≈ 1) with the people's range
                ys = np.array([p.source[0] for p in pts_all])
                los = np.array([p.human[0] for p in pts_all])
                his = np.array([p.human[1] for p in pts_all])
                name = "people vs themselves, per run"
            else:
                ys = np.array([p.source[0] for p in pts_all])
                los = np.array([p.source[1] for p in pts_all])
                his = np.array([p.source[2] for p in pts_all])
                name = "source on each run's prompts and n"
            ok = np.isfinite(ys) & np.isfinite(los) & np.isfinite(his)
            if ok.any():
                bars = pg.ErrorBarItem(x=xs[ok], y=ys[ok], top=his[ok] - ys[ok],
                                       bottom=ys[ok] - los[ok], beam=0.02,
                                       pen=pg.mkPen(grey, width=3))
                marks = pg.ScatterPlotItem(xs[ok], ys[ok], size=8, symbol="s",
                                           pen=pg.mkPen(grey), brush=pg.mkBrush(*grey, 160))
                self.plot.addItem(bars)
                self.plot.addItem(marks)
                self.source_items += [bars, marks]
                legend.addItem(marks, name)
                all_y += [float(v) for v in los[ok]] + [float(v) for v in his[ok]]
        for i, (name, pts) in enumerate(lines.items()):
            color = RUN_COLORS[i % len(RUN_COLORS)]
            # lines sharing an x sit side by side (dodged), so their bars stay apart
            x = np.array([self._x(p) + dodge.get(p.group.key, 0.0) for p in pts], dtype=float)
            y = np.array([p.mean for p in pts])
            runs = ", ".join(f"#{p.group.run_id}" for p in pts)
            curve = pg.PlotDataItem(x, y, pen=pg.mkPen(color, width=2), symbol="o", symbolSize=10,
                                    symbolBrush=pg.mkBrush(color))
            self.plot.addItem(curve)
            legend.addItem(curve, f"{name} (run{'s' if len(pts) > 1 else ''} {runs})")
            err_lo = np.array([p.mean - p.lo for p in pts])
            err_hi = np.array([p.hi - p.mean for p in pts])
            self.plot.addItem(pg.ErrorBarItem(x=x, y=y, top=err_hi, bottom=err_lo,
                                              beam=min(0.03, 0.8 * self._step(lines)),
                                              pen=pg.mkPen(color, width=1)))
            scatter = pg.ScatterPlotItem(x, y, size=16, pen=None, brush=pg.mkBrush(0, 0, 0, 0),
                                         data=[p.group.run_id for p in pts], hoverable=True,
                                         tip=self._tip)
            scatter.setZValue(20)  # above the lines and bars, so clicks land on it
            scatter.sigClicked.connect(self._point_clicked)
            self.plot.addItem(scatter)
            self.scatters[name] = scatter
            all_y += [p.lo for p in pts] + [p.hi for p in pts] + [p.mean for p in pts]
        xs_all = [self._x(p) for ps in lines.values() for p in ps]
        if xs_all:
            pad = 0.1 if cats is None else 0.5
            self.plot.setXRange(min(xs_all) - pad, max(xs_all) + pad, padding=0)
        finite = [v for v in all_y if not math.isnan(v)]
        if finite:
            span = max(finite) - min(finite) or 0.1
            self.plot.setYRange(min(finite) - 0.1 * span, max(finite) + 0.1 * span, padding=0)
        n_runs = sum(len(p) for p in lines.values())
        self.caption.setText(self.caption_text())
        self.status.setText(f"{n_runs} runs; click a point to open its run in Compare."
                            if n_runs else "No runs with this metric yet: annotate the study first.")
        self.loaded.emit()

    def _tip(self, x: float, y: float, data: Any) -> str:
        p = next((q for q in (self.data.points if self.data else [])
                  if q.group.run_id == data), None)
        if p is None:
            return f"run #{data}  {x:g}  {y:.3f}"
        v = p.group.parameter(self.along)
        shown = f"{v:g}" if isinstance(v, float) else str(v)
        out = (f"run {p.group.display}\n{SWEEP_PARAMETERS[self.along]} = {shown}: "
               f"{p.mean:.3f} "
               f"[{p.lo:.3f}, {p.hi:.3f}]"
               f"\n{p.prompts} prompts, n = {p.n} texts per prompt")
        if self.data is not None and self.data.metric.endswith(".index"):
            out += f"\npeople vs themselves: {p.human[0]:.2f}–{p.human[1]:.2f}"
            if p.hi < 1.0 or p.lo > 1.0:
                out += "\nthe CI excludes 1"
        elif math.isfinite(p.source[0]):
            out += f"\nsource on these prompts at this n: {p.source[0]:.3f}"
        return out

    def _x(self, p: Any) -> float:
        return (self.data.x(p, self.along) if self.data is not None else None) or 0.0

    def _step(self, lines: dict[str, list[Any]]) -> float:
        xs = [self._x(p) for ps in lines.values() for p in ps]
        span = (max(xs) - min(xs)) if xs else 0.0
        return 0.015 * max(span, 0.4)

    def _dodge(self, lines: dict[str, list[Any]]) -> dict[str, float]:
        """x offset per run: lines side by side around each temperature."""
        k = len(lines)
        step = self._step(lines)
        return {p.group.key: (i - (k - 1) / 2) * step
                for i, pts in enumerate(lines.values()) for p in pts}

    def caption_text(self) -> str:
        """Prompts and n behind the points (and so behind the matched source)."""
        data = self.data
        if data is None or not data.points:
            return ""
        shown = [p for ps in data.lines(self.along).values() for p in ps]
        if not shown:
            return ""
        prompts = sorted({p.prompts for p in shown})
        ns = sorted({p.n for p in shown if p.n is not None})

        def span(v: list[int]) -> str:
            return "?" if not v else f"{v[0]}" if len(v) == 1 else f"{v[0]}–{v[-1]}"

        text = (f"Each run over its {span(prompts)} prompts at n = {span(ns)} texts per prompt "
                "(median); error bars: 95 % CI over prompts. ")
        if data.metric.endswith(".index"):
            text += ("Grey: the index people score against themselves on the same prompts at "
                     "the same n.")
        elif data.source_varies:
            text += "Grey: the source on each run's own prompts at that run's n."
        else:
            text += "Grey band: the source on the same prompts at the same n (95 % CI)."
        return text

    def _point_clicked(self, _item: Any, points: Any, *_: Any) -> None:
        if len(points):
            self.run_activated.emit(int(points[0].data()))

