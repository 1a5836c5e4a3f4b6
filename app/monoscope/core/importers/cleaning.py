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

import duckdb

HTML_MODES = ("auto", "keep")
MIN_HTML_VALUES = 2
MIN_HTML_SHARE = 0.01
# entities people do not type by hand; plus <br>, the markup review dumps carry most
_HTML_SQL = r"(&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|amp|lt|gt|quot|apos|nbsp);|<[bB][rR]\s*/?>)"
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_NUMBER_SQL = r"^\s*[-+]?[0-9]+([.,][0-9]+)?\s*$"


def _unescape(value: str) -> str:
    return html.unescape(_BR.sub("\n", value))


def decode_html(cur: duckdb.DuckDBPyConnection, column: str) -> int:
    """Decode escaped HTML in ``_stage.<column>`` if the column clearly holds it; values changed."""
    match = f"regexp_matches({column}, '{_HTML_SQL}')"
    row = cur.execute(
        f"SELECT count(*) FILTER (WHERE {match}), count(*) FILTER (WHERE regexp_matches({column}, '\\S')) "
        "FROM _stage"
    ).fetchall()[0]  # fetchall: create_function refuses a connection with an unfinished result
    hits, total = int(row[0]), int(row[1])
    if hits < MIN_HTML_VALUES or hits < MIN_HTML_SHARE * total:
        return 0
    cur.create_function("_monoscope_unescape", _unescape, ["VARCHAR"], "VARCHAR")
    try:
        cur.execute(f"UPDATE _stage SET {column} = _monoscope_unescape({column}) WHERE {match}")
    finally:
        cur.remove_function("_monoscope_unescape")
    return hits


def number_only_note(cur: duckdb.DuckDBPyConnection, name: str) -> str | None:
    """A warning when every non-empty text is a number: the mapping most likely picked the wrong column."""
    row = cur.execute(
        f"SELECT count(*) FILTER (WHERE regexp_matches(body, '{_NUMBER_SQL}')), "
        "count(*) FILTER (WHERE regexp_matches(body, '\\S')), "
        f"any_value(body) FILTER (WHERE regexp_matches(body, '{_NUMBER_SQL}')) FROM _stage"
    ).fetchone()
    if not row or not row[1] or row[0] != row[1]:
        return None
    return (f"every text in column {name!r} is a number (e.g. {str(row[2]).strip()!r}): is text= "
            "mapped to the right column?")
