"""Colours of the explorer: a neutral source colour, one colour per run, light/dark palettes."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QPalette

RGB = tuple[int, int, int]

SOURCE_LIGHT: RGB = (120, 120, 120)
SOURCE_DARK: RGB = (165, 165, 165)


def is_dark() -> bool:
    """True when the system (or the app palette) is dark."""
    app = QGuiApplication.instance()
    if app is None:
        return False
    if QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark:
        return True
    window = QGuiApplication.palette().color(QPalette.ColorRole.Window)
    return window.lightness() < 110


def source_color() -> RGB:
    return SOURCE_DARK if is_dark() else SOURCE_LIGHT


def run_color(run_id: int) -> RGB:
    """A run's colour, keyed by run id so it is the same in every view (see figure_common)."""
    from monoscope.ui.views.figure_common import group_color

    r, g, b, _ = group_color(f"run:{run_id}")
    return (r, g, b)


def group_colors(run_ids: list[int]) -> list[RGB]:
    """Colours of group 0 (source) and of each run, in order."""
    return [source_color(), *(run_color(r) for r in run_ids)]


def foreground() -> RGB:
    return (235, 235, 235) if is_dark() else (25, 25, 25)


def background() -> RGB:
    return (30, 30, 30) if is_dark() else (255, 255, 255)


def apply_plot_theme() -> None:
    """pyqtgraph defaults following the palette (call after the QApplication exists)."""
    import pyqtgraph as pg

    pg.setConfigOptions(antialias=True, background=background(), foreground=foreground())
