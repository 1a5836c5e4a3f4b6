"""“Replicate the paper…”: a small dialog that builds a `ReplicateRequest` and runs it.

The request is the same one `monoscope replicate` builds; the work runs through the window's
`TaskRunner` (``start_replication``), so progress, cancellation and errors behave like every
other task. The study's datasets and the estimate are read in workers too; the estimate is
recomputed as fields change (OK waits for it), and the paper preset asks first.

Embedding::

    from monoscope.ui.views.replicate_dialog import open_replicate_dialog
    run_menu.addAction("Replicate the paper…", lambda: open_replicate_dialog(window, host))
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from monoscope.core.errors import MonoscopeError
from monoscope.core.replicate import ReplicateRequest, estimate, expand
from monoscope.core.store import Study
from monoscope.core.store import datasets as datasets_repo
from monoscope.core.store.datasets import Dataset
from monoscope.core.tasks import TaskState
from monoscope.ui.host import WindowHost
from monoscope.ui.workers import Job, TaskRunner

MODELS = ("smollm2", "gemma3-base")
DEMO_FOR = {"reviews": "films", "code": "algorithms"}
DATASETS_KEY = "replicate-datasets"
ESTIMATE_KEY = "replicate-estimate"


def load_datasets(study: Study, state: TaskState) -> list[Dataset]:
    """Task: the study's datasets."""
    return datasets_repo.datasets(study)


def estimate_task(request: tuple[Study, ReplicateRequest], state: TaskState) -> tuple[float, str]:
    """Task: (seconds, what the estimate says) for a request; a dataset not in the study yet
    is a demo the replication imports first."""
    study, req = request
    found = datasets_repo.find(study, req.dataset)
    if found is None:
        return 0.0, f"The {req.dataset} demo will be imported first."
    dataset_id = found.id
    est = estimate(study, dataset_id, expand(req), req.seed, code=req.protocol == "code")
    return est.seconds, est.describe().capitalize() + "."


