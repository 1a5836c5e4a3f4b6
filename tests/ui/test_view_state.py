"""Issue 18: the view (dataset, prompt, attribute, selection, tab, dock layout) is saved with
the study and restored when it is opened again, even from a copy; a saved view naming things
that are gone restores what still fits. Real window offscreen, real study files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest
from window_helper import new_window

from monoscope.core.explore.view_state import ViewState

pytestmark = pytest.mark.ui


def _open(qtbot: Any, study: Path, settings: Any) -> Any:
    return new_window(qtbot, settings, study, size=(1280, 800))


def test_view_is_saved_with_the_study_and_restored_from_a_copy(
        qtbot: Any, study_copy: Path, settings: Any, tmp_path: Path) -> None:
    w = _open(qtbot, study_copy, settings)
    keys = list(w.prompts.model.table.key)
    key = keys[3]
    w.show_prompt(key)
    assert w.wait_idle(60)
    attr = w.state.attribute
    ids = w.map.text_id[::3].copy()  # every third point of that prompt's map
    w.state.selection = ids
    w.show_view("compare")
    w.dock_inspector.hide()
    tab = w.tabs.currentIndex()
    assert tab > 0
    w.close()
    # the study file holds the view (not the settings: a copy carries it)
    with duckdb.connect(str(study_copy)) as con:
        (raw,) = con.execute("SELECT value FROM view_state WHERE name = 'explorer'").fetchone()
    saved = json.loads(raw)
    assert saved["prompt"] == key and saved["attribute"] == attr and saved["tab"] == tab
    assert saved["selection"] == sorted(int(i) for i in ids)
    copy = tmp_path / "copy.duckdb"
    shutil.copy(study_copy, copy)
    from PySide6.QtCore import QSettings

    fresh = QSettings(str(tmp_path / "other.ini"), QSettings.Format.IniFormat)
    w2 = _open(qtbot, copy, fresh)
    assert w2.state.prompt == key
    assert w2.state.attribute == attr
    assert w2.tabs.currentIndex() == tab
    assert w2.state.selection == tuple(sorted(int(i) for i in ids))
    assert w2.payload is not None and w2.payload.key == key
    assert not w2.dock_inspector.isVisible()  # the dock layout came back too
    w2.close()


def test_a_saved_view_naming_what_is_gone_restores_what_fits(
        qtbot: Any, study_copy: Path, settings: Any) -> None:
    view = {"dataset_id": 1, "prompt": "no-such-prompt", "attribute": 7, "tab": 99,
            "selection": [1, "x"], "layout": None, "whole_dataset": "yes"}
    with duckdb.connect(str(study_copy)) as con:
        con.execute("INSERT INTO view_state (name, value) VALUES ('explorer', ?)",
                    [json.dumps(view)])
    w = _open(qtbot, study_copy, settings)
    first = w.prompts.first_key()
    assert w.state.prompt == first  # the missing prompt is skipped, nothing fails
    assert w.state.selection is None and w.tabs.currentIndex() == 0
    assert w.state.whole_dataset is False
    assert w.payload is not None and w.payload.key == first
    w.close()


def test_view_state_from_dict_keeps_only_well_typed_fields() -> None:
    v = ViewState.from_dict({"dataset_id": True, "prompt": "p", "attribute": None,
                             "whole_dataset": True, "selection": [5, 3, 3], "tab": -2,
                             "layout": "AAA", "extra": 1})
    assert v == ViewState(None, "p", None, True, (3, 5), 0, "AAA")
    assert ViewState.from_dict(v.to_dict()) == v
    assert ViewState.from_dict({"selection": [1.5]}).selection is None
    assert np.array_equal(ViewState.from_dict({"selection": [2, 1]}).selection, (1, 2))
