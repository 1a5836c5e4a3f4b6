"""Clean-ups applied to staged texts: escaped HTML decoded, suspicious columns reported.

Review dumps (IMDB, Amazon, Rotten Tomatoes scrapes) often carry HTML entities (``&#039;``,
``&amp;``) and ``<br />`` line breaks. A column is treated as escaped HTML only when that is
clear: at least `MIN_HTML_VALUES` values and at least `MIN_HTML_SHARE` of its non-empty values
hold an entity or a ``<br>``; then entities are decoded (Python's `html.unescape`) and ``<br>``
becomes a line break in exactly those values. Other markup is kept as written.
"""

from __future__ import annotations

import html
import re

from monoscope.core.store import staging
from monoscope.core.store.staging import Stage, StagedText

HTML_MODES = ("auto", "keep")
MIN_HTML_VALUES = 2
MIN_HTML_SHARE = 0.01
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)


def _unescape(value: str) -> str:
    return html.unescape(_BR.sub("\n", value))


def decode_html(stage: Stage, columns: list[StagedText]) -> dict[StagedText, int]:
    """Decode escaped HTML in the ``_stage`` columns that clearly hold it; {column: values changed}."""
    if not columns:
        return {}
    out: dict[StagedText, int] = {}
    for column, (hits, total) in staging.html_counts(stage, columns).items():
        if hits >= MIN_HTML_VALUES and hits >= MIN_HTML_SHARE * total:
            out[column] = hits
    staging.unescape_html(stage, list(out), _unescape)
    return out


def number_only_note(stage: Stage, name: str) -> str | None:
    """A warning when every non-empty text is a number: the mapping most likely picked the wrong column."""
    numbers, example = staging.number_bodies(stage)
    if not numbers:
        return None
    if staging.filled_bodies(stage) != numbers:
        return None
    return (f"every text in column {name!r} is a number (e.g. {str(example).strip()!r}): is text= "
            "mapped to the right column?")
