"""The task runner's lanes, interrupts and thread rules, with a real DuckDB study."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt

from monoscope.core.errors import StudyError, TaskCancelled
from monoscope.core.store import Study
from monoscope.core.tasks import TaskState
from monoscope.ui.workers import TaskRunner, lane_for

# a query that runs for minutes unless interrupted
ENDLESS = "SELECT count(*) FROM range(100000) a, range(100000) b WHERE a.range * b.range = -1"


def _slow(seconds: float, state: TaskState) -> str:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        state.check()
        time.sleep(0.005)
    return "slow"


def _endless_query(study: Study, state: TaskState) -> Any:
    return study.scalar(ENDLESS)


def test_lanes_by_key() -> None:
    assert lane_for("generation") == "generation"
    assert lane_for("pipeline:annotate") == "pipeline"
    assert lane_for("import") == "pipeline"
    assert lane_for("map") == "read" and lane_for("table") == "read"


def test_a_long_run_and_a_long_write_do_not_starve_the_views(qtbot: Any) -> None:
    runner = TaskRunner()
    order: list[str] = []
    gen = runner.submit("generation", _slow, 3.0)
    gen.finished.connect(lambda r: order.append("generation"))
    pipe = runner.submit("pipeline:annotate", _slow, 3.0)
    pipe.finished.connect(lambda r: order.append("pipeline"))
    t0 = time.monotonic()
    for key in ("map", "table", "lists"):
        runner.submit(key, _slow, 0.05).finished.connect(lambda r, k=key: order.append(k))
    qtbot.waitUntil(lambda: len(order) >= 3, timeout=2500)
    assert set(order[:3]) == {"map", "table", "lists"}  # the views did not wait for the 3 s jobs
    assert time.monotonic() - t0 < 2.9
    assert runner.wait(20)
    assert sorted(order[3:]) == ["generation", "pipeline"]
    assert runner.shutdown()


def test_cancel_interrupts_the_query_in_flight(qtbot: Any, tmp_path: Path) -> None:
    study = Study(tmp_path / "s.duckdb")
    runner = TaskRunner()
    events: list[str] = []
    job = runner.submit("map", _endless_query, study)
    job.cancelled.connect(lambda: events.append("cancelled"))
    job.finished.connect(lambda r: events.append("finished"))
    time.sleep(0.5)  # the query is running now
    t0 = time.monotonic()
    job.cancel()
    qtbot.waitUntil(lambda: bool(events), timeout=10000)
    assert events == ["cancelled"]
    assert time.monotonic() - t0 < 5  # interrupted, not run to its end
    assert runner.shutdown()
    study.close()  # nothing holds a cursor any more: closes cleanly


def test_superseding_a_load_interrupts_the_old_query(qtbot: Any, tmp_path: Path) -> None:
    study = Study(tmp_path / "s.duckdb")
    runner = TaskRunner()
    runner.submit("map", _endless_query, study)
    time.sleep(0.3)
    got: list[Any] = []
    runner.submit("map", lambda st, state: st.scalar("SELECT 42"), study).finished.connect(
        got.append)
    assert runner.wait(10)  # the old query was interrupted: the pool is free again
    assert got == [42]
    assert runner.shutdown()
    study.close()


def test_closing_a_study_stops_a_running_query(tmp_path: Path) -> None:
    study = Study(tmp_path / "s.duckdb")
    outcome: list[str] = []

    def read() -> None:
        try:
            study.scalar(ENDLESS)
            outcome.append("finished")
        except TaskCancelled:
            outcome.append("cancelled")

    t = threading.Thread(target=read)
    t.start()
    time.sleep(0.3)
    study.close(timeout_s=10)
    t.join(10)
    assert outcome == ["cancelled"]
    try:
        study.scalar("SELECT 1")
    except StudyError as exc:
        assert "closed" in str(exc)
    else:
        raise AssertionError("a closed study answered a query")


def test_jobs_are_destroyed_on_the_gui_thread(qtbot: Any) -> None:
    """A pool thread never holds the last reference to a Job (a QObject)."""
    import gc

    runner = TaskRunner()
    gui = threading.get_ident()
    destroyed_in: list[int] = []
    for i in range(40):
        job = runner.submit(f"view{i % 4}", _slow, 0.01)
        job.destroyed.connect(lambda *_: destroyed_in.append(threading.get_ident()),
                              Qt.ConnectionType.DirectConnection)
        del job
    assert runner.wait(20)
    gc.collect()
    qtbot.waitUntil(lambda: len(destroyed_in) == 40, timeout=5000)
    assert set(destroyed_in) == {gui}
    assert runner.shutdown()


def test_shutdown_reports_a_lane_that_will_not_stop(qtbot: Any) -> None:
    runner = TaskRunner()
    stop = threading.Event()
    runner.submit("generation", lambda r, s: stop.wait(20))  # ignores cancel
    time.sleep(0.1)
    assert runner.shutdown(timeout_s=0.3) is False
    stop.set()
    assert runner.shutdown(timeout_s=10) is True
