"""Colours of the explorer: a neutral source colour, one colour and marker per run, light/dark
palettes. The colours and markers themselves are `monoscope.core.explore.palette`'s, the one
palette the report and exported figures use too."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPainter, QPalette, QPixmap

from monoscope.core.explore import palette
from monoscope.core.explore.palette import RGB, SOURCE_DARK, SOURCE_LIGHT

__all__ = ["RGB", "SOURCE_DARK", "SOURCE_LIGHT"]


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
    return palette.source_colour(is_dark())


def run_color(run_id: int) -> RGB:
    """A run's colour, keyed by run id so it is the same in every view and in the report."""
    return palette.run_colour(run_id)


def group_colors(run_ids: list[int]) -> list[RGB]:
    """Colours of group 0 (source) and of each run, in order."""
    return [source_color(), *(run_color(r) for r in run_ids)]


def group_symbols(run_ids: list[int]) -> list[str]:
    """Marker shapes (pyqtgraph symbols) of group 0 (source) and of each run, in order."""
    return [palette.SOURCE_MARKER, *(palette.run_marker(r) for r in run_ids)]


def selection_color() -> RGB:
    """The ring around the selected text: a colour no run and not the source uses."""
    return palette.SELECTION


def foreground() -> RGB:
    return (235, 235, 235) if is_dark() else (25, 25, 25)


def background() -> RGB:
    return (30, 30, 30) if is_dark() else (255, 255, 255)


def apply_plot_theme() -> None:
    """pyqtgraph defaults following the palette (call after the QApplication exists)."""
    import pyqtgraph as pg

    pg.setConfigOptions(antialias=True, background=background(), foreground=foreground())


def marker_icon(color: RGB, symbol: str, size: int = 12) -> QIcon:
    """A group's marker shape in its colour as a small icon (table headers, legends)."""
    from pyqtgraph.graphicsItems.ScatterPlotItem import Symbols

    pm = QPixmap(size, size)
    pm.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pm)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(QColor(*color))
    pen = painter.pen()
    pen.setColor(QColor(60, 60, 60))
    pen.setWidthF(1.0 / (size - 2))
    painter.setPen(pen)
    painter.translate(size / 2, size / 2)
    painter.scale(size - 2, size - 2)
    painter.drawPath(Symbols.get(symbol, Symbols["o"]))
    painter.end()
    return QIcon(pm)
