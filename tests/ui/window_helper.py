"""The real main window as the UI tests open it (one place instead of one copy per test file)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def new_window(qtbot: Any, settings: Any, study: Path | None = None, *,
               size: tuple[int, int] | None = (1400, 900), wait_s: float = 120) -> Any:
    """A `MainWindow` on ``settings`` with ``quiet_errors`` set, owned by ``qtbot`` and shown
    (at ``size``, or the window's own size with None); with ``study``, opened on it and
    idle."""
    from monoscope.ui.main_window import MainWindow

    win = MainWindow(settings=settings)
    win.setProperty("quiet_errors", True)
    qtbot.addWidget(win)
    if size is not None:
        win.resize(*size)
    win.show()
    if study is not None:
        assert win.open_study(study)
        assert win.wait_idle(wait_s)
    return win
