"""Drive the real explorer window offscreen on a real DuckDB study."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest
from window_helper import new_window

pytestmark = pytest.mark.ui


def _select(win: Any, key: str) -> None:
    assert win.prompts.select_key(key)
    assert win.wait_idle(60)
    assert win.payload is not None and win.payload.key == key


def test_select_prompt_loads_map_and_histograms(window: Any) -> None:
    _select(window, "book-005")
    m = window.map
    st = window.study
    pid = st.scalar("SELECT id FROM prompts WHERE key='book-005'")
    want = {r["id"] for r in st.query("SELECT id FROM texts WHERE prompt_id=?", [pid])}
    assert set(m.text_id.tolist()) == want and len(want) == 70
    assert "book-005" in m.title.text()
    assert [c.text() for c in m._checks] == ["source (30)", "#1 instruct T=0.8 (20)",
                                             "#2 base T=1.2 (20)"]
    assert {"sentiment.vader", "text.words", "text.ttr", "topic"} <= set(window.hists.hists)
    # the histogram's dispersion ratio is the prompt table's monoculture index
    assert window.prompts.set_attribute("sentiment.vader") and window.wait_idle(60)
    t = window.prompts.model.table
    assert t.attribute == "sentiment.vader"
    row = t.key.index("book-005")
    stats = window.hists.hists["sentiment.vader"].stats.text()
    assert "label entropy" in stats
    for j in range(len(t.runs)):
        assert f"×{t.index[row, j]:.2f}" in stats
    # Generic / atypical lists were filled for this prompt
    assert window.inspector.generic_list.count() == 8
    assert window.inspector.atypical_list.count() == 8


def test_brush_histogram_highlights_exactly_those_points(window: Any) -> None:
    _select(window, "book-002")
    window.hists.brush("text.words", 20.0, 35.0)
    got = set(window.map.highlighted_ids().tolist())
    pid = window.study.scalar("SELECT id FROM prompts WHERE key='book-002'")
    want = {r["id"] for r in window.study.query(
        "SELECT t.id FROM texts t JOIN attributes a ON a.text_id=t.id AND a.name='text.words' "
        "WHERE t.prompt_id=? AND a.value BETWEEN 20 AND 35", [pid])}
    assert want and got == want
    # a second range narrows the selection with Ctrl (intersect), else replaces it
    window.hists.brush("topic", -0.5, 0.5, mode="intersect")
    both = {r["id"] for r in window.study.query(
        "SELECT t.id FROM texts t JOIN attributes a ON a.text_id=t.id AND a.name='text.words' "
        "JOIN attributes b ON b.text_id=t.id AND b.name='topic' WHERE t.prompt_id=? "
        "AND a.value BETWEEN 20 AND 35 AND b.value = 0", [pid])}
    assert set(window.map.highlighted_ids().tolist()) == both
    window.hists.brush("topic", -0.5, 0.5)
    topic0 = {r["id"] for r in window.study.query(
        "SELECT t.id FROM texts t JOIN attributes b ON b.text_id=t.id AND b.name='topic' "
        "WHERE t.prompt_id=? AND b.value = 0", [pid])}
    assert set(window.map.highlighted_ids().tolist()) == topic0
    window.hists.brush("text.words", None)  # not the selection's range: nothing changes
    assert set(window.map.highlighted_ids().tolist()) == topic0
    window.hists.brush("topic", None)
    assert window.map.cloud.highlight is None


def test_click_point_shows_text_in_inspector(window: Any, qtbot: Any) -> None:
    _select(window, "book-004")
    m = window.map
    gen = np.flatnonzero(m.cloud.group == 2)
    # the base-run point furthest from the others, so the click cannot hit a neighbour
    xy = np.column_stack([m.cloud.x, m.cloud.y])
    d = np.linalg.norm(xy[gen][:, None] - xy[None], axis=2)
    d[d == 0] = np.inf
    idx = int(gen[np.argmax(d.min(axis=1))])
    scene = m.scene_pos_of(idx)
    vp = m.plot.viewport()
    local = m.plot.mapFromScene(scene)
    QTest.mouseClick(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     QPoint(local.x(), local.y()))
    assert window.wait_idle(30)
    tid = int(m.text_id[idx])
    assert m.selected_text == tid
    detail = window.inspector.detail
    assert detail is not None and detail["id"] == tid
    body = window.study.scalar("SELECT body FROM texts WHERE id=?", [tid])
    assert window.inspector.body.toPlainText() == body
    assert detail["model"] == "fixture-base" and detail["seed"] is not None
    assert window.inspector.near_list.count() == 5
    assert '"nearest_source"' in window.inspector.as_json()
    # one click on a "most atypical" item opens it
    item = window.inspector.atypical_list.item(0)
    window.inspector.atypical_list.itemClicked.emit(item)
    assert window.wait_idle(30)
    assert window.inspector.detail["id"] == item.data(Qt.ItemDataRole.UserRole)


def test_lasso_selection_and_group_toggle(window: Any) -> None:
    _select(window, "book-006")
    m = window.map
    x, y = m.cloud.x, m.cloud.y
    cx, cy = float(np.median(x)), float(np.median(y))
    r = float(np.std(x))
    poly = np.array([[cx - r, cy - r], [cx + r, cy - r], [cx + r, cy + r], [cx - r, cy + r]])
    mask = m.select_polygon(poly)
    want = (x > cx - r) & (x < cx + r) & (y > cy - r) & (y < cy + r)
    assert mask.sum() > 0 and (mask == want).all()
    curve = window.hists.hists["text.words"].sel_curve
    assert curve.getData()[1] is not None and len(curve.getData()[1]) > 0
    # hiding the source removes its points from picking and from selections
    m.set_group_visible(0, False)
    src = np.flatnonzero(m.cloud.group == 0)[0]
    hit = m.cloud.pick(float(x[src]), float(y[src]), 1e-9)
    assert hit is None or m.cloud.group[hit] != 0
    assert not (m.select_polygon(poly) & (m.cloud.group == 0)).any()


def test_whole_dataset_map(window: Any) -> None:
    window.whole.setChecked(True)
    assert window.wait_idle(60)
    assert len(window.map.text_id) == 20 * 70
    assert "whole dataset" in window.map.title.text()


def test_export_plot_png_svg_and_table(window: Any, tmp_path: Path) -> None:
    _select(window, "book-001")
    png = window.actions_.export_plot(str(tmp_path / "map.png"))
    svg = window.actions_.export_plot(str(tmp_path / "map.svg"))
    assert png is not None and png.stat().st_size > 1000
    assert svg is not None and svg.stat().st_size > 1000
    assert "<svg" in svg.read_text()[:2000]
    img = QImage(str(png))
    vp = window.map.plot.viewport().rect()
    assert (img.width(), img.height()) == (vp.width() * 2, vp.height() * 2)
    hist_png = window.hists.export("text.ttr", tmp_path / "ttr.png")
    assert QImage(str(hist_png)).width() > 100
    svgs = window.actions_.export_hists(str(tmp_path / "h.svg"))
    assert {p.name for p in svgs} >= {"h-text.words.svg", "h-topic.svg", "h-sentiment.vader.svg"}
    assert all(p.stat().st_size > 500 for p in svgs)
    csv = window.actions_.export_table(str(tmp_path / "prompts.csv"))
    pq = window.actions_.export_table(str(tmp_path / "prompts.parquet"))
    assert csv is not None and csv.read_text().count("\n") == 21
    import pyarrow.parquet as papq

    assert papq.read_table(pq).num_rows == 20


def test_prompt_table_filter_and_sort(window: Any) -> None:
    p = window.prompts
    assert p.proxy.rowCount() == 20
    # default sort: most narrowed (lowest index of the first run) first, NaN last
    col = p.model.index_column(0)
    run = p.model.table.runs[0]
    assert p.model.headers()[col] == f"#{run.id} {run.model}"
    idx_col = [p.model.raw(p.proxy.mapToSource(p.proxy.index(r, 0)).row(), col)
               for r in range(20)]
    finite = [v for v in idx_col if not np.isnan(v)]
    assert finite == sorted(finite)
    p.filter.setText("book-01")
    assert sorted(p.visible_keys()) == [f"book-{i:03d}" for i in range(10, 20)]
    p.filter.setText("fixture book 7")  # titles match too
    assert p.visible_keys() == ["book-007"]
    p.filter.clear()
    p.view.sortByColumn(0, Qt.SortOrder.DescendingOrder)  # titles, numbers by value
    assert p.visible_keys()[:3] == ["book-020", "book-019", "book-018"]
    # ranking by another attribute recomputes the index
    assert p.attribute.currentText() == "Embedding spread"  # the default, in plain words
    assert p.set_attribute("topic")
    assert window.wait_idle(60)
    assert p.model.table.attribute == "topic"


def test_drop_files_and_recent(window: Any, study_copy: Path, tmp_path: Path) -> None:
    assert window.actions_.recent()[0] == str(study_copy)
    assert window.actions_.handle_drop(str(tmp_path / "notes.txt")) == "unknown"
    assert "notes.txt" in window.status.text()
    other = tmp_path / "other.duckdb"
    import shutil

    window.close_study()
    shutil.copy(study_copy, other)
    assert window.actions_.handle_drop(str(other)) == "open"
    assert window.wait_idle(60)
    assert window.study.path == other and window.prompts.proxy.rowCount() == 20


def test_errors_become_messages(window: Any, tmp_path: Path) -> None:
    bad = tmp_path / "bad.duckdb"
    bad.write_text("not a database")
    assert not window.open_study(bad)
    msg = window.status.text()
    assert "Traceback" not in msg and "bad.duckdb" in msg
    assert window.study is not None  # the old study stays open


def test_open_demo_and_import_a_dropped_csv(qtbot: Any, settings: Any, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """First launch without a study: 'Open the demo' creates the demo study in the data folder
    and imports the real films demo; a dropped CSV goes through the import dialog and the real
    table importer and becomes a second dataset (the map chains are only recorded here; they
    run for real in test_first_run)."""
    from monoscope.core import assets

    # the demo's reviews from the set-up's data folder (fetching them is test_assets' work):
    # no network here
    reviews = assets.locate("rotten-tomatoes", fetch_if_missing=False)
    monkeypatch.setenv("MONOSCOPE_ASSET_ROTTEN_TOMATOES", str(reviews))
    monkeypatch.setenv("MONOSCOPE_DATA_DIR", str(tmp_path / "data"))
    win = new_window(qtbot, settings, size=None)
    chains: list[str] = []
    monkeypatch.setattr(win.actions_, "run_chain", lambda name, *a, **k: chains.append(name))
    assert win.study is None
    win.actions_.open_demo()
    assert win.wait_idle(120)
    assert win.study is not None and win.study.path == tmp_path / "data" / "demo.duckdb"
    n_films = win.study.scalar("SELECT count(*) FROM prompts p JOIN datasets d "
                               "ON d.id=p.dataset_id WHERE d.name='films'")
    assert n_films > 100 and win.prompts.proxy.rowCount() == n_films
    assert "No map" in win.map.title.text()  # imported; the map chain computes it
    assert chains == ["map"]

    csv = tmp_path / "my_reviews.csv"
    csv.write_text("book,review\nb1,Loved it.\nb1,Too long.\nb2,Fine.\n")
    assert win.actions_.handle_drop(str(csv)) == "import"
    assert win.wait_idle(60)
    dlg = win.actions_.import_dlg
    assert dlg is not None and dlg.mapping()["key"] == "book" and dlg.mapping()["text"] == "review"
    dlg.start_import()
    assert win.wait_idle(60)
    assert chains == ["map", "map"]
    assert win.prompts.dataset.currentText().startswith("my_reviews")
    assert sorted(win.prompts.visible_keys()) == ["b1", "b2"]
    win.close()


@pytest.mark.qt_log_ignore("does not support raise")  # offscreen tooltip, harmless
def test_shortcuts_hover_and_settings(window: Any, settings: Any, study_copy: Path) -> None:
    acts = window.actions_.actions
    keys = {name: acts[name].shortcut().toString() for name in
            ("open", "new", "export_plot", "new_run", "filter", "refresh")}
    assert keys == {"open": "Ctrl+O", "new": "Ctrl+N", "export_plot": "Ctrl+E",
                    "new_run": "Ctrl+R", "filter": "Ctrl+F", "refresh": "F5"}
    acts["filter"].trigger()
    assert window.prompts.filter.hasFocus() or window.focusWidget() is window.prompts.filter
    # hover shows the snippet of the text under the cursor
    _select(window, "book-008")
    from PySide6.QtWidgets import QToolTip

    m = window.map
    idx = int(np.flatnonzero(m.cloud.group == 1)[0])
    m._hover(m.scene_pos_of(idx))
    assert window.wait_idle(30)  # the snippet is read in a worker
    hit = m.pick(float(m.cloud.x[idx]), float(m.cloud.y[idx]))
    body = window.study.scalar("SELECT body FROM texts WHERE id=?", [int(m.text_id[hit])])
    assert body.split()[0] in QToolTip.text() and "instruct T=0.8" in QToolTip.text()
    # layout and the last study are remembered
    window.close()
    settings.sync()
    assert settings.value("study/last") == str(study_copy)
    assert settings.value("window/state") is not None
    from monoscope.ui.main_window import MainWindow

    again = MainWindow(settings=settings)
    assert again._sized and again.actions_.recent()[0] == str(study_copy)
    again.close()


def test_dropped_gguf_offers_a_run_with_that_model(window: Any, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from monoscope.ui.views import run_dialog

    seen: list[str] = []

    def fake_exec(self: Any) -> int:
        seen.append(self.model_box.currentData())
        return 0  # the user cancels

    monkeypatch.setattr(run_dialog.RunDialog, "exec", fake_exec)
    model = tmp_path / "my-model.gguf"
    model.write_bytes(b"GGUF")
    assert window.actions_.handle_drop(str(model)) == "run"
    assert seen == [str(model)]
    assert window.dock_runs is not None and "runs" in window.extra_views


def test_menu_shortcuts_cover_common_actions(window: Any) -> None:
    """Every common action is in the menus with its shortcut, incl. Run ▸ Replicate the paper."""
    acts = window.actions_.actions
    expected = {"open": "Ctrl+O", "new": "Ctrl+N", "export_plot": "Ctrl+E", "new_run": "Ctrl+R",
                "replicate": "Ctrl+Shift+R", "filter": "Ctrl+F", "refresh": "F5"}
    for name, key in expected.items():
        assert acts[name].shortcut().toString() == key, name
    assert "Replicate the paper" in acts["replicate"].text().replace("&", "")


def test_switching_prompts_and_refresh_compute_nothing(window: Any,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Once measured, switching prompts (table, map, histogram captions) and F5 on an
    unchanged study read stored rows: the measure stage's computation never runs."""
    from monoscope.core.analysis import measure

    calls: list[int] = []

    def computed(*_a: Any, **_k: Any) -> Any:
        calls.append(1)
        raise AssertionError("statistics computed while switching prompts")

    monkeypatch.setattr(measure, "_compute", computed)
    set_id = window.set_id
    assert set_id is not None
    for key in ("book-003", "book-007", "book-011"):
        _select(window, key)
        stats = window.hists.hists["sentiment.vader"].stats.text()
        # the captions show the stored rows of this prompt: n, index, the human range
        idx = window.study.scalar(
            "SELECT m.value FROM measurements m JOIN prompts p ON p.id = m.prompt_id "
            "WHERE m.set_id = ? AND p.key = ? AND m.attribute = 'sentiment.vader' "
            "AND m.grp = 'run:1' AND m.ref = 'run:1' AND m.stat = 'index'", [set_id, key])
        assert f"×{idx:.2f}" in stats and "people" in stats and "n=20" in stats
    loaded = dict.fromkeys(("overview", "sweep", "compare", "accumulation", "hivemind"), 0)
    for name in loaded:
        window.extra_views[name].loaded.connect(
            lambda name=name: loaded.__setitem__(name, loaded[name] + 1))
    window.actions_.actions["refresh"].trigger()  # F5 reloads every view
    assert window.wait_idle(60)
    # the views behind other tabs reload when shown, never while hidden
    assert all(n == 0 for n in loaded.values()), loaded
    for name in loaded:
        window.show_view(name)
        assert window.wait_idle(60)
    assert all(n >= 1 for n in loaded.values()), loaded
    assert calls == [] and window.set_id == set_id


