"""Attribute distributions linked to the map: source vs each run, as histograms (same bins,
each set normalised), eCDFs or box/strip plots (the panel's toggle), the people's spread as a
band (the source's 10–90 % quantiles, from the stored values) in the last two.

Each plot is a selection gesture of the explorer's one selection: drag across a plot to select
the texts in that value range (Shift adds to the selection, Ctrl keeps the texts also in it),
click a bar of a category (topics) to select its texts, double-click to clear the selection.
The selection, however made, is drawn over every plot in the selection colour (its own
histogram or eCDF, its points ringed in the strip).

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
from PySide6.QtWidgets import (
    QApplication,
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from monoscope.core.analysis.measure import SET_ATTRIBUTES
from monoscope.core.explore import distributions as dist
from monoscope.core.explore.labels import ATTRIBUTE_LABELS, attribute_label, elide
from monoscope.ui import theme
from monoscope.ui.views.pointcloud import RGB

NICE_NAMES = ATTRIBUTE_LABELS  # the one mapping of plain attribute names
MODES = {"hist": "Histogram", "ecdf": "eCDF", "box": "Box"}  # the panel's plot kinds
HINTS = {
    "hist": "Same bins, each set normalised.",
    "ecdf": "Share of each set's texts ≤ x.",
    "box": "Each text a point; box = quartiles.",
}


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
    """Left-drag selects the texts in an x-range (a gesture per drag), a click on a bar of a
    categorical plot selects that category, a double-click clears the selection."""

    def __init__(self, hist: AttributeHistogram) -> None:
        super().__init__(enableMouse=False)
        self.hist = hist

    def mouseDragEvent(self, ev: Any, axis: Any = None) -> None:
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        if ev.isStart():
            self.hist.start_gesture(modifier_mode(ev.modifiers()))
        a = self.mapSceneToView(ev.buttonDownScenePos()).x()
        b = self.mapSceneToView(ev.scenePos()).x()
        self.hist.set_brush(min(a, b), max(a, b), new=False)

    def mouseClickEvent(self, ev: Any) -> None:
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        if ev.double():
            ev.accept()
            self.hist.clear_requested.emit()
        elif self.hist.categorical and self.hist.mode == "hist":
            ev.accept()
            x = self.mapSceneToView(ev.scenePos()).x()
            self.hist.click_category(x, modifier_mode(ev.modifiers()))
        else:
            ev.ignore()


def modifier_mode(mods: Any) -> str:
    """How a gesture combines with the selection: Shift adds, Ctrl intersects."""
    if mods & Qt.KeyboardModifier.ShiftModifier:
        return "add"
    if mods & Qt.KeyboardModifier.ControlModifier:
        return "intersect"
    return "replace"


class AttributeHistogram(QWidget):
    """One attribute: the groups' distributions (histogram, eCDF or box/strip), the selection
    over them, and the stored dispersion numbers."""

    # attribute name, bool mask over the points or None, label, mode, gesture token
    gestured = Signal(str, object, str, str, str)
    clear_requested = Signal()

    def __init__(self, data: AttributeData, group: npt.NDArray[np.int8], labels: Sequence[str],
                 colors: Sequence[RGB], parent: QWidget | None = None,
                 keys: Sequence[str] | None = None, whole_dataset: bool = False,
                 mode: str = "hist") -> None:
        super().__init__(parent)
        self.data = data
        self.group = group
        self.labels = list(labels)
        self.colors = list(colors)
        self.categorical = data.categorical
        self.kind = data.kind
        self.mode = mode
        self.vb = BrushViewBox(self)
        self.plot = pg.PlotWidget(viewBox=self.vb)
        self.plot.setMinimumHeight(130)
        self.plot.setMaximumHeight(170)
        pi = self.plot.getPlotItem()
        pi.hideButtons()
        pi.setTitle(attribute_label(data.name), size="9pt")
        pi.getAxis("left").enableAutoSIPrefix(False)
        pi.getAxis("left").setWidth(34)
        fg = theme.foreground()
        self.region = pg.LinearRegionItem(brush=pg.mkBrush(*fg, 40), movable=True)
        self.region.setZValue(-5)
        self.region.hide()
        # moving the drawn range: a new gesture from the first move after the last one ended
        self.region.sigRegionChanged.connect(self._region_dragged)
        self.region.sigRegionChangeFinished.connect(self._region_released)
        self.plot.addItem(self.region, ignoreBounds=True)
        sel = theme.selection_color()
        self.sel_curve = pg.PlotDataItem(pen=pg.mkPen(*sel, width=2, style=Qt.PenStyle.DashLine))
        self.sel_curve.setZValue(10)
        self.sel_points = pg.ScatterPlotItem(size=10, pen=pg.mkPen(*sel, width=2), brush=None)
        self.sel_points.setZValue(11)
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
        self.keys = list(keys) if keys is not None else ["source", *(
            f"group:{i}" for i in range(1, len(labels)))]
        self.whole_dataset = whole_dataset
        self.selection: npt.NDArray[np.bool_] | None = None
        self._token = 0  # the current gesture (a drag, a click)
        self._gesture_mode = "replace"
        self._released = True  # the next move of the range starts a gesture
        self.edges = self._edges()
        self.items: list[Any] = []  # what the current mode drew
        self.group_items: dict[int, Any] = {}  # group -> its curve (eCDF) or strip scatter
        self.ecdfs: dict[int, dist.Ecdf] = {}  # eCDF mode: each group's eCDF as drawn
        self.boxes: dict[int, dist.Box] = {}  # box mode: each group's box as drawn
        self.band: tuple[float, float] | None = None  # the source band drawn (lo, hi)
        self._strip_y: npt.NDArray[np.float64] = np.zeros(0)  # box mode: row of each point
        self._draw_plot()
        self._caption()

    def update_data(self, data: AttributeData, group: npt.NDArray[np.int8],
                    labels: Sequence[str], colors: Sequence[RGB],
                    keys: Sequence[str] | None = None, whole_dataset: bool = False) -> None:
        """Show another prompt's values of the same attribute in this plot: the widget, its
        axes and its range item are kept (building a plot costs far more than drawing one;
        a prompt switch redraws, it does not rebuild)."""
        self.data = data
        self.group = group
        self.labels = list(labels)
        self.colors = list(colors)
        self.categorical = data.categorical
        self.kind = data.kind
        self.plot.getPlotItem().setTitle(attribute_label(data.name), size="9pt")
        self.region.hide()
        self.range = None
        self.keys = list(keys) if keys is not None else ["source", *(
            f"group:{i}" for i in range(1, len(labels)))]
        self.whole_dataset = whole_dataset
        self.selection = None
        self._released = True
        self.edges = self._edges()
        self._draw_plot()
        self._caption()

    # -- drawing -------------------------------------------------------------------------
    def _edges(self) -> npt.NDArray[np.float64]:
        v = self.data.values[np.isfinite(self.data.values)]
        if self.categorical:
            cats = np.unique(v.astype(np.int64)) if len(v) else np.zeros(1, np.int64)
            return np.arange(cats.min() - 0.5, cats.max() + 1.0, 1.0)
        if not len(v) or v.min() == v.max():
            c = float(v[0]) if len(v) else 0.0
            return np.linspace(c - 0.5, c + 0.5, 3)
        return np.histogram_bin_edges(v, bins=min(30, max(8, int(np.sqrt(len(v))))))

    @property
    def drawn_mode(self) -> str:
        """What is drawn: categories are always bars (an eCDF of topic ids means nothing)."""
        return "hist" if self.categorical else self.mode

    def set_mode(self, mode: str) -> None:
        """Histogram, eCDF or box/strip ('hist', 'ecdf', 'box')."""
        if mode not in MODES:
            raise ValueError(f"unknown plot kind {mode!r}: use one of {', '.join(MODES)}")
        if mode == self.mode:
            return
        self.mode = mode
        self._draw_plot()
        self.set_selection(self.selection)

    def _draw_plot(self) -> None:
        pi = self.plot.getPlotItem()
        for item in self.items:
            pi.removeItem(item)
        self.items, self.group_items = [], {}
        self.ecdfs, self.boxes, self.band = {}, {}, None
        for item in (self.sel_curve, self.sel_points):
            if item.scene() is not None:
                pi.removeItem(item)
        left = pi.getAxis("left")
        left.setTicks(None)
        pi.getAxis("bottom").setTicks(None)
        {"hist": self._draw_hist, "ecdf": self._draw_ecdf, "box": self._draw_box}[
            self.drawn_mode]()
        pi.addItem(self.sel_points if self.drawn_mode == "box" else self.sel_curve)
        lo, hi = float(self.edges[0]), float(self.edges[-1])
        pi.setXRange(lo, hi, padding=0.02)

    def _add(self, item: Any) -> Any:
        self.plot.addItem(item)
        self.items.append(item)
        return item

    def _draw_hist(self) -> None:
        pi = self.plot.getPlotItem()
        pi.setLabel("left", "share")
        v = self.data.values
        n_groups = len(self.labels)
        width = 0.8 / max(1, n_groups)
        for g in range(n_groups):
            sel = (self.group == g) & np.isfinite(v)
            counts, _ = np.histogram(v[sel], bins=self.edges)
            share = counts / max(1, counts.sum())
            color = self.colors[g]
            if self.categorical:
                centers = (self.edges[:-1] + self.edges[1:]) / 2
                self._add(pg.BarGraphItem(
                    x=centers - 0.4 + width * (g + 0.5), height=share, width=width,
                    brush=pg.mkBrush(*color, 200), pen=None))
            elif g == 0:
                self._add(pg.PlotDataItem(
                    self.edges, share, stepMode="center", fillLevel=0,
                    brush=pg.mkBrush(*color, 90), pen=pg.mkPen(*color, width=1)))
            else:
                self._add(pg.PlotDataItem(self.edges, share, stepMode="center",
                                          pen=pg.mkPen(*color, width=2)))
        if self.categorical and self.data.categories:
            ticks = [(float(c), self.data.categories.get(int(c), str(int(c)))[:14])
                     for c in (self.edges[:-1] + self.edges[1:]) / 2]
            pi.getAxis("bottom").setTicks([ticks])
        pi.enableAutoRange(axis="y")

    def _source_band(self, y0: float, y1: float) -> None:
        """The people's spread: the source's 10–90 % quantiles of the stored values."""
        self.band = dist.band(self.data.values[self.group == 0])
        if self.band is None:
            return
        lo, hi = self.band
        grey = theme.source_color()
        a = pg.PlotDataItem([lo, hi], [y0, y0], pen=None)
        b = pg.PlotDataItem([lo, hi], [y1, y1], pen=None)
        fill = pg.FillBetweenItem(a, b, brush=pg.mkBrush(*grey, 55))
        fill.setZValue(-8)
        self._add(fill)
        for x in (lo, hi):
            edge = self._add(pg.InfiniteLine(x, angle=90, pen=pg.mkPen(
                *grey, 160, width=1, style=Qt.PenStyle.DotLine)))
            edge.setZValue(-7)

    def _draw_ecdf(self) -> None:
        pi = self.plot.getPlotItem()
        pi.setLabel("left", "share ≤ x")
        self._source_band(0.0, 1.0)
        for g, vals in enumerate(dist.by_group(self.data.values, self.group, len(self.labels))):
            if not len(vals):
                continue
            e = dist.ecdf(vals)
            self.ecdfs[g] = e
            xs, ys = e.steps()
            color = self.colors[g]
            item = self._add(pg.PlotDataItem(xs, ys, pen=pg.mkPen(
                *color, width=1.5 if g == 0 else 2)))
            item.setZValue(2 + g)
            self.group_items[g] = item
        pi.setYRange(0.0, 1.0, padding=0.04)

    def _draw_box(self) -> None:
        """One row per group (the source on top): the box of its values and the values as a
        strip of points, jittered a little within the row (the same jitter every time)."""
        pi = self.plot.getPlotItem()
        pi.setLabel("left", "")
        n_groups = len(self.labels)
        row = n_groups - 1 - self.group.astype(np.float64)  # the source on top
        jitter = (np.random.default_rng(0).random(len(self.group)) - 0.5) * 0.5
        self._strip_y = row + jitter
        self._source_band(-0.5, n_groups - 0.5)
        v = self.data.values
        for g in range(n_groups):
            b = dist.box(v[self.group == g])
            if b is None:
                continue
            self.boxes[g] = b
            y = float(n_groups - 1 - g)
            color = self.colors[g]
            pen = pg.mkPen(*color, width=1.5)
            self._add(pg.PlotDataItem([b.low, b.q1, np.nan, b.q3, b.high],
                                      [y] * 5, pen=pen, connect="finite"))
            self._add(pg.PlotDataItem([b.q1, b.q3, b.q3, b.q1, b.q1],
                                      [y - 0.3, y - 0.3, y + 0.3, y + 0.3, y - 0.3], pen=pen,
                                      fillLevel=None))
            self._add(pg.PlotDataItem([b.median, b.median], [y - 0.3, y + 0.3],
                                      pen=pg.mkPen(*color, width=3)))
            m = (self.group == g) & np.isfinite(v)
            strip = self._add(pg.ScatterPlotItem(
                x=v[m], y=self._strip_y[m], size=5, pen=None, brush=pg.mkBrush(*color, 150)))
            strip.setZValue(3)
            self.group_items[g] = strip
        ticks = [(float(n_groups - 1 - g), _row_name(self.keys[g] if g < len(self.keys) else
                                                     str(g)))
                 for g in range(n_groups)]
        pi.getAxis("left").setTicks([ticks])
        pi.setYRange(-0.5, n_groups - 0.5, padding=0.02)

    def _caption(self) -> None:
        """Numbers: the measure stage's stored rows (nothing is computed here)."""
        n_groups = len(self.labels)
        self.caption = caption_lines(self.data.rows or [], self.keys[:n_groups],
                                     self.labels, self.kind, self.data.name, self.whole_dataset)
        html = []
        for g, line in enumerate(self.caption):
            color = self.colors[g]
            text = line.replace("&", "&amp;").replace("<", "&lt;")
            if "▼" in text or "▲" in text:
                text = f"<b>{text}</b>"
            html.append(f"<span style='color: rgb{tuple(color)}'>■</span> {text}")
        if not self.data.rows:
            html.append("<span style='color:#777'>not measured yet: numbers appear when the "
                        "measure stage has run (F5)</span>")
        self.stats.setText("<br>".join(html))

    # -- gestures ------------------------------------------------------------------------
    def start_gesture(self, mode: str) -> None:
        """A new drag (or region move) begins: one undo step, combined by ``mode``."""
        self._token += 1
        self._gesture_mode = mode
        self._released = False

    def token(self) -> str:
        return f"range:{self.data.name}:{self._token}"

    def set_brush(self, lo: float | None, hi: float | None = None, new: bool = True,
                  mode: str = "replace") -> None:
        """Select the texts in [lo, hi] (a new gesture unless ``new`` is False: a drag going
        on); None clears this plot's range (and the selection it made)."""
        if lo is None or hi is None:
            was = self.range is not None
            self.region.hide()
            self.range = None
            if was:
                self.clear_requested.emit()
            return
        if new:
            self.start_gesture(mode)
        self.region.blockSignals(True)
        self.region.setRegion((lo, hi))
        self.region.blockSignals(False)
        self.region.show()
        self._region_moved()

    def _region_dragged(self) -> None:
        if self._released:
            self.start_gesture(_keyboard_mode())
        self._region_moved()

    def _region_released(self) -> None:
        self._released = True

    def _region_moved(self) -> None:
        lo, hi = self.region.getRegion()
        self.range = (float(lo), float(hi))
        mask = self.brushed_mask()
        label = f"{attribute_label(self.data.name)} {_num(lo)}–{_num(hi)}"
        self.gestured.emit(self.data.name, mask, label, self._gesture_mode, self.token())

    def click_category(self, x: float, mode: str = "replace") -> None:
        """Select the texts of the category whose bar is at x (a bar click)."""
        cat = round(x)
        v = self.data.values
        with np.errstate(invalid="ignore"):
            mask = np.isfinite(v) & (np.round(v) == cat)
        name = (self.data.categories or {}).get(cat, str(cat))
        self.start_gesture(mode)
        self.region.hide()
        self.range = None
        self.gestured.emit(self.data.name, mask, f"{attribute_label(self.data.name)} = {name}",
                           mode, self.token())

    def brushed_mask(self) -> npt.NDArray[np.bool_] | None:
        """Points whose value lies in the brushed range (None when nothing is brushed)."""
        if self.range is None:
            return None
        v = self.data.values
        with np.errstate(invalid="ignore"):
            return (v >= self.range[0]) & (v <= self.range[1])

    def hide_range(self) -> None:
        """The selection is no longer this plot's range (another gesture, undo, clear)."""
        self.region.hide()
        self.range = None

    # -- the selection -------------------------------------------------------------------
    def set_selection(self, mask: npt.NDArray[np.bool_] | None) -> None:
        """Draw the selected texts over the plot (None or empty: nothing)."""
        self.selection = mask
        self.sel_curve.setData([], [], stepMode=None)
        self.sel_points.setData([], [])
        if mask is None or not mask.any():
            return
        ok = mask & np.isfinite(self.data.values)
        vals = self.data.values[ok]
        if self.drawn_mode == "hist":
            counts, _ = np.histogram(vals, bins=self.edges)
            self.sel_curve.setData(self.edges, counts / max(1, counts.sum()), stepMode="center")
        elif self.drawn_mode == "ecdf":
            xs, ys = dist.ecdf(vals).steps()
            self.sel_curve.setData(xs, ys, stepMode=None)
        else:
            self.sel_points.setData(x=vals, y=self._strip_y[ok])


