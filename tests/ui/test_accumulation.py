"""Accumulation view: stored curves per group, pooled and per prompt, ascending n, export."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QImage

sys.path.insert(0, str(Path(__file__).parent))
from figure_study import make_figure_study

from monoscope.core.explore import figure_data as fd
from monoscope.ui.views.accumulation import AccumulationView
from monoscope.ui.workers import TaskRunner


@pytest.fixture
def fig_study(tmp_path: Path):
    st = make_figure_study(tmp_path / "fig.duckdb")
    yield st
    st.close()


def test_accumulation_view(qtbot, fig_study, tmp_path: Path) -> None:
    runner = TaskRunner()
    view = AccumulationView(runner=runner)
    qtbot.addWidget(view)
    view.resize(1000, 650)
    view.show()
    with qtbot.waitSignal(view.loaded, timeout=30_000):
        view.set_study(fig_study, 1)
    data = view.data
    assert data is not None and data.prompt_key is None  # pooled by default
    assert data.attribute == "sentiment.vader"
    attrs = [view.attribute.itemData(i) for i in range(view.attribute.count())]
    assert {"sentiment.vader", "topic", "embedding"} <= set(attrs)
    # pooled: per run its own curve and the source's on the run's prompts; the runs cover the
    # same prompts here, so the four source curves coincide and are drawn once
    assert len(data.curves) == 8
    assert sorted(view.curve_groups()) == ["run:1|", "run:2|", "run:3|", "run:4|", "source|"]
    merged = next(c for c in view.merged_curves() if c.group.key == "source")
    assert merged.label == "source on the prompts of runs #1, #2, #3, #4"
    res = fd.stored_result(fig_study, 1)
    for c in data.curves:
        assert np.all(np.diff(c.n) > 0)  # n ascending
        assert c.n[0] == 2 and c.prompts[0] == 4
        ref = f"acc:{c.against or c.group.key}"
        rows = res.curve(c.group.key, "sentiment.vader", ref)
        assert [r["value"] for r in rows] == pytest.approx(list(c.mean))
    # run 1 is all positive: no entropy at any n; the source has some
    run1 = next(c for c in data.curves if c.group.key == "run:1")
    src1 = next(c for c in data.curves if c.against == "run:1")
    assert np.all(run1.mean == 0) and np.all(src1.mean > 0)
    assert "Pooled" in view.caption.text()
    assert any("4 prompts" in item.text for _s, item in view.legend.items)

    # one prompt: the source (4 texts: n = 2, 3, 4) and each run (3 texts: n = 2, 3)
    view.set_prompt("p2")
    with qtbot.waitSignal(view.loaded, timeout=30_000):
        view.set_scope(pooled=False)
    data = view.data
    assert data is not None and data.prompt_key == "p2"
    by = {c.group.key: c for c in data.curves}
    assert set(by) == {"source", "run:1", "run:2", "run:3", "run:4"}
    assert list(by["source"].n) == [2, 3, 4] and list(by["run:4"].n) == [2, 3]
    # topic: every source text of a prompt has its own topic, so entropy = log2(n) exactly
    with qtbot.waitSignal(view.loaded, timeout=30_000):
        view.set_attribute("topic")
    src = next(c for c in view.data.curves if c.group.key == "source")
    assert list(src.mean) == pytest.approx(np.log2(src.n))

    png = view.export(tmp_path / "acc.png")
    svg = view.export(tmp_path / "acc.svg")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and QImage(str(png)).width() > 500
    assert "<svg" in svg.read_text()[:2000]
    runner.shutdown()


def test_pooled_source_per_run_when_prompts_differ(qtbot, fig_study) -> None:
    """A run on fewer prompts is read against the source of its own prompts (SQL)."""
    from figure_study import drop_run_prompts, run_prompt_keys

    drop_run_prompts(fig_study, [1], ["p3", "p4"])
    assert run_prompt_keys(fig_study, 1) == {"p1", "p2"}
    view = AccumulationView(runner=TaskRunner())
    qtbot.addWidget(view)
    with qtbot.waitSignal(view.loaded, timeout=30_000):
        view.set_study(fig_study, 1)
    groups = set(view.curve_groups())
    assert "source|run:1" in groups and "source|" in groups  # runs 2-4 share one
    src1 = next(c for c in view.data.curves if c.against == "run:1")
    assert set(src1.prompts) == {2}
    view.runner.shutdown()
