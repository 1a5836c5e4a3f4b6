"""Small study builders shared by the attribute tests (real DuckDB file, plain SQL inserts)."""

from __future__ import annotations

from collections.abc import Sequence

from monoscope.core.store import Study, content_hash
from monoscope.testing import raw_connection


def add_dataset(study: Study, name: str = "films", kind: str = "text") -> int:
    return int(raw_connection(study).execute(
        "INSERT INTO datasets (name, kind) VALUES (?, ?) RETURNING id", [name, kind]
    ).fetchone()[0])  # type: ignore[index]


def add_prompt(study: Study, dataset_id: int, key: str) -> int:
    return int(raw_connection(study).execute(
        "INSERT INTO prompts (dataset_id, key, title) VALUES (?, ?, ?) RETURNING id",
        [dataset_id, key, key.title()],
    ).fetchone()[0])  # type: ignore[index]


def add_texts(study: Study, prompt_id: int, bodies: Sequence[str], origin: str = "source") -> list[int]:
    ids = []
    for i, body in enumerate(bodies):
        row = raw_connection(study).execute(
            "INSERT INTO texts (prompt_id, origin, run_id, sample_index, body, content_hash) "
            "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            [prompt_id, origin, None if origin == "source" else 1, i, body, content_hash(body)],
        ).fetchone()
        ids.append(int(row[0]))  # type: ignore[index]
    return ids


def attribute_rows(study: Study, name: str) -> dict[int, tuple[float | None, str | None, str]]:
    rows = raw_connection(study).execute(
        "SELECT text_id, value, label, version FROM attributes WHERE name = ?", [name]
    ).fetchall()
    return {int(r[0]): (r[1], r[2], r[3]) for r in rows}
