"""Staging a source file for import: DuckDB's file readers and the temporary tables they fill.

An import runs in one transaction, `import_transaction`, whose `Stage` carries the cursor every
step runs on, so a failed import changes nothing. A file opens as a `TableSource` (one of
DuckDB's table functions, read_csv / read_json / read_parquet, with its columns' types); its rows
are copied into temporary tables on the transaction's cursor:

- ``_stage`` (row_no, key, title, context, body, label, rating, meta, prompt_meta) and
  ``_stage_tests`` (key, kind, ord, input, output): the one layout every importer fills and
  `monoscope.core.store.imports.write_staged` moves into the study;
- per-source tables, dropped once ``_stage`` is filled: ``_reviews``/``_chosen``/``_books``
  (Goodreads), ``_problems``/``_sols``/``_picked`` (CodeContests), ``_rt``/``_titles`` (the
  films demo); and ``_byo_attr``/``_byo_gen`` (bring-your-own rows, loaded by `imports`).

A DuckDB error while reading a file goes to the source's `ErrorTranslator` (the importer's words
for it: which line, and what to do) and is raised as the MonoscopeError that returns.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import duckdb

from monoscope.core.errors import MonoscopeError
from monoscope.core.store.study import Study

ErrorTranslator = Callable[[str], MonoscopeError]
"""Turns DuckDB's message about a file it cannot read into the error the user sees."""

# DuckDB's read_csv silently drops a FINAL line longer than max_line_size (2 MB by default).
# The limit (and the reader's buffer, which must hold a line) is raised to fit the longest line
# of the file; the buffer is sized from that line, not the file, so memory stays bounded.
DEFAULT_MAX_LINE = 2 << 20

STAGE_DDL = """
CREATE OR REPLACE TEMP TABLE _stage (
    row_no BIGINT, key VARCHAR, title VARCHAR, context VARCHAR, body VARCHAR,
    label VARCHAR, rating DOUBLE, meta JSON, prompt_meta JSON
);
CREATE OR REPLACE TEMP TABLE _stage_tests (
    key VARCHAR, kind VARCHAR, ord INTEGER, input VARCHAR, output VARCHAR
);
"""

# regexp_matches is ~10x faster than trim() here, and also counts tabs/newlines as blank.
EMPTY_BODY = "body IS NULL OR NOT regexp_matches(body, '\\S')"
"""SQL predicate on ``_stage``: the text is missing or blank (store modules only)."""


class Stage:
    """One import's transaction: the cursor its staging and loading steps run on.

    Importers hand it to the functions of this module and of `imports`; only store modules
    use ``cur``.
    """

    def __init__(self, cur: duckdb.DuckDBPyConnection) -> None:
        self.cur = cur

    def count(self, sql: str) -> int:
        """The integer one aggregate query returns (0 for NULL); store modules only."""
        row = self.cur.execute(sql).fetchone()
        return int(row[0]) if row and row[0] is not None else 0


@contextmanager
def import_transaction(study: Study) -> Iterator[Stage]:
    """One import as one transaction of the writer lane, rolled back on any error; a bulk
    transaction, so the commit writes the rows into the study file directly."""
    with study.transaction(bulk=True) as cur:
        yield Stage(cur)


def sql_literal(value: str) -> str:
    """A single-quoted SQL string literal (for file paths in table functions)."""
    return "'" + value.replace("'", "''") + "'"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# -- opening files -----------------------------------------------------------------------------
@dataclass(frozen=True)
class LineStats:
    """Physical lines of a (decompressed) file: how many, and the longest in bytes."""

    lines: int
    longest: int


@dataclass
class TableSource:
    """A readable file: its DuckDB table function, its columns' DuckDB types, how to word a read
    error, notes for the report, and (CSV) the line pre-pass for the row-count cross-check."""

    sql: str  # the table function; only store modules read it
    types: dict[str, str]
    on_error: ErrorTranslator
    notes: list[str] = field(default_factory=list)
    lines: LineStats | None = None


