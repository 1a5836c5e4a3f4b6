"""A copy of a study that an older Monoscope (a benchmark's baseline revision) can open.

Migrations only add tables, so a study of today's schema opens in an older version once the
tables of the migrations that version does not know are dropped and their rows removed from
`schema_migrations`. Used by the benchmarks that time today's window against a baseline
revision on the same study; the baseline's copy is the only file changed. `open_window` is
how those benchmarks' children open the window (either version's code, whichever is on the
path)."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import duckdb


def known_versions(app_dir: Path) -> set[int]:
    """Migration numbers a version of the app (its ``app`` folder) ships."""
    return {int(p.name.split("_", 1)[0])
            for p in app_dir.glob("monoscope/**/migrations/*.sql")}


def baseline_copy(study: Path, dst: Path, today_app: Path, baseline_app: Path) -> Path:
    """Copy ``study`` to ``dst`` without the tables of migrations the baseline lacks."""
    shutil.copy(study, dst)
    newer = sorted(known_versions(today_app) - known_versions(baseline_app))
    if not newer:
        return dst
    con = duckdb.connect(str(dst))
    try:
        for sql_file in sorted(today_app.glob("monoscope/**/migrations/*.sql")):
            if int(sql_file.name.split("_", 1)[0]) not in newer:
                continue
            for table in re.findall(r"CREATE TABLE\s+(?:IF NOT EXISTS\s+)?(\w+)",
                                    sql_file.read_text(), flags=re.IGNORECASE):
                con.execute(f"DROP TABLE IF EXISTS {table}")
        con.execute("DELETE FROM schema_migrations WHERE version IN (SELECT unnest(?))",
                    [newer])
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return dst


def open_window(study: str) -> tuple[Any, Any]:
    """(QApplication, MainWindow) on ``study``: offscreen, throw-away settings, 1400 x 900,
    shown and idle after the study opened."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from monoscope.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    tmp = tempfile.mkdtemp()
    win = MainWindow(settings=QSettings(str(Path(tmp) / "s.ini"), QSettings.Format.IniFormat))
    win.setProperty("quiet_errors", True)
    win.resize(1400, 900)
    win.show()
    assert win.open_study(study)
    assert win.wait_idle(300)
    return app, win
