"""Read queries behind the explorer's read models (`monoscope.core.explore`): datasets, runs,
prompt lists and counts, attribute values, texts and hover snippets.

Every function takes the open `Study`, reads on a cursor of the calling thread (safe in a
worker) and writes nothing. Map points live in `monoscope.core.store.projections`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from monoscope.core.store.frames import DEFAULT_BACKEND, DEFAULT_EMBEDDING, arrow
from monoscope.core.store.study import Study

F64 = npt.NDArray[np.float64]


# -- datasets and runs ---------------------------------------------------------------------
# -- prompts -------------------------------------------------------------------------------
def prompt_source_counts(study: Study, dataset_id: int) -> pa.Table:
    """One row per prompt (id, key, title, n_src = its source texts), by id."""
    return arrow(study, """
        SELECT p.id, p.key, p.title,
               count(t.id) FILTER (WHERE t.origin = 'source') AS n_src
        FROM prompts p LEFT JOIN texts t ON t.prompt_id = p.id
        WHERE p.dataset_id = ? GROUP BY ALL ORDER BY p.id""", [dataset_id])


def generated_counts(study: Study, dataset_id: int) -> list[dict[str, Any]]:
    """Generated texts per (prompt_id, run_id) of a dataset, as rows with ``n``."""
    return study.query(
        "SELECT t.prompt_id, t.run_id, count(*) AS n FROM texts t JOIN prompts p "
        "ON p.id = t.prompt_id WHERE p.dataset_id = ? AND t.origin = 'generated' GROUP BY ALL",
        [dataset_id],
    )


def prompt_measurements(study: Study, set_id: int, dataset_id: int, prompt_key: str | None
                        ) -> list[dict[str, Any]]:
    """Stored measurement rows of one prompt (or the dataset aggregates when None), without
    accumulation curves."""
    if prompt_key is None:
        return study.query(
            "SELECT grp, ref, attribute, stat, n, prompts, draws, value, sd, lo, hi "
            "FROM measurements WHERE set_id = ? AND prompt_id IS NULL "
            "AND ref NOT LIKE 'acc%'", [set_id])
    return study.query(
        "SELECT m.grp, m.ref, m.attribute, m.stat, m.n, m.prompts, m.draws, m.value, m.sd, "
        "m.lo, m.hi FROM measurements m JOIN prompts p ON p.id = m.prompt_id "
        "WHERE m.set_id = ? AND p.dataset_id = ? AND p.key = ? AND m.ref NOT LIKE 'acc%'",
        [set_id, dataset_id, prompt_key])


# -- attributes and embeddings -------------------------------------------------------------
def attribute_names(study: Study, dataset_id: int, with_value: bool = False) -> list[str]:
    """Attribute names present for the dataset's texts, sorted; ``with_value``: only those
    with a numeric value on some text."""
    extra = " AND a.value IS NOT NULL" if with_value else ""
    return [str(r["name"]) for r in study.query(
        "SELECT DISTINCT a.name FROM attributes a JOIN texts t ON t.id = a.text_id "
        f"JOIN prompts p ON p.id = t.prompt_id WHERE p.dataset_id = ?{extra} ORDER BY a.name",
        [dataset_id])]


def preferred_embedding(study: Study) -> tuple[str, str] | None:
    """(model, backend) of the embeddings to use: MiniLM/torch if present, else the most
    common pair in the study; None without embeddings."""
    rows = study.query(
        "SELECT model, backend, count(*) AS n FROM embeddings GROUP BY model, backend "
        "ORDER BY (model = ?) DESC, (backend = ?) DESC, n DESC LIMIT 1",
        [DEFAULT_EMBEDDING, DEFAULT_BACKEND],
    )
    return (str(rows[0]["model"]), str(rows[0]["backend"])) if rows else None


def attribute_rows(study: Study, name: str, first_text: int, last_text: int) -> pa.Table:
    """Rows (text_id, value, label) of one attribute for text ids in [first, last], by id."""
    return arrow(study, "SELECT text_id, value, label FROM attributes WHERE name = ? "
                 "AND text_id BETWEEN ? AND ? ORDER BY text_id", [name, first_text, last_text])


def attribute_rows_of(study: Study, names: Sequence[str], text_ids: Sequence[int]
                      ) -> pa.Table:
    """Rows (name, text_id, value, label) of several attributes for the given texts, by name
    and id, in one query (a prompt's map reads its histograms' values this way)."""
    if not names or not len(text_ids):
        return arrow(study, "SELECT name, text_id, value, label FROM attributes WHERE false")
    ids = [int(i) for i in text_ids]
    return arrow(study, "SELECT name, text_id, value, label FROM attributes "
                 "WHERE name IN (SELECT unnest(?)) AND text_id BETWEEN ? AND ? "
                 "AND text_id IN (SELECT unnest(?)) ORDER BY name, text_id",
                 [list(names), min(ids), max(ids), ids])


def group_attribute_values(study: Study, dataset_id: int, name: str, run_id: int | None,
                           prompt_key: str | None = None,
                           prompt_keys: Sequence[str] | None = None) -> F64:
    """Non-null values of one attribute for the source texts (``run_id`` None) or one run's
    texts of a dataset; optionally of one prompt, or only of ``prompt_keys``."""
    cond = "t.run_id IS NULL" if run_id is None else "t.run_id = ?"
    params: list[Any] = [dataset_id, name, *([] if run_id is None else [run_id])]
    sql = ("SELECT a.value FROM texts t JOIN prompts p ON p.id = t.prompt_id "
           "JOIN attributes a ON a.text_id = t.id WHERE p.dataset_id = ? AND a.name = ? "
           f"AND a.value IS NOT NULL AND {cond}")
    if prompt_key is not None:
        sql += " AND p.key = ?"
        params.append(prompt_key)
    elif prompt_keys is not None:
        sql += " AND p.key IN (SELECT unnest(?))"
        params.append(list(prompt_keys))
    rows = study.query(sql, params)
    return np.array([float(r["value"]) for r in rows], dtype=np.float64)


def topic_labels(study: Study, dataset_id: int) -> dict[int, str]:
    """Topic id -> label of the dataset's fitted topics."""
    return {int(r["topic"]): str(r["label"]) for r in study.query(
        "SELECT topic, label FROM topics WHERE dataset_id = ?", [dataset_id])}


