"""Issue 18: the prompt table (coverage, toggle, missing values last, run headers), the map's
run markers and selection colour, keyboard navigation and the one palette shared with the
report — on a real window offscreen over a fixture study whose runs cover some prompts only."""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QIcon
from PySide6.QtTest import QTest
from window_helper import new_window

from monoscope.testing.fixture_study import FixtureRun

pytestmark = pytest.mark.ui

LONG_LABEL = "base T=1.2 · smollm2-135m-instruct-q8_0 personalized-films"
RUNS = (
    FixtureRun("instruct T=0.8", "fixture-instruct", 0.8, 0.35, 0.97, (0, 1), covers=12),
    FixtureRun(LONG_LABEL, "fixture-base", 1.2, 0.8, 0.7, (0, 1, 2, 3), covers=5),
)
# prompts book-001..005 have both runs, book-006..012 the first only, book-013..020 none
EXPECTED_COVERAGE = {f"book-{p + 1:03d}": (2 if p < 5 else 1 if p < 12 else 0)
                     for p in range(20)}


@pytest.fixture(scope="module")
def partial_study_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from monoscope.core.analysis.measure import ensure_measured
    from monoscope.core.tasks import TaskState
    from monoscope.testing.fixture_study import build_fixture_study

    path = Path(tmp_path_factory.mktemp("partial")) / "partial.duckdb"
    study = build_fixture_study(path, n_prompts=20, n_source=24, n_generated=8, runs=RUNS)
    ensure_measured(study, study.dataset_id("fixture-reviews"), TaskState())  # once, for all
    study.close()
    return path


@pytest.fixture
def win(qtbot: Any, partial_study_file: Path, tmp_path: Path) -> Iterator[Any]:
    study = tmp_path / "study.duckdb"
    shutil.copy(partial_study_file, study)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    w = new_window(qtbot, settings, study)
    yield w
    w.close()


def _column(p: Any, col: int) -> list[Any]:
    """The column's raw values in the table's current (proxy) order."""
    return [p.model.raw(p.proxy.mapToSource(p.proxy.index(r, 0)).row(), col)
            for r in range(p.proxy.rowCount())]


def _sorted_with_missing_last(values: list[float], descending: bool, n_data: int) -> None:
    data, missing = values[:n_data], values[n_data:]
    assert all(math.isfinite(v) for v in data)
    assert data == sorted(data, reverse=descending)
    assert all(math.isnan(v) for v in missing)


def test_coverage_column_counts_runs_with_samples(win: Any) -> None:
    p = win.prompts
    t = p.model.table
    assert [r.label for r in t.runs] == ["instruct T=0.8", LONG_LABEL]
    got = dict(zip(t.key, t.coverage.tolist(), strict=True))
    assert got == EXPECTED_COVERAGE
    # ... and what the study holds: distinct runs with generations per prompt
    rows = win.study.query(
        "SELECT p.key, count(DISTINCT g.run_id) AS n FROM prompts p LEFT JOIN generations g "
        "ON g.prompt_id = p.id GROUP BY p.key")
    assert {r["key"]: int(r["n"]) for r in rows} == EXPECTED_COVERAGE
    # the cell shows it against the number of runs
    from monoscope.ui.views.prompts import COVERAGE

    row = t.key.index("book-007")
    assert p.model.data(p.model.index(row, COVERAGE)) == "1/2"
    tip = p.model.data(p.model.index(row, COVERAGE), Qt.ItemDataRole.ToolTipRole)
    assert "instruct T=0.8" in tip and LONG_LABEL not in tip


def test_rows_without_data_sort_last_both_ways(win: Any) -> None:
    p = win.prompts
    t = p.model.table
    assert t.measured and t.attribute == "embedding"  # ranked by the embedding index
    assert p.attribute.currentText() == "Embedding spread"
    first, second = p.model.index_column(0), p.model.index_column(1)
    # default: most narrowed first by the first run's index; its 8 uncovered prompts last
    assert p.proxy.sortColumn() == first
    _sorted_with_missing_last(_column(p, first), descending=False, n_data=12)
    for col, n_data in ((first, 12), (second, 5)):
        for order in (Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder):
            p.view.sortByColumn(col, order)
            _sorted_with_missing_last(_column(p, col), order == Qt.SortOrder.DescendingOrder,
                                      n_data)
    # the n column (generated texts per prompt, over the runs): prompts without texts last,
    # both ways
    from monoscope.ui.views.prompts import GENERATED_N

    p.view.sortByColumn(GENERATED_N, Qt.SortOrder.DescendingOrder)
    assert _column(p, GENERATED_N) == [(8, 8)] * 12 + [(0, 0)] * 8
    p.view.sortByColumn(GENERATED_N, Qt.SortOrder.AscendingOrder)
    assert _column(p, GENERATED_N) == [(8, 8)] * 12 + [(0, 0)] * 8
    # the display: an index with the people's range, "–" without data
    row = t.key.index("book-003")
    cell = p.model.data(p.model.index(row, second))
    lo, hi = t.human_lo[row, 1], t.human_hi[row, 1]
    assert cell.startswith(f"{t.index[row, 1]:.2f}") and f"[{lo:.2f}–{hi:.2f}]" in cell
    assert p.model.data(p.model.index(t.key.index("book-015"), second)) == "–"


