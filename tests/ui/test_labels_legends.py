"""Issue 18 review: legends beside the data (never over it), a prompt table that fits a
1280-wide window with four runs, and two runs of one model told apart (`#id`) in every view."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QStyleOptionViewItem

from monoscope.core.explore.labels import elide, group_label, run_label, run_short_label
from monoscope.testing.fixture_study import FixtureRun

pytestmark = pytest.mark.ui

LONG = "base T=1.2 · smollm2-135m-instruct-q8_0 personalized-films"
# runs 1 and 2: one model, one label (the worst case); 3 and 4: another model
RUNS = (
    FixtureRun("instruct T=0.8", "fixture-instruct", 0.8, 0.35, 0.97, (0, 1)),
    FixtureRun("instruct T=0.8", "fixture-instruct", 0.8, 0.5, 0.9, (0, 2)),
    FixtureRun(LONG, "fixture-base", 1.2, 0.8, 0.7, (0, 1, 2, 3)),
    FixtureRun("base T=0.6", "fixture-base", 0.6, 0.6, 0.8, (1, 2)),
)
IDS = (1, 2, 3, 4)


@pytest.fixture(scope="module")
def four_runs_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from monoscope.core.analysis.measure import ensure_measured
    from monoscope.core.tasks import TaskState
    from monoscope.testing.fixture_study import build_fixture_study

    path = Path(tmp_path_factory.mktemp("four")) / "four.duckdb"
    study = build_fixture_study(path, n_prompts=8, n_source=16, n_generated=6, runs=RUNS)
    assert [r["id"] for r in study.query("SELECT id FROM runs ORDER BY id")] == list(IDS)
    ensure_measured(study, study.dataset_id("fixture-reviews"), TaskState())
    study.close()
    return path


def _window(qtbot: Any, src: Path, tmp_path: Path, size: tuple[int, int]) -> Any:
    """The real window on a copy, with fresh settings (first launch: the docks fitted)."""
    from monoscope.ui.main_window import MainWindow

    study = tmp_path / "study.duckdb"
    shutil.copy(src, study)
    w = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    w.setProperty("quiet_errors", True)
    qtbot.addWidget(w)
    w.resize(*size)
    w.show()
    qtbot.waitUntil(lambda: (w.width(), w.height()) == size, timeout=5000)
    assert w.open_study(study)
    assert w.wait_idle(120)
    return w


@pytest.fixture
def win1280(qtbot: Any, four_runs_file: Path, tmp_path: Path) -> Iterator[Any]:
    w = _window(qtbot, four_runs_file, tmp_path, (1280, 800))
    yield w
    w.close()


def test_run_label_helpers() -> None:
    assert run_label(3, "smollm2 personalized T=1 p=0.95") == "#3 smollm2 personalized T=1 p=0.95"
    assert run_label(3, "#3 smollm2") == "#3 smollm2"  # never twice
    assert run_label(3, "") == "#3"
    assert run_label(1, "a") != run_label(2, "a")
    assert run_short_label(12, "gemma3-base") == "#12 gemma3-base"
    assert group_label("source") == "source (human)"
    assert group_label("run:7", "x  y") == "#7 x y"
    cut = elide(run_label(2, LONG), 26)
    assert cut == "#2 base T=1.…nalized-films"


def _visible(canvas: Any) -> Any:
    return canvas.mapToScene(canvas.viewport().rect()).boundingRect()


@pytest.mark.parametrize("size", [(1280, 800), (1920, 1080)])
def test_legends_sit_beside_the_plots(qtbot: Any, four_runs_file: Path, tmp_path: Path,
                                      size: tuple[int, int]) -> None:
    win = _window(qtbot, four_runs_file, tmp_path, size)
    try:
        pairs = {"sweep": lambda v: [(v.plot, v.legend)],
                 "hivemind": lambda v: [(v.hist, v.legend), (v.heat, v.legend)],
                 "accumulation": lambda v: [(v.plot, v.legend)]}
        for name, plots in pairs.items():
            win.show_view(name)
            assert win.wait_idle(120)
            view = getattr(win, name)
            qtbot.waitUntil(lambda v=view: v.data is not None, timeout=30_000)
            for _ in range(3):
                qtbot.wait(20)
            visible = _visible(view.canvas)
            for plot, legend in plots(view):
                assert len(legend.items) >= 3, name
                box = legend.sceneBoundingRect()
                data = plot.vb.sceneBoundingRect()
                assert box.width() > 50 and box.height() > 30, (name, box)
                assert not box.intersects(data), (name, box, data)  # off the data
                assert visible.contains(box), (name, box, visible)  # whole, not clipped
                for _sample, label in legend.items:
                    assert visible.contains(label.sceneBoundingRect()), (name, label.text)
    finally:
        win.close()


def test_prompt_table_fits_1280_with_four_runs(qtbot: Any, win1280: Any) -> None:
    from monoscope.ui.views.prompts import COVERAGE, GENERATED_N, SOURCE_N, TITLE

    p = win1280.prompts
    m, view = p.model, p.view
    assert len(m.table.runs) == 4
    for _ in range(3):
        qtbot.wait(20)
    assert not view.horizontalScrollBar().isVisible()
    assert view.horizontalHeader().length() <= view.viewport().width()
    right = view.viewport().width()
    for col in (TITLE, COVERAGE, SOURCE_N, GENERATED_N, *(m.index_column(i) for i in range(4))):
        assert view.columnViewportPosition(col) >= 0
        assert view.columnViewportPosition(col) + view.columnWidth(col) <= right, col
    assert view.columnWidth(TITLE) >= 90
    # each run's header: '#id model' (the id first, kept when the header is cut), the full
    # label in the tooltip
    heads = [m.headerData(m.index_column(i), Qt.Orientation.Horizontal) for i in range(4)]
    assert heads == ["#1 fixture-instruct", "#2 fixture-instruct", "#3 fixture-base",
                     "#4 fixture-base"]
    tip = m.headerData(m.index_column(2), Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
    assert f"#3 {LONG}" in tip
    # every index column holds at least the short form of its cells ("0.43▼")
    bold = QFont(view.font())
    bold.setBold(True)
    fm = QFontMetrics(bold)
    for i in range(4):
        col = m.index_column(i)
        widest = max(fm.horizontalAdvance(m.display(r, col).split(" [")[0])
                     for r in range(m.rowCount()))
        assert view.columnWidth(col) >= widest + 8
    # the n column: generated texts per prompt, each run's count in the tooltip
    assert m.display(0, GENERATED_N) == "6"
    tip = m.data(m.index(0, GENERATED_N), Qt.ItemDataRole.ToolTipRole)
    assert tip.count("6 generated texts") == 4 and "#2 instruct T=0.8" in tip


def test_index_cells_show_their_interval_when_there_is_room(qtbot: Any) -> None:
    from monoscope.core.explore.queries import PromptTable, RunInfo
    from monoscope.ui.views.prompts import PromptsPanel

    table = PromptTable(
        attribute="topic", prompt_id=np.array([1]), key=["a"], title=["A"],
        n_source=np.array([30]), runs=[RunInfo(1, "instruct T=0.8", "m", "finished", {}, 8)],
        n_generated=np.array([[8]]), source_dispersion=np.array([2.0]),
        dispersion=np.array([[0.5]]), index=np.array([[0.25]]), matched_n=np.array([[8]]),
        human_lo=np.array([[0.7]]), human_hi=np.array([[1.2]]), measured=True)
    panel = PromptsPanel()
    qtbot.addWidget(panel)
    panel.show()
    panel.set_table(table)
    col = panel.model.index_column(0)

    def shown(width: int) -> str:
        panel.resize(width, 300)
        qtbot.waitUntil(lambda: panel.width() == width, timeout=5000)
        idx = panel.proxy.index(0, col)
        opt = QStyleOptionViewItem()
        opt.initFrom(panel.view)
        opt.rect = panel.view.visualRect(idx)
        panel.index_delegate.initStyleOption(opt, idx)
        assert not panel.view.horizontalScrollBar().isVisible()
        return str(opt.text)

    assert shown(700) == "0.25▼ [0.70–1.20]"  # wide: with the people's range
    assert shown(300) == "0.25▼"  # narrow: the index alone (the range in the tooltip)


def test_runs_of_one_model_are_told_apart_everywhere(qtbot: Any, win1280: Any) -> None:
    win = win1280
    want = {rid: run_label(rid, r.label) for rid, r in zip(IDS, RUNS, strict=True)}
    assert want[1] == "#1 instruct T=0.8" and want[2] == "#2 instruct T=0.8"

    def each_run_once(texts: list[str], where: str) -> None:
        """Every run named by its own '#id' label, in one entry each."""
        for rid in IDS:
            hits = [t for t in texts if t.startswith(f"#{rid} ") or f" #{rid} " in f" {t}"]
            assert len(hits) == 1, (where, rid, texts)
        runs = [t for t in texts if "#" in t]
        assert len(set(runs)) == len(runs), (where, texts)

    # the map's legend and the histograms' captions (also under eCDF and box plots)
    each_run_once([c.text() for c in win.map._checks], "map legend")
    assert [c.text() for c in win.map._checks][1:3] == [f"{want[1]} (6)", f"{want[2]} (6)"]
    for mode in ("hist", "ecdf", "box"):
        win.hists.set_mode(mode)
        for h in win.hists.hists.values():
            each_run_once(h.caption[1:], f"{mode} caption {h.data.name}")
    box = next(iter(win.hists.hists.values()))
    rows = [t for _v, t in box.plot.getPlotItem().getAxis("left")._tickLevels[0]]
    assert rows == ["src", "#1", "#2", "#3", "#4"]
    # the figure tabs
    for name in ("overview", "compare", "sweep", "hivemind", "accumulation"):
        win.show_view(name)
        assert win.wait_idle(120)
    ov = win.overview
    each_run_once([label.text for _s, label in ov.legend.items], "overview legend")
    cmp = win.compare
    each_run_once([cmp.run_a.itemText(i) for i in range(cmp.run_a.count())], "compare picker")
    assert cmp.run_a.itemText(0) == want[1] and cmp.run_a.itemText(1) == want[2]
    sw = win.sweep
    legend = " | ".join(label.text for _s, label in sw.legend.items)
    assert "fixture-instruct top-p=0.95 (runs #1, #2)" in legend and "#3" in legend \
        and "#4" in legend
    for rid in IDS:  # a point's tooltip names its run
        p = next(q for q in sw.data.points if q.group.run_id == rid)
        assert sw._tip(0.0, 0.0, rid).startswith(f"run {want[rid]}\n"), p
    hm = win.hivemind
    each_run_once(hm.data.labels, "hivemind labels")
    each_run_once([label.text for _s, label in hm.legend.items], "hivemind legend")
    columns = [t for _v, t in hm.heat.getAxis("bottom")._tickLevels[0]]
    assert columns == ["source (human)", "#1 instruct", "#2 instruct", "#3 base", "#4 base"]
    acc = win.accumulation
    each_run_once([label.text for _s, label in acc.legend.items
                   if not label.text.startswith("source")], "accumulation legend")
    # the prompt table's headers
    m = win.prompts.model
    heads = [m.headerData(m.index_column(i), Qt.Orientation.Horizontal) for i in range(4)]
    assert len(set(heads)) == 4 and all(h.startswith(f"#{rid} ") for h, rid in zip(heads, IDS, strict=True))

