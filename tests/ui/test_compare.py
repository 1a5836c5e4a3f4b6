"""Compare and sweep views on the fixture study: numbers, linked axes, clicks, PNG/SVG export."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt

sys.path.insert(0, str(Path(__file__).parent))
from figure_study import make_figure_study

from monoscope.core.compare_data import compute_sweep, normalised_hist, shared_edges
from monoscope.ui.views.compare import CompareView
from monoscope.ui.views.sweep import SweepView
from monoscope.ui.workers import TaskRunner


def h2(p: float) -> float:
    return 0.0 if p in (0.0, 1.0) else -(p * math.log2(p) + (1 - p) * math.log2(1 - p))


@pytest.fixture
def fig_study(tmp_path: Path):
    st = make_figure_study(tmp_path / "fig.duckdb")
    yield st
    st.close()


def _export_both(view, tmp_path: Path, stem: str) -> None:
    png, svg = view.export(tmp_path / f"{stem}.png"), view.export(tmp_path / f"{stem}.svg")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    text = svg.read_text()
    assert "<svg" in text and text.count("<path") + text.count("<polyline") > 10


def test_shared_edges() -> None:
    import numpy as np

    assert shared_edges([np.array([0.2, 0.8])]).tolist() == pytest.approx(np.linspace(0, 1, 21).tolist())
    assert shared_edges([np.array([0.0, 3.0]), np.array([1.0])]).tolist() == [-0.5, 0.5, 1.5, 2.5, 3.5]
    assert normalised_hist(np.array([0.1, 0.1, 0.9]), np.array([0, 0.5, 1])).tolist() == pytest.approx([2 / 3, 1 / 3])


def test_compare_view(qtbot, fig_study, tmp_path: Path) -> None:
    view = CompareView(runner=TaskRunner())
    qtbot.addWidget(view)
    view.resize(1300, 850)
    with qtbot.waitSignal(view.loaded, timeout=30_000):
        view.set_study(fig_study)
    with qtbot.waitSignal(view.loaded, timeout=30_000):
        view.set_runs(1, 4)
    nums = view.metric_numbers()
    assert nums["source"]["sentiment.mean"] == pytest.approx((0.25 + 0.5 + 0.75 + 1.0) / 4)
    assert nums["run:4"]["sentiment.mean"] == pytest.approx((1 / 3 + 2 / 3 + 1 + 2 / 3) / 4)
    assert nums["source"]["embedding.cosine"] == pytest.approx(0.45)
    assert nums["run:1"]["embedding.cosine"] == pytest.approx(0.95)
    assert nums["source"]["topic.entropy"] == pytest.approx(2.0)  # 4 distinct topics per prompt
    assert nums["run:1"]["topic.entropy"] == 0.0
    data = view.data
    assert data is not None and data.attribute == "sentiment.vader"
    assert len(data.source_points[0]) == 16 and len(data.sides[0].points[0]) == 12
    # Same bins on both sides; source shares: 10 of 16 texts positive (0.8), 6 negative (0.2).
    hist = normalised_hist(data.source_values, data.edges)
    assert hist.max() == pytest.approx(10 / 16) and hist.sum() == pytest.approx(1.0)
    # The two maps share their axes: zooming one moves the other.
    view.maps[0].setXRange(-1, 1, padding=0)
    assert view.maps[1].viewRange()[0] == pytest.approx([-1, 1])

    with qtbot.waitSignal(view.loaded, timeout=30_000):
        view.set_prompt("p1")
    nums = view.metric_numbers()
    assert nums["source"]["sentiment.mean"] == pytest.approx(0.25)
    assert nums["run:4"]["sentiment.entropy"] == pytest.approx(h2(1 / 3))
    assert len(view.data.source_points[0]) == 4
    view.set_prompt(None)
    qtbot.waitUntil(lambda: view.data is not None and view.data.prompt_key is None, timeout=30_000)
    _export_both(view, tmp_path, "compare")
    view.grab().save("/tmp/ui2_compare.png")


def test_sweep_data_and_view(qtbot, fig_study, tmp_path: Path) -> None:
    data = compute_sweep((fig_study, 1, "sentiment.entropy"))
    src_mean = (h2(0.25) + h2(0.5) + h2(0.75) + h2(1.0)) / 4
    assert data.source[0] == pytest.approx(src_mean)
    assert data.source[1] <= src_mean <= data.source[2]
    lines = data.lines()
    assert set(lines) == {"smollm2 top-p=0.9", "smollm2 top-p=1", "gemma3-base top-p=1"}
    assert [p.group.run_id for p in lines["smollm2 top-p=0.9"]] == [1, 2]
    assert lines["smollm2 top-p=0.9"][1].mean == pytest.approx(h2(2 / 3) / 4)

    view = SweepView(runner=TaskRunner())
    qtbot.addWidget(view)
    view.resize(900, 600)
    view.show()
    with qtbot.waitSignal(view.loaded, timeout=30_000):
        view.set_study(fig_study)
    assert set(view.scatters) == set(lines)
    # A real click on the T=1.2 point of the top-p 0.9 line opens run 2.
    pt = view.plot.vb.mapViewToScene(QPointF(1.2, h2(2 / 3) / 4))
    pos = view.canvas.mapFromScene(pt)
    with qtbot.waitSignal(view.run_activated, timeout=5000) as sig:
        qtbot.mouseClick(view.canvas.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(pos))
    assert sig.args == [2]
    with qtbot.waitSignal(view.loaded, timeout=30_000):
        view.set_metric("embedding.cosine")
    assert view.data is not None and view.data.source[0] == pytest.approx(0.45)
    _export_both(view, tmp_path, "sweep")
    view.grab().save("/tmp/ui2_sweep.png")
