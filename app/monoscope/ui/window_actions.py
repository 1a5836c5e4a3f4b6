"""Menus, toolbar, shortcuts, recent studies, drag-and-drop, imports and exports of the window.

`WindowActions` works on the window through `WindowHost` (what the commands need of it) and
reads the window's `ExplorerState` (the dataset and prompt a new run starts from, the map's
scope); it never imports the window. Imports, the reads of a dropped table and the stages
run in the window's `TaskRunner`.

The first run in the window: an import (the import dialog, or the demo) is followed by the map
chain (embeddings, then the dataset map: its PCA map is shown as soon as it is stored, the UMAP
map replaces it), then by the other attributes and the measurements; Run ▸ Annotate / Project
/ Measure run one stage (`monoscope.core.pipeline.run_chain`) on the pipeline lane under the
key ``pipeline:<step>``, its models in a helper process that ends with it
(`monoscope.ui.pipeline.run_chain_in_helper`). A status-bar row shows their progress with one Cancel, and the window
refreshes everything when a chain ends.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMenu, QMessageBox

from monoscope.core.errors import MonoscopeError
from monoscope.core.explore.state import ExplorerState
from monoscope.core.pipeline import Annotate, Project, Stage, StepResult
from monoscope.core.store import Study
from monoscope.core.store import datasets as datasets_repo
from monoscope.core.store import runs as runs_repo
from monoscope.core.tasks import TaskState
from monoscope.ui.host import WindowHost
from monoscope.ui.pipeline import WindowMeasure, run_chain_in_helper
from monoscope.ui.views.chain_progress import ChainProgress
from monoscope.ui.views.import_dialog import ImportDialog, ImportFn, ImportOutcome, import_task

if TYPE_CHECKING:
    from monoscope.core.importers.common import ImportReport
    from monoscope.ui.workers import Job

MAX_RECENT = 8
TABLE_SUFFIXES = {".csv", ".tsv", ".jsonl", ".json", ".parquet", ".gz", ".bz2"}
DEMO_FILE = "demo.duckdb"

# The window's chains by name: what each computes, and its title in the status bar.
CHAINS: dict[str, tuple[str, ...]] = {
    "map": ("embedding", "dataset map"),  # what the map needs, after an import
    "describe": ("annotate", "measure"),  # the other attributes and the numbers, after the map
    "annotate": ("annotate",),
    "project": ("project",),
    "measure": ("measure",),
}
TITLES = {"map": "Embeddings and map", "describe": "Attributes and measurements",
          "annotate": "Annotate", "project": "Project", "measure": "Measure"}


def demo_path() -> Path:
    """Where the demo study lives: ``demo.duckdb`` in the user data folder
    (`monoscope.core.assets.data_dir`, ``MONOSCOPE_DATA_DIR`` overrides), beside the bundled
    models and data. It is its own study file, built once (the films demo imported, then its
    embeddings, map, attributes and measurements, each resumable) and opened as it is after
    that; it is never imported into the study that is open."""
    from monoscope.core.assets import data_dir

    return data_dir() / DEMO_FILE


def chain_stages(name: str) -> list[Stage]:
    """The stages of one of the window's chains (`CHAINS`)."""
    made: dict[str, Stage] = {
        "embedding": Annotate(attributes=["embedding"]),
        "dataset map": Project(scopes=("dataset",)),
        "annotate": Annotate(),
        "project": Project(),  # the dataset map + the maps of the prompts with runs
        "measure": WindowMeasure(),
    }
    return [made[s] for s in CHAINS[name]]


@dataclass
class WindowChain:
    """One of the window's chains on a dataset of the study (by id; None: the first)."""

    study: Study
    dataset_id: int | None
    name: str


