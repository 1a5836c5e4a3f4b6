"""Topic labels on the map: each stored topic's label (`topics.label`, the ``topic`` attribute of
every text) written at the centre of its points, refined as the view zooms.

Placement is layout, not a statistic: a topic's anchor is the median x and the median y of the
map's points whose ``topic`` attribute is that topic (source and generated texts alike, as the
map draws them). On every view change the labels are chosen again:

* a topic is a candidate when its anchor is in view and it has at least ``min_points`` points
  in view and at least ``min_share`` of the points in view (zoomed into one cluster, the
  topics that only graze the view drop out);
* candidates are taken by their number of points in view, most first, and a label whose box
  (in pixels, with a small gap) would overlap a label already placed is dropped — so zooming in
  spreads the labels apart and the smaller topics' labels appear.

`anchors` and `choose` are plain functions (tested without a window); `TopicLabels` keeps one
`pg.TextItem` per topic in a ViewBox and shows the chosen ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QFont, QFontMetricsF

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Anchor:
    """Where a topic's label goes: the medians of its points, and how many points it has."""

    topic: int
    text: str
    x: float
    y: float
    n: int


def short_label(label: str, words: int = 3) -> str:
    """The first words of a topic's label (its top words), for the map."""
    parts = label.replace(";", " ").replace(",", " ").split()
    return " ".join(parts[:words]) if parts else label


def anchors(x: npt.NDArray[np.floating], y: npt.NDArray[np.floating],
            topic: npt.NDArray[np.floating], labels: Mapping[int, str]) -> list[Anchor]:
    """One anchor per topic with points: median x and median y of the points of that topic
    (NaN topic = no topic; a topic without a label is named ``topic <id>``)."""
    t = np.asarray(topic, dtype=np.float64)
    ok = np.isfinite(t)
    ids = t[ok].astype(np.int64)
    xs, ys = np.asarray(x, dtype=np.float64)[ok], np.asarray(y, dtype=np.float64)[ok]
    out = []
    for tid in np.unique(ids):
        m = ids == tid
        text = short_label(labels.get(int(tid), f"topic {int(tid)}"))
        out.append(Anchor(int(tid), text, float(np.median(xs[m])), float(np.median(ys[m])),
                          int(m.sum())))
    return out


def in_view_counts(x: npt.NDArray[np.floating], y: npt.NDArray[np.floating],
                   topic: npt.NDArray[np.floating], rect: tuple[float, float, float, float],
                   shown: npt.NDArray[np.bool_] | None = None) -> dict[int, int]:
    """Points of each topic inside ``rect`` = (x0, x1, y0, y1) (of the ``shown`` ones)."""
    x0, x1, y0, y1 = rect
    t = np.asarray(topic, dtype=np.float64)
    m = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1) & np.isfinite(t)
    if shown is not None:
        m &= shown
    ids, counts = np.unique(t[m].astype(np.int64), return_counts=True)
    return {int(i): int(c) for i, c in zip(ids, counts, strict=True)}


def choose(found: Sequence[Anchor], counts: Mapping[int, int],
           rect: tuple[float, float, float, float],
           box_of: Callable[[Anchor], QRectF], min_points: int = 3,
           min_share: float = 0.02) -> list[Anchor]:
    """The labels to show, most points in view first: anchor in ``rect``, enough points in
    view (``min_points`` and ``min_share`` of the points in view), and a box (``box_of``: in
    pixels) overlapping no label already placed."""
    x0, x1, y0, y1 = rect
    total = sum(counts.values())
    need = max(min_points, min_share * total)
    cands = [a for a in found if counts.get(a.topic, 0) >= need
             and x0 <= a.x <= x1 and y0 <= a.y <= y1]
    cands.sort(key=lambda a: (-counts[a.topic], a.topic))
    placed: list[QRectF] = []
    out = []
    for a in cands:
        box = box_of(a)
        if any(box.intersects(p) for p in placed):
            continue
        placed.append(box)
        out.append(a)
    return out


class TopicLabels:
    """The topic labels of one map ViewBox (see the module docstring)."""

    def __init__(self, view: pg.ViewBox, color: RGB = (25, 25, 25),
                 fill: RGB = (255, 255, 255)) -> None:
        self.view = view
        self.color = color
        self.fill = fill
        self.enabled = True
        self.font = QFont()
        self.font.setPointSizeF(max(7.0, self.font.pointSizeF() * 0.9))
        self._metrics = QFontMetricsF(self.font)
        self.x = np.zeros(0, np.float64)
        self.y = np.zeros(0, np.float64)
        self.topic = np.zeros(0, np.float64)
        self.shown_mask: Callable[[], npt.NDArray[np.bool_]] | None = None
        self.anchors: list[Anchor] = []
        self.shown: list[Anchor] = []  # the labels on the map now
        self._items: dict[int, pg.TextItem] = {}
        view.sigRangeChanged.connect(lambda *_: self.render())
        view.sigResized.connect(lambda *_: self.render())

    def set_data(self, x: npt.NDArray[np.floating], y: npt.NDArray[np.floating],
                 topic: npt.NDArray[np.floating] | None, labels: Mapping[int, str]) -> None:
        """The map's points and each point's topic (None: no labels)."""
        for item in self._items.values():
            self.view.removeItem(item)
        self._items = {}
        if topic is None or len(topic) != len(x):
            self.x = self.y = self.topic = np.zeros(0, np.float64)
            self.anchors = []
        else:
            self.x = np.asarray(x, dtype=np.float64)
            self.y = np.asarray(y, dtype=np.float64)
            self.topic = np.asarray(topic, dtype=np.float64)
            self.anchors = anchors(self.x, self.y, self.topic, labels)
        self.render()

    def set_enabled(self, on: bool) -> None:
        self.enabled = on
        self.render()

    def box_of(self, a: Anchor) -> QRectF:
        """The label's box in scene pixels, centred on its anchor, with a 4 px gap."""
        c = self.view.mapViewToScene(QPointF(a.x, a.y))
        w = self._metrics.horizontalAdvance(a.text) + 12
        h = self._metrics.height() + 6
        return QRectF(c.x() - w / 2, c.y() - h / 2, w, h)

    def render(self) -> None:
        if not self.enabled or not self.anchors:
            self.shown = []
        else:
            (x0, x1), (y0, y1) = self.view.viewRange()
            rect = (x0, x1, y0, y1)
            shown = self.shown_mask() if self.shown_mask is not None else None
            if shown is not None and len(shown) != len(self.x):
                shown = None
            counts = in_view_counts(self.x, self.y, self.topic, rect, shown)
            self.shown = choose(self.anchors, counts, rect, self.box_of)
        keep = {a.topic for a in self.shown}
        for tid, item in self._items.items():
            item.setVisible(tid in keep)
        for a in self.shown:
            item = self._items.get(a.topic)
            if item is None:
                item = pg.TextItem(a.text, color=(*self.color, 235), anchor=(0.5, 0.5),
                                   fill=pg.mkBrush(*self.fill, 170))
                item.setFont(self.font)
                item.setZValue(30)
                self.view.addItem(item, ignoreBounds=True)
                self._items[a.topic] = item
            item.setPos(a.x, a.y)
            item.setVisible(True)

    def texts(self) -> list[str]:
        """The labels shown now (tests)."""
        return [a.text for a in self.shown]
