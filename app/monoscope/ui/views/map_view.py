"""The map: human-anchored projection of one prompt (or the dataset), source vs each run.

Source points are neutral grey dots, each run has its own colour and marker shape (the one
palette, `monoscope.core.explore.palette`); the runs' points are drawn over the source, also on
a dense whole-dataset map (see `PointCloud.overlay`). The source density is outlined by two
closed contours (50 % solid, 90 % dashed) drawn on top, so a run never hides where the human
mass is. Hover shows a snippet, click selects a text, Rectangle/Lasso modes select a region
(Shift adds to the selection, Ctrl keeps the texts also in it: `region_selected`); the owner
shows the explorer's one selection with `show_selection`, its points in their colours and the
rest greyed; the clicked text's ring has a colour no run uses. `step_point` walks the points in the map's order
(given outliers first, then the rest), one at a time, from the keyboard.

"Colour by" offers the set (the default) or the model's mean per-token log-probability of each
text under one scorer (`monoscope score`): the owner answers `colour_by_changed(scorer_id)`
with `set_values`; a colour bar under the legend gives the scale, grey = not scored.

The view reads nothing itself: hovering a point emits `text_hovered(text_id)` and the owner
answers with `show_snippet(text_id, text)` once it has read the text (in a worker).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyqtgraph as pg
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QLinearGradient, QPainter, QPainterPath, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QGraphicsPathItem,
    QHBoxLayout,
    QLabel,
    QToolButton,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from monoscope.ui.contours import Line, source_contours
from monoscope.ui.views.flow_layout import FlowLayout
from monoscope.ui.views.map_labels import TopicLabels
from monoscope.ui.views.pointcloud import RGB, PointCloud


class SelectViewBox(pg.ViewBox):  # type: ignore[misc]
    """ViewBox that pans/zooms, or draws a rectangle or lasso when a select mode is on."""

    def __init__(self, on_polygon: Callable[[npt.NDArray[np.float64], str], None]) -> None:
        super().__init__()
        self.select_mode = "pan"
        self._on_polygon = on_polygon
        self._path: list[QPointF] = []
        self._outline = QGraphicsPathItem()
        from monoscope.ui import theme

        self._outline.setPen(pg.mkPen(theme.foreground(), width=1, style=Qt.PenStyle.DashLine))
        self._outline.setZValue(20)
        self.addItem(self._outline, ignoreBounds=True)

    def mouseDragEvent(self, ev: Any, axis: Any = None) -> None:
        if self.select_mode == "pan" or ev.button() != Qt.MouseButton.LeftButton:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        pos = self.mapSceneToView(ev.scenePos())
        if ev.isStart():
            self._path = [self.mapSceneToView(ev.buttonDownScenePos())]
        if self.select_mode == "rect":
            a = self._path[0]
            self._path = [a, QPointF(pos.x(), a.y()), pos, QPointF(a.x(), pos.y())]
        else:
            self._path.append(pos)
        qpath = QPainterPath(self._path[0])
        for p in self._path[1:]:
            qpath.lineTo(p)
        qpath.closeSubpath()
        self._outline.setPath(qpath)
        if ev.isFinish():
            poly = np.array([(p.x(), p.y()) for p in self._path], dtype=np.float64)
            self._outline.setPath(QPainterPath())
            self._on_polygon(poly, modifier_mode(ev.modifiers()))


def modifier_mode(mods: Any) -> str:
    """How a selection gesture combines with the selection: Shift adds, Ctrl intersects."""
    if mods & Qt.KeyboardModifier.ShiftModifier:
        return "add"
    if mods & Qt.KeyboardModifier.ControlModifier:
        return "intersect"
    return "replace"


class MapView(QWidget):
    """Map of points in groups (0 = source, i = run i) with legend, toggles and selection."""

    text_selected = Signal(int)  # text id
    selection_changed = Signal(object)  # None: the Clear button (a region: region_selected)
    region_selected = Signal(object, str, str)  # bool mask, "rectangle"/"lasso", mode
    text_hovered = Signal(int)  # text id under the cursor (answer with show_snippet)
    points_changed = Signal()  # set_points drew new points (highlights start empty)
    colour_by_changed = Signal(object)  # scorer id, or None: colour by set

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.vb = SelectViewBox(self._polygon_selected)
        self.plot = pg.PlotWidget(viewBox=self.vb)
        self.plot.setAspectLocked(True)
        self.plot.showGrid(x=False, y=False)
        self.plot.getPlotItem().hideButtons()
        for ax in ("left", "bottom"):
            self.plot.getPlotItem().hideAxis(ax)
        self.cloud = PointCloud(self.vb)
        from monoscope.ui import theme

        fg = theme.foreground()
        sel = theme.selection_color()
        self.cloud.highlight_color = sel
        self.cloud.outline = theme.background()
        bg = theme.background()
        self.cloud.context_color = (  # grey between the background and the text colour
            (bg[0] * 2 + fg[0]) // 3, (bg[1] * 2 + fg[1]) // 3, (bg[2] * 2 + fg[2]) // 3)
        # the 90 % contour (dashed) bounds the fitted view; the 50 % one is solid
        self.contours, self.contours50 = contour_items(self.vb, fg)
        self.topics = TopicLabels(self.vb, color=fg, fill=bg)
        self.topics.shown_mask = self.cloud._visible_mask
        self.ring = pg.ScatterPlotItem(size=18, pen=pg.mkPen(sel, width=3), brush=None)
        self.ring.setZValue(40)
        self.vb.addItem(self.ring, ignoreBounds=True)
        self.order_first: list[int] = []  # text ids stepped through first (outliers)
        self.text_id = np.zeros(0, np.int64)
        self._hover_text: int | None = None  # text under the cursor, its tooltip and snippet
        self._hover_pos = QPoint()
        self._hover_head = ""
        self._hover_snippet = ""
        self.labels: list[str] = []
        self.symbols: list[str] = []
        self.selected_text: int | None = None
        self.selection: npt.NDArray[np.bool_] | None = None
        self._checks: list[QCheckBox] = []
        self._legend_style: tuple[object, ...] = ()  # labels, colours, symbols of the legend

        self.title = QLabel("")
        self.title.setWordWrap(True)
        # the legend wraps onto more lines (a new run never widens the window)
        self.legend = QWidget()
        self.legend_box = FlowLayout(self.legend, spacing=12)
        modes = QHBoxLayout()
        self.mode_group = QButtonGroup(self)
        for name, tip in (("Pan", "Drag to pan, wheel to zoom"),
                          ("Rectangle", "Drag a rectangle to select points"),
                          ("Lasso", "Draw around points to select them")):
            b = QToolButton()
            b.setText(name)
            b.setCheckable(True)
            b.setToolTip(tip)
            b.setChecked(name == "Pan")
            self.mode_group.addButton(b)
            modes.addWidget(b)
            b.toggled.connect(self._mode_toggled(name))
        clear = QToolButton()
        clear.setText("Clear selection")
        clear.setToolTip("Clear the selection everywhere (Esc); Ctrl+Z undoes it")
        clear.clicked.connect(self.clear_selection)
        clear.setEnabled(False)
        self.clear_button = clear
        modes.addWidget(clear)
        topics = QToolButton()
        topics.setText("Topic labels")
        topics.setCheckable(True)
        topics.setChecked(True)
        topics.setToolTip("Write each topic's label at the centre of its points (the labels "
                          "with the most points in view win where they would overlap)")
        topics.toggled.connect(self.topics.set_enabled)
        topics.setEnabled(False)
        self.topics_button = topics
        modes.addWidget(topics)
        self.colour_box = QComboBox()
        self.colour_box.addItem("Colour: set", None)
        self.colour_box.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        # narrow in the row (the map's minimum width sets how far the docks can open); the
        # list opens wide enough for the scorers' labels
        self.colour_box.setMinimumContentsLength(8)
        self.colour_box.view().setMinimumWidth(320)
        self.colour_box.setToolTip("Colour the points by their set (human texts, each run), or "
                                   "by the model's mean per-token log-probability of each text "
                                   "under a scorer (`monoscope score`)")
        self.colour_box.currentIndexChanged.connect(
            lambda _i: self.colour_by_changed.emit(self.colour_box.currentData()))
        modes.addWidget(self.colour_box)
        modes.addStretch(1)
        # the point count sits beside the title (the title wraps), so it never widens the
        # mode row, whose width is the map's minimum (the docks beside it would shrink)
        self.info = QLabel("")
        self.info.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        head.addWidget(self.info)
        top = QVBoxLayout()
        top.addLayout(head)
        top.addWidget(self.legend)
        self.value_bar = QWidget()  # the colour scale when colouring by log-probability
        vb_lay = QHBoxLayout(self.value_bar)
        vb_lay.setContentsMargins(0, 0, 0, 0)
        self.value_title = QLabel("")
        self.value_lo = QLabel("")
        self.value_ramp = QLabel()
        self.value_hi = QLabel("")
        self.value_missing = QLabel("")
        for w in (self.value_title, self.value_lo, self.value_ramp, self.value_hi,
                  self.value_missing):
            vb_lay.addWidget(w)
        vb_lay.addStretch(1)
        self.value_bar.hide()
        top.addWidget(self.value_bar)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(top)
        lay.addWidget(self.plot, 1)
        lay.addLayout(modes)
        self.plot.scene().sigMouseMoved.connect(self._hover)
        self.plot.scene().sigMouseClicked.connect(self._clicked)

    # -- data ----------------------------------------------------------------------------
    def set_points(self, text_id: npt.NDArray[np.int64], x: npt.NDArray[np.float32],
                   y: npt.NDArray[np.float32], group: npt.NDArray[np.int8],
                   labels: Sequence[str], colors: Sequence[RGB], title: str = "",
                   trees: list[object] | None = None,
                   symbols: Sequence[str] | None = None,
                   contours: tuple[Line, Line] | None = None) -> None:
        """Show new points; ``labels[g]``/``colors[g]``/``symbols[g]`` (marker shapes,
        circles by default) describe group g (0 = source). ``contours``: the source's 50 %
        and 90 % curves when the worker computed them (`source_contours`), else computed
        here."""
        self.text_id = np.asarray(text_id, dtype=np.int64)
        self.labels = list(labels)
        self.selection = None
        self.selected_text = None
        self._hover_text = None
        self.ring.clear()
        self.title.setText(title)
        self.symbols = list(symbols) if symbols is not None else ["o"] * len(colors)
        self.cloud.set_data(x, y, group, colors, order=list(range(len(colors))), trees=trees,
                            symbols=self.symbols)
        self._build_legend(group, labels, colors)
        self._draw_contours(contours)
        self.topics.set_data(self.cloud.x, self.cloud.y, None, {})
        self.topics_button.setEnabled(False)
        self.reset_view()
        self.info.setText(f"{len(self.text_id):,} points")
        self.points_changed.emit()

    def set_colour_choices(self, choices: Sequence[tuple[int, str]]) -> None:
        """The scorers the map can be coloured by: (scorer id, label); the current choice kept
        when still offered, else back to the set."""
        current = self.colour_box.currentData()
        self.colour_box.blockSignals(True)
        self.colour_box.clear()
        self.colour_box.addItem("Colour: set", None)
        for sid, label in choices:
            self.colour_box.addItem(f"Colour: log p · {label}", sid)
        at = self.colour_box.findData(current) if current is not None else 0
        self.colour_box.setCurrentIndex(max(at, 0))
        self.colour_box.blockSignals(False)
        if current is not None and at < 0:
            self.colour_by_changed.emit(None)

    def colour_by(self) -> int | None:
        """The chosen scorer id (None: by set)."""
        data = self.colour_box.currentData()
        return None if data is None else int(data)

    def set_colour_by(self, scorer_id: int | None) -> None:
        at = self.colour_box.findData(scorer_id) if scorer_id is not None else 0
        if at >= 0:
            self.colour_box.setCurrentIndex(at)

    def set_values(self, values: npt.NDArray[np.float64] | None, label: str = "") -> None:
        """Colour the points by their mean per-token log-probability (aligned with the points;
        NaN: not scored), with a colour bar from the 2nd to the 98th percentile; None: by set."""
        if values is None or len(values) != len(self.text_id):
            self.cloud.set_values(None, np.zeros((256, 3), np.uint8), 0.0, 1.0)
            self.value_bar.hide()
            return
        finite = values[np.isfinite(values)]
        lo, hi = ((float(np.percentile(finite, 2)), float(np.percentile(finite, 98)))
                  if finite.size else (-8.0, -2.0))
        if hi <= lo:
            hi = lo + 1.0
        cmap = pg.colormap.get(LOGPROB_MAP)
        lut = np.asarray(cmap.getLookupTable(nPts=256, mode="byte"), dtype=np.uint8)
        self.cloud.set_values(values, lut, lo, hi)
        self.value_title.setText(f"mean log p per token (nats), {label}:")
        self.value_lo.setText(f"{lo:.2f} (improbable)")
        self.value_hi.setText(f"{hi:.2f} (likely)")
        n_missing = int(values.size - finite.size)
        self.value_missing.setText(f"· grey: not scored ({n_missing:,})" if n_missing else "")
        self.value_ramp.setPixmap(_ramp(lut))
        self.value_bar.setToolTip(f"Colour = the model's mean per-token log-probability of each "
                                  f"text under {label}, clipped to its 2nd–98th percentile "
                                  f"({finite.size:,} scored texts); in the dense view a pixel "
                                  "shows the mean of its points")
        self.value_bar.show()

    def set_topics(self, topic: npt.NDArray[np.float64] | None,
                   labels: dict[int, str]) -> None:
        """Each point's topic id (NaN: none; aligned with the points) and the topics' stored
        labels: written on the map at their points' medians (`map_labels`)."""
        ok = topic is not None and len(topic) == len(self.text_id) and bool(labels)
        self.topics.set_data(self.cloud.x, self.cloud.y, topic if ok else None, labels)
        self.topics_button.setEnabled(ok)

    def clear(self, message: str = "") -> None:
        self.set_points(np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros(0, np.float32),
                        np.zeros(0, np.int8), [], [], message)
        self.info.setText("")

    def reset_view(self, margin: float = 0.07) -> None:
        """Fit the points and the source contours, with a margin so the markers at the edge
        are drawn whole."""
        fit_view(self.vb, self.cloud.bounds(), self.contours, margin)

    def _build_legend(self, group: npt.NDArray[np.int8], labels: Sequence[str],
                      colors: Sequence[RGB]) -> None:
        counts = np.bincount(group.astype(np.int64), minlength=len(labels))
        style = (tuple(labels), tuple(colors), tuple(self.symbols))
        if style == self._legend_style and len(self._checks) == len(labels):
            # the same groups on another prompt: new counts, every group shown again
            for g, (label, cb) in enumerate(zip(labels, self._checks, strict=True)):
                short = label if len(label) <= 48 else label[:47] + "…"
                cb.blockSignals(True)
                cb.setChecked(True)
                cb.blockSignals(False)
                cb.setText(f"{short} ({int(counts[g]):,})")
                cb.setToolTip(f"{label}: {int(counts[g]):,} texts. Click to show or hide "
                              "this set.")
            return
        self._legend_style = style
        while self.legend_box.count():
            item = self.legend_box.takeAt(0)
            w = item.widget() if item is not None else None
            if w is not None:
                w.deleteLater()
        self._checks = []
        for g, (label, color) in enumerate(zip(labels, colors, strict=True)):
            short = label if len(label) <= 48 else label[:47] + "…"
            cb = QCheckBox(f"{short} ({int(counts[g]):,})")
            cb.setChecked(True)
            from monoscope.ui import theme

            cb.setIcon(theme.marker_icon(color, self.symbols[g] if g < len(self.symbols)
                                         else "o"))
            r, gr, b = color
            cb.setStyleSheet(
                f"QCheckBox::indicator:checked {{ background: rgb({r},{gr},{b}); "
                "border: 1px solid #444; } QCheckBox::indicator:unchecked { border: 1px solid "
                "#888; background: transparent; }")
            cb.setToolTip(f"{label}: {int(counts[g]):,} texts. Click to show or hide this set.")
            cb.toggled.connect(lambda on, gg=g: self._group_toggled(gg, on))
            self.legend_box.addWidget(cb)
            self._checks.append(cb)
        if labels:
            note = QLabel("human density: — 50 %  ╌ 90 %")
            note.setToolTip("Closed contours enclosing 50 % (solid) and 90 % (dashed) of the "
                            "smoothed density of the human source texts")
            note.setStyleSheet("color: #666;")
            self.legend_box.addWidget(note)

    def _group_toggled(self, group: int, on: bool) -> None:
        self.cloud.set_visible(group, on)
        self.topics.render()

    def set_group_visible(self, group: int, on: bool) -> None:
        self._checks[group].setChecked(on)

    def _draw_contours(self, lines: tuple[Line, Line] | None = None) -> None:
        """Outline the regions holding 50 % and 90 % of the smoothed source density."""
        if lines is None:
            src = self.cloud.group == 0
            lines = source_contours(self.cloud.x[src], self.cloud.y[src])
        for item, (px, py) in zip((self.contours50, self.contours), lines, strict=True):
            item.setData(px, py, connect="finite")

    # -- selection -----------------------------------------------------------------------
    def _mode_toggled(self, name: str) -> Callable[[bool], None]:
        def toggled(on: bool) -> None:
            if on:
                self.set_mode(name)

        return toggled

    def set_mode(self, name: str) -> None:
        self.vb.select_mode = {"Pan": "pan", "Rectangle": "rect", "Lasso": "lasso"}[name]

    def set_highlight(self, mask: npt.NDArray[np.bool_] | None) -> None:
        """Show these points in their colours and the rest greyed (None: all in colour)."""
        self.cloud.set_highlight(mask)
        n = 0 if mask is None else int(np.count_nonzero(mask))
        self.info.setText(f"{len(self.text_id):,} points" + (f", {n:,} highlighted" if mask
                                                               is not None else ""))

    def show_selection(self, mask: npt.NDArray[np.bool_] | None, counter: str = "") -> None:
        """The explorer's selection on this map (None: none) and its counter text."""
        self.selection = mask
        if mask is not None or self.cloud.highlight is not None:  # no redraw for none again
            self.set_highlight(mask)
        if counter:
            self.info.setText(counter)
        self.clear_button.setEnabled(mask is not None)

    def highlighted_ids(self) -> npt.NDArray[np.int64]:
        mask = self.cloud.highlight
        return self.text_id[mask] if mask is not None else np.zeros(0, np.int64)

    def _polygon_selected(self, poly: npt.NDArray[np.float64], mode: str) -> None:
        self.select_polygon(poly, mode)

    def select_polygon(self, poly: npt.NDArray[np.float64], mode: str = "replace"
                       ) -> npt.NDArray[np.bool_]:
        """The visible points inside a polygon (data coordinates), announced as a selection
        gesture (`region_selected`; ``mode`` replace/add/intersect); the owner shows the
        resulting selection."""
        mask = self.cloud.in_polygon(poly)
        kind = "rectangle" if self.vb.select_mode == "rect" else "lasso"
        self.region_selected.emit(mask, kind, mode)
        return mask

    def clear_selection(self) -> None:
        """The Clear button: ask the owner to clear the selection (`selection_changed(None)`)."""
        self.selection_changed.emit(None)

    def pick(self, x: float, y: float, radius_px: float = 7.0) -> int | None:
        """Index of the visible point nearest to (x, y) in data units within a pixel radius."""
        px, _ = self.vb.viewPixelSize()
        return self.cloud.pick(x, y, radius_px * px)

    def select_index(self, idx: int | None) -> None:
        """Mark a point and announce its text (None clears the mark)."""
        if idx is None:
            self.ring.clear()
            self.selected_text = None
            return
        self.ring.setData([float(self.cloud.x[idx])], [float(self.cloud.y[idx])])
        self.selected_text = int(self.text_id[idx])
        self.text_selected.emit(self.selected_text)

    def point_order(self) -> npt.NDArray[np.int64]:
        """Indices of the points in the map's order: the visible points (of the selection,
        when there is one), ``order_first``'s texts (outliers) first, then the rest in the
        order they were loaded."""
        ok = self.cloud._visible_mask() if len(self.text_id) else np.zeros(0, bool)
        if self.selection is not None and len(self.selection) == len(ok):
            ok = ok & self.selection
        first: list[int] = []
        for tid in self.order_first:
            hit = np.flatnonzero(self.text_id == tid)
            if len(hit) and ok[hit[0]]:
                first.append(int(hit[0]))
        rest = ok.copy()
        rest[first] = False
        return np.concatenate([np.asarray(first, dtype=np.int64),
                               np.flatnonzero(rest).astype(np.int64)])

    def step_point(self, delta: int) -> int | None:
        """Select the point ``delta`` steps after (before, when negative) the selected one in
        `point_order`, stopping at the ends; emits `text_selected`. Returns its text id."""
        order = self.point_order()
        if not len(order):
            return None
        pos = -1
        if self.selected_text is not None:
            hit = np.flatnonzero(self.text_id[order] == self.selected_text)
            pos = int(hit[0]) if len(hit) else -1
        if pos < 0:
            new = 0 if delta >= 0 else len(order) - 1
        else:
            new = min(max(pos + delta, 0), len(order) - 1)
        idx = int(order[new])
        x, y = float(self.cloud.x[idx]), float(self.cloud.y[idx])
        if not self.vb.viewRect().contains(QPointF(x, y)):  # bring it into view
            r = self.vb.viewRect()
            self.vb.translateBy(x=x - r.center().x(), y=y - r.center().y())
        self.select_index(idx)
        return self.selected_text

    def select_text(self, text_id: int) -> None:
        """Mark the point of a text chosen elsewhere (inspector lists) without re-emitting."""
        hit = np.flatnonzero(self.text_id == text_id)
        if not len(hit):
            self.ring.clear()
            return
        i = int(hit[0])
        self.ring.setData([float(self.cloud.x[i])], [float(self.cloud.y[i])])
        self.selected_text = text_id

    def scene_pos_of(self, idx: int) -> QPointF:
        pos: QPointF = self.vb.mapViewToScene(QPointF(float(self.cloud.x[idx]),
                                                      float(self.cloud.y[idx])))
        return pos

    def _hover(self, scene_pos: QPointF) -> None:
        if not len(self.text_id) or not self.vb.sceneBoundingRect().contains(scene_pos):
            return
        p = self.vb.mapSceneToView(scene_pos)
        idx = self.pick(p.x(), p.y())
        if idx is None:
            self._hover_text = None
            QToolTip.hideText()
            return
        g = int(self.cloud.group[idx])
        tid = int(self.text_id[idx])
        self._hover_pos = self.plot.mapToGlobal(self.plot.mapFromScene(scene_pos))
        if tid != self._hover_text:
            self._hover_text, self._hover_snippet = tid, ""
            self._hover_head = f"<b>{self.labels[g]}</b> · text {tid}"
            self._show_tooltip()
            self.text_hovered.emit(tid)
        else:
            self._show_tooltip()

    def show_snippet(self, text_id: int, text: str) -> None:
        """The start of a hovered text's body, read by the owner: shown while it is hovered."""
        if text_id == self._hover_text:
            self._hover_snippet = text
            self._show_tooltip()

    def _show_tooltip(self) -> None:
        QToolTip.showText(self._hover_pos, f"{self._hover_head}<br>{_escape(self._hover_snippet)}",
                          self.plot)

    def _clicked(self, ev: Any) -> None:
        if ev.button() != Qt.MouseButton.LeftButton or not len(self.text_id):
            return
        p = self.vb.mapSceneToView(ev.scenePos())
        idx = self.pick(p.x(), p.y())
        if idx is not None:
            ev.accept()
            self.select_index(idx)

    # -- export --------------------------------------------------------------------------
    def export(self, path: str | Path) -> Path:
        from monoscope.ui.views.figure_common import export_view

        return export_view(self.plot, path)

    def point_color(self, g: int) -> QColor:
        return QColor(*self.cloud.colors[g])


