"""What the window's menus and dialogs need of the explorer window (`WindowHost`).

`WindowActions` and the replication dialog work through this structural type, so they never
import the window (the window satisfies it, and gives them its `ExplorerState` to read).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QDockWidget

from monoscope.core.store import Study
from monoscope.ui.views.base import FigureView
from monoscope.ui.views.run_spec import RunSpec
from monoscope.ui.workers import TaskRunner


class WindowHost(Protocol):
    """The explorer window as its commands see it."""

    @property
    def study(self) -> Study | None:
        """The open study (None before one is opened)."""

    @property
    def runner(self) -> TaskRunner:
        """The window's task runner (every read runs through it)."""

    @property
    def settings(self) -> QSettings:
        """Where recent studies and the layout are remembered."""

    def open_study(self, path: str | Path, create: bool = False) -> bool:
        """Open (or create) a study; False (after saying why) when it cannot be opened."""

    def set_dataset(self, dataset_id: int | None) -> None:
        """Show a dataset of the open study (None: its first)."""

    def refresh(self) -> None:
        """Reload the prompt table and every view."""

    def reload_map(self) -> None:
        """Load the current prompt's map again (a new map was stored)."""

    def show_view(self, name: str) -> None:
        """Bring a view to the front (map, overview, compare, sweep, accumulation, inspector,
        runs)."""

    def show_status(self, text: str) -> None:
        """A line in the status bar."""

    def show_error(self, title: str, message: str) -> None:
        """A dialog with what went wrong and what to do."""

    def start_run(self, spec: RunSpec) -> None:
        """Start generating the runs of a spec in the runs panel."""

    def focus_filter(self) -> None:
        """Put the cursor in the prompt filter."""

    def reset_zoom(self) -> None:
        """Fit the map to its points."""

    def current_view(self) -> FigureView:
        """The view in front (the map for the Map tab)."""

    def histogram_names(self) -> list[str]:
        """The attributes with a histogram beside the map."""

    def export_histogram(self, name: str, path: str | Path) -> Path:
        """Write one attribute's histogram to PNG or SVG."""

    def export_prompt_table(self, path: str | Path) -> Path:
        """Write the prompt table to CSV or Parquet."""

    def docks(self) -> list[QDockWidget]:
        """The window's docks (the View menu toggles them)."""
