"""Qt fixtures: a fixture study file built once per session and a real main window on it."""

from __future__ import annotations

import gc
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from window_helper import new_window


@pytest.fixture(autouse=True)
def _gc_on_the_gui_thread() -> Iterator[None]:
    """No automatic cyclic GC during a test: a collection on a worker thread could finalise a
    QObject there and deadlock against the GUI thread (docs: FINDINGS, issue 11). Collect on
    the main thread afterwards, once deferred deletes have run."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        from PySide6.QtCore import QCoreApplication, QEvent

        app = QCoreApplication.instance()
        if app is not None:
            for w in _top_level_closed():
                w.deleteLater()
            QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
            app.processEvents()
        gc.collect()
        if was:
            gc.enable()


def _top_level_closed() -> list[Any]:
    from PySide6.QtWidgets import QApplication

    if QApplication.instance() is None:
        return []
    # only our own windows and views, closed by the test (never Qt's internal top-levels)
    return [w for w in QApplication.topLevelWidgets() if not w.isVisible()
            and w.parent() is None and type(w).__module__.startswith("monoscope.")]


@pytest.fixture(scope="session")
def fixture_study_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic study (20 prompts, 2 runs) written through the real schema, once."""
    from monoscope.testing.fixture_study import build_fixture_study

    path = Path(tmp_path_factory.mktemp("fixture")) / "fixture.duckdb"
    build_fixture_study(path).close()
    return path


@pytest.fixture
def study_copy(fixture_study_file: Path, tmp_path: Path) -> Path:
    """A private copy (the window holds the writer lock of the file it opens)."""
    dst = tmp_path / "study.duckdb"
    shutil.copy(fixture_study_file, dst)
    return dst


@pytest.fixture
def settings(tmp_path: Path) -> Any:
    """QSettings in a temporary ini file, so tests never touch the user's settings."""
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(qtbot: Any, study_copy: Path, settings: Any) -> Iterator[Any]:
    """The real main window on a copy of the fixture study, loaded and idle."""
    win = new_window(qtbot, settings, study_copy, wait_s=60)
    yield win
    win.close()
    assert not win.runner.busy()
