"""Sentiment per text, like the paper's binary classifier: a P(positive) score and a label.

`sentiment.vader`: VADER lexicon rules (instant, no model); value = (compound + 1) / 2.
`sentiment.head`: logistic regression on MiniLM embeddings, trained on IMDB reviews by
`train_sentiment.py`; weights ship in `resources/models/sentiment_head.npz`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from monoscope.core import assets
from monoscope.core.attributes.base import Context, Extractor, TextItem, Value
from monoscope.core.errors import AssetMissing

HEAD_FILE = "sentiment_head.npz"


def _label(p: float) -> str:
    return "POSITIVE" if p >= 0.5 else "NEGATIVE"


def vader_scores(texts: list[str]) -> list[float]:
    """VADER compound scores mapped to [0, 1]."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    return [(analyzer.polarity_scores(t)["compound"] + 1.0) / 2.0 for t in texts]


class VaderExtractor(Extractor):
    """VADER sentiment (the default sentiment attribute: fast and model-free)."""

    name = "sentiment.vader"
    version = "1"
    batch_size = 1000

    def compute(self, ctx: Context, items: list[TextItem]) -> list[Value]:
        analyzer = ctx.cache.get("vader")
        if analyzer is None:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

            analyzer = ctx.cache["vader"] = SentimentIntensityAnalyzer()
        values = []
        for it in items:
            p = (analyzer.polarity_scores(it.body)["compound"] + 1.0) / 2.0
            values.append(Value(p, _label(p)))
        return values


class SentimentHead:
    """A logistic-regression head: P(positive) = σ(x·w + b) on unit MiniLM vectors."""

    def __init__(self, weights: npt.NDArray[np.float64], bias: float, meta: dict[str, Any]) -> None:
        self.weights = weights
        self.bias = bias
        self.meta = meta

    @classmethod
    def load(cls, path: Path | None = None) -> SentimentHead:
        path = path or head_path()
        if not path.is_file():
            raise AssetMissing(
                f"The sentiment head {path} is missing. Train it with "
                "`python -m monoscope.core.attributes.train_sentiment` or reinstall Monoscope."
            )
        with np.load(path) as data:
            meta = {k: data[k].item() for k in data.files if k not in ("weights", "bias")}
            return cls(np.asarray(data["weights"], np.float64), float(data["bias"]), meta)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, Any] = {k: np.asarray(v) for k, v in self.meta.items()}
        arrays.update(weights=self.weights, bias=np.asarray(self.bias))
        np.savez(path, **arrays)

    def predict(self, vectors: npt.ArrayLike) -> npt.NDArray[np.float64]:
        z = np.asarray(vectors, np.float64) @ self.weights + self.bias
        out: npt.NDArray[np.float64] = 1.0 / (1.0 + np.exp(-z))
        return out


def head_path() -> Path:
    return assets.resources_dir() / "models" / HEAD_FILE


class HeadExtractor(Extractor):
    """Sentiment from the trained head on the texts' embeddings (computed first if missing)."""

    name = "sentiment.head"
    version = "1"
    requires = ("embedding",)
    batch_size = 256

    def effective_version(self, ctx: Context) -> str:
        return f"{self.version}/{ctx.request.backend}"

    def compute(self, ctx: Context, items: list[TextItem]) -> list[Value]:
        from monoscope.core.attributes.embedding import ensure_vectors

        head = ctx.cache.get("sentiment_head")
        if head is None:
            head = ctx.cache["sentiment_head"] = SentimentHead.load()
        vectors = ensure_vectors(ctx, [(it.content_hash, it.body) for it in items])
        return [Value(float(p), _label(float(p))) for p in head.predict(vectors)]


EXTRACTORS: list[Extractor] = [VaderExtractor(), HeadExtractor()]
