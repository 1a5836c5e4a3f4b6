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


# -- runs ------------------------------------------------------------------------------------
SOURCE_LABEL = "source (human)"


def run_label(run_id: int, label: str) -> str:
    """How every legend, picker, caption and tooltip names a run: '#<id> <label>' (the stored
    label, e.g. 'smollm2 personalized T=1 p=0.95', with the id first so two runs of one model
    at one setting stay apart, and so a label cut at its end keeps the id)."""
    tag = f"#{int(run_id)}"
    text = " ".join(str(label or "").split())
    if text == tag or text.startswith(tag + " "):
        return text
    return f"{tag} {text}" if text else tag


def run_short_label(run_id: int, model: str) -> str:
    """A run's name where little room is left (the prompt table's headers): '#<id> <model>',
    e.g. '#1 smollm2' (the id first, so a header cut at its end keeps it)."""
    name = " ".join(str(model or "").split())
    return f"#{int(run_id)} {name}" if name else f"#{int(run_id)}"


def group_label(key: str, label: str = "") -> str:
    """The label of a group key: 'source (human)' for 'source', `run_label` for 'run:<id>'
    (another key: the label given, else the key)."""
    if key == "source":
        return SOURCE_LABEL
    head, _, tail = key.partition(":")
    if head == "run" and tail.isdigit():
        return run_label(int(tail), label)
    return label or key


def elide(label: str, size: int) -> str:
    """A label cut to ``size`` characters in the middle ('…'), so a run's '#id' (at the start)
    and its sampling (at the end) both stay."""
    if len(label) <= size:
        return label
    head = (size - 1) // 2
    return label[:head] + "…" + label[len(label) - (size - 1 - head):]
