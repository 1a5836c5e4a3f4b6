"""The real window under load: hundreds of fast prompt switches, brushes and tab changes while a
real SmolLM2 run (llama.cpp) writes into the study and annotate writes attributes, on the
window's own task lanes. A hang fails through the timeout (with every thread's stack dumped by
faulthandler); a Qt or Python warning fails the test.

``MONOSCOPE_STRESS_REPEAT`` (default 1) repeats the whole scenario on fresh studies.
"""

from __future__ import annotations

import faulthandler
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from window_helper import new_window

pytestmark = [pytest.mark.slow, pytest.mark.ui]

SWITCHES = 500
REPEAT = int(os.environ.get("MONOSCOPE_STRESS_REPEAT", "1"))
TABS = ("overview", "map", "compare", "map", "sweep", "accumulation", "map")


def _generate(request: tuple[Any, list[str]], state: Any) -> int:
    from monoscope.core.generation.runs import RunRequest, plan_runs, run_generation

    study, keys = request
    req = RunRequest(dataset="fixture-reviews", model="smollm2", n=6, temperatures=(1.0,),
                     top_ps=(0.95,), max_tokens=24, prompt_keys=keys, seed=5, label="stress")
    done = 0
    for rid in plan_runs(study, req):
        done += run_generation(study, rid, state).total
    return done


def _annotate(request: tuple[Any, str], state: Any) -> None:
    from monoscope.core.attributes import AnnotateRequest, annotate

    study, path = request
    annotate(study, AnnotateRequest(study=path, dataset="fixture-reviews", threads=1,
                                    attributes=("text.words", "text.ttr", "sentiment.vader")),
             state)


def _scenario(qtbot: Any, settings: Any, path: Path, seed: int) -> None:
    from PySide6.QtWidgets import QApplication

    from monoscope.ui.collector import GuiThreadCollector
    app = QApplication.instance()
    collector = GuiThreadCollector(interval_ms=100)  # as the app does: cyclic GC, GUI thread only
    rng = np.random.default_rng(seed)
    win = new_window(qtbot, settings, path)
    keys = list(win.prompts.model.table.key)
    outcome: dict[str, Any] = {}
    gen = win.runner.submit("generation", _generate, (win.study, keys[:2]))
    gen.finished.connect(lambda n: outcome.__setitem__("generated", n))
    gen.failed.connect(lambda m: outcome.__setitem__("generation failed", m))
    ann = win.runner.submit("pipeline:annotate", _annotate, (win.study, str(path)))
    ann.finished.connect(lambda _r: outcome.__setitem__("annotated", True))
    ann.failed.connect(lambda m: outcome.__setitem__("annotate failed", m))
    last = keys[0]
    for i in range(SWITCHES):
        last = keys[int(rng.integers(len(keys)))]
        win.show_prompt(last)
        if i % 5 == 0:
            for _ in range(3):
                app.processEvents()
        if i % 11 == 0 and win.hists.hists:  # brush whatever histogram has loaded
            name = sorted(win.hists.hists)[i % len(win.hists.hists)]
            values = np.asarray(win.hists.hists[name].data.values, dtype=float)
            if np.isfinite(values).any():
                lo, hi = np.nanpercentile(values, [10, 60])
                win.hists.brush(name, float(lo), float(hi))
        if i % 37 == 0:
            win.show_view(TABS[(i // 37) % len(TABS)])
        time.sleep(0.002)
    win.show_view("map")
    win.show_prompt(last)
    assert win.wait_idle(600), "the window's tasks did not finish"
    assert outcome.get("generated") == 12, outcome
    assert outcome.get("annotated") is True, outcome
    # the window still answers, and shows the last prompt asked for
    assert win.payload is not None and win.payload.key == last
    # exactly the prompt's mapped texts (the new samples have no map point until projected)
    from monoscope.core.explore import queries

    pts = queries.points(win.study, win.state.dataset_id, last)
    assert pts is not None and sorted(win.map.text_id.tolist()) == sorted(pts.text_id.tolist())
    n_gen = win.study.scalar("SELECT count(*) FROM texts WHERE run_id IS NOT NULL AND prompt_id "
                             "IN (SELECT id FROM prompts WHERE key = ?)", [last])
    # every generated text of the prompt is on the map but the stress run's 6 new samples
    assert n_gen == int((pts.group > 0).sum()) + (6 if last in keys[:2] else 0)
    win.close()
    collector.stop()


@pytest.mark.timeout(1800)
def test_window_stays_responsive_while_a_run_and_annotate_write(
        qtbot: Any, settings: Any, tmp_path: Path) -> None:
    from monoscope.testing.fixture_study import build_fixture_study

    faulthandler.dump_traceback_later(1500, exit=False, file=sys.stderr)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # any Python warning fails the test
            for r in range(REPEAT):
                path = tmp_path / f"stress{r}.duckdb"
                build_fixture_study(path, n_prompts=12).close()
                _scenario(qtbot, settings, path, seed=r)
    finally:
        faulthandler.cancel_dump_traceback_later()
