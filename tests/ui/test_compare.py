"""Compare and sweep views on the fixture study: numbers, linked axes, clicks, PNG/SVG export."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pyqtgraph as pg
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt

sys.path.insert(0, str(Path(__file__).parent))
from figure_study import SOURCE_COS, drop_run_prompts, make_figure_study, run_prompt_keys

from monoscope.core.explore import figure_data as fd
from monoscope.core.explore.compare_data import (
    compute_compare,
    compute_sweep,
    normalised_hist,
    shared_edges,
)
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
    res = fd.stored_result(fig_study, 1)
    # Each side's source is the stored source row matched to that run (same prompts, same n).
    for run in ("run:1", "run:4"):
        for metric, (attr, stat) in (("sentiment.mean", ("sentiment.vader", "share_positive")),
                                     ("topic.entropy", ("topic", "entropy"))):
            assert nums[f"source@{run}"][metric] == pytest.approx(
                res.value("source", attr, stat, run))
    assert nums["source"] == nums["source@run:1"]  # the first side's
    # Hand values. The runs have 3 texts per prompt, the source 4: the source is measured on
    # subsets of 3. Share positive over such subsets averages ~the whole set's (.625).
    assert nums["source@run:4"]["sentiment.mean"] == pytest.approx(0.625, abs=0.02)
    assert nums["run:4"]["sentiment.mean"] == pytest.approx((1 / 3 + 2 / 3 + 1 + 2 / 3) / 4)
    # every pair of a prompt's source texts has the same cosine: any subset keeps it exactly
    assert nums["source@run:1"]["embedding.cosine"] == pytest.approx(0.45)
    assert nums["run:1"]["embedding.cosine"] == pytest.approx(0.95)
    # 4 distinct source topics per prompt; subsets of 3 texts have 3 distinct: log2(3) bits
    assert nums["source@run:1"]["topic.entropy"] == pytest.approx(math.log2(3))
    assert nums["run:1"]["topic.entropy"] == 0.0
    # run 1 is all positive (entropy 0): index 0 on p1-p3; on p4 the source is all positive
    # too, and two sets without dispersion count as alike (1): mean (0 + 0 + 0 + 1) / 4
    assert nums["run:1"]["sentiment.index"] == pytest.approx(0.25)
    side = view.data.sides[0]
    assert (side.n, side.prompts) == (3, 4)
    lo, hi = side.human_range["topic.index"]
    assert lo <= 1.0 <= hi  # people against themselves
    text = view.numbers[0].text()
    assert "4 prompts, n = 3 texts per prompt" in text and "people" in text and "▼" in text
    data = view.data
    assert data is not None and data.attribute == "sentiment.vader"
    assert len(data.source_points[0]) == 16 and len(data.sides[0].points[0]) == 12
    # Same bins on both sides; source shares: 10 of 16 texts positive (0.8), 6 negative (0.2).
    hist = normalised_hist(data.source_values, data.edges)
    assert hist.max() == pytest.approx(10 / 16) and hist.sum() == pytest.approx(1.0)
    # The main map's look: locked aspect, the source's closed contours, the palette's colour
    # and marker per run, every point in view with a margin.
    import numpy as np

    from monoscope.core.explore import palette

    for i, rid in enumerate((1, 4)):
        vb = view.maps[i].getViewBox()
        assert vb.state["aspectLocked"] == 1.0
        cloud = view.clouds[i]
        assert cloud.colors == [palette.SOURCE_LIGHT, palette.run_colour(rid)]
        assert cloud.symbols == ["o", palette.run_marker(rid)]
        run_pts = cloud.scatters[1]
        assert run_pts.opts["symbol"] == palette.run_marker(rid)
        assert run_pts.opts["brush"].color().getRgb()[:3] == palette.run_colour(rid)
        assert len(run_pts.data) == len(data_pts := view.data.sides[i].points[0]) == 12
        for item in view.contours[i]:  # 90 % and 50 %: closed curves
            cx, cy = item.getData()
            assert np.isfinite(cx).sum() > 10
            first = [0, *(np.flatnonzero(~np.isfinite(cx))[:-1] + 1)]
            last = np.flatnonzero(~np.isfinite(cx)) - 1
            for a, b in zip(first, last, strict=True):
                assert (cx[a], cy[a]) == pytest.approx((cx[b], cy[b]), abs=1e-6)
        (x0, x1), (y0, y1) = vb.viewRange()
        xs = np.concatenate([cloud.x, cx[np.isfinite(cx)]])
        ys = np.concatenate([cloud.y, cy[np.isfinite(cy)]])
        assert x0 < xs.min() and xs.max() < x1 and y0 < ys.min() and ys.max() < y1
        assert len(data_pts) == 12
    assert np.asarray(view.maps[0].viewRange()) == pytest.approx(
        np.asarray(view.maps[1].viewRange()))
    # The two maps share their axes: zooming one moves the other.
    view.maps[0].setXRange(-1, 1, padding=0)
    assert view.maps[1].viewRange()[0] == pytest.approx([-1, 1])

    with qtbot.waitSignal(view.loaded, timeout=30_000):
        view.set_prompt("p1")
    nums = view.metric_numbers()
    assert nums["source@run:1"]["sentiment.mean"] == pytest.approx(
        res.value("source", "sentiment.vader", "share_positive", "run:1", "p1"))
    assert nums["source@run:1"]["sentiment.mean"] == pytest.approx(0.25, abs=0.03)
    assert nums["run:4"]["sentiment.entropy"] == pytest.approx(h2(1 / 3))
    assert len(view.data.source_points[0]) == 4
    view.set_prompt(None)
    qtbot.waitUntil(lambda: view.data is not None and view.data.prompt_key is None, timeout=30_000)
    _export_both(view, tmp_path, "compare")
    view.grab().save(str(tmp_path / "compare.png"))


def test_source_aggregates_cover_exactly_the_runs_prompts(qtbot, fig_study) -> None:
    """Overview, Sweep and Compare put the source over the prompts the runs cover (SQL), not
    over every prompt of the dataset."""
    drop_run_prompts(fig_study, [1, 2, 3, 4], ["p4"])
    drop_run_prompts(fig_study, [1], ["p3"])
    covers = {r: run_prompt_keys(fig_study, r) for r in (1, 2, 3, 4)}
    assert covers[1] == {"p1", "p2"} and covers[4] == {"p1", "p2", "p3"}
    union = set().union(*covers.values())

    ov = fd.compute_overview((fig_study, 1))
    assert set(ov.prompts) == union
    for g in ("sentiment", "similarity"):
        assert set(getattr(ov, g)["source"]) == union
    src = next(g for g in ov.groups if g.key == "source")
    assert ov.legend(src).startswith("source (human) (3 prompts, n = 4/prompt")

    sweep = compute_sweep((fig_study, 1, "embedding.cosine"))
    by_run = {p.group.run_id: p for p in sweep.points}
    # cosines are exact on any subset: the matched source is the mean over the run's prompts
    for rid, keys in covers.items():
        assert by_run[rid].prompts == len(keys)
        assert by_run[rid].source[0] == pytest.approx(
            sum(SOURCE_COS[k] for k in keys) / len(keys))
    assert by_run[1].source[0] == pytest.approx(0.2)  # not .45, the mean over all 4 prompts
    assert sweep.source_varies

    data = compute_compare((fig_study, 1, 1, 4, None, "sentiment.vader"))
    n_src = fig_study.scalar(
        "SELECT count(*) FROM texts t JOIN prompts p ON p.id = t.prompt_id JOIN attributes a "
        "ON a.text_id = t.id AND a.name = 'sentiment.vader' WHERE t.run_id IS NULL "
        "AND p.key IN (SELECT unnest(?))", [sorted(covers[1] | covers[4])])
    assert len(data.source_values) == n_src == 12
    assert len(data.source_points[0]) == 12
    one, four = data.sides
    assert (one.prompts, four.prompts) == (2, 3)
    assert one.source_numbers["embedding.cosine"] == pytest.approx(0.2)
    assert four.source_numbers["embedding.cosine"] == pytest.approx(0.3)


def test_sweep_data_and_view(qtbot, fig_study, tmp_path: Path) -> None:
    data = compute_sweep((fig_study, 1, "sentiment.entropy"))
    res = fd.stored_result(fig_study, 1)
    for p in data.points:  # each point's source: the stored row matched to that run
        assert p.source[0] == pytest.approx(
            res.value("source", "sentiment.vader", "entropy", p.group.key))
        assert (p.n, p.prompts) == (3, 4)
    # Hand value: the source's entropy on subsets of 3 of its 4 texts per prompt, in
    # expectation: p1, p3 (3 of 4 alike): 3/4 * h2(1/3); p2: h2(1/3); p4: 0.
    expect = (0.75 * h2(1 / 3) * 2 + h2(1 / 3)) / 4
    assert data.source[0] == pytest.approx(expect, abs=0.03)
    assert data.source[1] <= data.source[0] <= data.source[2]
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
    # A real click on the T=1.2 point of the top-p 0.9 line opens run 2 (lines sharing a
    # temperature are drawn side by side: click where the point is drawn).
    xs, ys = view.scatters["smollm2 top-p=0.9"].getData()
    assert abs(xs[1] - 1.2) < 0.05 and ys[1] == pytest.approx(h2(2 / 3) / 4)
    pt = view.plot.vb.mapViewToScene(QPointF(float(xs[1]), float(ys[1])))
    pos = view.canvas.mapFromScene(pt)
    with qtbot.waitSignal(view.run_activated, timeout=5000) as sig:
        qtbot.mouseClick(view.canvas.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(pos))
    assert sig.args == [2]
    assert "4 prompts at n = 3 texts per prompt" in view.caption.text()
    with qtbot.waitSignal(view.loaded, timeout=30_000):
        view.set_metric("embedding.cosine")
    # cosines are exact on any subset, so every run's matched source is .45: one band
    assert view.data is not None and view.data.source[0] == pytest.approx(0.45)
    assert not view.data.source_varies and "Grey band" in view.caption.text()
    # an index: the line at 1 and the human range (per run when the ranges differ)
    with qtbot.waitSignal(view.loaded, timeout=30_000):
        view.set_metric("topic.index")
    d = view.data
    assert d is not None and all(p.human[0] <= 1.0 <= p.human[1] for p in d.points)
    assert any(isinstance(i, pg.InfiniteLine) and i.value() == 1.0 for i in view.plot.items)
    assert view.source_items and "people" in view.caption.text()
    _export_both(view, tmp_path, "sweep")
    view.grab().save(str(tmp_path / "sweep.png"))
