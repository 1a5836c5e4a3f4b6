"""Goodreads (UCSD Book Graph) reviews as a text dataset: one prompt per book, reviews as texts.

Reads ``goodreads_reviews_*.json.gz`` (JSON lines: user_id, book_id, review_id, rating,
review_text, ...) and optionally ``goodreads_books*.json.gz`` (book_id, title, description).
The paper's filter: keep reviews of ``min_words``..``max_words`` words, books with at least
``min_reviews`` such reviews, and sample ``per_book`` reviews per book (seeded, stable: the order
is md5 of seed and review id). Labels: rating >= 4 'positive', <= 2 'negative', 3 'neutral';
rating 0 (Goodreads' "no rating") is stored as NULL with no label.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb

from monoscope.core.errors import ImportFailed
from monoscope.core.importers.common import (
    STAGE_DDL,
    ImportReport,
    check_target,
    load_staged,
    sql_literal,
)
from monoscope.core.importers.readers import check_file, open_binary, translate_error
from monoscope.core.store import Study
from monoscope.core.tasks import TaskState

_REVIEW_COLS = ("{'book_id': 'VARCHAR', 'review_id': 'VARCHAR', 'user_id': 'VARCHAR', "
                "'rating': 'VARCHAR', 'review_text': 'VARCHAR'}")
_BOOK_COLS = "{'book_id': 'VARCHAR', 'title': 'VARCHAR', 'description': 'VARCHAR'}"


@dataclass(frozen=True)
class GoodreadsOptions:
    """The paper's selection of books and reviews (defaults as in the paper)."""

    min_words: int = 300
    max_words: int = 700
    min_reviews: int = 10
    per_book: int = 10
    max_books: int | None = None
    seed: int = 0

    def validate(self) -> None:
        if self.min_words < 0 or self.max_words < self.min_words:
            raise ImportFailed("--min-words must be >= 0 and no more than --max-words.")
        if self.per_book < 1 or self.min_reviews < 1:
            raise ImportFailed("--per-book and --min-reviews must be at least 1.")
        if self.max_books is not None and self.max_books < 1:
            raise ImportFailed("--max-books must be at least 1 (or left out for all books).")


def _json_reader(path: Path, columns: str) -> str:
    return (f"read_json({sql_literal(str(path))}, format='newline_delimited', columns={columns}, "
            "maximum_object_size=67108864)")


def import_goodreads(
    study: Study,
    reviews: str | Path,
    *,
    books: str | Path | None = None,
    dataset: str = "goodreads",
    options: GoodreadsOptions | None = None,
    append: bool = False,
    state: TaskState | None = None,
) -> ImportReport:
    """Select books and reviews with the paper's filter and import them in one transaction."""
    state = state or TaskState()
    opt = options or GoodreadsOptions()
    opt.validate()
    rpath = Path(reviews).expanduser()
    bpath = Path(books).expanduser() if books else None
    for p in (rpath, bpath):
        if p is not None:
            check_file(p)
    state.begin("import goodreads", 3)
    with study.transaction() as cur:
        check_target(cur, dataset, "text", append)
        cur.execute(STAGE_DDL)
        dropped_dupes = _stage_reviews(cur, rpath, opt)
        state.check()
        if bpath is not None:
            _stage_books(cur, bpath)
        else:
            cur.execute("CREATE OR REPLACE TEMP TABLE _books (book_id VARCHAR, title VARCHAR, description VARCHAR)")
        cur.execute(
            f"""INSERT INTO _stage
            SELECT row_number() OVER (ORDER BY c.book_rank, c.pick), c.book_id,
                   b.title, b.description, c.review_text,
                   CASE WHEN c.rating IS NULL THEN NULL WHEN c.rating >= 4 THEN 'positive'
                        WHEN c.rating <= 2 THEN 'negative' ELSE 'neutral' END,
                   c.rating,
                   json_object('review_id', c.review_id, 'user_id', c.user_id, 'words', c.words),
                   json_object('book_id', c.book_id, 'eligible_reviews', c.n_eligible)
            FROM _chosen c LEFT JOIN _books b ON b.book_id = c.book_id
            WHERE c.pick <= {int(opt.per_book)}"""
        )
        for t in ("_reviews", "_chosen", "_books"):
            cur.execute(f"DROP TABLE IF EXISTS {t}")
        meta = {
            "importer": "goodreads",
            "reviews_file": str(rpath.resolve()),
            "books_file": str(bpath.resolve()) if bpath else None,
            "options": asdict(opt),
            "labels": "rating >= 4 positive, <= 2 negative, 3 neutral, 0 = unrated (NULL)",
            "attribution": "Goodreads data from the UCSD Book Graph (M. Wan and J. McAuley, RecSys 2018).",
        }
        report = load_staged(
            cur, dataset=dataset, kind="text", source_uri=str(rpath.resolve()), meta=meta,
            append=append, state=state, describe_row=lambda n: f"selected review {n}",
            key_column="book_id",
        )
    report.duplicates += dropped_dupes
    if report.rows_read:
        report.notes.append(
            f"kept books with >= {opt.min_reviews} reviews of {opt.min_words}-{opt.max_words} "
            f"words, {opt.per_book} reviews per book (seed {opt.seed})")
    return report


