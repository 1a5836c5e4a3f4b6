"""Open, create and migrate a study file; small typed helpers over the DuckDB connection."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb

from monoscope import __version__
from monoscope.core.errors import SchemaTooNewError, StudyError, StudyLockedError

_MIGRATION_RE = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")


def content_hash(body: str) -> str:
    """Hash used to share attributes and embeddings between identical texts (= DuckDB md5())."""
    return hashlib.md5(body.encode("utf-8")).hexdigest()


def migrations() -> list[tuple[int, str, str]]:
    """All shipped migrations as (version, name, sql), in order."""
    found = []
    folder = resources.files("monoscope.core.store").joinpath("migrations")
    for entry in folder.iterdir():
        m = _MIGRATION_RE.match(entry.name)
        if m:
            found.append((int(m.group(1)), m.group(2), entry.read_text(encoding="utf-8")))
    found.sort()
    return found


SCHEMA_VERSION = migrations()[-1][0]


class Study:
    """One study file. Use as a context manager or call `close()`.

    The connection is the study's single writer; other threads take `cursor()` for reads.
    """

    def __init__(self, path: str | Path, read_only: bool = False, create: bool = True) -> None:
        self.path = Path(path).expanduser()
        self.read_only = read_only
        self.lock = threading.RLock()
        if not create and not self.path.exists():
            raise StudyError(
                f"No study at {self.path}. Create one with `monoscope init {self.path}`."
            )
        if self.path.exists() and self.path.is_dir():
            raise StudyError(f"{self.path} is a folder; a study is a single .duckdb file.")
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.con = self._connect()
        try:
            if not read_only:
                self.migrate()
            else:
                self._check_version()
        except Exception:
            self.con.close()
            raise

    def _connect(self) -> duckdb.DuckDBPyConnection:
        try:
            return duckdb.connect(str(self.path), read_only=self.read_only)
        except duckdb.IOException as exc:
            text = str(exc)
            if "lock" in text.lower():
                pid = re.search(r"PID (\d+)", text)
                who = f" (process {pid.group(1)})" if pid else ""
                raise StudyLockedError(
                    f"The study {self.path} is open in another Monoscope process{who}. "
                    "Close it there (or wait for its run to finish), then try again."
                ) from None
            raise StudyError(
                f"Cannot open {self.path} as a study: {text.splitlines()[0]}. "
                "Is it a DuckDB file written by Monoscope?"
            ) from None
        except duckdb.Error as exc:
            raise StudyError(
                f"Cannot open {self.path} as a study: {str(exc).splitlines()[0]}. "
                "Is it a DuckDB file written by Monoscope?"
            ) from None

    # -- schema ---------------------------------------------------------------------------
    def schema_version(self) -> int:
        has = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name='schema_migrations'"
        ).fetchone()
        if not has or not has[0]:
            return 0
        row = self.con.execute("SELECT max(version) FROM schema_migrations").fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def _check_version(self) -> int:
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            raise SchemaTooNewError(
                f"{self.path} uses study schema {version}, but this Monoscope ({__version__}) "
                f"knows schema {SCHEMA_VERSION} at most. Upgrade Monoscope to open it; the file "
                "was left untouched."
            )
        return version

    def migrate(self) -> list[int]:
        """Apply every migration newer than the file's schema, each in its own transaction."""
        version = self._check_version()
        applied = []
        if version == 0 and self._has_foreign_tables():
            raise StudyError(
                f"{self.path} is a DuckDB file but not a Monoscope study (it has tables and no "
                "schema_migrations). Choose a new file name for the study."
            )
        self.con.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
            "name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp, "
            "app_version VARCHAR)"
        )
        for number, name, sql in migrations():
            if number <= version:
                continue
            self.con.execute("BEGIN TRANSACTION")
            try:
                self.con.execute(sql)
                self.con.execute(
                    "INSERT INTO schema_migrations (version, name, app_version) VALUES (?, ?, ?)",
                    [number, name, __version__],
                )
                self.con.execute("COMMIT")
            except Exception:
                self.con.execute("ROLLBACK")
                raise
            applied.append(number)
        return applied

    def _has_foreign_tables(self) -> bool:
        row = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema='main'"
        ).fetchone()
        return bool(row and row[0])

    # -- access ---------------------------------------------------------------------------
    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor for another thread (reads, or writes that take `self.lock`)."""
        return self.con.cursor()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One atomic unit of work on the writer connection; rolled back on any error."""
        with self.lock:
            cur = self.con.cursor()
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                cur.close()
                raise
            cur.execute("COMMIT")
            cur.close()

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[dict[str, Any]]:
        """Run a read query on a fresh cursor and return rows as dicts."""
        cur = self.con.cursor()
        try:
            rel = cur.execute(sql, params or [])
            cols = [d[0] for d in rel.description or []]
            return [dict(zip(cols, row, strict=True)) for row in rel.fetchall()]
        finally:
            cur.close()

    def scalar(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        cur = self.con.cursor()
        try:
            row = cur.execute(sql, params or []).fetchone()
            return row[0] if row else None
        finally:
            cur.close()

    def table_counts(self) -> dict[str, int]:
        names = [
            r["table_name"]
            for r in self.query(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema='main' AND table_type='BASE TABLE' ORDER BY table_name"
            )
        ]
        return {n: int(self.scalar(f'SELECT count(*) FROM "{n}"')) for n in names}

    def dataset_id(self, name: str) -> int:
        row = self.scalar("SELECT id FROM datasets WHERE name = ?", [name])
        if row is None:
            names = [r["name"] for r in self.query("SELECT name FROM datasets ORDER BY name")]
            hint = ", ".join(names) if names else "none yet: import one with `monoscope import`"
            raise StudyError(f"No dataset named {name!r} in {self.path}. Datasets: {hint}.")
        return int(row)

    def set_meta(self, key: str, value: Any) -> None:
        with self.lock:
            self.con.execute(
                "INSERT OR REPLACE INTO study_meta VALUES (?, ?)", [key, json.dumps(value)]
            )

    def get_meta(self, key: str, default: Any = None) -> Any:
        raw = self.scalar("SELECT value FROM study_meta WHERE key = ?", [key])
        return default if raw is None else json.loads(raw)

    def close(self) -> None:
        with suppress(duckdb.Error):
            self.con.close()

    def __enter__(self) -> Study:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
