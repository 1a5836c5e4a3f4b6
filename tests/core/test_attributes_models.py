"""Real-model attribute tests: MiniLM embeddings (torch and int8 ONNX), sentiment head, topics,
and the promise that a second annotate on an unchanged study does no model work."""

from __future__ import annotations

import bz2
import csv
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from attr_helpers import add_dataset, add_prompt, add_texts, attribute_rows

from monoscope.core.attributes import AnnotateRequest, annotate, embedding
from monoscope.core.attributes.sentiment import SentimentHead, vader_scores
from monoscope.core.attributes.topic import ctfidf_labels
from monoscope.core.store import Study

POSITIVE = [
    "A wonderful, moving film with superb acting. I loved it.",
    "One of the best movies of the year: funny, warm and beautifully shot.",
    "An absolute delight from start to finish; I would happily watch it again.",
]
NEGATIVE = [
    "A dull, lifeless mess. I was bored the whole time.",
    "Terrible script, wooden acting and a plot that makes no sense. Avoid it.",
    "The worst film I have seen in years, a complete waste of money.",
]
CATS = ["My cat sleeps on the sofa all day.", "Kittens love to chase strings and play.",
        "The cat purred loudly on my lap.", "Our kitten knocked the vase off the table."]
MARKETS = ["Stock markets fell sharply after the interest rate rise.",
           "Investors sold shares as bond yields climbed.",
           "The central bank raised rates to fight inflation.",
           "Bank shares dropped on fears of a recession."]


def _study(study: Study) -> tuple[list[int], list[int]]:
    ds = add_dataset(study)
    src = add_texts(study, add_prompt(study, ds, "mixed"), POSITIVE + NEGATIVE + CATS + MARKETS)
    gen = add_texts(study, add_prompt(study, ds, "gen"),
                    ["A cat naps in the sun.", "Shares slid as rates rose.", POSITIVE[0]],
                    origin="generated")
    return src, gen


@pytest.mark.slow
def test_torch_embeddings_stored_and_read_back(study: Study) -> None:
    src, gen = _study(study)
    res = annotate(study, AnnotateRequest(attributes=["embedding"]))
    # 17 texts, one generated body repeats a source body -> 16 vectors
    assert res.outcomes[0].computed == 16
    assert study.scalar("SELECT count(*) FROM embeddings WHERE backend = 'torch'") == 16
    ids, vecs = embedding.text_vectors(study, backend="torch")
    assert ids.tolist() == sorted(src + gen)
    assert vecs.dtype == np.float32 and vecs.shape == (17, 384)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    # same vectors as sentence-transformers itself
    from sentence_transformers import SentenceTransformer

    from monoscope.core import assets

    ref = SentenceTransformer(str(assets.locate("minilm")), device="cpu").encode(
        [CATS[0]], normalize_embeddings=True)
    assert float(ref[0] @ vecs[ids.tolist().index(src[6])]) > 0.9999
    # semantics: a cat text is closer to another cat text than to a market text
    by_id = dict(zip(ids.tolist(), vecs, strict=True))
    assert by_id[src[6]] @ by_id[src[7]] > by_id[src[6]] @ by_id[src[10]]
    _, src_only = embedding.text_vectors(study, origin="source")
    assert src_only.shape == (14, 384)


@pytest.mark.slow
def test_onnx_int8_close_to_exact(study: Study) -> None:
    _study(study)
    annotate(study, AnnotateRequest(attributes=["embedding"], backend="torch"))
    annotate(study, AnnotateRequest(attributes=["embedding"], backend="onnx-int8", threads=1))
    rows = study.query("SELECT backend, count(*) AS n FROM embeddings GROUP BY 1 ORDER BY 1")
    assert rows == [{"backend": "onnx-int8", "n": 16}, {"backend": "torch", "n": 16}]
    _, exact = embedding.text_vectors(study, backend="torch")
    _, fast = embedding.text_vectors(study, backend="onnx-int8")
    cos = (exact * fast).sum(axis=1)
    assert cos.mean() > 0.985 and cos.min() > 0.97


