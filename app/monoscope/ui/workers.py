"""Run core tasks ``fn(request, state)`` off the GUI thread and report back through Qt signals.

A `TaskRunner` has three lanes, each its own thread pool, so one long job never starves the
others: **generation** (one thread: a model run), **pipeline** (one thread: import, annotate,
project, measure, replicate — the writers), and **read** (two threads: the views' loads).
`submit(key, fn, request)` returns a `Job` whose signals (`progressed`, `partial`, `finished`,
`failed`, `cancelled`) are always delivered on the GUI thread. A new job submitted under the
same key supersedes the old one: the old job is cancelled (its running query interrupted) and
nothing it emits afterwards reaches the UI.

Thread rules (the reason for the shape of this module, see docs/architecture.md):
- A pool thread never holds a reference to a QObject. It runs a plain `_Work` and reports through
  the runner's one `_Relay`, which lives as long as the runner; so no QObject can be finalised on
  a pool thread when the thread lets go of its work.
- `Job` objects live on the GUI thread only; the runner forgets them there.
- Cancel = `TaskState.cancel()` (checked between steps) plus `interrupt_thread()` on the thread
  running the job (stops the DuckDB query in flight).

``TaskRunner(synchronous=True)`` runs every job in the GUI thread from the event loop (tests and
the screenshot command).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Literal

from PySide6.QtCore import QCoreApplication, QObject, QRunnable, QThreadPool, QTimer, Signal, Slot

from monoscope.core.errors import MonoscopeError, TaskCancelled
from monoscope.core.store.study import interrupt_thread
from monoscope.core.tasks import Progress, TaskState

log = logging.getLogger(__name__)

TaskFn = Callable[[Any, TaskState], Any]
Lane = Literal["generation", "pipeline", "read"]
LANE_THREADS: dict[Lane, int] = {"generation": 1, "pipeline": 1, "read": 2}
_PIPELINE_KEYS = ("pipeline", "import", "annotate", "project", "measure", "replicate", "demo")


def lane_for(key: str) -> Lane:
    """The lane a task key runs in when `submit` is not told: generation for a model run, the
    writers' lane for import/annotate/project/measure/replicate, reads for everything else."""
    head = key.split(":", 1)[0]
    if head.startswith("generat"):
        return "generation"
    if head in _PIPELINE_KEYS:
        return "pipeline"
    return "read"


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


class _Relay(QObject):
    """The runner's mailbox: pool threads emit here; the slots run on the GUI thread."""

    progress = Signal(int, object)
    partial = Signal(int, object)
    done = Signal(int, str, object)


class _Work:
    """What a pool thread runs: plain Python, no QObject (see the module's thread rules)."""

    def __init__(self, serial: int, key: str, fn: TaskFn, request: Any, relay: _Relay) -> None:
        self.serial = serial
        self.key = key
        self.fn = fn
        self.request = request
        self.relay = relay
        self.state = TaskState(on_progress=lambda p: relay.progress.emit(serial, p),
                               on_partial=lambda o: relay.partial.emit(serial, o))
        self._lock = threading.Lock()
        self._thread: int | None = None  # set while running

    def cancel(self) -> None:
        """Stop at the next `state.check()`, and interrupt the query running now (if any)."""
        self.state.cancel()
        with self._lock:
            if self._thread is not None:
                interrupt_thread(self._thread)

    def run(self) -> None:
        with self._lock:
            self._thread = threading.get_ident()
        t0, c0 = time.perf_counter(), time.thread_time()
        try:
            outcome, payload = self._call()
        finally:
            with self._lock:
                self._thread = None
        if log.isEnabledFor(logging.DEBUG):  # per-task timing (logging at DEBUG)
            log.debug("task %s %s: %.1f ms wall, %.1f ms CPU", self.key, outcome,
                      1000 * (time.perf_counter() - t0), 1000 * (time.thread_time() - c0))
        self.relay.done.emit(self.serial, outcome, payload)
        self.request = None  # the thread lets go of the inputs now

    def _call(self) -> tuple[str, Any]:
        try:
            if self.state.cancelled():
                raise TaskCancelled()
            return "finished", self.fn(self.request, self.state)
        except TaskCancelled:
            return "cancelled", None
        except MonoscopeError as exc:
            return "failed", user_message(exc)
        except Exception as exc:
            if self.state.cancelled():  # e.g. an interrupted library call that wraps the error
                return "cancelled", None
            log.exception("task %s failed", self.key)
            return "failed", user_message(exc)


