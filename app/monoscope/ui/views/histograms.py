"""Attribute histograms linked to the map: source vs each run on the same bins, normalised.

Drag across a histogram to brush a value range (the map highlights those texts); double-click
clears it. A selection made on the map is drawn over every histogram as a dark outline.

The caption under each histogram shows stored numbers only (the measure stage's rows, see
`monoscope.core.analysis.measure`): per group its texts and dispersion, per run its monoculture index
at matched n and the range of indices people score against themselves at that n.
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

from monoscope.core.analysis.measure import SET_ATTRIBUTES
from monoscope.core.explore.labels import ATTRIBUTE_LABELS, attribute_label
from monoscope.ui import theme
from monoscope.ui.views.pointcloud import RGB

NICE_NAMES = ATTRIBUTE_LABELS  # the one mapping of plain attribute names


@dataclass
class AttributeData:
    name: str
    values: npt.NDArray[np.float64]  # aligned with the map's points; NaN = missing
    categories: dict[int, str] | None = None  # topic id -> label, for bar charts
    labels: list[Any] | None = None  # aligned labels (e.g. POSITIVE/NEGATIVE), if any
    rows: list[dict[str, Any]] | None = None  # stored measurement rows of this attribute

    @property
    def categorical(self) -> bool:
        """Drawn as categories: the values are category ids (topics)."""
        return self.categories is not None or self.name == "topic"

    @property
    def kind(self) -> str:
        """What the stored dispersion is: 'set', 'categorical' (labels) or 'numeric'."""
        if self.name in SET_ATTRIBUTES:
            return "set"
        if self.categorical or (self.labels is not None and any(
                lab is not None for lab in self.labels[:1000])):
            return "categorical"
        return "numeric"


def _f(v: Any) -> float:
    return math.nan if v is None else float(v)


def _fmt(v: float, spec: str = ".2f") -> str:
    return "–" if not math.isfinite(v) else format(v, spec)


def outside_marker(index: float, lo: float, hi: float) -> str:
    """'▼' below the human range, '▲' above it, '' inside it or when unknown."""
    if not (math.isfinite(index) and math.isfinite(lo) and math.isfinite(hi)):
        return ""
    return "▼" if index < lo else "▲" if index > hi else ""


def caption_lines(rows: Sequence[dict[str, Any]], keys: Sequence[str], labels: Sequence[str],
                  kind: str, name: str, whole_dataset: bool) -> list[str]:
    """Plain-text caption per group from stored rows: n, dispersion and, per run, the index at
    matched n with the human range (rows of one prompt, or the dataset aggregates)."""
    def cell(grp: str, ref: str, stat: str) -> dict[str, Any] | None:
        return next((r for r in rows if r["grp"] == grp and r["ref"] == ref
                     and r["stat"] == stat), None)

    disp_name = {"categorical": "entropy" if name == "topic" else "label entropy",
                 "set": "1−Jaccard"}.get(kind, "std")
    out = []
    for key, label in zip(keys, labels, strict=True):
        own = cell(key, "", "dispersion")
        if key == "source":
            if own is None:
                out.append(f"{_short(label)}: not measured")
                continue
            if whole_dataset:
                out.append(f"{_short(label)}: {disp_name} {_fmt(_f(own['value']), '.3g')} "
                           f"(mean over its {own['prompts'] or 0} prompts, all texts)")
            else:
                out.append(f"{_short(label)} n={own['n']}: {disp_name} "
                           f"{_fmt(_f(own['value']), '.3g')}")
            continue
        idx = cell(key, key, "index")
        human = cell("source", key, "index")
        if idx is None:
            out.append(f"{_short(label)}: " + ("no texts here" if own is None
                                               else f"n={own['n']} · not compared"))
            continue
        v = _f(idx["value"])
        lo, hi = (_f(human["lo"]), _f(human["hi"])) if human is not None else (math.nan, math.nan)
        mark = outside_marker(v, lo, hi)
        people = (f" (people {_fmt(lo)}–{_fmt(hi)} at n={idx['n']})"
                  if math.isfinite(lo) and math.isfinite(hi) else
                  " (no human range: the source has no more texts than the run)")
        if whole_dataset:
            ci = ""
            if idx["lo"] is not None and idx["hi"] is not None:
                lo_ci, hi_ci = _f(idx["lo"]), _f(idx["hi"])
                ci = f" [{_fmt(lo_ci)}, {_fmt(hi_ci)}]"
                if hi_ci < 1.0 or lo_ci > 1.0:
                    ci += " CI excludes 1"
            out.append(f"{_short(label)} {idx['prompts'] or 0} prompts, n={idx['n']}/prompt · "
                       f"×{_fmt(v)}{ci}{mark}{people}")
        else:
            out.append(f"{_short(label)} n={idx['n']} · ×{_fmt(v)}{mark}{people}")
    return out


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
                 colors: Sequence[RGB], parent: QWidget | None = None,
                 keys: Sequence[str] | None = None, whole_dataset: bool = False) -> None:
        super().__init__(parent)
        self.data = data
        self.group = group
        self.categorical = data.categorical
        self.kind = data.kind
        self.vb = BrushViewBox(self)
        self.plot = pg.PlotWidget(viewBox=self.vb)
        self.plot.setMinimumHeight(130)
        self.plot.setMaximumHeight(170)
        pi = self.plot.getPlotItem()
        pi.hideButtons()
        pi.setTitle(attribute_label(data.name), size="9pt")
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
        self._items: list[Any] = []  # the drawn distributions
        self._spare: list[Any] = []  # the previous prompt's, reused while drawing
        self.update_data(data, group, labels, colors, keys=keys, whole_dataset=whole_dataset)

    def update_data(self, data: AttributeData, group: npt.NDArray[np.int8],
                    labels: Sequence[str], colors: Sequence[RGB],
                    keys: Sequence[str] | None = None, whole_dataset: bool = False) -> None:
        """Show another prompt's values in this plot (the widget, its axes and its brush
        region are kept: building a plot costs far more than drawing one)."""
        self.data = data
        self.group = group
        self.categorical = data.categorical
        self.kind = data.kind
        self.plot.getPlotItem().setTitle(attribute_label(data.name), size="9pt")
        if self.range is not None:
            self.region.hide()
            self.range = None
        self.sel_curve.setData([], [])
        self._spare, self._items = self._items, []
        self.keys = list(keys) if keys is not None else ["source", *(
            f"group:{i}" for i in range(1, len(labels)))]
        self.whole_dataset = whole_dataset
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

    def _curve(self, x: Any, y: Any, pen: Any, brush: Any = None) -> None:
        """A step curve of the histogram; reuses a curve of the previous prompt when one is
        left (adding items to a plot is its slowest part)."""
        spare = next((i for i in self._spare if isinstance(i, pg.PlotDataItem)), None)
        if spare is None:
            item = pg.PlotDataItem()
            self.plot.addItem(item)
        else:
            self._spare.remove(spare)
            item = spare
        item.setData(x, y, stepMode="center", fillLevel=None if brush is None else 0,
                     pen=pen, fillBrush=brush)
        self._items.append(item)

    def _bars(self, **opts: Any) -> None:
        spare = next((i for i in self._spare if isinstance(i, pg.BarGraphItem)), None)
        if spare is None:
            item = pg.BarGraphItem(**opts)
            self.plot.addItem(item)
        else:
            self._spare.remove(spare)
            item = spare
            item.setOpts(**opts)
        self._items.append(item)

    def _drop_spare(self) -> None:
        for item in self._spare:
            self.plot.removeItem(item)
        self._spare = []

    def _draw(self, labels: Sequence[str], colors: Sequence[RGB]) -> None:
        self.edges = self._edges()
        v = self.data.values
        n_groups = len(labels)
        width = 0.8 / max(1, n_groups)
        for g in range(n_groups):
            sel = (self.group == g) & np.isfinite(v)
            vals = v[sel]
            counts, _ = np.histogram(vals, bins=self.edges)
            share = counts / max(1, counts.sum())
            color = colors[g]
            if self.categorical:
                centers = (self.edges[:-1] + self.edges[1:]) / 2
                self._bars(x=centers - 0.4 + width * (g + 0.5), height=share, width=width,
                           brush=pg.mkBrush(*color, 200), pen=None)
            elif g == 0:
                self._curve(self.edges, share, pg.mkPen(*color, width=1),
                            pg.mkBrush(*color, 90))
            else:
                self._curve(self.edges, share, pg.mkPen(*color, width=2))
        self._drop_spare()
        # numbers: the measure stage's stored rows (nothing is computed here)
        self.caption = caption_lines(self.data.rows or [], self.keys[:n_groups],
                                     list(labels), self.kind, self.data.name, self.whole_dataset)
        html = []
        for g, line in enumerate(self.caption):
            color = colors[g]
            text = line.replace("&", "&amp;").replace("<", "&lt;")
            if "▼" in text or "▲" in text:
                text = f"<b>{text}</b>"
            html.append(f"<span style='color: rgb{tuple(color)}'>■</span> {text}")
        if not self.data.rows:
            html.append("<span style='color:#777'>not measured yet: numbers appear when the "
                        "measure stage has run (F5)</span>")
        self.stats.setText("<br>".join(html))
        if self.categorical and self.data.categories:
            ticks = [(float(c), self.data.categories.get(int(c), str(int(c)))[:14])
                     for c in (self.edges[:-1] + self.edges[1:]) / 2]
            self.plot.getPlotItem().getAxis("bottom").setTicks([ticks])
        else:
            self.plot.getPlotItem().getAxis("bottom").setTicks(None)
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

    def brushed_mask(self) -> npt.NDArray[np.bool_] | None:
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
        self.hint = QLabel("Same bins, each set normalised. ×: monoculture index, the run's "
                           "dispersion / the source's on the same prompts at the same n (<1 = "
                           "narrower); people: the range people score against themselves at "
                           "that n (▼▲ = outside it). Drag across a plot to highlight those "
                           "texts on the map; double-click clears.")
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
                 labels: Sequence[str], colors: Sequence[RGB],
                 keys: Sequence[str] | None = None, whole_dataset: bool = False) -> None:
        """One histogram per attribute; ``keys`` = group key per label ('source',
        'run:<id>'), for the stored rows; ``whole_dataset`` = captions from aggregates."""
        shown = [a for a in attrs if np.isfinite(a.values).any()]
        old = self.hists
        self.hists = {}
        while self.col.count():
            self.col.takeAt(0)
        for a in shown:
            h = old.pop(a.name, None)
            if h is None:
                h = AttributeHistogram(a, group, labels, colors, keys=keys,
                                       whole_dataset=whole_dataset)
                h.brushed.connect(self._brushed)
            else:
                h.update_data(a, group, labels, colors, keys=keys, whole_dataset=whole_dataset)
            self.col.addWidget(h)
            self.hists[a.name] = h
        for h in old.values():  # attributes this scope does not have
            h.setParent(None)
            h.deleteLater()
        self.col.addStretch(1)

    def brush(self, name: str, lo: float | None, hi: float | None = None) -> None:
        self.hists[name].set_brush(lo, hi)

    def _brushed(self, name: str, rng: object) -> None:
        masks = [m for h in self.hists.values() if (m := h.brushed_mask()) is not None]
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
