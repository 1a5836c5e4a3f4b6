"""Source importers: generic tables, Goodreads, CodeContests, and the bundled demo datasets."""

from monoscope.core.importers.common import MAX_TEXT_BYTES, ImportReport
from monoscope.core.importers.generic import ColumnMap, import_table

__all__ = ["MAX_TEXT_BYTES", "ColumnMap", "ImportReport", "import_table"]