def _line_options(stats: LineStats) -> str:
    """read_csv options for a file whose longest line has ``stats.longest`` bytes."""
    if stats.longest < DEFAULT_MAX_LINE - 1024:
        return ""
    limit = stats.longest + (1 << 20)
    return f", max_line_size={limit}, buffer_size={2 * limit}"


def open_csv(path: Path, columns: Sequence[str], *, delimiter: str, encoding: str,
             stats: LineStats, on_error: ErrorTranslator,
             notes: Sequence[str] = ()) -> TableSource:
    """A CSV file read strictly, every column as text, the header named by ``columns``."""
    spec = "{" + ", ".join(f"{sql_literal(c)}: 'VARCHAR'" for c in columns) + "}"
    sql = (f"read_csv({sql_literal(str(path))}, header=true, columns={spec}, auto_detect=false, "
           f"delim={sql_literal(delimiter)}, quote='\"', escape='\"', strict_mode=true, "
           f"null_padding=false{_line_options(stats)}, encoding={sql_literal(encoding)})")
    return TableSource(sql, dict.fromkeys(columns, "VARCHAR"), on_error, list(notes), stats)


def _json_lines_sql(path: Path, columns: str | None = None) -> str:
    cols = f"columns={columns}, " if columns else ""
    return (f"read_json({sql_literal(str(path))}, format='newline_delimited', {cols}"
            "maximum_object_size=67108864)")


def open_json_lines(stage: Stage, path: Path, on_error: ErrorTranslator) -> TableSource:
    """A JSON-lines file with the columns DuckDB detects (a line up to 64 MB)."""
    return _described(stage, _json_lines_sql(path), on_error)


def open_parquet(stage: Stage, path: Path, on_error: ErrorTranslator) -> TableSource:
    """A Parquet file with the columns its schema names."""
    return _described(stage, f"read_parquet({sql_literal(str(path))})", on_error)


def _described(stage: Stage, sql: str, on_error: ErrorTranslator) -> TableSource:
    try:
        rel = stage.cur.execute(f"DESCRIBE SELECT * FROM {sql}").fetchall()
    except duckdb.Error as exc:
        raise on_error(str(exc)) from None
    return TableSource(sql, {str(r[0]): str(r[1]) for r in rel}, on_error)


# -- column types ------------------------------------------------------------------------------
_NESTED = ("STRUCT(", "MAP(", "UNION(")
_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
            "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL")


def is_nested_type(dtype: str) -> bool:
    """A struct, map, union or list type: not one text per row."""
    return dtype.upper().startswith(_NESTED) or dtype.endswith("]")


def is_struct_type(dtype: str) -> bool:
    """A struct type (fields by name)."""
    return dtype.upper().startswith("STRUCT(")


def is_numeric_type(dtype: str) -> bool:
    """An integer, floating-point or decimal type."""
    return dtype.upper().startswith(_NUMERIC)


@dataclass(frozen=True)
class Column:
    """A column, or a nested field of one, of a TableSource: how to select it, and its type."""

    expr: str  # SQL; only store modules read it
    dtype: str


def _as_text(expr: str, dtype: str) -> str:
    """SQL turning a value of any type into VARCHAR; JSON strings lose their quotes."""
    if dtype.upper() == "JSON":
        return f"({expr} ->> '$')"
    return f"CAST({expr} AS VARCHAR)"


def resolve_column(stage: Stage, src: TableSource, name: str) -> Column | None:
    """A column or a nested field ``col.field`` of the file; None if it has none of that name."""
    if name in src.types:
        return Column(quote_ident(name), src.types[name])
    head, _, rest = name.partition(".")
    while rest:  # the longest column name that prefixes the path wins ("a.b" then "a")
        if head in src.types:
            break
        more, _, rest = rest.partition(".")
        head = f"{head}.{more}"
    if not rest or head not in src.types:
        return None
    base = quote_ident(head)
    if src.types[head].upper() == "JSON":
        return Column(f"({base} ->> {sql_literal('$.' + rest)})", "VARCHAR")
    expr = base + "".join(f"[{sql_literal(part)}]" for part in rest.split("."))
    try:
        row = stage.cur.execute(f"DESCRIBE SELECT {expr} AS v FROM {src.sql}").fetchone()
    except duckdb.Error:
        return None
    return Column(expr, str(row[1])) if row else None


