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

from monoscope.core.store import Study, content_hash
from monoscope.core.store import datasets as datasets_repo
from monoscope.core.store import fixture as repo
from monoscope.core.store import projections as maps_repo
from monoscope.core.store.frames import load_embeddings, load_texts

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
    covers: int | None = None  # texts for the first `covers` prompts only (None: all)


DEFAULT_RUNS = (
    FixtureRun("instruct T=0.8", "fixture-instruct", 0.8, 0.35, 0.97, (0, 1)),
    FixtureRun("base T=1.2", "fixture-base", 1.2, 0.8, 0.7, (0, 1, 2, 3)),
)


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
    ds = repo.add_dataset(study, dataset, {"fixture": True, "seed": seed})
    run_ids = []
    for i, r in enumerate(runs):
        mid = repo.add_model(study, r.model)
        sampling = {"temperature": r.temperature, "top_p": 0.95, "top_k": 50, "max_tokens": 96}
        run_ids.append(repo.add_run(study, ds, mid, r.label, sampling, n_generated, seed + i))

    cols: dict[str, list[Any]] = {k: [] for k in (
        "prompt", "origin", "run_id", "sample_index", "body", "label", "rating", "topic",
        "vec")}
    topic_centers = rng.normal(size=(len(_TOPICS), dim)) * 2.0
    for p in range(n_prompts):
        key = f"book-{p + 1:03d}"
        repo.add_prompt(study, ds, key, f"Fixture Book {p + 1}")
        center = rng.normal(size=dim) * 3.0
        src_pos = float(rng.uniform(0.3, 0.9))
        groups: list[tuple[int | None, int, float, float, tuple[int, ...]]] = [
            (None, n_source, 1.0, src_pos, tuple(range(len(_TOPICS))))]
        groups += [(rid, n_generated, r.spread, r.positive, r.topics)
                   for rid, r in zip(run_ids, runs, strict=True)
                   if r.covers is None or p < r.covers]
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
    n = len(cols["body"])
    pid = {p.key: p.id for p in datasets_repo.prompts(study, ds)}
    hashes = [content_hash(b) for b in cols["body"]]
    ids = repo.add_texts(study, pa.table({
        "prompt_id": pa.array([pid[k] for k in cols["prompt"]], pa.int64()),
        "origin": cols["origin"], "run_id": pa.array(cols["run_id"], pa.int64()),
        "sample_index": cols["sample_index"], "body": cols["body"], "content_hash": hashes,
        "label": pa.array(cols["label"], pa.string()),
        "rating": pa.array(cols["rating"], pa.float64()),
    }))

    gen = [i for i in range(n) if cols["run_id"][i] is not None]
    rng = np.random.default_rng(seed + 7)
    ppl = rng.gamma(4.0, 2.0, size=len(gen))
    repo.add_generations(study, pa.table({
        "text_id": ids[gen], "run_id": [cols["run_id"][i] for i in gen],
        "prompt_id": [pid[cols["prompt"][i]] for i in gen],
        "sample_index": [cols["sample_index"][i] for i in gen],
        "seed": [seed * 1000 + cols["sample_index"][i] for i in gen],
        "params": [json.dumps({"temperature": 0.8}) for _ in gen],
        "n_tokens": [len(cols["body"][i].split()) for i in gen],
        "finish_reason": ["stop"] * len(gen),
        "mean_logprob": -np.log(ppl), "perplexity": ppl,
    }))

    attrs = np.array([_text_attrs(b) for b in cols["body"]], dtype=np.float64).reshape(-1, 3)
    topic_labels = [" ".join(t[:3]) for t in _TOPICS]
    repo.add_attributes(study, pa.table({
        "text_id": np.concatenate([ids] * 4),
        "name": ["text.words"] * n + ["text.ttr"] * n + ["sentiment.vader"] * n + ["topic"] * n,
        "value": np.concatenate([attrs[:, 0], attrs[:, 1], attrs[:, 2],
                                 np.asarray(cols["topic"], dtype=np.float64)]),
        "label": [None] * (2 * n)
        + ["POSITIVE" if s >= 0.5 else "NEGATIVE" for s in attrs[:, 2]]
        + [topic_labels[t] for t in cols["topic"]],
    }), "fixture-1")
    repo.add_topics(study, ds, [(t, words, int(sum(1 for x in cols["topic"] if x == t)))
                                for t, words in enumerate(topic_labels)], "fixture-1")

    vecs = np.stack(cols["vec"]).astype(np.float32)
    model, backend = FIXTURE_EMBEDDING
    repo.add_embeddings(study, pa.table({
        "content_hash": hashes, "model": [model] * n, "backend": [backend] * n,
        "dim": [vecs.shape[1]] * n,
        "vector": pa.FixedSizeListArray.from_arrays(pa.array(vecs.ravel()), vecs.shape[1]).cast(
            pa.list_(pa.float32())),
    }))


def _pca_fit(src: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = src.mean(axis=0)
    _, _, vt = np.linalg.svd(src - mean, full_matrices=False)
    return mean, vt[:2].T


def _write_projections(study: Study, ds: int) -> None:
    """PCA fitted on the source texts of each scope; generated texts placed by transform."""
    model, backend = FIXTURE_EMBEDDING
    ids, vecs = load_embeddings(study, ds, None, model, backend)
    texts = load_texts(study, ds)
    at = np.searchsorted(texts.text_id, ids)
    is_source = texts.is_source[at]
    key_of = {p.id: p.key for p in datasets_repo.prompts(study, ds)}
    keys = np.asarray([key_of[int(p)] for p in texts.prompt_id[at]])
    scopes = [("dataset", np.ones(len(ids), dtype=bool))]
    scopes += [(f"prompt:{k}", keys == k) for k in np.unique(keys)]
    for scope, sel in scopes:
        src = vecs[sel & is_source]
        if len(src) < 3:
            continue
        mean, comp = _pca_fit(src)
        xy = ((vecs[sel] - mean) @ comp).astype(np.float32)
        proj = maps_repo.create(study, ds, scope, "pca", {"fit": "source", "backend": backend},
                                model)
        maps_repo.write_points(study, proj, ids[sel], xy)
