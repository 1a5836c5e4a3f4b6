"""Palettes follow the system: a dark application palette gives dark plots and light ink."""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtGui import QColor, QGuiApplication, QPalette

from monoscope.ui import theme


def test_dark_palette_is_followed(qtbot: Any) -> None:
    app = QGuiApplication.instance()
    old = QGuiApplication.palette()
    try:
        dark = QPalette()
        dark.setColor(QPalette.ColorRole.Window, QColor(30, 30, 30))
        dark.setColor(QPalette.ColorRole.WindowText, QColor(230, 230, 230))
        app.setPalette(dark)
        assert theme.is_dark()
        theme.apply_plot_theme()
        assert pg.getConfigOption("background") == theme.background() == (30, 30, 30)
        assert sum(theme.foreground()) > 600 and sum(theme.source_color()) > 400
        light = QPalette()
        light.setColor(QPalette.ColorRole.Window, QColor(245, 245, 245))
        app.setPalette(light)
        scheme = QGuiApplication.styleHints().colorScheme()
        if scheme != scheme.Dark:  # the platform itself is not in dark mode
            assert not theme.is_dark()
            theme.apply_plot_theme()
            assert pg.getConfigOption("background") == (255, 255, 255)
    finally:
        app.setPalette(old)
        theme.apply_plot_theme()


def test_run_colours_are_stable_and_distinct() -> None:
    cols = theme.group_colors([1, 2, 3])
    assert len(set(cols)) == 4 and cols[1] == theme.run_color(1)
    assert theme.group_colors([2])[1] == cols[2]  # a run keeps its colour in every view
