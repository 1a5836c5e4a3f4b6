"""A stored UMAP map and its cached model: a run added later is placed by the reloaded model,
without refitting and without moving any point already on the map."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from analysis_fixture import FAKE_BACKEND, FAKE_MODEL, build, clustered, fake_vector

from monoscope.core.analysis import projection, projection_models
from monoscope.core.analysis.projection import ProjectionRequest, project
from monoscope.core.store import Study, content_hash
from monoscope.core.tasks import TaskState
from monoscope.testing import raw_connection


def _points(study: Study, pid: int) -> dict[int, tuple[float, float]]:
    rows = study.query("SELECT text_id, x, y FROM projection_points WHERE projection_id = ?", [pid])
    return {int(r["text_id"]): (float(r["x"]), float(r["y"])) for r in rows}


def _add_run(study: Study, label: str, per_prompt: int) -> list[int]:
    """A run written after the map: texts near each prompt's human centre, with vectors."""
    con = raw_connection(study)
    ds = int(study.scalar("SELECT min(id) FROM datasets"))
    con.execute("INSERT INTO runs (dataset_id, label, engine, template, sampling, n_per_prompt, "
                "seed, status) VALUES (?, ?, 'external', 'personalized', ?, ?, 0, 'finished')",
                [ds, label, json.dumps({"temperature": 1.0}), per_prompt])
    run = int(study.scalar("SELECT max(id) FROM runs"))
    ids: list[int] = []
    for p in study.query("SELECT id, key FROM prompts ORDER BY id"):
        src = np.array([r["vector"] for r in study.query(
            "SELECT e.vector FROM texts t JOIN embeddings e ON e.content_hash = t.content_hash "
            "WHERE t.prompt_id = ? AND t.origin = 'source'", [p["id"]])])
        for i in range(per_prompt):
            body = f"{label} sample {i} of {p['key']}"
            tid = int(study.scalar("SELECT nextval('seq_texts')"))
            con.execute("INSERT INTO texts (id, prompt_id, origin, run_id, sample_index, body, "
                        "content_hash) VALUES (?, ?, 'generated', ?, ?, ?, ?)",
                        [tid, p["id"], run, i, body, content_hash(body)])
            con.execute("INSERT INTO generations (text_id, run_id, prompt_id, sample_index, seed, "
                        "perplexity) VALUES (?, ?, ?, ?, 0, 4.0)", [tid, run, p["id"], i])
            vec = fake_vector(body, src.mean(axis=0), 0.2)
            con.execute("INSERT INTO embeddings VALUES (?, ?, ?, ?, ?)",
                        [content_hash(body), FAKE_MODEL, FAKE_BACKEND, len(vec), vec])
            ids.append(tid)
    return ids


@pytest.mark.slow
def test_cached_umap_places_a_later_run_without_refitting(
        study: Study, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    models = tmp_path / "models"  # this test's own model cache, not the user's
    monkeypatch.setattr(projection_models, "model_cache", lambda fp: models / f"{fp}.pkl")
    build(study, clustered(3, 10, 6, {"narrow": 0.2}, dim=8))
    req = ProjectionRequest(method="umap", n_neighbors=8, embedding_model=FAKE_MODEL,
                            backend=FAKE_BACKEND)
    first = project(study, req, TaskState())
    (umap_map,) = first.maps
    assert not umap_map.cached and umap_map.n_fit == 30 and umap_map.n_placed == 18
    assert [p.name for p in models.iterdir()] == [f"{umap_map.params['fingerprint']}.pkl"]
    before = _points(study, umap_map.projection_id)
    assert len(before) == 48

    new_ids = _add_run(study, "later", 4)

    def no_refit(*_a: object, **_k: object) -> None:
        raise AssertionError("the map was refitted instead of reloading its model")

    monkeypatch.setattr(projection, "fit_umap", no_refit)
    again = project(study, req, TaskState())
    (reloaded,) = again.maps
    assert reloaded.cached and reloaded.projection_id == umap_map.projection_id  # the same stored map
    assert reloaded.n_placed == len(new_ids) == 12  # only the new run was placed
    after = _points(study, umap_map.projection_id)
    assert {k: after[k] for k in before} == before  # no old point moved
    assert set(after) == set(before) | set(new_ids)
    xy = np.array([after[i] for i in new_ids])
    assert np.isfinite(xy).all()
    # each new sample lands nearer its own prompt's human texts than any other prompt's
    rows = study.query("SELECT id, prompt_id, origin FROM texts")
    prompt = {int(r["id"]): int(r["prompt_id"]) for r in rows}
    source = [int(r["id"]) for r in rows if r["origin"] == "source"]
    centres = {p: np.mean([after[i] for i in source if prompt[i] == p], axis=0)
               for p in set(prompt.values())}
    for i in new_ids:
        nearest = min(centres, key=lambda p: float(np.linalg.norm(np.array(after[i]) - centres[p])))
        assert nearest == prompt[i]
