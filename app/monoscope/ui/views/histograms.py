"""Attribute histograms linked to the map: source vs each run on the same bins, normalised.

Drag across a histogram to brush a value range (the map highlights those texts); double-click
clears it. A selection made on the map is drawn over every histogram as a dark outline.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QScrollArea, QVBoxLayout, QWidget

from monoscope.core.queries import CATEGORICAL, attribute_kind, dispersion
from monoscope.core.queries import ratio as ratio_of
from monoscope.ui import theme
from monoscope.ui.views.pointcloud import RGB

NICE_NAMES = {
    "sentiment.vader": "Sentiment (VADER, P(positive))",
    "sentiment.head": "Sentiment (MiniLM head, P(positive))",
    "text.words": "Length (words)",
    "text.ttr": "Type-token ratio",
    "topic": "Topic",
    "code.cyclomatic": "Cyclomatic complexity",
    "code.correct": "Share of tests passed",
    "code.algorithms": "Number of algorithm tags",
    "code.data_structures": "Number of data-structure tags",
    "code.wall_ms": "Wall time (ms)",
    "code.peak_kb": "Peak memory (kB)",
}


@dataclass
class AttributeData:
    name: str
    values: npt.NDArray[np.float64]  # aligned with the map's points; NaN = missing
    categories: dict[int, str] | None = None  # topic id -> label, for bar charts
    labels: list[Any] | None = None  # aligned labels (e.g. POSITIVE/NEGATIVE), if any


class BrushViewBox(pg.ViewBox):  # type: ignore[misc]
    """Left-drag sets the brushed x-range; double-click clears it."""

    def __init__(self, hist: AttributeHistogram) -> None:
        super().__init__(enableMouse=False)
        self.hist = hist

    def mouseDragEvent(self, ev: Any, axis: Any = None) -> None:
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        a = self.mapSceneToView(ev.buttonDownScenePos()).x()
        b = self.mapSceneToView(ev.scenePos()).x()
        self.hist.set_brush(min(a, b), max(a, b))

    def mouseClickEvent(self, ev: Any) -> None:
        if ev.double():
            ev.accept()
            self.hist.set_brush(None)
        else:
            ev.ignore()


class AttributeHistogram(QWidget):
    """One attribute: overlaid normalised distributions plus dispersion numbers."""

    brushed = Signal(str, object)  # attribute name, (lo, hi) or None

    def __init__(self, data: AttributeData, group: npt.NDArray[np.int8], labels: Sequence[str],
                 colors: Sequence[RGB], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.data = data
        self.group = group
        self.categorical = data.name in CATEGORICAL
        self.vb = BrushViewBox(self)
        self.plot = pg.PlotWidget(viewBox=self.vb)
        self.plot.setMinimumHeight(130)
        self.plot.setMaximumHeight(170)
        pi = self.plot.getPlotItem()
        pi.hideButtons()
        pi.setTitle(NICE_NAMES.get(data.name, data.name), size="9pt")
        pi.setLabel("left", "share")
        pi.getAxis("left").enableAutoSIPrefix(False)
        pi.getAxis("left").setWidth(34)
        fg = theme.foreground()
        self.region = pg.LinearRegionItem(brush=pg.mkBrush(*fg, 40), movable=True)
        self.region.setZValue(-5)
        self.region.hide()
        self.region.sigRegionChanged.connect(self._region_moved)
        self.plot.addItem(self.region, ignoreBounds=True)
        self.sel_curve = pg.PlotDataItem(pen=pg.mkPen(fg, width=2, style=Qt.PenStyle.DashLine))
        self.sel_curve.setZValue(10)
        self.plot.addItem(self.sel_curve)
        self.stats = QLabel()
        self.stats.setTextFormat(Qt.TextFormat.RichText)
        self.stats.setWordWrap(True)
        self.stats.setStyleSheet("font-size: 8pt;")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 6)
        lay.setSpacing(1)
        lay.addWidget(self.plot, 1)
        lay.addWidget(self.stats)
        self.range: tuple[float, float] | None = None
        self._draw(labels, colors)

    def _edges(self) -> npt.NDArray[np.float64]:
        v = self.data.values[np.isfinite(self.data.values)]
        if self.categorical:
            cats = np.unique(v.astype(np.int64)) if len(v) else np.zeros(1, np.int64)
            return np.arange(cats.min() - 0.5, cats.max() + 1.0, 1.0)
        if not len(v) or v.min() == v.max():
            c = float(v[0]) if len(v) else 0.0
            return np.linspace(c - 0.5, c + 0.5, 3)
        return np.histogram_bin_edges(v, bins=min(30, max(8, int(np.sqrt(len(v))))))

    def _draw(self, labels: Sequence[str], colors: Sequence[RGB]) -> None:
        self.edges = self._edges()
        v = self.data.values
        lines = []
        n_groups = len(labels)
        width = 0.8 / max(1, n_groups)
        src_disp = math.nan
        labs = self.data.labels or [None] * len(v)
        self.kind = attribute_kind(self.data.name, labs)
        for g in range(n_groups):
            sel = (self.group == g) & np.isfinite(v)
            vals = v[sel]
            counts, _ = np.histogram(vals, bins=self.edges)
            share = counts / max(1, counts.sum())
            color = colors[g]
            if self.categorical:
                centers = (self.edges[:-1] + self.edges[1:]) / 2
                self.plot.addItem(pg.BarGraphItem(
                    x=centers - 0.4 + width * (g + 0.5), height=share, width=width,
                    brush=pg.mkBrush(*color, 200), pen=None))
            elif g == 0:
                self.plot.addItem(pg.PlotDataItem(
                    self.edges, share, stepMode="center", fillLevel=0,
                    brush=pg.mkBrush(*color, 90), pen=pg.mkPen(*color, width=1)))
            else:
                self.plot.addItem(pg.PlotDataItem(self.edges, share, stepMode="center",
                                                  pen=pg.mkPen(*color, width=2)))
            # the same dispersion as the prompt table's index (the measure stage's rule)
            disp = dispersion(self.data.name, self.kind, vals,
                              [labs[i] for i in np.flatnonzero(sel)])
            if g == 0:
                src_disp = disp
            ratio = "" if g == 0 else f" · ×{ratio_of(disp, src_disp):.2f}"
            name = {"categorical": "entropy" if self.categorical else "label entropy",
                    "set": "1−Jaccard"}.get(self.kind, "std")
            mean = np.mean(vals) if len(vals) else math.nan
            lines.append(
                f"<span style='color: rgb{tuple(color)}'>■</span> {_short(labels[g])}: "
                f"<b>{name} {disp:.3g}</b>{ratio} <span style='color:#777'>· mean "
                f"{mean:.3g} · n {len(vals)}</span>")
        self.stats.setText("<br>".join(lines))
        if self.categorical and self.data.categories:
            ticks = [(float(c), self.data.categories.get(int(c), str(int(c)))[:14])
                     for c in (self.edges[:-1] + self.edges[1:]) / 2]
            self.plot.getPlotItem().getAxis("bottom").setTicks([ticks])
        self.plot.getPlotItem().setXRange(float(self.edges[0]), float(self.edges[-1]),
                                          padding=0.02)

    def set_brush(self, lo: float | None, hi: float | None = None) -> None:
        """Brush [lo, hi] (None clears); emits `brushed`."""
        if lo is None or hi is None:
            self.region.hide()
            self.range = None
            self.brushed.emit(self.data.name, None)
            return
        self.region.blockSignals(True)
        self.region.setRegion((lo, hi))
        self.region.blockSignals(False)
        self.region.show()
        self._region_moved()

    def _region_moved(self) -> None:
        lo, hi = self.region.getRegion()
        self.range = (float(lo), float(hi))
        self.brushed.emit(self.data.name, self.range)

    def mask(self) -> npt.NDArray[np.bool_] | None:
        """Points whose value lies in the brushed range (None when nothing is brushed)."""
        if self.range is None:
            return None
        v = self.data.values
        with np.errstate(invalid="ignore"):
            return (v >= self.range[0]) & (v <= self.range[1])

    def set_selection(self, mask: npt.NDArray[np.bool_] | None) -> None:
        if mask is None or not mask.any():
            self.sel_curve.setData([], [])
            return
        vals = self.data.values[mask & np.isfinite(self.data.values)]
        counts, _ = np.histogram(vals, bins=self.edges)
        self.sel_curve.setData(self.edges, counts / max(1, counts.sum()), stepMode="center")


def _short(label: str, n: int = 22) -> str:
    return label if len(label) <= n else label[: n - 1] + "…"


class HistogramPanel(QWidget):
    """A scrollable column of attribute histograms for the points on the map."""

    brushed = Signal(object)  # combined bool mask over the points, or None

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.hists: dict[str, AttributeHistogram] = {}
        self.inner = QWidget()
        self.col = QVBoxLayout(self.inner)
        self.col.setContentsMargins(2, 2, 2, 2)
        self.hint = QLabel("Same bins, each set normalised. ×: dispersion vs source (<1 = "
                           "narrower). Drag across a plot to highlight those texts on the map; "
                           "double-click clears.")
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: #666;")
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.inner)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.hint)
        lay.addWidget(scroll, 1)

    def set_data(self, attrs: Sequence[AttributeData], group: npt.NDArray[np.int8],
                 labels: Sequence[str], colors: Sequence[RGB]) -> None:
        for h in self.hists.values():
            h.setParent(None)
            h.deleteLater()
        self.hists = {}
        while self.col.count():
            self.col.takeAt(0)
        for a in attrs:
            if not np.isfinite(a.values).any():
                continue
            h = AttributeHistogram(a, group, labels, colors)
            h.brushed.connect(self._brushed)
            self.col.addWidget(h)
            self.hists[a.name] = h
        self.col.addStretch(1)

    def brush(self, name: str, lo: float | None, hi: float | None = None) -> None:
        self.hists[name].set_brush(lo, hi)

    def _brushed(self, name: str, rng: object) -> None:
        masks = [m for h in self.hists.values() if (m := h.mask()) is not None]
        if not masks:
            self.brushed.emit(None)
            return
        combined = masks[0].copy()
        for m in masks[1:]:
            combined &= m
        self.brushed.emit(combined)

    def set_selection(self, mask: npt.NDArray[np.bool_] | None) -> None:
        for h in self.hists.values():
            h.set_selection(mask)

    def export(self, name: str, path: str | Path) -> Path:
        from monoscope.ui.views.figure_common import export_view

        return export_view(self.hists[name].plot, path)