def contour_items(view: pg.ViewBox, fg: RGB) -> tuple[pg.PlotDataItem, pg.PlotDataItem]:
    """The map's two source-density contours in a view: (90 % dashed, 50 % solid), drawn
    over the points (the main map and Compare's maps draw them alike)."""
    c90 = pg.PlotDataItem(pen=pg.mkPen((*fg, 170), width=1.1, style=Qt.PenStyle.DashLine),
                          connect="finite")
    c50 = pg.PlotDataItem(pen=pg.mkPen((*fg, 210), width=1.6), connect="finite")
    for item in (c90, c50):
        item.setZValue(8)
        view.addItem(item, ignoreBounds=True)
    return c90, c50


def fit_view(view: pg.ViewBox, bounds: QRectF | None, contours: pg.PlotDataItem,
             margin: float = 0.07) -> None:
    """Fit the points' ``bounds`` and the 90 % contour, with a margin so the markers at the
    edge are drawn whole."""
    r = bounds
    if r is None:
        return
    cx, cy = contours.getData()
    if cx is not None and len(cx) and np.isfinite(cx).any():
        x0, x1 = float(np.nanmin(cx)), float(np.nanmax(cx))
        y0, y1 = float(np.nanmin(cy)), float(np.nanmax(cy))
        r = r.united(QRectF(x0, y0, x1 - x0, y1 - y0))
    view.setRange(rect=r, padding=margin)


LOGPROB_MAP = "viridis"  # low (dark purple) = improbable to the model, high (yellow) = likely


def _ramp(lut: npt.NDArray[np.uint8], width: int = 160, height: int = 12) -> QPixmap:
    """A horizontal colour ramp of the LUT."""
    pix = QPixmap(width, height)
    painter = QPainter(pix)
    grad = QLinearGradient(0, 0, width, 0)
    for i in range(0, 256, 16):
        r, g, b = (int(c) for c in lut[i][:3])
        grad.setColorAt(i / 255.0, QColor(r, g, b))
    r, g, b = (int(c) for c in lut[255][:3])
    grad.setColorAt(1.0, QColor(r, g, b))
    painter.fillRect(0, 0, width, height, grad)
    painter.end()
    return pix


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
