"""Repository of the `datasets` and `prompts` tables: what a study holds, by name and key."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from monoscope.core.errors import StudyError
from monoscope.core.store.study import Study


@dataclass(frozen=True)
class Dataset:
    """One row of `datasets`: id, name, kind ('text' or 'code'), import metadata, prompts."""

    id: int
    name: str
    kind: str
    meta: dict[str, Any] = field(default_factory=dict)
    n_prompts: int = 0


@dataclass(frozen=True)
class Prompt:
    """One row of `prompts`: id, key, title and the optional context (e.g. a problem statement)."""

    id: int
    key: str
    title: str
    context: str | None = None


def _meta(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw) if raw else {}
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def datasets(study: Study) -> list[Dataset]:
    """Every dataset of the study with its number of prompts, oldest first."""
    rows = study.query(
        "SELECT d.id, d.name, d.kind, d.meta, count(p.id) AS n_prompts FROM datasets d "
        "LEFT JOIN prompts p ON p.dataset_id = d.id GROUP BY ALL ORDER BY d.id")
    return [Dataset(int(r["id"]), str(r["name"]), str(r["kind"]), _meta(r["meta"]),
                    int(r["n_prompts"])) for r in rows]


def dataset(study: Study, dataset_id: int) -> Dataset:
    """One dataset by id (`StudyError` when there is none)."""
    for d in datasets(study):
        if d.id == dataset_id:
            return d
    raise StudyError(f"No dataset with id {dataset_id} in {study.path}.")


def find(study: Study, name: str) -> Dataset | None:
    """The dataset called ``name``; None when there is none (`Study.dataset_id` raises)."""
    return next((d for d in datasets(study) if d.name == name), None)


def prompts(study: Study, dataset_id: int, limit: int | None = None) -> list[Prompt]:
    """A dataset's prompts in import order (the first ``limit`` when given)."""
    rows = study.query(
        "SELECT id, key, title, context FROM prompts WHERE dataset_id = ? ORDER BY id"
        + ("" if limit is None else f" LIMIT {int(limit)}"), [dataset_id])
    return [Prompt(int(r["id"]), str(r["key"]), str(r["title"]),
                   None if r["context"] is None else str(r["context"])) for r in rows]


def prompt_id(study: Study, dataset_id: int, key: str) -> int | None:
    """The id of a dataset's prompt by its key; None when there is none."""
    pid = study.scalar("SELECT id FROM prompts WHERE dataset_id = ? AND key = ?",
                       [dataset_id, key])
    return None if pid is None else int(pid)


def prompt_count(study: Study, dataset_id: int) -> int:
    """Number of prompts of a dataset."""
    return int(study.scalar("SELECT count(*) FROM prompts WHERE dataset_id = ?", [dataset_id]))
