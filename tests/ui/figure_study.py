"""A small hand-made study for the overview, compare and sweep tests (values known exactly)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from monoscope.core.store import Study, content_hash
from monoscope.testing import raw_connection

PROMPTS = ["p1", "p2", "p3", "p4"]
# Sentiment labels per prompt (1 = POSITIVE). Source share positive: .25, .5, .75, 1.0.
SOURCE_SENT = {"p1": [1, 0, 0, 0], "p2": [1, 1, 0, 0], "p3": [1, 1, 1, 0], "p4": [1, 1, 1, 1]}
# Pairwise cosine every pair of a prompt's texts shares (built exactly, see `_vectors`).
SOURCE_COS = {"p1": 0.1, "p2": 0.3, "p3": 0.5, "p4": 0.9}
# (temperature, top_p, model): runs 1..4.
RUNS = [(0.5, 0.9, "smollm2"), (1.2, 0.9, "smollm2"), (0.5, 1.0, "smollm2"), (1.2, 1.0, "gemma3-base")]
RUN_SENT = {
    1: {k: [1, 1, 1] for k in PROMPTS},
    2: {"p1": [1, 1, 0], "p2": [1, 1, 1], "p3": [1, 1, 1], "p4": [1, 1, 1]},
    3: {k: [1, 1, 1] for k in PROMPTS},
    4: {"p1": [0, 1, 0], "p2": [1, 0, 1], "p3": [1, 1, 1], "p4": [1, 0, 1]},
}
RUN_COS = {1: dict.fromkeys(PROMPTS, 0.95), 2: {"p1": 0.7, "p2": 0.95, "p3": 0.95, "p4": 0.95},
           3: dict.fromkeys(PROMPTS, 0.85), 4: dict.fromkeys(PROMPTS, 0.45)}
DIM = 16


def _vectors(n: int, c: float, offset: int) -> np.ndarray:
    """n vectors whose pairwise cosines are all exactly c (shared axis 0 + private axes)."""
    out = np.zeros((n, DIM))
    out[:, 0] = math.sqrt(c)
    for i in range(n):
        out[i, 1 + offset + i] = math.sqrt(1 - c)
    return out


def make_figure_study(path: Path) -> Study:
    st = Study(path)
    con = raw_connection(st)
    con.execute("BEGIN TRANSACTION")
    con.execute("INSERT INTO datasets (id, name, kind) VALUES (1, 'films', 'text')")
    for i, k in enumerate(PROMPTS, 1):
        con.execute("INSERT INTO prompts (id, dataset_id, key, title) VALUES (?, 1, ?, ?)",
                    [i, k, f"Film {k.upper()}"])
    con.execute("INSERT INTO models (id, path, sha256, name) VALUES "
                "(1, '/m/smol.gguf', 'a', 'smollm2'), (2, '/m/gemma.gguf', 'b', 'gemma3-base')")
    for rid, (t, p, model) in enumerate(RUNS, 1):
        sampling = {"temperature": t, "top_p": p, "top_k": 50, "max_tokens": 64}
        con.execute(
            "INSERT INTO runs (id, dataset_id, model_id, label, engine, template, sampling, "
            "n_per_prompt, seed, status) VALUES (?, 1, ?, ?, 'llama.cpp', 'personalized', ?, 3, 0, "
            "'finished')",
            [rid, 1 if model == "smollm2" else 2, f"{model} T={t} p={p}", json.dumps(sampling)],
        )
    rng = np.random.default_rng(7)
    tid = 0
    con.execute("INSERT INTO projections (id, dataset_id, scope, method, embedding) "
                "VALUES (1, 1, 'dataset', 'umap', 'all-MiniLM-L6-v2')")
    groups: list[tuple[int | None, dict[str, list[int]], dict[str, float]]] = [
        (None, SOURCE_SENT, SOURCE_COS)
    ] + [(rid, RUN_SENT[rid], RUN_COS[rid]) for rid in RUN_SENT]
    for run_id, sent, cos in groups:
        for pi, k in enumerate(PROMPTS, 1):
            vecs = _vectors(len(sent[k]), cos[k], 0)
            for j, lab in enumerate(sent[k]):
                tid += 1
                body = f"text {tid} for {k} from {run_id or 'source'}"
                h = content_hash(body)
                con.execute(
                    "INSERT INTO texts (id, prompt_id, origin, run_id, sample_index, body, "
                    "content_hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [tid, pi, "source" if run_id is None else "generated", run_id, j, body, h],
                )
                if run_id is not None:
                    con.execute(
                        "INSERT INTO generations (text_id, run_id, prompt_id, sample_index, seed, "
                        "n_tokens, perplexity) VALUES (?, ?, ?, ?, ?, 40, 5.0)",
                        [tid, run_id, pi, j, j],
                    )
                label = "POSITIVE" if lab else "NEGATIVE"
                score = 0.8 if lab else 0.2
                con.execute("INSERT INTO attributes VALUES (?, 'sentiment.vader', ?, ?, '1')",
                            [tid, score, label])
                con.execute("INSERT INTO attributes VALUES (?, 'text.words', ?, NULL, '1')",
                            [tid, float(20 + 10 * j + (run_id or 0))])
                topic = j if run_id is None else 0
                con.execute("INSERT INTO attributes VALUES (?, 'topic', ?, ?, '1')",
                            [tid, float(topic), f"topic {topic}"])
                con.execute("INSERT INTO embeddings VALUES (?, 'all-MiniLM-L6-v2', 'torch', ?, ?)",
                            [h, DIM, vecs[j].tolist()])
                cx = 0.0 if run_id is None else float(run_id)
                x, y = rng.normal(cx, 1.0), rng.normal(pi, 0.5)
                con.execute("INSERT INTO projection_points VALUES (1, ?, ?, ?)", [tid, x, y])
    con.execute("COMMIT")
    return st


def drop_run_prompts(st: Study, run_ids: list[int], keys: list[str]) -> None:
    """Delete the generated texts of some runs for some prompts (runs then cover fewer
    prompts than the source)."""
    sel = ("SELECT t.id FROM texts t JOIN prompts p ON p.id = t.prompt_id "
           "WHERE t.run_id IN (SELECT unnest(?)) AND p.key IN (SELECT unnest(?))")
    params = [run_ids, keys]
    with st.transaction() as cur:
        for table, col in (("projection_points", "text_id"), ("attributes", "text_id"),
                           ("generations", "text_id")):
            cur.execute(f"DELETE FROM {table} WHERE {col} IN ({sel})", params)
        cur.execute(f"DELETE FROM texts WHERE id IN ({sel})", params)


def run_prompt_keys(st: Study, run_id: int) -> set[str]:
    """The prompts a run has texts for (SQL, independent of the measure stage)."""
    return {r["key"] for r in st.query(
        "SELECT DISTINCT p.key FROM texts t JOIN prompts p ON p.id = t.prompt_id "
        "WHERE t.run_id = ?", [run_id])}
