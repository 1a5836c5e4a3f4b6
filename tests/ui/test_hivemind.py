"""The Hivemind view and the inspector's missing modes, in the real window on a real study:
what they show is the stored rows (read back here with SQL), a click on a heatmap cell opens
Compare with those groups, a click on a missing topic lights its human texts on the map."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from monoscope.core.explore.hivemind import HIST_EDGES

pytestmark = pytest.mark.ui

KEYS = ["source", "run:1", "run:2"]


def _set_id(win: Any) -> int:
    return int(win.study.scalar("SELECT max(id) FROM measure_sets"))


def _stored_matrix(win: Any) -> dict[tuple[str, str], dict[str, Any]]:
    rows = win.study.query(
        "SELECT grp, ref, value, lo, hi, prompts, n FROM measurements WHERE set_id = ? "
        "AND prompt_id IS NULL AND attribute = 'embedding' AND stat = 'cross_cosine'",
        [_set_id(win)])
    return {(r["grp"], r["ref"]): r for r in rows}


def _show_hivemind(win: Any, qtbot: Any) -> Any:
    view = win.hivemind
    win.show_view("hivemind")
    assert win.wait_idle(60)
    qtbot.waitUntil(lambda: view.data is not None, timeout=30_000)
    return view


def _click_cell(view: Any, qtbot: Any, i: int, j: int) -> None:
    pos = view.canvas.mapFromScene(view.cell_center(i, j))
    qtbot.mouseClick(view.canvas.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(pos))


def test_heatmap_shows_the_stored_rows(window: Any, qtbot: Any, tmp_path: Path) -> None:
    view = _show_hivemind(window, qtbot)
    stored = _stored_matrix(window)
    assert len(stored) == 9  # source + 2 runs, every ordered pair
    assert view.data.keys == KEYS
    assert view.data.labels == ["source (human)", "#1 instruct T=0.8", "#2 base T=1.2"]
    for (a, b), r in stored.items():
        i, j = KEYS.index(a), KEYS.index(b)
        want = f"{r['value']:.3f}\nn = {r['prompts']} prompts"
        assert view.cell_text(i, j) == want
        assert view.cell_items[(i, j)].textItem.toPlainText() == want  # what is drawn
        assert view.image.image[j, i] == pytest.approx(r["value"], abs=1e-12)
        assert r["prompts"] == 20
    # the yardstick: people against other people, below every run's own similarity here
    assert stored[("source", "source")]["value"] < stored[("run:1", "run:1")]["value"]
    assert "People against other people score " \
        f"{stored[('source', 'source')]['value']:.3f} over 20 prompts" in view.caption.text()
    # the colour scale spans the values (multiples of 0.05) and the bar says so
    lo, hi = view.data.scale
    vals = [r["value"] for r in stored.values()]
    assert lo <= min(vals) < lo + 0.05 and hi - 0.05 < max(vals) <= hi
    assert tuple(view.colorbar.levels()) == pytest.approx((lo, hi))

    # the histogram: per-prompt mean pairwise cosine per group, counted into 0.05 bins
    for key in KEYS:
        per = [r["value"] for r in window.study.query(
            "SELECT value FROM measurements WHERE set_id = ? AND prompt_id IS NOT NULL "
            "AND grp = ? AND ref = '' AND attribute = 'embedding' "
            "AND stat = 'mean_pairwise_cosine'", [_set_id(window), key])]
        assert len(per) == 20
        counts, _ = np.histogram(np.clip(per, 0, 1), bins=np.asarray(HIST_EDGES))
        xs, ys = view.hist_items[key].getData()
        assert list(xs) == pytest.approx(HIST_EDGES)
        assert list(ys) == pytest.approx(list(counts / 20))

    # exports: the figure, and the matrix as CSV equal to the stored rows
    png = view.export(tmp_path / "hivemind.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    out = view.export_matrix(tmp_path / "hivemind.csv")
    with out.open() as fh:
        got = list(csv.DictReader(fh))
    assert len(got) == 9
    for row in got:
        r = stored[(row["grp"], row["ref"])]
        assert float(row["cross_cosine"]) == pytest.approx(r["value"], abs=1e-12)
        assert float(row["ci_lo"]) == pytest.approx(r["lo"]) and int(row["prompts"]) == 20
        assert float(row["n"]) == r["n"]


def test_clicking_a_cell_opens_compare_with_those_groups(window: Any, qtbot: Any) -> None:
    view = _show_hivemind(window, qtbot)
    _click_cell(view, qtbot, 2, 1)  # row run:2, column run:1
    assert window.wait_idle(60)
    assert window.tabs.currentWidget() is window._holders["compare"]
    assert (window.compare.run_a.currentData(), window.compare.run_b.currentData()) == (2, 1)
    qtbot.waitUntil(lambda: window.compare.data is not None
                    and [s.group.key for s in window.compare.data.sides] == ["run:2", "run:1"],
                    timeout=30_000)

    window.show_view("hivemind")
    _click_cell(view, qtbot, 0, 1)  # source against run 1: run 1 over the source
    assert window.wait_idle(60)
    assert window.tabs.currentWidget() is window._holders["compare"]
    assert (window.compare.run_a.currentData(), window.compare.run_b.currentData()) == (1, 1)

    window.show_view("hivemind")
    _click_cell(view, qtbot, 0, 0)  # the yardstick opens nothing
    assert window.tabs.currentWidget() is window._holders["hivemind"]
    assert "yardstick" in view.status.text()


def _stored_missing(win: Any, key: str, run: str) -> list[tuple[str, float, int]]:
    rows = win.study.query(
        "SELECT m.stat, m.value, m.n FROM measurements m JOIN prompts p ON p.id = m.prompt_id "
        "WHERE m.set_id = ? AND p.key = ? AND m.grp = ? AND m.ref = m.grp "
        "AND m.attribute = 'topic' AND m.stat LIKE 'missing_mode:%'", [_set_id(win), key, run])
    got = [(r["stat"].removeprefix("missing_mode:"), r["value"], r["n"]) for r in rows]
    return sorted(got, key=lambda t: (-t[1], float(t[0])))


def test_missing_modes_in_the_inspector(window: Any, qtbot: Any) -> None:
    key = "book-001"
    assert window.prompts.select_key(key) and window.wait_idle(60)
    insp = window.inspector
    insp.tabs.setCurrentIndex(insp.tabs.count() - 1)
    assert insp.tabs.tabText(insp.tabs.currentIndex()) == "Missing"
    assert [insp.missing_run.itemData(i) for i in range(insp.missing_run.count())] == \
        ["run:1", "run:2"]
    topics = {r["topic"]: r["label"] for r in window.study.query(
        "SELECT topic, label FROM topics")}
    for run in ("run:1", "run:2"):
        insp.missing_run.setCurrentIndex(insp.missing_run.findData(run))
        want = _stored_missing(window, key, run)
        assert want  # the fixture's runs never write about some of the people's topics
        shown = insp.missing_modes_shown()
        assert [(m.topic, m.share, m.n_source) for m in shown] == want
        for i, m in enumerate(shown):
            assert m.label == topics[int(m.topic)]
            assert insp.missing_list.item(i).text() == (
                f"topic {m.topic} · {m.label} — {m.share:.0%} of {m.n_source} human texts")
    assert "of the human texts of book-001 that #2 base T=1.2 never wrote about" in \
        insp.missing_note.text()

    # a real click on the first topic of run 1 lights that topic's human texts of the prompt
    insp.missing_run.setCurrentIndex(insp.missing_run.findData("run:1"))
    topic = insp.missing_modes_shown()[0].topic
    item = insp.missing_list.item(0)
    rect = insp.missing_list.visualItemRect(item)
    qtbot.mouseClick(insp.missing_list.viewport(), Qt.MouseButton.LeftButton,
                     pos=rect.center())
    want_ids = {r["id"] for r in window.study.query(
        "SELECT t.id FROM texts t JOIN prompts p ON p.id = t.prompt_id JOIN attributes a "
        "ON a.text_id = t.id AND a.name = 'topic' WHERE p.key = ? AND t.run_id IS NULL "
        "AND a.value = ?", [key, float(topic)])}
    share = insp.missing_modes_shown()[0].share
    assert len(want_ids) == round(share * 30)
    assert set(window.map.highlighted_ids().tolist()) == want_ids
    listed = {int(insp.missing_texts.item(i).data(Qt.ItemDataRole.UserRole))
              for i in range(insp.missing_texts.count())}
    assert listed == want_ids

    # a text of the list opens in the inspector; switching the run unlights the map
    first = insp.missing_texts.item(0)
    qtbot.mouseClick(insp.missing_texts.viewport(), Qt.MouseButton.LeftButton,
                     pos=insp.missing_texts.visualItemRect(first).center())
    assert window.wait_idle(60)
    assert insp.detail is not None and insp.detail["id"] in want_ids
    insp.missing_run.setCurrentIndex(insp.missing_run.findData("run:2"))
    assert window.map.highlighted_ids().size == 0

    # inspecting a generated text shows its run's missing modes
    tid = window.study.scalar(
        "SELECT t.id FROM texts t JOIN prompts p ON p.id = t.prompt_id WHERE p.key = ? "
        "AND t.run_id = 1 ORDER BY t.id LIMIT 1", [key])
    window.inspect(int(tid))
    assert window.wait_idle(60)
    assert insp.missing_run.currentData() == "run:1"

    # another prompt: its own stored rows
    assert window.prompts.select_key("book-005") and window.wait_idle(60)
    assert [(m.topic, m.share, m.n_source) for m in insp.missing_modes_shown()] == \
        _stored_missing(window, "book-005", "run:1")
    # the whole dataset has no per-prompt list
    window.whole.setChecked(True)
    assert window.wait_idle(60)
    assert insp.missing_run.count() == 0 and insp.missing_list.count() == 0
