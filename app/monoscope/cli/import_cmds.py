"""`import`, `import-goodreads`, `import-codecontests` and `import-demo` subcommands."""

from __future__ import annotations

import argparse
from typing import Any

from monoscope.core.importers import (
    DEMOS,
    MAX_TEXT_BYTES,
    CodeContestsOptions,
    ColumnMap,
    GoodreadsOptions,
    ImportReport,
    import_codecontests,
    import_demo,
    import_goodreads,
    import_table,
)
from monoscope.core.store import Study
from monoscope.core.tasks import ConsoleState

_ATOMIC = "The import is one transaction: if anything fails, the study is left unchanged."


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "import", help="import human texts from a CSV / JSON-lines / Parquet file",
        description=(
            "Import one table of human-written texts. Each row is one text for one prompt; "
            "--map says which column is which: key (groups rows into prompts; required), text "
            "(required), title, context, label, rating. Empty texts and texts over "
            f"{MAX_TEXT_BYTES // 1_000_000} MB are skipped, exact duplicates (same key and text) "
            f"kept once; the report counts each. {_ATOMIC}"),
        epilog="example: monoscope import books.duckdb reviews.csv --dataset books "
               "--map key=book_id,title=book_title,text=review_text,rating=stars")
    p.add_argument("study", help="study file (created if missing)")
    p.add_argument("file", help="CSV, JSON lines or Parquet file (.gz allowed for CSV/JSON)")
    p.add_argument("--dataset", required=True, help="name of the dataset to create")
    p.add_argument("--map", required=True, dest="mapping", metavar="ROLE=COLUMN,...",
                   help="column mapping, e.g. key=book_id,text=review_text,title=book_title")
    p.add_argument("--format", choices=["csv", "jsonl", "parquet"], help="default: from the file name")
    p.add_argument("--kind", choices=["text", "code"], default="text", help="text (default) or code")
    p.add_argument("--encoding", default="utf-8", choices=["utf-8", "latin-1", "utf-16"],
                   help="CSV text encoding (default utf-8)")
    p.add_argument("--append", action="store_true",
                   help="add to an existing dataset of that name (exact duplicates are skipped)")
    p.add_argument("--keep-html", action="store_true", help=(
        "store texts as written; by default a column that clearly holds escaped HTML has its "
        "entities (&amp;, &#039;) and <br> line breaks decoded, and the report says so"))
    p.set_defaults(handler=cmd_import)

    p = sub.add_parser(
        "import-goodreads", help="import Goodreads reviews (UCSD Book Graph) with the paper's filter",
        description=(
            "One prompt per book, reviews as texts. Keeps reviews of --min-words..--max-words "
            "words, books with at least --min-reviews such reviews, and samples --per-book reviews "
            "per book. Label: rating >= 4 positive, <= 2 negative, 3 neutral (0 = unrated). "
            + _ATOMIC))
    p.add_argument("study")
    p.add_argument("reviews", help="goodreads_reviews_*.json.gz")
    p.add_argument("--books", help="goodreads_books*.json.gz (titles and descriptions)")
    p.add_argument("--dataset", default="goodreads")
    p.add_argument("--min-words", type=int, default=300)
    p.add_argument("--max-words", type=int, default=700)
    p.add_argument("--min-reviews", type=int, default=10)
    p.add_argument("--per-book", type=int, default=10)
    p.add_argument("--max-books", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--append", action="store_true")
    p.set_defaults(handler=cmd_goodreads)

    p = sub.add_parser(
        "import-codecontests", help="import CodeContests problems and Python 3 solutions",
        description=(
            "Problems become prompts (description as context), Python 3 solutions become code "
            "texts, public/private tests go to the prompt's tests. " + _ATOMIC))
    p.add_argument("study")
    p.add_argument("file", help="CodeContests Parquet or JSON-lines file")
    p.add_argument("--dataset", default="codecontests")
    p.add_argument("--format", choices=["jsonl", "parquet"])
    p.add_argument("--min-solutions", type=int, default=4)
    p.add_argument("--per-problem", type=int, default=10)
    p.add_argument("--max-problems", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--append", action="store_true")
    p.set_defaults(handler=cmd_codecontests)

    p = sub.add_parser(
        "import-demo", help="import a bundled demo dataset (films, algorithms)",
        description=(
            "films: Rotten Tomatoes critic snippets for ~300 films (Pang & Lee 2004). "
            "algorithms: human Python solutions to named tasks, with tests. "
            "Importing a demo that is already in the study does nothing."))
    p.add_argument("study")
    p.add_argument("name", choices=[*DEMOS, "all"])
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.set_defaults(handler=cmd_demo)


def _print(report: ImportReport) -> None:
    print("\n".join(report.lines()))


def cmd_import(args: argparse.Namespace) -> int:
    with Study(args.study) as st:
        report = import_table(
            st, args.file, dataset=args.dataset, mapping=ColumnMap.parse(args.mapping),
            kind=args.kind, fmt=args.format, encoding=args.encoding, append=args.append,
            html="keep" if args.keep_html else "auto", state=ConsoleState(quiet=True),
        )
    _print(report)
    return 0


def cmd_goodreads(args: argparse.Namespace) -> int:
    opt = GoodreadsOptions(min_words=args.min_words, max_words=args.max_words,
                           min_reviews=args.min_reviews, per_book=args.per_book,
                           max_books=args.max_books, seed=args.seed)
    with Study(args.study) as st:
        report = import_goodreads(st, args.reviews, books=args.books, dataset=args.dataset,
                                  options=opt, append=args.append, state=ConsoleState(quiet=True))
    _print(report)
    return 0


def cmd_codecontests(args: argparse.Namespace) -> int:
    opt = CodeContestsOptions(min_solutions=args.min_solutions, per_problem=args.per_problem,
                              max_problems=args.max_problems, seed=args.seed)
    with Study(args.study) as st:
        report = import_codecontests(st, args.file, dataset=args.dataset, options=opt,
                                     fmt=args.format, append=args.append,
                                     state=ConsoleState(quiet=True))
    _print(report)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    names = list(DEMOS) if args.name == "all" else [args.name]
    with Study(args.study) as st:
        for name in names:
            _print(import_demo(st, name, ConsoleState(quiet=args.quiet)))
    return 0
