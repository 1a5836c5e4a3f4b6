"""Tiny studies for the projection / measure / report tests, written through the real schema.

Rows are given explicitly so tests can compare against hand-computed values; `fake_vector`
is a deterministic stand-in embedder (hash-seeded Gaussian around a per-prompt centre).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from monoscope.core.store import Study, content_hash
from monoscope.testing import raw_connection

FAKE_MODEL, FAKE_BACKEND = "fake-8d", "fake"


@dataclass
class Row:
    prompt: str
    body: str
    run: str | None = None  # run label; None = source
    attrs: dict[str, tuple[float | None, str | None]] = field(default_factory=dict)
    ppl: float | None = None
    vector: list[float] | None = None


def fake_vector(body: str, centre: np.ndarray, spread: float) -> list[float]:
    seed = int(hashlib.md5(body.encode()).hexdigest()[:8], 16)
    rng = np.random.default_rng(seed)
    return [float(v) for v in centre + spread * rng.normal(size=centre.size)]


def build(study: Study, rows: list[Row], dataset: str = "films",
          runs: dict[str, dict[str, Any]] | None = None,
          model: str = FAKE_MODEL, backend: str = FAKE_BACKEND) -> dict[str, int]:
    """Write the dataset, its prompts, runs and rows; returns run label -> run id."""
    con = raw_connection(study)
    runs = runs or {}
    con.execute("INSERT INTO datasets (name, kind) VALUES (?, 'text')", [dataset])
    ds = study.dataset_id(dataset)
    prompt_ids: dict[str, int] = {}
    for key in dict.fromkeys(r.prompt for r in rows):
        con.execute("INSERT INTO prompts (dataset_id, key, title) VALUES (?, ?, ?)",
                    [ds, key, f"Title {key}"])
        prompt_ids[key] = int(study.scalar(
            "SELECT id FROM prompts WHERE dataset_id = ? AND key = ?", [ds, key]))
    run_ids: dict[str, int] = {}
    for label in dict.fromkeys(r.run for r in rows if r.run):
        sampling = runs.get(label, {"temperature": 1.0, "top_p": 1.0})
        con.execute(
            "INSERT INTO runs (dataset_id, label, engine, template, sampling, n_per_prompt, seed, "
            "status) VALUES (?, ?, 'external', 'personalized', ?, 3, 0, 'finished')",
            [ds, label, json.dumps(sampling)])
        run_ids[label] = int(study.scalar("SELECT max(id) FROM runs"))
    counters: dict[tuple[str, str | None], int] = {}
    for r in rows:
        idx = counters.get((r.prompt, r.run), 0)
        counters[(r.prompt, r.run)] = idx + 1
        h = content_hash(r.body)
        tid = int(study.scalar("SELECT nextval('seq_texts')"))
        con.execute(
            "INSERT INTO texts (id, prompt_id, origin, run_id, sample_index, body, content_hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [tid, prompt_ids[r.prompt], "source" if r.run is None else "generated",
             run_ids.get(r.run) if r.run else None, idx, r.body, h])
        if r.run is not None:
            con.execute(
                "INSERT INTO generations (text_id, run_id, prompt_id, sample_index, seed, "
                "perplexity) VALUES (?, ?, ?, ?, 0, ?)",
                [tid, run_ids[r.run], prompt_ids[r.prompt], idx, r.ppl])
        for name, (value, label) in r.attrs.items():
            con.execute("INSERT INTO attributes VALUES (?, ?, ?, ?, 'test')",
                        [tid, name, value, label])
        if r.vector is not None:
            con.execute("INSERT OR IGNORE INTO embeddings VALUES (?, ?, ?, ?, ?)",
                        [h, model, backend, len(r.vector), r.vector])
    return run_ids


def clustered(n_prompts: int, n_source: int, n_gen: int, runs: dict[str, float],
              dim: int = 8, seed: int = 0) -> list[Row]:
    """Source texts spread around a per-prompt centre; each run narrower by its spread factor."""
    rng = np.random.default_rng(seed)
    rows: list[Row] = []
    for p in range(n_prompts):
        centre = rng.normal(size=dim) * 4.0
        key = f"p{p:02d}"
        for i in range(n_source):
            body = f"source review {i} of {key}"
            rows.append(Row(key, body, vector=fake_vector(body, centre, 1.0)))
        for label, spread in runs.items():
            for i in range(n_gen):
                body = f"{label} sample {i} of {key}"
                rows.append(Row(key, body, run=label, ppl=5.0 + i,
                                vector=fake_vector(body, centre, spread)))
    return rows