def test_sweep_point_opens_its_run_in_compare(window: Any) -> None:
    """Sweep's run_activated (a click on a point) brings Compare to the front on that run."""
    sweep, compare = window.extra_views["sweep"], window.extra_views["compare"]
    assert sweep.data is None  # a tab behind the map loads when it is first shown
    window.show_view("sweep")
    assert window.wait_idle(60)
    assert sweep.data is not None and sweep.data.points
    rid = sweep.data.points[-1].group.run_id
    sweep.run_activated.emit(rid)
    assert window.wait_idle(60)
    assert window.current_view() is compare
    assert compare.run_a.currentData() == rid and compare.run_b.currentData() != rid
    assert compare.data is not None and compare.data.sides[0].group.run_id == rid
    window.show_view("accumulation")
    acc = window.extra_views["accumulation"]
    assert window.current_view() is acc and acc.prompt_key == window.state.prompt


def test_a_switch_reuses_the_map_items_and_shows_the_new_prompts_numbers(window: Any) -> None:
    """A prompt switch between prompts of the same runs keeps the legend's check boxes and the
    scatter items, but shows the new prompt's counts, every group again, and the source
    contours computed in the worker equal those computed from the drawn points."""
    from monoscope.ui.contours import source_contours

    _select(window, "book-005")
    m = window.map
    checks, scatters = list(m._checks), list(m.cloud.scatters)
    m.set_group_visible(1, False)
    _select(window, "book-007")
    st = window.study
    pid = st.scalar("SELECT id FROM prompts WHERE key='book-007'")
    n_src = st.scalar("SELECT count(*) FROM texts WHERE prompt_id=? AND origin='source'", [pid])
    assert m._checks == checks and m.cloud.scatters == scatters  # the same widgets and items
    assert m._checks[0].text() == f"source ({n_src})"
    assert all(c.isChecked() for c in m._checks) and all(m.cloud.visible)
    src = m.cloud.group == 0
    want = source_contours(m.cloud.x[src], m.cloud.y[src])
    for item, (px, py) in zip((m.contours50, m.contours), want, strict=True):
        gx, gy = item.getData()
        np.testing.assert_allclose(gx, px)
        np.testing.assert_allclose(gy, py)
    # the histograms were drawn for the new prompt's texts, after the map
    assert window._tail_pending is None
    assert len(window.hists.hists["text.words"].data.values) == len(m.text_id)
