"""The window's layout at 1280×800 with fresh settings: figure tabs get the width, the bottom
docks never squeeze the histograms, the legend never sets the window's width."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.ui


def test_layout_at_1280x800(window: Any, qtbot: Any) -> None:
    win = window
    win.resize(1280, 800)
    qtbot.waitUntil(lambda: win.width() == 1280 and win.height() == 800, timeout=5000)
    win.wait_idle(30)
    assert win.dock_hists.isVisible() and win.dock_inspector.isVisible()
    # on the map every tab's name is in view (the bar does not scroll)
    bar = win.tabs.tabBar()
    assert bar.sizeHint().width() <= win.tabs.width()
    assert all(bar.tabRect(i).right() <= bar.width() for i in range(bar.count()))
    # a figure tab: the map's docks step aside, the figure gets the width
    win.show_view("compare")
    qtbot.waitUntil(lambda: not win.dock_hists.isVisible(), timeout=5000)
    assert not win.dock_inspector.isVisible()
    qtbot.waitUntil(lambda: win.tabs.width() > 1280 - win.dock_prompts.width() - 40,
                    timeout=5000)
    state = win.layout_state()  # saved as on the map
    win.show_view("map")
    assert win.dock_hists.isVisible() and win.dock_inspector.isVisible()
    # a dock closed on the map stays closed after a figure tab
    win.dock_inspector.hide()
    win.show_view("sweep")
    win.show_view("map")
    assert win.dock_hists.isVisible() and not win.dock_inspector.isVisible()
    assert win.restoreState(state)
    assert win.dock_inspector.isVisible()
    # the bottom docks (tabbed together, hidden until used) sit under the figures only
    assert not win.dock_search.isVisible() and not win.dock_selection.isVisible()
    from PySide6.QtCore import Qt

    for dock in (win.dock_runs, win.dock_search, win.dock_selection):
        assert win.dockWidgetArea(dock) == Qt.DockWidgetArea.BottomDockWidgetArea
    win.show_selection_table()
    qtbot.waitUntil(lambda: win.dock_selection.isVisible(), timeout=5000)
    win.wait_idle(30)
    sel = win.dock_selection.geometry()
    hists = win.dock_hists.geometry()
    assert sel.right() < hists.left() and sel.left() > win.dock_prompts.geometry().right()
    assert win.dock_hists.height() + win.dock_inspector.height() > 800 - 200
    assert win.hists.height() >= 200 + 60
    assert win.height() == 800  # nothing forced the window taller
    # the selection table's headers are whole
    view = win.selection_table.view
    fm = view.horizontalHeader().fontMetrics()
    for i in range(win.selection_table.model.columnCount()):
        head = str(win.selection_table.model.headerData(i, 1, 0))
        assert view.columnWidth(i) >= fm.horizontalAdvance(head) + 10, head


def test_legend_wraps_instead_of_widening(window: Any, qtbot: Any) -> None:
    m = window.map
    before = m.minimumSizeHint().width()
    n = 12
    labels = ["source", *(f"run {i} with a rather long label T=1.0 p=0.95" for i in range(n))]
    colors = [(120, 120, 120)] * (n + 1)
    group = np.arange(n + 1, dtype=np.int8)
    z = np.linspace(0, 1, n + 1).astype(np.float32)
    m.set_points(np.arange(n + 1, dtype=np.int64), z, z, group, labels, colors)
    assert len(m._checks) == n + 1
    qtbot.waitUntil(lambda: m._checks[-1].isVisible(), timeout=5000)  # shown by the layout
    assert m.minimumSizeHint().width() <= max(before, 500)
    assert m.legend_box.heightForWidth(600) > m.legend_box.heightForWidth(5000)
