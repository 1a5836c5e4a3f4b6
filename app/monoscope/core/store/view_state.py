"""The `view_state` table: named JSON documents the explorer saves with the study."""

from __future__ import annotations

import json
from typing import Any

from monoscope.core.store.study import Study


def save(study: Study, name: str, value: dict[str, Any]) -> None:
    """Store ``value`` under ``name`` (replacing what was there)."""
    with study.transaction() as cur:
        cur.execute("INSERT OR REPLACE INTO view_state (name, value, saved_at) "
                    "VALUES (?, ?, current_timestamp)", [name, json.dumps(value)])


def load(study: Study, name: str) -> dict[str, Any] | None:
    """The document stored under ``name``; None when there is none (or it is not an object)."""
    raw = study.scalar("SELECT value FROM view_state WHERE name = ?", [name])
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
