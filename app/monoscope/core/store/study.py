"""Open, create and migrate a study file; small typed helpers over the DuckDB connection."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb

from monoscope import __version__
from monoscope.core.errors import (
    DiskFullError,
    SchemaTooNewError,
    StudyError,
    StudyLockedError,
    TaskCancelled,
)

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


def wal_path(path: Path) -> Path:
    """DuckDB's write-ahead log beside a study: committed work not yet in the main file."""
    return path.with_name(path.name + ".wal")


def is_disk_full(exc: BaseException) -> bool:
    """A DuckDB or OS error caused by a full disk (or quota)."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(exc).lower()
    return "no space left on device" in text or "disk quota exceeded" in text


def _device(path: Path) -> str:
    """The mount point (and device) holding ``path``, for messages."""
    p = path.resolve()
    while not p.exists() and p != p.parent:
        p = p.parent
    best = ("/", "")
    try:
        with open("/proc/mounts", encoding="utf-8") as fh:
            for line in fh:
                dev, mnt = line.split()[:2]
                mnt = mnt.replace("\\040", " ")
                if (str(p) == mnt or str(p).startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best[0]):
                    best = (mnt, dev)
    except OSError:
        pass
    return f"{best[0]} ({best[1]})" if best[1] else best[0]


def disk_full_error(path: Path) -> DiskFullError:
    return DiskFullError(
        f"no space left on {_device(path)}; nothing was written (the failed step was rolled "
        f"back and {path.name} is as it was before it). Free some space and run the command again."
    )


def lock_holder(text: str) -> str:
    """'process PID (command line)' from DuckDB's lock error, or 'another process'."""
    m = re.search(r"PID (\d+)", text)
    if not m:
        return "another process"
    pid = m.group(1)
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return f"process {pid}"
    cmd = " ".join(part.decode("utf-8", "replace") for part in raw.split(b"\0") if part)
    if len(cmd) > 160:
        cmd = cmd[:157] + "..."
    return f"process {pid} ({cmd})" if cmd else f"process {pid}"