class ReplicateDialog(QDialog):
    """Protocol, dataset, models, preset and sizes; `request` is set when accepted."""

    def __init__(self, study: Study, parent: QWidget | None = None,
                 runner: TaskRunner | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Replicate the paper")
        self.study = study
        self.runner = runner or TaskRunner(self)
        self.request: ReplicateRequest | None = None
        self.seconds = 0.0
        self.datasets: list[Dataset] = []  # read in a worker
        self._estimate_job: Job | None = None  # the estimate the label waits for
        self.protocol = QComboBox()
        self.protocol.addItems(["reviews", "code"])
        self.dataset = QComboBox()
        self.models = {m: QCheckBox(m) for m in MODELS}
        for box in self.models.values():
            box.setChecked(True)
        self.preset = QComboBox()
        self.preset.addItems(["quick", "paper", "mitigations"])
        self.prompts = QSpinBox()
        self.prompts.setRange(0, 100_000)
        self.prompts.setSpecialValueText("preset")
        self.n = QSpinBox()
        self.n.setRange(0, 1000)
        self.n.setSpecialValueText("preset")
        self.decay = QCheckBox("add the two temperature-decay runs")
        self.estimate_label = QLabel()
        self.estimate_label.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Protocol", self.protocol)
        form.addRow("Dataset", self.dataset)
        row = QHBoxLayout()
        for box in self.models.values():
            row.addWidget(box)
        form.addRow("Models", row)
        form.addRow("Preset", self.preset)
        form.addRow("Prompts", self.prompts)
        form.addRow("Samples per prompt", self.n)
        form.addRow("", self.decay)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("The protocol of Wu et al. (ICLR 2025) on local models: the "
                             "sampling grid, annotate, measure, the paper's tables and figures."))
        lay.addLayout(form)
        lay.addWidget(self.estimate_label)
        lay.addWidget(self.buttons)
        for w in (self.protocol, self.preset, self.dataset):
            w.currentIndexChanged.connect(self.update_estimate)
        for s in (self.prompts, self.n):
            s.valueChanged.connect(self.update_estimate)
        for box in (*self.models.values(), self.decay):
            box.toggled.connect(self.update_estimate)
        self.protocol.currentIndexChanged.connect(self._fill_datasets)
        self._fill_datasets()
        job = self.runner.submit(DATASETS_KEY, load_datasets, study)
        job.finished.connect(self._datasets_loaded)
        job.failed.connect(self.estimate_label.setText)

    def _datasets_loaded(self, datasets: list[Dataset]) -> None:
        self.datasets = datasets
        self._fill_datasets()

    def _fill_datasets(self) -> None:
        protocol = self.protocol.currentText()
        kind = "code" if protocol == "code" else "text"
        names = [d.name for d in self.datasets if d.kind == kind]
        demo = DEMO_FOR[protocol]
        self.dataset.blockSignals(True)
        self.dataset.clear()
        self.dataset.addItems(names + ([] if demo in names else [demo]))
        self.dataset.blockSignals(False)
        self.decay.setEnabled(protocol == "reviews")
        self.update_estimate()

    def build_request(self) -> ReplicateRequest:
        """The request the fields describe; raises MonoscopeError with what to fix."""
        models = tuple(m for m, box in self.models.items() if box.isChecked())
        req = ReplicateRequest(
            protocol=self.protocol.currentText(), dataset=self.dataset.currentText(),
            models=models, preset=self.preset.currentText(),
            prompts=self.prompts.value() or None, n=self.n.value() or None,
            decays=True if (self.decay.isChecked() and self.decay.isEnabled()) else None)
        expand(req)  # validates
        return req

    def update_estimate(self) -> None:
        """Check the fields now; estimate the time in a worker (OK waits for it)."""
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(False)
        try:
            req = self.build_request()
        except MonoscopeError as exc:
            self._estimate_job = None
            self.estimate_label.setText(str(exc))
            return
        job = self._estimate_job = self.runner.submit(ESTIMATE_KEY, estimate_task,
                                                      (self.study, req))

        def estimated(result: tuple[float, str]) -> None:
            if job is self._estimate_job:
                self.seconds, text = result
                self.estimate_label.setText(text)
                ok.setEnabled(True)

        def failed(message: str) -> None:
            if job is self._estimate_job:
                self.estimate_label.setText(message)

        job.finished.connect(estimated)
        job.failed.connect(failed)

    def accept(self) -> None:
        try:
            req = self.build_request()
        except MonoscopeError as exc:
            self.estimate_label.setText(str(exc))
            return
        if req.preset == "paper" and self.seconds > 3600 and self.property("ask") is not False:
            answer = QMessageBox.question(
                self, "Replicate the paper",
                f"This takes about {self.seconds / 3600:.1f} hours on this machine. Start?")
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.request = req
        super().accept()


def replicate_task(request: tuple[Study, ReplicateRequest], state: TaskState) -> Any:
    """Task function for the runner: the whole replication in a worker thread."""
    from monoscope.core.replicate import run_replication

    study, req = request
    return run_replication(study, req, state)


def start_replication(runner: TaskRunner, study: Study, request: ReplicateRequest) -> Job:
    """Submit the replication under the key 'replicate' (a second start supersedes the first)."""
    return runner.submit("replicate", replicate_task, (study, request))


def open_replicate_dialog(parent: QWidget, host: WindowHost) -> Job | None:
    """Menu hook: ask, start, show progress in the status bar and the report when done."""
    study = host.study
    if study is None:
        host.show_error("No study open", "Open or create a study first (File ▸ New study).")
        return None
    dlg = ReplicateDialog(study, parent=parent, runner=host.runner)
    if not dlg.exec() or dlg.request is None:
        return None
    job = start_replication(host.runner, study, dlg.request)
    job.progressed.connect(lambda p: host.show_status(f"{p.stage}: {p.done}/{p.total} "
                                                      f"{p.message}"))
    job.failed.connect(lambda msg: host.show_error("Replication failed", msg))

    def done(res: Any) -> None:
        host.show_status(f"Replication done: {res.report}")
        host.refresh()

    job.finished.connect(done)
    return job
