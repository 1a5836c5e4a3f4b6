"""Projection: PCA fallback, cache reuse, transform placement, UMAP on real MiniLM vectors."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from analysis_fixture import FAKE_BACKEND, FAKE_MODEL, Row, build, clustered

from monoscope.core.analysis.projection import (
    ProjectionError,
    ProjectionRequest,
    balanced_sample,
    project,
)
from monoscope.core.explore.queries import Points, scope_points
from monoscope.core.store import Study
from monoscope.core.store.frames import AnalysisInputMissing
from monoscope.core.tasks import TaskState
from monoscope.testing import raw_connection

FAKE = {"embedding_model": FAKE_MODEL, "backend": FAKE_BACKEND}


def load_map(study: Study, scope: str = "dataset") -> Points | None:
    """The newest map of a scope of the study's only dataset (the read model the views use)."""
    return scope_points(study, int(study.scalar("SELECT min(id) FROM datasets")), scope)


def _coords(study: Study, pid: int) -> dict[int, tuple[float, float]]:
    rows = study.query("SELECT text_id, x, y FROM projection_points WHERE projection_id = ?", [pid])
    return {int(r["text_id"]): (r["x"], r["y"]) for r in rows}


def test_tiny_set_falls_back_to_pca_and_matches_numpy(study: Study, state: TaskState) -> None:
    build(study, clustered(2, 4, 3, {"r": 0.3}))  # 8 source texts < 15: PCA only
    res = project(study, ProjectionRequest(**FAKE), state)
    assert [m.method for m in res.maps] == ["pca"]
    m = res.maps[0]
    assert m.n_fit == 8 and m.text_id.size == 14 and not m.cached
    # hand check: coordinates are the projection on the top-2 principal axes of the source
    src = study.query("SELECT t.id, e.vector FROM texts t JOIN embeddings e USING (content_hash) "
                      "WHERE t.origin = 'source' ORDER BY t.id")
    x = np.array([r["vector"] for r in src], dtype=np.float64)
    centred = x - x.mean(axis=0)
    vt = np.linalg.svd(centred, full_matrices=False)[2][:2]
    expected = centred @ vt.T
    got = np.array([_coords(study, m.projection_id)[int(r["id"])] for r in src])
    # axes may differ in sign only
    for k in range(2):
        assert np.allclose(np.abs(got[:, k]), np.abs(expected[:, k]), atol=1e-4)


def test_second_call_reuses_the_map(study: Study, state: TaskState) -> None:
    build(study, clustered(2, 10, 3, {"r": 0.3}))
    first = project(study, ProjectionRequest(method="pca", **FAKE), state).maps[0]
    second = project(study, ProjectionRequest(method="pca", **FAKE), state).maps[0]
    assert not first.cached and second.cached
    assert second.projection_id == first.projection_id and second.n_placed == 0
    assert np.array_equal(first.xy, second.xy)
    assert study.scalar("SELECT count(*) FROM projections") == 1


def test_new_run_is_transformed_and_source_does_not_move(study: Study, state: TaskState) -> None:
    build(study, clustered(3, 8, 4, {"a": 0.3}))
    m1 = project(study, ProjectionRequest(method="pca", **FAKE), state).maps[0]
    before = _coords(study, m1.projection_id)
    # add a second run to the same prompts
    centre = np.zeros(8)
    extra = [Row("p00", f"new run text {i}", run="b", ppl=3.0,
                 vector=list(centre + np.random.default_rng(i).normal(size=8)))
             for i in range(5)]
    _append(study, extra)
    m2 = project(study, ProjectionRequest(method="pca", **FAKE), state).maps[0]
    assert m2.cached and m2.projection_id == m1.projection_id and m2.n_placed == 5
    after = _coords(study, m2.projection_id)
    assert len(after) == len(before) + 5
    assert all(after[t] == before[t] for t in before)


def test_changed_source_set_refits(study: Study, state: TaskState) -> None:
    build(study, clustered(2, 10, 2, {"a": 0.3}))
    m1 = project(study, ProjectionRequest(method="pca", **FAKE), state).maps[0]
    _append(study, [Row("p01", "another human review", vector=[1.0] * 8)])
    m2 = project(study, ProjectionRequest(method="pca", **FAKE), state).maps[0]
    assert not m2.cached and m2.n_fit == m1.n_fit + 1
    assert study.scalar("SELECT count(*) FROM projections") == 1  # stale map removed


def test_per_prompt_scopes_and_errors(study: Study, state: TaskState) -> None:
    build(study, clustered(3, 5, 2, {"a": 0.3}))
    res = project(study, ProjectionRequest(scopes=("prompts",), **FAKE), state)
    assert [m.scope for m in res.maps] == ["prompt:p00", "prompt:p01", "prompt:p02"]
    assert all(m.text_id.size == 7 for m in res.maps)
    data = load_map(study, "prompt:p01")
    assert data is not None and data.is_source.sum() == 5 and (data.run_id >= 0).sum() == 2
    with pytest.raises(ProjectionError, match="prompt:<key>"):
        project(study, ProjectionRequest(scopes=("prompt:nope",), **FAKE), state)
    with pytest.raises(AnalysisInputMissing, match="annotate"):
        project(study, ProjectionRequest(), state)  # no MiniLM vectors in this study


def test_balanced_sample_caps_every_prompt_evenly() -> None:
    groups = np.array([0] * 100 + [1] * 10 + [2] * 3)
    idx = balanced_sample(groups, 30, seed=1)
    counts = np.bincount(groups[idx])
    assert idx.size == 30 and counts.tolist() == [17, 10, 3]
    assert np.array_equal(idx, balanced_sample(groups, 30, seed=1))


