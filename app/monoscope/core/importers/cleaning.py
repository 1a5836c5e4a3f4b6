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


def _looks_html(column: str) -> str:
    # contains() first, the regular expression only on the few candidates: a CASE makes DuckDB
    # skip it (an AND did not: 0.28 s vs 0.03 s on 100k texts)
    return (f"(CASE WHEN contains({column}, '&') OR contains({column}, '<') "
            f"THEN regexp_matches({column}, '{_HTML_SQL}') ELSE false END)")


def decode_html(cur: duckdb.DuckDBPyConnection, columns: list[str]) -> dict[str, int]:
    """Decode escaped HTML in the ``_stage`` columns that clearly hold it; {column: values changed}."""
    if not columns:
        return {}
    counts = ", ".join(f"count(*) FILTER (WHERE {_looks_html(c)}), count({c})" for c in columns)
    row = cur.execute(f"SELECT {counts} FROM _stage").fetchall()[0]
    # fetchall above: create_function refuses a connection with an unfinished result
    out: dict[str, int] = {}
    for i, column in enumerate(columns):
        hits, total = int(row[2 * i]), int(row[2 * i + 1])
        if hits >= MIN_HTML_VALUES and hits >= MIN_HTML_SHARE * total:
            out[column] = hits
    if out:
        cur.create_function("_monoscope_unescape", _unescape, ["VARCHAR"], "VARCHAR")
        try:
            for column in out:
                cur.execute(f"UPDATE _stage SET {column} = _monoscope_unescape({column}) "
                            f"WHERE {_looks_html(column)}")
        finally:
            cur.remove_function("_monoscope_unescape")
    return out


def number_only_note(cur: duckdb.DuckDBPyConnection, name: str) -> str | None:
    """A warning when every non-empty text is a number: the mapping most likely picked the wrong column."""
    number = f"strlen(body) < 40 AND regexp_matches(body, '{_NUMBER_SQL}')"
    row = cur.execute(
        f"SELECT count(*) FILTER (WHERE {number}), any_value(body) FILTER (WHERE {number}) FROM _stage"
    ).fetchone()
    if not row or not row[0]:
        return None
    filled = cur.execute("SELECT count(*) FILTER (WHERE regexp_matches(body, '\\S')) FROM _stage").fetchone()
    if not filled or filled[0] != row[0]:
        return None
    return (f"every text in column {name!r} is a number (e.g. {str(row[1]).strip()!r}): is text= "
            "mapped to the right column?")