class _Cursors:
    """Every live cursor of this process by the thread that made it, so that cancelling a task
    can `interrupt()` the query its thread is running (DuckDB allows that from any thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_thread: dict[int, list[tuple[Study, duckdb.DuckDBPyConnection]]] = {}

    def add(self, study: Study, cur: duckdb.DuckDBPyConnection) -> None:
        with self._lock:
            self._by_thread.setdefault(threading.get_ident(), []).append((study, cur))

    def remove(self, cur: duckdb.DuckDBPyConnection) -> None:
        with self._lock:
            tid = threading.get_ident()
            live = [e for e in self._by_thread.get(tid, []) if e[1] is not cur]
            if live:
                self._by_thread[tid] = live
            else:
                self._by_thread.pop(tid, None)

    def interrupt(self, thread_id: int | None = None, study: Study | None = None) -> int:
        """Interrupt the running query of one thread's cursors (or all of one study's)."""
        with self._lock:
            targets = [cur for tid, entries in self._by_thread.items() for st, cur in entries
                       if (thread_id is None or tid == thread_id)
                       and (study is None or st is study)]
        for cur in targets:
            with suppress(duckdb.Error):
                cur.interrupt()
        return len(targets)

    def count(self, study: Study) -> int:
        with self._lock:
            return sum(1 for entries in self._by_thread.values() for st, _ in entries
                       if st is study)


_CURSORS = _Cursors()


def interrupt_thread(thread_id: int) -> int:
    """Interrupt the query a thread is running on any study (a task's cancel calls this from
    the thread that cancels). The interrupted call raises `TaskCancelled` in its own thread.
    Returns how many cursors were interrupted."""
    return _CURSORS.interrupt(thread_id=thread_id)


class Study:
    """A handle on one study file; safe to pass between threads. Use as a context manager or
    call `close()`.

    Nothing queries through the root connection. Every read runs on a cursor made in the
    calling thread and closed when the read ends (`reader()`, `query()`, `scalar()`); every
    write goes through the writer lane (`transaction()`, `write()`), which serialises writers
    in this process. Only `monoscope.core.store` writes SQL: other packages call its
    repository functions.
    """

    def __init__(self, path: str | Path, read_only: bool = False, create: bool = True,
                 snapshot_if_locked: bool = False) -> None:
        self.path = Path(path).expanduser()
        self.read_only = read_only
        self._writer = threading.RLock()  # the writer lane: one write at a time
        # committed (or attempted) writes of this process: a key for read caches; DuckDB lets
        # no other process write the file while this one holds it
        self.writes = 0
        self._memory_limit: str | None = None  # set by memory_budget (None: DuckDB's default)
        self._closed = False
        self.snapshot_of: str | None = None  # lock holder, when reading a snapshot copy
        self._snapshot_dir: str | None = None
        if not create and not self.path.exists():
            raise StudyError(
                f"No study at {self.path}. Create one with `monoscope init {self.path}`."
            )
        if self.path.exists() and self.path.is_dir():
            raise StudyError(f"{self.path} is a folder; a study is a single .duckdb file.")
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._root = self._connect(self.path)
        except StudyLockedError as exc:
            if not (read_only and snapshot_if_locked):
                raise
            self._root = self._snapshot(str(exc))
        try:
            if not read_only:
                self.migrate()
            else:
                self._check_version()
        except Exception as exc:
            self.close()
            if is_disk_full(exc):
                raise disk_full_error(self.path) from None
            raise

    def _connect(self, target: Path) -> duckdb.DuckDBPyConnection:
        try:
            return duckdb.connect(str(target), read_only=self.read_only)
        except duckdb.IOException as exc:
            text = str(exc)
            if "lock" in text.lower():
                self._holder = lock_holder(text)
                raise StudyLockedError(
                    f"The study {self.path} is open for writing in {self._holder}. "
                    "Close it there (or wait for its run to finish), then try again."
                ) from None
            if is_disk_full(exc):
                raise disk_full_error(self.path) from None
            raise StudyError(
                f"Cannot open {self.path} as a study: {text.splitlines()[0]}. "
                "Is it a DuckDB file written by Monoscope?"
            ) from None
        except duckdb.Error as exc:
            if is_disk_full(exc):
                raise disk_full_error(self.path) from None
            raise StudyError(
                f"Cannot open {self.path} as a study: {str(exc).splitlines()[0]}. "
                "Is it a DuckDB file written by Monoscope?"
            ) from None

    def _snapshot(self, locked_message: str) -> duckdb.DuckDBPyConnection:
        """Read a copy of the study (file + WAL) while another process holds it for writing.

        DuckDB lets one process write or many read, never both; a reader that finds the writer
        reads what was committed up to now from a private copy. A copy caught mid-checkpoint
        may not open: it is retried, then the lock message stands.
        """
        holder = getattr(self, "_holder", "another process")
        last: Exception | None = None
        for _attempt in range(3):
            tmp = tempfile.mkdtemp(prefix="monoscope-snapshot-")
            copy = Path(tmp) / self.path.name
            try:
                shutil.copyfile(self.path, copy)
                if wal_path(self.path).exists():
                    shutil.copyfile(wal_path(self.path), wal_path(copy))
                con = duckdb.connect(str(copy), read_only=False)  # replays the copied WAL
                con.execute("CHECKPOINT")
                con.close()
                con = duckdb.connect(str(copy), read_only=True)
            except (OSError, duckdb.Error) as exc:
                last = exc
                shutil.rmtree(tmp, ignore_errors=True)
                continue
            self._snapshot_dir = tmp
            self.snapshot_of = holder
            return con
        raise StudyLockedError(f"{locked_message} (a snapshot copy failed too: {last})")

    # -- schema ---------------------------------------------------------------------------
    def schema_version(self) -> int:
        has = self.scalar(
            "SELECT count(*) FROM information_schema.tables WHERE table_name='schema_migrations'"
        )
        if not has:
            return 0
        row = self.scalar("SELECT max(version) FROM schema_migrations")
        return int(row) if row is not None else 0

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
        self.write(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
            "name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp, "
            "app_version VARCHAR)"
        )
        for number, name, sql in migrations():
            if number <= version:
                continue
            with self.transaction() as cur:
                cur.execute(sql)
                cur.execute(
                    "INSERT INTO schema_migrations (version, name, app_version) VALUES (?, ?, ?)",
                    [number, name, __version__],
                )
            applied.append(number)
        return applied

    def _has_foreign_tables(self) -> bool:
        return bool(self.scalar(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema='main'"
        ))

    # -- access ---------------------------------------------------------------------------
    def _cursor(self) -> duckdb.DuckDBPyConnection:
        if self._closed:
            raise StudyError(f"The study {self.path} is closed.")
        cur = self._root.cursor()
        _CURSORS.add(self, cur)
        return cur

    def _release(self, cur: duckdb.DuckDBPyConnection) -> None:
        _CURSORS.remove(cur)
        with suppress(duckdb.Error):
            cur.close()

    # The context managers below are built from plain generator methods (`_reader`,
    # `_transaction`, `_memory_budget`) rather than decorated: mutmut, the mutation tester,
    # skips decorated functions, and these are the store's transactions it must reach.
    def reader(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        """A cursor of this thread's own for one read, closed when the block ends.

        A cancel from another thread (`interrupt_thread`, `interrupt()`) stops its running
        query; the block then raises `TaskCancelled`.
        """
        return contextmanager(self._reader)()

    def _reader(self) -> Iterator[duckdb.DuckDBPyConnection]:
        cur = self._cursor()
        try:
            yield cur
        except duckdb.InterruptException:
            raise TaskCancelled() from None
        finally:
            self._release(cur)

    def transaction(self, bulk: bool = False) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        """One atomic unit of work in the writer lane; rolled back on any error or interrupt.

        ``bulk=True`` (an import): the commit checkpoints at once, so the new rows go into the
        study file directly instead of through the write-ahead log and a later checkpoint
        (written once, not twice: ~0.2 s less per 100k texts). DuckDB decides that at commit
        when the WAL would pass `checkpoint_threshold`, which is lowered for this transaction.
        """
        return contextmanager(self._transaction)(bulk)

    def _transaction(self, bulk: bool) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._writer:
            cur = self._cursor()
            try:
                if bulk:
                    cur.execute("SET checkpoint_threshold = '1MB'")
                cur.execute("BEGIN TRANSACTION")
                yield cur
                cur.execute("COMMIT")
            except BaseException as exc:
                with suppress(duckdb.Error):
                    cur.execute("ROLLBACK")
                if isinstance(exc, duckdb.InterruptException):
                    raise TaskCancelled() from None
                if is_disk_full(exc):
                    raise disk_full_error(self.path) from None
                raise
            finally:
                self.writes += 1  # readers' caches keyed on it see every change
                if bulk:
                    with suppress(duckdb.Error):
                        cur.execute("RESET checkpoint_threshold")
                self._release(cur)

    def write(self, sql: str, params: Sequence[Any] | None = None) -> None:
        """One statement in the writer lane (its own transaction)."""
        with self._writer, self.reader() as cur:
            try:
                cur.execute(sql, params or [])
                self.writes += 1
            except duckdb.Error as exc:
                if is_disk_full(exc):
                    raise disk_full_error(self.path) from None
                raise

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[dict[str, Any]]:
        """Run a read query on a cursor of this thread and return rows as dicts."""
        with self.reader() as cur:
            rel = cur.execute(sql, params or [])
            cols = [d[0] for d in rel.description or []]
            return [dict(zip(cols, row, strict=True)) for row in rel.fetchall()]

    def scalar(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        with self.reader() as cur:
            row = cur.execute(sql, params or []).fetchone()
            return row[0] if row else None

    def interrupt(self) -> int:
        """Stop every query running on this study, in any thread (their blocks raise
        `TaskCancelled`; a transaction rolls back). Returns how many were interrupted."""
        return _CURSORS.interrupt(study=self)

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
        self.write("INSERT OR REPLACE INTO study_meta VALUES (?, ?)", [key, json.dumps(value)])

    def get_meta(self, key: str, default: Any = None) -> Any:
        raw = self.scalar("SELECT value FROM study_meta WHERE key = ?", [key])
        return default if raw is None else json.loads(raw)

    def memory_budget(self, limit: str | None = None) -> AbstractContextManager[None]:
        """Cap DuckDB's memory (database-wide) during a big stage; it spills to ``<study>.tmp``.

        Default ``MONOSCOPE_IMPORT_MEMORY`` or 1 GB: a 1 GB CSV then imports in ~1.1 GB of RSS
        instead of ~3 GB (at ~1.7x the time). The previous limit is restored afterwards.
        """
        return contextmanager(self._memory_budget)(limit)

    def _memory_budget(self, limit: str | None) -> Iterator[None]:
        want = limit or os.environ.get("MONOSCOPE_IMPORT_MEMORY") or "1GB"
        if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", want, re.IGNORECASE):
            raise StudyError(f"Memory limit {want!r} should look like 1GB or 512MB.")
        # restored from what was set, not from current_setting(): DuckDB prints the limit
        # rounded (18.8 GiB), and setting that back lowers it a little each time
        old = self._memory_limit
        self.write(f"SET memory_limit = '{want}'")
        self._memory_limit = want
        try:
            yield
        finally:
            self._memory_limit = old
            if not self._closed:
                with suppress(duckdb.Error):
                    self.write("RESET memory_limit" if old is None else f"SET memory_limit = '{old}'")

    # -- durability ------------------------------------------------------------------------
    def wal_bytes(self) -> int:
        """Size of the pending write-ahead log (committed work not yet in the main file)."""
        try:
            return wal_path(self.path).stat().st_size
        except OSError:
            return 0

    def checkpoint(self) -> None:
        """Move committed work from the WAL into the study file (after a stage, and on close),
        so the .duckdb file alone holds everything."""
        if self.read_only or self._closed:
            return
        # a checkpoint that fails (a full disk) loses nothing: the work stays in the WAL
        with suppress(duckdb.Error, DiskFullError):
            self.write("CHECKPOINT")

    def close(self, timeout_s: float = 10.0) -> None:
        """Interrupt what still runs, wait for those threads to let go, checkpoint, close.

        A query that does not stop within ``timeout_s`` is an error (`StudyError`), not a
        silent leak: the caller stopped its workers too late.
        """
        if getattr(self, "_root", None) is not None and not self._closed:
            if _CURSORS.count(self):
                self.interrupt()
                deadline = time.monotonic() + timeout_s
                while _CURSORS.count(self) and time.monotonic() < deadline:
                    time.sleep(0.01)
                if _CURSORS.count(self):
                    raise StudyError(
                        f"{self.path} is still in use by {_CURSORS.count(self)} running "
                        f"quer{'y' if _CURSORS.count(self) == 1 else 'ies'} after "
                        f"{timeout_s:.0f} s; stop the running tasks before closing it."
                    )
            self.checkpoint()
            self._closed = True
            self._root.close()
        if self._snapshot_dir:
            shutil.rmtree(self._snapshot_dir, ignore_errors=True)
            self._snapshot_dir = None

    def __enter__(self) -> Study:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def copy_study(src: str | Path, dst: str | Path, overwrite: bool = False) -> Path:
    """A consistent single-file copy of a study, its pending WAL folded in.

    The source is held open read-only while its file and WAL are copied (no writer can commit
    meanwhile); the copy is then opened, the WAL replayed and checkpointed, and moved in place.
    A plain file copy of the .duckdb alone would miss whatever is still in the WAL.
    """
    src_p, dst_p = Path(src).expanduser(), Path(dst).expanduser()
    if not src_p.is_file():
        raise StudyError(f"No study at {src_p}.")
    if dst_p.exists() and not overwrite:
        raise StudyError(f"{dst_p} exists; choose a new name (or remove it first).")
    if dst_p.resolve() == src_p.resolve():
        raise StudyError("The copy must go to another file.")
    dst_p.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst_p.with_name(f".{dst_p.name}.{os.getpid()}.tmp")
    try:
        # read-only: a shared lock, so no writer commits meanwhile; if a writer holds the study,
        # copy the snapshot it falls back to (what was committed up to now)
        with Study(src_p, read_only=True, create=False, snapshot_if_locked=True) as st:
            origin = Path(st._snapshot_dir) / src_p.name if st._snapshot_dir else src_p
            shutil.copyfile(origin, tmp)
            if wal_path(origin).exists():
                shutil.copyfile(wal_path(origin), wal_path(tmp))
        con = duckdb.connect(str(tmp))
        con.execute("CHECKPOINT")
        con.close()
        if wal_path(tmp).exists():
            wal_path(tmp).unlink()
        os.replace(tmp, dst_p)
    except BaseException as exc:
        for leftover in (tmp, wal_path(tmp)):
            with suppress(OSError):
                leftover.unlink()
        if is_disk_full(exc):
            raise disk_full_error(dst_p) from None
        if isinstance(exc, duckdb.Error):
            raise StudyError(f"Cannot copy {src_p}: {str(exc).splitlines()[0]}") from None
        raise
    return dst_p
