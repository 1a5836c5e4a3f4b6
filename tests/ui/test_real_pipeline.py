"""The window on a study made by the real stages: films demo import, a tiny SmolLM2 run via
llama.cpp, real MiniLM embeddings and attributes, a PCA projection fitted on the human texts."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from window_helper import new_window

pytestmark = [pytest.mark.slow, pytest.mark.ui]


@pytest.fixture(scope="module")
def real_study_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template, built once (a real run takes a while); tests open their own copy."""
    from monoscope.core.analysis.projection import ProjectionRequest, project
    from monoscope.core.attributes import annotate
    from monoscope.core.attributes.base import AnnotateRequest
    from monoscope.core.generation.runs import RunRequest, plan_runs, run_generation
    from monoscope.core.importers import import_demo
    from monoscope.core.store import Study
    from monoscope.core.tasks import TaskState

    path = Path(tmp_path_factory.mktemp("real")) / "real.duckdb"
    with Study(path) as st:
        state = TaskState()
        import_demo(st, "films", state)
        keep = [r["id"] for r in st.query(
            "SELECT p.id FROM prompts p JOIN texts t ON t.prompt_id = p.id GROUP BY p.id "
            "ORDER BY count(*) DESC, p.id LIMIT 2")]
        with st.transaction() as cur:
            cur.execute("DELETE FROM texts WHERE prompt_id NOT IN (SELECT unnest(?))", [keep])
            cur.execute("DELETE FROM prompts WHERE id NOT IN (SELECT unnest(?))", [keep])
        keys = [r["key"] for r in st.query("SELECT key FROM prompts ORDER BY id")]
        req = RunRequest(dataset="films", model="smollm2", n=4, temperatures=(1.0,),
                         top_ps=(0.95,), max_tokens=24, prompt_keys=keys, seed=3)
        for rid in plan_runs(st, req):
            run_generation(st, rid, state)
        # sentiment.head needs a trained head file that not every checkout has
        names = ("embedding", "text.words", "text.ttr", "sentiment.vader", "topic")
        annotate(st, AnnotateRequest(study=str(path), dataset="films", threads=1,
                                     attributes=names), state)
        project(st, ProjectionRequest(dataset="films", scopes=("dataset", "prompts"),
                                      method="pca"), state)
    return path


@pytest.fixture
def real_study(real_study_file: Path, tmp_path: Path) -> Path:
    """A private copy: a test that runs more samples leaves the template as built."""
    dst = tmp_path / "real.duckdb"
    shutil.copy(real_study_file, dst)
    return dst


def test_window_on_real_stages(qtbot: Any, settings: Any, real_study: Path) -> None:
    win = new_window(qtbot, settings, real_study, size=None)
    st = win.study
    key = win.prompts.current_key()
    assert key is not None and win.prompts.proxy.rowCount() == 2
    m = win.map
    pid = st.scalar("SELECT id FROM prompts WHERE key = ?", [key])
    n_texts = st.scalar("SELECT count(*) FROM texts WHERE prompt_id = ?", [pid])
    assert len(m.text_id) == n_texts and (m.cloud.group == 1).sum() == 4
    assert "PCA" in m.title.text()
    # the prompt table holds a real index for the run (sentiment of real texts)
    t = win.prompts.model.table
    assert t is not None and t.runs[0].model and t.n_generated.sum() == 8
    assert t.measured and (t.matched_n[:, 0] == 4).all()  # stored rows at matched n (4 per side)
    # click a generated point: the inspector shows the real provenance
    idx = int(np.flatnonzero(m.cloud.group == 1)[0])
    m.select_index(idx)
    assert win.wait_idle(60)
    d = win.inspector.detail
    assert d is not None and d["origin"] == "generated"
    assert "SmolLM2" in str(d["model"]) or "smollm2" in str(d["model"]).lower()
    assert d["perplexity"] is not None and d["perplexity"] > 0 and d["seed"] is not None
    assert d["sampling"]["temperature"] == 1.0
    assert len(win.inspector.nearest) == 5
    assert all(0.0 < n["similarity"] <= 1.0 for n in win.inspector.nearest)  # real MiniLM
    # histograms of real attributes, brushed on the real values
    assert "text.words" in win.hists.hists
    words = win.hists.hists["text.words"].data.values
    lo, hi = float(np.nanmin(words)), float(np.nanmedian(words))
    win.hists.brush("text.words", lo, hi)
    want = set(m.text_id[(words >= lo) & (words <= hi)].tolist())
    assert set(m.highlighted_ids().tolist()) == want and want
    win.close()


def test_run_from_the_window_cancel_resume_refresh(qtbot: Any, settings: Any,
                                                   real_study: Path) -> None:
    """A tiny SmolLM2 run started from the window's runs dock: cancelled, resumed, and the
    prompt table then counts its samples (the window refreshes after the run)."""
    from monoscope.ui.views.run_dialog import RunDialog

    win = new_window(qtbot, settings, real_study, size=None)
    panel = win.extra_views["runs"]
    panel.auto_box.setChecked(False)  # the follow-up stages are tested elsewhere
    dlg = RunDialog(win.study, win.state.dataset_id, runner=win.runner)
    qtbot.addWidget(dlg)
    assert win.wait_idle(30)  # the dialog reads the study's datasets and prompts
    dlg.temps.setText("1.3")
    dlg.n_per_prompt.setValue(2)
    dlg.max_tokens.setValue(8)
    dlg.seed.setValue(11)
    spec = dlg.build_spec()
    first: list[Any] = []

    def cancel_on_first(_p: Any) -> None:
        if not first:
            first.append(1)
            panel.cancel()

    with qtbot.waitSignal(panel.run_ended, timeout=120_000) as ended:
        job = panel.start(spec)
        job.progressed.connect(cancel_on_first)
    assert ended.args[1] == "cancelled"
    assert win.dock_runs is not None and win.dock_runs.isVisible()
    assert win.wait_idle(120)
    run_id = int(ended.args[0])
    before = int(win.study.scalar("SELECT count(*) FROM texts WHERE run_id = ?", [run_id]))
    assert before < 4
    with qtbot.waitSignal(panel.run_ended, timeout=120_000) as ended:
        panel.resume(run_id)
    assert ended.args == [run_id, "finished"]
    assert win.wait_idle(120)
    t = win.prompts.model.table
    assert t is not None and [r.id for r in t.runs][-1] == run_id
    assert (t.n_generated[:, -1] == 2).all()  # refreshed after the run, no duplicates
    win.close()
