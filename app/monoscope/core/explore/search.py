"""Read model of the explorer's search: full-text and semantic search over a dataset's (or one
prompt's) source and generated texts, and the rows that list found or selected texts.

    result = search(SearchRequest(study, dataset_id, "boring plot"), TaskState())
    result.ids        # every matching text id (text mode), best first
    result.hits[0]    # Hit(text_id, prompt_key, prompt_title, group, score, snippet)

Text mode: the query's words (runs of letters, digits and underscores, lower-cased, as Python's
``\\w+``) must all occur as words in a text; hits are ranked by Okapi BM25 (k1 = 1.2,
b = 0.75, document length in characters, collection = the texts in scope), computed in SQL by
`monoscope.core.store.search.text_matches`. Semantic mode: the query is embedded with the
study's embedder (all-MiniLM-L6-v2, the backend of the stored vectors) and the ``limit``
texts with the highest cosine similarity to it are the hits. The model loads (seconds) in the
calling worker thread on first use and stays loaded for later queries.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from monoscope.core.errors import MonoscopeError
from monoscope.core.explore.export import write_csv
from monoscope.core.explore.labels import run_label
from monoscope.core.store import Study
from monoscope.core.store import datasets as datasets_repo
from monoscope.core.store import embeddings as embeddings_repo
from monoscope.core.store import search as repo
from monoscope.core.tasks import TaskState

MODES = ("text", "semantic")
MAX_TERMS = 16
WORD = re.compile(r"\w+")
CSV_COLUMNS = ("text_id", "prompt_key", "prompt_title", "group", "score", "snippet")
_EMBEDDERS: dict[str, Any] = {}  # backend -> loaded embedder (kept for the next query)
_EMBEDDER_LOCK = threading.Lock()


class SearchError(MonoscopeError):
    """A query that cannot run (empty, unknown mode, no vectors for semantic search)."""


@dataclass(frozen=True)
class SearchRequest:
    study: Study
    dataset_id: int
    query: str
    mode: str = "text"  # "text" or "semantic"
    prompt_key: str | None = None  # None: the whole dataset
    limit: int = 200  # hits listed (text mode: every match is in `ids`); semantic: hits found


@dataclass(frozen=True)
class Hit:
    """A text found or selected, as the tables list it; ``group`` is `source` or the run's
    label, ``score`` BM25 (text), cosine similarity (semantic) or NaN (a selection)."""

    text_id: int
    prompt_key: str
    prompt_title: str
    group: str
    score: float
    snippet: str
    run_id: int | None = None

    def row(self) -> tuple[Any, ...]:
        return (self.text_id, self.prompt_key, self.prompt_title, self.group,
                "" if np.isnan(self.score) else round(self.score, 6), self.snippet)


@dataclass
class SearchResult:
    query: str
    mode: str
    prompt_key: str | None
    terms: list[str]
    ids: npt.NDArray[np.int64]  # every hit's text id, best first (what the map lights)
    hits: list[Hit] = field(default_factory=list)  # the first `limit` of them, with rows
    seconds: float = 0.0
    note: str = ""  # e.g. which embedding backend answered

    @property
    def total(self) -> int:
        return int(self.ids.size)


def terms_of(query: str) -> list[str]:
    """The query's words as text search matches them: lower case, unique, in order."""
    return list(dict.fromkeys(WORD.findall(query.lower())))


def search(req: SearchRequest, state: TaskState | None = None) -> SearchResult:
    """Run one query (see the module docstring); a `SearchError` says what to change."""
    state = state or TaskState()
    if req.mode not in MODES:
        raise SearchError(f"Unknown search mode {req.mode!r}: use one of {', '.join(MODES)}.")
    if not req.query.strip():
        raise SearchError("Type a word or a sentence to search for.")
    t0 = time.perf_counter()
    prompt_id = None
    if req.prompt_key is not None:
        prompt_id = datasets_repo.prompt_id(req.study, req.dataset_id, req.prompt_key)
        if prompt_id is None:
            raise SearchError(f"The dataset has no prompt {req.prompt_key!r}; choose a prompt "
                              "or search the whole dataset.")
    if req.mode == "text":
        result = _text_search(req, prompt_id, state)
    else:
        result = _semantic_search(req, prompt_id, state)
    result.seconds = time.perf_counter() - t0
    return result