def _append(study: Study, rows: list[Row]) -> None:
    ids = {r["key"]: r["id"] for r in study.query("SELECT key, id FROM prompts")}
    runs = {r["label"]: r["id"] for r in study.query("SELECT label, id FROM runs")}
    from monoscope.core.store import content_hash

    for r in rows:
        if r.run and r.run not in runs:
            raw_connection(study).execute("INSERT INTO runs (dataset_id, label, engine, template, sampling, "
                              "n_per_prompt, seed) VALUES (1, ?, 'external', 't', '{}', 1, 0)",
                              [r.run])
            runs[r.run] = study.scalar("SELECT max(id) FROM runs")
        tid = study.scalar("SELECT nextval('seq_texts')")
        raw_connection(study).execute(
            "INSERT INTO texts (id, prompt_id, origin, run_id, sample_index, body, content_hash) "
            "VALUES (?, ?, ?, ?, 0, ?, ?)",
            [tid, ids[r.prompt], "generated" if r.run else "source", runs.get(r.run or ""),
             r.body, content_hash(r.body)])
        raw_connection(study).execute("INSERT OR IGNORE INTO embeddings VALUES (?, ?, ?, ?, ?)",
                          [content_hash(r.body), FAKE_MODEL, FAKE_BACKEND, 8, r.vector])


REVIEWS = {
    "heist": [
        "A slick, funny heist movie with a cast that clearly had a ball.",
        "The twists are telegraphed from the first reel; I was bored by the end.",
        "Stylish but hollow: all swagger and no stakes.",
        "Clooney and Pitt trade quips like old pros. Pure entertainment.",
        "The score is terrific and the editing crackles with energy.",
        "Too pleased with itself to be much fun.",
        "A breezy caper that never pretends to be more than it is.",
        "The plot holes could swallow a casino vault.",
        "Smart dialogue, gorgeous photography, and a clever final trick.",
        "I forgot it the moment the credits rolled.",
    ],
    "drama": [
        "A quiet, devastating portrait of grief in a small fishing town.",
        "The lead performance is extraordinary; every silence says something.",
        "Slow to the point of tedium, with a script that goes nowhere.",
        "The camera lingers on faces and lets the actors do the work.",
        "Manipulative music tells you when to cry.",
        "An honest film about a family coming apart and slowly mending.",
        "Too long by half an hour, but the ending lands.",
        "The cinematography of the grey sea is haunting.",
        "Earnest, heavy and a little dull.",
        "One of the finest dramas of the year.",
    ],
}
GENERATED = [
    "This film is a captivating masterpiece with stunning performances.",
    "A captivating and heartfelt film with stunning performances throughout.",
    "An unforgettable masterpiece that will captivate audiences of all ages.",
    "A captivating film with brilliant acting and a stunning story.",
]


@pytest.mark.slow
def test_umap_streams_pca_first_then_places_generated(study: Study) -> None:
    """Real UMAP fit (numba) on a small clustered set; generated texts are transformed."""
    build(study, clustered(3, 10, 6, {"narrow": 0.2}, dim=8))
    partial: list[Any] = []
    req = ProjectionRequest(n_neighbors=8, **FAKE)
    res = project(study, req, TaskState(on_partial=partial.append))
    assert [m.method for m in partial] == ["pca", "umap"]  # instant PCA first, then UMAP
    umap_map = res.maps[1]
    assert umap_map.n_fit == 30 and umap_map.n_placed == 18 and umap_map.text_id.size == 48
    assert np.isfinite(umap_map.xy).all()
    data = load_map(study)
    assert data is not None and data.method == "umap"
    # each narrow run sample lands nearer its own prompt's human texts than any other prompt's
    xy = np.column_stack([data.x, data.y])
    centres = {p: xy[data.is_source & (data.prompt_id == p)].mean(axis=0)
               for p in np.unique(data.prompt_id)}
    for i in np.flatnonzero(~data.is_source):
        nearest = min(centres, key=lambda p: float(np.linalg.norm(xy[i] - centres[p])))
        assert nearest == data.prompt_id[i]
    again = project(study, req, TaskState())
    assert all(m.cached and m.n_placed == 0 for m in again.maps)


@pytest.mark.slow
def test_real_minilm_vectors_generated_sit_closer(study: Study) -> None:
    from monoscope.core.attributes.embedding import load_embedder, pending_hashes, store_vectors

    rows = [Row(k, body) for k, bodies in REVIEWS.items() for body in bodies]
    rows += [Row(k, body + f" ({k})", run="smol", ppl=4.0) for k in REVIEWS for body in GENERATED]
    build(study, rows)
    emb = load_embedder("torch", threads=1)
    todo = pending_hashes(study, 1, "torch")
    store_vectors(study, [h for h, _ in todo], emb.encode([b for _, b in todo]), "torch")
    res = project(study, ProjectionRequest(method="pca"), TaskState())
    assert res.maps[0].n_fit == 20 and res.maps[0].text_id.size == 28
    data = load_map(study)
    assert data is not None
    # generated reviews all say the same thing: they sit closer together than the human ones
    gen, src = data.run_id >= 0, data.is_source

    def spread(m: np.ndarray) -> float:
        pts = np.column_stack([data.x[m], data.y[m]])
        return float(np.linalg.norm(pts - pts.mean(axis=0), axis=1).mean())

    assert spread(gen) < spread(src)


def test_cancelled_state_stops_before_writing(study: Study) -> None:
    from monoscope.core.errors import TaskCancelled

    build(study, clustered(2, 10, 2, {"a": 0.3}))
    st = TaskState()
    st.cancel()
    with pytest.raises(TaskCancelled):
        project(study, ProjectionRequest(method="pca", **FAKE), st)
    assert study.scalar("SELECT count(*) FROM projections") == 0
