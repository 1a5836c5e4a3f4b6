"""A status-bar row for the window's own chains (the map after an import, Annotate / Project /
Measure from the Run menu): what runs, its progress and ETA, and one Cancel for all of them.

Jobs are tracked in submission order; the pipeline lane runs one at a time, so the first
unfinished job is the one that runs and the others wait behind it.
"""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from monoscope.core.tasks import Progress, format_eta
from monoscope.ui.workers import Job


class ChainProgress(QWidget):
    """Progress of the tracked jobs; hidden when none runs."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.jobs: list[tuple[Job, str]] = []
        self.label = QLabel("")
        self.bar = QProgressBar()
        self.bar.setMaximumWidth(160)
        self.bar.setTextVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the computation (finished parts are kept)")
        self.cancel_button.clicked.connect(self.cancel)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.label)
        lay.addWidget(self.bar)
        lay.addWidget(self.cancel_button)
        self.setVisible(False)

    def track(self, job: Job, title: str) -> None:
        """Show this job's progress until it ends."""
        self.jobs.append((job, title))
        job.progressed.connect(lambda p, j=job: self._progress(j, p))
        for sig in (job.finished, job.failed, job.cancelled):
            sig.connect(lambda *_a, j=job: self._ended(j))
        self._show_first()

    def running(self) -> bool:
        return bool(self.jobs)

    def cancel(self) -> None:
        """Cancel every tracked job."""
        for job, _title in list(self.jobs):
            job.cancel()

    def _first(self) -> tuple[Job, str] | None:
        # a job superseded under its key reports nothing more: forget it
        self.jobs = [(j, t) for j, t in self.jobs if not (j.done or j.stale)]
        return self.jobs[0] if self.jobs else None

    def _show_first(self) -> None:
        first = self._first()
        self.setVisible(first is not None)
        if first is not None:
            waiting = f" (+{len(self.jobs) - 1} waiting)" if len(self.jobs) > 1 else ""
            self.label.setText(f"{first[1]}…{waiting}")
            self.bar.setRange(0, 0)

    def _progress(self, job: Job, p: Progress) -> None:
        first = self._first()
        if first is None or first[0] is not job:
            return
        self.bar.setRange(0, max(1, p.total))
        self.bar.setValue(p.done)
        eta = f" · ETA {format_eta(p.eta_s)}" if p.done < p.total else ""
        self.label.setText(f"{first[1]}: {p.stage} {p.done:,}/{p.total:,}{eta}")

    def _ended(self, job: Job) -> None:
        self.jobs = [(j, t) for j, t in self.jobs if j is not job]
        self._show_first()
