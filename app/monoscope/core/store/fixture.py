"""Bulk writes of the synthetic fixture study (`monoscope.testing.fixture_study`).

Only the fixture builder (tests, benchmarks) calls these: the application writes datasets,
runs, texts and annotations through its own repositories. Each function is one statement in
the writer lane; the Arrow tables must carry the named columns, in that order.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from monoscope.core.store.study import Study

I64 = npt.NDArray[np.int64]


def _insert_table(study: Study, sql: str, name: str, table: pa.Table) -> None:
    """Run an INSERT ... SELECT over ``table`` registered as ``name``, in one transaction."""
    with study.transaction() as cur:
        cur.register(name, table)
        cur.execute(sql)
        cur.unregister(name)


def add_dataset(study: Study, name: str, meta: dict[str, Any]) -> int:
    """A text dataset imported from 'fixture'; returns its id."""
    study.write("INSERT INTO datasets (name, kind, source_uri, meta) VALUES (?, 'text', "
                "'fixture', ?)", [name, json.dumps(meta)])
    return study.dataset_id(name)


def add_model(study: Study, name: str) -> int:
    """A registered fixture model (kept if one of that name exists); returns its id."""
    study.write("INSERT INTO models (path, sha256, name, architecture, quantization, n_params) "
                "VALUES (?, ?, ?, 'fixture', 'none', 0) ON CONFLICT DO NOTHING",
                [f"/fixture/{name}.gguf", f"fixture-{name}", name])
    return int(study.scalar("SELECT id FROM models WHERE name = ?", [name]))


def add_run(study: Study, dataset_id: int, model_id: int, label: str, sampling: dict[str, Any],
            n_per_prompt: int, seed: int) -> int:
    """A finished fixture run of the 'personalized' template; returns its id."""
    with study.transaction() as cur:
        row = cur.execute(
            "INSERT INTO runs (dataset_id, model_id, label, engine, template, sampling, "
            "n_per_prompt, seed, status) VALUES (?, ?, ?, 'fixture', 'personalized', ?, ?, ?, "
            "'finished') RETURNING id",
            [dataset_id, model_id, label, json.dumps(sampling), n_per_prompt, seed],
        ).fetchone()
    assert row is not None
    return int(row[0])


def add_prompt(study: Study, dataset_id: int, key: str, title: str) -> int:
    """A prompt of the dataset; returns its id."""
    with study.transaction() as cur:
        row = cur.execute("INSERT INTO prompts (dataset_id, key, title) VALUES (?, ?, ?) "
                          "RETURNING id", [dataset_id, key, title]).fetchone()
    assert row is not None
    return int(row[0])


def add_texts(study: Study, texts: pa.Table) -> I64:
    """Insert texts (prompt_id, origin, run_id, sample_index, body, content_hash, label,
    rating) with new ids from the text sequence; returns the ids in row order."""
    with study.transaction() as cur:
        ids = cur.execute("SELECT nextval('seq_texts') AS id FROM range(?)",
                          [texts.num_rows]).fetchnumpy()["id"].astype(np.int64)
        cur.register("fx_texts", texts.add_column(0, "id", pa.array(ids)))
        cur.execute("INSERT INTO texts (id, prompt_id, origin, run_id, sample_index, body, "
                    "content_hash, label, rating) SELECT id, prompt_id, origin, run_id, "
                    "sample_index, body, content_hash, label, rating FROM fx_texts")
        cur.unregister("fx_texts")
    return np.asarray(ids, dtype=np.int64)


def add_generations(study: Study, generations: pa.Table) -> None:
    """Insert generation records (text_id, run_id, prompt_id, sample_index, seed, params,
    n_tokens, finish_reason, mean_logprob, perplexity)."""
    _insert_table(study, "INSERT INTO generations (text_id, run_id, prompt_id, sample_index, "
                  "seed, params, n_tokens, finish_reason, mean_logprob, perplexity) "
                  "SELECT * FROM fx_gens", "fx_gens", generations)


def add_attributes(study: Study, attributes: pa.Table, version: str) -> None:
    """Insert attribute rows (text_id, name, value, label) written by ``version``."""
    with study.transaction() as cur:
        cur.register("fx_attrs", attributes)
        cur.execute("INSERT INTO attributes (text_id, name, value, label, version) "
                    "SELECT text_id, name, value, label, ? FROM fx_attrs", [version])
        cur.unregister("fx_attrs")


def add_topics(study: Study, dataset_id: int, topics: list[tuple[int, str, int]],
               version: str) -> None:
    """Store the dataset's topics as (topic, label, size)."""
    with study.transaction() as cur:
        for topic, label, size in topics:
            cur.execute("INSERT OR REPLACE INTO topics VALUES (?, ?, ?, ?, ?)",
                        [dataset_id, topic, label, size, version])


def add_embeddings(study: Study, embeddings: pa.Table) -> None:
    """Insert vectors (content_hash, model, backend, dim, vector); one per content hash,
    existing ones kept."""
    _insert_table(study, "INSERT OR IGNORE INTO embeddings SELECT DISTINCT ON (content_hash) * "
                  "FROM fx_emb", "fx_emb", embeddings)