def test_run_headers_swatch_id_and_full_label(win: Any) -> None:
    p = win.prompts
    t = p.model.table
    rid = t.runs[1].id
    for col in (p.model.index_column(1),):
        text = p.model.headerData(col, Qt.Orientation.Horizontal)
        assert text == f"#{rid} {t.runs[1].model}" and LONG_LABEL not in text
        tip = p.model.headerData(col, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
        assert LONG_LABEL in tip and f"#{rid}" in tip
        icon = p.model.headerData(col, Qt.Orientation.Horizontal,
                                  Qt.ItemDataRole.DecorationRole)
        assert isinstance(icon, QIcon) and not icon.isNull()
        # the swatch is the run's colour
        img = icon.pixmap(12, 12).toImage()
        centre = img.pixelColor(6, 6)
        from monoscope.core.explore import palette

        assert (centre.red(), centre.green(), centre.blue()) == palette.run_colour(rid)
    # prompt titles shown, the key in the tooltip
    from monoscope.ui.views.prompts import TITLE

    row = t.key.index("book-004")
    assert p.model.data(p.model.index(row, TITLE)) == "Fixture Book 4"
    assert "book-004" in p.model.data(p.model.index(row, TITLE), Qt.ItemDataRole.ToolTipRole)


def test_with_runs_toggle_hides_prompts_without_runs(win: Any) -> None:
    p = win.prompts
    assert p.proxy.rowCount() == 20
    p.with_runs.setChecked(True)
    assert sorted(p.visible_keys()) == sorted(k for k, n in EXPECTED_COVERAGE.items() if n)
    assert "12 of 20 prompts" in p.status.text()
    p.filter.setText("Fixture Book 1")  # with the text filter: Book 1, 10, 11, 12
    assert sorted(p.visible_keys()) == ["book-001", "book-010", "book-011", "book-012"]
    p.filter.clear()
    p.with_runs.setChecked(False)
    assert p.proxy.rowCount() == 20


def test_keyboard_moves_prompt_point_tab_and_clears(win: Any, qtbot: Any) -> None:
    p = win.prompts
    win.activateWindow()
    qtbot.waitUntil(lambda: win.isActiveWindow(), timeout=5000)
    p.view.setFocus()
    order = p.visible_keys()
    assert p.current_key() == order[0]
    QTest.keyClick(p.view, Qt.Key.Key_Down, Qt.KeyboardModifier.AltModifier)
    assert p.current_key() == order[1]
    assert win.wait_idle(60) and win.payload.key == order[1]  # the map followed
    QTest.keyClick(p.view, Qt.Key.Key_J)
    QTest.keyClick(p.view, Qt.Key.Key_J)
    assert p.current_key() == order[3]
    QTest.keyClick(p.view, Qt.Key.Key_K)
    QTest.keyClick(p.view, Qt.Key.Key_Up, Qt.KeyboardModifier.AltModifier)
    assert p.current_key() == order[1]
    assert win.wait_idle(60) and win.payload.key == order[1]
    # next point: the prompt's most atypical generated texts first, then the others
    atypical = [win.inspector.atypical_list.item(i).data(Qt.ItemDataRole.UserRole)
                for i in range(win.inspector.atypical_list.count())]
    assert len(atypical) == 8
    QTest.keyClick(p.view, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
    assert win.map.selected_text == atypical[0]
    QTest.keyClick(p.view, Qt.Key.Key_N)
    assert win.map.selected_text == atypical[1]
    QTest.keyClick(p.view, Qt.Key.Key_P)
    assert win.map.selected_text == atypical[0]
    assert win.wait_idle(30) and win.inspector.detail is not None
    assert win.inspector.detail["id"] == atypical[0]  # the inspector shows it
    # Esc clears the selected text, the region and the brush
    win.map.select_polygon(np.array([[-1e3, -1e3], [1e3, -1e3], [1e3, 1e3], [-1e3, 1e3]]))
    win.hists.brush("text.words", 0.0, 30.0, mode="intersect")
    assert win.state.selection is not None
    QTest.keyClick(p.view, Qt.Key.Key_Escape)
    assert win.state.selection is None and win.map.cloud.highlight is None
    assert win.hists.hists["text.words"].range is None
    assert win.map.selected_text is None and not len(win.map.ring.data)
    # Ctrl+1..6: tabs by number
    QTest.keyClick(p.view, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    assert win.tabs.tabText(win.tabs.currentIndex()) == "Compare"
    QTest.keyClick(p.view, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert win.tabs.currentIndex() == 0


def test_shortcuts_page_lists_every_action(win: Any) -> None:
    from PySide6.QtGui import QKeySequence
    from PySide6.QtWidgets import QMenu

    acts = []
    for top in win.menuBar().actions():
        if isinstance(top.menu(), QMenu):
            acts += [a for a in top.menu().actions() if not a.shortcut().isEmpty()]
    want = {k.toString(QKeySequence.SequenceFormat.NativeText) for a in acts
            for k in a.shortcuts()}
    page = win.shortcuts.show_page()
    rows = page.rows()
    shown = {k for keys, _, _ in rows for k in keys.split(" or ")}
    assert want <= shown
    assert {"F5", "Ctrl+F", "Alt+Down", "J", "Alt+Right", "Esc", "Ctrl+1", "F1"} <= shown
    by_keys = {keys: (text, menu) for keys, text, menu in rows}
    assert by_keys["Alt+Down or J"] == ("Next prompt", "Go")
    assert by_keys["Ctrl+2"] == ("Show the Overview tab", "Go")
    page.close()


def test_map_markers_selection_colour_and_report_palette(win: Any, tmp_path: Path) -> None:
    from monoscope.core.explore import palette
    from monoscope.core.report import ReportRequest, build_report
    from monoscope.core.report import figures as F
    from monoscope.core.tasks import TaskState
    from monoscope.ui import theme

    assert win.prompts.select_key("book-002") and win.wait_idle(60)
    m = win.map
    rids = win.payload.points.run_ids
    # each run its own colour and marker shape; the source grey circles
    assert m.cloud.colors[1:] == [palette.run_colour(r) for r in rids]
    assert [s.opts["symbol"] for s in m.cloud.scatters] == ["o", *(palette.run_marker(r)
                                                                  for r in rids)]
    assert len({*m.cloud.symbols[1:]}) == len(rids)
    # the selection ring's colour is no run's and not the source's
    ring = m.ring.opts["pen"].color()
    sel = (ring.red(), ring.green(), ring.blue())
    assert sel == palette.SELECTION
    assert sel not in palette.RUN_COLOURS and sel != theme.source_color()
    assert min(math.dist(sel, c) for c in palette.RUN_COLOURS) > 150
    # the report (its matplotlib figures) draws each run in the window's colour
    res = build_report(win.study, ReportRequest(out=tmp_path / "report"), TaskState())
    assert res.measure is not None
    report_hex = F.colours(res.measure)
    for g, rid in enumerate(rids, start=1):
        window_hex = "#{:02x}{:02x}{:02x}".format(*m.cloud.colors[g])
        assert report_hex[f"run:{rid}"] == window_hex
        svg = (tmp_path / "report" / "map.svg").read_text()
        assert window_hex in svg.lower()
    from monoscope.ui.views.figure_common import group_color

    assert "#{:02x}{:02x}{:02x}".format(*group_color(f"run:{rids[0]}")[:3]) == report_hex[
        f"run:{rids[0]}"]


def test_contours_closed_and_points_inside_the_view(win: Any) -> None:
    assert win.prompts.select_key("book-001") and win.wait_idle(60)
    m = win.map
    for item in (m.contours, m.contours50):
        x, y = item.getData()
        assert x is not None and np.isfinite(x).sum() > 10
        breaks = np.flatnonzero(~np.isfinite(x))
        start = 0
        for b in breaks:  # every curve ends where it starts
            seg_x, seg_y = x[start:b], y[start:b]
            assert seg_x[0] == pytest.approx(seg_x[-1]) and seg_y[0] == pytest.approx(seg_y[-1])
            start = b + 1
    # a margin: every point lies inside the view by more than a marker's half width
    (x0, x1), (y0, y1) = m.vb.viewRange()
    px, py = m.vb.viewPixelSize()
    cx, cy = m.cloud.x, m.cloud.y
    assert (cx - x0 > 6 * px).all() and (x1 - cx > 6 * px).all()
    assert (cy - y0 > 6 * py).all() and (y1 - cy > 6 * py).all()


def test_whole_dataset_draws_runs_over_the_source(win: Any) -> None:
    m = win.map
    m.cloud.point_limit = 500  # the fixture's 2,000 points count as dense here
    win.state.whole_dataset = True
    assert win.wait_idle(60)
    c = m.cloud
    assert c.mode == "raster" and c.overlay
    shown = {g: len(c.scatters[g].data) for g in range(len(c.scatters))}
    runs = {g: int((c.group == g).sum()) for g in range(1, len(c.scatters))}
    assert shown[0] == 0 and {g: shown[g] for g in runs} == runs  # every run point, as points
    assert all(c.scatters[g].zValue() > m.contours.zValue() for g in runs)
    # the raster holds the source alone
    x0, x1, y0, y1, w, h = c._grid()
    lo, hi = np.searchsorted(c._sx, [x0, x1])
    counts = c._bin(lo, hi, x0, y0, w / (x1 - x0), h / (y1 - y0), w, h, c._slayer_base, None)
    assert counts[0].sum() == int((c.group == 0).sum()) and counts[1:len(c.colors)].sum() == 0
