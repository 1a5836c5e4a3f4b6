"""Repository of embedding vectors (table `embeddings`), keyed by content hash, model and backend.

Identical texts share one vector; each row records the model and the backend that produced it.
Vectors travel as float32 numpy matrices (rows aligned with the hashes or text ids asked for),
read and written through Arrow.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from monoscope.core.store.frames import column, matrix
from monoscope.core.store.study import Study

Matrix = npt.NDArray[np.float32]


def pending(study: Study, dataset_id: int, model: str, backend: str) -> list[tuple[str, str]]:
    """(content_hash, body) of the dataset's texts without a vector from this model and backend.

    Ordered by length so every batch pads to a similar length (less wasted compute).
    """
    with study.reader() as cur:
        rows = cur.execute(
            """SELECT t.content_hash, any_value(t.body)
               FROM texts t JOIN prompts p ON p.id = t.prompt_id
               WHERE p.dataset_id = ? AND NOT EXISTS (
                   SELECT 1 FROM embeddings e WHERE e.content_hash = t.content_hash
                   AND e.model = ? AND e.backend = ?)
               GROUP BY t.content_hash ORDER BY length(any_value(t.body)), min(t.id)""",
            [dataset_id, model, backend],
        ).fetchall()
    return [(r[0], r[1]) for r in rows]


def count_embedded(study: Study, dataset_id: int, model: str, backend: str) -> int:
    """Number of the dataset's texts that have a vector from this model and backend."""
    return int(study.scalar(
        "SELECT count(*) FROM texts t JOIN prompts p ON p.id = t.prompt_id "
        "WHERE p.dataset_id = ? AND EXISTS (SELECT 1 FROM embeddings e WHERE "
        "e.content_hash = t.content_hash AND e.model = ? AND e.backend = ?)",
        [dataset_id, model, backend]))


def write(study: Study, hashes: Sequence[str], vectors: Matrix, model: str, backend: str,
          server: str | None = None) -> None:
    """Insert or replace vectors (rows aligned with hashes) in one transaction; ``server``:
    the inference server that made them (None: computed in process)."""
    dim = int(vectors.shape[1])
    flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).ravel())
    offsets = pa.array(np.arange(0, (len(hashes) + 1) * dim, dim, dtype=np.int32))
    table = pa.table({"content_hash": pa.array(list(hashes), type=pa.string()),
                      "vector": pa.ListArray.from_arrays(offsets, flat)})
    with study.transaction() as cur:
        cur.register("_vec_rows", table)
        cur.execute(
            "INSERT OR REPLACE INTO embeddings (content_hash, model, backend, dim, vector) "
            "SELECT content_hash, ?, ?, ?, vector FROM _vec_rows",
            [model, backend, dim],
        )
        if server is not None:
            cur.execute(
                "INSERT OR REPLACE INTO embedding_servers (content_hash, model, backend, server) "
                "SELECT content_hash, ?, ?, ? FROM _vec_rows", [model, backend, server])
        cur.unregister("_vec_rows")


def text_vectors(
    study: Study,
    model: str,
    backend: str,
    dataset_id: int | None = None,
    text_ids: Sequence[int] | None = None,
    origin: str | None = None,
) -> tuple[npt.NDArray[np.int64], Matrix]:
    """(text ids, float32 matrix) of embedded texts, ids ascending; texts without a vector are
    left out. Filter by dataset, explicit text ids and/or origin ('source' / 'generated').
    With no rows the matrix is (0, 0)."""
    where = ["e.model = ?", "e.backend = ?"]
    params: list[Any] = [model, backend]
    if dataset_id is not None:
        where.append("t.prompt_id IN (SELECT id FROM prompts WHERE dataset_id = ?)")
        params.append(dataset_id)
    if origin is not None:
        where.append("t.origin = ?")
        params.append(origin)
    if text_ids is not None:
        where.append("t.id IN (SELECT unnest(?::BIGINT[]))")
        params.append([int(i) for i in text_ids])
    sql = ("SELECT t.id, e.vector FROM texts t JOIN embeddings e ON e.content_hash = "
           f"t.content_hash WHERE {' AND '.join(where)} ORDER BY t.id")
    with study.reader() as cur:
        table: Any = cur.sql(sql, params=params).to_arrow_table()
    return column(table, "id", np.int64), matrix(table, "vector")


def by_hash(study: Study, hashes: Sequence[str], model: str, backend: str) -> dict[str, Matrix]:
    """content_hash -> vector for those of ``hashes`` that have one from this model and backend."""
    with study.reader() as cur:
        table: Any = cur.sql(
            "SELECT content_hash, vector FROM embeddings WHERE model = ? AND backend = ? "
            "AND content_hash IN (SELECT unnest(?::VARCHAR[]))",
            params=[model, backend, list(hashes)],
        ).to_arrow_table()
    if not table.num_rows:
        return {}
    return dict(zip(table.column("content_hash").to_pylist(), matrix(table, "vector"),
                    strict=True))


def most_common(study: Study, dataset_id: int, prefer_model: str, prefer_backend: str
                ) -> tuple[str, str] | None:
    """(model, backend) of the dataset's vectors: the preferred pair when present (the model
    first), else the pair with the most of its texts' vectors; None when it has no vectors."""
    rows = study.query(
        "SELECT e.model, e.backend, count(*) AS n FROM embeddings e WHERE e.content_hash IN "
        "(SELECT t.content_hash FROM texts t JOIN prompts p ON p.id = t.prompt_id "
        "WHERE p.dataset_id = ?) GROUP BY e.model, e.backend ORDER BY (e.model = ?) DESC, "
        "(e.backend = ?) "
        "DESC, n DESC LIMIT 1", [dataset_id, prefer_model, prefer_backend])
    return (str(rows[0]["model"]), str(rows[0]["backend"])) if rows else None


def vector_kinds(study: Study) -> list[dict[str, Any]]:
    """The study's stored vector families: model, backend, dim, vectors and the servers that
    made them (a server-made family lists its URLs), largest first."""
    return study.query(
        "SELECT e.model, e.backend, e.dim, count(*) AS n, list(DISTINCT s.server ORDER BY "
        "s.server) FILTER (WHERE s.server IS NOT NULL) AS servers FROM embeddings e "
        "LEFT JOIN embedding_servers s USING (content_hash, model, backend) "
        "GROUP BY e.model, e.backend, e.dim ORDER BY n DESC, e.model, e.backend")
