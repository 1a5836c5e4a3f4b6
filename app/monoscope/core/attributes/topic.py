"""Topics: k-means clusters fitted on a dataset's SOURCE embeddings, generated texts assigned.

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
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from monoscope.core.analysis.metrics import tokenize
from monoscope.core.attributes.base import Context, Extractor, Outcome, Value
from monoscope.core.store import attributes as attributes_repo
from monoscope.core.store import topics as topics_repo

MAX_TOPICS = 50
LABEL_WORDS = 4
MIN_SOURCE_TEXTS = 4


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

    def effective_version(self, ctx: Context) -> str:
        return f"{self.version}/{ctx.request.backend}"

    def run(self, ctx: Context, dataset_id: int, dataset: str) -> Outcome:
        from monoscope.core.attributes.embedding import ensure_vectors

        out = Outcome(self.name, dataset)
        version = self.effective_version(ctx)
        items = attributes_repo.pending(ctx.study, dataset_id, self.name, version)
        ctx.state.begin(f"topic ({dataset})", len(items))
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
            k = choose_k(len(source))
            labels = fit_topics(vecs, k)
            words = ctfidf_labels([it.body for it in source], labels.tolist(), k)
            rows = [(it.text_id, Value(float(c), words[c])) for it, c in zip(source, labels, strict=True)]
            sizes = np.bincount(labels, minlength=k)
            # the fit and the source texts' assignments: one transaction
            topics_repo.save_fit(ctx.study, dataset_id, self.name, version, words,
                                 [int(n) for n in sizes], rows)
            out.computed += len(rows)
            items = [it for it in items if it.origin != "source"]
            ctx.state.progress(len(rows), len(rows) + len(items))
            cents = centroids(vecs, labels, k)
        else:
            words = fitted
            cents = self._stored_centroids(ctx, dataset_id, version, len(words))
        done0 = out.computed
        for start in range(0, len(items), 512):
            ctx.state.check()
            batch = items[start : start + 512]
            vecs = ensure_vectors(ctx, [(it.content_hash, it.body) for it in batch])
            ids = assign(vecs, cents)
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

    def _stored_centroids(self, ctx: Context, dataset_id: int, version: str, k: int) -> npt.NDArray[np.float64]:
        from monoscope.core.attributes.embedding import text_vectors

        topic_of = {t: int(v) for t, v in attributes_repo.values(
            ctx.study, dataset_id, self.name, version, origin="source").items()}
        ids, vecs = text_vectors(ctx.study, text_ids=list(topic_of), backend=ctx.request.backend)
        labels = np.array([topic_of[int(i)] for i in ids], dtype=np.int64)
        return centroids(vecs, labels, k)


EXTRACTORS: list[Extractor] = [TopicExtractor()]