class Job(QObject):
    """Handle of one submitted task; lives in the GUI thread, signals arrive there."""

    progressed = Signal(object)  # Progress
    partial = Signal(object)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, work: _Work, lane: Lane) -> None:
        super().__init__()
        self._work = work
        self.key = work.key
        self.lane = lane
        self.stale = False
        self.done = False
        self.result: Any = None
        self.error: str | None = None

    @property
    def state(self) -> TaskState:
        return self._work.state

    def cancel(self) -> None:
        """Ask the task to stop (its running query is interrupted); `cancelled` follows."""
        self._work.cancel()

    def _deliver(self, outcome: str, payload: Any) -> None:
        self.done = True
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
    def __init__(self, work: _Work) -> None:
        super().__init__()
        self.work: _Work | None = work
        self.setAutoDelete(True)

    def run(self) -> None:
        work, self.work = self.work, None
        if work is not None:
            work.run()


class TaskRunner(QObject):
    """Starts jobs on three lanes of threads; one current job per key."""

    busy_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None, synchronous: bool = False,
                 threads: dict[Lane, int] | None = None) -> None:
        super().__init__(parent)
        self.synchronous = synchronous
        sizes = {**LANE_THREADS, **(threads or {})}
        self.pools: dict[Lane, QThreadPool] = {}
        for lane, n in sizes.items():
            pool = QThreadPool(self)
            pool.setMaxThreadCount(max(1, n))
            self.pools[lane] = pool
        self._relay = _Relay(self)
        self._relay.progress.connect(self._on_progress)
        self._relay.partial.connect(self._on_partial)
        self._relay.done.connect(self._on_done)
        self._serials = itertools.count(1)
        self._jobs: dict[int, Job] = {}  # live jobs by serial
        self._current: dict[str, Job] = {}

    def submit(self, key: str, fn: TaskFn, request: Any = None, lane: Lane | None = None) -> Job:
        """Start ``fn(request, state)`` in ``lane`` (default `lane_for(key)`); an unfinished job
        with the same key is superseded.

        Connect to the returned job's signals right away: they are delivered through the event
        loop, so nothing is missed (in synchronous mode the job runs when the loop next turns).
        """
        old = self._current.get(key)
        if old is not None and not old.done:
            old.stale = True
            old.cancel()
        serial = next(self._serials)
        work = _Work(serial, key, fn, request, self._relay)
        job = Job(work, lane or lane_for(key))
        self._current[key] = job
        was_idle = not self._jobs
        self._jobs[serial] = job
        if was_idle:
            self.busy_changed.emit(True)
        if self.synchronous:
            QTimer.singleShot(0, work.run)
        else:
            self.pools[job.lane].start(_Runnable(work))
        return job

    def current(self, key: str) -> Job | None:
        job = self._current.get(key)
        return job if job is not None and not job.done else None

    def cancel(self, key: str) -> None:
        job = self._current.get(key)
        if job is not None:
            job.cancel()

    def cancel_all(self) -> None:
        for job in list(self._jobs.values()):
            job.stale = True
            job.cancel()

    def busy(self) -> bool:
        return bool(self._jobs)

    def wait(self, timeout_s: float = 60.0) -> bool:
        """Pump the event loop until every job has finished and delivered; False on timeout."""
        deadline = time.monotonic() + timeout_s
        app = QCoreApplication.instance()
        while self._jobs:
            if app is not None:
                app.processEvents()
            if not self._jobs:
                break
            if time.monotonic() > deadline:
                return False
            for pool in self.pools.values():
                pool.waitForDone(2)
        if app is not None:
            app.processEvents()
        return True

    def shutdown(self, timeout_s: float = 10.0) -> bool:
        """Cancel everything (interrupting running queries) and join every lane's threads.

        Returns False, and logs which lanes are still busy, when a thread does not stop in time;
        the caller must not close the study then (its close would fail on the running query).
        """
        self.cancel_all()
        deadline = time.monotonic() + timeout_s
        stuck = []
        for lane, pool in self.pools.items():
            left_ms = max(0, int((deadline - time.monotonic()) * 1000))
            if not pool.waitForDone(left_ms):
                stuck.append(lane)
        app = QCoreApplication.instance()
        if app is not None:
            app.processEvents()
        if stuck:
            log.error("task lanes still busy after %.0f s: %s", timeout_s, ", ".join(stuck))
            return False
        self._jobs.clear()
        self._current.clear()
        return True

    @Slot(int, object)
    def _on_progress(self, serial: int, p: Progress) -> None:
        job = self._jobs.get(serial)
        if job is not None and not job.stale:
            job.progressed.emit(p)

    @Slot(int, object)
    def _on_partial(self, serial: int, obj: Any) -> None:
        job = self._jobs.get(serial)
        if job is not None and not job.stale:
            job.partial.emit(obj)

    @Slot(int, str, object)
    def _on_done(self, serial: int, outcome: str, payload: Any) -> None:
        job = self._jobs.pop(serial, None)
        if job is None:
            return
        if self._current.get(job.key) is job:
            del self._current[job.key]
        job._deliver(outcome, payload)
        if not self._jobs:
            self.busy_changed.emit(False)
