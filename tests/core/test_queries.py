"""Read queries of the explorer against a real DuckDB study written through the real schema."""

from __future__ import annotations

import math
import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from monoscope.core.explore import queries as q
from monoscope.core.store import Study
from monoscope.core.store import datasets as datasets_repo
from monoscope.testing.fixture_study import build_fixture_study


@pytest.fixture(scope="module")
def fx_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template, built once; each test opens its own copy (some measure into it)."""
    path = Path(tmp_path_factory.mktemp("fx")) / "fx.duckdb"
    build_fixture_study(path, n_prompts=6).close()
    return path


@pytest.fixture
def fx(fx_file: Path, tmp_path: Path) -> Iterator[Study]:
    dst = tmp_path / "fx.duckdb"
    shutil.copy(fx_file, dst)
    st = Study(dst)
    yield st
    st.close()


def _ds(st: Study) -> int:
    return datasets_repo.datasets(st)[0].id


def _bits(labels: list[str]) -> float:
    """Shannon entropy in bits, by hand (not the code's metrics.entropy)."""
    n = len(labels)
    return -sum(c / n * math.log2(c / n) for c in (labels.count(x) for x in set(labels)))


def _vectors(st: Study, prompt_id: int, run_id: int | None) -> list[list[float]]:
    rows = st.query(
        "SELECT e.vector FROM texts t JOIN embeddings e ON e.content_hash = t.content_hash "
        "WHERE t.prompt_id = ? AND " + ("t.run_id = ?" if run_id else "t.origin = 'source'"),
        [prompt_id, run_id] if run_id else [prompt_id])
    return [list(r["vector"]) for r in rows]


def _mean_pair_cosine(vecs: list[list[float]]) -> float:
    unit = [[x / math.sqrt(sum(y * y for y in v)) for x in v] for v in vecs]
    n = len(unit)
    total = sum(sum(a * b for a, b in zip(unit[i], unit[j], strict=True))
                for i in range(n) for j in range(n) if i != j)
    return total / (n * (n - 1))


def test_prompt_table_counts_and_index(fx: Study) -> None:
    from monoscope.core.analysis.measure import ensure_measured
    from monoscope.core.tasks import TaskState

    ds = _ds(fx)
    names = q.attribute_names(fx, ds)
    assert {"sentiment.vader", "text.words", "text.ttr", "topic", "embedding"} <= set(names)
    assert q.default_attribute(names) == "embedding"  # the embedding index ranks first
    assert q.default_attribute([n for n in names if n != "embedding"]) == "sentiment.vader"
    unmeasured = q.prompt_table(fx, ds, "sentiment.vader")
    assert not unmeasured.measured and np.isnan(unmeasured.index).all()
    set_id = ensure_measured(fx, ds, TaskState())
    t = q.prompt_table(fx, ds, "sentiment.vader", set_id)
    assert t.measured
    assert len(t) == 6 and [r.label for r in t.runs] == ["instruct T=0.8", "base T=1.2"]
    assert (t.n_source == 30).all() and (t.n_generated == 20).all()
    assert (t.matched_n == 20).all() and (t.coverage == 2).all()
    # Cross-check one cell with an independent Monte Carlo: the run's 20 labels against random
    # 20-label subsets of the prompt's 30 source labels (the people at the run's n).
    pid, run = int(t.prompt_id[2]), t.runs[0].id
    src = [r["label"] for r in fx.query(
        "SELECT a.label FROM attributes a JOIN texts t ON t.id=a.text_id WHERE t.prompt_id=? "
        "AND t.origin='source' AND a.name='sentiment.vader'", [pid])]
    gen = [r["label"] for r in fx.query(
        "SELECT a.label FROM attributes a JOIN texts t ON t.id=a.text_id WHERE t.prompt_id=? "
        "AND t.run_id=? AND a.name='sentiment.vader'", [pid, run])]
    rnd = random.Random(5)
    expected_src = sum(_bits(rnd.sample(src, len(gen))) for _ in range(4000)) / 4000
    assert t.index[2, 0] == pytest.approx(_bits(gen) / expected_src, rel=0.03)
    assert _bits(src) > expected_src  # the whole source would have flattered it
    # the stored dispersions themselves, in bits: the run's 20 labels and the whole source
    assert t.dispersion[2, 0] == pytest.approx(_bits(gen), abs=1e-12)
    assert t.source_dispersion[2] == pytest.approx(_bits(src), abs=1e-12)
    # The fixture's instruct run is built narrower than its base run: the index shows it.
    assert np.nanmean(t.index[:, 0]) < np.nanmean(t.index[:, 1])
    topic = q.prompt_table(fx, ds, "topic", set_id)
    assert np.nanmean(topic.index[:, 0]) < 1.0  # instruct writes about 2 of 5 topics
    emb = q.prompt_table(fx, ds, "embedding", set_id)
    assert np.isfinite(emb.index).all() and np.nanmean(emb.index[:, 0]) < 1.0
    # Every cell against an independent value: 1 − the mean cosine over pairs i ≠ j, by a
    # plain double loop. The expected dispersion of a random 20 of the 30 source texts equals
    # the whole source's (a U-statistic), so the stored index (the run over the mean of 200
    # source subsets) sits within the Monte Carlo error of the exact ratio.
    for i, pid in enumerate(emb.prompt_id.tolist()):
        for j, run in enumerate(emb.runs):
            g_disp = 1.0 - _mean_pair_cosine(_vectors(fx, pid, run.id))
            s_disp = 1.0 - _mean_pair_cosine(_vectors(fx, pid, None))
            assert emb.dispersion[i, j] == pytest.approx(g_disp, abs=1e-5)
            assert emb.index[i, j] == pytest.approx(g_disp / s_disp, rel=0.02), (i, j)
    # the people's own range at n = 20 is there for every cell and contains 1
    assert (emb.human_lo < 1).all() and (emb.human_hi > 1).all()


def test_points_prompt_and_dataset(fx: Study) -> None:
    ds = _ds(fx)
    p = q.points(fx, ds, "book-002")
    assert p is not None and len(p) == 70
    assert (p.group == 0).sum() == 30 and (p.group == 1).sum() == 20 and (p.group == 2).sum() == 20
    pid = fx.scalar("SELECT id FROM prompts WHERE key='book-002'")
    n = fx.scalar("SELECT count(*) FROM texts WHERE prompt_id=?", [pid])
    assert n == 70 and fx.scalar(
        "SELECT count(*) FROM texts WHERE prompt_id=? AND id IN (SELECT unnest(?))",
        [pid, p.text_id.tolist()]) == 70
    allp = q.points(fx, ds, None)
    assert allp is not None and len(allp) == 6 * 70


def test_attribute_values_aligned(fx: Study) -> None:
    ds = _ds(fx)
    p = q.points(fx, ds, "book-003")
    assert p is not None
    ids = p.text_id[::-1].copy()  # any order
    vals, _ = q.attribute_values(fx, ids, "text.words")
    for i in (0, 7, 33):
        want = fx.scalar("SELECT value FROM attributes WHERE text_id=? AND name='text.words'",
                         [int(ids[i])])
        body = fx.scalar("SELECT body FROM texts WHERE id=?", [int(ids[i])])
        assert vals[i] == want == len(body.split())
    _, tl = q.attribute_values(fx, ids, "topic")
    assert all(isinstance(x, str) for x in tl)


def test_text_detail_nearest_and_typicality(fx: Study) -> None:
    ds = _ds(fx)
    p = q.points(fx, ds, "book-001")
    assert p is not None
    gen_id = int(p.text_id[p.group == 1][0])
    d = q.text_detail(fx, gen_id)
    assert d is not None and d["origin"] == "generated" and d["model"] == "fixture-instruct"
    assert d["sampling"]["temperature"] == 0.8 and d["perplexity"] > 0
    assert "sentiment.vader" in d["attributes"]
    near = q.nearest_source(fx, gen_id, k=4)
    assert len(near) == 4
    sims = [n["similarity"] for n in near]
    assert sims == sorted(sims, reverse=True)
    # brute force over all source texts of the prompt
    pid = int(fx.scalar("SELECT prompt_id FROM texts WHERE id=?", [gen_id]))
    ids, rid, vecs = q._prompt_vectors(fx, pid)
    me = vecs[ids == gen_id][0]
    best = max(float(vecs[i] @ me) for i in np.flatnonzero(rid < 0))
    assert sims[0] == pytest.approx(best, rel=1e-5)
    assert all(fx.scalar("SELECT origin FROM texts WHERE id=?", [n["text_id"]]) == "source"
               for n in near)
    generic, atypical = q.generic_and_atypical(fx, pid, n=3)
    assert len(generic) == 3 and generic[0]["distance"] <= atypical[0]["distance"]
    t = q.typicality(fx, pid)
    assert len(t.text_id) == 40 and t.knn_distance.min() == pytest.approx(generic[0]["distance"])


@pytest.mark.parametrize("attribute", ["sentiment.vader", "topic", "text.words"])
def test_index_agrees_with_measure_stage(fx: Study, attribute: str) -> None:
    """The prompt table shows exactly the measure stage's stored index (one computation)."""
    from monoscope.core.analysis.measure import MeasureRequest, measure
    from monoscope.core.tasks import TaskState

    ds = _ds(fx)
    res = measure(fx, MeasureRequest(), TaskState())
    t = q.prompt_table(fx, ds, attribute, res.set_id)
    for i, key in enumerate(t.key):
        for j, run in enumerate(t.runs):
            want = res.value(f"run:{run.id}", attribute, "index", f"run:{run.id}", key)
            got = t.index[i, j]
            assert (np.isnan(got) and np.isnan(want)) or got == want, (key, run.label)


def test_small_reads_are_reused_until_the_next_write(fx: Study) -> None:
    """Run labels and the newest map are read once per study write, and a write (a new run,
    a new map) shows at once; a second study of another file keeps its own values."""
    from monoscope.core.store import projections as maps_repo
    from monoscope.core.store import runs as runs_repo

    ds = _ds(fx)
    first = q.run_labels(fx, ds)
    assert [label for _, label in first] == ["instruct T=0.8", "base T=1.2"]
    before = fx.writes
    assert q.run_labels(fx, ds) == first and fx.writes == before
    (rid,) = runs_repo.create_runs(fx, None, [runs_repo.NewRun(
        ds, "added later", "fake", "t", "{}", "{}", 2, 1, "{}", None, {})])
    assert fx.writes > before
    assert q.run_labels(fx, ds) == [*first, (rid, "added later")]
    old = q.points(fx, ds, "book-001")
    assert old is not None
    assert old.projection_id != 0
    pid = maps_repo.create(fx, ds, "prompt:book-001", "umap", {}, "x")
    # a new UMAP map of the prompt (still without points) is its newest map now
    new = q.points(fx, ds, "book-001")
    assert new is not None and new.projection_id == pid and new.method == "umap"
    assert len(new) == 0
