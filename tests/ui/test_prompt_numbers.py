"""Prompt table cells and histogram captions from stored rows: markers, tooltips, n, ranges."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from monoscope.core.explore.queries import PromptTable, RunInfo
from monoscope.ui.views.histograms import caption_lines, outside_marker
from monoscope.ui.views.prompts import PromptTableModel


def _table(measured: bool = True) -> PromptTable:
    runs = [RunInfo(1, "instruct T=0.8", "m", "finished", {}, 16)]
    nan = np.nan
    return PromptTable(
        attribute="topic", prompt_id=np.array([1, 2]), key=["a", "b"], title=["A", "B"],
        n_source=np.array([30, 30]), runs=runs, n_generated=np.array([[8], [8]]),
        source_dispersion=np.array([2.1, 1.9]),
        dispersion=np.array([[0.5, 1.8]]).T if measured else np.full((2, 1), nan),
        index=np.array([[0.25], [0.95]]) if measured else np.full((2, 1), nan),
        matched_n=np.array([[8], [8]]), human_lo=np.array([[0.7], [0.72]]),
        human_hi=np.array([[1.2], [1.25]]), measured=measured)


def test_index_cells_mark_outside_the_human_range(qtbot) -> None:
    m = PromptTableModel()
    m.set_table(_table())
    assert m.headers() == ["Prompt", "Key", "Runs", "Source", "n", "#1 m"]
    col = m.index_column(0)
    cell = m.index(0, col)
    # below the range people score against themselves, which the cell shows (stored lo/hi)
    assert m.data(cell) == "0.25▼ [0.70–1.20]"
    assert m.data(m.index(1, col)) == "0.95 [0.72–1.25]"  # inside it
    tip = m.data(cell, Qt.ItemDataRole.ToolTipRole)
    assert "n = 8" in tip and "0.70–1.20" in tip and "below" in tip
    assert m.data(cell, Qt.ItemDataRole.FontRole).bold()
    assert m.data(m.index(0, 0)) == "A" and "[a]" in m.data(m.index(0, 0),
                                                             Qt.ItemDataRole.ToolTipRole)
    assert m.data(m.index(0, 2)) == "1/1"  # one of one run has texts for the prompt
    assert m.data(m.index(0, 4)) == "8"  # generated texts per prompt
    assert "#1 instruct T=0.8: 8 generated texts" in m.data(m.index(0, 4),
                                                            Qt.ItemDataRole.ToolTipRole)
    cols = m.to_arrow().column_names
    assert "human_lo[instruct T=0.8]" in cols and "matched_n[instruct T=0.8]" in cols
    assert m.to_arrow().column("runs_with_texts").to_pylist() == [1, 1]


def test_not_measured_state(qtbot) -> None:
    from monoscope.ui.views.prompts import PromptsPanel

    panel = PromptsPanel()
    qtbot.addWidget(panel)
    panel.set_table(_table(measured=False))
    assert "not measured" in panel.status.text()
    col = panel.model.index_column(0)
    assert panel.model.data(panel.model.index(0, col)) == "n.m."
    assert "not measured" in panel.model.data(panel.model.index(0, col),
                                              Qt.ItemDataRole.ToolTipRole)


def test_caption_lines_from_stored_rows() -> None:
    rows = [
        {"grp": "source", "ref": "", "stat": "dispersion", "n": 30, "prompts": None,
         "value": 2.1, "lo": None, "hi": None},
        {"grp": "run:1", "ref": "", "stat": "dispersion", "n": 8, "prompts": None,
         "value": 0.5, "lo": None, "hi": None},
        {"grp": "run:1", "ref": "run:1", "stat": "index", "n": 8, "prompts": None,
         "value": 0.62, "lo": None, "hi": None},
        {"grp": "source", "ref": "run:1", "stat": "index", "n": 8, "prompts": None,
         "value": 1.0, "lo": 0.71, "hi": 1.28},
    ]
    lines = caption_lines(rows, ["source", "run:1", "run:2"], ["source", "run A", "run B"],
                          "categorical", "topic", whole_dataset=False)
    assert lines == ["source n=30: entropy 2.1",
                     "run A n=8 · ×0.62▼ (people 0.71–1.28 at n=8)",
                     "run B: no texts here"]
    agg = [dict(r, n=None if r["ref"] == "" else 8, prompts=12,
                lo=0.55 if r["grp"] == "run:1" and r["stat"] == "index" else r["lo"],
                hi=0.7 if r["grp"] == "run:1" and r["stat"] == "index" else r["hi"])
           for r in rows]
    lines = caption_lines(agg, ["source", "run:1"], ["source", "run A"], "numeric",
                          "text.words", whole_dataset=True)
    assert lines[0] == "source: std 2.1 (mean over its 12 prompts, all texts)"
    assert lines[1] == ("run A 12 prompts, n=8/prompt · ×0.62 [0.55, 0.70] CI excludes 1▼ "
                        "(people 0.71–1.28 at n=8)")
    assert outside_marker(1.3, 0.7, 1.2) == "▲" and outside_marker(np.nan, 0.7, 1.2) == ""
