"""Run dialog and runs panel: valid specs, clear rejections, and a real tiny run with SmolLM2."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from figure_study import make_figure_study

from monoscope.testing import raw_connection
from monoscope.ui.views.run_dialog import (
    RunDialog,
    RunInputError,
    estimate_seconds,
    parse_floats,
)


@pytest.fixture
def fig_study(tmp_path: Path):
    st = make_figure_study(tmp_path / "fig.duckdb")
    yield st
    st.close()


def test_parse_floats_messages() -> None:
    assert parse_floats("0.5, 1.2 0.5", "temperatures", 0, 5) == [0.5, 1.2]
    with pytest.raises(RunInputError, match="'abc' is not a number"):
        parse_floats("0.5, abc", "temperatures", 0, 5)
    with pytest.raises(RunInputError, match=r"outside \(0, 1\]"):
        parse_floats("0", "top-p", 0, 1, low_open=True)


def test_dialog_builds_a_valid_spec(qtbot, fig_study) -> None:
    dlg = RunDialog(fig_study, 1, selected_keys=["p2", "p4"])
    qtbot.addWidget(dlg)
    assert dlg.runner.wait(30)  # the dialog reads the study in a worker
    assert "llama" in dlg.model_info.text() and "chat template present" in dlg.model_info.text()
    dlg.temps.setText("0.5, 1.2")
    dlg.top_ps.setText("0.9 1.0")
    dlg.top_k.setValue(40)
    dlg.max_tokens.setValue(8)
    dlg.n_per_prompt.setValue(2)
    dlg.seed.setValue(7)
    dlg.subset_first.setChecked(True)
    dlg.first_k.setValue(3)
    spec = dlg.build_spec()
    assert spec.n_runs == 4 and spec.n_prompts == 3 and spec.prompt_keys == ("p1", "p2", "p3")
    assert spec.n_samples == 4 * 3 * 2 and spec.seed == 7 and spec.model == "smollm2"
    assert {(s.temperature, s.top_p) for s in spec.sampling} == {(0.5, 0.9), (0.5, 1.0), (1.2, 0.9), (1.2, 1.0)}
    assert all(s.top_k == 40 and s.max_tokens == 8 for s in spec.sampling)
    assert spec.template == "personalized"
    # The preview fills the first prompt's title into the films variant of the preset.
    assert "Film P1" in dlg.preview.toPlainText() and "movie" in dlg.preview.toPlainText()
    # 24 samples x 8 tokens at 240 tok/s.
    assert estimate_seconds(spec, 240.0) == pytest.approx(24 * 8 / 240)
    assert "24 samples" in dlg.estimate.text()

    dlg.subset_sel.setChecked(True)
    assert dlg.build_spec().prompt_keys == ("p2", "p4")
    dlg.decay_on.setChecked(True)
    dlg.decay_kind.setCurrentText("linear")
    dlg.decay_end.setValue(1.2)
    spec = dlg.build_spec()
    assert spec.n_runs == 2 and spec.sampling[0].decay is not None
    assert spec.sampling[0].decay.kind == "linear" and spec.sampling[0].temperature == 1.2


def test_dialog_rejects_bad_input_with_a_message(qtbot, fig_study, tmp_path: Path) -> None:
    dlg = RunDialog(fig_study, 1)
    qtbot.addWidget(dlg)
    assert dlg.runner.wait(30)  # the dialog reads the study in a worker
    ok = dlg.buttons.buttons()[0]
    dlg.temps.setText("0.8, hot")
    assert "'hot' is not a number" in dlg.error.text()
    assert not dlg.buttons.button(dlg.buttons.StandardButton.Ok).isEnabled()
    dlg.temps.setText("0.8")
    assert dlg.error.text() == "" and ok.isEnabled()
    dlg.top_ps.setText("1.5")
    assert "top-p" in dlg.error.text() and "outside" in dlg.error.text()
    dlg.top_ps.setText("1.0")
    dlg.template_box.setCurrentIndex(dlg.template_box.count() - 1)  # custom
    dlg.template_edit.setPlainText("Review {film}")
    assert "Unknown placeholder" in dlg.error.text() and "{film}" in dlg.error.text()
    dlg.template_edit.setPlainText("Write a short review of {title}: ")
    assert dlg.error.text() == ""
    assert dlg.build_spec().template == "Write a short review of {title}:"
    assert "Write a short review of Film P1" in dlg.preview.toPlainText()
    # Base model: completion prompt and the 'different family' note.
    dlg.model_box.setCurrentIndex(1)
    assert "different family" in dlg.model_box.currentText()
    assert "completion prompts" in dlg.model_info.text()
    dlg.grab().save(str(tmp_path / "run_dialog.png"))
    # A file that is not GGUF is refused with what to do.
    bad = Path(fig_study.path).with_name("fake.gguf")
    bad.write_bytes(b"NOTGGUF" * 10)
    dlg.add_model_file(str(bad))
    assert "not a GGUF model file" in dlg.error.text()
    with pytest.raises(RunInputError, match="not a GGUF"):
        dlg.build_spec()


def _tiny_films_study(path: Path):
    from monoscope.core.store import Study, content_hash

    st = Study(path)
    raw_connection(st).execute("INSERT INTO datasets (name, kind) VALUES ('films', 'text')")
    reviews = {
        "amelie": ("Amélie", ["A whimsical, warm fairy tale of Paris.", "Too sugary for my taste."]),
        "memento": ("Memento", ["A puzzle told backwards that rewards attention.", "Clever but cold."]),
    }
    for key, (title, texts) in reviews.items():
        pid = raw_connection(st).execute("INSERT INTO prompts (dataset_id, key, title) VALUES (1, ?, ?) RETURNING id",
                             [key, title]).fetchone()[0]
        for i, body in enumerate(texts):
            raw_connection(st).execute(
                "INSERT INTO texts (prompt_id, origin, sample_index, body, content_hash) "
                "VALUES (?, 'source', ?, ?, ?)", [pid, i, body, content_hash(body)])
    return st


@pytest.mark.slow
def test_real_run_from_panel_cancel_then_resume(qtbot, tmp_path: Path) -> None:
    from PySide6.QtCore import Qt

    from monoscope.ui.views.runs_panel import RunsPanel
    from monoscope.ui.workers import TaskRunner

    st = _tiny_films_study(tmp_path / "run.duckdb")
    runner = TaskRunner()
    panel = RunsPanel(st, runner=runner, auto_pipeline=False)
    qtbot.addWidget(panel)
    panel.resize(1000, 500)
    dlg = RunDialog(st, 1)
    qtbot.addWidget(dlg)
    assert dlg.runner.wait(30)  # the dialog reads the study in a worker
    dlg.n_per_prompt.setValue(2)
    dlg.max_tokens.setValue(8)
    dlg.seed.setValue(3)
    dlg.subset_first.setChecked(True)
    dlg.first_k.setValue(2)
    spec = dlg.build_spec()
    assert spec.n_samples == 4

    seen = []

    def cancel_on_first(p) -> None:
        if not seen:
            seen.append(p)
            panel.cancel()

    with qtbot.waitSignal(panel.run_ended, timeout=120_000) as ended:
        job = panel.start(spec)
        job.progressed.connect(cancel_on_first)
    assert ended.args[1] == "cancelled"
    qtbot.waitUntil(lambda: not panel.busy(), timeout=30_000)
    run_id = int(st.scalar("SELECT id FROM runs"))
    assert st.scalar("SELECT status FROM runs") == "cancelled"
    done_before = int(st.scalar("SELECT count(*) FROM generations"))
    assert done_before < 4
    assert "Resume" in panel.message.text()

    # Resume through the button: only the missing samples are generated. A timer keeps firing
    # while the run is busy: the model loads and decodes in the worker, not on the GUI thread
    # (a run on the GUI thread would block every tick until it ended; no count of ticks, which
    # would time the run).
    from PySide6.QtCore import QTimer

    ticks: list[int] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1) if panel.busy() else None)
    timer.start(10)
    panel.table.selectRow(panel._rows[run_id])
    assert panel.resume_btn.isEnabled()
    with qtbot.waitSignal(panel.run_ended, timeout=120_000) as ended:
        qtbot.mouseClick(panel.resume_btn, Qt.MouseButton.LeftButton)
        assert panel.busy() and not panel.new_btn.isEnabled() and panel.cancel_btn.isEnabled()
    timer.stop()
    assert ended.args == [run_id, "finished"]
    assert ticks  # the event loop ran while the run was busy
    qtbot.waitUntil(lambda: not panel.busy(), timeout=30_000)
    assert runner.wait(30)  # the table's rows are read in a worker
    assert st.scalar("SELECT status FROM runs") == "finished"
    rows = st.query("SELECT prompt_id, sample_index, n_tokens FROM generations ORDER BY 1, 2")
    assert [(r["prompt_id"], r["sample_index"]) for r in rows] == [(1, 0), (1, 1), (2, 0), (2, 1)]
    assert all(0 < r["n_tokens"] <= 8 for r in rows)
    row = panel._rows[run_id]
    assert panel.table.item(row, 5).text() == "4/4" and panel.table.item(row, 4).text() == "finished"
    assert "T=0.8" in panel.table.item(row, 3).text()
    panel.grab().save(str(tmp_path / "runs_panel.png"))
    runner.shutdown()
    st.close()


def test_pipeline_order_and_stop_on_failure(qtbot, tmp_path: Path) -> None:
    from monoscope.core.errors import MonoscopeError
    from monoscope.ui.pipeline import Pipeline
    from monoscope.ui.workers import TaskRunner

    st = _tiny_films_study(tmp_path / "p.duckdb")
    calls: list[str] = []

    class Step:
        def __init__(self, name: str, fail: bool = False) -> None:
            self.name, self.fail = name, fail

        def run(self, request, state):
            assert request.study is st and request.dataset == "films"
            assert request.prompt_keys == ("memento",)
            state.begin(self.name, 2)
            state.progress(2, 2)
            calls.append(self.name)
            if self.fail:
                raise MonoscopeError(f"{self.name} needs something: do this.")
            return self.name

    pipe = Pipeline(TaskRunner(), st)
    pipe.stages = [Step("measure"), Step("annotate"), Step("project", fail=True)]
    progressed: list[str] = []
    pipe.step_progressed.connect(lambda step, p: progressed.append(f"{step}:{p.stage}"))
    with qtbot.waitSignal(pipe.step_failed, timeout=10_000) as failed:
        pipe.start("films", prompt_keys=["memento"])
    assert failed.args == ["project", "project needs something: do this."]
    assert calls == ["annotate", "project"] and not pipe.running()  # chain order, stopped
    assert pipe.results == {"annotate": "annotate"}
    assert "annotate:annotate" in progressed and "project:project" in progressed
    assert not any(p.startswith("measure") for p in progressed)
    st.close()


def test_follow_up_after_a_run_covers_only_its_prompts(qtbot, tmp_path: Path) -> None:
    """The follow-up after a run gets the run's dataset and prompts (a 2-prompt run once
    projected all 290 prompts of the dataset)."""
    from monoscope.core.generation import RunSummary
    from monoscope.ui.views.runs_panel import RunsPanel
    from monoscope.ui.workers import TaskRunner

    st = _tiny_films_study(tmp_path / "f.duckdb")
    con = raw_connection(st)
    con.execute("INSERT INTO prompts (dataset_id, key, title) VALUES (1, 'heat', 'Heat'), "
                "(1, 'alien', 'Alien')")
    con.execute("INSERT INTO runs (dataset_id, label, engine, template, template_text, sampling, "
                "n_per_prompt, seed, prompt_filter, status) VALUES (1, 'r', 'http', 't', 't', "
                "'{}', 2, 0, '{\"keys\": [\"alien\", \"memento\"], \"first\": null}', "
                "'finished')")
    panel = RunsPanel(st, runner=TaskRunner())
    qtbot.addWidget(panel)
    assert panel.pipeline is not None
    started: list[tuple[str, object]] = []
    panel.pipeline.start = lambda dataset, keys=None: started.append((dataset, keys))  # type: ignore[method-assign]
    panel._partial(("ended", RunSummary(1, "finished", 4, 4, 4, 10, 1.0)))
    panel._gen_finished([])
    qtbot.waitUntil(lambda: bool(started), timeout=10_000)  # the run's scope is read in a worker
    assert started == [("films", ("memento", "alien"))]  # the run's prompts, import order
    st.close()


@pytest.fixture
def helpers(monkeypatch: pytest.MonkeyPatch) -> list:
    """Every model helper process started meanwhile (`monoscope.core.offload`), kept."""
    from monoscope.core import offload

    made: list[offload.Helper] = []

    class Recorded(offload.Helper):
        def __init__(self, state=None) -> None:
            super().__init__(state)
            made.append(self)

    monkeypatch.setattr(offload, "Helper", Recorded)
    return made


@pytest.mark.slow
def test_real_pipeline_from_the_panel(qtbot, tmp_path: Path, helpers: list) -> None:
    """annotate → project → measure for real (MiniLM, VADER, PCA/UMAP, metrics) on a tiny study;
    the models load in a helper process, ended with the chain (nothing stays loaded)."""
    from monoscope.ui.views.runs_panel import RunsPanel
    from monoscope.ui.workers import TaskRunner

    st = _tiny_films_study(tmp_path / "pipe.duckdb")
    panel = RunsPanel(st, runner=TaskRunner())
    qtbot.addWidget(panel)
    assert panel.pipeline is not None
    started: list[str] = []
    failures: list[tuple[str, str]] = []
    panel.pipeline.step_started.connect(started.append)
    panel.pipeline.step_failed.connect(lambda step, msg: failures.append((step, msg)))
    panel.pipeline.start("films")
    qtbot.waitUntil(lambda: not panel.pipeline.running(), timeout=180_000)
    assert failures == []
    assert started == ["annotate", "project", "measure"]
    assert all(panel.steps.item(i, 2).text() == "done" for i in range(3))
    assert st.scalar("SELECT count(*) FROM embeddings") == 4
    assert st.scalar("SELECT count(*) FROM attributes WHERE name = 'sentiment.vader'") == 4
    assert st.scalar("SELECT count(*) FROM projection_points") >= 4
    res = panel.pipeline.results["measure"]  # stored: the views read these rows
    assert res.set_id and res.rows
    assert st.scalar("SELECT count(*) FROM measurements WHERE set_id = ?", [res.set_id]) \
        == len(res.rows)
    (helper,) = helpers  # the embedder ran there, and the process has ended
    assert helper.calls == ["embed"] and not helper.alive() and helper.proc.returncode is not None
    st.close()


def test_a_run_warms_the_follow_ups_helper_up_and_hands_it_over(qtbot, tmp_path: Path,
                                                                helpers: list) -> None:
    """Near a run's end the panel starts the follow-up's model helper (it loads the embedder
    and UMAP while the run ends); the follow-up takes it over, a run without one ends it."""
    from monoscope.core.generation import RunSummary
    from monoscope.core.tasks import Progress
    from monoscope.ui.views.runs_panel import RunsPanel
    from monoscope.ui.workers import TaskRunner

    st = _tiny_films_study(tmp_path / "w.duckdb")
    con = raw_connection(st)
    con.execute("INSERT INTO runs (dataset_id, label, engine, template, template_text, sampling, "
                "n_per_prompt, seed, prompt_filter, status) VALUES (1, 'r', 'http', 't', 't', "
                "'{}', 2, 0, '{\"keys\": [\"memento\"], \"first\": null}', 'finished')")
    panel = RunsPanel(st, runner=TaskRunner())
    qtbot.addWidget(panel)
    pipe = panel.pipeline
    assert pipe is not None
    handed: list = []
    pipe.start = lambda dataset, keys=None: handed.append(pipe._warm)  # type: ignore[method-assign]

    def progress(done: int, total: int, eta: float | None) -> None:
        panel.active_run = 1
        panel._rows[1] = 0
        panel.table.setRowCount(1)
        panel._progressed(Progress("run 1", done, total, "", 1.0, eta, 1.0))

    progress(0, 400, None)  # far from the end: nothing starts
    assert helpers == []
    progress(390, 400, 60.0)  # its last batch of samples: the helper starts warming up
    assert len(helpers) == 1 and helpers[0].calls == ["warm"] and helpers[0].alive()
    progress(395, 400, 5.0)
    assert len(helpers) == 1  # one helper, started once
    panel._partial(("ended", RunSummary(1, "finished", 4, 4, 4, 10, 1.0)))
    panel._gen_finished([])
    qtbot.waitUntil(lambda: bool(handed), timeout=10_000)
    assert handed == [helpers[0]]  # the follow-up gets it
    pipe.discard()
    assert not helpers[0].alive()
    # a run that fails ends its helper: no process is left behind
    progress(399, 400, 1.0)
    assert len(helpers) == 2 and helpers[1].alive()
    panel._gen_failed("the model crashed")
    assert not helpers[1].alive() and pipe._warm is None
    # with the follow-up unticked nothing starts
    panel.auto_box.setChecked(False)
    progress(399, 400, 1.0)
    assert len(helpers) == 2
    st.close()


def test_the_follow_up_runs_in_the_warmed_helper_and_ends_it(qtbot, tmp_path: Path,
                                                             helpers: list) -> None:
    from monoscope.core import offload
    from monoscope.ui.pipeline import Pipeline
    from monoscope.ui.workers import TaskRunner

    st = _tiny_films_study(tmp_path / "h.duckdb")
    pipe = Pipeline(TaskRunner(), st)
    pipe.prepare()
    (helper,) = helpers
    seen: list = []

    class Step:
        def __init__(self, name: str) -> None:
            self.name = name

        def run(self, request, state):
            seen.append((self.name, offload.current()))
            return self.name

    pipe.stages = [Step("annotate"), Step("measure")]
    with qtbot.waitSignal(pipe.finished, timeout=30_000):
        pipe.start("films", prompt_keys=["memento"])
    assert seen == [("annotate", helper), ("measure", helper)]  # the chain's session
    assert helpers == [helper] and helper.calls == ["warm"]
    qtbot.waitUntil(lambda: not helper.alive(), timeout=10_000)  # ended with the chain
    st.close()


def test_about_dialog_lists_every_asset_licence(qtbot, tmp_path: Path) -> None:
    from monoscope import __version__
    from monoscope.core import assets
    from monoscope.ui.about import AboutDialog

    dlg = AboutDialog()
    qtbot.addWidget(dlg)
    texts = [[dlg.table.item(r, c).text() for c in range(3)] for r in range(dlg.table.rowCount())]
    assert [t[0] for t in texts] == list(assets.ASSETS)
    gemma = next(t for t in texts if t[0] == "gemma3-base")
    assert gemma[1] == "Gemma Terms of Use" and "Google" in gemma[2]
    assert any("Pang" in t[2] for t in texts)
    from PySide6.QtWidgets import QLabel

    head = " ".join(lab.text() for lab in dlg.findChildren(QLabel))
    assert f"Monoscope {__version__}" in head and "Generative Monoculture" in head
    dlg.grab().save(str(tmp_path / "about.png"))


def test_dialog_offers_the_paper_replication(qtbot, fig_study) -> None:
    """'Replicate the paper…' in the run dialog closes it and asks the window for replication."""
    dlg = RunDialog(fig_study, 1, selected_keys=[])
    qtbot.addWidget(dlg)
    assert dlg.runner.wait(30)  # the dialog reads the study in a worker
    button = dlg.replicate_button
    # Qt may insert a mnemonic '&' into button texts
    assert "Replicate the paper" in button.text().replace("&", "")
    assert not dlg.wants_replication
    button.click()
    assert dlg.wants_replication and dlg.result() == 0
