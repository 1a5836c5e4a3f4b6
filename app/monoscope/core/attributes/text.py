"""Per-text length and lexical variety: `text.words` and `text.ttr` (context-free, instant).

Tokens follow `monoscope.core.analysis.metrics.tokenize` (lower-cased, contractions expanded, alphabetic),
the same rule as the corpus-level wording measures, so per-text and per-set numbers agree.
"""

from __future__ import annotations

from monoscope.core.analysis.metrics import tokenize
from monoscope.core.attributes.base import Context, Extractor, TextItem, Value


class WordsExtractor(Extractor):
    """Length in words."""

    name = "text.words"
    version = "1"
    batch_size = 2000

    def compute(self, ctx: Context, items: list[TextItem]) -> list[Value]:
        return [Value(float(len(tokenize(it.body)))) for it in items]


class TypeTokenExtractor(Extractor):
    """Type-token ratio: distinct words / words (0 for an empty text)."""

    name = "text.ttr"
    version = "1"
    batch_size = 2000

    def compute(self, ctx: Context, items: list[TextItem]) -> list[Value]:
        values = []
        for it in items:
            toks = tokenize(it.body)
            values.append(Value(len(set(toks)) / len(toks) if toks else 0.0))
        return values


EXTRACTORS: list[Extractor] = [WordsExtractor(), TypeTokenExtractor()]
