"""Overview: bins match hand-computed counts; a real click on a bar lists and emits its prompts."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt

sys.path.insert(0, str(Path(__file__).parent))
from figure_study import make_figure_study

from monoscope.core.explore import figure_data as fd
from monoscope.ui.views.overview import OverviewView
from monoscope.ui.workers import TaskRunner

# Hand-computed from figure_study's labels and cosines (see its comments).
SENT_COUNTS = {
    "source": [1, 1, 1, 0, 0, 1], "run:1": [0, 0, 0, 0, 0, 4], "run:2": [0, 0, 1, 0, 0, 3],
    "run:3": [0, 0, 0, 0, 0, 4], "run:4": [1, 0, 2, 0, 0, 1],
}
SIM_COUNTS = {
    "source": [1, 1, 1, 0, 1], "run:1": [0, 0, 0, 0, 4], "run:2": [0, 0, 0, 1, 3],
    "run:3": [0, 0, 0, 0, 4], "run:4": [0, 0, 4, 0, 0],
}


@pytest.fixture
def fig_study(tmp_path: Path):
    st = make_figure_study(tmp_path / "fig.duckdb")
    yield st
    st.close()


def test_bin_edges_follow_the_paper() -> None:
    edges = fd.SENTIMENT_EDGES
    assert [fd.bin_index(v, edges) for v in (0.0, 0.35, 0.36, 0.55, 0.75, 0.85, 0.95, 0.96, 1.0)] \
        == [0, 0, 1, 1, 2, 3, 4, 5, 5]
    assert fd.bin_index(-0.3, fd.SIMILARITY_EDGES) == 0  # negative cosine clipped into bin 0


def test_overview_data_counts(fig_study) -> None:
    data = fd.compute_overview((fig_study, 1))
    assert data.sentiment_attribute == "sentiment.vader"
    assert data.similarity_label.startswith("mean pairwise cosine")
    for key, counts in SENT_COUNTS.items():
        assert [len(b) for b in fd.bin_prompts(data.sentiment[key], data.sentiment_edges)] == counts
    for key, counts in SIM_COUNTS.items():
        assert [len(b) for b in fd.bin_prompts(data.similarity[key], data.similarity_edges)] == counts
    assert data.similarity["source"]["p2"] == pytest.approx(0.3)


def test_overview_widget_bars_and_click(qtbot, fig_study, tmp_path: Path) -> None:
    runner = TaskRunner()
    view = OverviewView(runner=runner)
    qtbot.addWidget(view)
    view.resize(1200, 700)
    view.show()
    with qtbot.waitSignal(view.loaded, timeout=30_000):
        view.set_study(fig_study)
    # Bar heights are shares of prompts: counts / 4.
    for fig, expected in (("sentiment", SENT_COUNTS), ("similarity", SIM_COUNTS)):
        items = {b.group_key: b for b in view.bars[fig]}
        assert set(items) == set(expected)
        for key, counts in expected.items():
            assert list(items[key].opts["height"]) == pytest.approx([c / 4 for c in counts])

    # A real mouse click on the source bar of bin (.55,.75] (sentiment): prompt p3.
    bar = next(b for b in view.bars["sentiment"] if b.group_key == "source")
    x = float(bar.opts["x0"][2]) + bar.opts["width"] / 2
    scene_pt = view.sent_plot.vb.mapViewToScene(QPointF(x, 0.1))
    pos = view.canvas.mapFromScene(scene_pt)
    with qtbot.waitSignal(view.bar_selected, timeout=5000) as sig:
        qtbot.mouseClick(view.canvas.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(pos))
    assert sig.args == ["sentiment", "source", ["p3"]]
    assert view.prompt_list.count() == 1

    # The run 4 bar of similarity bin (.4,.6] holds all four prompts.
    bar4 = next(b for b in view.bars["similarity"] if b.group_key == "run:4")
    x = float(bar4.opts["x0"][2]) + bar4.opts["width"] / 2
    pos = view.canvas.mapFromScene(view.sim_plot.vb.mapViewToScene(QPointF(x, 0.5)))
    with qtbot.waitSignal(view.bar_selected, timeout=5000) as sig:
        qtbot.mouseClick(view.canvas.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(pos))
    assert sig.args[2] == ["p1", "p2", "p3", "p4"]
    with qtbot.waitSignal(view.prompt_activated, timeout=5000) as act:
        item = view.prompt_list.item(1)
        rect = view.prompt_list.visualItemRect(item)
        qtbot.mouseClick(view.prompt_list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert act.args == ["p2"]

    png, svg = view.export(tmp_path / "ov.png"), view.export(tmp_path / "ov.svg")
    assert png.stat().st_size > 5000 and b"<svg" in svg.read_bytes()[:2000]
    view.grab().save(str(tmp_path / "overview.png"))
    runner.shutdown()
