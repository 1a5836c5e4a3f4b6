"""TaskRunner: signals arrive on the GUI thread, supersede, cancel, failures without tracebacks."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from monoscope.core.errors import StudyError
from monoscope.core.tasks import Progress, TaskState
from monoscope.ui.workers import TaskRunner, user_message


def _count(request: int, state: TaskState) -> dict[str, Any]:
    state.begin("count", request)
    for i in range(request):
        state.check()
        state.progress(i + 1, request, force=True)
        state.partial(i)
    return {"n": request, "thread": threading.get_ident()}


def _slow(request: float, state: TaskState) -> str:
    end = time.monotonic() + request
    while time.monotonic() < end:
        state.check()
        time.sleep(0.005)
    return "slow done"


def _boom_user(request: Any, state: TaskState) -> None:
    raise StudyError("No study here. Open one with File > Open.")


def _boom_bug(request: Any, state: TaskState) -> None:
    raise ZeroDivisionError("division by zero\nTraceback line that must not show")


@pytest.mark.parametrize("synchronous", [False, True])
def test_finished_progress_partial_on_gui_thread(qtbot: Any, synchronous: bool) -> None:
    runner = TaskRunner(synchronous=synchronous)
    progress: list[Progress] = []
    partials: list[int] = []
    results: list[Any] = []
    seen_threads: set[int] = set()
    job = runner.submit("view", _count, 5)
    job.progressed.connect(lambda p: (progress.append(p), seen_threads.add(threading.get_ident())))
    job.partial.connect(partials.append)
    job.finished.connect(results.append)
    assert runner.wait(10)
    assert results and results[0]["n"] == 5
    assert partials == [0, 1, 2, 3, 4]
    assert progress[-1].done == 5 and progress[-1].total == 5
    assert seen_threads == {threading.get_ident()}
    if not synchronous:
        assert results[0]["thread"] != threading.get_ident()
    assert not runner.busy()
    runner.shutdown()


def test_new_request_supersedes_old(qtbot: Any) -> None:
    runner = TaskRunner()
    got: list[str] = []
    first = runner.submit("map", _slow, 5.0)
    first.finished.connect(lambda r: got.append("first"))
    first.cancelled.connect(lambda: got.append("first-cancelled"))
    second = runner.submit("map", _count, 2)
    second.finished.connect(lambda r: got.append("second"))
    assert runner.wait(10)
    assert got == ["second"]  # the superseded job reports nothing, not even its cancellation
    assert first.state.cancelled() and first.done
    runner.shutdown()


def test_cancel_emits_cancelled(qtbot: Any) -> None:
    runner = TaskRunner()
    job = runner.submit("run", _slow, 5.0)
    events: list[str] = []
    job.cancelled.connect(lambda: events.append("cancelled"))
    job.finished.connect(lambda r: events.append("finished"))
    time.sleep(0.05)
    job.cancel()
    assert runner.wait(10)
    assert events == ["cancelled"]
    runner.shutdown()


@pytest.mark.parametrize("synchronous", [False, True])
def test_failures_are_short_messages(qtbot: Any, synchronous: bool) -> None:
    runner = TaskRunner(synchronous=synchronous)
    errors: list[str] = []
    a = runner.submit("a", _boom_user)
    a.failed.connect(errors.append)
    b = runner.submit("b", _boom_bug)
    b.failed.connect(errors.append)
    assert runner.wait(10)
    assert "No study here. Open one with File > Open." in errors
    bug = [e for e in errors if "ZeroDivisionError" in e]
    assert bug and "Traceback" not in bug[0] and "\n" not in bug[0]
    runner.shutdown()


def test_user_message_keeps_monoscope_text() -> None:
    assert user_message(StudyError("Do X.")) == "Do X."
    assert user_message(RuntimeError()).startswith("Something went wrong (RuntimeError)")
