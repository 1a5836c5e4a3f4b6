"""Topics: clusters fitted on a dataset's SOURCE embeddings, generated texts assigned.

Two topic models, chosen per study (`annotate --topic-model`, remembered in the study):
`kmeans` (default, below) and `bertopic` (the paper's method, `fit_bertopic`).

Fitting on the human texts only keeps the topic map anchored to what people wrote, so runs
and models are compared on the same clusters. k follows a rule (√(n/2), between 2 and 50),
seeded. Each cluster is labelled with its most distinctive words by class-based TF-IDF
(c-TF-IDF): a word's share of the cluster times log(1 + mean cluster size / word frequency),
times log(1 + k / number of clusters using the word).
The fit is stored in `topics`; later texts go to the nearest centroid, whose position is the
mean of the source vectors of that topic (exactly the k-means centroid).

The fit and the source texts' assignments are written in ONE transaction: a crash leaves either
both or neither. A resume checks what it builds on (every topic's stored size equals its
assigned source texts) and refits a fit that does not hold up, e.g. one left by an older
version that committed them separately, instead of placing every text in topic 0.

BERTopic (Grootendorst 2022) on the stored MiniLM vectors, nothing downloaded (the embeddings
are passed in): UMAP to 5 dimensions (15 neighbours, min_dist 0, cosine, seeded), HDBSCAN
(minimum cluster size 10, or n/20 for fewer than 200 texts, at least 2; `eom` cluster
selection), c-TF-IDF labels with English stop words; HDBSCAN's outliers (topic -1) are then
given their nearest topic by embedding (BERTopic's `reduce_outliers(strategy="embeddings")`)
and the labels refitted (`update_topics`), so every human text has a topic as with k-means.
Later texts go to the topic whose embedding (the mean of its source vectors, as BERTopic
computes `topic_embeddings_`) is most cosine-similar: BERTopic's own `transform` for a model
without its UMAP/HDBSCAN parts, reproducible from the stored assignments.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from monoscope.core.analysis.metrics import tokenize
from monoscope.core.attributes.base import Context, Extractor, Outcome, Value
from monoscope.core.errors import MonoscopeError
from monoscope.core.store import attributes as attributes_repo
from monoscope.core.store import topics as topics_repo

MAX_TOPICS = 50
LABEL_WORDS = 4
MIN_SOURCE_TEXTS = 4
BERTOPIC_VERSION = "1"
BERTOPIC_MIN_TEXTS = 20
SEED = 0


class TopicModelError(MonoscopeError):
    """The chosen topic model cannot fit the dataset's source texts."""


