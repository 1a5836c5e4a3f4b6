"""Menus, toolbar, shortcuts, recent studies, drag-and-drop, imports and exports of the window."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMenu, QMessageBox

from monoscope.core.tasks import TaskState

if TYPE_CHECKING:
    from monoscope.ui.main_window import MainWindow

MAX_RECENT = 8
TABLE_SUFFIXES = {".csv", ".tsv", ".jsonl", ".json", ".parquet", ".gz", ".bz2"}


class WindowActions:
    """Builds the menu bar and toolbar of a MainWindow and implements their commands."""

    def __init__(self, win: MainWindow) -> None:
        self.win = win
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
        self._act(view, "refresh", "&Refresh", QKeySequence("F5"), win.refresh)
        self._act(view, "filter", "&Filter prompts", QKeySequence("Ctrl+F"), self.focus_filter)
        self._act(view, "reset", "Reset map &zoom", QKeySequence("Home"), win.map.reset_view)
        self._act(view, "whole", "&Whole dataset map", QKeySequence("Ctrl+D"),
                  lambda: win.whole.toggle())
        view.addSeparator()
        for dock in (win.dock_prompts, win.dock_hists, win.dock_inspector, win.dock_runs):
            if dock is not None:
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

        open_replicate_dialog(self.win)

    def _act(self, menu: QMenu, name: str, text: str, key: Any, slot: Any) -> QAction:
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
        value = self.win.settings.value("study/recent", [])
        items = [value] if isinstance(value, str) else list(value or [])
        return [str(p) for p in items if p]

    def remember(self, path: str) -> None:
        items = [path, *(p for p in self.recent() if p != path)][:MAX_RECENT]
        self.win.settings.setValue("study/recent", items)
        self._fill_recent()

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for p in self.recent():
            a = self.recent_menu.addAction(p)
            a.triggered.connect(lambda _=False, path=p: self.win.open_study(path))
        self.recent_menu.setEnabled(bool(self.recent()))

    # -- commands ------------------------------------------------------------------------
    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.win, "Open study", "",
                                              "Monoscope study (*.duckdb);;All files (*)")
        if path:
            self.win.open_study(path)

    def new_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.win, "New study", "study.duckdb",
                                              "Monoscope study (*.duckdb)")
        if path:
            self.win.open_study(path, create=True)

    def focus_filter(self) -> None:
        self.win.dock_prompts.show()
        self.win.dock_prompts.raise_()
        self.win.prompts.filter.setFocus()
        self.win.prompts.filter.selectAll()

    def open_demo(self) -> None:
        """Import the films demo into the open study (or a new one in the data folder)."""
        win = self.win
        from monoscope.core.importers import import_demo

        if win.study is None:
            from monoscope.core.assets import data_dir

            if not win.open_study(data_dir() / "demo.duckdb", create=True):
                return
        st = win.study
        assert st is not None

        def run(_: Any, state: TaskState) -> Any:
            return import_demo(st, "films", state)

        self._start_import(run, "demo")

    def _start_import(self, fn: Any, what: str) -> None:
        win = self.win
        job = win.runner.submit("import", fn)
        job.progressed.connect(lambda p: win.status.setText(
            f"{p.stage}: {p.done}/{p.total} {p.message}"))
        job.failed.connect(lambda msg: win.show_error(f"Import of {what} failed", msg))
        job.finished.connect(self._after_import)

    def _after_import(self, report: Any = None) -> None:
        """Show the imported dataset."""
        win = self.win
        if win.study is None:
            return
        name = getattr(report, "dataset", None)
        ds = win.study.scalar("SELECT id FROM datasets WHERE name = ?", [name]) if name else None
        win.set_dataset(int(ds) if ds is not None else None)

    def import_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.win, "Import texts", "", "Tables (*.csv *.tsv *.jsonl *.json *.parquet)")
        if path:
            self.import_file(path)

    def import_file(self, path: str) -> None:
        """Import a CSV/JSONL/Parquet table after asking which columns hold key and text."""
        win = self.win
        if win.study is None:
            win.show_error("No study open", "Open or create a study first (File ▸ New study), "
                           "then drop the file again.")
            return
        from monoscope.core.importers import ColumnMap, import_table

        cols = self._columns(path)
        guess = {"key": _guess(cols, ("key", "id", "book", "movie", "prompt", "item")),
                 "text": _guess(cols, ("text", "review", "body", "content", "solution"))}
        spec, ok = QInputDialog.getText(
            win, "Import texts",
            f"Columns: {', '.join(cols) or '?'}\nWhich columns hold the prompt key and the text? "
            "(roles: key, text, title, context, label, rating)",
            text=",".join(f"{k}={v}" for k, v in guess.items() if v))
        if not ok or not spec.strip():
            return
        st = win.study
        try:
            mapping = ColumnMap.parse(spec)
        except Exception as exc:
            win.show_error("Import of " + Path(path).name + " failed", str(exc))
            return

        def run(_: Any, state: TaskState) -> Any:
            return import_table(st, path, dataset=Path(path).stem, mapping=mapping, state=state)

        self._start_import(run, Path(path).name)

    def _columns(self, path: str) -> list[str]:
        import duckdb

        try:
            con = duckdb.connect()
            rel = con.sql(f"SELECT * FROM '{path.replace(chr(39), chr(39) * 2)}' LIMIT 0")
            cols = list(rel.columns)
            con.close()
            return cols
        except duckdb.Error:
            return []

    def new_run(self, model_path: str | None = None) -> None:
        win = self.win
        if win.study is None:
            win.show_error("No study open", "Open a study with a dataset before starting a run.")
            return
        from monoscope.ui.views.run_dialog import RunDialog

        key = win.prompts.current_key()
        dlg = RunDialog(win.study, win.dataset_id, selected_keys=[key] if key else [],
                        parent=win)
        if model_path and hasattr(dlg, "add_model_file"):
            dlg.add_model_file(model_path)
        accepted = dlg.exec()
        if getattr(dlg, "wants_replication", False):
            self.replicate()
            return
        if accepted and getattr(dlg, "spec", None) is not None:
            panel = win.extra_views.get("runs")
            if panel is not None and hasattr(panel, "start"):
                win.show_view("runs")
                panel.start(dlg.spec)
            else:
                win.show_error("Run not started", "The runs panel is not available in this "
                               "build; start the run with `monoscope generate`.")

    def export_plot_dialog(self) -> None:
        win = self.win
        path, _ = QFileDialog.getSaveFileName(win, "Export plot", "map.png",
                                              "PNG image (*.png);;SVG image (*.svg)")
        if path:
            self.export_plot(path)

    def export_plot(self, path: str) -> Path | None:
        """Export the plot in front (the map, or the current extra view) to PNG or SVG."""
        from monoscope.core.errors import MonoscopeError

        win = self.win
        view = win.current_view()
        try:
            return Path(view.export(path))
        except MonoscopeError as exc:
            win.show_error("Export failed", str(exc))
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
            for name in self.win.hists.hists:
                out.append(self.win.hists.export(name, p.with_name(f"{p.stem}-{name}{p.suffix}")))
        except MonoscopeError as exc:
            self.win.show_error("Export failed", str(exc))
        return out

    def export_table_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.win, "Export table", "prompts.csv",
                                              "CSV (*.csv);;Parquet (*.parquet)")
        if path:
            self.export_table(path)

    def export_table(self, path: str) -> Path | None:
        from monoscope.core.errors import MonoscopeError
        from monoscope.ui.views.prompts import export_table

        try:
            return export_table(self.win.prompts.model, path)
        except MonoscopeError as exc:
            self.win.show_error("Export failed", str(exc))
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
            self.win.open_study(p)
            return "open"
        if suffix == ".gguf":
            self.new_run(str(p))
            return "run"
        if suffix in TABLE_SUFFIXES:
            self.import_file(str(p))
            return "import"
        self.win.show_error("Unknown file", f"{p.name}: drop a study (.duckdb), a table of texts "
                            "(.csv, .jsonl, .parquet) or a model (.gguf).")
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
