"""Source importers: generic tables, Goodreads, CodeContests, and the bundled demo datasets.

Every importer writes one dataset in a single transaction (a failed import changes nothing) and
returns an `ImportReport` with the counts of what was written and what was skipped on purpose.
"""

from __future__ import annotations

from monoscope.core.errors import ImportFailed
from monoscope.core.importers.codecontests import CodeContestsOptions, import_codecontests
from monoscope.core.importers.common import MAX_TEXT_BYTES, ImportReport
from monoscope.core.importers.generic import ColumnMap, import_table
from monoscope.core.importers.goodreads import GoodreadsOptions, import_goodreads
from monoscope.core.store import Study
from monoscope.core.store import datasets as datasets_repo
from monoscope.core.tasks import TaskState

DEMOS = ("films", "algorithms")

__all__ = [
    "DEMOS",
    "MAX_TEXT_BYTES",
    "CodeContestsOptions",
    "ColumnMap",
    "GoodreadsOptions",
    "ImportReport",
    "import_codecontests",
    "import_demo",
    "import_goodreads",
    "import_table",
]


def import_demo(study: Study, name: str, state: TaskState | None = None) -> ImportReport:
    """Import a bundled demo dataset ('films' or 'algorithms'); a no-op if it is already there."""
    if name not in DEMOS:
        raise ImportFailed(f"Unknown demo {name!r}: choose one of {', '.join(DEMOS)}.")
    existing = datasets_repo.find(study, name)
    if existing is not None:
        return ImportReport(dataset=name, kind=existing.kind, source=f"demo:{name}", already_present=True)
    if name == "films":
        from monoscope.core.importers.films import import_films_demo

        return import_films_demo(study, state)
    from monoscope.core.importers.algorithms_demo import import_algorithms_demo

    return import_algorithms_demo(study, state)
