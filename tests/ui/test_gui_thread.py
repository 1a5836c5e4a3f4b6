"""The GUI thread runs no query: every read the window, its views and its dialogs need goes
through the task runner; and the explorer state is Qt-free and tells its observers what changed."""

from __future__ import annotations

import threading
import traceback
from typing import Any

import numpy as np
import pytest

from monoscope.core.explore.state import ExplorerState

pytestmark = pytest.mark.ui


def test_state_tells_observers_what_changed() -> None:
    state = ExplorerState()
    seen: list[tuple[list[str], str | None]] = []
    unsubscribe = state.subscribe(lambda c: seen.append((sorted(c.fields), c.now.prompt)))
    state.update(dataset_id=1, prompt="p1")
    state.prompt = "p1"  # unchanged: nobody hears
    state.selection = np.array([5, 3, 5])
    assert state.selection == (3, 5)
    state.selection = [3, 5]  # the same texts
    state.whole_dataset = True
    assert state.scope() is None
    # another scope: the selection (of the other map's texts) is gone
    assert seen == [(["dataset_id", "prompt"], "p1"), (["selection"], "p1"),
                    (["selection", "whole_dataset"], "p1")]
    assert state.selection is None
    unsubscribe()
    state.prompt = "p2"
    assert len(seen) == 3 and state.prompt == "p2"
    with pytest.raises(TypeError, match="no field"):
        state.update(colour="red")


def test_observers_hear_changes_in_the_order_made() -> None:
    """An observer that updates the state while being told: everyone hears the first change
    first, then the second."""
    state = ExplorerState()
    heard: dict[str, list[frozenset[str]]] = {"a": [], "b": []}

    def a(change: Any) -> None:
        heard["a"].append(change.fields)
        if "prompt" in change:
            state.update(selection=[1])

    state.subscribe(a)
    state.subscribe(lambda c: heard["b"].append(c.fields))
    state.prompt = "p1"
    assert heard["a"] == heard["b"] == [frozenset({"prompt"}), frozenset({"selection"})]


@pytest.mark.qt_log_ignore("does not support raise")  # offscreen tooltip, harmless
def test_the_gui_thread_runs_no_query(window: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from monoscope.core.store.study import Study
    from monoscope.ui.views import replicate_dialog, run_dialog

    on_gui_thread: list[str] = []
    cursor = Study._cursor

    def watched(self: Study) -> Any:
        if threading.current_thread() is threading.main_thread():
            stack = traceback.extract_stack()
            on_gui_thread.append("".join(traceback.format_list(stack[-10:-1])))
        return cursor(self)

    monkeypatch.setattr(Study, "_cursor", watched)
    monkeypatch.setattr(run_dialog.RunDialog, "exec", lambda self: 0)
    monkeypatch.setattr(replicate_dialog.ReplicateDialog, "exec", lambda self: 0)

    win = window
    assert win.prompts.select_key("book-003") and win.wait_idle(60)
    m = win.map
    idx = int(np.flatnonzero(m.cloud.group == 1)[0])
    m._hover(m.scene_pos_of(idx))  # the snippet
    m.select_index(idx)  # the inspector
    assert win.wait_idle(60)
    assert win.inspector.detail is not None and win.inspector.detail["id"] == m.text_id[idx]
    insp = win.inspector  # a missing topic lights its human texts (read with the map)
    insp.missing_list.itemClicked.emit(insp.missing_list.item(0))
    assert win.wait_idle(60) and m.highlighted_ids().size > 0
    win.whole.setChecked(True)
    assert win.wait_idle(60) and win.state.whole_dataset and win.state.scope() is None
    win.actions_.actions["whole"].trigger()
    assert win.wait_idle(60) and not win.whole.isChecked()
    win.prompts.set_attribute("topic")
    assert win.wait_idle(60) and win.state.attribute == "topic"
    for name in ("overview", "compare", "sweep", "accumulation", "hivemind", "map"):
        win.show_view(name)
        assert win.wait_idle(60)
    win.hivemind._cell_clicked(1, 2)  # a heatmap cell opens Compare
    assert win.wait_idle(60) and win.compare.run_a.currentData() == 1
    assert win.compare.scope.currentData() == "book-003"
    win.set_dataset(1)
    assert win.wait_idle(60) and win.state.dataset_id == 1
    win.refresh()
    win.actions_.new_run()
    win.actions_.replicate()
    assert win.wait_idle(60)
    assert on_gui_thread == [], on_gui_thread[0]


def test_selection_is_text_ids_in_the_state(window: Any) -> None:
    win = window
    assert win.prompts.select_key("book-002") and win.wait_idle(60)
    m = win.map
    win.hists.brush("text.words", 20.0, 35.0)
    assert win.state.selection == tuple(sorted(m.highlighted_ids().tolist()))
    x, y = m.cloud.x, m.cloud.y
    cx, cy, r = float(np.median(x)), float(np.median(y)), float(np.std(x))
    mask = m.select_polygon(np.array([[cx - r, cy - r], [cx + r, cy - r], [cx + r, cy + r],
                                      [cx - r, cy + r]]))
    assert win.state.selection == tuple(sorted(m.text_id[mask].tolist()))
    # another prompt starts without a selection
    assert win.prompts.select_key("book-004") and win.wait_idle(60)
    assert win.state.selection is None
    assert win.state.prompt == "book-004"