def window_chain_task(req: WindowChain, state: TaskState) -> list[StepResult]:
    """Task: run a chain on the dataset; per-prompt maps only for the prompts with runs (the
    dataset map, fitted on the human texts, serves every other prompt)."""
    found = datasets_repo.datasets(req.study)
    ds = next((d for d in found if d.id == req.dataset_id), found[0] if found else None)
    if ds is None:
        raise MonoscopeError("The study holds no dataset yet: import a table of texts first "
                             "(File ▸ Import texts…).")
    keys = runs_repo.generated_prompt_keys(req.study, ds.id)
    return run_chain_in_helper(req.study, chain_stages(req.name), state, dataset=ds.name,
                               prompt_keys=keys)  # no model stays loaded in the window


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
        run.addSeparator()
        self._act(run, "annotate", "&Annotate texts (attributes, embeddings)", None,
                  lambda: self.run_chain("annotate"))
        self._act(run, "project", "&Project (maps)", None, lambda: self.run_chain("project"))
        self._act(run, "measure", "&Measure", None, lambda: self.run_chain("measure"))
        self._act(run, "cancel_chains", "&Cancel computations", None, self.cancel_chains)
        help_menu = mb.addMenu("&Help")
        self._act(help_menu, "about", "&About Monoscope", None, self.about)
        tb = win.addToolBar("Main")
        tb.setObjectName("toolbar-main")
        for name in ("open", "refresh", "new_run", "export_plot"):
            tb.addAction(self.actions[name])
        self.progress = ChainProgress(win)
        win.statusBar().addPermanentWidget(self.progress)
        self.import_dlg: ImportDialog | None = None
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

    def open_demo(self) -> Job | None:
        """Open the demo study (`demo_path`), closing the open study untouched; the first
        time, import the films demo into it, then compute its map, attributes and numbers."""
        from monoscope.core.importers import import_demo

        host = self.host
        path = demo_path()
        if host.study is None or host.study.path.resolve() != path.resolve():
            path.parent.mkdir(parents=True, exist_ok=True)
            if not host.open_study(path, create=True):
                return None

        def run(study: Study, state: TaskState) -> ImportReport:
            return import_demo(study, "films", state)

        return self._start_import(run, "the demo")

    def _start_import(self, run: ImportFn, what: str) -> Job | None:
        host = self.host
        study = host.study
        if study is None:
            return None
        job = host.runner.submit("import", import_task, (study, run))
        job.failed.connect(lambda msg: host.show_error(f"Import of {what} failed", msg))
        job.finished.connect(self._after_import)
        self.progress.track(job, f"Importing {what}")
        return job

    def _after_import(self, outcome: ImportOutcome) -> None:
        """Show the imported dataset, then compute what its map needs (embeddings, then the
        dataset map), then its other attributes and measurements."""
        host = self.host
        if host.study is None or outcome.dataset_id is None:
            return
        host.set_dataset(outcome.dataset_id)
        if outcome.report is not None and not outcome.report.already_present:
            host.show_status(f"Imported {outcome.report.texts:,} texts of "
                             f"{outcome.report.prompts:,} prompts as {outcome.dataset!r}.")
        self.run_chain("map", outcome.dataset_id, then="describe")

    def run_chain(self, name: str, dataset_id: int | None = None,
                  then: str | None = None) -> Job | None:
        """Run one of the window's chains (`CHAINS`) on a dataset (None: the one shown) in
        the pipeline lane, with progress and Cancel in the status bar; ``then`` names the
        chain that follows when this one finishes. Every view is refreshed at the end; a
        new dataset map is shown as soon as it is stored."""
        host = self.host
        study = host.study
        if study is None:
            host.show_error("No study open", "Open a study with a dataset first.")
            return None
        ds = dataset_id if dataset_id is not None else self.state.dataset_id
        job = host.runner.submit(f"pipeline:{name}", window_chain_task,
                                 WindowChain(study, ds, name))
        job.partial.connect(self._chain_partial)
        job.failed.connect(lambda msg: host.show_error(f"{TITLES[name]} failed", msg))
        job.cancelled.connect(lambda: host.show_status(f"{TITLES[name]} cancelled."))
        job.finished.connect(lambda _r: self._chain_done(study, ds, then))
        self.progress.track(job, TITLES[name])
        return job

    def _chain_partial(self, obj: Any) -> None:
        from monoscope.core.analysis.projection import ProjectionMap

        if isinstance(obj, ProjectionMap) and (
                obj.scope == "dataset" or obj.scope == f"prompt:{self.state.prompt}"):
            self.host.reload_map()  # a PCA map at once, the UMAP map when it is ready

    def _chain_done(self, study: Study, dataset_id: int | None, then: str | None) -> None:
        if self.host.study is not study:
            return
        self.host.refresh()
        if then is not None:
            self.run_chain(then, dataset_id)

    def cancel_chains(self) -> None:
        """Cancel the window's running and waiting chains (finished parts are kept)."""
        self.progress.cancel()

    def import_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.win, "Import texts", "", "Tables (*.csv *.tsv *.jsonl *.json *.parquet)")
        if path:
            self.import_file(path)

    def import_file(self, path: str) -> ImportDialog | None:
        """The import dialog for a CSV/JSONL/Parquet table (columns, guessed mapping,
        preview, report); the import is followed by the map chain."""
        host = self.host
        if host.study is None:
            host.show_error("No study open", "Open or create a study first (File ▸ New "
                            "study), then drop the file again.")
            return None
        if self.import_dlg is not None:
            self.import_dlg.close()
        dlg = ImportDialog(host.study, path, host.runner, parent=self.win)
        dlg.imported.connect(self._after_import)
        dlg.open()
        self.import_dlg = dlg
        return dlg

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

