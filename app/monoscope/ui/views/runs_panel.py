"""Runs panel: the study's runs with live progress, New run / Cancel / Resume, and follow-ups.

Generation runs in one worker (one llama.cpp context at a time) as a chain with a generate step
(`monoscope.core.pipeline.run_chain`); each sample is committed as it finishes, so Cancel loses
nothing and Resume generates only the missing samples. When a generation job ends normally,
annotate → project → measure follow (`monoscope.ui.pipeline`) for the runs' dataset, with
per-prompt maps of the runs' prompts only, each step with its own progress row.

Embedding (UI-1)::

    panel = RunsPanel(study, runner=window.runner)
    panel.runs_changed.connect(window.refresh_views)       # a run started, ended or resumed
    panel.pipeline_finished.connect(window.refresh_views)  # new attributes, maps, metrics
    panel.run_activated.connect(window.show_run)           # double-click on a run
    panel.set_selected_keys_provider(prompt_table.selected_keys)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from monoscope.core.generation.runs import RunSummary
from monoscope.core.pipeline import Generate, StepResult
from monoscope.core.store import Study
from monoscope.core.store import datasets as datasets_repo
from monoscope.core.store import runs as runs_repo
from monoscope.core.tasks import Progress, TaskState, format_eta
from monoscope.ui.pipeline import STEPS, ChainTask, Pipeline, chain_task
from monoscope.ui.views.run_dialog import RunDialog, RunSpec
from monoscope.ui.workers import Job, TaskRunner

GEN_KEY = "generation"
WARM_SAMPLES_LEFT = 16  # one batch of llama.cpp's parallel sequences (`n_parallel`)
WARM_ETA_S = 30.0
COLUMNS = ("#", "label", "model", "sampling", "status", "samples", "progress", "speed / ETA")


def sampling_summary(raw: Any) -> str:
    s = json.loads(raw) if isinstance(raw, str) else dict(raw or {})
    parts = [f"T={s.get('temperature', '?'):g}" if isinstance(s.get("temperature"), int | float) else "T=?"]
    for key, short in (("top_p", "p"), ("top_k", "k"), ("max_tokens", "max")):
        if s.get(key) is not None:
            parts.append(f"{short}={s[key]:g}" if isinstance(s[key], float) else f"{short}={s[key]}")
    if s.get("decay"):
        d = s["decay"]
        parts.append(f"decay {d.get('kind', '')[:3]} {d.get('start')}→{d.get('end')}/{d.get('length')}")
    return " ".join(parts)


RunRows = tuple[list[dict[str, Any]], dict[int, str]]


def server_speeds(servers: dict[str, dict[str, float]]) -> str:
    """A fleet run's per-server throughput for the speed cell: `` · host:port 61 tok/s, …``."""
    if not servers:
        return ""
    parts = [f"{url.split('://', 1)[-1]} {v.get('tok_s', 0.0):.0f} tok/s ({v.get('samples', 0):.0f})"
             for url, v in sorted(servers.items())]
    return " · " + ", ".join(parts)


def load_run_rows(study: Study, state: TaskState) -> RunRows:
    """Task: every run's row for the table (`run_table`) and its sampling parameters."""
    from monoscope.core.generation.runs import run_table

    return run_table(study), runs_repo.sampling_by_run(study)


def generation_task(request: tuple[Study, RunSpec | None, list[int]], state: TaskState
                    ) -> list[StepResult]:
    """Task: plan a spec's runs (or take existing run ids) and generate them (`run_chain`)."""
    study, spec, run_ids = request
    requests = []
    if spec is not None:
        requests += spec.to_requests(datasets_repo.dataset(study, spec.dataset_id).name)
    return chain_task(ChainTask(study, [Generate(requests=requests, run_ids=run_ids)]), state)


def load_runs_scope(request: tuple[Study, list[int]], state: TaskState) -> dict[str, list[str]]:
    """Task: the datasets and prompt keys that these runs cover (for the follow-up)."""
    study, run_ids = request
    return runs_repo.runs_scope(study, run_ids)


