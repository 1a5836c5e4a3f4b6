"""Topic labels on the map: at the medians of their topics' points, refined as the view zooms."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QRectF

from monoscope.ui.views.map_labels import Anchor, choose, short_label

pytestmark = pytest.mark.ui


def _topics_of(window: Any) -> tuple[np.ndarray, dict[int, str]]:
    """Each map point's topic and the topics' labels, read from the study by the test."""
    st = window.study
    rows = st.query("SELECT text_id, value FROM attributes WHERE name = 'topic'")
    by_id = {int(r["text_id"]): float(r["value"]) for r in rows}
    topic = np.array([by_id.get(int(t), np.nan) for t in window.map.text_id])
    labels = {int(r["topic"]): str(r["label"]) for r in st.query("SELECT topic, label FROM topics")}
    return topic, labels


def test_labels_at_medians_and_fewer_when_zoomed(window: Any) -> None:
    window.state.whole_dataset = True
    assert window.wait_idle(60)
    m = window.map
    assert m.topics_button.isEnabled() and m.topics_button.isChecked()
    topic, labels = _topics_of(window)
    x, y = m.cloud.x.astype(np.float64), m.cloud.y.astype(np.float64)
    shown = m.topics.shown
    assert len(shown) >= 3
    for a in shown:  # each label at the median x and median y of its topic's points
        pts = topic == a.topic
        assert a.x == pytest.approx(float(np.median(x[pts])), abs=1e-5)
        assert a.y == pytest.approx(float(np.median(y[pts])), abs=1e-5)
        assert a.n == int(pts.sum())
        assert a.text == short_label(labels[a.topic])
        item = m.topics._items[a.topic]
        assert item.isVisible() and item.pos().x() == pytest.approx(a.x)
        assert item.pos().y() == pytest.approx(a.y)
    boxes = [m.topics.box_of(a) for a in shown]  # no two labels overlap
    assert not any(boxes[i].intersects(boxes[j]) for i in range(len(boxes))
                   for j in range(i + 1, len(boxes)))
    # zoomed into the biggest cluster: only the topics with enough points there stay
    big = max(shown, key=lambda a: a.n)
    pts = topic == big.topic
    sx, sy = np.std(x[pts]) / 3, np.std(y[pts]) / 3
    before = len(shown)
    m.vb.setRange(QRectF(big.x - sx, big.y - sy, 2 * sx, 2 * sy), padding=0)
    window.wait_idle(10)
    after = [a.topic for a in m.topics.shown]
    assert big.topic in after and len(after) < before
    # every label shown has its anchor in view and at least 3 points of its topic in view
    (x0, x1), (y0, y1) = m.vb.viewRange()
    inside = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
    for a in m.topics.shown:
        assert x0 <= a.x <= x1 and y0 <= a.y <= y1
        assert int((inside & (topic == a.topic)).sum()) >= 3
    m.topics_button.setChecked(False)  # the toolbar's toggle hides them all
    assert m.topics.shown == [] and not any(i.isVisible() for i in m.topics._items.values())
    m.topics_button.setChecked(True)
    assert [a.topic for a in m.topics.shown] == after


def test_choose_drops_the_smaller_overlapping_label() -> None:
    a = Anchor(1, "one", 0.0, 0.0, 50)
    b = Anchor(2, "two", 0.1, 0.0, 20)  # overlaps a: dropped, a has more points in view
    c = Anchor(3, "three", 5.0, 5.0, 10)
    d = Anchor(4, "four", 8.0, 8.0, 90)  # too few points in view
    e = Anchor(5, "five", 50.0, 0.0, 90)  # anchor out of view

    def box(anchor: Anchor) -> QRectF:
        return QRectF(anchor.x * 10 - 20, anchor.y * 10 - 5, 40, 10)

    counts = {1: 40, 2: 30, 3: 5, 4: 2, 5: 40}
    got = choose([a, b, c, d, e], counts, (-1, 10, -1, 10), box)
    assert [g.topic for g in got] == [1, 3]
