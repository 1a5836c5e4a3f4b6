"""Shared test set-up: offline, offscreen, and a fresh study per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from monoscope.core.store import Study
from monoscope.core.tasks import TaskState


@pytest.fixture
def study_path(tmp_path: Path) -> Path:
    return tmp_path / "study.duckdb"


@pytest.fixture
def study(study_path: Path) -> Iterator[Study]:
    st = Study(study_path)
    yield st
    st.close()


@pytest.fixture
def state() -> TaskState:
    return TaskState()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter,
                            config: pytest.Config) -> None:
    """The random order's seed, also under ``-q`` (which hides pytest-randomly's header)."""
    if not config.pluginmanager.hasplugin("randomly"):
        return
    seed = getattr(config.option, "randomly_seed", None)
    if isinstance(seed, int):
        terminalreporter.write_line(
            f"random test order: seed {seed} (repeat it with --randomly-seed={seed}; "
            "-p no:randomly runs in file order)")
