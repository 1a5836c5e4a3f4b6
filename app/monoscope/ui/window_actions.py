"""Menus, toolbar, shortcuts, recent studies, drag-and-drop, imports and exports of the window.

`WindowActions` works on the window through `WindowHost` (what the commands need of it) and
reads the window's `ExplorerState` (the dataset and prompt a new run starts from, the map's
scope); it never imports the window. Imports and the column sniffing of a dropped table run in
the window's `TaskRunner`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMainWindow, QMenu, QMessageBox

from monoscope.core.explore.state import ExplorerState
from monoscope.core.store import Study, catalog
from monoscope.core.store import datasets as datasets_repo
from monoscope.core.tasks import TaskState
from monoscope.ui.host import WindowHost

if TYPE_CHECKING:
    from monoscope.core.importers.common import ImportReport

MAX_RECENT = 8
TABLE_SUFFIXES = {".csv", ".tsv", ".jsonl", ".json", ".parquet", ".gz", ".bz2"}

ImportFn = Callable[[Study, TaskState], "ImportReport"]


def import_task(request: tuple[Study, ImportFn], state: TaskState) -> int | None:
    """Task: run an import, then return the id of the dataset it wrote (None if unknown)."""
    study, run = request
    report = run(study, state)
    found = datasets_repo.find(study, report.dataset)
    return None if found is None else found.id


def columns_task(path: str, state: TaskState) -> list[str]:
    """Task: the column names of a table file (empty when it cannot be read)."""
    return catalog.file_columns(path)


class WindowActions:
    """Builds the menu bar and toolbar of the explorer window and implements their commands."""

    def __init__(self, win: QMainWindow, state: ExplorerState, host: WindowHost) -> None:
        self.win = win
        self.state = state
        self.host = host
        self.actions: dict[str, QAction] = {}
        mb = win.menuBar()
        file = mb.addMenu("&File")
        self._act(file, "open", "&Open study…", QKeySequence.StandardKey.Open, self.open_dialog)
        self._act(file, "new", "&New study…", QKeySequence.StandardKey.New, self.new_dialog)
        self.recent_menu = QMenu("Open &recent", win)
        file.addMenu(self.recent_menu)
        self._act(file, "demo", "Open the &demo", None, self.open_demo)
        self._act(file, "import", "&Import texts…", QKeySequence("Ctrl+I"), self.import_dialog)
        file.addSeparator()
        self._act(file, "export_plot", "&Export current plot…", QKeySequence("Ctrl+E"),
                  self.export_plot_dialog)
        self._act(file, "export_hists", "Export &histograms…", None, self.export_hists_dialog)
        self._act(file, "export_table", "Export prompt &table…", QKeySequence("Ctrl+Shift+E"),
                  self.export_table_dialog)
        file.addSeparator()
        self._act(file, "quit", "&Quit", QKeySequence.StandardKey.Quit, win.close)
        view = mb.addMenu("&View")
        self._act(view, "refresh", "&Refresh", QKeySequence("F5"), host.refresh)
        self._act(view, "filter", "&Filter prompts", QKeySequence("Ctrl+F"), host.focus_filter)
        self._act(view, "reset", "Reset map &zoom", QKeySequence("Home"), host.reset_zoom)
        self._act(view, "whole", "&Whole dataset map", QKeySequence("Ctrl+D"), self.toggle_whole)
        view.addSeparator()
        for dock in host.docks():
            view.addAction(dock.toggleViewAction())
        run = mb.addMenu("&Run")
        self._act(run, "new_run", "&New run…", QKeySequence("Ctrl+R"), self.new_run)
        self._act(run, "replicate", "&Replicate the paper…", QKeySequence("Ctrl+Shift+R"),
                  self.replicate)
        help_menu = mb.addMenu("&Help")
        self._act(help_menu, "about", "&About Monoscope", None, self.about)
        tb = win.addToolBar("Main")
        tb.setObjectName("toolbar-main")
        for name in ("open", "refresh", "new_run", "export_plot"):
            tb.addAction(self.actions[name])
        self._fill_recent()

    def replicate(self) -> None:
        from monoscope.ui.views.replicate_dialog import open_replicate_dialog

        open_replicate_dialog(self.win, self.host)

    def toggle_whole(self) -> None:
        """Switch the map between the chosen prompt and the whole dataset."""
        self.state.whole_dataset = not self.state.whole_dataset

    def _act(self, menu: QMenu, name: str, text: str,
             key: QKeySequence | QKeySequence.StandardKey | None,
             slot: Callable[[], object]) -> QAction:
        act = QAction(text, self.win)
        if key is not None:
            act.setShortcut(key)
            act.setToolTip(f"{text.replace('&', '').rstrip('…')} ({QKeySequence(key).toString()})")
        act.triggered.connect(lambda _=False: slot())
        menu.addAction(act)
        self.actions[name] = act
        return act

    # -- recent studies --------------------------------------------------------------------
    def recent(self) -> list[str]:
        """Recently opened studies, newest first."""
        value = self.host.settings.value("study/recent", [])
        if isinstance(value, str):
            items: list[object] = [value]
        elif isinstance(value, list | tuple):
            items = list(value)
        else:
            items = []
        return [str(p) for p in items if p]

    def remember(self, path: str) -> None:
        items = [path, *(p for p in self.recent() if p != path)][:MAX_RECENT]
        self.host.settings.setValue("study/recent", items)
        self._fill_recent()

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for p in self.recent():
            a = self.recent_menu.addAction(p)
            a.triggered.connect(lambda _=False, path=p: self.host.open_study(path))
        self.recent_menu.setEnabled(bool(self.recent()))

    # -- commands ------------------------------------------------------------------------
    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.win, "Open study", "",
                                              "Monoscope study (*.duckdb);;All files (*)")
        if path:
            self.host.open_study(path)

    def new_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.win, "New study", "study.duckdb",
                                              "Monoscope study (*.duckdb)")
        if path:
            self.host.open_study(path, create=True)

    def open_demo(self) -> None:
        """Import the films demo into the open study (or a new one in the data folder)."""
        from monoscope.core.importers import import_demo

        if self.host.study is None:
            from monoscope.core.assets import data_dir

            if not self.host.open_study(data_dir() / "demo.duckdb", create=True):
                return

        def run(study: Study, state: TaskState) -> ImportReport:
            return import_demo(study, "films", state)

        self._start_import(run, "demo")

    def _start_import(self, run: ImportFn, what: str) -> None:
        host = self.host
        study = host.study
        if study is None:
            return
        job = host.runner.submit("import", import_task, (study, run))
        job.progressed.connect(lambda p: host.show_status(
            f"{p.stage}: {p.done}/{p.total} {p.message}"))
        job.failed.connect(lambda msg: host.show_error(f"Import of {what} failed", msg))
        job.finished.connect(self._after_import)

    def _after_import(self, dataset_id: int | None) -> None:
        """Show the imported dataset."""
        if self.host.study is not None:
            self.host.set_dataset(dataset_id)

    def import_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.win, "Import texts", "", "Tables (*.csv *.tsv *.jsonl *.json *.parquet)")
        if path:
            self.import_file(path)

    def import_file(self, path: str) -> None:
        """Import a CSV/JSONL/Parquet table after asking which columns hold key and text
        (the columns are read in a worker first)."""
        if self.host.study is None:
            self.host.show_error("No study open", "Open or create a study first (File ▸ New "
                                 "study), then drop the file again.")
            return
        job = self.host.runner.submit("import-columns", columns_task, path)
        job.finished.connect(lambda cols: self._ask_columns(path, cols))
        job.failed.connect(lambda msg: self.host.show_error(
            f"Import of {Path(path).name} failed", msg))

    def _ask_columns(self, path: str, cols: list[str]) -> None:
        from monoscope.core.importers import ColumnMap, import_table

        guess = {"key": _guess(cols, ("key", "id", "book", "movie", "prompt", "item")),
                 "text": _guess(cols, ("text", "review", "body", "content", "solution"))}
        spec, ok = QInputDialog.getText(
            self.win, "Import texts",
            f"Columns: {', '.join(cols) or '?'}\nWhich columns hold the prompt key and the text? "
            "(roles: key, text, title, context, label, rating)",
            text=",".join(f"{k}={v}" for k, v in guess.items() if v))
        if not ok or not spec.strip():
            return
        try:
            mapping = ColumnMap.parse(spec)
        except Exception as exc:
            self.host.show_error("Import of " + Path(path).name + " failed", str(exc))
            return

        def run(study: Study, state: TaskState) -> ImportReport:
            return import_table(study, path, dataset=Path(path).stem, mapping=mapping,
                                state=state)

        self._start_import(run, Path(path).name)

    def new_run(self, model_path: str | None = None) -> None:
        """The run dialog, on the dataset shown and the prompt chosen (``model_path``: a
        .gguf file to pick, e.g. dropped on the window)."""
        host = self.host
        if host.study is None:
            host.show_error("No study open", "Open a study with a dataset before starting a run.")
            return
        from monoscope.ui.views.run_dialog import RunDialog

        key = self.state.prompt
        dlg = RunDialog(host.study, self.state.dataset_id, selected_keys=[key] if key else [],
                        parent=self.win, runner=host.runner)
        if model_path:
            dlg.add_model_file(model_path)
        accepted = dlg.exec()
        if dlg.wants_replication:
            self.replicate()
            return
        if accepted and dlg.spec is not None:
            host.start_run(dlg.spec)

    def export_plot_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.win, "Export plot", "map.png",
                                              "PNG image (*.png);;SVG image (*.svg)")
        if path:
            self.export_plot(path)

    def export_plot(self, path: str) -> Path | None:
        """Export the plot in front (the map, or the current extra view) to PNG or SVG."""
        from monoscope.core.errors import MonoscopeError

        try:
            return Path(self.host.current_view().export(path))
        except MonoscopeError as exc:
            self.host.show_error("Export failed", str(exc))
            return None

    def export_hists_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.win, "Export histograms (one file each)",
                                              "hist.png", "PNG image (*.png);;SVG image (*.svg)")
        if path:
            self.export_hists(path)

    def export_hists(self, path: str) -> list[Path]:
        """Write every histogram as <stem>-<attribute><suffix> next to ``path``."""
        from monoscope.core.errors import MonoscopeError

        p = Path(path)
        out = []
        try:
            for name in self.host.histogram_names():
                out.append(self.host.export_histogram(name, p.with_name(f"{p.stem}-{name}{p.suffix}")))
        except MonoscopeError as exc:
            self.host.show_error("Export failed", str(exc))
        return out

    def export_table_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.win, "Export table", "prompts.csv",
                                              "CSV (*.csv);;Parquet (*.parquet)")
        if path:
            self.export_table(path)

    def export_table(self, path: str) -> Path | None:
        """Write the prompt table to CSV or Parquet."""
        from monoscope.core.errors import MonoscopeError

        try:
            return self.host.export_prompt_table(path)
        except MonoscopeError as exc:
            self.host.show_error("Export failed", str(exc))
            return None

    def about(self) -> None:
        from monoscope.ui.about import AboutDialog

        AboutDialog(self.win).exec()

    # -- drag and drop -----------------------------------------------------------------------
    def handle_drop(self, path: str) -> str:
        """Do the obvious thing with a dropped file; returns what was done (for tests)."""
        p = Path(path)
        suffix = p.suffix.lower()
        if suffix == ".duckdb":
            self.host.open_study(p)
            return "open"
        if suffix == ".gguf":
            self.new_run(str(p))
            return "run"
        if suffix in TABLE_SUFFIXES:
            self.import_file(str(p))
            return "import"
        self.host.show_error("Unknown file", f"{p.name}: drop a study (.duckdb), a table of "
                             "texts (.csv, .jsonl, .parquet) or a model (.gguf).")
        return "unknown"

    def offer_demo(self) -> None:
        """First launch without a study: offer the demo."""
        box = QMessageBox(self.win)
        box.setWindowTitle("Welcome to Monoscope")
        box.setText("No study is open. Open the demo (films reviewed by critics, with the "
                    "bundled model) or open your own study?")
        demo = box.addButton("Open the demo", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Open a study…", QMessageBox.ButtonRole.ActionRole)
        box.addButton(QMessageBox.StandardButton.Close)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.exec()
        clicked = box.clickedButton()
        if clicked is demo:
            self.open_demo()
        elif clicked is not None and box.buttonRole(clicked) == QMessageBox.ButtonRole.ActionRole:
            self.open_dialog()


def _guess(cols: list[str], hints: tuple[str, ...]) -> str | None:
    low = {c.lower(): c for c in cols}
    for h in hints:
        for lc, c in low.items():
            if h in lc:
                return c
    return None