def _stage_reviews(cur: duckdb.DuckDBPyConnection, path: Path, opt: GoodreadsOptions) -> int:
    """Fill ``_chosen`` with the sampled reviews; returns how many duplicate reviews were dropped."""
    try:
        cur.execute(
            f"""CREATE OR REPLACE TEMP TABLE _reviews AS
            SELECT trim(book_id) AS book_id, review_id, user_id, review_text,
                   TRY_CAST(rating AS DOUBLE) AS rating,
                   len(string_split_regex(trim(review_text), '\\s+')) AS words
            FROM {_json_reader(path, _REVIEW_COLS)}"""
        )
    except duckdb.Error as exc:
        raise translate_error(exc, path, "jsonl") from None
    row = cur.execute(
        "SELECT count(*), count(review_text), count(*) FILTER (WHERE book_id IS NULL OR book_id = '') "
        "FROM _reviews").fetchone()
    assert row is not None
    total, with_text, no_key = (int(v) for v in row)
    if with_text == 0:
        raise ImportFailed(
            f"{path} has no 'review_text' field in any of its {total:,} lines: is it a Goodreads "
            "reviews file (goodreads_reviews_*.json.gz)? A books file goes to --books.")
    if no_key:
        raise ImportFailed(f"{_first_line_without(path, 'book_id')}: the review has no book_id, "
                           "so it cannot be grouped into a book. Remove the line or fill it in.")
    cur.execute("UPDATE _reviews SET rating = NULL WHERE rating = 0")
    books_limit = "" if opt.max_books is None else f"LIMIT {int(opt.max_books)}"
    seed = sql_literal(str(opt.seed))
    cur.execute(
        f"""CREATE OR REPLACE TEMP TABLE _chosen AS
        WITH fit AS (
            SELECT * FROM _reviews
            WHERE review_text IS NOT NULL AND words BETWEEN {int(opt.min_words)} AND {int(opt.max_words)}
            QUALIFY row_number() OVER (PARTITION BY book_id, md5(review_text) ORDER BY review_id) = 1
        ), eligible AS (
            SELECT book_id, count(*) AS n_eligible FROM fit GROUP BY book_id
            HAVING count(*) >= {int(opt.min_reviews)}
            ORDER BY md5({seed} || ':' || book_id) {books_limit}
        ), ranked AS (
            SELECT book_id, n_eligible, row_number() OVER (ORDER BY md5({seed} || ':' || book_id)) AS book_rank
            FROM eligible
        )
        SELECT f.*, r.n_eligible, r.book_rank,
               row_number() OVER (PARTITION BY f.book_id
                                  ORDER BY md5({seed} || ':' || coalesce(f.review_id, f.review_text))) AS pick
        FROM fit f JOIN ranked r USING (book_id)"""
    )
    dup = cur.execute(
        f"""SELECT count(*) - count(DISTINCT (book_id, md5(review_text))) FROM _reviews
        WHERE review_text IS NOT NULL AND words BETWEEN {int(opt.min_words)} AND {int(opt.max_words)}"""
    ).fetchone()
    return int(dup[0]) if dup else 0


def _stage_books(cur: duckdb.DuckDBPyConnection, path: Path) -> None:
    try:
        cur.execute(
            f"""CREATE OR REPLACE TEMP TABLE _books AS
            SELECT trim(book_id) AS book_id, any_value(nullif(trim(title), '')) AS title,
                   any_value(nullif(trim(description), '')) AS description
            FROM {_json_reader(path, _BOOK_COLS)}
            WHERE book_id IN (SELECT book_id FROM _chosen)
            GROUP BY 1"""
        )
    except duckdb.Error as exc:
        raise translate_error(exc, path, "jsonl") from None


def _first_line_without(path: Path, field: str) -> str:
    """'FILE, line N' of the first JSON line lacking ``field`` (error path only)."""
    with open_binary(path) as fh:
        for no, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                value = json.loads(raw).get(field)
            except (ValueError, AttributeError):
                continue
            if value is None or str(value).strip() == "":
                return f"{path}, line {no}"
    return str(path)
