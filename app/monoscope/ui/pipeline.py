"""After a run: annotate → project → measure follow one another, each in a worker with progress.

`Pipeline` drives the three core stages for one dataset through a `TaskRunner`, one stage at a
time (they share the CPU with nothing else that way), and reports per stage, so the runs panel
can show one progress row each. Heavy libraries load inside the stages, in the worker thread.

Embedding (UI-1)::

    pipe = Pipeline(runner, study)
    pipe.step_progressed.connect(lambda step, p: ...)
    pipe.finished.connect(overview.refresh)
    pipe.start("films")
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from monoscope.core.store import Study
from monoscope.core.tasks import Progress, TaskState
from monoscope.ui.workers import Job, TaskRunner

STEPS = ("annotate", "project", "measure")


def annotate_step(request: tuple[Study, str], state: TaskState) -> Any:
    """Attributes and embeddings of every text that lacks them (cached by content hash)."""
    from monoscope.core.attributes import AnnotateRequest, annotate

    study, dataset = request
    return annotate(study, AnnotateRequest(study=str(study.path), dataset=dataset), state)


def project_step(request: tuple[Study, str], state: TaskState) -> Any:
    """The dataset map and per-prompt maps, fitted on the source texts."""
    from monoscope.core.analysis.projection import ProjectionRequest, project

    study, dataset = request
    return project(study, ProjectionRequest(dataset=dataset, scopes=("dataset", "prompts")), state)


def measure_step(request: tuple[Study, str], state: TaskState) -> Any:
    """Per-prompt and aggregate dispersion of every attribute for the source and every run."""
    from monoscope.core.analysis.measure import MeasureRequest, measure
    from monoscope.ui.loaders import measuring

    study, dataset = request
    with measuring(state):  # never beside a view's own ensure_measured
        return measure(study, MeasureRequest(dataset=dataset), state)


STEP_FUNCTIONS: dict[str, Callable[[tuple[Study, str], TaskState], Any]] = {
    "annotate": annotate_step, "project": project_step, "measure": measure_step,
}


class Pipeline(QObject):
    """Runs the follow-up stages in order; a failure or cancel stops the chain."""

    step_started = Signal(str)
    step_progressed = Signal(str, object)  # step, Progress
    step_finished = Signal(str, object)
    step_failed = Signal(str, str)
    step_cancelled = Signal(str)
    finished = Signal()

    def __init__(self, runner: TaskRunner, study: Study, steps: tuple[str, ...] = STEPS,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.study = study
        self.steps = steps
        self.functions = dict(STEP_FUNCTIONS)
        self.dataset = ""
        self.current: str | None = None
        self.results: dict[str, Any] = {}
        self._queue: list[str] = []
        self._job: Job | None = None

    def start(self, dataset: str) -> None:
        """Run every step for a dataset (restarts the chain if one is running)."""
        self.cancel()
        self.dataset = dataset
        self.results.clear()
        self._queue = list(self.steps)
        self._next()

    def running(self) -> bool:
        return self.current is not None

    def cancel(self) -> None:
        self._queue.clear()
        if self._job is not None and not self._job.done:
            self._job.cancel()

    def _next(self) -> None:
        if not self._queue:
            self.current = None
            self.finished.emit()
            return
        step = self._queue.pop(0)
        self.current = step
        self.step_started.emit(step)
        job = self.runner.submit(f"pipeline:{step}", self.functions[step], (self.study, self.dataset))
        self._job = job
        job.progressed.connect(lambda p, s=step: self._progress(s, p))
        job.finished.connect(lambda r, s=step: self._done(s, r))
        job.failed.connect(lambda msg, s=step: self._stop(s, msg))
        job.cancelled.connect(lambda s=step: self._stop(s, None))

    def _progress(self, step: str, p: Progress) -> None:
        self.step_progressed.emit(step, p)

    def _done(self, step: str, result: Any) -> None:
        self.results[step] = result
        self.step_finished.emit(step, result)
        self._next()

    def _stop(self, step: str, message: str | None) -> None:
        self._queue.clear()
        self.current = None
        if message is None:
            self.step_cancelled.emit(step)
        else:
            self.step_failed.emit(step, message)