@pytest.mark.slow
def test_sentiment_head_beats_chance_and_is_recorded(study: Study) -> None:
    head = SentimentHead.load()
    assert head.weights.shape == (384,)
    # Measured here on held-out labelled texts: Rotten Tomatoes critic snippets (fresh/rotten;
    # the head was trained on IMDB reviews only), a seeded balanced 150 + 150.
    rows: dict[str, list[str]] = {"fresh": [], "rotten": []}
    reviews = embedding.assets.locate("rotten-tomatoes", fetch_if_missing=False)
    with bz2.open(reviews, "rt", encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            if r["category"] in rows:
                rows[r["category"]].append(r["text"])
    rnd = random.Random(0)
    texts = rnd.sample(rows["fresh"], 150) + rnd.sample(rows["rotten"], 150)
    positive = np.array([True] * 150 + [False] * 150)
    head_acc = float(((head.predict(embedding.load_embedder("torch").encode(texts)) >= 0.5)
                      == positive).mean())
    vader_acc = float(((np.array(vader_scores(texts)) >= 0.5) == positive).mean())
    assert head_acc >= 0.65 and head_acc > vader_acc + 0.03, (head_acc, vader_acc)
    src, _ = _study(study)
    annotate(study, AnnotateRequest(attributes=["sentiment.head"]))
    rows = attribute_rows(study, "sentiment.head")
    labels = [rows[i][1] for i in src[:6]]
    correct = sum(lab == want for lab, want in zip(labels, ["POSITIVE"] * 3 + ["NEGATIVE"] * 3,
                                                      strict=True))
    assert correct >= 5
    assert all(rows[i][2] == "1/torch" for i in src)


@pytest.mark.slow
def test_topics_fit_on_source_and_assign_generated(study: Study) -> None:
    src, gen = _study(study)
    annotate(study, AnnotateRequest(attributes=["topic"]))
    topics = study.query("SELECT topic, label, size FROM topics ORDER BY topic")
    assert len(topics) == 3  # choose_k(14) = round(sqrt(14 / 2)) = 3: films, cats, markets
    rows = attribute_rows(study, "topic")
    assert set(rows) == set(src + gen)
    cat_topic = rows[src[6]][0]
    market_topic = rows[src[10]][0]
    assert all(rows[i][0] == cat_topic for i in src[6:10])
    assert all(rows[i][0] == market_topic for i in src[10:14])
    assert cat_topic != market_topic
    assert rows[gen[0]][0] == cat_topic and rows[gen[1]][0] == market_topic
    assert sum(t["size"] for t in topics) == 14
    # a later text is placed with the stored fit (centroids rebuilt from the source vectors)
    late = add_texts(study, add_prompt(study, 1, "late"), ["A kitten asleep in a basket."],
                     origin="generated")
    res = annotate(study, AnnotateRequest(attributes=["topic"]))
    assert [(o.name, o.computed) for o in res.outcomes] == [("embedding", 1), ("topic", 1)]
    assert attribute_rows(study, "topic")[late[0]][0] == cat_topic
    assert study.query("SELECT topic, label, size FROM topics ORDER BY topic") == topics


def test_ctfidf_labels_pick_distinctive_words() -> None:
    labels = ctfidf_labels(CATS + MARKETS, [0] * 4 + [1] * 4, 2, n_words=3)
    assert any(w in labels[0].split() for w in ("cat", "kitten", "kittens"))
    assert any(w in labels[1].split() for w in ("shares", "rates", "bank"))


@pytest.mark.slow
def test_second_annotate_does_no_model_work(study: Study, study_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    _study(study)
    first = annotate(study, AnnotateRequest())
    assert first.computed > 0
    names = {o.name for o in first.outcomes}
    assert {"embedding", "sentiment.vader", "sentiment.head", "text.words", "topic"} <= names

    def no_model(*args: object, **kwargs: object) -> None:
        raise AssertionError("the embedder was loaded on an unchanged study")

    monkeypatch.setattr(embedding, "load_embedder", no_model)
    second = annotate(study, AnnotateRequest())
    assert second.computed == 0
    assert all(o.computed == 0 and o.copied == 0 for o in second.outcomes)
    assert {o.name: o.already for o in second.outcomes}["embedding"] == 17
    study.close()
    # in a fresh process: the CLI run imports neither torch nor onnxruntime
    code = (
        "import sys\n"
        "from monoscope.cli import main\n"
        f"rc = main(['annotate', {str(study_path)!r}, '--json'])\n"
        "heavy = [m for m in ('torch', 'sentence_transformers', 'onnxruntime') if m in sys.modules]\n"
        "print('HEAVY', heavy, rc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "HEAVY [] 0" in out.stdout
    assert '"computed": 0' in out.stdout
