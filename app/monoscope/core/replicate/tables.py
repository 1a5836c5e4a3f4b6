"""The paper's tables: one column per run configuration beside the source, same prompts.

Per-prompt statistics come from the measure stage (`MeasureResult.per_prompt`); a table cell is
their mean over the prompts the replication covers (the source column uses the same prompts,
so 20 films are compared with the same 20 films). Corpus-level wording (unigram entropy,
vocabulary) and the pooled topic count depend on corpus size, so they are computed here on
equal footing: per prompt, as many source texts as the run kept after the perplexity filter.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from monoscope import metrics
from monoscope.core.measure import EMBEDDING, MeasureResult
from monoscope.core.store import Study

SOURCE = "source"


@dataclass(frozen=True)
class Metric:
    """One row of a table: the mean over prompts of `stat` of `attribute` (or a corpus stat)."""

    header: str
    attribute: str
    stat: str
    paper: dict[str, float] = field(default_factory=dict)  # the paper's reference numbers


def review_metrics(attributes: Sequence[str]) -> list[Metric]:
    """The reviews table rows that the study has data for; sentiment prefers the trained head."""
    out = []
    sent = next((a for a in ("sentiment.head", "sentiment.vader") if a in attributes), None)
    if sent:
        out += [Metric("mean sentiment (share positive)", sent, "share_positive",
                       {"source": 0.659, "Llama-2-chat T0.8 p0.9": 0.991}),
                Metric("sentiment entropy (bits)", sent, "entropy",
                       {"source": 0.809, "Llama-2-chat T0.8 p0.9": 0.038})]
    if sent == "sentiment.head" and "sentiment.vader" in attributes:
        out += [Metric("mean sentiment, VADER", "sentiment.vader", "share_positive"),
                Metric("sentiment entropy, VADER (bits)", "sentiment.vader", "entropy")]
    out += [Metric("topic entropy (bits)", "topic", "entropy",
                   {"source": 2.181, "Llama-2-chat T0.8 p0.9": 1.42}),
            Metric("embedding mean pairwise cosine", EMBEDDING, "mean_pairwise_cosine")]
    return [m for m in out if m.attribute in attributes]


def code_metrics(attributes: Sequence[str]) -> list[Metric]:
    out = [Metric("algorithms Jaccard", "code.algorithms", "jaccard",
                  {"source": 0.628, "GPT-4": 0.815}),
           Metric("data-structures Jaccard", "code.data_structures", "jaccard"),
           Metric("embedding mean pairwise cosine", EMBEDDING, "mean_pairwise_cosine",
                  {"source": 0.655, "GPT-4": 0.786}),
           Metric("accuracy (share of samples passing all tests)", "code.correct", "accuracy",
                  {"source": 0.692, "GPT-4": 0.829})]
    return [m for m in out if m.attribute in attributes]


@dataclass
class Column:
    key: str  # "source" or "run:<id>"
    label: str
    config: dict[str, Any] = field(default_factory=dict)


@dataclass
class Table:
    title: str
    columns: list[Column]
    rows: list[tuple[str, list[float | None]]]  # (row header, one value per column)
    notes: list[str] = field(default_factory=list)

    def value(self, row: str, column_key: str) -> float | None:
        i = next(i for i, c in enumerate(self.columns) if c.key == column_key)
        return next(vals[i] for head, vals in self.rows if head == row)

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "columns": [c.__dict__ for c in self.columns],
                "rows": [{"metric": h, "values": v} for h, v in self.rows], "notes": self.notes}


def mean_over_prompts(per_prompt: Sequence[dict[str, Any]], group: str, attribute: str,
                      stat: str, prompts: set[str]) -> float | None:
    """Mean of one per-prompt statistic over the given prompts (prompts without it skipped)."""
    vals = [r[stat] for r in per_prompt if r["group"] == group and r["attribute"] == attribute
            and r["prompt"] in prompts and r.get(stat) is not None]
    arr = np.asarray(vals, dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    return float(arr.mean()) if arr.size else None


def assemble(result: MeasureResult, columns: list[Column], metric_rows: list[Metric],
             prompts: Sequence[str], title: str,
             corpus: dict[str, dict[str, float]] | None = None) -> Table:
    """The table: per-prompt means for each metric row, then corpus rows (if given)."""
    keys = set(prompts)
    rows: list[tuple[str, list[float | None]]] = []
    for m in metric_rows:
        rows.append((m.header, [mean_over_prompts(result.per_prompt, c.key, m.attribute, m.stat,
                                                  keys) for c in columns]))
    for head in CORPUS_ROWS:
        if corpus and any(head in corpus.get(c.key, {}) for c in columns):
            rows.append((head, [corpus.get(c.key, {}).get(head) for c in columns]))
    return Table(title, columns, rows)


CORPUS_ROWS = ("unigram entropy (bits)", "vocabulary", "distinct topics (pooled)",
               "texts", "kept by perplexity filter")


def source_sample(study: Study, dataset_id: int, prompts: Sequence[str], n: int
                  ) -> dict[str, list[int]]:
    """Per prompt, the ids of n source texts in a fixed pseudo-random order (content hash)."""
    rows = study.query(
        "SELECT t.id, p.key FROM texts t JOIN prompts p ON p.id = t.prompt_id "
        "WHERE p.dataset_id = ? AND t.run_id IS NULL AND p.key IN (SELECT unnest(?)) "
        "ORDER BY p.key, t.content_hash, t.id", [dataset_id, list(prompts)])
    out: dict[str, list[int]] = {}
    for r in rows:
        ids = out.setdefault(str(r["key"]), [])
        if len(ids) < n:
            ids.append(int(r["id"]))
    return out


def source_rows(study: Study, sample: dict[str, list[int]], attributes: Sequence[str],
                embedding: tuple[str, str]) -> list[dict[str, Any]]:
    """Per-prompt source statistics on the sample, in the measure stage's row layout.

    Entropies grow with the number of texts (at most log2 n bits), so the source is measured
    on as many texts per prompt as each run generated, like the paper's 10 reviews per book.
    """
    ids = [i for v in sample.values() for i in v]
    names = [a for a in attributes if a != EMBEDDING]
    attrs: dict[tuple[int, str], tuple[Any, Any]] = {
        (int(r["text_id"]), str(r["name"])): (r["value"], r["label"]) for r in study.query(
            "SELECT text_id, name, value, label FROM attributes WHERE text_id IN "
            "(SELECT unnest(?)) AND name IN (SELECT unnest(?))", [ids, names])}
    vecs = {int(r["id"]): r["vector"] for r in study.query(
        "SELECT t.id, e.vector FROM texts t JOIN embeddings e ON e.content_hash = t.content_hash "
        "WHERE t.id IN (SELECT unnest(?)) AND e.model = ? AND e.backend = ?",
        [ids, embedding[0], embedding[1]])}
    out: list[dict[str, Any]] = []
    for key, tids in sample.items():
        for name in attributes:
            row: dict[str, Any] = {"prompt": key, "group": SOURCE, "attribute": name}
            if name == EMBEDDING:
                v = [vecs[t] for t in tids if t in vecs]
                if len(v) < 2:
                    continue
                row |= {"n": len(v), "mean_pairwise_cosine": metrics.mean_pairwise_cosine(
                    np.asarray(v, dtype=np.float64))}
            else:
                got = [attrs[(t, name)] for t in tids if (t, name) in attrs]
                if not got:
                    continue
                labels = [lab for _, lab in got if lab is not None]
                cats = [val for val, _ in got] if name == "topic" else labels
                row |= {"n": len(got), "entropy": metrics.entropy(cats) + 0.0}
                if labels and set(labels) <= {"POSITIVE", "NEGATIVE"}:
                    row["share_positive"] = labels.count("POSITIVE") / len(labels)
            out.append(row)
    return out


def keep_mask(perplexities: Sequence[float | None], ppl_max: float | None) -> np.ndarray:
    """The paper's quality filter on generated texts: keep 0 < ppl ≤ ppl_max (None = keep all)."""
    p = np.asarray([math.nan if v is None else v for v in perplexities], dtype=np.float64)
    if ppl_max is None:
        return np.ones(p.shape, dtype=bool)
    return metrics.perplexity_mask(p, ppl_max)


