"""Start-up hygiene, the screenshot command and the PySide6 void-call regression, in subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HEAVY = ("torch", "sentence_transformers", "llama_cpp", "umap", "numba")


def _run(code: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HF_HUB_OFFLINE="1")
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout, env=env)


def test_heavy_libraries_stay_out_of_startup(fixture_study_file: Path, tmp_path: Path) -> None:
    import shutil

    study = tmp_path / "s.duckdb"
    shutil.copy(fixture_study_file, study)
    res = _run(f"""
        import sys
        heavy = {HEAVY!r}
        import monoscope.ui.main_window
        print("after-import", sorted(m for m in heavy if m in sys.modules))
        from PySide6.QtCore import QSettings
        from PySide6.QtWidgets import QApplication
        app = QApplication([])
        from monoscope.ui.main_window import MainWindow
        win = MainWindow(settings=QSettings({str(tmp_path / 's.ini')!r}, QSettings.Format.IniFormat))
        win.setProperty("quiet_errors", True)
        win.show()
        assert win.open_study({str(study)!r})
        assert win.wait_idle(60)
        win.prompts.select_key("book-002")
        assert win.wait_idle(60)
        assert len(win.map.text_id) == 70
        print("after-window", sorted(m for m in heavy if m in sys.modules))
        win.close()
    """)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "after-import []" in res.stdout
    assert "after-window []" in res.stdout


def test_many_void_qt_calls_do_not_abort() -> None:
    # PySide6 6.12.0 on Python 3.11 drops a reference to None per void call and aborts.
    res = _run("""
        import sys
        from PySide6.QtGui import QGuiApplication, QImage
        app = QGuiApplication([])
        img = QImage(4, 4, QImage.Format.Format_ARGB32)
        before = sys.getrefcount(None)
        for i in range(200_000):
            img.fill(i & 0xFF)
        print("ok", sys.getrefcount(None) >= before - 1000)
    """)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == "ok True"


@pytest.mark.parametrize("view", ["map", "inspector", "selection", "search", "run", "import"])
def test_screenshot_command(fixture_study_file: Path, tmp_path: Path, view: str) -> None:
    import shutil

    study = tmp_path / "s.duckdb"
    shutil.copy(fixture_study_file, study)
    table = tmp_path / "reviews.csv"  # what --view import reads
    table.write_text("book,review\nb1,A fine book.\nb1,Dull.\nb2,Loved it.\n")
    out = tmp_path / f"{view}.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HF_HUB_OFFLINE="1")
    res = subprocess.run(
        [sys.executable, "-m", "monoscope", "gui", "--study", str(study), "--screenshot",
         str(out), "--view", view, "--prompt", "book-007", "--size", "1200x800",
         "--file", str(table), "--query", "book"],
        capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    # a screenshot shows the study as first opened and writes nothing into it
    from monoscope.core.explore.view_state import load_view
    from monoscope.core.store import Study
    from monoscope.core.tasks import TaskState

    st = Study(study, read_only=True)
    try:
        assert load_view(st, TaskState()) is None
    finally:
        st.close()
    from PySide6.QtGui import QImage

    img = QImage(str(out))
    assert (img.width(), img.height()) == (1200, 800)
    # not a blank frame: many distinct colours
    colors = {img.pixel(x, y) for x in range(0, 1200, 7) for y in range(0, 800, 7)}
    assert len(colors) > 20


def test_screenshot_needs_a_study(tmp_path: Path) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    res = subprocess.run(
        [sys.executable, "-m", "monoscope", "gui", "--study", str(tmp_path / "nope.duckdb"),
         "--screenshot", str(tmp_path / "x.png")], capture_output=True, text=True, timeout=60,
        env=env)
    assert res.returncode == 1
    assert "No study at" in res.stderr and "Traceback" not in res.stderr
