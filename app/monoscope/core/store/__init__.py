"""The study store: one DuckDB file per study, schema changed only through numbered migrations."""

from monoscope.core.store.study import SCHEMA_VERSION, Study, content_hash, copy_study

__all__ = ["SCHEMA_VERSION", "Study", "content_hash", "copy_study"]