# -- texts ---------------------------------------------------------------------------------
def text_head(study: Study, text_id: int, length: int) -> str | None:
    """The first ``length`` characters of a text's body (None when there is no such text)."""
    body = study.scalar("SELECT left(body, ?) FROM texts WHERE id = ?", [length, text_id])
    return None if body is None else str(body)


def text_heads(study: Study, text_ids: list[int], length: int) -> dict[int, str]:
    """The first ``length`` characters of several texts' bodies, by id, in one query."""
    if not text_ids:
        return {}
    return {int(r["id"]): str(r["head"]) for r in study.query(
        "SELECT id, left(body, ?) AS head FROM texts WHERE id IN (SELECT unnest(?))",
        [length, [int(i) for i in text_ids]])}


def source_texts_with_values(study: Study, dataset_id: int, prompt_key: str, name: str,
                             values: Sequence[float], length: int = 160
                             ) -> list[dict[str, Any]]:
    """The prompt's source texts whose attribute ``name`` has one of ``values`` (e.g. the
    texts of some topics): rows (text_id, value, head = the first ``length`` characters), by
    value then id."""
    if not values:
        return []
    return study.query(
        "SELECT t.id AS text_id, a.value, left(t.body, ?) AS head FROM texts t "
        "JOIN prompts p ON p.id = t.prompt_id JOIN attributes a ON a.text_id = t.id "
        "WHERE p.dataset_id = ? AND p.key = ? AND t.run_id IS NULL AND a.name = ? "
        "AND a.value IN (SELECT unnest(?)) ORDER BY a.value, t.id",
        [length + 1, dataset_id, prompt_key, name, [float(v) for v in values]])


def text_prompt(study: Study, text_id: int) -> int | None:
    """The prompt id of a text, None when there is no such text."""
    pid = study.scalar("SELECT prompt_id FROM texts WHERE id = ?", [text_id])
    return None if pid is None else int(pid)


def text_row(study: Study, text_id: int) -> dict[str, Any] | None:
    """A text in full with its prompt, run, model and generation record (raw JSON strings)."""
    rows = study.query("""
        SELECT t.id, t.origin, t.run_id, t.sample_index, t.body, t.label, t.rating,
               p.key AS prompt_key, p.title AS prompt_title, p.dataset_id,
               r.label AS run_label, r.sampling, r.template, r.engine, m.name AS model,
               g.seed, g.params, g.n_tokens, g.n_prompt_tokens, g.finish_reason,
               g.perplexity, g.mean_logprob, g.wall_ms
        FROM texts t JOIN prompts p ON p.id = t.prompt_id
        LEFT JOIN runs r ON r.id = t.run_id LEFT JOIN models m ON m.id = r.model_id
        LEFT JOIN generations g ON g.text_id = t.id WHERE t.id = ?""", [text_id])
    return rows[0] if rows else None


def text_attributes(study: Study, text_id: int) -> list[dict[str, Any]]:
    """Every attribute (name, value, label) of one text, by name."""
    return study.query("SELECT name, value, label FROM attributes WHERE text_id = ? "
                       "ORDER BY name", [text_id])
