"""Repository of topic fits (table `topics`) and their assignments (`attributes` rows).

A fit is one row per topic of a dataset (label, number of source texts, version). The fit and
the source texts' assignments are written in ONE transaction, so a crash leaves both or neither
(tests/core/test_topic_crash.py); dropping a fit drops its assignments with it.

The topic model a study uses (`kmeans` or `bertopic`) is remembered in `study_meta` under
`topics.model`; which model produced a stored fit is read from its version (`bertopic-…` or
k-means' plain number).
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from monoscope.core.store import attributes as attributes_repo
from monoscope.core.store.attributes import Value
from monoscope.core.store.study import Study

TOPIC_MODELS = ("kmeans", "bertopic")
MODEL_KEY = "topics.model"


def model_of_version(version: str) -> str:
    """The topic model that wrote a fit of this version (`bertopic-1/torch` → bertopic)."""
    return "bertopic" if version.startswith("bertopic") else "kmeans"


def chosen_model(study: Study) -> str:
    """The study's topic model: the one stored with `choose_model`, else k-means."""
    name = study.get_meta(MODEL_KEY)
    return str(name) if name in TOPIC_MODELS else "kmeans"


def choose_model(study: Study, name: str) -> None:
    """Remember the study's topic model (the next annotate refits when it changed)."""
    if name not in TOPIC_MODELS:
        raise ValueError(f"unknown topic model {name!r}; one of {', '.join(TOPIC_MODELS)}")
    study.set_meta(MODEL_KEY, name)


def fitted(study: Study) -> dict[int, tuple[str, int]]:
    """Per dataset id with a stored fit: (topic model that fitted it, number of topics)."""
    rows = study.query("SELECT dataset_id, min(version) AS version, count(*) AS k FROM topics "
                       "GROUP BY dataset_id")
    return {int(r["dataset_id"]): (model_of_version(str(r["version"])), int(r["k"])) for r in rows}


def labels(study: Study, dataset_id: int, version: str) -> list[str]:
    """The stored fit's topic labels at `version`, by topic id (empty when there is none)."""
    rows = study.query("SELECT topic, label FROM topics WHERE dataset_id = ? "
                       "AND version = ? ORDER BY topic", [dataset_id, version])
    return [str(r["label"]) for r in rows]


def save_fit(study: Study, dataset_id: int, name: str, version: str, words: Sequence[str],
             sizes: Sequence[int], rows: Sequence[tuple[int, Value]]) -> None:
    """Replace the dataset's fit: topics (label, size per topic id) and the source texts'
    assignments (attribute `name`), in one transaction."""
    with study.transaction() as cur:
        _delete_fit(cur, dataset_id, name)
        cur.executemany("INSERT INTO topics (dataset_id, topic, label, size, version) "
                        "VALUES (?, ?, ?, ?, ?)",
                        [[dataset_id, c, words[c], int(sizes[c]), version]
                         for c in range(len(words))])
        attributes_repo.insert_rows(cur, name, version, rows)


def drop_fit(study: Study, dataset_id: int, name: str) -> None:
    """Delete the dataset's fit and every assignment (attribute `name`), in one transaction."""
    with study.transaction() as cur:
        _delete_fit(cur, dataset_id, name)


def _delete_fit(cur: duckdb.DuckDBPyConnection, dataset_id: int, name: str) -> None:
    cur.execute("DELETE FROM topics WHERE dataset_id = ?", [dataset_id])
    # an older fit's assignments no longer match new clusters
    attributes_repo.delete_rows(cur, dataset_id, name)


def fit_counts(study: Study, dataset_id: int, name: str, version: str
               ) -> list[tuple[int, int, int]]:
    """Per stored topic at `version`: (topic, stored size, source texts assigned to it)."""
    rows = study.query(
        """SELECT tp.topic, tp.size, count(a.text_id) AS n
           FROM topics tp LEFT JOIN (
               SELECT a.text_id, CAST(a.value AS INTEGER) AS topic FROM attributes a
               JOIN texts t ON t.id = a.text_id JOIN prompts p ON p.id = t.prompt_id
               WHERE p.dataset_id = ? AND a.name = ? AND a.version = ? AND t.origin = 'source'
           ) a ON a.topic = tp.topic
           WHERE tp.dataset_id = ? AND tp.version = ? GROUP BY tp.topic, tp.size""",
        [dataset_id, name, version, dataset_id, version])
    return [(int(r["topic"]), int(r["size"]), int(r["n"])) for r in rows]
