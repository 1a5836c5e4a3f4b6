"""The Search dock in the real window (offscreen): text search lights exactly the texts holding
the words (checked against a Python scan of the bodies), follows the prompt, opens a hit in the
inspector on a click or Enter, exports its hits; semantic search with the real MiniLM embedder
finds a text queried verbatim first. The hits as the one selection: `test_selection.py`."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from window_helper import new_window

pytestmark = pytest.mark.ui


def _bodies(win: Any) -> dict[int, tuple[str, str]]:
    """text id -> (prompt key, body) of the window's dataset, read by the test itself."""
    from monoscope.testing import raw_connection

    rows = raw_connection(win.study).execute(
        "SELECT t.id, p.key, t.body FROM texts t JOIN prompts p ON p.id = t.prompt_id "
        "WHERE p.dataset_id = ?", [win.state.dataset_id]).fetchall()
    return {int(i): (str(k), str(b)) for i, k, b in rows}


def _holding(bodies: dict[int, tuple[str, str]], words: list[str], key: str | None = None
             ) -> set[int]:
    return {i for i, (k, b) in bodies.items() if (key is None or k == key)
            and set(words) <= set(re.findall(r"\w+", b.lower()))}


def _search(win: Any, query: str, scope: str = "prompt", mode: str = "text") -> Any:
    win.search.set_mode(mode)
    win.search.set_scope(scope)
    win.search.run(query)
    assert win.wait_idle(120)
    QApplication.processEvents()
    return win.search.result


def test_text_search_lights_exactly_the_matching_texts(window: Any, qtbot: Any) -> None:
    win, m = window, window.map
    bodies = _bodies(win)
    # Ctrl+Shift+F shows the dock and puts the cursor in the query box; Enter runs it
    win.activateWindow()
    qtbot.keyClick(win, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier
                   | Qt.KeyboardModifier.ShiftModifier)
    assert win.dock_search.isVisible() and QApplication.focusWidget() is win.search.query
    key = win.state.prompt
    qtbot.keyClicks(win.search.query, "dull")
    qtbot.keyClick(win.search.query, Qt.Key.Key_Return)
    assert win.wait_idle(60)
    want = _holding(bodies, ["dull"], key)
    assert want and len(want) < len(m.text_id)  # the word splits the prompt's texts
    res = win.search.result
    assert set(res.ids.tolist()) == want and res.prompt_key == key
    assert set(m.highlighted_ids().tolist()) == want
    assert [h.text_id for h in win.search.hits_model.hits] == res.ids.tolist()
    assert all(h.prompt_key == key for h in res.hits)
    groups = {h.group for h in res.hits}
    assert groups <= {"source", "#1 instruct T=0.8", "#2 base T=1.2"} and len(groups) >= 2
    # two words: texts holding both
    res = _search(win, "Dull plot")
    assert set(res.ids.tolist()) == _holding(bodies, ["dull", "plot"], key)
    assert set(m.highlighted_ids().tolist()) == set(res.ids.tolist())
    # another prompt: the query follows it (current-prompt scope) and its map is lit
    other = next(k for k in sorted({k for k, _ in bodies.values()}) if k != key)
    win.show_prompt(other)
    assert win.wait_idle(60)
    QApplication.processEvents()
    want = _holding(bodies, ["dull", "plot"], other)
    assert set(win.search.result.ids.tolist()) == want
    assert set(m.highlighted_ids().tolist()) == want
    # the whole dataset on the whole-dataset map
    win.whole.setChecked(True)
    assert win.wait_idle(60)
    res = _search(win, "gripping", scope="dataset")
    want = _holding(bodies, ["gripping"])
    assert len(m.text_id) == len(bodies) and set(res.ids.tolist()) == want
    assert set(m.highlighted_ids().tolist()) == want and len(want) > 20
    assert {h.prompt_key for h in res.hits} == {k for i, (k, _) in bodies.items() if i in want}
    # the hits are the one selection: a histogram range replaces it, undo brings it back
    assert set(win.state.selection) == want
    win.hists.brush("text.words", 0, 1e9)
    assert len(m.highlighted_ids()) == len(m.text_id)
    assert win.state.undo()
    assert set(m.highlighted_ids().tolist()) == want
    win.search.run("  ")
    assert win.search.result is None and m.cloud.highlight is None


