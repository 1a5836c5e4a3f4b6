"""Shared pieces of the overview, compare and sweep figures: colours, clickable bars, export.

Colours: the source is a neutral grey, runs take the one palette by run id
(`monoscope.core.explore.palette`), so a run keeps its colour in every view and in the report.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QGraphicsView,
    QLabel,
    QMessageBox,
    QScrollArea,
    QWidget,
)

from monoscope.core.errors import MonoscopeError
from monoscope.core.explore import palette
from monoscope.core.store import Study
from monoscope.core.tasks import TaskState
from monoscope.ui.workers import Job, TaskRunner

SOURCE_COLOR = palette.SOURCE_LIGHT
RUN_COLORS = list(palette.RUN_COLOURS)


class ExportError(MonoscopeError):
    """A figure could not be written."""


def group_color(key: str, alpha: int = 255) -> tuple[int, int, int, int]:
    """Colour of a group key ('source' or 'run:<id>'), stable across views."""
    return (*palette.group_colour(key), alpha)


class ClickableBars(pg.BarGraphItem):  # type: ignore[misc]
    """A BarGraphItem that reports which bar (index) was clicked; ``group_key`` names the
    group its bars belong to ('source' or 'run:<id>')."""

    def __init__(self, on_click: Callable[[int], None], group_key: str = "", **opts: Any) -> None:
        super().__init__(**opts)
        self._on_click = on_click
        self.group_key = group_key
        self._x0 = np.asarray(opts["x0"], dtype=float)
        self._w = float(opts["width"])
        self._h = np.asarray(opts["height"], dtype=float)

    def bar_at(self, x: float, y: float) -> int | None:
        """Index of the bar containing the point in data coordinates (tiny bars stay clickable)."""
        for i, (x0, h) in enumerate(zip(self._x0, self._h, strict=True)):
            top = max(h, 0.02)
            if x0 <= x <= x0 + self._w and 0 <= y <= top:
                return i
        return None

    def mouseClickEvent(self, ev: Any) -> None:
        pos = ev.pos()
        idx = self.bar_at(pos.x(), pos.y())
        if idx is None:
            ev.ignore()
            return
        ev.accept()
        self._on_click(idx)

    def shape(self) -> Any:
        # Let clicks on near-zero bars land: pick within each bar's rectangle or a small stub.
        from PySide6.QtGui import QPainterPath

        path = QPainterPath()
        for x0, h in zip(self._x0, self._h, strict=True):
            path.addRect(x0, 0.0, self._w, max(h, 0.02))
        return path


def grouped_bars(
    plot: pg.PlotItem,
    group_keys: Sequence[str],
    heights: Sequence[Sequence[float]],
    on_click: Callable[[str, int], None],
    width: float = 0.8,
) -> list[ClickableBars]:
    """Draw one bar per (bin, group) side by side within each bin; returns the bar items."""
    n = max(1, len(group_keys))
    bar_w = width / n
    items = []
    for gi, (key, hs) in enumerate(zip(group_keys, heights, strict=True)):
        x0 = np.arange(len(hs)) - width / 2 + gi * bar_w
        color = group_color(key, 220)
        item = ClickableBars(
            functools.partial(on_click, key), key, x0=x0, width=bar_w, height=np.asarray(hs),
            brush=pg.mkBrush(color), pen=pg.mkPen(color[:3], width=1),
        )
        plot.addItem(item)
        items.append(item)
    return items


def plain_axis(axis: Any) -> None:
    """No SI-prefix scaling on an axis (shares and indices are not physical units).

    pyqtgraph's `enableAutoSIPrefix(False)` still computes a prefix from the current range and
    keeps it: called while the range is below 1, the axis stays scaled by 1000 for good."""
    axis.autoSIPrefix = False
    axis.autoSIPrefixScale = 1.0
    axis.labelUnitPrefix = ""
    axis._updateLabel()
    axis.picture = None
    axis.update()


def export_view(view: QGraphicsView, path: str | Path, scale: float = 2.0) -> Path:
    """Write what a graphics view shows to PNG (scaled up) or SVG, chosen by extension.

    SVG goes through QSvgGenerator directly: pyqtgraph's SVGExporter fails on the path data
    that Qt 6.11 writes.
    """
    from PySide6.QtCore import QRectF, QSize
    from PySide6.QtGui import QImage, QPainter

    out = Path(path)
    suffix = out.suffix.lower()
    if suffix not in (".png", ".svg", ".jpg", ".jpeg"):
        raise ExportError(f"Cannot export to {out.name}: use a .png or .svg file name.")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"Could not create {out.parent}: {exc.strerror}.") from None
    vp = view.viewport().rect()
    source = view.mapToScene(vp).boundingRect()
    w, h = max(1, vp.width()), max(1, vp.height())
    if suffix == ".svg":
        from PySide6.QtSvg import QSvgGenerator

        gen = QSvgGenerator()
        gen.setFileName(str(out))
        gen.setSize(QSize(w, h))
        gen.setViewBox(QRectF(0, 0, w, h))
        gen.setTitle(out.stem)
        painter = QPainter(gen)
        view.scene().render(painter, QRectF(0, 0, w, h), source)
        painter.end()
    else:
        img = QImage(int(w * scale), int(h * scale), QImage.Format.Format_ARGB32)
        img.fill(0xFFFFFFFF)
        painter = QPainter(img)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        view.scene().render(painter, QRectF(0, 0, w * scale, h * scale), source)
        painter.end()
        if not img.save(str(out)):
            raise ExportError(f"Could not write {out}. Choose another folder or file name.")
    if not out.exists() or out.stat().st_size == 0:
        raise ExportError(f"Exporting {out} produced no file. Choose another folder.")
    return out


def ask_export_path(parent: QWidget, stem: str) -> str | None:
    """File dialog for PNG/SVG; None when the user cancels."""
    path, _ = QFileDialog.getSaveFileName(
        parent, "Export figure", f"{stem}.png", "PNG image (*.png);;SVG vector image (*.svg)"
    )
    return path or None


def legend_below(canvas: pg.GraphicsLayoutWidget, row: int, col: int = 0,
                 colspan: int = 1) -> pg.LegendItem:
    """A legend in its own row of a figure's layout (under a plot): it never covers the data,
    and an export of the canvas carries it."""
    legend = pg.LegendItem(colCount=1, labelTextColor=(40, 40, 40), verSpacing=-4)
    canvas.addItem(legend, row=row, col=col, colspan=colspan)
    canvas.ci.layout.setRowStretchFactor(row, 0)
    return legend


def line_plot(x_label: str) -> tuple[Any, Any, Any]:
    """(canvas, plot item, legend) of a white, gridded figure with an x label; the legend in
    a row under the plot (`legend_below`)."""
    canvas = pg.GraphicsLayoutWidget()
    canvas.setBackground("w")
    plot = canvas.addPlot(row=0, col=0)
    plot.showGrid(x=True, y=True, alpha=0.2)
    plot.setLabel("bottom", x_label)
    return canvas, plot, legend_below(canvas, row=1)


class FigureHolder(QScrollArea):
    """A figure tab: the view fills the tab and scrolls only when the tab is smaller than the
    view's minimum size, so a wide view never sets the window's minimum width. (A resizable
    QScrollArea sizes a view with a word-wrapped caption by its height-for-width, from the
    preferred heights: taller than the tab, with the figure's axis out of view.)"""

    def __init__(self, widget: QWidget) -> None:
        super().__init__()
        self.setWidgetResizable(False)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setWidget(widget)
        widget.installEventFilter(self)

    def fit(self) -> None:
        """The view as large as the tab, at least its minimum size."""
        w = self.widget()
        if w is None:
            return
        vp = self.maximumViewportSize()
        least = w.minimumSizeHint().expandedTo(w.minimumSize())
        w.resize(max(vp.width(), least.width()), max(vp.height(), least.height()))

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self.fit()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self.fit()
        return super().eventFilter(watched, event)


class FigureViewMixin:
    """Export (PNG/SVG of `self.canvas`), cancel-on-close, the hidden-tab deferral and the
    reload flow shared by the figure views.

    A view sets ``task_key`` (its key on the TaskRunner) and has ``canvas``, ``runner``,
    ``study`` and a ``status`` label. Its `refresh` is this class's unless it needs its own:
    it gives `load_task` (the task and its request), `show_empty` (no study) and `show_data`
    (the task's result, on the GUI thread).
    """

    task_key = ""
    canvas: QGraphicsView
    runner: TaskRunner
    study: Study | None
    status: QLabel
    job: Job | None = None  # the last reload submitted

    def export(self, path: str | Path) -> Path:
        """Write the view's figure(s) to PNG or SVG."""
        return export_view(self.canvas, path)

    def _export_clicked(self) -> None:
        parent: QWidget = self  # type: ignore[assignment]
        path = ask_export_path(parent, self.task_key)
        if path:
            try:
                self.export(path)
            except ExportError as exc:
                QMessageBox.warning(parent, "Export failed", str(exc))

    def closeEvent(self, event: Any) -> None:
        self.runner.cancel(self.task_key)
        super().closeEvent(event)  # type: ignore[misc]

    # -- loading while hidden ---------------------------------------------------------------
    _stale = False

    def defer_while_hidden(self) -> bool:
        """True when the view sits in a window but is not shown (a tab behind others): its
        reload waits until it is shown, so hidden views never hold the read workers (and the
        measure lock) while the map and the prompt table load. A view on its own (no parent)
        loads at once."""
        me: QWidget = self  # type: ignore[assignment]
        if me.parent() is not None and not me.isVisible():
            self._stale = True
            return True
        self._stale = False
        return False

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)  # type: ignore[misc]
        if self._stale and not event.spontaneous():
            self._stale = False
            self.refresh()

    def refresh(self) -> None:
        """Reload in a worker (after a run, an import or F5): without a study `show_empty`; a
        tab behind others waits until shown (`defer_while_hidden`); else "Loading…", the
        view's `load_task` on the runner under `task_key`, `show_data` with its result and a
        failure's message in the status line."""
        if self.study is None:
            self.show_empty()
            return
        if self.defer_while_hidden():
            return
        self.status.setText("Loading…")
        task, request = self.load_task()
        job = self.job = self.runner.submit(self.task_key, task, request)
        job.finished.connect(self.show_data)
        job.failed.connect(self.status.setText)

    def load_task(self) -> tuple[Callable[[Any, TaskState], Any], Any]:
        """The task that loads the view's data and its request (a view with the shared
        `refresh` gives it)."""
        raise NotImplementedError

    def show_empty(self) -> None:
        """What the view shows without a study."""
        raise NotImplementedError

    def show_data(self, data: Any) -> None:
        """Draw a loaded result (on the GUI thread)."""
        raise NotImplementedError