def bertopic_min_cluster_size(n: int) -> int:
    """HDBSCAN's minimum cluster size: BERTopic's default 10, n/20 below 200 texts, ≥ 2."""
    return max(2, min(10, n // 20))


def fit_bertopic(bodies: Sequence[str], vectors: npt.NDArray[np.float32], seed: int = SEED
                 ) -> tuple[npt.NDArray[np.int64], list[str]]:
    """BERTopic on precomputed embeddings: one topic id per text (outliers reassigned) and
    each topic's label (its top c-TF-IDF words). Raises TopicModelError when HDBSCAN finds no
    cluster."""
    import warnings

    try:
        from bertopic import BERTopic
        from hdbscan import HDBSCAN
    except ModuleNotFoundError as exc:
        raise TopicModelError(
            f"BERTopic is not installed ({exc.name} is missing): run `bash packaging/setup.sh` "
            "or `pip install 'monoscope[topics]'`, or use `annotate --topic-model kmeans`."
        ) from None
    from sklearn.feature_extraction.text import CountVectorizer
    from umap import UMAP

    n = len(bodies)
    if n < BERTOPIC_MIN_TEXTS:
        raise TopicModelError(
            f"BERTopic needs at least {BERTOPIC_MIN_TEXTS} source texts, the dataset has {n}: "
            "use `annotate --topic-model kmeans`, or import more texts.")
    docs = list(bodies)
    model = BERTopic(
        umap_model=UMAP(n_neighbors=min(15, n - 1), n_components=5, min_dist=0.0,
                        metric="cosine", random_state=seed),
        hdbscan_model=HDBSCAN(min_cluster_size=bertopic_min_cluster_size(n), metric="euclidean",
                              cluster_selection_method="eom", prediction_data=True),
        vectorizer_model=CountVectorizer(stop_words="english"), top_n_words=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # UMAP: "n_jobs overridden by setting random_state"
        topics, _ = model.fit_transform(docs, embeddings=np.asarray(vectors, dtype=np.float32))
        found = sorted({int(t) for t in topics if t >= 0})
        if not found:
            raise TopicModelError(
                f"BERTopic found no topic among the {n} source texts (HDBSCAN put every text "
                "among its outliers): use `annotate --topic-model kmeans` for this study.")
        if any(t < 0 for t in topics):
            topics = model.reduce_outliers(docs, topics, strategy="embeddings",
                                           embeddings=np.asarray(vectors, dtype=np.float32))
            model.update_topics(docs, topics=topics,
                                vectorizer_model=CountVectorizer(stop_words="english"))
    ids = np.asarray(topics, dtype=np.int64)
    # topic ids 0..k-1 by size (BERTopic's order), every id used
    order = sorted(set(ids.tolist()), key=lambda t: (-int((ids == t).sum()), t))
    remap = {t: i for i, t in enumerate(order)}
    labels = np.array([remap[int(t)] for t in ids], dtype=np.int64)
    words = []
    for t in order:
        top = [w for w, _ in (model.get_topic(t) or [])][:LABEL_WORDS]
        words.append(" ".join(top) if top else f"topic {remap[t]}")
    return labels, words


def topic_vectors(vectors: npt.NDArray[np.float32], labels: npt.NDArray[np.int64], k: int
                  ) -> npt.NDArray[np.float64]:
    """BERTopic's topic embeddings: the mean of each topic's (source) vectors."""
    out = np.zeros((k, vectors.shape[1]))
    for c in range(k):
        members = vectors[labels == c]
        if len(members):
            out[c] = members.mean(axis=0)
    return out


def assign_cosine(vectors: npt.NDArray[np.float32], topic_vecs: npt.NDArray[np.float64]
                  ) -> npt.NDArray[np.int64]:
    """The topic whose embedding is most cosine-similar (BERTopic's transform without UMAP)."""
    a = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    b = topic_vecs / np.maximum(np.linalg.norm(topic_vecs, axis=1, keepdims=True), 1e-12)
    return np.asarray((a @ b.T).argmax(axis=1), dtype=np.int64)


def choose_k(n: int) -> int:
    """Number of topics for n source texts: round(√(n/2)) clamped to [2, 50] (and < n)."""
    return max(2, min(MAX_TOPICS, round(math.sqrt(n / 2)), n - 1))


def fit_topics(vectors: npt.NDArray[np.float32], k: int, seed: int = 0) -> npt.NDArray[np.int64]:
    """Seeded k-means on unit vectors; returns one topic id per row."""
    from sklearn.cluster import KMeans

    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    km = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(unit)
    return np.asarray(km.labels_, dtype=np.int64)


def centroids(vectors: npt.NDArray[np.float32], labels: npt.NDArray[np.int64], k: int) -> npt.NDArray[np.float64]:
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    out = np.zeros((k, vectors.shape[1]))
    for c in range(k):
        members = unit[labels == c]
        if len(members):
            out[c] = members.mean(axis=0)
    return out


def assign(vectors: npt.NDArray[np.float32], cents: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    """Nearest centroid (Euclidean on unit vectors, as k-means measured it)."""
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    d = (unit**2).sum(1)[:, None] - 2 * unit @ cents.T + (cents**2).sum(1)[None, :]
    return np.asarray(d.argmin(axis=1), dtype=np.int64)


def ctfidf_labels(bodies: Sequence[str], labels: Sequence[int], k: int, n_words: int = LABEL_WORDS) -> list[str]:
    """Most distinctive words of each cluster by c-TF-IDF, stop words left out.

    BERTopic's weight tf·log(1 + A/f) times log(1 + k/df) over clusters: on film reviews the
    plain weight labels many clusters "film movie ..."; the spread term demotes such words.
    """
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    per: list[Counter[str]] = [Counter() for _ in range(k)]
    for body, c in zip(bodies, labels, strict=True):
        per[c].update(w for w in tokenize(body) if len(w) > 2 and w not in ENGLISH_STOP_WORDS)
    freq: Counter[str] = Counter()
    spread: Counter[str] = Counter()  # in how many clusters a word occurs
    for cnt in per:
        freq.update(cnt)
        spread.update(set(cnt))
    avg = sum(freq.values()) / k if k else 0.0
    out = []
    for c, cnt in enumerate(per):
        total = sum(cnt.values())
        if not total:
            out.append(f"topic {c}")
            continue
        score = {w: (n / total) * math.log(1 + avg / freq[w]) * math.log(1 + k / spread[w])
                 for w, n in cnt.items()}
        best = sorted(score, key=lambda w: (-score[w], w))[:n_words]
        out.append(" ".join(best))
    return out


class TopicExtractor(Extractor):
    """`topic` attribute (value = topic id, label = its words) and the `topics` table."""

    name = "topic"
    version = "2"  # 2: labels weigh in the spread of a word over clusters
    requires = ("embedding",)
    context_free = False

    def model(self, ctx: Context) -> str:
        """The study's topic model (the request's, when it names one, is stored first)."""
        key = "topic.model"
        if key not in ctx.cache:
            if ctx.request.topic_model is not None:
                topics_repo.choose_model(ctx.study, ctx.request.topic_model)
            ctx.cache[key] = topics_repo.chosen_model(ctx.study)
        return str(ctx.cache[key])

    def effective_version(self, ctx: Context) -> str:
        if self.model(ctx) == "bertopic":
            return f"bertopic-{BERTOPIC_VERSION}/{ctx.request.backend}"
        return f"{self.version}/{ctx.request.backend}"

    def run(self, ctx: Context, dataset_id: int, dataset: str) -> Outcome:
        from monoscope.core.attributes.embedding import ensure_vectors

        out = Outcome(self.name, dataset)
        version = self.effective_version(ctx)
        bert = self.model(ctx) == "bertopic"
        items = attributes_repo.pending(ctx.study, dataset_id, self.name, version)
        ctx.state.begin(f"topic ({dataset}, {self.model(ctx)})", len(items))
        if not items:
            out.already = attributes_repo.count_texts(ctx.study, dataset_id)
            return out
        fitted = topics_repo.labels(ctx.study, dataset_id, version)
        if fitted and not self._fit_holds(ctx, dataset_id, version, len(fitted)):
            topics_repo.drop_fit(ctx.study, dataset_id, self.name)
            fitted = []
            items = attributes_repo.pending(ctx.study, dataset_id, self.name, version)
        if not fitted:
            source = [it for it in items if it.origin == "source"]
            if len(source) < MIN_SOURCE_TEXTS:
                return out  # too few human texts to define topics; nothing to write
            vecs = ensure_vectors(ctx, [(it.content_hash, it.body) for it in source])
            if bert:
                labels, words = fit_bertopic([it.body for it in source], vecs)
                k = len(words)
            else:
                k = choose_k(len(source))
                labels = fit_topics(vecs, k)
                words = ctfidf_labels([it.body for it in source], labels.tolist(), k)
            ctx.state.check()
            rows = [(it.text_id, Value(float(c), words[c])) for it, c in zip(source, labels, strict=True)]
            sizes = np.bincount(labels, minlength=k)
            # the fit and the source texts' assignments: one transaction
            topics_repo.save_fit(ctx.study, dataset_id, self.name, version, words,
                                 [int(n) for n in sizes], rows)
            out.computed += len(rows)
            items = [it for it in items if it.origin != "source"]
            ctx.state.progress(len(rows), len(rows) + len(items))
            cents = topic_vectors(vecs, labels, k) if bert else centroids(vecs, labels, k)
        else:
            words = fitted
            cents = self._stored_centroids(ctx, dataset_id, version, len(words), bert)
        place = assign_cosine if bert else assign
        done0 = out.computed
        for start in range(0, len(items), 512):
            ctx.state.check()
            batch = items[start : start + 512]
            vecs = ensure_vectors(ctx, [(it.content_hash, it.body) for it in batch])
            ids = place(vecs, cents)
            attributes_repo.write(ctx.study, self.name, version,
                                  [(it.text_id, Value(float(c), words[c]))
                                   for it, c in zip(batch, ids, strict=True)])
            out.computed += len(batch)
            ctx.state.progress(done0 + start + len(batch), done0 + len(items))
        return out

    def _fit_holds(self, ctx: Context, dataset_id: int, version: str, k: int) -> bool:
        """Every stored topic has exactly its stored size of assigned source texts (so centroids exist)."""
        rows = topics_repo.fit_counts(ctx.study, dataset_id, self.name, version)
        return len(rows) == k and all(n >= size > 0 for _, size, n in rows)

    def _stored_centroids(self, ctx: Context, dataset_id: int, version: str, k: int,
                          bert: bool = False) -> npt.NDArray[np.float64]:
        from monoscope.core.attributes.embedding import text_vectors

        topic_of = {t: int(v) for t, v in attributes_repo.values(
            ctx.study, dataset_id, self.name, version, origin="source").items()}
        ids, vecs = text_vectors(ctx.study, text_ids=list(topic_of), backend=ctx.request.backend)
        labels = np.array([topic_of[int(i)] for i in ids], dtype=np.int64)
        return topic_vectors(vecs, labels, k) if bert else centroids(vecs, labels, k)


EXTRACTORS: list[Extractor] = [TopicExtractor()]