def test_click_or_enter_opens_the_hit_and_export(window: Any, qtbot: Any, tmp_path: Path
                                                 ) -> None:
    win = window
    win.dock_search.show()
    res = _search(win, "plot")
    view = win.search.hits_view
    assert len(res.hits) >= 3
    target = res.hits[2]
    rect = view.visualRect(win.search.hits_model.index(2, 4))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert win.wait_idle(60)
    assert win.inspector.detail is not None and win.inspector.detail["id"] == target.text_id
    assert win.map.selected_text == target.text_id
    assert target.snippet.strip("…")[:30] in " ".join(str(win.inspector.detail["body"]).split())
    view.setCurrentIndex(win.search.hits_model.index(0, 2))
    qtbot.keyClick(view, Qt.Key.Key_Return)
    assert win.wait_idle(60)
    assert win.inspector.detail["id"] == res.hits[0].text_id
    out = win.search.export("hits", tmp_path / "hits.csv")
    with out.open(encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][:4] == ["text_id", "prompt_key", "prompt_title", "group"]
    assert [int(r[0]) for r in rows[1:]] == res.ids.tolist()
    assert [r[3] for r in rows[1:]] == [h.group for h in res.hits]


@pytest.fixture(scope="module")
def minilm_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One prompt of 18 texts on three subjects, real MiniLM embeddings and a PCA map."""
    from monoscope.core.analysis.projection import ProjectionRequest, project
    from monoscope.core.attributes import annotate
    from monoscope.core.attributes.base import AnnotateRequest
    from monoscope.core.store import Study, content_hash
    from monoscope.core.tasks import TaskState
    from monoscope.testing import raw_connection

    path = Path(tmp_path_factory.mktemp("minilm")) / "minilm.duckdb"
    with Study(path) as st:
        con = raw_connection(st)
        con.execute("INSERT INTO datasets (id, name, kind) VALUES (1, 'mixed', 'text')")
        con.execute("INSERT INTO prompts (id, dataset_id, key, title) VALUES (1, 1, 'p', 'P')")
        for i, body in enumerate(CATS + MARKETS + WEATHER):
            con.execute("INSERT INTO texts (prompt_id, origin, sample_index, body, content_hash)"
                        " VALUES (1, 'source', ?, ?, ?)", [i, body, content_hash(body)])
        state = TaskState()
        annotate(st, AnnotateRequest(study=str(path), dataset="mixed", threads=1,
                                     attributes=["embedding"]), state)
        project(st, ProjectionRequest(dataset="mixed", scopes=("prompts",), method="pca"),
                state)
    return path


CATS = ["My cat sleeps on the sofa all day.", "Kittens love to chase strings and play.",
        "The cat purred loudly on my lap.", "Our kitten knocked the vase off the table.",
        "A tabby cat stretched out in the sun.", "The kitten meowed for its dinner."]
MARKETS = ["Stock markets fell sharply after the interest rate rise.",
           "Investors sold shares as bond yields climbed.",
           "The central bank raised rates to fight inflation.",
           "Bank shares dropped on fears of a recession.",
           "The index closed lower on weak earnings.", "Traders bought gold as stocks slid."]
WEATHER = ["Heavy rain flooded the streets this morning.", "A cold front brings snow tonight.",
           "The storm knocked out power across the coast.", "Sunny skies and mild winds today.",
           "Thunderstorms are expected this afternoon.", "Fog delayed flights at the airport."]


@pytest.mark.slow
def test_semantic_search_with_the_real_embedder(qtbot: Any, settings: Any,
                                                minilm_study: Path) -> None:
    from monoscope.testing import raw_connection
    win = new_window(qtbot, settings, minilm_study, size=None)
    assert len(win.map.text_id) == 18
    ids = {str(b): int(i) for i, b in raw_connection(win.study).execute(
        "SELECT id, body FROM texts").fetchall()}
    win.search.semantic_limit = 6
    res = _search(win, MARKETS[2], mode="semantic")
    assert res.mode == "semantic" and res.total == 6
    assert res.hits[0].text_id == ids[MARKETS[2]] and res.hits[0].score > 0.999
    # the nearest texts are the other market texts, and exactly those are lit
    assert {h.text_id for h in res.hits} == {ids[b] for b in MARKETS}
    assert set(win.map.highlighted_ids().tolist()) == {ids[b] for b in MARKETS}
    assert all(a.score >= b.score for a, b in zip(res.hits, res.hits[1:], strict=False))
    assert "all-MiniLM-L6-v2 (torch)" in win.search.status.text()
    res = _search(win, "a small furry pet", mode="semantic", scope="dataset")
    assert res.hits[0].text_id in {ids[b] for b in CATS}
    win.close()