def _row_name(key: str) -> str:
    """A box plot row's short name: 'src', or the run's '#id' (the colour says the rest)."""
    if key == "source":
        return "src"
    return "#" + key.split(":", 1)[1] if ":" in key else key


def _num(v: float) -> str:
    return f"{v:.3g}"


def _keyboard_mode() -> str:
    return modifier_mode(QApplication.keyboardModifiers())


def _short(label: str, n: int = 26) -> str:
    """A group's label cut in the middle: a run's '#id' and its sampling both stay."""
    return elide(label, n)


class HistogramPanel(QWidget):
    """A scrollable column of attribute plots for the points on the map, with a toggle
    between histograms, eCDFs and box/strip plots."""

    # a selection gesture: bool mask over the points (None: it selects nothing), label, mode,
    # gesture token (the same for the updates of one drag)
    selected = Signal(object, str, str, str)
    clear_requested = Signal()  # a double-click on a plot

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.hists: dict[str, AttributeHistogram] = {}
        self.mode = "hist"
        self.selection: npt.NDArray[np.bool_] | None = None
        self._emitting: str | None = None  # the plot whose gesture is being told
        self.inner = QWidget()
        self.col = QVBoxLayout(self.inner)
        self.col.setContentsMargins(2, 2, 2, 2)
        bar = QHBoxLayout()
        bar.setContentsMargins(2, 2, 2, 0)
        self.mode_group = QButtonGroup(self)
        self.mode_buttons: dict[str, QToolButton] = {}
        for key, text in MODES.items():
            b = QToolButton()
            b.setText(text)
            b.setCheckable(True)
            b.setChecked(key == self.mode)
            b.setToolTip({"hist": "Histograms: each set normalised on the same bins",
                          "ecdf": "Empirical CDFs: every text one step; the grey band is the "
                                  "people's 10–90 % range",
                          "box": "Box and strip plots: every text a point; the grey band is the "
                                 "people's 10–90 % range"}[key])
            b.clicked.connect(lambda _=False, k=key: self.set_mode(k))
            self.mode_group.addButton(b)
            self.mode_buttons[key] = b
            bar.addWidget(b)
        bar.addStretch(1)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: #666;")
        self._set_hint()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.inner)
        scroll.setMinimumHeight(200)  # a plot and its caption, whatever the bottom docks take
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(bar)
        lay.addWidget(self.hint)
        lay.addWidget(scroll, 1)

    def _set_hint(self) -> None:
        """One short line; the captions' symbols are explained in its tooltip."""
        band = "" if self.mode == "hist" else " Grey band: people's 10–90 %."
        self.hint.setText(f"{HINTS[self.mode]}{band} Drag to select (Shift adds, Ctrl "
                          "narrows), double-click clears.")
        self.hint.setToolTip(
            "×: monoculture index, the run's dispersion / the source's on the same prompts at "
            "the same n (<1 = narrower); people: the range people score against themselves "
            "at that n (▼▲ = outside it). The grey band of the eCDF and box plots spans the "
            "human texts' 10 % to 90 % quantiles of the stored values.")

    def set_mode(self, mode: str) -> None:
        """Show every attribute as 'hist', 'ecdf' or 'box'."""
        if mode not in MODES:
            raise ValueError(f"unknown plot kind {mode!r}: use one of {', '.join(MODES)}")
        self.mode = mode
        self.mode_buttons[mode].setChecked(True)
        self._set_hint()
        for h in self.hists.values():
            h.set_mode(mode)

    def set_data(self, attrs: Sequence[AttributeData], group: npt.NDArray[np.int8],
                 labels: Sequence[str], colors: Sequence[RGB],
                 keys: Sequence[str] | None = None, whole_dataset: bool = False) -> None:
        """One plot per attribute; ``keys`` = group key per label ('source',
        'run:<id>'), for the stored rows; ``whole_dataset`` = captions from aggregates."""
        old = self.hists
        self.hists = {}
        self.selection = None
        while self.col.count():
            self.col.takeAt(0)
        for a in attrs:
            if not np.isfinite(a.values).any():
                continue
            h = old.pop(a.name, None)
            if h is not None and h.mode == self.mode:  # the same plot, redrawn
                h.update_data(a, group, labels, colors, keys=keys, whole_dataset=whole_dataset)
            else:
                if h is not None:
                    old[a.name] = h
                h = AttributeHistogram(a, group, labels, colors, keys=keys,
                                       whole_dataset=whole_dataset, mode=self.mode)
                h.gestured.connect(self._gestured)
                h.clear_requested.connect(self.clear_requested)
            self.col.addWidget(h)
            self.hists[a.name] = h
        for h in old.values():  # attributes this scope does not have
            h.setParent(None)
            h.deleteLater()
        self.col.addStretch(1)

    def brush(self, name: str, lo: float | None, hi: float | None = None,
              mode: str = "replace") -> None:
        """Select the texts with ``name`` in [lo, hi] as one gesture (None: clear that
        plot's range and the selection it made)."""
        self.hists[name].set_brush(lo, hi, mode=mode)

    def _gestured(self, name: str, mask: object, label: str, mode: str, token: str) -> None:
        self._emitting = name
        try:
            self.selected.emit(mask, label, mode, token)
        finally:
            self._emitting = None

    def set_selection(self, mask: npt.NDArray[np.bool_] | None) -> None:
        """The explorer's selection over every plot; a plot's range stays drawn only while
        the selection is that plot's gesture going on."""
        self.selection = mask
        for name, h in self.hists.items():
            if name != self._emitting:
                h.hide_range()
            h.set_selection(mask)

    def export(self, name: str, path: str | Path) -> Path:
        from monoscope.ui.views.figure_common import export_view

        return export_view(self.hists[name].plot, path)
