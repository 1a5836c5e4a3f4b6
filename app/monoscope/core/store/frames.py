"""Columnar reads for the analysis stages: texts, attributes and embedding matrices via Arrow.

Projection and measurement work on whole datasets at once; reading rows as Python tuples would
dominate their run time, so every loader here runs one query and hands back numpy arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from monoscope.core.errors import MonoscopeError
from monoscope.core.store import Study

DEFAULT_EMBEDDING = "all-MiniLM-L6-v2"
DEFAULT_BACKEND = "torch"

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class AnalysisInputMissing(MonoscopeError):
    """A stage needs annotations (embeddings, attributes) that the study does not hold yet."""


def arrow(study: Study, sql: str, params: Sequence[Any] | None = None) -> Any:
    """Run a read query on a fresh cursor and return a pyarrow Table."""
    with study.reader() as cur:
        return cur.sql(sql, params=list(params or [])).to_arrow_table()


def column(table: Any, name: str, dtype: Any = None) -> npt.NDArray[Any]:
    """One Arrow column as numpy; NULLs become NaN for floats and -1 for integer ids."""
    col = table.column(name).combine_chunks()
    if dtype is np.float64:
        return np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64)
    if dtype is np.int64:
        return np.asarray(col.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)
    return np.asarray(col.to_numpy(zero_copy_only=False))


def matrix(table: Any, name: str = "vector") -> npt.NDArray[np.float32]:
    """A list<float> Arrow column as an (n, d) float32 matrix (all rows share one d)."""
    col = table.column(name).combine_chunks()
    n = len(col)
    if n == 0:
        return np.zeros((0, 0), dtype=np.float32)
    flat = np.asarray(col.flatten().to_numpy(zero_copy_only=False), dtype=np.float32)
    return flat.reshape(n, flat.size // n)


@dataclass
class TextFrame:
    """Texts of one dataset (optionally one prompt): ids, prompt, origin, run and perplexity."""

    text_id: IntArray
    prompt_id: IntArray
    run_id: IntArray  # -1 for source texts
    is_source: npt.NDArray[np.bool_]
    perplexity: FloatArray  # NaN for source texts and generations without one
    content_hash: npt.NDArray[Any]

    def __len__(self) -> int:
        return int(self.text_id.size)


def _scope_clause(prompt_id: int | None) -> tuple[str, list[Any]]:
    return ("AND t.prompt_id = ?", [prompt_id]) if prompt_id is not None else ("", [])


def load_texts(study: Study, dataset_id: int, prompt_id: int | None = None) -> TextFrame:
    """Every text of the dataset (or prompt), ordered by id."""
    extra, params = _scope_clause(prompt_id)
    tab = arrow(
        study,
        f"""SELECT t.id, t.prompt_id, t.run_id, t.origin = 'source' AS is_source,
                   g.perplexity, t.content_hash
            FROM texts t JOIN prompts p ON p.id = t.prompt_id
            LEFT JOIN generations g ON g.text_id = t.id
            WHERE p.dataset_id = ? {extra} ORDER BY t.id""",
        [dataset_id, *params],
    )
    return TextFrame(
        text_id=column(tab, "id", np.int64),
        prompt_id=column(tab, "prompt_id", np.int64),
        run_id=column(tab, "run_id", np.int64),
        is_source=np.asarray(column(tab, "is_source"), dtype=bool),
        perplexity=column(tab, "perplexity", np.float64),
        content_hash=column(tab, "content_hash"),
    )


def _embedding_rows(study: Study, model: str, backend: str, dataset_id: int | None,
                    prompt_id: int | None) -> Any:
    """Arrow rows (id, run_id or -1, vector) of the texts of a dataset and/or prompt that have
    an embedding, ordered by text id."""
    where, params = [], []
    if dataset_id is not None:
        where.append("p.dataset_id = ?")
        params.append(dataset_id)
    if prompt_id is not None:
        where.append("t.prompt_id = ?")
        params.append(prompt_id)
    return arrow(
        study,
        f"""SELECT t.id, coalesce(t.run_id, -1) AS run_id, e.vector
            FROM texts t JOIN prompts p ON p.id = t.prompt_id
            JOIN embeddings e ON e.content_hash = t.content_hash
                 AND e.model = ? AND e.backend = ?
            WHERE {' AND '.join(where) or 'true'} ORDER BY t.id""",
        [model, backend, *params],
    )


def load_embeddings(
    study: Study,
    dataset_id: int,
    prompt_id: int | None = None,
    model: str = DEFAULT_EMBEDDING,
    backend: str = DEFAULT_BACKEND,
) -> tuple[IntArray, npt.NDArray[np.float32]]:
    """(text ids, vectors) of the dataset's texts that have an embedding, ordered by text id."""
    tab = _embedding_rows(study, model, backend, dataset_id, prompt_id)
    return column(tab, "id", np.int64), matrix(tab, "vector")


def load_prompt_vectors(study: Study, prompt_id: int, model: str, backend: str
                        ) -> tuple[IntArray, IntArray, npt.NDArray[np.float32]]:
    """(text ids, run id or -1, vectors) of one prompt's texts that have an embedding."""
    tab = _embedding_rows(study, model, backend, None, prompt_id)
    return column(tab, "id", np.int64), column(tab, "run_id", np.int64), matrix(tab, "vector")


@dataclass
class AttributeFrame:
    """Rows of `attributes` for one dataset: text id, attribute name, value, label."""

    text_id: IntArray
    name: npt.NDArray[Any]
    value: FloatArray
    label: npt.NDArray[Any]  # object array; None where the attribute has no label


def load_attributes(
    study: Study, dataset_id: int, names: Sequence[str] | None = None
) -> AttributeFrame:
    """All attribute rows of the dataset's texts (optionally only the given names)."""
    where, params = "", []
    if names:
        where = f"AND a.name IN ({', '.join('?' for _ in names)})"
        params = list(names)
    tab = arrow(
        study,
        f"""SELECT a.text_id, a.name, a.value, a.label
            FROM attributes a JOIN texts t ON t.id = a.text_id
            JOIN prompts p ON p.id = t.prompt_id
            WHERE p.dataset_id = ? {where} ORDER BY a.name, a.text_id""",
        [dataset_id, *params],
    )
    label = tab.column("label").combine_chunks().to_pylist()
    return AttributeFrame(
        text_id=column(tab, "text_id", np.int64),
        name=np.asarray(tab.column("name").combine_chunks().to_pylist(), dtype=object),
        value=column(tab, "value", np.float64),
        label=np.asarray(label, dtype=object),
    )


def resolve_dataset(study: Study, name: str | None) -> tuple[int, str]:
    """The dataset's id and name; with no name, the study's only dataset."""
    if name:
        return study.dataset_id(name), name
    from monoscope.core.store.datasets import datasets

    rows = datasets(study)
    if len(rows) == 1:
        return rows[0].id, rows[0].name
    if not rows:
        raise AnalysisInputMissing(
            f"{study.path} holds no dataset yet: import one with `monoscope import` or "
            "`monoscope demo`."
        )
    names = ", ".join(r.name for r in rows)
    raise AnalysisInputMissing(f"{study.path} holds several datasets ({names}): pick one with --dataset.")
