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
