"""What the window needs of its views: structural types, so any widget with these methods fits.

`StudyView`: a view that shows one dataset of a study and reloads on request (the figure tabs
and the runs panel). `FigureView`: a view whose figure can be written to PNG or SVG (the map
and the figure tabs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from monoscope.core.store import Study


class StudyView(Protocol):
    """A view of one dataset of a study."""

    def set_study(self, study: Study | None, dataset_id: int | None = None) -> None:
        """Show a study (None clears); its first dataset unless one is given."""

    def refresh(self) -> None:
        """Reload from the study (after a run, or F5)."""


class FigureView(Protocol):
    """A view whose figure can be exported."""

    def export(self, path: str | Path) -> Path:
        """Write the figure to PNG or SVG (chosen by the extension); returns the file."""
        ...
