"""A deterministic synthetic study written through the real schema, for UI tests and benchmarks.

It stands in for a pipeline run when no model may be loaded: a dataset of reviews per "book",
human source texts with labels, two runs whose generations are narrower than the source (the
instruct run much more so), attributes computed from the bodies, low-dimensional embeddings and
PCA projections fitted on the source (generated texts placed by the same transform).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from monoscope.core.store import Study
from monoscope.core.store.frames import arrow

FIXTURE_EMBEDDING = ("fixture-16d", "fixture")
_POS = ["wonderful", "moving", "clever", "gripping", "tender", "witty", "luminous", "brave", "honest", "vivid"]
_NEG = ["dull", "tedious", "clumsy", "shallow", "bloated", "flat", "predictable", "cold", "thin", "muddled"]
_TOPICS = [
    ["plot", "pacing", "twist", "ending", "chapter"],
    ["characters", "dialogue", "voice", "heroine", "family"],
    ["prose", "style", "language", "sentences", "imagery"],
    ["history", "setting", "war", "village", "journey"],
    ["ideas", "philosophy", "science", "future", "society"],
]
_FILL = ["the", "book", "story", "it", "was", "and", "a", "of", "this", "reader", "I", "felt", "its", "with"]


@dataclass(frozen=True)
class FixtureRun:
    label: str
    model: str
    temperature: float
    spread: float  # embedding spread relative to the source
    positive: float  # share of positive reviews
    topics: tuple[int, ...]  # topics the run writes about


DEFAULT_RUNS = (
    FixtureRun("instruct T=0.8", "fixture-instruct", 0.8, 0.35, 0.97, (0, 1)),
    FixtureRun("base T=1.2", "fixture-base", 1.2, 0.8, 0.7, (0, 1, 2, 3)),
)


def _x(con: Any, sql: str, params: list[Any] | None = None) -> None:
    """Execute a statement and drain its result (DuckDB 2 refuses new work before that)."""
    con.execute(sql, params or []).fetchall()


def _body(rng: np.random.Generator, positive: bool, topic: int, n_words: int) -> str:
    mood = _POS if positive else _NEG
    words: list[str] = []
    for _ in range(n_words):
        r = rng.random()
        pool = mood if r < 0.18 else _TOPICS[topic] if r < 0.45 else _FILL
        words.append(pool[int(rng.integers(len(pool)))])
    words[0] = words[0].capitalize()
    return " ".join(words) + "."


def _text_attrs(body: str) -> tuple[float, float, float]:
    """(words, type-token ratio, sentiment score in [0, 1]) computed from the body itself."""
    toks = [w.strip(".,").lower() for w in body.split()]
    pos = sum(t in _POS for t in toks)
    neg = sum(t in _NEG for t in toks)
    score = 0.5 + 0.5 * (pos - neg) / max(1, pos + neg)
    return float(len(toks)), len(set(toks)) / max(1, len(toks)), score


def build_fixture_study(
    target: Study | str | Path,
    n_prompts: int = 20,
    n_source: int = 30,
    n_generated: int = 20,
    runs: tuple[FixtureRun, ...] = DEFAULT_RUNS,
    dim: int = 16,
    seed: int = 0,
    dataset: str = "fixture-reviews",
    bodies: bool = True,
) -> Study:
    """Write the fixture into ``target`` (a Study or a path) and return the open Study.

    ``bodies=False`` writes short placeholder bodies (fast path for million-point benchmarks).
    """
    study = target if isinstance(target, Study) else Study(target)
    rng = np.random.default_rng(seed)
    con = study._root  # transitional: the fixture moves to the store repositories
    with study._writer:
        _x(con,
            "INSERT INTO datasets (name, kind, source_uri, meta) VALUES (?, 'text', 'fixture', ?)",
            [dataset, json.dumps({"fixture": True, "seed": seed})],
        )
        ds = study.dataset_id(dataset)
        run_ids = []
        for i, r in enumerate(runs):
            _x(con,
                "INSERT INTO models (path, sha256, name, architecture, quantization, n_params) "
                "VALUES (?, ?, ?, 'fixture', 'none', 0) ON CONFLICT DO NOTHING",
                [f"/fixture/{r.model}.gguf", f"fixture-{r.model}", r.model],
            )
            mid = study.scalar("SELECT id FROM models WHERE name = ?", [r.model])
            sampling = {"temperature": r.temperature, "top_p": 0.95, "top_k": 50, "max_tokens": 96}
            _x(con,
                "INSERT INTO runs (dataset_id, model_id, label, engine, template, sampling, "
                "n_per_prompt, seed, status) VALUES (?, ?, ?, 'fixture', 'personalized', ?, ?, ?, "
                "'finished')",
                [ds, mid, r.label, json.dumps(sampling), n_generated, seed + i],
            )
            run_ids.append(int(study.scalar("SELECT max(id) FROM runs")))

        cols: dict[str, list[Any]] = {k: [] for k in (
            "prompt", "origin", "run_id", "sample_index", "body", "label", "rating", "topic",
            "vec")}
        topic_centers = rng.normal(size=(len(_TOPICS), dim)) * 2.0
        for p in range(n_prompts):
            key = f"book-{p + 1:03d}"
            _x(con,
                "INSERT INTO prompts (dataset_id, key, title) VALUES (?, ?, ?)",
                [ds, key, f"Fixture Book {p + 1}"],
            )
            center = rng.normal(size=dim) * 3.0
            src_pos = float(rng.uniform(0.3, 0.9))
            groups: list[tuple[int | None, int, float, float, tuple[int, ...]]] = [
                (None, n_source, 1.0, src_pos, tuple(range(len(_TOPICS))))]
            groups += [(rid, n_generated, r.spread, r.positive, r.topics)
                       for rid, r in zip(run_ids, runs, strict=True)]
            for run_id, n, spread, positive, topics in groups:
                tops = rng.choice(topics, size=n)
                poss = rng.random(n) < positive
                vecs = center + (topic_centers[tops] + rng.normal(size=(n, dim))) * spread
                vecs += np.where(poss, 0.8, -0.8)[:, None] * topic_centers[0] / 4
                for j in range(n):
                    cols["prompt"].append(key)
                    cols["origin"].append("source" if run_id is None else "generated")
                    cols["run_id"].append(run_id)
                    cols["sample_index"].append(j)
                    nw = int(rng.integers(12, 60)) if run_id is None else int(rng.integers(25, 40))
                    cols["body"].append(
                        _body(rng, bool(poss[j]), int(tops[j]), nw) if bodies
                        else f"{'good' if poss[j] else 'bad'} {key} {j}")
                    cols["label"].append(
                        ("POSITIVE" if poss[j] else "NEGATIVE") if run_id is None else None)
                    cols["rating"].append(
                        float(rng.integers(4, 6) if poss[j] else rng.integers(1, 3))
                        if run_id is None else None)
                    cols["topic"].append(int(tops[j]))
                    cols["vec"].append(vecs[j].astype(np.float32))
        _write_texts(study, ds, cols, run_ids, seed)
        _write_projections(study, ds)
    return study


def _write_texts(study: Study, ds: int, cols: dict[str, list[Any]], run_ids: list[int],
                 seed: int) -> None:
    con = study._root  # transitional: the fixture moves to the store repositories
    n = len(cols["body"])
    ids = con.execute(
        "SELECT nextval('seq_texts') AS id FROM range(?)", [n]).fetchnumpy()["id"].astype(np.int64)
    pid = {r["key"]: r["id"] for r in study.query(
        "SELECT key, id FROM prompts WHERE dataset_id = ?", [ds])}
    import hashlib

    hashes = [hashlib.md5(b.encode("utf-8")).hexdigest() for b in cols["body"]]
    texts = pa.table({
        "id": ids, "prompt_id": [pid[k] for k in cols["prompt"]], "origin": cols["origin"],
        "run_id": pa.array(cols["run_id"], pa.int64()), "sample_index": cols["sample_index"],
        "body": cols["body"], "content_hash": hashes, "label": cols["label"],
        "rating": pa.array(cols["rating"], pa.float64()),
    })
    con.register("fx_texts", texts)
    _x(con, "INSERT INTO texts (id, prompt_id, origin, run_id, sample_index, body, "
                "content_hash, label, rating) SELECT * FROM fx_texts")
    con.unregister("fx_texts")

    gen = [i for i in range(n) if cols["run_id"][i] is not None]
    rng = np.random.default_rng(seed + 7)
    ppl = rng.gamma(4.0, 2.0, size=len(gen))
    gens = pa.table({
        "text_id": ids[gen], "run_id": [cols["run_id"][i] for i in gen],
        "prompt_id": [pid[cols["prompt"][i]] for i in gen],
        "sample_index": [cols["sample_index"][i] for i in gen],
        "seed": [seed * 1000 + cols["sample_index"][i] for i in gen],
        "params": [json.dumps({"temperature": 0.8}) for _ in gen],
        "n_tokens": [len(cols["body"][i].split()) for i in gen],
        "finish_reason": ["stop"] * len(gen),
        "mean_logprob": -np.log(ppl), "perplexity": ppl,
    })
    con.register("fx_gens", gens)
    _x(con, "INSERT INTO generations (text_id, run_id, prompt_id, sample_index, seed, params, "
                "n_tokens, finish_reason, mean_logprob, perplexity) SELECT * FROM fx_gens")
    con.unregister("fx_gens")

    attrs = np.array([_text_attrs(b) for b in cols["body"]], dtype=np.float64).reshape(-1, 3)
    topic_labels = [" ".join(t[:3]) for t in _TOPICS]
    rows = {
        "text_id": np.concatenate([ids] * 4),
        "name": ["text.words"] * n + ["text.ttr"] * n + ["sentiment.vader"] * n + ["topic"] * n,
        "value": np.concatenate([attrs[:, 0], attrs[:, 1], attrs[:, 2],
                                 np.asarray(cols["topic"], dtype=np.float64)]),
        "label": [None] * (2 * n)
        + ["POSITIVE" if s >= 0.5 else "NEGATIVE" for s in attrs[:, 2]]
        + [topic_labels[t] for t in cols["topic"]],
    }
    con.register("fx_attrs", pa.table(rows))
    _x(con, "INSERT INTO attributes (text_id, name, value, label, version) "
                "SELECT text_id, name, value, label, 'fixture-1' FROM fx_attrs")
    con.unregister("fx_attrs")
    for t, words in enumerate(topic_labels):
        _x(con, "INSERT OR REPLACE INTO topics VALUES (?, ?, ?, ?, 'fixture-1')",
                    [ds, t, words, int(sum(1 for x in cols["topic"] if x == t))])

    vecs = np.stack(cols["vec"]).astype(np.float32)
    model, backend = FIXTURE_EMBEDDING
    emb = pa.table({
        "content_hash": hashes, "model": [model] * n, "backend": [backend] * n,
        "dim": [vecs.shape[1]] * n,
        "vector": pa.FixedSizeListArray.from_arrays(pa.array(vecs.ravel()), vecs.shape[1]).cast(
            pa.list_(pa.float32())),
    })
    con.register("fx_emb", emb)
    _x(con, "INSERT OR IGNORE INTO embeddings SELECT DISTINCT ON (content_hash) * FROM fx_emb")
    con.unregister("fx_emb")


def _pca_fit(src: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = src.mean(axis=0)
    _, _, vt = np.linalg.svd(src - mean, full_matrices=False)
    return mean, vt[:2].T


def _write_projections(study: Study, ds: int) -> None:
    """PCA fitted on the source texts of each scope; generated texts placed by transform."""
    con = study._root  # transitional: the fixture moves to the store repositories
    model, backend = FIXTURE_EMBEDDING
    tab = arrow(
        study,
        "SELECT t.id, t.origin, p.key, e.vector FROM texts t JOIN prompts p ON p.id = t.prompt_id "
        "JOIN embeddings e ON e.content_hash = t.content_hash AND e.model = ? AND e.backend = ? "
        "WHERE p.dataset_id = ? ORDER BY t.id", [model, backend, ds])
    ids = tab.column("id").to_numpy()
    origin = np.asarray(tab.column("origin").to_pylist())
    keys = np.asarray(tab.column("key").to_pylist())
    vec_col = tab.column("vector").combine_chunks()
    vecs = vec_col.flatten().to_numpy().reshape(len(ids), -1)
    scopes = [("dataset", np.ones(len(ids), dtype=bool))]
    scopes += [(f"prompt:{k}", keys == k) for k in np.unique(keys)]
    for scope, sel in scopes:
        src = vecs[sel & (origin == "source")]
        if len(src) < 3:
            continue
        mean, comp = _pca_fit(src)
        xy = ((vecs[sel] - mean) @ comp).astype(np.float32)
        _x(con,
            "INSERT INTO projections (dataset_id, scope, method, params, embedding) "
            "VALUES (?, ?, 'pca', ?, ?)", [ds, scope, json.dumps({"fit": "source", "backend": backend}), model])
        proj = int(study.scalar("SELECT max(id) FROM projections"))
        pts = pa.table({"projection_id": np.full(int(sel.sum()), proj, dtype=np.int64),
                        "text_id": ids[sel], "x": xy[:, 0], "y": xy[:, 1]})
        con.register("fx_pts", pts)
        _x(con, "INSERT INTO projection_points SELECT * FROM fx_pts")
        con.unregister("fx_pts")
