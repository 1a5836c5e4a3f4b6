"""The first run in the window (demo, import dialog, map after an import, Run ▸ stages) and the
views following a run, F5, a Sweep click and a prompt change; a real window offscreen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from window_helper import new_window

from monoscope.core.store import Study
from monoscope.testing import raw_connection
from monoscope.ui.views.import_dialog import guess_mapping

pytestmark = pytest.mark.ui


@pytest.fixture
def gui_queries(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Stacks of every study cursor opened on the GUI thread (the window must open none)."""
    import threading
    import traceback

    seen: list[str] = []
    cursor = Study._cursor

    def watched(self: Study) -> Any:
        stack = traceback.extract_stack()
        # the runs panel's own reads move to workers separately (issue 11)
        if threading.current_thread() is threading.main_thread() and not any(
                f.filename.endswith("runs_panel.py") for f in stack):
            seen.append("".join(traceback.format_list(stack[-10:-1])))
        return cursor(self)

    monkeypatch.setattr(Study, "_cursor", watched)
    return seen


def _window(qtbot: Any, settings: Any) -> Any:
    return new_window(qtbot, settings, size=(1280, 800))


def _settle(qtbot: Any, win: Any, timeout_s: float = 300) -> None:
    """Wait until the window's chains (which start one another) and every load are done."""
    qtbot.waitUntil(lambda: not win.actions_.progress.running() and not win.runner.busy(),
                    timeout=int(timeout_s * 1000))
    assert win.wait_idle(timeout_s)


def test_guess_mapping_from_column_names_and_values() -> None:
    assert guess_mapping(["movie_id", "movie_title", "review_text", "stars", "sentiment"]) == {
        "key": "movie_id", "text": "review_text", "title": "movie_title", "context": None,
        "label": "sentiment", "rating": "stars"}
    # an id column is never the text; a review_id is a key
    assert guess_mapping(["review_id", "book", "review"])["key"] == "book"
    assert guess_mapping(["review_id", "book", "review"])["text"] == "review"
    # films by title: the title is the key
    g = guess_mapping(["title", "snippet"])
    assert (g["key"], g["text"], g["title"]) == ("title", "snippet", None)
    # no name says "text": the column with the long values
    rows = [("a", "3", "this is a rather long free text written by someone"),
            ("b", "4", "and another long enough text to stand out here")]
    assert guess_mapping(["item", "n", "what"], rows)["text"] == "what"
    assert guess_mapping(["x", "y"]) == dict.fromkeys(guess_mapping(["x"]))


