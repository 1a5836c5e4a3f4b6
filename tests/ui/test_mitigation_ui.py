"""The run dialog's mitigation presets and the Sweep view's Along axis (issue 14, item 8)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from figure_study import make_figure_study

from monoscope.ui.views.run_dialog import RunDialog
from monoscope.ui.views.sweep import SweepView
from monoscope.ui.workers import TaskRunner


@pytest.fixture
def fig_study(tmp_path: Path):
    st = make_figure_study(tmp_path / "fig.duckdb")
    yield st
    st.close()


def test_run_dialog_mitigation_presets(qtbot, fig_study) -> None:
    dlg = RunDialog(fig_study, 1)
    qtbot.addWidget(dlg)
    assert dlg.runner.wait(30)
    dlg.set_mitigation("min-p")
    spec = dlg.build_spec()
    assert spec.n_runs == 8 and spec.verbalized_k == 0 and spec.system_prompts == ()
    assert sorted({(s.temperature, s.min_p) for s in spec.sampling}) == [
        (t, mp) for t in (1.0, 1.5) for mp in (0.0, 0.05, 0.1, 0.2)]
    (req,) = spec.to_requests("films")
    assert list(req.min_ps) == [0.0, 0.05, 0.1, 0.2] and list(req.temperatures) == [1.0, 1.5]

    dlg.set_mitigation("verbalized")
    spec = dlg.build_spec()
    assert spec.verbalized_k == 5 and spec.n_runs == 1
    assert spec.to_request("films").verbalized_k == 5
    assert "Generate 5 different responses" in dlg.preview.toPlainText()

    dlg.set_mitigation("system")
    spec = dlg.build_spec()
    assert spec.system_prompts == ("none", "assistant", "creative", "critic", "diverse")
    assert spec.verbalized_k == 0 and spec.n_runs == 5
    reqs = spec.to_requests("films")
    assert [r.system_prompt for r in reqs] == list(spec.system_prompts)
    assert "[system] You are a helpful assistant." not in dlg.preview.toPlainText()  # "none"
    dlg.system_prompts.setText("assistant")
    assert "[system] You are a helpful assistant." in dlg.preview.toPlainText()
    dlg.system_prompts.setText("assistant, pirate")
    assert "Unknown system prompt(s) pirate" in dlg.error.text()
    assert not dlg.buttons.button(dlg.buttons.StandardButton.Ok).isEnabled()

    dlg.set_mitigation("personas")
    spec = dlg.build_spec()
    assert spec.template == "personation" and spec.system_prompts == ()
    dlg.min_ps.setText("0.5, 2")
    assert "min-p: 2 is outside [0, 0.99]" in dlg.error.text()
    dlg.resize(720, 900)
    dlg.grab().save("/tmp/h14b_run_dialog.png")


def test_sweep_view_plots_along_a_run_parameter(qtbot, fig_study) -> None:
    view = SweepView(runner=TaskRunner())
    qtbot.addWidget(view)
    view.resize(900, 600)
    view.show()
    with qtbot.waitSignal(view.loaded, timeout=30_000):
        view.set_study(fig_study)
    offered = [view.along_box.itemData(i) for i in range(view.along_box.count())]
    assert offered == ["temperature", "top_p"]  # what varies over the fixture's runs
    data = view.data
    assert data is not None
    with qtbot.waitSignal(view.loaded, timeout=30_000):
        view.set_along("top_p")
    lines = data.lines("top_p")
    assert set(view.scatters) == set(lines) and lines
    for name, pts in lines.items():
        xs, ys = view.scatters[name].getData()
        assert [round(float(x), 1) for x in xs] == [p.group.top_p for p in pts]
        assert list(ys) == pytest.approx([p.mean for p in pts])
    assert view.plot.getAxis("bottom").labelText == "top-p"
    view.grab().save("/tmp/h14b_sweep_top_p.png")