class RunsPanel(QWidget):
    """List of runs with live progress; see the module docstring for embedding."""

    runs_changed = Signal()
    run_started = Signal(int)
    run_ended = Signal(int, str)  # run id, status
    run_activated = Signal(int)
    pipeline_finished = Signal()

    def __init__(self, study: Study | None = None, runner: TaskRunner | None = None,
                 auto_pipeline: bool = True, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner or TaskRunner(self)
        self.study: Study | None = None
        self.pipeline: Pipeline | None = None
        self.active_run: int | None = None
        self.job: Job | None = None
        self._rows: dict[int, int] = {}
        self._selected_keys: Callable[[], list[str]] = list
        self._pending: dict[str, dict[str, None]] = {}  # dataset -> prompt keys awaiting follow-up
        self._ended: list[int] = []  # runs ended in the current generation job
        self._last_planned: int | None = None  # the last run the current job planned

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.cellDoubleClicked.connect(self._double_clicked)

        self.new_btn = QPushButton("New run…")
        self.cancel_btn = QPushButton("Cancel")
        self.resume_btn = QPushButton("Resume")
        self.auto_box = QCheckBox("annotate → project → measure after each run")
        self.auto_box.setChecked(auto_pipeline)
        self.new_btn.clicked.connect(self.open_dialog)
        self.cancel_btn.clicked.connect(self.cancel)
        self.resume_btn.clicked.connect(self.resume_selected)
        self.message = QLabel()
        self.message.setWordWrap(True)
        buttons = QHBoxLayout()
        for b in (self.new_btn, self.cancel_btn, self.resume_btn):
            buttons.addWidget(b)
        buttons.addWidget(self.auto_box)
        buttons.addStretch(1)

        self.steps = QTableWidget(len(STEPS), 3)
        self.steps.setHorizontalHeaderLabels(("follow-up", "progress", "status"))
        self.steps.verticalHeader().setVisible(False)
        self.steps.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.steps.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.step_bars: dict[str, QProgressBar] = {}
        for i, step in enumerate(STEPS):
            self.steps.setItem(i, 0, QTableWidgetItem(step))
            bar = QProgressBar()
            bar.setRange(0, 1)
            bar.setValue(0)
            self.step_bars[step] = bar
            self.steps.setCellWidget(i, 1, bar)
            self.steps.setItem(i, 2, QTableWidgetItem("idle"))
        self.steps.setMaximumHeight(120)

        lay = QVBoxLayout(self)
        lay.addLayout(buttons)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.message)
        lay.addWidget(self.steps)
        if study is not None:
            self.set_study(study)
        self._update_buttons()

    # -- study ------------------------------------------------------------------------------
    def set_study(self, study: Study | None, dataset_id: int | None = None) -> None:
        """Show a study's runs (all datasets; `dataset_id` is accepted for a uniform API)."""
        del dataset_id
        self.cancel()
        if self.pipeline is not None:
            self.pipeline.discard()
        self.study = study
        self.pipeline = None
        if study is not None:
            self.pipeline = Pipeline(self.runner, study, parent=self)
            self.pipeline.step_started.connect(self._step_started)
            self.pipeline.step_progressed.connect(self._step_progressed)
            self.pipeline.step_finished.connect(lambda s, _r: self._step_status(s, "done", True))
            self.pipeline.step_failed.connect(lambda s, m: self._step_status(s, f"failed: {m}", False))
            self.pipeline.step_cancelled.connect(lambda s: self._step_status(s, "cancelled", False))
            self.pipeline.finished.connect(self.pipeline_finished.emit)
        self.refresh()

    def set_selected_keys_provider(self, provider: Callable[[], list[str]]) -> None:
        """Where the run dialog gets 'the prompts selected in the table'."""
        self._selected_keys = provider

    def refresh(self) -> None:
        """Reload the run rows from the study (one grouped query, in a worker)."""
        if self.study is None:
            self.table.setRowCount(0)
            self._rows.clear()
            return
        study = self.study
        job = self.runner.submit("runs-table", load_run_rows, study)
        job.finished.connect(lambda rows: self._rows_loaded(study, rows))

    def _rows_loaded(self, study: Study, loaded: RunRows) -> None:
        if study is not self.study:
            return
        self.table.setRowCount(0)
        self._rows.clear()
        rows, sampling = loaded
        for r in rows:
            rid = int(r["id"])
            row = self.table.rowCount()
            self.table.insertRow(row)
            self._rows[rid] = row
            total = int(r["n_prompts"] or 0) * int(r["n_per_prompt"] or 0)
            done = int(r["samples"] or 0)
            tok_s = r.get("tok_s")
            speed = f"{tok_s:.0f} tok/s" if isinstance(tok_s, int | float) and tok_s > 0 else ""
            speed += server_speeds(r.get("servers") or {})
            cells = (str(rid), str(r["label"]), str(r["model"] or ""), sampling_summary(sampling.get(rid)),
                     str(r["status"]), f"{done}/{total}", None, speed)
            for col, text in enumerate(cells):
                if text is None:
                    continue
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, rid)
                self.table.setItem(row, col, item)
            bar = QProgressBar()
            bar.setRange(0, max(total, 1))
            bar.setValue(done)
            self.table.setCellWidget(row, 6, bar)
        self.table.resizeColumnsToContents()
        self._update_buttons()

    # -- actions ----------------------------------------------------------------------------
    def open_dialog(self) -> None:
        if self.study is None:
            return
        dlg = RunDialog(self.study, selected_keys=self._selected_keys(), parent=self)
        if dlg.exec() and dlg.spec is not None:
            self.start(dlg.spec)

    def start(self, spec: RunSpec) -> Job:
        """Plan the spec's runs and generate them in the worker."""
        return self._submit(spec, [])

    def resume(self, run_id: int) -> Job:
        """Generate the missing samples of an existing run (nothing already done is redone)."""
        return self._submit(None, [run_id])

    def resume_selected(self) -> None:
        rid = self.selected_run()
        if rid is not None:
            self.resume(rid)

    def cancel(self) -> None:
        """Stop generation at its next step and the follow-up chain; finished samples stay."""
        if self.job is not None and not self.job.done:
            self.message.setText("Cancelling…")
            self.job.cancel()
        if self.pipeline is not None:
            self.pipeline.cancel()

    def selected_run(self) -> int | None:
        items = self.table.selectedItems()
        return int(items[0].data(Qt.ItemDataRole.UserRole)) if items else None

    def busy(self) -> bool:
        return self.job is not None and not self.job.done

    def _submit(self, spec: RunSpec | None, run_ids: list[int]) -> Job:
        assert self.study is not None
        if self.busy():
            self.message.setText("A run is already generating: cancel it or wait; runs go one at a time.")
            assert self.job is not None
            return self.job
        self.message.setText("Starting…")
        self._last_planned = None
        job = self.runner.submit(GEN_KEY, generation_task, (self.study, spec, run_ids))
        self.job = job
        job.partial.connect(self._partial)
        job.progressed.connect(self._progressed)
        job.finished.connect(self._gen_finished)
        job.failed.connect(self._gen_failed)
        job.cancelled.connect(self._gen_cancelled)
        self._update_buttons()
        return job

    # -- job events -------------------------------------------------------------------------
    def _partial(self, obj: Any) -> None:
        if not isinstance(obj, tuple):
            return  # a SampleResult (progress carries the counts) or a chain step report
        kind, payload = obj
        if kind == "planned":
            self._last_planned = int(payload[-1]) if payload else self._last_planned
            self.refresh()
            self.runs_changed.emit()
        elif kind == "started":
            self.active_run = int(payload)
            self.refresh()
            self.run_started.emit(self.active_run)
        elif kind == "ended" and isinstance(payload, RunSummary):
            self.refresh()
            self._note_scope(payload.run_id)
            self.run_ended.emit(payload.run_id, payload.status)

    def _progressed(self, p: Progress) -> None:
        rid = self.active_run
        if rid is not None:
            self._warm_up(rid, p)  # before the run's row shows: from its "loading model" on
        if rid is None or rid not in self._rows:
            return
        row = self._rows[rid]
        bar = self.table.cellWidget(row, 6)
        if isinstance(bar, QProgressBar):
            bar.setRange(0, max(p.total, 1))
            bar.setValue(p.done)
        self.table.setItem(row, 4, QTableWidgetItem("loading model" if "loading" in p.stage else "running"))
        self.table.setItem(row, 5, QTableWidgetItem(f"{p.done}/{p.total}"))
        self.table.setItem(row, 7, QTableWidgetItem(f"{p.message} · ETA {format_eta(p.eta_s)}".strip(" ·")))
        self.message.setText(f"Run #{rid}: {p.done}/{p.total} samples {p.message}")

    def _warm_up(self, rid: int, p: Progress) -> None:
        """As the last run nears its end (its last batch of samples, or ≤ 30 s left), let the
        follow-up's model helper load the embedder and UMAP meanwhile."""
        if (self.pipeline is None or not self.auto_box.isChecked()
                or self._last_planned not in (None, rid)):
            return
        left = p.total - p.done
        if 0 < left <= WARM_SAMPLES_LEFT or (p.eta_s is not None and p.eta_s <= WARM_ETA_S):
            self.pipeline.prepare()

    def _note_scope(self, run_id: int) -> None:
        """Remember the run for the follow-up (its dataset and prompts are read then)."""
        self._ended.append(run_id)

    def _gen_finished(self, _result: Any) -> None:
        self._job_over("All runs finished.")
        if self.study is None or not self._ended:
            self._discard_helper()
            return
        study, ended, self._ended = self.study, self._ended, []
        job = self.runner.submit("runs-scope", load_runs_scope, (study, ended))
        job.finished.connect(lambda scope: self._follow_up(study, scope))
        job.failed.connect(lambda _m: self._discard_helper())

    def _follow_up(self, study: Study, scope: dict[str, list[str]]) -> None:
        """Start annotate → project → measure on the ended runs' dataset and prompts."""
        if study is not self.study:
            return
        for name, prompt_keys in scope.items():
            self._pending.setdefault(name, {}).update(dict.fromkeys(prompt_keys))
        if self.auto_box.isChecked() and self.pipeline is not None and self._pending:
            # One chain per dataset would overlap: run it for the first; the rest follow next time.
            # Per-prompt maps only for the prompts the runs generated for, not every prompt.
            dataset = sorted(self._pending)[0]
            keys = tuple(self._pending.pop(dataset))
            for step in STEPS:
                self._step_status(step, "waiting", False)
            self.pipeline.start(dataset, keys)
        else:
            self._discard_helper()

    def _discard_helper(self) -> None:
        """No follow-up now: end the model helper that warmed up for it."""
        if self.pipeline is not None:
            self.pipeline.discard()

    def _gen_failed(self, message: str) -> None:
        if self.active_run is not None:
            self.run_ended.emit(self.active_run, "failed")
        self._discard_helper()
        self._job_over(message)

    def _gen_cancelled(self) -> None:
        if self.active_run is not None:
            self.run_ended.emit(self.active_run, "cancelled")
        self._discard_helper()
        self._job_over("Cancelled. Finished samples are kept; Resume generates the rest.")

    def _job_over(self, message: str) -> None:
        self.active_run = None
        self.message.setText(message)
        self.refresh()
        self.runs_changed.emit()

    # -- follow-up rows ---------------------------------------------------------------------
    def _step_started(self, step: str) -> None:
        self._step_status(step, "running", False)

    def _step_progressed(self, step: str, p: Progress) -> None:
        bar = self.step_bars[step]
        bar.setRange(0, max(p.total, 1))
        bar.setValue(p.done)
        self.steps.setItem(STEPS.index(step), 2, QTableWidgetItem(
            f"{p.stage} {p.message} · ETA {format_eta(p.eta_s)}".strip()))

    def _step_status(self, step: str, text: str, full: bool) -> None:
        if full:
            bar = self.step_bars[step]
            bar.setRange(0, 1)
            bar.setValue(1)
        self.steps.setItem(STEPS.index(step), 2, QTableWidgetItem(text))

    # -- misc -------------------------------------------------------------------------------
    def _update_buttons(self) -> None:
        busy = self.busy()
        self.new_btn.setEnabled(self.study is not None and not busy)
        self.cancel_btn.setEnabled(busy or bool(self.pipeline and self.pipeline.running()))
        rid = self.selected_run()
        status = ""
        if rid is not None and rid in self._rows:
            item = self.table.item(self._rows[rid], 4)
            status = item.text() if item else ""
        self.resume_btn.setEnabled(not busy and rid is not None and status != "finished")

    def _double_clicked(self, row: int, _col: int) -> None:
        item = self.table.item(row, 0)
        if item is not None:
            self.run_activated.emit(int(item.data(Qt.ItemDataRole.UserRole)))