def struct_fields(stage: Stage, src: TableSource, column: Column) -> list[str]:
    """Field names of a struct column, from its first non-NULL value (empty if none)."""
    rows = stage.cur.execute(
        f"SELECT unnest(struct_keys({column.expr})) FROM (SELECT * FROM {src.sql} "
        f"WHERE {column.expr} IS NOT NULL LIMIT 1)").fetchall()
    return [str(r[0]) for r in rows]


# -- the common staging layout -----------------------------------------------------------------
def create_stage_tables(stage: Stage) -> None:
    """Empty ``_stage`` and ``_stage_tests`` tables on the import's cursor."""
    stage.cur.execute(STAGE_DDL)


def stage_table_rows(stage: Stage, src: TableSource, *, key: Column, text: Column,
                     title: Column | None = None, context: Column | None = None,
                     label: Column | None = None, rating: Column | None = None) -> None:
    """Fill ``_stage`` with one row per file row, the mapped columns as text (rating too, until
    `ratings_as_numbers`); the key is trimmed."""
    def text_of(col: Column | None) -> str:
        return "NULL::VARCHAR" if col is None else _as_text(col.expr, col.dtype)

    try:
        stage.cur.execute(
            f"""CREATE OR REPLACE TEMP TABLE _stage AS SELECT
                row_number() OVER () AS row_no, trim({text_of(key)}) AS key, {text_of(title)} AS title,
                {text_of(context)} AS context, {text_of(text)} AS body, {text_of(label)} AS label,
                {text_of(rating)} AS rating, NULL::JSON AS meta, NULL::JSON AS prompt_meta
            FROM {src.sql}"""
        )
    except Exception as exc:  # duckdb.Error subclasses, plus conversion errors
        raise src.on_error(str(exc)) from None


def staged_row_count(stage: Stage) -> int:
    """Rows in ``_stage``."""
    return stage.count("SELECT count(*) FROM _stage")


def first_bad_rating(stage: Stage) -> tuple[int, str] | None:
    """(row_no, value) of the first staged rating that is not a number."""
    bad = stage.cur.execute(
        "SELECT row_no, rating FROM _stage WHERE rating IS NOT NULL "
        "AND trim(rating) <> '' AND TRY_CAST(rating AS DOUBLE) IS NULL "
        "ORDER BY row_no LIMIT 1"
    ).fetchone()
    return (int(bad[0]), str(bad[1])) if bad else None


def ratings_as_numbers(stage: Stage) -> None:
    """Turn the staged (text) ratings into numbers; blanks become NULL."""
    stage.cur.execute("ALTER TABLE _stage ALTER rating TYPE DOUBLE USING TRY_CAST(rating AS DOUBLE)")


