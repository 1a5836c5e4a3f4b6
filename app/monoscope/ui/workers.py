"""Run core tasks ``fn(request, state)`` off the GUI thread and report back through Qt signals.

A `TaskRunner` owns a private `QThreadPool`. `submit(key, fn, request)` returns a `Job` whose
signals (`progressed`, `partial`, `finished`, `failed`, `cancelled`) are always delivered on the
GUI thread. A new job submitted under the same key supersedes the old one: the old job is
cancelled and nothing it emits afterwards reaches the UI. ``TaskRunner(synchronous=True)`` runs
every job in the calling thread (for tests and for the screenshot command).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QRunnable, QThreadPool, Signal, Slot

from monoscope.core.errors import MonoscopeError, TaskCancelled
from monoscope.core.tasks import Progress, TaskState

log = logging.getLogger(__name__)

TaskFn = Callable[[Any, TaskState], Any]


def user_message(exc: BaseException) -> str:
    """What the UI shows for an exception: a MonoscopeError's own message, else one short line."""
    if isinstance(exc, MonoscopeError):
        return str(exc)
    first = (str(exc).strip().splitlines() or [""])[0][:200]
    kind = type(exc).__name__
    detail = f"{kind}: {first}" if first else kind
    return (
        f"Something went wrong ({detail}). The details are in the log; "
        "try again, and report it if it repeats."
    )


class Job(QObject):
    """Handle of one submitted task; lives in the GUI thread, signals arrive there."""

    progressed = Signal(object)  # Progress
    partial = Signal(object)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()

    # Internal: emitted from the pool thread, delivered (queued) to this GUI-thread object.
    _progress_x = Signal(object)
    _partial_x = Signal(object)
    _done_x = Signal(str, object)

    def __init__(self, key: str, fn: TaskFn, request: Any, runner: TaskRunner) -> None:
        super().__init__()
        self.key = key
        self.fn = fn
        self.request = request
        self.stale = False
        self.done = False
        self.result: Any = None
        self.error: str | None = None
        self._runner = runner
        self.state = TaskState(on_progress=self._progress_x.emit, on_partial=self._partial_x.emit)
        self._progress_x.connect(self._on_progress)
        self._partial_x.connect(self._on_partial)
        self._done_x.connect(self._on_done)

    def cancel(self) -> None:
        """Ask the task to stop at its next `state.check()`; `cancelled` follows."""
        self.state.cancel()

    def execute(self) -> None:
        """Run the task in the current thread and post its outcome (called by the pool)."""
        try:
            if self.state.cancelled():
                raise TaskCancelled()
            result = self.fn(self.request, self.state)
        except TaskCancelled:
            self._done_x.emit("cancelled", None)
        except MonoscopeError as exc:
            self._done_x.emit("failed", user_message(exc))
        except Exception as exc:
            log.exception("task %s failed", self.key)
            self._done_x.emit("failed", user_message(exc))
        else:
            self._done_x.emit("finished", result)

    @Slot(object)
    def _on_progress(self, p: Progress) -> None:
        if not self.stale:
            self.progressed.emit(p)

    @Slot(object)
    def _on_partial(self, obj: Any) -> None:
        if not self.stale:
            self.partial.emit(obj)

    @Slot(str, object)
    def _on_done(self, outcome: str, payload: Any) -> None:
        self.done = True
        self._runner._forget(self)
        if self.stale:
            return
        if outcome == "finished":
            self.result = payload
            self.finished.emit(payload)
        elif outcome == "failed":
            self.error = str(payload)
            self.failed.emit(str(payload))
        else:
            self.cancelled.emit()


class _Runnable(QRunnable):
    def __init__(self, job: Job) -> None:
        super().__init__()
        self.job = job
        self.setAutoDelete(True)

    def run(self) -> None:
        self.job.execute()


class TaskRunner(QObject):
    """Starts jobs on a private thread pool; one current job per key."""

    busy_changed = Signal(bool)

    def __init__(
        self, parent: QObject | None = None, synchronous: bool = False, max_threads: int = 2
    ) -> None:
        super().__init__(parent)
        self.synchronous = synchronous
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max(1, max_threads))
        self._current: dict[str, Job] = {}
        self._live: set[Job] = set()

    def submit(self, key: str, fn: TaskFn, request: Any = None) -> Job:
        """Start ``fn(request, state)``; an unfinished job with the same key is superseded.

        Connect to the returned job's signals right away: in the default (threaded) mode they
        are delivered through the event loop, so nothing is missed. In synchronous mode the job
        runs when the event loop next turns too (call `wait()`), for the same reason.
        """
        old = self._current.get(key)
        if old is not None and not old.done:
            old.stale = True
            old.cancel()
        job = Job(key, fn, request, self)
        self._current[key] = job
        was_idle = not self._live
        self._live.add(job)
        if was_idle:
            self.busy_changed.emit(True)
        if self.synchronous:
            # Deferred to the event loop so callers can connect signals first.
            from PySide6.QtCore import QTimer

            QTimer.singleShot(0, job.execute)
        else:
            self.pool.start(_Runnable(job))
        return job

    def current(self, key: str) -> Job | None:
        job = self._current.get(key)
        return job if job is not None and not job.done else None

    def cancel(self, key: str) -> None:
        job = self._current.get(key)
        if job is not None:
            job.cancel()

    def cancel_all(self) -> None:
        for job in list(self._live):
            job.stale = True
            job.cancel()

    def busy(self) -> bool:
        return bool(self._live)

    def wait(self, timeout_s: float = 60.0) -> bool:
        """Pump the event loop until every job has finished and delivered; False on timeout."""
        deadline = time.monotonic() + timeout_s
        app = QCoreApplication.instance()
        while self._live:
            if app is not None:
                app.processEvents()
            if not self._live:
                break
            if time.monotonic() > deadline:
                return False
            self.pool.waitForDone(5)
        if app is not None:
            app.processEvents()
        return True

    def shutdown(self, timeout_s: float = 10.0) -> None:
        """Cancel everything and wait for the pool threads (call before the window closes)."""
        self.cancel_all()
        self.pool.waitForDone(int(timeout_s * 1000))
        app = QCoreApplication.instance()
        if app is not None:
            app.processEvents()
        self._live.clear()

    def _forget(self, job: Job) -> None:
        self._live.discard(job)
        if self._current.get(job.key) is job:
            del self._current[job.key]
        if not self._live:
            self.busy_changed.emit(False)
