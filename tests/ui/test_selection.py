"""One selection filters everything, in the real window offscreen on the fixture study: a
histogram range, a lasso, a bar click or a search's hits make one selection (text ids in the
`ExplorerState`), checked against the stored values read by the test itself, and the map, the
plots, the Selection table and the inspector's lists all show that set; the counter, clear-all,
undo/redo; the eCDF and box/strip views against the sorted stored values and independently
computed quantiles."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from monoscope.core.explore.state import ExplorerState

pytestmark = pytest.mark.ui
KEY = "book-003"


def _select(win: Any, key: str = KEY) -> None:
    assert win.prompts.select_key(key) or win.payload.key == key
    assert win.wait_idle(60)
    assert win.payload is not None and win.payload.key == key


def _stored(win: Any, name: str, key: str = KEY) -> dict[int, tuple[float, int | None]]:
    """text id -> (stored value of ``name``, run id or None) of the prompt's texts."""
    rows = win.study.query(
        "SELECT t.id, a.value, t.run_id FROM texts t JOIN prompts p ON p.id = t.prompt_id "
        "JOIN attributes a ON a.text_id = t.id AND a.name = ? WHERE p.key = ?", [name, key])
    return {int(r["id"]): (float(r["value"]), r["run_id"]) for r in rows}


def _map_ids(win: Any, mask: Any) -> set[int]:
    return set(win.map.text_id[mask].tolist())


def test_state_combines_gestures_and_undoes_them() -> None:
    s = ExplorerState()
    s.update(dataset_id=1, prompt="p")
    s.select([1, 2, 3], "lasso")
    s.select([3, 4], "Length 1–2", "add")
    assert s.selection == (1, 2, 3, 4) and s.selection_label == "lasso + Length 1–2"
    s.select([2, 4, 9], "topic = a", "intersect")
    assert s.selection == (2, 4)
    # one dragged range: its updates combine with the selection before the drag, one step
    s.select([7], "r", "add", gesture="g")
    s.select([7, 8], "r", "add", gesture="g")
    assert s.selection == (2, 4, 7, 8)
    assert s.undo() and s.selection == (2, 4)
    assert s.undo() and s.selection == (1, 2, 3, 4)
    assert s.redo() and s.selection == (2, 4) and s.redo() and s.selection == (2, 4, 7, 8)
    assert not s.redo()
    s.clear_selection()
    assert s.selection is None and s.selection_label == ""
    assert s.undo() and s.selection == (2, 4, 7, 8)
    s.select([5], "lasso")  # a new gesture drops the redo steps
    assert not s.can_redo()
    s.prompt = "q"  # another map: no selection, no history
    assert s.selection is None and not s.can_undo()
    with pytest.raises(ValueError, match="replace, add, intersect"):
        s.select([1], "x", "xor")


