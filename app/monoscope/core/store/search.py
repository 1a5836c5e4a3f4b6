"""Repository of the explorer's search reads: full-text matches ranked by BM25, and the rows
(prompt, group, snippet) that list texts found or selected.

Full text is a scan of `texts.body` in DuckDB SQL (no index table to keep current): a cheap
substring prefilter (`contains(lower(body), term)`, any term), then the candidates' bodies are
split into words and the query's terms counted. A word is a maximal run of letters, digits and
underscores (RE2 ``[\\pL\\pN_]+`` on the lower-cased body, like Python's ``\\w+``); a text
matches when it holds every term as a word. Scores are Okapi BM25 (k1, b) with document length
in characters and the collection = the texts in scope. The choice and its timings:
`docs/architecture.md` (Search) and `benchmarks/search.py`.

Every function reads on a cursor of the calling thread (safe in a worker) and writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from monoscope.core.store.frames import arrow, column
from monoscope.core.store.study import Study

WORD_SPLIT = r"[^\pL\pN_]+"  # RE2: what separates words (see the module docstring)


def _scope(dataset_id: int, prompt_id: int | None) -> tuple[str, list[Any]]:
    sql = ("SELECT t.id, t.body FROM texts t JOIN prompts p ON p.id = t.prompt_id "
           "WHERE p.dataset_id = ?")
    params: list[Any] = [dataset_id]
    if prompt_id is not None:
        sql += " AND t.prompt_id = ?"
        params.append(prompt_id)
    return sql, params


def text_matches(study: Study, dataset_id: int, prompt_id: int | None, terms: Sequence[str],
                 k1: float = 1.2, b: float = 0.75
                 ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """(text ids, BM25 scores) of the texts in scope (a dataset, or one of its prompts) that
    hold every one of ``terms`` (lower-case words) as a word; best first, ties by id."""
    terms = list(dict.fromkeys(terms))
    if not terms:
        return np.zeros(0, np.int64), np.zeros(0, np.float64)
    scope_sql, params = _scope(dataset_id, prompt_id)
    any_term = " OR ".join("contains(lower(body), ?)" for _ in terms)
    sql = f"""
        WITH scope AS ({scope_sql}),
        stats AS (SELECT count(*) AS n, greatest(avg(length(body)), 1) AS avgdl FROM scope),
        cand AS (SELECT id, length(body) AS dl, lower(body) AS low FROM scope
                 WHERE {any_term}),
        words AS (SELECT id, dl, unnest(regexp_split_to_array(low, '{WORD_SPLIT}')) AS w
                  FROM cand),
        tf AS (SELECT id, dl, w, count(*) AS tf FROM words
               WHERE w IN (SELECT unnest(?::VARCHAR[])) GROUP BY ALL),
        df AS (SELECT w, count(*) AS df FROM tf GROUP BY w)
        SELECT tf.id, sum(ln(1 + (s.n - df.df + 0.5) / (df.df + 0.5))
                          * tf.tf * (? + 1) / (tf.tf + ? * (1 - ? + ? * tf.dl / s.avgdl)))
                      AS score
        FROM tf JOIN df USING (w) CROSS JOIN stats s
        GROUP BY tf.id HAVING count(*) = ?
        ORDER BY score DESC, tf.id"""
    table = arrow(study, sql, [*params, *terms, terms, k1, k1, b, b, len(terms)])
    return column(table, "id", np.int64), column(table, "score", np.float64)


def text_rows(study: Study, text_ids: Sequence[int], snippet_chars: int = 200,
              near: str | None = None) -> list[dict[str, Any]]:
    """One row per text id (in the order given; unknown ids left out): id, prompt_key,
    prompt_title, origin, run_id, run_label and a snippet of ``snippet_chars`` characters,
    starting a little before the first occurrence of ``near`` (lower case) when the body
    holds it, else at the start."""
    ids = [int(i) for i in text_ids]
    if not ids:
        return []
    rows = study.query(
        """WITH wanted AS (SELECT unnest(?::BIGINT[]) AS id, generate_subscripts(?::BIGINT[], 1)
                           AS pos),
           found AS (SELECT w.pos, t.*, greatest(1, strpos(lower(t.body), ?) - ?) AS start
                     FROM wanted w JOIN texts t ON t.id = w.id)
           SELECT f.id, p.key AS prompt_key, p.title AS prompt_title, f.origin, f.run_id,
                  r.label AS run_label, substr(f.body, f.start, ?) AS snippet,
                  f.start > 1 AS cut_before, f.start + ? <= length(f.body) AS cut_after
           FROM found f JOIN prompts p ON p.id = f.prompt_id
           LEFT JOIN runs r ON r.id = f.run_id ORDER BY f.pos""",
        [ids, ids, near or "", snippet_chars // 4, snippet_chars, snippet_chars])
    return rows


def scope_vectors(study: Study, dataset_id: int, prompt_id: int | None, model: str,
                  backend: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """(text ids, vectors) of the texts in scope that have a vector from this model and
    backend, by text id."""
    from monoscope.core.store.frames import load_embeddings

    return load_embeddings(study, dataset_id, prompt_id, model, backend)
