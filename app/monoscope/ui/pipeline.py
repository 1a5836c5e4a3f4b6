"""A chain of core stages in a worker: `monoscope.core.pipeline.run_chain` with per-step signals.

`Pipeline` runs the follow-up after a run (annotate → project → measure, for the run's dataset
and prompts) as one job of a `TaskRunner`, and turns the chain's step reports into one signal
per step, so the runs panel can show one progress row each. `chain_task` is the task function
for any chain (the runs panel runs its generate step with it).

Memory: the follow-up runs in an `offload.session` (``ChainTask.in_helper``): the embedder and
UMAP load in a helper process that ends with the chain, so the window does not keep torch,
transformers and numba (~650 MB it could never give back) after its first run. Time: the
runs panel calls `Pipeline.prepare` as a run nears its end, so that helper loads them while
the last samples generate (`discard` ends it when no follow-up comes).

Embedding (UI-1)::

    pipe = Pipeline(runner, study)
    pipe.step_progressed.connect(lambda step, p: ...)
    pipe.finished.connect(overview.refresh)
    pipe.start("films", prompt_keys=("amelie", "memento"))
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from monoscope.core import offload
from monoscope.core.pipeline import (
    Annotate,
    ChainRequest,
    Measure,
    Project,
    Stage,
    StepResult,
    StepStarted,
    run_chain,
)
from monoscope.core.store import Study
from monoscope.core.tasks import Progress, TaskState
from monoscope.ui.workers import Job, TaskRunner

if TYPE_CHECKING:
    from monoscope.core.analysis.measure import MeasureResult

log = logging.getLogger(__name__)
STEPS = ("annotate", "project", "measure")
KEY = "pipeline"


class WindowMeasure(Measure):
    """The measure stage under the window's measure lock (never beside a view's own
    ensure_measured)."""

    def run(self, request: ChainRequest, state: TaskState) -> MeasureResult:
        from monoscope.ui.loaders import measuring

        with measuring(state):
            return super().run(request, state)


def follow_up(steps: Sequence[str] = STEPS) -> list[Stage]:
    """The window's stages for these step names."""
    made: dict[str, Stage] = {"annotate": Annotate(), "project": Project(),
                              "measure": WindowMeasure()}
    return [made[s] for s in steps]


@dataclass
class ChainTask:
    """A chain to run in a worker: the study, the steps and their scope."""

    study: Study
    steps: Sequence[Stage]
    dataset: str | None = None
    prompt_keys: Sequence[str] | None = None
    in_helper: bool = False  # the models in a helper process that ends with the chain
    helper: offload.Helper | None = None  # that helper, when started (warming up) already


def chain_task(task: ChainTask, state: TaskState) -> list[StepResult]:
    """Task function for the runner: `run_chain` in a worker thread."""
    if not task.in_helper:
        return run_chain(task.study, task.steps, state, dataset=task.dataset,
                         prompt_keys=task.prompt_keys)
    return run_chain_in_helper(task.study, task.steps, state, task.dataset, task.prompt_keys,
                               task.helper)


def run_chain_in_helper(study: Study, steps: Sequence[Stage], state: TaskState,
                        dataset: str | None = None, prompt_keys: Sequence[str] | None = None,
                        helper: offload.Helper | None = None) -> list[StepResult]:
    """`run_chain` with its models in a helper process (`offload.session`) that ends with it,
    then the freed heap given back to the system: the window keeps none of them loaded."""
    from monoscope.core.generation.llama_engine import release_freed_memory

    try:
        with offload.session(state, helper):
            return run_chain(study, steps, state, dataset=dataset, prompt_keys=prompt_keys)
    finally:
        release_freed_memory()  # what the steps freed goes back to the system


class Pipeline(QObject):
    """Runs the follow-up steps in order in one job; a failure or cancel stops the chain."""

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
        self.stages: list[Stage] = follow_up(steps)
        self.dataset = ""
        self.current: str | None = None
        self.results: dict[str, Any] = {}
        self._job: Job | None = None
        self._warm: offload.Helper | None = None

    def prepare(self) -> None:
        """Start the model helper of the next follow-up now: it loads the embedder and UMAP
        while a run generates its last samples (a no-op when it is started already)."""
        if self._warm is not None:
            return
        annotate = next((s for s in self.stages if isinstance(s, Annotate)), None)
        if annotate is None:
            return
        helper = offload.Helper()
        try:
            helper.send("warm", annotate.backend, annotate.threads)
        except offload.HelperError as exc:  # the follow-up will start its own and say why
            log.warning("model helper did not start: %s", exc)
            return
        self._warm = helper

    def discard(self) -> None:
        """End a helper started by `prepare` that no follow-up will use."""
        helper, self._warm = self._warm, None
        if helper is not None:
            helper.kill()

    def start(self, dataset: str, prompt_keys: Sequence[str] | None = None) -> Job:
        """Run every step for a dataset (restarts the chain if one is running). With
        ``prompt_keys`` (a run's prompts) per-prompt maps are drawn for those prompts only."""
        self.cancel()
        self.dataset = dataset
        self.results.clear()
        self.current = None
        helper, self._warm = self._warm, None
        job = self.runner.submit(KEY, chain_task, ChainTask(
            self.study, list(self.stages), dataset,
            tuple(prompt_keys) if prompt_keys is not None else None, in_helper=True,
            helper=helper))
        self._job = job
        if helper is not None:  # ended by the chain; also when the job never ran
            for signal in (job.finished, job.failed, job.cancelled):
                signal.connect(lambda *_a, h=helper: h.kill())
        job.partial.connect(self._event)
        job.progressed.connect(self._progress)
        job.finished.connect(self._done)
        job.failed.connect(lambda msg: self._stop(msg))
        job.cancelled.connect(lambda: self._stop(None))
        return job

    def running(self) -> bool:
        return self._job is not None and not self._job.done

    def cancel(self) -> None:
        if self._job is not None and not self._job.done:
            self._job.cancel()

    def _event(self, obj: Any) -> None:
        if isinstance(obj, StepStarted):
            self.current = obj.name
            self.step_started.emit(obj.name)
        elif isinstance(obj, StepResult):
            self.results[obj.name] = obj.value
            self.step_finished.emit(obj.name, obj.value)

    def _progress(self, p: Progress) -> None:
        if self.current is not None:
            self.step_progressed.emit(self.current, p)

    def _done(self, _results: Any) -> None:
        self.current = None
        self.finished.emit()

    def _stop(self, message: str | None) -> None:
        step = self.current or (self.stages[0].name if self.stages else "")
        self.current = None
        if message is None:
            self.step_cancelled.emit(step)
        else:
            self.step_failed.emit(step, message)