def test_a_range_filters_map_plots_table_and_inspector(window: Any, tmp_path: Path) -> None:
    win = window
    _select(win)
    words = _stored(win, "text.words")
    want = {i for i, (v, _) in words.items() if 20 <= v <= 35}
    assert 0 < len(want) < len(win.map.text_id)
    win.show_selection_table()
    win.hists.brush("text.words", 20.0, 35.0)
    assert win.wait_idle(60)
    QApplication.processEvents()
    # the state and the map
    assert win.state.selection == tuple(sorted(want))
    assert set(win.map.highlighted_ids().tolist()) == want
    assert win.map.cloud.highlight.sum() == len(want)
    total = len(win.map.text_id)
    counter = f"{len(want)} / {total} texts · Length (words) 20–35"
    assert win.map.info.text() == counter == win.selection_counter()
    assert win.selection_table.counter.text() == counter
    # every plot draws the selection: its own histogram of the selected stored values
    for name, h in win.hists.hists.items():
        assert _map_ids(win, h.selection) == want, name
    h = win.hists.hists["text.words"]
    x, y = h.sel_curve.getData()
    counts, _ = np.histogram([words[i][0] for i in want], bins=h.edges)
    assert np.allclose(y, counts / counts.sum()) and np.allclose(x, h.edges)
    assert h.region.isVisible() and h.range == (20.0, 35.0)
    # the table lists exactly the selected texts with their stored values, sorts, exports
    model = win.selection_table.model
    assert sorted(model.text_ids()) == sorted(want)
    col = 4 + model.table.attributes.index("text.words")
    model.sort(col, Qt.SortOrder.DescendingOrder)
    vals = [words[i][0] for i in model.text_ids()]
    assert vals == sorted(vals, reverse=True)
    assert model.data(model.index(0, col)) == f"{vals[0]:.4g}"
    out = win.selection_table.export(tmp_path / "sel")
    with out.open(encoding="utf-8") as fh:
        got = list(csv.DictReader(fh))
    assert [int(r["text_id"]) for r in got] == model.text_ids()
    assert [float(r["text.words"]) for r in got] == vals
    assert {r["group"] for r in got} <= {"source", "#1 instruct T=0.8", "#2 base T=1.2"}
    win.selection_table.view.clicked.emit(model.index(1, 3))  # a row opens its text
    assert win.wait_idle(60)
    assert win.inspector.detail["id"] == model.text_ids()[1]
    # the inspector's lists hold selected texts only (generated ones), and say so
    generated = {i for i in want if words[i][1] is not None}
    ins = win.inspector
    for lst in (ins.generic_list, ins.atypical_list):
        ids = ins.list_ids(lst)
        assert set(ids) <= generated and len(ids) == min(8, len(generated))
        assert lst.item(0).text() == f"Among the {len(want)} selected texts (Esc shows all)"
    # a click opens a text: its nearest human texts are selected source texts
    src = next(i for i in sorted(want) if words[i][1] is None)
    win._open_text(src)
    assert win.wait_idle(60)
    near = ins.list_ids(ins.near_list)
    assert near and set(near) <= {i for i in want if words[i][1] is None} - {src}
    # Esc clears everything at once; Ctrl+Z brings it back, Ctrl+Shift+Z clears it again
    win.activateWindow()
    QTest.keyClick(win.prompts.view, Qt.Key.Key_Escape)
    assert win.wait_idle(60)
    assert win.state.selection is None and win.map.cloud.highlight is None
    assert win.map.info.text() == f"{total} texts" and not h.region.isVisible()
    assert all(hh.selection is None for hh in win.hists.hists.values())
    assert len(model.text_ids()) == total  # no selection: the table lists the whole map
    assert ins.generic_list.count() == 8 and ins.list_ids(ins.generic_list)[0] is not None
    QTest.keyClick(win.prompts.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert win.wait_idle(60)
    assert set(win.map.highlighted_ids().tolist()) == want
    assert sorted(model.text_ids()) == sorted(want) and win.map.info.text() == counter
    QTest.keyClick(win.prompts.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier
                   | Qt.KeyboardModifier.ShiftModifier)
    assert win.wait_idle(60)
    assert win.state.selection is None and win.map.cloud.highlight is None
    # the Clear buttons clear it too
    win.hists.brush("text.words", 20.0, 35.0)
    win.selection_table.clear_button.click()
    assert win.state.selection is None
    win.hists.brush("text.words", 20.0, 35.0)
    win.map.clear_button.click()
    assert win.state.selection is None and not win.map.clear_button.isEnabled()


def test_lasso_bar_click_and_search_are_gestures_of_the_one_selection(window: Any) -> None:
    win, m = window, window.map
    _select(win)
    x, y = m.cloud.x, m.cloud.y
    mid = float(np.median(x))
    left = np.array([[x.min() - 1, y.min() - 1], [mid, y.min() - 1], [mid, y.max() + 1],
                     [x.min() - 1, y.max() + 1]])
    m.select_polygon(left)
    want_left = set(m.text_id[x <= mid].tolist())
    assert set(win.state.selection) == want_left and win.state.selection_label == "lasso"
    # a bar click on a topic selects its texts; Shift adds it to the lasso
    topic = _stored(win, "topic")
    t0 = {i for i, (v, _) in topic.items() if v == 0}
    assert t0
    win.hists.hists["topic"].click_category(0.1, mode="add")
    assert set(win.state.selection) == want_left | t0
    assert set(m.highlighted_ids().tolist()) == want_left | t0
    assert win.state.selection_label.startswith("lasso + Topic = ")
    win.hists.hists["topic"].click_category(-0.2)  # replaces
    assert set(win.state.selection) == t0
    # a search's hits are the selection (checked against a scan of the stored bodies)
    bodies = {int(r["id"]): str(r["body"]) for r in win.study.query(
        "SELECT t.id, t.body FROM texts t JOIN prompts p ON p.id = t.prompt_id WHERE p.key=?",
        [KEY])}
    hold = {i for i, b in bodies.items() if "dull" in re.findall(r"\w+", b.lower())}
    assert hold
    win.search.set_scope("prompt")
    win.search.run("dull", mode="replace")
    assert win.wait_idle(60)
    assert set(win.state.selection) == hold and win.state.selection_label == "search “dull”"
    assert set(m.highlighted_ids().tolist()) == hold
    assert _map_ids(win, win.hists.hists["text.words"].selection) == hold
    # Shift-search adds to it; undo walks back through the gestures
    win.search.run("plot", mode="add")
    assert win.wait_idle(60)
    plot = {i for i, b in bodies.items() if "plot" in re.findall(r"\w+", b.lower())}
    assert set(win.state.selection) == hold | plot
    assert win.shortcuts.undo() and set(win.state.selection) == hold
    assert win.shortcuts.undo() and set(win.state.selection) == t0
    assert win.shortcuts.redo() and set(win.state.selection) == hold
    # in the current-prompt scope the search follows the prompt: its hits there are selected
    other = "book-007"
    _select(win, other)
    QApplication.processEvents()
    bodies7 = {int(r["id"]): str(r["body"]) for r in win.study.query(
        "SELECT t.id, t.body FROM texts t JOIN prompts p ON p.id = t.prompt_id WHERE p.key=?",
        [other])}
    want7 = {i for i, b in bodies7.items() if {"plot"} <= set(re.findall(r"\w+", b.lower()))}
    assert set(win.state.selection or ()) == want7 and want7
    assert win.state.selection_label == "search “plot”"
    # an emptied search clears the selection it made (undoable; this map's history only)
    win.search.run("  ")
    assert win.state.selection is None
    assert win.shortcuts.undo() and set(win.state.selection) == want7
    assert win.shortcuts.undo() and win.state.selection is None and not win.shortcuts.undo()


def test_ecdf_and_box_views_show_the_stored_values(window: Any) -> None:
    win = window
    _select(win)
    words = _stored(win, "text.words")
    runs = sorted({r for _, r in words.values() if r is not None})
    groups = [None, *runs]
    win.hists.set_mode("ecdf")
    h = win.hists.hists["text.words"]
    assert h.mode == "ecdf" and win.hists.mode_buttons["ecdf"].isChecked()
    for g, run in enumerate(groups):
        stored = sorted(v for v, r in words.values() if r == run)
        e = h.ecdfs[g]
        assert e.x.tolist() == stored
        assert np.allclose(e.y, np.arange(1, len(stored) + 1) / len(stored))
        xs, ys = h.group_items[g].getData()  # the drawn steps go through every value
        assert xs[1::2].tolist() == stored and np.allclose(ys[1::2], e.y)
    src = np.array([v for v, r in words.values() if r is None])
    lo, hi = np.quantile(src, [0.1, 0.9])
    assert h.band == pytest.approx((lo, hi), abs=1e-12)
    # the selection over an eCDF: the selected texts' own eCDF
    win.hists.brush("text.words", 20.0, 35.0)
    sel = sorted(v for v in (words[i][0] for i in win.state.selection))
    xs, ys = h.sel_curve.getData()
    assert xs[1::2].tolist() == sel and np.isclose(ys[-1], 1.0)
    # box/strip: quartiles of the stored values, every text a point, the same band
    win.hists.set_mode("box")
    for g, run in enumerate(groups):
        stored = np.array([v for v, r in words.values() if r == run])
        b = h.boxes[g]
        q1, med, q3 = np.quantile(stored, [0.25, 0.5, 0.75])
        assert (b.low, b.q1, b.median, b.q3, b.high) == pytest.approx(
            (stored.min(), q1, med, q3, stored.max()))
        assert sorted(h.group_items[g].data["x"].tolist()) == sorted(stored.tolist())
    assert h.band == pytest.approx((lo, hi), abs=1e-12)
    assert sorted(h.sel_points.data["x"].tolist()) == sel  # the selected points ringed
    # topics stay bars; the histogram again
    assert win.hists.hists["topic"].drawn_mode == "hist"
    win.hists.set_mode("hist")
    assert h.drawn_mode == "hist" and not h.ecdfs and h.band is None
    # the kind is kept for the next prompt's plots
    win.hists.set_mode("ecdf")
    _select(win, "book-004")
    assert win.hists.hists["text.words"].mode == "ecdf"
    assert win.hists.hists["text.words"].ecdfs[0].x.tolist() == sorted(
        v for v, r in _stored(win, "text.words", "book-004").values() if r is None)