def add_stage_rows(stage: Stage, rows: Sequence[tuple[object, ...]]) -> None:
    """Append rows to ``_stage`` (row_no, key, title, context, body, label, rating, meta,
    prompt_meta; meta as JSON text)."""
    if rows:
        stage.cur.executemany("INSERT INTO _stage VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def add_stage_tests(stage: Stage, tests: Sequence[tuple[object, ...]]) -> None:
    """Append rows to ``_stage_tests`` (key, kind, ord, input, output)."""
    if tests:
        stage.cur.executemany("INSERT INTO _stage_tests VALUES (?, ?, ?, ?, ?)", tests)


def first_keyless_row(stage: Stage) -> int | None:
    """row_no of the first staged row whose key is missing or blank."""
    bad = stage.cur.execute(
        "SELECT min(row_no) FROM _stage WHERE key IS NULL OR trim(key) = ''"
    ).fetchone()
    return int(bad[0]) if bad and bad[0] is not None else None


def count_unusable(stage: Stage, max_bytes: int) -> tuple[int, int]:
    """(staged texts that are empty, non-empty texts over ``max_bytes`` bytes of UTF-8)."""
    row = stage.cur.execute(
        f"""SELECT count(*) FILTER (WHERE {EMPTY_BODY}),
                   count(*) FILTER (WHERE NOT ({EMPTY_BODY}) AND strlen(body) > {int(max_bytes)})
            FROM _stage"""
    ).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


# -- clean-ups on _stage -----------------------------------------------------------------------
StagedText = Literal["title", "context", "body"]

# entities people do not type by hand; plus <br>, the markup review dumps carry most
_HTML_SQL = r"(&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|amp|lt|gt|quot|apos|nbsp);|<[bB][rR]\s*/?>)"
_NUMBER_SQL = r"^\s*[-+]?[0-9]+([.,][0-9]+)?\s*$"


def _looks_html(column: str) -> str:
    # contains() first, the regular expression only on the few candidates: a CASE makes DuckDB
    # skip it (an AND did not: 0.28 s vs 0.03 s on 100k texts)
    return (f"(CASE WHEN contains({column}, '&') OR contains({column}, '<') "
            f"THEN regexp_matches({column}, '{_HTML_SQL}') ELSE false END)")


def html_counts(stage: Stage, columns: Sequence[StagedText]) -> dict[StagedText, tuple[int, int]]:
    """{column: (values holding an HTML entity or <br>, non-NULL values)} of staged text columns."""
    if not columns:
        return {}
    counts = ", ".join(f"count(*) FILTER (WHERE {_looks_html(c)}), count({c})" for c in columns)
    row = stage.cur.execute(f"SELECT {counts} FROM _stage").fetchall()[0]
    # fetchall above: create_function refuses a connection with an unfinished result
    return {c: (int(row[2 * i]), int(row[2 * i + 1])) for i, c in enumerate(columns)}


def unescape_html(stage: Stage, columns: Collection[StagedText],
                  unescape: Callable[[str], str]) -> None:
    """Rewrite, in the given staged columns, each value holding an HTML entity or <br> as
    ``unescape(value)``."""
    if not columns:
        return
    stage.cur.create_function("_monoscope_unescape", unescape, ["VARCHAR"], "VARCHAR")
    try:
        for column in columns:
            stage.cur.execute(f"UPDATE _stage SET {column} = _monoscope_unescape({column}) "
                              f"WHERE {_looks_html(column)}")
    finally:
        stage.cur.remove_function("_monoscope_unescape")


def number_bodies(stage: Stage) -> tuple[int, str | None]:
    """(staged texts that are a short number, one of them)."""
    number = f"strlen(body) < 40 AND regexp_matches(body, '{_NUMBER_SQL}')"
    row = stage.cur.execute(
        f"SELECT count(*) FILTER (WHERE {number}), any_value(body) FILTER (WHERE {number}) FROM _stage"
    ).fetchone()
    if not row:
        return 0, None
    return int(row[0] or 0), None if row[1] is None else str(row[1])


def filled_bodies(stage: Stage) -> int:
    """Staged texts that hold more than whitespace."""
    return stage.count("SELECT count(*) FILTER (WHERE regexp_matches(body, '\\S')) FROM _stage")


# -- Goodreads ---------------------------------------------------------------------------------
_REVIEW_COLS = ("{'book_id': 'VARCHAR', 'review_id': 'VARCHAR', 'user_id': 'VARCHAR', "
                "'rating': 'VARCHAR', 'review_text': 'VARCHAR'}")
_BOOK_COLS = "{'book_id': 'VARCHAR', 'title': 'VARCHAR', 'description': 'VARCHAR'}"


def stage_goodreads_reviews(stage: Stage, path: Path,
                            on_error: ErrorTranslator) -> tuple[int, int, int]:
    """Read a Goodreads reviews file into ``_reviews`` (with word counts); returns (lines,
    lines with a review_text, lines without a book_id)."""
    try:
        stage.cur.execute(
            f"""CREATE OR REPLACE TEMP TABLE _reviews AS
            SELECT trim(book_id) AS book_id, review_id, user_id, review_text,
                   TRY_CAST(rating AS DOUBLE) AS rating,
                   len(string_split_regex(trim(review_text), '\\s+')) AS words
            FROM {_json_lines_sql(path, _REVIEW_COLS)}"""
        )
    except duckdb.Error as exc:
        raise on_error(str(exc)) from None
    row = stage.cur.execute(
        "SELECT count(*), count(review_text), count(*) FILTER (WHERE book_id IS NULL OR book_id = '') "
        "FROM _reviews").fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def sample_goodreads_reviews(stage: Stage, *, min_words: int, max_words: int, min_reviews: int,
                             max_books: int | None, seed: int) -> int:
    """Rating 0 becomes NULL; ``_chosen`` gets the reviews of ``min_words``..``max_words`` words
    (one per book and text) of books with at least ``min_reviews`` of them (at most
    ``max_books`` books), ranked by md5 of the seed. Returns how many duplicates were dropped."""
    stage.cur.execute("UPDATE _reviews SET rating = NULL WHERE rating = 0")
    books_limit = "" if max_books is None else f"LIMIT {int(max_books)}"
    seed_ = sql_literal(str(seed))
    stage.cur.execute(
        f"""CREATE OR REPLACE TEMP TABLE _chosen AS
        WITH fit AS (
            SELECT * FROM _reviews
            WHERE review_text IS NOT NULL AND words BETWEEN {int(min_words)} AND {int(max_words)}
            QUALIFY row_number() OVER (PARTITION BY book_id, md5(review_text) ORDER BY review_id) = 1
        ), eligible AS (
            SELECT book_id, count(*) AS n_eligible FROM fit GROUP BY book_id
            HAVING count(*) >= {int(min_reviews)}
            ORDER BY md5({seed_} || ':' || book_id) {books_limit}
        ), ranked AS (
            SELECT book_id, n_eligible, row_number() OVER (ORDER BY md5({seed_} || ':' || book_id)) AS book_rank
            FROM eligible
        )
        SELECT f.*, r.n_eligible, r.book_rank,
               row_number() OVER (PARTITION BY f.book_id
                                  ORDER BY md5({seed_} || ':' || coalesce(f.review_id, f.review_text))) AS pick
        FROM fit f JOIN ranked r USING (book_id)"""
    )
    return stage.count(
        f"""SELECT count(*) - count(DISTINCT (book_id, md5(review_text))) FROM _reviews
        WHERE review_text IS NOT NULL AND words BETWEEN {int(min_words)} AND {int(max_words)}"""
    )


def no_goodreads_books(stage: Stage) -> None:
    """An empty ``_books``: no titles or descriptions (no books file)."""
    stage.cur.execute(
        "CREATE OR REPLACE TEMP TABLE _books (book_id VARCHAR, title VARCHAR, description VARCHAR)")


def stage_goodreads_books(stage: Stage, path: Path, on_error: ErrorTranslator) -> None:
    """``_books``: title and description of the chosen books, from a Goodreads books file."""
    try:
        stage.cur.execute(
            f"""CREATE OR REPLACE TEMP TABLE _books AS
            SELECT trim(book_id) AS book_id, any_value(nullif(trim(title), '')) AS title,
                   any_value(nullif(trim(description), '')) AS description
            FROM {_json_lines_sql(path, _BOOK_COLS)}
            WHERE book_id IN (SELECT book_id FROM _chosen)
            GROUP BY 1"""
        )
    except duckdb.Error as exc:
        raise on_error(str(exc)) from None


def stage_goodreads_selection(stage: Stage, per_book: int) -> None:
    """``_stage`` gets ``per_book`` chosen reviews per book (labelled from the rating), books in
    their sampled order; the Goodreads tables are dropped."""
    stage.cur.execute(
        f"""INSERT INTO _stage
        SELECT row_number() OVER (ORDER BY c.book_rank, c.pick), c.book_id,
               b.title, b.description, c.review_text,
               CASE WHEN c.rating IS NULL THEN NULL WHEN c.rating >= 4 THEN 'positive'
                    WHEN c.rating <= 2 THEN 'negative' ELSE 'neutral' END,
               c.rating,
               json_object('review_id', c.review_id, 'user_id', c.user_id, 'words', c.words),
               json_object('book_id', c.book_id, 'eligible_reviews', c.n_eligible)
        FROM _chosen c LEFT JOIN _books b ON b.book_id = c.book_id
        WHERE c.pick <= {int(per_book)}"""
    )
    for t in ("_reviews", "_chosen", "_books"):
        stage.cur.execute(f"DROP TABLE IF EXISTS {t}")


# -- CodeContests ------------------------------------------------------------------------------
def stage_codecontests_problems(stage: Stage, src: TableSource, meta_columns: Sequence[str],
                                test_columns: Sequence[str]) -> None:
    """``_problems`` (file_row, name, description, solutions, the test columns, pmeta: the
    ``meta_columns`` as a JSON object) and ``_sols`` (one row per solution: name, i, body, lang)."""
    meta_sql = ("json_object(" + ", ".join(f"{sql_literal(c)}, {quote_ident(c)}" for c in meta_columns)
                + ")" if meta_columns else "NULL")
    tests = ", ".join(quote_ident(c) for c in test_columns)
    try:
        stage.cur.execute(
            f"""CREATE OR REPLACE TEMP TABLE _problems AS
            SELECT row_number() OVER () AS file_row, CAST(name AS VARCHAR) AS name,
                   CAST(description AS VARCHAR) AS description, solutions,
                   {tests + ',' if test_columns else ''} {meta_sql} AS pmeta
            FROM {src.sql}"""
        )
        stage.cur.execute(
            """CREATE OR REPLACE TEMP TABLE _sols AS
            SELECT name, i, solutions.solution[i] AS body,
                   upper(replace(CAST(solutions.language[i] AS VARCHAR), ' ', '')) AS lang
            FROM (SELECT name, solutions,
                         unnest(generate_series(1, len(solutions.solution))) AS i
                  FROM _problems WHERE solutions.solution IS NOT NULL)"""
        )
    except duckdb.Error as exc:
        raise src.on_error(str(exc)) from None


def first_unnamed_problem(stage: Stage) -> int | None:
    """File row of the first problem without a name."""
    bad = stage.cur.execute(
        "SELECT min(file_row) FROM _problems WHERE name IS NULL OR trim(name) = ''").fetchone()
    return int(bad[0]) if bad and bad[0] is not None else None


def stage_codecontests_selection(stage: Stage, *, languages: Sequence[str], min_solutions: int,
                                 per_problem: int, max_problems: int | None, seed: int,
                                 test_columns: Collection[str]) -> int:
    """``_stage`` gets ``per_problem`` solutions in ``languages`` of each problem with at least
    ``min_solutions`` (at most ``max_problems`` problems, sampled by md5 of the seed), and
    ``_stage_tests`` their problems' public and private tests. Drops the CodeContests tables;
    returns how many problems the file held."""
    seed_ = sql_literal(str(seed))
    limit = "" if max_problems is None else f"LIMIT {int(max_problems)}"
    codes = ", ".join(sql_literal(c) for c in languages)
    stage.cur.execute(
        f"""CREATE OR REPLACE TEMP TABLE _picked AS
        WITH py AS (SELECT * FROM _sols WHERE lang IN ({codes}) AND body IS NOT NULL),
        ok AS (SELECT name FROM py GROUP BY name HAVING count(*) >= {int(min_solutions)}
               ORDER BY md5({seed_} || ':' || name) {limit})
        SELECT py.*, row_number() OVER (PARTITION BY py.name
                   ORDER BY md5({seed_} || ':' || py.name || ':' || py.i)) AS pick
        FROM py JOIN ok USING (name)"""
    )
    stage.cur.execute(
        f"""INSERT INTO _stage
        SELECT row_number() OVER (ORDER BY p.file_row, k.pick), k.name, k.name, p.description,
               k.body, NULL, NULL, json_object('solution_index', k.i - 1, 'language', 'python3'),
               p.pmeta
        FROM _picked k JOIN _problems p ON p.name = k.name
        WHERE k.pick <= {int(per_problem)}"""
    )
    for col, kind in (("public_tests", "public"), ("private_tests", "private")):
        if col in test_columns:
            stage.cur.execute(
                f"""INSERT INTO _stage_tests
                SELECT name, '{kind}', j, CAST({col}.input[j] AS VARCHAR), CAST({col}.output[j] AS VARCHAR)
                FROM (SELECT name, {col}, unnest(generate_series(1, len({col}.input))) AS j
                      FROM _problems WHERE name IN (SELECT name FROM _picked)
                        AND {col}.input IS NOT NULL)"""
            )
    n_problems = stage.count("SELECT count(*) FROM _problems")
    for t in ("_problems", "_sols", "_picked"):
        stage.cur.execute(f"DROP TABLE IF EXISTS {t}")
    return n_problems


# -- the films demo ----------------------------------------------------------------------------
def stage_film_snippets(stage: Stage, src: TableSource) -> None:
    """``_rt``: the corpus rows (r, category, text, movie_name) in file order."""
    try:
        stage.cur.execute(f"CREATE OR REPLACE TEMP TABLE _rt AS SELECT row_number() OVER () AS r, "
                          f"category, text, movie_name FROM {src.sql}")
    except Exception as exc:  # duckdb.Error subclasses, plus conversion errors
        raise src.on_error(str(exc)) from None


def film_names(stage: Stage) -> list[str]:
    """The distinct film slugs of ``_rt``."""
    return [str(r[0]) for r in stage.cur.execute(
        "SELECT DISTINCT movie_name FROM _rt WHERE movie_name IS NOT NULL").fetchall()]


def stage_film_selection(stage: Stage, titles: Mapping[str, str], min_snippets: int) -> None:
    """``_stage`` gets the fresh/rotten snippets of films with at least ``min_snippets`` of them
    (title from ``titles``, the first plot summary as context); drops the films tables."""
    stage.cur.execute("CREATE OR REPLACE TEMP TABLE _titles (movie_name VARCHAR, title VARCHAR)")
    stage.cur.executemany("INSERT INTO _titles VALUES (?, ?)", list(titles.items()))
    stage.cur.execute(
        f"""INSERT INTO _stage
        WITH snip AS (SELECT * FROM _rt WHERE category IN ('fresh', 'rotten')),
        films AS (SELECT movie_name, count(*) AS n,
                         avg(CASE WHEN category = 'fresh' THEN 1.0 ELSE 0.0 END) AS fresh_share
                  FROM snip GROUP BY movie_name HAVING count(*) >= {int(min_snippets)}),
        plots AS (SELECT movie_name, arg_min(text, r) AS plot FROM _rt
                  WHERE category = 'plot' AND trim(text) <> '' GROUP BY movie_name)
        SELECT row_number() OVER (ORDER BY s.movie_name, s.r), s.movie_name,
               t.title,
               p.plot, s.text, s.category, NULL, NULL,
               json_object('movie_name', s.movie_name, 'snippets', f.n,
                           'fresh_share', round(f.fresh_share, 4))
        FROM snip s JOIN films f USING (movie_name) LEFT JOIN plots p USING (movie_name)
        LEFT JOIN _titles t USING (movie_name)"""
    )
    stage.cur.execute("DROP TABLE _rt")
    stage.cur.execute("DROP TABLE _titles")


# -- bring-your-own rows -----------------------------------------------------------------------
ByoRows = Literal["attributes", "generations"]
BYO_TABLES: dict[ByoRows, str] = {"attributes": "_byo_attr", "generations": "_byo_gen"}
NumberType = Literal["BIGINT", "INTEGER", "DOUBLE"]


@dataclass(frozen=True)
class Offender:
    """The first staged row failing a check, and how many rows fail it."""

    row_no: int
    count: int


def first_offender(stage: Stage, table: str, where: str) -> Offender | None:
    """The first row of ``table`` (a staged table or subquery) matching ``where``; store only."""
    rows = stage.cur.execute(
        f"SELECT row_no, count(*) OVER () FROM {table} WHERE {where} ORDER BY row_no LIMIT 1"
    ).fetchall()
    return Offender(int(rows[0][0]), int(rows[0][1])) if rows else None


def num_sql(role: str, roles: Collection[str], typ: NumberType) -> str:
    """SQL for a staged numeric role (NULL when the column is absent or the cell empty)."""
    if role not in roles:
        return f"CAST(NULL AS {typ})"
    return f"TRY_CAST(NULLIF(trim({quote_ident(role)}), '') AS {typ})"


def str_sql(role: str, roles: Collection[str]) -> str:
    """SQL for a staged text role (NULL when the column is absent)."""
    return quote_ident(role) if role in roles else "CAST(NULL AS VARCHAR)"


def label_sql(roles: Collection[str]) -> str:
    """SQL for the staged attribute label (NULL when absent or empty)."""
    return "NULLIF(label, '')" if "label" in roles else "CAST(NULL AS VARCHAR)"


def stage_byo_rows(stage: Stage, src: TableSource, rows: ByoRows,
                   columns: Mapping[str, str]) -> int:
    """Copy the file into the staged table for ``rows``: row_no and one text column per role
    (``columns``: role -> file column). Returns the number of rows."""
    table = BYO_TABLES[rows]
    sel = ", ".join(
        f"{_as_text(quote_ident(col), src.types[col])} AS {quote_ident(role)}"
        for role, col in columns.items()
    )
    try:
        stage.cur.execute(
            f"CREATE OR REPLACE TEMP TABLE {table} AS "
            f"SELECT row_number() OVER () AS row_no, {sel} FROM {src.sql}"
        )
    except duckdb.Error as exc:
        raise src.on_error(str(exc)) from None
    return stage.count(f"SELECT count(*) FROM {table}")


def first_non_number(stage: Stage, rows: ByoRows, role: str, typ: NumberType) -> Offender | None:
    """First staged row whose ``role`` cell is filled but not a ``typ`` number."""
    col = quote_ident(role)
    return first_offender(stage, BYO_TABLES[rows],
                          f"{col} IS NOT NULL AND trim({col}) <> '' AND TRY_CAST({col} AS {typ}) IS NULL")


def first_blank(stage: Stage, rows: ByoRows, role: str) -> Offender | None:
    """First staged row whose ``role`` cell is missing or blank."""
    return first_offender(stage, BYO_TABLES[rows], f"coalesce(trim({quote_ident(role)}), '') = ''")


def first_null(stage: Stage, rows: ByoRows, role: str) -> Offender | None:
    """First staged row whose ``role`` cell is NULL."""
    return first_offender(stage, BYO_TABLES[rows], f"{quote_ident(role)} IS NULL")


def first_without_value_or_label(stage: Stage, roles: Collection[str]) -> Offender | None:
    """First staged attribute row with neither a numeric value nor a label."""
    return first_offender(
        stage, BYO_TABLES["attributes"],
        f"{num_sql('value', roles, 'DOUBLE')} IS NULL AND {label_sql(roles)} IS NULL")
