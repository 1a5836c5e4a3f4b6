"""Cyclic garbage collection on the GUI thread only.

Python's automatic collector runs in whichever thread happens to allocate; if that is a worker
thread and the cycle holds a QObject, shiboken destroys the QObject there while the GUI thread
may hold a Qt lock it needs: the window freezes (issue 11's hang). The explorer therefore turns
automatic collection off and collects from a GUI-thread timer instead, with the interpreter's
own generation thresholds.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer


class GuiThreadCollector(QObject):
    """Collects garbage on the GUI thread every ``interval_ms`` when the counts call for it."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = 500) -> None:
        super().__init__(parent)
        self.thresholds = gc.get_threshold()
        self._was_enabled = gc.isenabled()
        gc.disable()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.check)
        self.timer.start(interval_ms)

    def check(self) -> int:
        """Collect the generations whose allocation counts passed their threshold."""
        t0, t1, t2 = self.thresholds
        c0, c1, c2 = gc.get_count()
        found = 0
        if c0 > t0:
            found += gc.collect(0)
            if c1 > t1:
                found += gc.collect(1)
                if c2 > t2:
                    found += gc.collect(2)
        return found

    def stop(self) -> None:
        """Stop the timer, collect once more here, and give the interpreter its collector back."""
        self.timer.stop()
        gc.collect()
        if self._was_enabled:
            gc.enable()
