"""The paper's tables: one column per run configuration beside the source, same prompts.

Every cell is a stored aggregate of the measure stage: a run's mean over its prompts at matched
n, the source measured on the same prompts at the same n per prompt (so 20 films are compared
with the same 20 films, 10 texts with 10 texts), corpus-level wording and pooled topics on
equal-size corpora, and the monoculture index beside the people's own range. Nothing is
computed here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from monoscope.core.analysis.measure import EMBEDDING, WORDING, MeasureResult

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


def source_ref(result: MeasureResult, columns: list[Column]) -> str | None:
    """The run whose matched source stands in the source column: the run compared at the
    largest n per prompt (all runs of a preset share prompts; the perplexity filter can leave
    runs with fewer texts)."""
    best: tuple[int, str] | None = None
    for c in columns:
        if not c.key.startswith("run:"):
            continue
        rows = [r for r in result.rows if r["grp"] == c.key and r["ref"] == c.key
                and r["prompt"] is None and r["stat"] == "index"]
        n = max((int(r["n"] or 0) for r in rows), default=-1)
        if n >= 0 and (best is None or n > best[0]):
            best = (n, c.key)
    return best[1] if best else None


def cell_value(result: MeasureResult, column: Column, attribute: str, stat: str,
               ref: str | None) -> float | None:
    """A stored aggregate: a run over its prompts at matched n; the source matched to `ref`."""
    r = result.cell(column.key, attribute, stat, column.key if column.key != SOURCE else ref
                    or "")
    return None if r is None or r["value"] is None else float(r["value"])


def assemble(result: MeasureResult, columns: list[Column], metric_rows: list[Metric],
             prompts: Sequence[str], title: str) -> Table:
    """The table from stored rows: per-prompt means for each metric, the corpus measures, the
    monoculture index per run with the people's range at the same n."""
    ref = source_ref(result, columns)
    rows: list[tuple[str, list[float | None]]] = []
    for m in metric_rows:
        rows.append((m.header, [cell_value(result, c, m.attribute, m.stat, ref)
                                for c in columns]))
    for head, attr, stat in CORPUS_ROWS:
        vals = [cell_value(result, c, attr, stat, ref) for c in columns]
        if any(v is not None for v in vals):
            rows.append((head, vals))
    texts = [result.cell(c.key, WORDING, "texts") for c in columns]
    rows.append(("texts kept (perplexity filter)",
                 [None if t is None or t["value"] is None or c.key == SOURCE else t["value"]
                  for c, t in zip(columns, texts, strict=True)]))
    for m in metric_rows:
        if not any(result.cell(c.key, m.attribute, "index", c.key) for c in columns):
            continue
        rows.append((f"index, {m.attribute}", [
            None if c.key == SOURCE else cell_value(result, c, m.attribute, "index", ref)
            for c in columns]))
        lo_hi = [result.cell(SOURCE, m.attribute, "index", c.key) for c in columns]
        rows.append((f"people's range, {m.attribute}", [
            None if r is None or r["lo"] is None else float(r["lo"]) for r in lo_hi]))
        rows.append((f"people's range (high), {m.attribute}", [
            None if r is None or r["hi"] is None else float(r["hi"]) for r in lo_hi]))
    table = Table(title, columns, rows)
    n = next((r["n"] for r in result.rows if r["grp"] == ref and r["ref"] == ref
              and r["prompt"] is None and r["n"]), None)
    table.notes.append(f"{len(prompts)} prompts. The source column is the people measured on "
                       f"the same prompts at the runs' number of texts per prompt (n = {n}, "
                       "random subsets, averaged over draws); each run's index compares it "
                       "with the people at its own n, beside the range of indices that people "
                       "score against themselves at that n.")
    return table


CORPUS_ROWS = (("unigram entropy (bits)", WORDING, "unigram_entropy"),
               ("vocabulary", WORDING, "vocabulary"),
               ("distinct topics (pooled)", "topic", "pooled_distinct"))