def test_demo_opens_its_own_study_never_the_open_one(
        qtbot: Any, settings: Any, study_copy: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With a study open, 'Open the demo' closes it untouched and opens (creating it the first
    time) the demo study in the data folder, imports the films demo there, then asks for the
    map chain on it."""
    from monoscope.core import assets

    # the films data as set-up installed it (a fresh data folder would download it again)
    if assets.is_present("rotten-tomatoes"):
        monkeypatch.setenv("MONOSCOPE_ASSET_ROTTEN_TOMATOES",
                           str(assets.asset_path("rotten-tomatoes")))
    monkeypatch.setenv("MONOSCOPE_DATA_DIR", str(tmp_path / "data"))
    with Study(study_copy, read_only=True) as st:
        before = st.query("SELECT d.name, count(t.id) AS n FROM datasets d JOIN prompts p "
                          "ON p.dataset_id = d.id JOIN texts t ON t.prompt_id = p.id "
                          "GROUP BY d.name ORDER BY d.name")
    assert before == [{"name": "fixture-reviews", "n": 1400}]
    win = _window(qtbot, settings)
    assert win.open_study(study_copy) and win.wait_idle(60)
    chains: list[tuple[str, int | None, str | None]] = []
    monkeypatch.setattr(win.actions_, "run_chain",
                        lambda name, ds=None, then=None: chains.append((name, ds, then)))
    demo = tmp_path / "data" / "demo.duckdb"
    assert not demo.exists()
    win.actions_.actions["demo"].trigger()
    assert win.wait_idle(180)
    assert win.study is not None and win.study.path == demo and demo.is_file()
    films = win.study.query("SELECT d.id, count(*) AS n FROM datasets d JOIN prompts p "
                            "ON p.dataset_id = d.id WHERE d.name = 'films' GROUP BY d.id")
    assert len(films) == 1 and films[0]["n"] > 100
    assert win.prompts.proxy.rowCount() == films[0]["n"]
    assert chains == [("map", films[0]["id"], "describe")]
    win.close()
    with Study(study_copy, read_only=True) as st:  # the study that was open is unchanged
        after = st.query("SELECT d.name, count(t.id) AS n FROM datasets d JOIN prompts p "
                         "ON p.dataset_id = d.id JOIN texts t ON t.prompt_id = p.id "
                         "GROUP BY d.name ORDER BY d.name")
    assert after == before


def test_import_dialog_then_map_without_leaving_the_window(
        qtbot: Any, settings: Any, tmp_path: Path, gui_queries: list[str]) -> None:
    """Drop a CSV: the dialog shows its columns, the guessed mapping, the first rows and the
    prompts it makes; Import writes the dataset, shows the report, and the window computes
    embeddings and the map (real MiniLM, PCA), then the attributes and measurements."""
    csv = tmp_path / "my_reviews.csv"
    reviews = {"b1": ["Loved it, a warm and funny book.", "Too long and rather dull.",
                      "Fine, nothing special.", "A masterpiece of quiet tension."],
               "b2": ["I could not put it down.", "The ending felt rushed.",
                      "Beautiful prose, thin plot.", "Great characters throughout."],
               "b3": ["Boring.", "An instant classic.", "Clever but cold.",
                      "The best book I read this year."]}
    lines = ["book_id,book_title,review,stars"]
    for k, texts in reviews.items():
        lines += [f'{k},Book {k[-1]},"{t}",{i + 2}' for i, t in enumerate(texts)]
    csv.write_text("\n".join(lines) + "\n")
    win = _window(qtbot, settings)
    assert win.open_study(tmp_path / "new.duckdb", create=True) and win.wait_idle(30)
    gui_queries.clear()  # opening (migrating) a study is not this test's business
    assert win.actions_.handle_drop(str(csv)) == "import"
    dlg = win.actions_.import_dlg
    assert dlg is not None and win.wait_idle(30)
    assert dlg.mapping() == {"key": "book_id", "text": "review", "title": "book_title",
                             "context": None, "label": None, "rating": "stars"}
    assert dlg.table.rowCount() == 12 and dlg.table.columnCount() == 4
    assert dlg.table.horizontalHeaderItem(2).text() == "review → text"
    assert dlg.table.item(1, 2).text() == "Too long and rather dull."
    assert "3 prompts</b> from 12 rows (12 with a text)" in dlg.prompts_label.text()
    assert "b1 (4), b2 (4), b3 (4)" in dlg.prompts_label.text()
    dlg.grab().save(str(tmp_path / "import_dialog.png"))
    assert dlg.import_button.isEnabled()
    dlg.import_button.click()
    _settle(qtbot, win)
    assert gui_queries == [], gui_queries[0]  # (the test's own queries below are)
    report = dlg.messages.toPlainText()
    assert "imported as dataset 'my_reviews'" in report and "texts written" in report
    assert " 12\n" in report.split("texts written", 1)[1]
    assert not dlg.import_button.isEnabled()  # imported once
    st = win.study
    assert st.scalar("SELECT count(*) FROM embeddings") == 12
    assert st.query("SELECT scope, method FROM projections") == [
        {"scope": "dataset", "method": "pca"}]  # < 15 human texts: PCA only
    assert st.scalar("SELECT count(*) FROM attributes WHERE name = 'sentiment.vader'") == 12
    assert st.scalar("SELECT count(*) FROM measure_sets") >= 1
    # the window shows the dataset, its table and the map of the first prompt
    assert win.prompts.dataset.currentText().startswith("my_reviews")
    assert sorted(win.prompts.visible_keys()) == ["b1", "b2", "b3"]
    assert win.payload is not None and win.payload.key == "b1"
    assert len(win.map.text_id) == 4 and "PCA map" in win.map.title.text()
    assert {"sentiment.vader", "text.words"} <= set(win.hists.hists)
    assert not win.actions_.progress.isVisible()
    win.grab().save(str(tmp_path / "after_import.png"))
    win.close()


def _copy_run(study: Study, run_id: int, label: str, temperature: float) -> int:
    """A finished run like ``run_id`` at another temperature (its texts, generations,
    attributes and map points copied), written as a run would be."""
    con = raw_connection(study)
    new = con.execute(
        "INSERT INTO runs (dataset_id, model_id, label, engine, template, sampling, "
        "n_per_prompt, seed, status) SELECT dataset_id, model_id, ?, engine, template, "
        "json_object('temperature', ?, 'top_p', 0.95, 'top_k', 50, 'max_tokens', 96), "
        "n_per_prompt, seed + 100, 'finished' FROM runs WHERE id = ? RETURNING id",
        [label, temperature, run_id]).fetchall()[0][0]
    con.execute("CREATE OR REPLACE TEMP TABLE m AS SELECT id AS old, nextval('seq_texts') AS new "
                "FROM texts WHERE run_id = ?", [run_id])
    con.execute("INSERT INTO texts (id, prompt_id, origin, run_id, sample_index, body, "
                "content_hash, label, rating, meta) SELECT m.new, prompt_id, origin, ?, "
                "sample_index, body, content_hash, label, rating, meta FROM texts "
                "JOIN m ON m.old = texts.id", [new])
    con.execute("INSERT INTO generations (text_id, run_id, prompt_id, sample_index, seed, params, "
                "n_tokens, finish_reason, mean_logprob, perplexity) SELECT m.new, ?, prompt_id, "
                "sample_index, seed, params, n_tokens, finish_reason, mean_logprob, perplexity "
                "FROM generations JOIN m ON m.old = generations.text_id", [new])
    con.execute("INSERT INTO attributes SELECT m.new, name, value, label, version "
                "FROM attributes JOIN m ON m.old = attributes.text_id")
    con.execute("INSERT INTO projection_points SELECT projection_id, m.new, x, y "
                "FROM projection_points JOIN m ON m.old = projection_points.text_id")
    return int(new)


def _seen(win: Any) -> dict[str, set[int]]:
    """The runs each view shows (each brought to the front first: a view behind another tab
    reloads when it is shown)."""
    for name in ("overview", "sweep", "compare", "accumulation"):
        win.show_view(name)
        assert win.wait_idle(120)
    win.show_view("map")
    ov = win.overview.data
    return {
        "table": {r.id for r in win.run_list},
        "overview": {int(g.key.split(":")[1]) for g in ov.groups if g.key.startswith("run:")},
        "sweep": {p.group.run_id for p in win.sweep.data.points},
        "compare": {int(win.compare.run_a.itemData(i)) for i in range(win.compare.run_a.count())},
        "accumulation": {c.group.run_id for c in win.accumulation.data.curves
                         if c.group.run_id is not None},
    }


def _all(win: Any, runs: set[int]) -> dict[str, set[int]]:
    return {view: set(runs) for view in _seen(win)}


def test_views_refresh_after_a_run_and_f5_and_sweep_opens_the_run(qtbot: Any,
                                                                  window: Any) -> None:
    win = window
    assert _seen(win) == _all(win, {1, 2})
    # a run ends and its follow-up chain finishes: every view shows it
    r3 = _copy_run(win.study, 2, "base T=1.6", 1.6)
    win.runs_panel.pipeline_finished.emit()
    assert win.wait_idle(120)
    assert _seen(win) == _all(win, {1, 2, r3})
    # another run written behind the window's back: F5 shows it everywhere
    r4 = _copy_run(win.study, 1, "instruct T=0.3", 0.3)
    win.actions_.actions["refresh"].trigger()
    assert win.wait_idle(120)
    assert _seen(win) == _all(win, {1, 2, r3, r4})
    # a click on the new run's point in the Sweep opens it in Compare (as run A)
    win.show_view("sweep")
    assert win.wait_idle(60)
    view = win.sweep
    spot = next(p for s in view.scatters.values() for p in s.points()
                if int(p.data()) == r3)
    pos = view.canvas.mapFromScene(view.plot.vb.mapViewToScene(QPointF(spot.pos())))
    with qtbot.waitSignal(view.run_activated, timeout=5000) as sig:
        qtbot.mouseClick(view.canvas.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(pos))
    assert sig.args == [r3]
    assert win.wait_idle(60)
    assert win.tabs.currentWidget() is win._holders["compare"]
    assert win.compare.run_a.currentData() == r3 and win.compare.run_b.currentData() != r3
    assert win.compare.data is not None
    assert [side.group.run_id for side in win.compare.data.sides] == [
        r3, win.compare.run_b.currentData()]


def test_inspector_follows_the_prompt(window: Any) -> None:
    win = window
    assert win.prompts.select_key("book-005") and win.wait_idle(60)
    tid = int(win.map.text_id[0])
    win.map.select_text(tid)
    win.inspect(tid)
    assert win.wait_idle(30)
    old = win.inspector.detail
    assert old is not None and old["prompt_key"] == "book-005" and old["id"] == tid
    assert win.inspector.body.toPlainText() == old["body"]
    old_generic = [win.inspector.generic_list.item(i).text()
                   for i in range(win.inspector.generic_list.count())]
    assert win.prompts.select_key("book-006") and win.wait_idle(60)
    assert win.inspector.detail is None and win.inspector.body.toPlainText() == ""
    assert win.inspector.header.text().startswith("Click a point")
    new_generic = [win.inspector.generic_list.item(i).text()
                   for i in range(win.inspector.generic_list.count())]
    assert len(new_generic) == 8 and new_generic != old_generic
    # a text read for the previous prompt that arrives late is not shown
    win.inspector.show_text(old, [])
    assert win.inspector.detail is None
    # the whole-dataset map: any prompt's text may be inspected; the text stays
    win.state.whole_dataset = True
    assert win.wait_idle(60)
    win.inspect(tid)
    assert win.wait_idle(30)
    assert win.inspector.detail is not None and win.inspector.detail["id"] == tid
    win.state.whole_dataset = False
    assert win.wait_idle(60)
    assert win.inspector.detail is None  # back on book-006


def test_run_menu_stages_with_progress_and_cancel(qtbot: Any, window: Any,
                                                  gui_queries: list[str]) -> None:
    """Run ▸ Measure runs the measure stage on the pipeline lane with a status-bar progress
    row; Run ▸ Annotate can be cancelled from that row."""
    win = window
    acts = win.actions_.actions
    assert {"annotate", "project", "measure"} <= set(acts)
    con = raw_connection(win.study)
    sets_before = con.execute("SELECT count(*) FROM measure_sets").fetchall()[0][0]
    con.execute("DELETE FROM measurements")
    con.execute("DELETE FROM measure_sets")
    acts["measure"].trigger()
    bar = win.actions_.progress
    assert bar.isVisible() and bar.label.text().startswith("Measure")
    assert [j.key for j, _t in bar.jobs] == ["pipeline:measure"]
    _settle(qtbot, win, 120)
    assert not bar.isVisible()
    assert gui_queries == [], gui_queries[0]
    assert win.study.scalar("SELECT count(*) FROM measure_sets") == sets_before >= 1
    acts["annotate"].trigger()
    assert bar.isVisible()
    bar.cancel_button.click()
    _settle(qtbot, win, 120)
    assert win.status.text() == "Annotate cancelled." and not bar.isVisible()
