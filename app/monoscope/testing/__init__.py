"""Helpers for tests and benchmarks; left out of the wheel and the bundle."""

from __future__ import annotations

from typing import Any

from monoscope.core.store import Study


def raw_connection(study: Study) -> Any:
    """The study's root DuckDB connection, for tests that set up or damage a study on purpose
    with SQL of their own. The application never does this: it calls the store's repositories."""
    return study._root
