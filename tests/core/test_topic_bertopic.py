"""BERTopic as the study's topic model (issue 14, item 7): a real fit on real critic snippets.

The study holds 75 Rotten Tomatoes snippets of three films (the bundled corpus) as source texts
and four snippets of a fourth film as generated texts; MiniLM embeds them (torch), BERTopic fits
on the stored vectors (nothing downloaded), and the choice is remembered by the study.
"""

from __future__ import annotations

import bz2
import csv
import json

import numpy as np
import pytest

import monoscope.core.store.attributes as attributes_repo
from monoscope.cli import main
from monoscope.core import assets
from monoscope.core.attributes import AnnotateRequest, annotate
from monoscope.core.attributes.embedding import text_vectors
from monoscope.core.attributes.topic import TopicModelError, fit_bertopic
from monoscope.core.explore.queries import topic_fit
from monoscope.core.store import Study
from monoscope.core.store import topics as topics_repo

from .attr_helpers import add_dataset, add_prompt, add_texts, attribute_rows

pytestmark = pytest.mark.slow

PER_FILM = 25


def snippets() -> dict[str, list[str]]:
    """The first four films with ≥ 25 critic snippets of 40-300 characters, 25 each."""
    path = assets.locate("rotten-tomatoes")
    out: dict[str, list[str]] = {}
    with bz2.open(path, "rt", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["category"] == "plot" or not 40 <= len(row["text"]) <= 300:
                continue
            films = out.setdefault(row["movie_name"], [])
            if len(films) < PER_FILM and row["text"] not in films:
                films.append(row["text"])
            full = [k for k, v in out.items() if len(v) == PER_FILM]
            if len(full) == 4:
                return {k: out[k] for k in full}
    raise AssertionError("the corpus has fewer than four films with 25 snippets")


def build(study: Study) -> tuple[list[int], list[int]]:
    films = snippets()
    ds = add_dataset(study)
    src: list[int] = []
    names = list(films)
    for name in names[:3]:
        src += add_texts(study, add_prompt(study, ds, name), films[name])
    gen = add_texts(study, add_prompt(study, ds, names[3]), films[names[3]][:4],
                    origin="generated")
    return src, gen


def test_bertopic_fit_stored_assigned_and_remembered(study: Study,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    src, gen = build(study)
    annotate(study, AnnotateRequest(attributes=["topic"], topic_model="bertopic"))
    # the choice is stored in the study
    assert topics_repo.chosen_model(study) == "bertopic"
    topics = study.query("SELECT topic, label, size, version FROM topics ORDER BY topic")
    k = len(topics)
    assert k >= 2
    assert [t["topic"] for t in topics] == list(range(k))
    assert {t["version"] for t in topics} == {"bertopic-1/torch"}
    assert all(t["label"] and len(t["label"].split()) <= 4 for t in topics)
    # every source text has a topic (outliers reassigned), sizes add up, ids by size
    rows = attribute_rows(study, "topic")
    assert set(rows) == set(src + gen)
    src_topic = np.array([int(rows[i][0]) for i in src])  # type: ignore[arg-type]
    sizes = [t["size"] for t in topics]
    assert sizes == np.bincount(src_topic, minlength=k).tolist() and sum(sizes) == len(src)
    assert sizes == sorted(sizes, reverse=True)
    assert all(rows[i][1] == topics[int(rows[i][0])]["label"] for i in src + gen)  # type: ignore[arg-type]
    # generated texts: the topic whose embedding (mean of its source vectors) is most cosine-similar
    ids, vecs = text_vectors(study, text_ids=src + gen, backend="torch")
    vec = {int(i): v for i, v in zip(ids, vecs, strict=True)}
    tvec = np.stack([np.mean([vec[i] for i, t in zip(src, src_topic, strict=True) if t == c], axis=0)
                     for c in range(k)])
    tvec /= np.linalg.norm(tvec, axis=1, keepdims=True)
    for i in gen:
        want = int(np.argmax(tvec @ (vec[i] / np.linalg.norm(vec[i]))))
        assert rows[i][0] == want

    # the same seed gives the same topics: a second fit on the stored vectors
    bodies = [r["body"] for r in study.query(
        "SELECT body FROM texts WHERE origin = 'source' ORDER BY id")]
    src_vecs = np.stack([vec[i] for i in sorted(src)])
    labels1, words1 = fit_bertopic(bodies, src_vecs, seed=0)
    labels2, words2 = fit_bertopic(bodies, src_vecs, seed=0)
    assert labels1.tolist() == labels2.tolist() and words1 == words2
    assert words1 == [t["label"] for t in topics]
    assert labels1.tolist() == [int(rows[i][0]) for i in sorted(src)]  # type: ignore[arg-type]

    # a later annotate without a choice keeps BERTopic and the fit; a new text is placed by it
    late = add_texts(study, add_prompt(study, 1, "late"), [bodies[0]], origin="generated")
    res = annotate(study, AnnotateRequest(attributes=["topic"]))
    assert [(o.name, o.computed) for o in res.outcomes] == [("embedding", 0), ("topic", 1)]
    assert attribute_rows(study, "topic")[late[0]][0] == rows[sorted(src)[0]][0]
    assert study.query("SELECT topic, label, size, version FROM topics ORDER BY topic") == topics

    # info and the report say which model produced the topics
    assert topic_fit(study, 1) == (f"BERTopic (UMAP + HDBSCAN + c-TF-IDF): {k} topics fitted "
                                   "on the source texts")
    study.close()
    capsys.readouterr()
    assert main(["info", str(study.path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["topic_model"] == "bertopic"
    assert info["datasets"][0]["topics"] == {"model": "bertopic", "k": k}
    assert main(["info", str(study.path)]) == 0
    out = capsys.readouterr().out
    assert f"topics: BERTopic (UMAP + HDBSCAN + c-TF-IDF), {k}" in out
    assert "topic model: BERTopic" in out

    # switching back to k-means refits with k-means (choose_k(75) = 6) and remembers it
    with Study(study.path) as st:
        annotate(st, AnnotateRequest(attributes=["topic"], topic_model="kmeans"))
        assert topics_repo.chosen_model(st) == "kmeans"
        assert st.query("SELECT DISTINCT version FROM topics") == [{"version": "2/torch"}]
        assert st.scalar("SELECT count(*) FROM topics") == 6
        assert set(attribute_rows(st, "topic")) == set(src + gen + late)
        assert topics_repo.fitted(st) == {1: ("kmeans", 6)}


def test_bertopic_fit_and_assignments_are_one_transaction(study: Study,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure while the source assignments are written leaves neither fit nor assignments."""
    src, _ = build(study)
    annotate(study, AnnotateRequest(attributes=["embedding"]))

    def fail(*_a: object, **_k: object) -> None:
        assert study.scalar("SELECT count(*) FROM topics") == 0  # other connections: not yet
        raise RuntimeError("disk gone")

    monkeypatch.setattr(attributes_repo, "insert_rows", fail)
    with pytest.raises(RuntimeError, match="disk gone"):
        annotate(study, AnnotateRequest(attributes=["topic"], topic_model="bertopic"))
    assert study.scalar("SELECT count(*) FROM topics") == 0
    assert study.scalar("SELECT count(*) FROM attributes WHERE name = 'topic'") == 0
    monkeypatch.undo()
    annotate(study, AnnotateRequest(attributes=["topic"]))  # remembered: BERTopic again
    assert study.scalar("SELECT min(version) FROM topics") == "bertopic-1/torch"
    assert study.scalar("SELECT sum(size) FROM topics") == len(src)


def test_bertopic_refuses_too_few_texts_with_a_way_out() -> None:
    vecs = np.eye(10, 384, dtype=np.float32)
    with pytest.raises(TopicModelError, match=r"at least 20 source texts.*--topic-model kmeans"):
        fit_bertopic([f"text {i}" for i in range(10)], vecs)
