"""Plain names of the attributes, the one mapping every view, picker and caption uses.

`attribute_label("sentiment.vader")` is "Sentiment (VADER)"; an attribute without an entry
(e.g. one brought from elsewhere) shows its stored name.
"""

from __future__ import annotations

ATTRIBUTE_LABELS: dict[str, str] = {
    "embedding": "Embedding spread",
    "sentiment.vader": "Sentiment (VADER)",
    "sentiment.head": "Sentiment (MiniLM head)",
    "text.words": "Length (words)",
    "text.ttr": "Type-token ratio",
    "topic": "Topic",
    "code.cyclomatic": "Cyclomatic complexity",
    "code.correct": "Share of tests passed",
    "code.algorithms": "Algorithm tags",
    "code.data_structures": "Data-structure tags",
    "code.judge_algorithms": "Algorithm tags (LLM judge)",
    "code.wall_ms": "Wall time (ms)",
    "code.peak_kb": "Peak memory (kB)",
    "wording": "Wording",
}


def attribute_label(name: str) -> str:
    """The plain name of an attribute (its stored name when it has none)."""
    return ATTRIBUTE_LABELS.get(name, name)


TOPIC_MODEL_LABELS: dict[str, str] = {
    "kmeans": "k-means + c-TF-IDF",
    "bertopic": "BERTopic (UMAP + HDBSCAN + c-TF-IDF)",
}


def topic_model_label(name: str) -> str:
    """The plain name of a topic model (`kmeans`, `bertopic`)."""
    return TOPIC_MODEL_LABELS.get(name, name)