def corpus_stats(study: Study, dataset_id: int, columns: list[Column], prompts: Sequence[str],
                 ppl_max: float | None) -> dict[str, dict[str, float]]:
    """Wording and pooled topics per column on equal-size corpora (see module docstring)."""
    keys = list(prompts)
    rows = study.query(
        "SELECT t.id, t.run_id, t.body, t.content_hash, p.key, g.perplexity, "
        "(SELECT a.value FROM attributes a WHERE a.text_id = t.id AND a.name = 'topic' LIMIT 1) "
        "AS topic FROM texts t JOIN prompts p ON p.id = t.prompt_id "
        "LEFT JOIN generations g ON g.text_id = t.id "
        "WHERE p.dataset_id = ? AND p.key IN (SELECT unnest(?)) ORDER BY t.id",
        [dataset_id, keys])
    source: dict[str, list[dict[str, Any]]] = {}
    by_run: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        if r["run_id"] is None:
            source.setdefault(r["key"], []).append(r)
        else:
            by_run.setdefault(int(r["run_id"]), []).append(r)
    for texts in source.values():  # a fixed pseudo-random order: by content hash
        texts.sort(key=lambda r: r["content_hash"])
    out: dict[str, dict[str, float]] = {}
    kept_per_prompt: list[dict[str, int]] = []
    for c in columns:
        if not c.key.startswith("run:"):
            continue
        gen = by_run.get(int(c.key.split(":", 1)[1]), [])
        mask = keep_mask([r["perplexity"] for r in gen], ppl_max)
        kept = [r for r, k in zip(gen, mask.tolist(), strict=True) if k]
        counts: dict[str, int] = {}
        for r in kept:
            counts[r["key"]] = counts.get(r["key"], 0) + 1
        kept_per_prompt.append(counts)
        out[c.key] = _corpus(kept) | {"texts": float(len(gen)),
                                      "kept by perplexity filter": float(len(kept))}
    # The source corpus matches the largest kept run per prompt (10 per film when nothing is
    # filtered, like the paper's 10 reviews per book).
    want = {k: max((c.get(k, 0) for c in kept_per_prompt), default=len(source.get(k, [])))
            for k in keys}
    src = [r for k in keys for r in source.get(k, [])[: want[k]]]
    out[SOURCE] = _corpus(src) | {"texts": float(len(src))}
    return out


def _corpus(texts: list[dict[str, Any]]) -> dict[str, float]:
    counts = metrics.unigram_counts(r["body"] for r in texts)
    out = {"unigram entropy (bits)": metrics.unigram_entropy(counts),
           "vocabulary": float(metrics.vocabulary_size(counts))}
    topics = {r["topic"] for r in texts if r["topic"] is not None}
    if topics:
        out["distinct topics (pooled)"] = float(len(topics))
    return out
