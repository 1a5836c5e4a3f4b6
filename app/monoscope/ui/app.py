"""QApplication start-up: the explorer window, or an offscreen screenshot for docs and tests."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise SystemExit(f"monoscope: error: --size {text!r} should look like 1400x900.") from None
    return max(400, w), max(300, h)


def run_gui(args: argparse.Namespace) -> int:
    if args.screenshot:
        os.environ["QT_QPA_PLATFORM"] = _offscreen_platform(*_size(args.size))
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
        win.remember_view = False  # as first opened; nothing written to the study
        win.resize(w, h)
        win.show()
        if not win.open_study(args.study):
            raise StudyError(f"Could not open {args.study}: {win.status.text()}")
        win.wait_idle(120)
        if args.prompt:
            win.show_prompt(args.prompt)
            win.wait_idle(120)
        view = args.view
        # a figure tab gets the width (the map's docks step aside)
        win.show_view(view if view in (*FIGURE_VIEWS, "inspector") else "map")
        dialog = None
        if view == "inspector":
            _inspect_first_generated(win)
        elif view == "selection":
            _select_generated(win)
        elif view == "search":
            win.show_search(getattr(args, "query", None) or "film")
        elif view == "run":
            dialog = _run_dialog(win)
        elif view == "import":
            dialog = _import_dialog(win, getattr(args, "file", None))
        win.wait_idle(120)
        for _ in range(3):
            app.processEvents()  # type: ignore[attr-defined]
        out = Path(args.screenshot)
        out.parent.mkdir(parents=True, exist_ok=True)
        shot = win.grab()
        if dialog is not None:
            _paint_dialog(shot, dialog)
            dialog.close()
        ok = shot.save(str(out))
        win.close()
        win.deleteLater()
    if not ok:
        raise StudyError(f"Could not write {out}. Choose another folder.")
    print(f"wrote {out} ({w}x{h})")
    return 0


FIGURE_VIEWS = ("map", "overview", "compare", "sweep", "accumulation", "hivemind", "likelihood")
# what `gui --screenshot --view` shows: the tabs, the inspector, the Selection and Search docks
# and the Run and Import dialogs (drawn over the window, centred, as on a screen of that size)
SCREENSHOT_VIEWS = (*FIGURE_VIEWS, "inspector", "selection", "search", "run", "import")


def _offscreen_platform(w: int, h: int) -> str:
    """Qt's offscreen platform with one screen of the screenshot's size (dialogs size
    themselves by the screen: 800×800 otherwise)."""
    import json

    conf = Path(tempfile.gettempdir()) / f"monoscope-offscreen-{w}x{h}.json"
    conf.write_text(json.dumps({"screens": [{"name": "shot", "x": 0, "y": 0, "width": w,
                                             "height": h, "logicalDpi": 96,
                                             "logicalBaseDpi": 96, "dpr": 1}]}))
    return f"offscreen:configfile={conf}"


def _select_generated(win: Any) -> None:
    """For --view selection: the prompt's generated texts selected, the Selection dock shown."""
    import numpy as np

    m = win.map
    ids = m.text_id[m.cloud.group > 0]
    win.state.select(np.asarray(ids), "generated texts", "replace")
    win.show_selection_table()


def _run_dialog(win: Any) -> Any:
    """For --view run: the Run dialog on the prompt shown, a mitigation preset chosen and its
    box scrolled into view."""
    from PySide6.QtWidgets import QScrollArea

    from monoscope.ui.views.run_dialog import RunDialog

    key = win.state.prompt
    dlg = RunDialog(win.study, win.state.dataset_id, selected_keys=[key] if key else [],
                    parent=win, runner=win.runner)
    dlg.set_mitigation("min-p")
    dlg.show()
    scroll = dlg.findChild(QScrollArea)
    if scroll is not None:
        scroll.ensureWidgetVisible(dlg.mitigation, 0, 200)
    return dlg


def _import_dialog(win: Any, path: str | None) -> Any:
    """For --view import: the import dialog on a table (--file)."""
    from monoscope.core.errors import StudyError

    if not path or not Path(path).is_file():
        raise StudyError("--view import needs --file TABLE (a CSV, JSONL or Parquet file).")
    dlg = win.actions_.import_file(path)
    win.wait_idle(120)
    return dlg


def _paint_dialog(shot: Any, dialog: Any) -> None:
    """Draw a dialog over the window's picture, centred (where a window manager puts it)."""
    from PySide6.QtGui import QPainter

    pic = dialog.grab()
    painter = QPainter(shot)
    painter.drawPixmap(max(0, (shot.width() - pic.width()) // 2),
                       max(0, (shot.height() - pic.height()) // 2), pic)
    painter.end()


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
