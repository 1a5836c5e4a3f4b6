"""The explorer window: prompts on the left, the map in the centre, histograms and inspector on
the right; overview, compare, sweep and accumulation as further tabs. All loading runs in
`TaskRunner` jobs (the GUI thread runs no query); every number shown is a stored measurement
(`monoscope.core.analysis.measure`).

What the explorer shows (dataset, prompt, ranking attribute, whole-dataset scope and the one
selection) lives in one Qt-free `ExplorerState` the window owns and writes; the figure views and
`WindowActions` read it or subscribe to it. A rectangle or lasso on the map, a histogram range or
bar and a search's hits are each a gesture of that one selection (Shift adds, Ctrl narrows;
Ctrl+Z / Ctrl+Shift+Z undo and redo, Esc clears); it filters the map (the rest greyed), the
plots (the selection drawn over them), the Selection dock's table and the inspector's lists,
and the map's counter says how many texts it holds.

Refresh (F5, and after a run's annotate → project → measure chain) reloads the prompt table and
every view. Clicking a run's point in the Sweep opens that run in Compare (as run A).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from monoscope.core.explore import queries, text_table
from monoscope.core.explore.state import Change, ExplorerState, TextIds
from monoscope.core.explore.text_table import AttributeColumn
from monoscope.core.explore.view_state import ViewState, load_view, save_view
from monoscope.core.store import Study
from monoscope.core.store.datasets import Dataset
from monoscope.ui import theme
from monoscope.ui.loaders import (
    MapPayload,
    MapRequest,
    TablePayload,
    TableRequest,
    load_datasets,
    load_lists,
    load_map,
    load_map_colour,
    load_snippet,
    load_table,
    load_text,
)
from monoscope.ui.shortcuts import WindowShortcuts, atypical_ids
from monoscope.ui.views.accumulation import AccumulationView
from monoscope.ui.views.base import FigureView, StudyView
from monoscope.ui.views.compare import CompareView
from monoscope.ui.views.figure_common import FigureHolder
from monoscope.ui.views.histograms import HistogramPanel
from monoscope.ui.views.hivemind import HivemindView
from monoscope.ui.views.inspector import Inspector
from monoscope.ui.views.likelihood import LikelihoodView
from monoscope.ui.views.map_view import MapView
from monoscope.ui.views.overview import OverviewView
from monoscope.ui.views.prompts import PromptsPanel, export_table
from monoscope.ui.views.run_spec import RunSpec
from monoscope.ui.views.runs_panel import RunsPanel
from monoscope.ui.views.sweep import SweepView
from monoscope.ui.window_actions import WindowActions
from monoscope.ui.workers import TaskRunner

log = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    """One study at a time; the window owns the study handle (closed with the window)."""

    def __init__(self, settings: QSettings | None = None, synchronous: bool = False) -> None:
        super().__init__()
        self.settings = settings or QSettings("Monoscope", "Monoscope")
        self.runner = TaskRunner(self, synchronous=synchronous)
        self.state = ExplorerState()
        self.study: Study | None = None
        self.run_list: list[queries.RunInfo] = []
        self.payload: MapPayload | None = None
        self._tail_pending: MapPayload | None = None  # a map whose plots are still to draw
        self.set_id: int | None = None  # stored measurement set the table shows
        self._snippets: dict[int, str] = {}
        self._restore: ViewState | None = None  # the saved view being restored after opening
        # the view is saved with the study and restored on open (off for screenshots: they
        # show the study as first opened and leave it as it was)
        self.remember_view = True
        self._restore_selection: tuple[str, TextIds] | None = None  # (prompt, its selection)
        self._save_timer = QTimer(self)  # the view is saved with the study a moment after
        self._save_timer.setSingleShot(True)  # the last change (never on every event)
        self._save_timer.setInterval(1000)
        self._save_timer.timeout.connect(self._save_view)
        self.setWindowTitle("Monoscope")
        self.setAcceptDrops(True)
        theme.apply_plot_theme()

        self.map = MapView()
        self.map.text_hovered.connect(self._hovered)
        self.whole = QCheckBox("Whole dataset")
        self.whole.setToolTip("Show every prompt's texts on the dataset map")
        self.whole.toggled.connect(self._whole_toggled)
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
        self._tab_views: list[FigureView] = [self.map]  # the view of each tab, by index
        self._holders: dict[str, FigureHolder] = {}
        self.overview = OverviewView(runner=self.runner)
        self.overview.prompt_activated.connect(self.show_prompt)
        self.compare = CompareView(runner=self.runner, state=self.state)
        self.sweep = SweepView(runner=self.runner)
        self.sweep.run_activated.connect(self.open_run)
        self.accumulation = AccumulationView(runner=self.runner, state=self.state)
        self.hivemind = HivemindView(runner=self.runner)
        self.hivemind.runs_activated.connect(self.open_run)
        self.likelihood = LikelihoodView(runner=self.runner, state=self.state)
        self.likelihood.prompt_activated.connect(self.show_prompt)
        for name, view in (("Overview", self.overview), ("Compare", self.compare),
                           ("Sweep", self.sweep), ("Accumulation", self.accumulation),
                           ("Hivemind", self.hivemind), ("Likelihood", self.likelihood)):
            self._add_tab(name, view, view)
        # every tab's name in view: the docks beside the map give way before the tab bar
        # scrolls (at 1280 px the prompt table's fit could leave it ~540 px of its 547)
        self.tabs.setMinimumWidth(self.tabs.tabBar().sizeHint().width() + 4)
        self.setCentralWidget(self.tabs)

        self.prompts = PromptsPanel()
        self.hists = HistogramPanel()
        self.inspector = Inspector()
        self.dock_prompts = self._dock("Prompts", self.prompts, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.dock_hists = self._dock("Histograms", self.hists, Qt.DockWidgetArea.RightDockWidgetArea)
        self.dock_inspector = self._dock("Inspector", self.inspector,
                                         Qt.DockWidgetArea.RightDockWidgetArea)
        self.splitDockWidget(self.dock_hists, self.dock_inspector, Qt.Orientation.Vertical)
        # the side docks keep the full height: the bottom docks (Runs, Search, Selection,
        # tabbed together) sit under the figures only, never under the histograms
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        # the map's own docks step aside while a figure tab is in front (it gets the width)
        # and come back with the map
        self._map_docks_hidden: list[QDockWidget] = []
        self.tabs.currentChanged.connect(self._tab_changed)
        self.runs_panel = RunsPanel(runner=self.runner)
        self.dock_runs = self._add_runs_panel(self.runs_panel)

        self.prompts.prompt_selected.connect(self.load_map)
        self.prompts.attribute_changed.connect(self._attribute_changed)
        self.prompts.dataset_changed.connect(self.set_dataset)
        self.map.text_selected.connect(self.inspect)
        self.map.selection_changed.connect(self._selection_changed)
        self.map.region_selected.connect(self._region_selected)
        self.map.colour_by_changed.connect(lambda _sid: self._load_colour())
        self.hists.selected.connect(self._plot_selected)
        self.hists.clear_requested.connect(self.clear_selection)
        self.inspector.text_requested.connect(self._open_text)
        self.inspector.texts_lit.connect(lambda ids: self.map.set_highlight(self._mask(ids)))
        self.likelihood.text_requested.connect(self._open_text)
        self.state.subscribe(self._state_changed)
        self.status = QLabel("")
        self.statusBar().addWidget(self.status, 1)
        self.busy = QLabel("")
        self.statusBar().addPermanentWidget(self.busy)
        self.runner.busy_changed.connect(lambda b: self.busy.setText("Loading…" if b else ""))
        self.actions_ = WindowActions(self, self.state, self)
        self._install_search()
        self._install_selection_table()
        self._shown_scope: tuple[str | None] | None = None  # the scope the map shows
        self._add_shortcuts()
        self.resize(1400, 900)
        self._sized = self._restore_layout()

    def _add_shortcuts(self) -> None:
        """Keyboard navigation (Go menu: prompts, map points, tabs, Esc) and Help ▸ Keyboard
        shortcuts, from `monoscope.ui.shortcuts`."""
        self.shortcuts = WindowShortcuts(self, self.prompts, self.map, self.tabs, self.hists,
                                         outliers=lambda: atypical_ids(self.inspector),
                                         state=self.state)

    # -- layout --------------------------------------------------------------------------
    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{title.lower()}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _add_tab(self, name: str, widget: QWidget, view: FigureView) -> None:
        """A figure view as a tab beside the map (its `StudyView` side is `extra_views`)."""
        # A scroll area keeps a wide view from setting the window's minimum width.
        holder = FigureHolder(widget)
        self.tabs.addTab(holder, name)
        self._tab_views.append(view)
        self._holders[name.lower()] = holder

    def _add_runs_panel(self, panel: RunsPanel) -> QDockWidget:
        """The runs panel as a bottom dock, hidden until the first run (View ▸ Runs)."""
        panel.set_selected_keys_provider(lambda: [k] if (k := self.state.prompt) else [])
        panel.pipeline_finished.connect(self.refresh)
        panel.run_ended.connect(self._run_ended)
        dock = self._dock("Runs", panel, Qt.DockWidgetArea.BottomDockWidgetArea)
        dock.hide()
        panel.run_started.connect(lambda _rid: dock.show())
        return dock

    @property
    def extra_views(self) -> dict[str, StudyView]:
        """The views that show the study beside the prompt table, by name."""
        return {"overview": self.overview, "compare": self.compare, "sweep": self.sweep,
                "accumulation": self.accumulation, "hivemind": self.hivemind,
                "likelihood": self.likelihood,
                "runs": self.runs_panel}

    def docks(self) -> list[QDockWidget]:
        return [self.dock_prompts, self.dock_hists, self.dock_inspector, self.dock_runs]

    def _run_ended(self, _run_id: int, _status: str) -> None:
        """A run ended: when annotate → project → measure follows, show the new counts now
        and the numbers when that chain finishes (`pipeline_finished`); else reload all."""
        if self.runs_panel.auto_box.isChecked() and _status == "finished":
            self._refresh_table(measure=False)
        else:
            self.refresh()

    def open_run(self, run_id: int, other: int | None = None) -> None:
        """Open a run (clicked in the Sweep): Compare shows it as run A against run B (the
        other run already chosen there, else the first other run); with ``other`` (a
        Hivemind cell) exactly those two (one run twice for a cell of it and the source)."""
        if other is None:
            other = self.compare.run_b.currentData()
            if other is None or int(other) == run_id:
                other = next((r.id for r in self.run_list if r.id != run_id), run_id)
        self.compare.set_runs(run_id, int(other))
        self.show_view("compare")

    def show_view(self, name: str) -> None:
        """Bring a view to the front: map, overview, compare, sweep, accumulation, hivemind,
        inspector or runs."""
        if name in ("map", "inspector"):
            self.tabs.setCurrentIndex(0)
            if name == "inspector":
                self.dock_inspector.raise_()
        elif name == "runs":
            self.dock_runs.show()
            self.dock_runs.raise_()
        elif name in self._holders:
            self.tabs.setCurrentWidget(self._holders[name])

    def _tab_changed(self, index: int) -> None:
        """A figure tab in front: the Histograms and Inspector docks (they belong to the map)
        hide so the figure gets the width; back on the map, the ones hidden so return."""
        if index == 0:
            for dock in self._map_docks_hidden:
                dock.show()
            self._map_docks_hidden = []
            return
        for dock in (self.dock_hists, self.dock_inspector):
            if dock.isVisible() and not dock.isFloating():
                self._map_docks_hidden.append(dock)
                dock.hide()

    def layout_state(self) -> QByteArray:
        """The dock layout as saved (settings, the study's view): the map's docks as they are
        on the map, also while a figure tab has set them aside."""
        hidden = self._map_docks_hidden
        if not hidden:
            return self.saveState()
        self.setUpdatesEnabled(False)
        try:
            for dock in hidden:
                dock.show()
            state = self.saveState()
            for dock in hidden:
                dock.hide()
        finally:
            self.setUpdatesEnabled(True)
        return state

    def current_view(self) -> FigureView:
        """The view of the tab in front (the map view for the Map tab)."""
        return self._tab_views[max(0, self.tabs.currentIndex())]

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
            QTimer.singleShot(0, self._size_docks)

    def _fit_prompts_dock(self) -> None:
        """First launch, once the table is in: the Prompts dock as wide as its columns (each
        index with its interval), between 22 % and 30 % of the window, and up to 36 % when
        even the short forms of the runs' columns need it (the source and n columns stay in
        view: `PromptsPanel.fit_columns`)."""
        self._fit_prompts = False
        w = self.width()
        want = self.prompts.table_width(compact=False)
        need = self.prompts.table_width(compact=True)
        width = max(min(max(want, w * 0.22), w * 0.3), min(need, w * 0.36))
        # the histograms give way so the tabs keep every name in view (their minimum width)
        room = w - int(width) - self.tabs.minimumWidth() - 24
        hists = max(self.dock_hists.minimumSizeHint().width(), min(self.dock_hists.width(), room))
        self.resizeDocks([self.dock_prompts, self.dock_hists], [int(width), hists],
                         Qt.Orientation.Horizontal)

    def _size_docks(self) -> None:
        self._fit_prompts = True
        w, h = self.width(), self.height()
        self.resizeDocks([self.dock_prompts, self.dock_hists], [int(w * 0.22), int(w * 0.27)],
                         Qt.Orientation.Horizontal)
        self.resizeDocks([self.dock_hists, self.dock_inspector], [int(h * 0.55), int(h * 0.45)],
                         Qt.Orientation.Vertical)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.layout_state())
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
        if not self.remember_view:
            self._view_loaded(study, None)
            return True
        job = self.runner.submit("view-load", load_view, study)
        job.finished.connect(lambda view: self._view_loaded(study, view))
        job.failed.connect(lambda _msg: self._view_loaded(study, None))
        return True

    # -- view state saved with the study ---------------------------------------------------
    def _view_loaded(self, study: Study, view: ViewState | None) -> None:
        """Reopen where the study was left: layout and tab now, then the dataset; the
        prompt, attribute and selection follow as the table and the map load (each only if
        it still exists)."""
        if study is not self.study:
            return
        self._restore = view
        if view is not None:
            if view.layout:
                self._map_docks_hidden = []
                self.tabs.setCurrentIndex(0)  # the saved layout is the map's
                self.restoreState(QByteArray.fromBase64(view.layout.encode()))
            if 0 <= view.tab < self.tabs.count():
                self.tabs.setCurrentIndex(view.tab)
        self.set_dataset(None if view is None else view.dataset_id)

    def view_state(self) -> ViewState:
        """What the window shows now, as saved with the study."""
        layout = bytes(self.layout_state().toBase64().data()).decode()
        return ViewState.of(self.state.snapshot(), self.tabs.currentIndex(), layout)

    def _save_view(self) -> None:
        st = self.study
        if st is None or st.read_only or self._restore is not None or not self.remember_view:
            return
        job = self.runner.submit("view-save", save_view, (st, self.view_state()))
        job.failed.connect(lambda msg: log.warning("The view was not saved: %s", msg))

    def set_dataset(self, dataset_id: int | None) -> None:
        """Show a dataset of the open study (None = its first, e.g. after opening or
        importing); the list of datasets is read in a worker first."""
        study = self.study
        if study is None:
            return
        job = self.runner.submit("datasets", load_datasets, study)
        job.finished.connect(lambda rows: self._datasets_loaded(study, rows, dataset_id))
        job.failed.connect(lambda msg: self.show_error("Cannot read the study", msg))

    def _datasets_loaded(self, study: Study, rows: list[Dataset],
                         dataset_id: int | None) -> None:
        if study is not self.study:
            return
        ids = [d.id for d in rows]
        if dataset_id not in ids:
            dataset_id = ids[0] if ids else None
        self.prompts.set_datasets(rows, dataset_id)
        saved = self._restore
        if saved is not None and saved.dataset_id != dataset_id:
            saved = self._restore = None  # the saved dataset is gone: start afresh
        self.state.update(dataset_id=dataset_id, prompt=None,
                          attribute=None if saved is None else saved.attribute,
                          whole_dataset=False if saved is None else saved.whole_dataset,
                          selection=None)
        for name, view in self.extra_views.items():
            if name != "runs" or self.runs_panel.study is not study:
                view.set_study(study, dataset_id)
        self._refresh_table()

    def close_study(self) -> None:
        if self.study is not None and (self._save_timer.isActive() or self._restore is None):
            self._save_timer.stop()
            self._save_view()  # the view as left, saved before the study closes
            self.runner.wait(5)
        self.runner.shutdown()
        for view in self.extra_views.values():
            view.set_study(None)
        if self.study is not None:
            self.study.close()
        self.study = None
        self.state.update(dataset_id=None, prompt=None, attribute=None, selection=None)
        self._snippets.clear()

    def refresh(self) -> None:
        """Reload everything (F5, after a run's pipeline): the prompt table (then the current
        prompt's map) and every extra view, from the stored measurements."""
        self._refresh_table()
        if self.study is None or self.state.dataset_id is None:
            return
        for view in self.extra_views.values():
            view.refresh()

    def _refresh_table(self, measure: bool = True) -> None:
        """Reload the prompt table (and then the current prompt's map); ``measure=False``
        shows the stored numbers only if they are still current (else 'not measured')."""
        st, ds = self.study, self.state.dataset_id
        if st is None or ds is None:
            self._restore = None
            self.prompts.set_table(None)
            self.map.clear("This study holds no dataset yet: drop a CSV/JSONL/Parquet file "
                           "here, or use File ▸ Open the demo." if st else "")
            self.status.setText("No study open." if st is None else "Empty study.")
            return
        job = self.runner.submit("table", load_table,
                                 TableRequest(st, ds, self.state.attribute, measure))
        job.finished.connect(self._table_loaded)
        job.failed.connect(lambda msg: self.show_error("Cannot load the prompts", msg))

    def _table_loaded(self, result: TablePayload) -> None:
        names, attr, table, runs = result.attributes, result.attribute, result.table, result.runs
        self.state.attribute = attr
        self.run_list = runs
        self.set_id = result.set_id
        self.prompts.set_attributes(names, attr)
        current = self.state.prompt
        view, self._restore = self._restore, None
        if view is not None and view.prompt in table.key:
            current = view.prompt
            if view.selection:  # restored when that prompt's map has loaded
                self._restore_selection = (view.prompt, view.selection)
        keep = current if current in table.key else None
        self.prompts.set_table(table, keep_key=keep)
        if getattr(self, "_fit_prompts", False):
            self._fit_prompts_dock()
        self.status.setText(f"{len(table)} prompts, {len(runs)} runs")
        key = keep or self.prompts.first_key()
        if key is not None:
            self.prompts.select_key(key, emit=False)
        self.load_map(key)

    def _attribute_changed(self, name: str) -> None:
        self.state.attribute = name
        self._refresh_table()

    def show_prompt(self, key: str) -> None:
        self.show_view("map")
        if not self.prompts.select_key(key):
            self.load_map(key)

    # -- state -----------------------------------------------------------------------------
    def _state_changed(self, change: Change) -> None:
        """The map, the plots and the inspector's lists follow the selection; the inspector
        follows the prompt. The view is saved with the study a moment later."""
        if self.study is not None:
            self._save_timer.start()
        if "dataset_id" in change:
            self.inspector.clear()
        if "prompt" in change or "whole_dataset" in change or "dataset_id" in change:
            now = change.now
            self.inspector.set_prompt(None if now.whole_dataset else now.prompt)
        if "selection" in change or "selection_label" in change:
            self._show_selection()
            if not ("prompt" in change or "whole_dataset" in change or "dataset_id" in change):
                self._selection_lists()
        if "whole_dataset" in change:
            self.whole.blockSignals(True)
            self.whole.setChecked(change.now.whole_dataset)
            self.whole.blockSignals(False)
            self.load_map(change.now.prompt)

    def _mask(self, ids: TextIds | None) -> npt.NDArray[np.bool_] | None:
        """The map's points whose texts are in ``ids`` (None stays None)."""
        if ids is None:
            return None
        return np.isin(self.map.text_id, np.asarray(ids, dtype=np.int64))

    def _ids(self, mask: npt.NDArray[np.bool_] | None) -> npt.NDArray[np.int64] | None:
        return None if mask is None else self.map.text_id[mask]

    def _whole_toggled(self, on: bool) -> None:
        self.state.whole_dataset = on

    # -- the one selection -------------------------------------------------------------------
    def _selection_changed(self, mask: npt.NDArray[np.bool_] | None) -> None:
        """The map's Clear button."""
        if mask is None:
            self.clear_selection()

    def _region_selected(self, mask: npt.NDArray[np.bool_], kind: str, mode: str) -> None:
        ids = self._ids(mask)
        self.state.select(ids, kind, mode)

    def _plot_selected(self, mask: npt.NDArray[np.bool_] | None, label: str, mode: str,
                       gesture: str) -> None:
        self.state.select(self._ids(mask), label, mode, gesture=gesture)

    def clear_selection(self) -> None:
        """Esc, the Clear buttons, a double-click on a plot: no selection (undoable)."""
        self.state.clear_selection()

    def selection_counter(self) -> str:
        """"16 / 51 texts · lasso": the selected texts on the map, of all the map's texts."""
        mask = self._mask(self.state.selection)
        return text_table.counter(None if mask is None else int(np.count_nonzero(mask)),
                                  len(self.map.text_id), self.state.selection_label)

    def _show_selection(self) -> None:
        """Draw the selection on the map (the rest greyed) and over the plots."""
        mask = self._mask(self.state.selection)
        self.map.show_selection(mask, self.selection_counter() if len(self.map.text_id) else "")
        if self._tail_pending is None:  # else the plots still show the previous map's texts
            self.hists.set_selection(mask)

    def _selection_lists(self) -> None:
        """The inspector's lists among the selected texts (all of the prompt's without one)."""
        key = self.state.scope()
        if key is not None:
            self._load_lists(key)
        detail = self.inspector.detail
        if detail is not None:
            self.inspect(int(detail["id"]), raise_dock=False)

    # -- map and histograms ----------------------------------------------------------------
    def load_map(self, key: str | None) -> None:
        """Show a prompt's map (or the whole dataset's, see the scope) and its lists."""
        st, ds = self.study, self.state.dataset_id
        if st is None or ds is None:
            return
        self.state.prompt = key
        scope = self.state.scope()
        job = self.runner.submit("map", load_map, MapRequest(st, ds, scope, self.set_id))
        job.finished.connect(self._map_loaded)
        job.failed.connect(lambda msg: self.show_error("Cannot load the map", msg))
        if key is not None and scope is not None:
            # the inspector's lists after the map: the map's read has the workers to itself
            lists = lambda *_: self._load_lists(key) if self.state.prompt == key else None  # noqa: E731
            job.finished.connect(lists)
            job.failed.connect(lists)

    def _map_loaded(self, payload: MapPayload) -> None:
        self.payload = payload
        self.inspector.set_missing_modes(payload.missing)
        scope_changed = self._shown_scope != (payload.key,)
        self._shown_scope = (payload.key,)
        pts = payload.points
        title = "whole dataset" if payload.key is None else f"prompt {payload.key}"
        self._tail_pending = None
        if pts is None or not len(pts):
            self.map.clear(f"No map for the {title} yet: run `monoscope project` "
                           "(or annotate and project after a run).")
            self.hists.set_data([], np.zeros(0, np.int8), [], [])
            self.selection_table.set_map(np.zeros(0, np.int64), [], {})
            self.state.update(selection=None)
            return
        colors = theme.group_colors(pts.run_ids)
        tab = self.prompts.model.table
        if payload.key is not None and tab is not None and payload.key in tab.key:
            title = f"<b>{tab.title[tab.key.index(payload.key)]}</b> [{payload.key}]"
        self.map.set_points(pts.text_id, pts.x, pts.y, pts.group, payload.labels, colors,
                            title=f"{title} · {pts.method.upper()} map fitted on the human texts",
                            trees=payload.trees, symbols=theme.group_symbols(pts.run_ids),
                            contours=payload.contours)
        self._load_colour()
        topic = next((a for a in payload.attrs if a.name == "topic"), None)
        self.map.set_topics(None if topic is None else topic.values,
                            {} if topic is None else dict(topic.categories or {}))
        # the map paints first (its update is already queued); the plots, the selection
        # table and the selection follow on the next turn of the event loop
        self._tail_pending = payload
        QTimer.singleShot(0, lambda: self._map_tail(payload, colors, scope_changed))

    def _map_tail(self, payload: MapPayload, colors: list[tuple[int, int, int]],
                  scope_changed: bool) -> None:
        """The rest of showing a loaded map: histograms, selection table, selection, search
        (skipped when a newer map has arrived meanwhile)."""
        if self._tail_pending is not payload:
            return
        self._tail_pending = None
        pts = payload.points
        assert pts is not None
        self.hists.set_data(payload.attrs, pts.group, payload.labels, colors,
                            keys=payload.run_keys, whole_dataset=payload.key is None)
        pending = self._restore_selection
        if pending is not None and pending[0] == payload.key:
            self._restore_selection = None
            kept = np.isin(pts.text_id, np.asarray(pending[1], dtype=np.int64))
            if kept.any():  # the saved selection, as far as its texts are still here
                self.state.update(selection=self._ids(kept), selection_label="saved selection")
        self.selection_table.set_map(pts.text_id, _columns(payload),
                                     dict(zip(payload.labels, colors, strict=False)))
        sel = self.state.selection
        if sel is not None:  # the same scope again (a refresh): its texts on the new map
            self.state.update(selection=self._ids(self._mask(sel)))
        self._show_selection()
        if scope_changed:
            self._apply_search()

    def _load_colour(self) -> None:
        """The map's "Colour by" choices and, for a scorer, each point's log-probability."""
        st, ds = self.study, self.state.dataset_id
        if st is None or ds is None:
            return
        job = self.runner.submit("map-colour", load_map_colour,
                                 (st, ds, self.map.colour_by(), self.map.text_id.copy()))
        job.finished.connect(self._colour_loaded)
        job.failed.connect(lambda msg: self.show_error("Cannot colour the map", msg))

    def _colour_loaded(self, result: tuple[list[tuple[int, str]], Any, str]) -> None:
        choices, values, label = result
        self.map.set_colour_choices(choices)
        if values is not None and len(values) != len(self.map.text_id):
            return  # an older map's values: a newer request follows
        self.map.set_values(values, label)

    def reset_zoom(self) -> None:
        self.map.reset_view()

    def reload_map(self) -> None:
        """Load the current prompt's map again (a new map was stored)."""
        self.load_map(self.state.prompt)

    # -- inspector -----------------------------------------------------------------------
    def inspect(self, text_id: int, raise_dock: bool = True) -> None:
        """Show a text in the inspector, its nearest human texts among the selection."""
        st = self.study
        if st is None:
            return

        shown = self.likelihood.payload.run if self.likelihood.payload is not None else None
        job = self.runner.submit("inspector", load_text, (st, text_id, self.state.selection,
                                                          shown.scorer_id if shown else None))
        job.finished.connect(lambda r: self.inspector.show_text(*r))
        job.failed.connect(lambda msg: self.show_error("Cannot show the text", msg))
        if raise_dock:
            self.dock_inspector.raise_()

    def _open_text(self, text_id: int) -> None:
        self.map.select_text(text_id)
        self.inspect(text_id)

    def _load_lists(self, key: str) -> None:
        st, ds = self.study, self.state.dataset_id
        if st is None or ds is None:
            return

        sel = self.state.selection
        mask = self._mask(sel)
        self.inspector.set_filter_note(
            "" if mask is None else f"Among the {int(np.count_nonzero(mask)):,} selected "
                                    "texts (Esc shows all)")
        job = self.runner.submit("lists", load_lists, (st, ds, key, sel))
        job.finished.connect(lambda r: self.inspector.set_lists(*r))

    def _hovered(self, text_id: int) -> None:
        """The map asks for a hovered text's snippet: from the cache, else read in a worker
        (a newer hover supersedes the read)."""
        cached = self._snippets.get(text_id)
        if cached is not None:
            self.map.show_snippet(text_id, cached)
            return
        if self.study is None:
            return
        job = self.runner.submit("snippet", load_snippet, (self.study, text_id))
        job.finished.connect(self._snippet_loaded)

    def _snippet_loaded(self, result: tuple[int, str]) -> None:
        text_id, text = result
        if len(self._snippets) > 5000:
            self._snippets.clear()
        self._snippets[text_id] = text
        self.map.show_snippet(text_id, text)

    # -- commands of the menus (see WindowActions) ------------------------------------------
    def start_run(self, spec: RunSpec) -> None:
        """Start the runs of a spec in the runs panel (brought to the front)."""
        self.show_view("runs")
        self.runs_panel.start(spec)

    def focus_filter(self) -> None:
        self.dock_prompts.show()
        self.dock_prompts.raise_()
        self.prompts.filter.setFocus()
        self.prompts.filter.selectAll()

    def histogram_names(self) -> list[str]:
        return list(self.hists.hists)

    def export_histogram(self, name: str, path: str | Path) -> Path:
        return self.hists.export(name, path)

    def export_prompt_table(self, path: str | Path) -> Path:
        return export_table(self.prompts.model, path)

    def _install_search(self) -> None:
        """The Search dock (bottom; Ctrl+Shift+F or View ▸ Search texts shows it): text or
        semantic search whose hits become the selection (Shift+Enter adds them) and open in
        the inspector."""
        from PySide6.QtGui import QAction, QKeySequence
        from PySide6.QtWidgets import QMenu

        from monoscope.ui.views.search import SearchPanel

        self.search = SearchPanel(self.runner, self.state, lambda: self.study)
        self.dock_search = self._dock("Search", self.search, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.tabifyDockWidget(self.dock_runs, self.dock_search)
        self.dock_search.hide()

        self.search.hits_changed.connect(self._search_hits)
        self.search.text_activated.connect(self._open_text)
        act = QAction("&Search texts…", self)
        act.setShortcut(QKeySequence("Ctrl+Shift+F"))
        act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        act.triggered.connect(lambda: self.show_search())
        menu = next((a.menu() for a in self.menuBar().actions() if a.text() == "&View"), None)
        (menu if isinstance(menu, QMenu) else self).addAction(act)

    def show_search(self, query: str | None = None) -> None:
        """The Search dock in front (a quarter of the height, not the side docks'), its box
        focused; with ``query``, that search run."""
        if not self.dock_search.isVisible():
            self.dock_search.show()
            self.resizeDocks([self.dock_search], [self.height() // 4], Qt.Orientation.Vertical)
        self.dock_search.raise_()
        self.search.focus_query()
        if query is not None:
            self.search.run(query, "replace")

    def _search_hits(self, ids: npt.NDArray[np.int64] | None) -> None:
        """A search's hits are a selection gesture; a cleared search clears a selection it
        made."""
        if ids is None:
            if self.state.selection_label.startswith(("search", "semantic search")):
                self.state.clear_selection()
            return
        self._apply_search()

    def _apply_search(self) -> None:
        """Select the last search's hits on the map, when its scope covers the map's (a
        prompt's search waits for that prompt's map; a dataset search selects on any)."""
        res, payload = self.search.result, self.payload
        if res is None or payload is None or not len(self.map.text_id):
            return
        if res.prompt_key is not None and payload.key is not None and (
                res.prompt_key != payload.key):
            return
        on_map = res.ids[np.isin(res.ids, self.map.text_id)]
        self.state.select(on_map, self.search.selection_label(), self.search.combine_mode)

    def _install_selection_table(self) -> None:
        """The Selection dock (bottom, beside Search; View ▸ Selection table, Ctrl+T): the
        selected texts with their attribute values, sortable, exported to CSV."""
        from PySide6.QtGui import QKeySequence
        from PySide6.QtWidgets import QMenu

        from monoscope.ui.views.selection_table import SelectionTable

        self.selection_table = SelectionTable(self.runner, self.state, lambda: self.study)
        self.dock_selection = self._dock("Selection", self.selection_table,
                                         Qt.DockWidgetArea.BottomDockWidgetArea)
        self.tabifyDockWidget(self.dock_search, self.dock_selection)
        self.dock_selection.hide()
        self.selection_table.text_activated.connect(self._open_text)
        self.selection_table.clear_requested.connect(self.clear_selection)
        act = self.dock_selection.toggleViewAction()
        act.setText("Selection &table")
        act.setShortcut(QKeySequence("Ctrl+T"))
        act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        menu = next((a.menu() for a in self.menuBar().actions() if a.text() == "&View"), None)
        (menu if isinstance(menu, QMenu) else self).addAction(act)

    def show_selection_table(self) -> None:
        """Show the Selection dock (a quarter of the height) in front."""
        if not self.dock_selection.isVisible():
            self.dock_selection.show()
            self.resizeDocks([self.dock_selection], [self.height() // 4],
                             Qt.Orientation.Vertical)
        self.dock_selection.raise_()

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
    def show_status(self, text: str) -> None:
        self.status.setText(text)

    def show_error(self, title: str, message: str) -> None:
        """A dialog with what went wrong and what to do (never a traceback)."""
        self.status.setText(message.splitlines()[0][:120])
        if self.property("quiet_errors"):
            log.warning("%s: %s", title, message)
            return
        QMessageBox.warning(self, title, message)

    def wait_idle(self, timeout_s: float = 60.0) -> bool:
        """Wait until every background load (including the extra views') has finished and
        a loaded map's plots are drawn."""
        ok = self.runner.wait(timeout_s)
        while ok and self._tail_pending is not None:
            QApplication.processEvents()
            ok = self.runner.wait(timeout_s)
        return ok


def _columns(payload: MapPayload) -> list[AttributeColumn]:
    """The map's attributes as the selection table shows them (topics by their labels)."""
    out = []
    for a in payload.attrs:
        labels: list[object] | None = list(a.labels) if a.labels is not None else None
        if a.categories:
            cats = a.categories
            labels = [None if not np.isfinite(v) else cats.get(int(v)) for v in a.values]
        out.append(AttributeColumn(a.name, a.values, labels))
    return out
