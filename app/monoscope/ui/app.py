"""QApplication start-up: the explorer window, or an offscreen screenshot for docs and tests."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise SystemExit(f"monoscope: error: --size {text!r} should look like 1400x900.") from None
    return max(400, w), max(300, h)


def run_gui(args: argparse.Namespace) -> int:
    if args.screenshot:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    elif not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY") \
            and os.environ.get("QT_QPA_PLATFORM") is None:
        print("monoscope: no display found; use `monoscope gui --screenshot OUT.png` headless, "
              "or run with a display.", file=sys.stderr)
        return 1
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    from monoscope.ui.collector import GuiThreadCollector

    collector = GuiThreadCollector(app)  # no cyclic GC on worker threads (see collector.py)
    app.aboutToQuit.connect(collector.stop)
    app.setApplicationName("Monoscope")
    app.setOrganizationName("Monoscope")
    app.setDesktopFileName("monoscope")
    _set_icon(app)
    from monoscope.ui.main_window import MainWindow

    if args.screenshot:
        return screenshot(args, app)
    win = MainWindow(settings=QSettings("Monoscope", "Monoscope"))
    study = args.study or win.settings.value("study/last", "")
    if study and Path(str(study)).exists():
        win.open_study(str(study))
        if args.prompt:
            win.show_prompt(args.prompt)
        win.show_view(args.view)
    win.show()
    if win.study is None:
        from PySide6.QtCore import QTimer

        QTimer.singleShot(200, win.actions_.offer_demo)
    return int(app.exec())


def screenshot(args: argparse.Namespace, app: object) -> int:
    """Open the study in a window with throw-away settings, wait for its loads, save a PNG."""
    from PySide6.QtCore import QSettings

    from monoscope.core.errors import StudyError
    from monoscope.ui.main_window import MainWindow

    if not args.study:
        raise StudyError("--screenshot needs --study PATH (the study to show).")
    if not Path(args.study).exists():
        raise StudyError(f"No study at {args.study}. Check the path.")
    w, h = _size(args.size)
    with tempfile.TemporaryDirectory() as tmp:
        settings = QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat)
        win = MainWindow(settings=settings)
        win.setProperty("quiet_errors", True)
        win.resize(w, h)
        win.show()
        if not win.open_study(args.study):
            raise StudyError(f"Could not open {args.study}: {win.status.text()}")
        win.wait_idle(120)
        if args.prompt:
            win.show_prompt(args.prompt)
            win.wait_idle(120)
        win.show_view(args.view)
        if args.view in ("overview", "compare", "sweep", "accumulation", "likelihood"):
            win.dock_hists.hide()
            win.dock_inspector.hide()
        if args.view == "inspector":
            _inspect_first_generated(win)
        win.wait_idle(120)
        for _ in range(3):
            app.processEvents()  # type: ignore[attr-defined]
        out = Path(args.screenshot)
        out.parent.mkdir(parents=True, exist_ok=True)
        ok = win.grab().save(str(out))
        win.close()
        win.deleteLater()
    if not ok:
        raise StudyError(f"Could not write {out}. Choose another folder.")
    print(f"wrote {out} ({w}x{h})")
    return 0


def _inspect_first_generated(win: object) -> None:
    """For --view inspector: open the prompt's most atypical generated text."""
    import numpy as np

    m = win.map  # type: ignore[attr-defined]
    gen = np.flatnonzero(m.cloud.group > 0)
    if len(gen):
        m.select_index(int(gen[0]))


def _set_icon(app: object) -> None:
    """Window icon from resources/icons (absent in odd installs: then Qt's default)."""
    from PySide6.QtGui import QIcon

    from monoscope.core.assets import resources_dir
    from monoscope.core.errors import AssetMissing

    try:
        icon = resources_dir() / "icons" / "monoscope.svg"
    except AssetMissing:
        return
    if icon.is_file():
        app.setWindowIcon(QIcon(str(icon)))  # type: ignore[attr-defined]
