"""The "Replicate the paper…" dialog: request building, estimate, and a real tiny run."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "core"))
from analysis_fixture import Row, build

from monoscope.core.store import Study
from monoscope.ui.views.replicate_dialog import ReplicateDialog, start_replication
from monoscope.ui.workers import TaskRunner


@pytest.fixture
def tiny(tmp_path: Path) -> Iterator[Study]:
    st = Study(tmp_path / "tiny.duckdb")
    reviews = ["A gripping, moving film.", "Dull and far too long.", "Witty and warm.",
               "The plot falls apart.", "Lovely performances all round.", "I was bored."]
    build(st, [Row(p, f"{body} ({p})") for p in ("heat", "alien") for body in reviews])
    yield st
    st.close()


def test_dialog_builds_request_and_estimate(qtbot: Any, tiny: Study) -> None:
    dlg = ReplicateDialog(tiny)
    qtbot.addWidget(dlg)
    assert dlg.runner.wait(30)  # datasets and the estimate are read in a worker
    assert dlg.dataset.currentText() == "films"
    req = dlg.build_request()
    assert (req.protocol, req.preset, req.models) == ("reviews", "quick",
                                                      ("smollm2", "gemma3-base"))
    # 2 prompts (fewer than the preset's 20) × 10 samples × 5 runs × 2 models
    assert "2,000" not in dlg.estimate_label.text() and "200 samples" in dlg.estimate_label.text()
    dlg.n.setValue(3)
    dlg.models["gemma3-base"].setChecked(False)
    assert dlg.runner.wait(30)
    assert "30 samples" in dlg.estimate_label.text()
    dlg.models["smollm2"].setChecked(False)
    ok = dlg.buttons.button(dlg.buttons.StandardButton.Ok)
    assert not ok.isEnabled() and "--model" in dlg.estimate_label.text()
    dlg.protocol.setCurrentText("code")
    assert dlg.dataset.currentText() == "algorithms" and not dlg.decay.isEnabled()


@pytest.mark.slow
def test_replication_runs_through_the_task_runner(qtbot: Any, tiny: Study,
                                                  tmp_path: Path) -> None:
    dlg = ReplicateDialog(tiny)
    qtbot.addWidget(dlg)
    assert dlg.runner.wait(30)
    dlg.models["gemma3-base"].setChecked(False)
    dlg.prompts.setValue(1)
    dlg.n.setValue(2)
    req = dlg.build_request()
    from dataclasses import replace

    req = replace(req, max_tokens=4, out=str(tmp_path / "rep"), ppl_max=None)
    runner = TaskRunner(synchronous=True)
    job = start_replication(runner, tiny, req)
    got: dict[str, Any] = {}
    job.finished.connect(lambda r: got.setdefault("res", r))
    job.failed.connect(lambda m: got.setdefault("err", m))
    assert runner.wait(300)
    assert "err" not in got, got.get("err")
    res = got["res"]
    assert res.generated_now == 5 * 2 and res.report.is_file()
    assert tiny.scalar("SELECT count(*) FROM generations") == 10
    table = res.tables[0]
    assert table.value("texts kept (perplexity filter)", f"run:{res.run_ids[0]}") == 2
