"""QApplication start-up (placeholder window until the explorer lands)."""

from __future__ import annotations

import argparse
import os
import sys


def run_gui(args: argparse.Namespace) -> int:
    if args.screenshot:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    elif not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY") \
            and os.environ.get("QT_QPA_PLATFORM") is None:
        print("monoscope: no display found; use `monoscope gui --screenshot OUT.png` headless, "
              "or run with a display.", file=sys.stderr)
        return 1
    from PySide6.QtWidgets import QApplication, QLabel, QMainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    win = QMainWindow()
    win.setWindowTitle("Monoscope")
    win.setCentralWidget(QLabel("Monoscope"))
    w, h = (int(v) for v in args.size.split("x"))
    win.resize(w, h)
    if args.screenshot:
        win.show()
        app.processEvents()
        win.grab().save(args.screenshot)
        return 0
    win.show()
    return int(app.exec())