def _text_search(req: SearchRequest, prompt_id: int | None, state: TaskState) -> SearchResult:
    terms = terms_of(req.query)
    if not terms:
        raise SearchError("The query holds no word (letters or digits) to search for.")
    if len(terms) > MAX_TERMS:
        raise SearchError(f"Use at most {MAX_TERMS} words in a text search "
                          f"(the query has {len(terms)}).")
    state.check()
    ids, scores = repo.text_matches(req.study, req.dataset_id, prompt_id, terms)
    state.check()
    top = ids[: req.limit]
    hits = _hits(req.study, top, scores[: req.limit], near=terms[0])
    return SearchResult(req.query, "text", req.prompt_key, terms, ids, hits)


def _semantic_search(req: SearchRequest, prompt_id: int | None, state: TaskState
                     ) -> SearchResult:
    from monoscope.core.attributes.base import EMBEDDING_MODEL

    pair = embeddings_repo.most_common(req.study, req.dataset_id, EMBEDDING_MODEL, "torch")
    if pair is None or pair[0] != EMBEDDING_MODEL:
        raise SearchError(f"Semantic search needs the texts' {EMBEDDING_MODEL} embeddings: "
                          "run Annotate with the `embedding` attribute (monoscope annotate "
                          "--attributes embedding) first.")
    backend = pair[1]
    ids, vecs = repo.scope_vectors(req.study, req.dataset_id, prompt_id, EMBEDDING_MODEL, backend)
    state.check()
    if not ids.size:
        raise SearchError("No text in this scope has an embedding yet: run Annotate "
                          "(embedding) on the dataset first.")
    query_vec = embed_query(req.query, backend)
    state.check()
    sims = vecs @ query_vec
    k = min(req.limit, ids.size)
    order = np.argsort(-sims, kind="stable")[:k]  # ties keep the smaller text id first
    top = ids[order]
    hits = _hits(req.study, top, sims[order].astype(np.float64))
    return SearchResult(req.query, "semantic", req.prompt_key, [], top, hits,
                        note=f"{EMBEDDING_MODEL} ({backend}), {ids.size:,} texts compared")


def embed_query(query: str, backend: str) -> npt.NDArray[np.float32]:
    """The query's unit vector from the study's embedder (loaded once per backend, here, in
    the calling thread; the import and the load take seconds the first time)."""
    from monoscope.core.attributes.embedding import load_embedder

    with _EMBEDDER_LOCK:
        emb = _EMBEDDERS.get(backend)
        if emb is None:
            emb = _EMBEDDERS[backend] = load_embedder(backend, threads=1)
    vec: npt.NDArray[np.float32] = emb.encode([query])[0]
    return np.asarray(vec, dtype=np.float32)


def _hits(study: Study, ids: npt.NDArray[np.int64], scores: npt.NDArray[np.float64],
          near: str | None = None) -> list[Hit]:
    rows = repo.text_rows(study, ids.tolist(), near=near)
    by_id = {int(r["id"]): r for r in rows}
    out = []
    for tid, score in zip(ids.tolist(), scores.tolist(), strict=True):
        r = by_id.get(int(tid))
        if r is not None:
            out.append(_hit(r, float(score)))
    return out


def _hit(r: dict[str, Any], score: float) -> Hit:
    group = "source" if r["origin"] == "source" else run_label(int(r["run_id"]),
                                                                  str(r["run_label"] or ""))
    snippet = " ".join(str(r["snippet"] or "").split())
    if r["cut_before"]:
        head, _, rest = snippet.partition(" ")
        snippet = "…" + (rest if rest and len(head) < 20 else snippet)  # no half word first
    if r["cut_after"]:
        snippet += "…"
    return Hit(int(r["id"]), str(r["prompt_key"]), str(r["prompt_title"] or ""), group, score,
               snippet, None if r["run_id"] is None else int(r["run_id"]))


def selection_rows(study: Study, text_ids: Sequence[int], limit: int = 20_000) -> list[Hit]:
    """Rows (prompt, group, snippet) of selected texts, by text id (at most ``limit``)."""
    ids = sorted({int(i) for i in text_ids})[:limit]
    return [_hit(r, float("nan")) for r in repo.text_rows(study, ids)]


def export_csv(hits: Sequence[Hit], path: str | Path) -> Path:
    """Write hits (or selection rows) to a CSV file with a header (`CSV_COLUMNS`)."""
    path = Path(path)
    if path.suffix.lower() != ".csv":
        path = path.with_suffix(".csv")
    return write_csv(path, CSV_COLUMNS, (h.row() for h in hits), SearchError)
