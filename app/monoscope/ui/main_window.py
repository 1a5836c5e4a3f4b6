"""The explorer window: prompts on the left, the map in the centre, histograms and inspector on
the right; overview, compare, sweep and accumulation as further tabs. All loading runs in
`TaskRunner` jobs; every number shown is a stored measurement (`monoscope.core.analysis.measure`).

Refresh (F5, and after a run's annotate → project → measure chain) reloads the prompt table and
every view. Clicking a run's point in the Sweep opens that run in Compare (as run A).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import QByteArray, QSettings, Qt
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QDockWidget,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from monoscope.core.explore import queries
from monoscope.core.store import Study
from monoscope.ui import theme
from monoscope.ui.loaders import (
    MapPayload,
    MapRequest,
    TablePayload,
    TableRequest,
    load_lists,
    load_map,
    load_table,
    load_text,
)
from monoscope.ui.views.histograms import HistogramPanel
from monoscope.ui.views.inspector import Inspector
from monoscope.ui.views.map_view import MapView
from monoscope.ui.views.prompts import PromptsPanel
from monoscope.ui.window_actions import WindowActions
from monoscope.ui.workers import TaskRunner

log = logging.getLogger(__name__)

class MainWindow(QMainWindow):
    """One study at a time; the window owns the study's writer connection."""

    def __init__(self, settings: QSettings | None = None, synchronous: bool = False) -> None:
        super().__init__()
        self.settings = settings or QSettings("Monoscope", "Monoscope")
        self.runner = TaskRunner(self, synchronous=synchronous)
        self.study: Study | None = None
        self.dataset_id: int | None = None
        self.run_list: list[queries.RunInfo] = []
        self.current_key: str | None = None
        self.attribute: str | None = None
        self.payload: MapPayload | None = None
        self.set_id: int | None = None  # stored measurement set the table shows
        self._snippets: dict[int, str] = {}
        self.setWindowTitle("Monoscope")
        self.setAcceptDrops(True)
        theme.apply_plot_theme()

        self.map = MapView()
        self.map.snippet_fn = self._snippet
        self.whole = QCheckBox("Whole dataset")
        self.whole.setToolTip("Show every prompt's texts on the dataset map")
        self.whole.toggled.connect(lambda _: self.load_map(self.current_key))
        map_page = QWidget()
        ml = QVBoxLayout(map_page)
        ml.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        bar.addWidget(self.whole)
        bar.addStretch(1)
        ml.addLayout(bar)
        ml.addWidget(self.map, 1)
        self.tabs = QTabWidget()
        self.tabs.addTab(map_page, "Map")
        self.extra_views: dict[str, Any] = {}
        self._add_optional_views()
        self.setCentralWidget(self.tabs)
        self.tabs.currentChanged.connect(self._tab_changed)

        self.prompts = PromptsPanel()
        self.hists = HistogramPanel()
        self.inspector = Inspector()
        self.dock_prompts = self._dock("Prompts", self.prompts, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.dock_hists = self._dock("Histograms", self.hists, Qt.DockWidgetArea.RightDockWidgetArea)
        self.dock_inspector = self._dock("Inspector", self.inspector,
                                         Qt.DockWidgetArea.RightDockWidgetArea)
        self.splitDockWidget(self.dock_hists, self.dock_inspector, Qt.Orientation.Vertical)
        self.dock_runs: QDockWidget | None = None
        self._add_runs_panel()

        self.prompts.prompt_selected.connect(self.load_map)
        self.prompts.attribute_changed.connect(self._attribute_changed)
        self.prompts.dataset_changed.connect(self.set_dataset)
        self.map.text_selected.connect(self.inspect)
        self.map.selection_changed.connect(self.hists.set_selection)
        self.hists.brushed.connect(self.map.set_highlight)
        self.inspector.text_requested.connect(self._open_text)
        self.status = QLabel("")
        self.statusBar().addWidget(self.status, 1)
        self.busy = QLabel("")
        self.statusBar().addPermanentWidget(self.busy)
        self.runner.busy_changed.connect(lambda b: self.busy.setText("Loading…" if b else ""))
        self.actions_ = WindowActions(self)
        self.resize(1400, 900)
        self._sized = self._restore_layout()

    # -- layout --------------------------------------------------------------------------
    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{title.lower()}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _add_optional_views(self) -> None:
        """Overview, Compare, Sweep and Accumulation as tabs beside the map."""
        from monoscope.ui.views.accumulation import AccumulationView
        from monoscope.ui.views.compare import CompareView
        from monoscope.ui.views.overview import OverviewView
        from monoscope.ui.views.sweep import SweepView

        overview = OverviewView(runner=self.runner)
        overview.prompt_activated.connect(self.show_prompt)
        sweep = SweepView(runner=self.runner)
        sweep.run_activated.connect(self.open_run)
        views: list[tuple[str, QWidget]] = [
            ("Overview", overview), ("Compare", CompareView(runner=self.runner)),
            ("Sweep", sweep), ("Accumulation", AccumulationView(runner=self.runner))]
        for name, view in views:
            # A scroll area keeps a wide view from setting the window's minimum width.
            holder = QScrollArea()
            holder.setWidgetResizable(True)
            holder.setFrameShape(QFrame.Shape.NoFrame)
            holder.setWidget(view)
            self.tabs.addTab(holder, name)
            self.extra_views[name.lower()] = view

    def _add_runs_panel(self) -> None:
        """The runs panel as a bottom dock."""
        from monoscope.ui.views.runs_panel import RunsPanel

        panel = RunsPanel(runner=self.runner)
        panel.set_selected_keys_provider(
            lambda: [k] if (k := self.prompts.current_key()) else [])
        panel.pipeline_finished.connect(self.refresh)
        panel.run_ended.connect(self._run_ended)
        self.extra_views["runs"] = panel
        self.dock_runs = self._dock("Runs", panel, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.dock_runs.hide()  # shown on the first run (View ▸ Runs shows it any time)
        panel.run_started.connect(lambda _rid: self.dock_runs and self.dock_runs.show())

    def _run_ended(self, _run_id: int, _status: str) -> None:
        """A run ended: when annotate → project → measure follows, show the new counts now
        and the numbers when that chain finishes (`pipeline_finished`); else reload all."""
        panel = self.extra_views.get("runs")
        auto = panel is not None and panel.auto_box.isChecked() and _status == "finished"
        if auto:
            self._refresh_table(measure=False)
        else:
            self.refresh()

    def open_run(self, run_id: int) -> None:
        """Open a run (clicked in the Sweep): Compare shows it as run A against run B (the
        other run already chosen there, else the first other run)."""
        compare = self.extra_views.get("compare")
        if compare is None:
            return
        other = compare.run_b.currentData()
        if other is None or int(other) == run_id:
            other = next((r.id for r in self.run_list if r.id != run_id), run_id)
        compare.set_runs(run_id, int(other))
        self.show_view("compare")

    def show_view(self, name: str) -> None:
        """Bring a view to the front: map, overview, compare, sweep, accumulation, inspector
        or runs."""
        if name in ("map", "inspector"):
            self.tabs.setCurrentIndex(0)
            if name == "inspector":
                self.dock_inspector.raise_()
            return
        view = self.extra_views.get(name)
        if name == "runs" and self.dock_runs is not None:
            self.dock_runs.show()
            self.dock_runs.raise_()
        elif view is not None:
            self.tabs.setCurrentWidget(view.parentWidget().parentWidget())

    def current_view(self) -> Any:
        """The widget of the tab in front (the map view for the Map tab)."""
        w = self.tabs.currentWidget()
        if isinstance(w, QScrollArea):
            return w.widget()
        return self.map

    def _tab_changed(self, _index: int) -> None:
        """Compare and accumulation follow the prompt chosen in the table when they come to
        the front."""
        view = self.current_view()
        key = None if self.whole.isChecked() else self.current_key
        if view is self.extra_views.get("compare") and hasattr(view, "set_prompt"):
            view.set_prompt(key)
        elif view is self.extra_views.get("accumulation") and hasattr(view, "set_prompt"):
            view.set_prompt(self.current_key)

    def _restore_layout(self) -> bool:
        geo = self.settings.value("window/geometry")
        state = self.settings.value("window/state")
        if isinstance(geo, QByteArray):
            self.restoreGeometry(geo)
        return isinstance(state, QByteArray) and self.restoreState(state)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._sized:  # first launch: give the side panels useful widths
            self._sized = True
            from PySide6.QtCore import QTimer

            QTimer.singleShot(0, self._size_docks)

    def _size_docks(self) -> None:
        w, h = self.width(), self.height()
        self.resizeDocks([self.dock_prompts, self.dock_hists], [int(w * 0.24), int(w * 0.3)],
                         Qt.Orientation.Horizontal)
        self.resizeDocks([self.dock_hists, self.dock_inspector], [int(h * 0.55), int(h * 0.45)],
                         Qt.Orientation.Vertical)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.close_study()
        super().closeEvent(event)

    # -- study ---------------------------------------------------------------------------
    def open_study(self, path: str | Path, create: bool = False) -> bool:
        """Open (or create) a study file; errors are shown in a dialog. True on success."""
        from monoscope.core.errors import MonoscopeError

        try:
            study = Study(path, create=create)
        except MonoscopeError as exc:
            self.show_error("Cannot open the study", str(exc))
            return False
        self.close_study()
        self.study = study
        self.settings.setValue("study/last", str(study.path))
        self.actions_.remember(str(study.path))
        self.setWindowTitle(f"Monoscope — {study.path.name}")
        self.set_dataset(None)
        return True

    def set_dataset(self, dataset_id: int | None) -> None:
        """Show a dataset of the open study (None = its first, e.g. after opening or importing)."""
        if self.study is None:
            return
        sets = queries.datasets(self.study)
        ids = [int(r["id"]) for r in sets]
        if dataset_id not in ids:
            dataset_id = ids[0] if ids else None
        self.dataset_id = dataset_id
        self.prompts.set_datasets(sets, dataset_id)
        self.current_key = None
        self.attribute = None
        for name, view in self.extra_views.items():
            if hasattr(view, "set_study") and (name != "runs" or view.study is not self.study):
                view.set_study(self.study, dataset_id)
        self._refresh_table()

    def close_study(self) -> None:
        self.runner.shutdown()
        for view in self.extra_views.values():
            if hasattr(view, "set_study"):
                view.set_study(None)
        if self.study is not None:
            self.study.close()
        self.study = None
        self.dataset_id = None
        self._snippets.clear()

    def refresh(self) -> None:
        """Reload everything (F5, after a run's pipeline): the prompt table (then the current
        prompt's map) and every extra view, from the stored measurements."""
        self._refresh_table()
        if self.study is None or self.dataset_id is None:
            return
        for view in self.extra_views.values():
            if hasattr(view, "refresh"):
                view.refresh()

    def _refresh_table(self, measure: bool = True) -> None:
        """Reload the prompt table (and then the current prompt's map); ``measure=False``
        shows the stored numbers only if they are still current (else 'not measured')."""
        st, ds = self.study, self.dataset_id
        if st is None or ds is None:
            self.prompts.set_table(None)
            self.map.clear("This study holds no dataset yet: drop a CSV/JSONL/Parquet file "
                           "here, or use File ▸ Open the demo." if st else "")
            self.status.setText("No study open." if st is None else "Empty study.")
            return
        job = self.runner.submit("table", load_table,
                                 TableRequest(st, ds, self.attribute, measure))
        job.finished.connect(self._table_loaded)
        job.failed.connect(lambda msg: self.show_error("Cannot load the prompts", msg))

    def _table_loaded(self, result: TablePayload) -> None:
        names, attr, table, runs = result.attributes, result.attribute, result.table, result.runs
        self.attribute, self.run_list = attr, runs
        self.set_id = result.set_id
        self.prompts.set_attributes(names, attr)
        keep = self.current_key if self.current_key in table.key else None
        self.prompts.set_table(table, keep_key=keep)
        self.status.setText(f"{len(table)} prompts, {len(runs)} runs")
        key = keep or self.prompts.first_key()
        if key is not None:
            self.prompts.select_key(key, emit=False)
        self.load_map(key)

    def _attribute_changed(self, name: str) -> None:
        self.attribute = name
        self._refresh_table()

    def show_prompt(self, key: str) -> None:
        self.show_view("map")
        if not self.prompts.select_key(key):
            self.load_map(key)

    # -- map and histograms ----------------------------------------------------------------
    def load_map(self, key: str | None) -> None:
        st, ds = self.study, self.dataset_id
        if st is None or ds is None:
            return
        self.current_key = key
        scope = None if self.whole.isChecked() or key is None else key

        job = self.runner.submit("map", load_map, MapRequest(st, ds, scope, self.set_id))
        job.finished.connect(self._map_loaded)
        job.failed.connect(lambda msg: self.show_error("Cannot load the map", msg))
        if key is not None and scope is not None:
            self._load_lists(key)
        acc = self.extra_views.get("accumulation")
        if acc is not None and key is not None and hasattr(acc, "set_prompt"):
            acc.set_prompt(key)

    def _map_loaded(self, payload: MapPayload) -> None:
        self.payload = payload
        pts = payload.points
        title = "whole dataset" if payload.key is None else f"prompt {payload.key}"
        if pts is None or not len(pts):
            self.map.clear(f"No map for the {title} yet: run `monoscope project` "
                           "(or annotate and project after a run).")
            self.hists.set_data([], np.zeros(0, np.int8), [], [])
            return
        colors = theme.group_colors(pts.run_ids)
        tab = self.prompts.model.table
        if payload.key is not None and tab is not None and payload.key in tab.key:
            title = f"<b>{tab.title[tab.key.index(payload.key)]}</b> [{payload.key}]"
        self.map.set_points(pts.text_id, pts.x, pts.y, pts.group, payload.labels, colors,
                            title=f"{title} · {pts.method.upper()} map fitted on the human texts",
                            trees=payload.trees)
        self.hists.set_data(payload.attrs, pts.group, payload.labels, colors,
                            keys=payload.run_keys, whole_dataset=payload.key is None)

    def brushed_mask(self) -> npt.NDArray[np.bool_] | None:
        return self.map.cloud.highlight

    # -- inspector -----------------------------------------------------------------------
    def inspect(self, text_id: int) -> None:
        st = self.study
        if st is None:
            return

        job = self.runner.submit("inspector", load_text, (st, text_id))
        job.finished.connect(lambda r: self.inspector.show_text(*r))
        job.failed.connect(lambda msg: self.show_error("Cannot show the text", msg))
        self.dock_inspector.raise_()

    def _open_text(self, text_id: int) -> None:
        self.map.select_text(text_id)
        self.inspect(text_id)

    def _load_lists(self, key: str) -> None:
        st, ds = self.study, self.dataset_id
        if st is None or ds is None:
            return

        job = self.runner.submit("lists", load_lists, (st, ds, key))
        job.finished.connect(lambda r: self.inspector.set_lists(*r))

    def _snippet(self, text_id: int) -> str:
        if text_id not in self._snippets and self.study is not None:
            if len(self._snippets) > 5000:
                self._snippets.clear()
            self._snippets[text_id] = queries.snippet(self.study, text_id)
        return self._snippets.get(text_id, "")

    # -- drag and drop -----------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        for url in event.mimeData().urls():
            if url.isLocalFile():
                self.actions_.handle_drop(url.toLocalFile())
                event.acceptProposedAction()
                return

    # -- misc ------------------------------------------------------------------------------
    def show_error(self, title: str, message: str) -> None:
        """A dialog with what went wrong and what to do (never a traceback)."""
        self.status.setText(message.splitlines()[0][:120])
        if self.property("quiet_errors"):
            log.warning("%s: %s", title, message)
            return
        QMessageBox.warning(self, title, message)

    def wait_idle(self, timeout_s: float = 60.0) -> bool:
        """Wait until every background load (including the extra views') has finished."""
        return self.runner.wait(timeout_s)
