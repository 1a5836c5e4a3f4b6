"""Full-text search read model on a real study file: word matching (every term, as a word),
BM25 scores against a Python computation of the same formula, scopes, rows and CSV export."""

from __future__ import annotations

import csv
import math
import re
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from attr_helpers import add_dataset, add_prompt, add_texts

from monoscope.core.explore.search import (
    SearchError,
    SearchRequest,
    export_csv,
    search,
    selection_rows,
    terms_of,
)
from monoscope.core.store import Study

FILMS = ["A dull film with a dull plot.", "The plot thickens, the film soars.",
         "Plotting is not a plot: dullness is not dull.", "Café society, in a film_noir mood.",
         "Nothing here matches."]
BOOKS = ["A dull book.", "The plot of the book is dull, dull, dull and long."]


def _study(study: Study) -> tuple[int, list[int], list[int]]:
    ds = add_dataset(study)
    a = add_texts(study, add_prompt(study, ds, "films"), FILMS)
    b = add_texts(study, add_prompt(study, ds, "books"), BOOKS, origin="generated")
    add_texts(study, add_prompt(study, add_dataset(study, "other"), "x"), ["dull plot"])
    return ds, a, b


def _bm25(bodies: dict[int, str], terms: list[str]) -> dict[int, float]:
    """Okapi BM25 (k1 1.2, b 0.75, length in characters) of the texts holding every term."""
    words = {i: re.findall(r"\w+", b.lower()) for i, b in bodies.items()}
    n, avgdl = len(bodies), sum(len(b) for b in bodies.values()) / len(bodies)
    df = {t: sum(t in w for w in words.values()) for t in terms}
    out = {}
    for i, w in words.items():
        if all(t in w for t in terms):
            dl = len(bodies[i])
            out[i] = sum(math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5)) * w.count(t) * 2.2
                         / (w.count(t) + 1.2 * (0.25 + 0.75 * dl / avgdl)) for t in terms)
    return out


def test_words_all_terms_and_bm25(study: Study) -> None:
    ds, films, books = _study(study)
    bodies = dict(zip(films + books, FILMS + BOOKS, strict=True))
    for query in ("dull", "DULL plot", "plot", "film_noir", "café", "dull plot film"):
        terms = terms_of(query)
        res = search(SearchRequest(study, ds, query))
        want = _bm25(bodies, terms)
        assert set(res.ids.tolist()) == set(want), query
        got = {h.text_id: h.score for h in res.hits}
        assert got == pytest.approx(want, rel=1e-9), query
        scores = [h.score for h in res.hits]
        assert scores == sorted(scores, reverse=True)
    # words, not substrings: "dullness" and "Plotting" do not match; repeated words count
    res = search(SearchRequest(study, ds, "dull"))
    assert res.ids.tolist()[0] == films[0]  # twice in a short text beats thrice in a long one
    assert films[2] in res.ids.tolist()  # "... is not dull."
    assert search(SearchRequest(study, ds, "plott")).total == 0
    assert search(SearchRequest(study, ds, "cafe")).total == 0  # no accent folding


def test_scope_rows_snippets_and_export(study: Study, tmp_path: Path) -> None:
    ds, films, books = _study(study)
    res = search(SearchRequest(study, ds, "dull", prompt_key="books"))
    assert res.ids.tolist() == [books[1], books[0]] and res.prompt_key == "books"
    h = res.hits[0]
    assert (h.prompt_key, h.prompt_title, h.group) == ("books", "Books", "#1")
    assert h.snippet == BOOKS[1]
    # "film_noir" is one word: two texts hold "film"
    assert [x.group for x in search(SearchRequest(study, ds, "film")).hits] == ["source"] * 2
    with pytest.raises(SearchError, match="no prompt 'nope'"):
        search(SearchRequest(study, ds, "dull", prompt_key="nope"))
    with pytest.raises(SearchError, match="no word"):
        search(SearchRequest(study, ds, "?!"))
    with pytest.raises(SearchError, match="embedding"):
        search(SearchRequest(study, ds, "a sad film", mode="semantic"))
    long = "word " * 100 + "needle in the middle " + "word " * 100
    (tid,) = add_texts(study, add_prompt(study, ds, "long"), [long])
    (hit,) = search(SearchRequest(study, ds, "needle")).hits
    assert hit.text_id == tid and hit.snippet.startswith("…") and hit.snippet.endswith("…")
    assert "needle in the middle" in hit.snippet and len(hit.snippet) <= 202
    rows = selection_rows(study, [books[0], films[0], films[0]])
    assert [(r.text_id, r.snippet) for r in rows] == [(films[0], FILMS[0]), (books[0], BOOKS[0])]
    assert all(np.isnan(r.score) for r in rows)
    out = export_csv(res.hits, tmp_path / "hits.csv")
    with out.open(encoding="utf-8") as fh:
        got = list(csv.reader(fh))
    assert got[0] == ["text_id", "prompt_key", "prompt_title", "group", "score", "snippet"]
    assert [r[0] for r in got[1:]] == [str(books[1]), str(books[0])]
    assert got[1][5] == BOOKS[1] and float(got[1][4]) == pytest.approx(res.hits[0].score)
    with pytest.raises(SearchError, match="Choose another folder"):
        export_csv(res.hits, tmp_path / "missing" / "hits.csv")
