"""Repository of 2-D maps (tables `projections` and `projection_points`).

The projection stage writes a fit and its points here; every reader of a map (the explorer,
the compare view, the report, the stage itself) reads points through `points`, joined with
their texts so that each point carries its run and prompt.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from monoscope.core.store.frames import arrow, column
from monoscope.core.store.study import Study

I64 = npt.NDArray[np.int64]
F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Fit:
    """A stored projection: its id and its parameters (fingerprint, n_fit, backend, ...)."""

    id: int
    params: dict[str, Any]


def fits(study: Study, dataset_id: int, scope: str, method: str, embedding: str) -> list[Fit]:
    """Stored projections of a scope with this method and embedding model, newest first."""
    rows = study.query(
        "SELECT id, params FROM projections WHERE dataset_id = ? AND scope = ? AND method = ? "
        "AND embedding = ? ORDER BY id DESC",
        [dataset_id, scope, method, embedding],
    )
    return [Fit(int(r["id"]), json.loads(r["params"]) if r["params"] else {}) for r in rows]


def newest(study: Study, dataset_id: int, scope: str, method: str | None = None
           ) -> tuple[int, str] | None:
    """(id, method) of the newest projection of a scope; UMAP before PCA unless ``method``."""
    rows = study.query(
        "SELECT id, method FROM projections WHERE dataset_id = ? AND scope = ? "
        + ("AND method = ? " if method else "")
        + "ORDER BY (method = 'umap') DESC, id DESC LIMIT 1",
        [dataset_id, scope, *([method] if method else [])],
    )
    return (int(rows[0]["id"]), str(rows[0]["method"])) if rows else None


def create(study: Study, dataset_id: int, scope: str, method: str, params: dict[str, Any],
           embedding: str) -> int:
    """Store a new (empty) projection and return its id."""
    with study.transaction() as cur:
        cur.execute(
            "INSERT INTO projections (dataset_id, scope, method, params, embedding) "
            "VALUES (?, ?, ?, ?, ?) RETURNING id",
            [dataset_id, scope, method, json.dumps(params), embedding],
        )
        row = cur.fetchone()
    assert row is not None
    return int(row[0])


def write_points(study: Study, projection_id: int, text_ids: I64, xy: F32) -> None:
    """Store (or replace) the coordinates of some texts in a projection, in one transaction."""
    tab = pa.table({
        "projection_id": pa.array(np.full(text_ids.size, projection_id, dtype=np.int64)),
        "text_id": pa.array(text_ids),
        "x": pa.array(xy[:, 0].astype(np.float32)),
        "y": pa.array(xy[:, 1].astype(np.float32)),
    })
    with study.transaction() as cur:
        cur.register("_new_points", tab)
        cur.execute(
            "INSERT OR REPLACE INTO projection_points SELECT projection_id, text_id, x, y "
            "FROM _new_points"
        )
        cur.unregister("_new_points")


def delete(study: Study, projection_ids: Sequence[int]) -> None:
    """Drop projections and their points, in one transaction."""
    if not projection_ids:
        return
    marks = ", ".join("?" for _ in projection_ids)
    with study.transaction() as cur:
        cur.execute(f"DELETE FROM projection_points WHERE projection_id IN ({marks})",
                    list(projection_ids))
        cur.execute(f"DELETE FROM projections WHERE id IN ({marks})", list(projection_ids))


@dataclass
class MapPoints:
    """The points of one projection joined with their texts, aligned by position (ordered by
    text id)."""

    projection_id: int
    text_id: I64
    x: F32
    y: F32
    run_id: I64  # -1 for texts without a run (the source)
    is_source: npt.NDArray[np.bool_]
    prompt_id: I64

    def __len__(self) -> int:
        return int(self.text_id.size)


def points(study: Study, projection_id: int, prompt_key: str | None = None) -> MapPoints:
    """Every point of a projection (or only those of one prompt of its dataset), by text id.
    The one reader of `projection_points`."""
    sql = ("SELECT pp.text_id, pp.x, pp.y, coalesce(t.run_id, -1) AS run_id, "
           "t.origin = 'source' AS is_source, t.prompt_id "
           "FROM projection_points pp JOIN texts t ON t.id = pp.text_id "
           "WHERE pp.projection_id = ?")
    params: list[Any] = [projection_id]
    if prompt_key is not None:
        sql += (" AND t.prompt_id = (SELECT p.id FROM prompts p JOIN projections j "
                "ON j.dataset_id = p.dataset_id WHERE j.id = ? AND p.key = ?)")
        params += [projection_id, prompt_key]
    tab = arrow(study, sql + " ORDER BY pp.text_id", params)
    return MapPoints(
        projection_id=projection_id,
        text_id=column(tab, "text_id", np.int64),
        x=column(tab, "x", np.float64).astype(np.float32),
        y=column(tab, "y", np.float64).astype(np.float32),
        run_id=column(tab, "run_id", np.int64),
        is_source=np.asarray(column(tab, "is_source"), dtype=bool),
        prompt_id=column(tab, "prompt_id", np.int64),
    )
