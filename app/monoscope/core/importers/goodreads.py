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

from monoscope.core.errors import ImportFailed
from monoscope.core.importers.common import ImportReport, check_target, load_staged
from monoscope.core.importers.readers import check_file, open_binary, read_errors
from monoscope.core.store import Study, staging
from monoscope.core.store.staging import Stage
from monoscope.core.tasks import TaskState


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
    with staging.import_transaction(study) as stage:
        check_target(stage, dataset, "text", append)
        staging.create_stage_tables(stage)
        dropped_dupes = _stage_reviews(stage, rpath, opt)
        state.check()
        if bpath is not None:
            staging.stage_goodreads_books(stage, bpath, read_errors(bpath, "jsonl"))
        else:
            staging.no_goodreads_books(stage)
        staging.stage_goodreads_selection(stage, opt.per_book)
        meta = {
            "importer": "goodreads",
            "reviews_file": str(rpath.resolve()),
            "books_file": str(bpath.resolve()) if bpath else None,
            "options": asdict(opt),
            "labels": "rating >= 4 positive, <= 2 negative, 3 neutral, 0 = unrated (NULL)",
            "attribution": "Goodreads data from the UCSD Book Graph (M. Wan and J. McAuley, RecSys 2018).",
        }
        report = load_staged(
            stage, dataset=dataset, kind="text", source_uri=str(rpath.resolve()), meta=meta,
            append=append, state=state, describe_row=lambda n: f"selected review {n}",
            key_column="book_id",
        )
    report.duplicates += dropped_dupes
    if report.rows_read:
        report.notes.append(
            f"kept books with >= {opt.min_reviews} reviews of {opt.min_words}-{opt.max_words} "
            f"words, {opt.per_book} reviews per book (seed {opt.seed})")
    return report


def _stage_reviews(stage: Stage, path: Path, opt: GoodreadsOptions) -> int:
    """Stage the sampled reviews; returns how many duplicate reviews were dropped."""
    total, with_text, no_key = staging.stage_goodreads_reviews(stage, path, read_errors(path, "jsonl"))
    if with_text == 0:
        raise ImportFailed(
            f"{path} has no 'review_text' field in any of its {total:,} lines: is it a Goodreads "
            "reviews file (goodreads_reviews_*.json.gz)? A books file goes to --books.")
    if no_key:
        raise ImportFailed(f"{_first_line_without(path, 'book_id')}: the review has no book_id, "
                           "so it cannot be grouped into a book. Remove the line or fill it in.")
    return staging.sample_goodreads_reviews(
        stage, min_words=opt.min_words, max_words=opt.max_words, min_reviews=opt.min_reviews,
        max_books=opt.max_books, seed=opt.seed)


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
