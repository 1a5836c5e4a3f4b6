"""The store's transactions: commit, rollback, cancel, a full disk, the writer lane and the
cursor registry that cancelling relies on (written against the mutants of
`core/store/study.py` the store tests let live; see docs/testing.md).

Each test checks an effect in a real DuckDB file: rows there or not, a setting in force or
not, a query stopped or not.
"""

from __future__ import annotations

import errno
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest

from monoscope import __version__
from monoscope.core.errors import DiskFullError, StudyError, TaskCancelled
from monoscope.core.store import Study
from monoscope.core.store import study as study_mod
from monoscope.core.store.study import SCHEMA_VERSION, _Cursors, interrupt_thread, is_disk_full


@pytest.fixture
def study(tmp_path: Path) -> Iterator[Study]:
    s = Study(tmp_path / "s.duckdb")
    s.write("CREATE TABLE t (x INTEGER)")
    yield s
    s.close()


def _xs(study: Study) -> list[int]:
    return [r["x"] for r in study.query("SELECT x FROM t ORDER BY x")]


def _setting(study: Study, name: str) -> str:
    return str(study.scalar(f"SELECT current_setting('{name}')"))


# runs for minutes unless interrupted
_LONG_QUERY = "SELECT count(*) FROM range(100000000000) a(i) WHERE i % 7 = 3"


def _interrupt_until(stopped: Callable[[], bool], interrupt: Callable[[], int]) -> int:
    """Interrupt again until the query has stopped (an interrupt can land before it starts);
    returns the most cursors one call reached."""
    time.sleep(0.2)  # into the query
    most = 0
    deadline = time.monotonic() + 10
    while not stopped() and time.monotonic() < deadline:
        most = max(most, interrupt())
        time.sleep(0.05)
    return most


def test_a_transaction_commits_once_and_counts_one_write(study: Study) -> None:
    before = study.writes
    with study.transaction() as cur:
        cur.execute("INSERT INTO t VALUES (1), (2)")
        assert study_mod._CURSORS.count(study) == 1  # registered: a cancel can reach it
    assert _xs(study) == [1, 2]
    assert study.writes == before + 1
    assert study_mod._CURSORS.count(study) == 0


def test_an_error_rolls_back_and_still_counts_a_write(study: Study) -> None:
    before = study.writes
    with pytest.raises(ValueError, match="boom"), study.transaction() as cur:
        cur.execute("INSERT INTO t VALUES (1)")
        raise ValueError("boom")
    assert _xs(study) == []
    assert study.writes == before + 1
    assert study_mod._CURSORS.count(study) == 0
    # the lane is free again: the next transaction commits
    with study.transaction() as cur:
        cur.execute("INSERT INTO t VALUES (3)")
    assert _xs(study) == [3]


def test_an_interrupt_rolls_back_and_is_a_cancel(study: Study) -> None:
    with pytest.raises(TaskCancelled), study.transaction() as cur:
        cur.execute("INSERT INTO t VALUES (1)")
        raise duckdb.InterruptException("INTERRUPT Error: Interrupted!")
    with pytest.raises(TaskCancelled), study.reader() as cur:
        raise duckdb.InterruptException("INTERRUPT Error: Interrupted!")
    assert _xs(study) == []
    assert study_mod._CURSORS.count(study) == 0


@pytest.mark.parametrize("exc", [OSError(errno.ENOSPC, "No space left on device"),
                                 OSError(errno.EDQUOT, "Disk quota exceeded")])
def test_a_full_disk_rolls_back_with_a_message_naming_the_file(study: Study,
                                                                exc: OSError) -> None:
    with pytest.raises(DiskFullError) as err, study.transaction() as cur:
        cur.execute("INSERT INTO t VALUES (1)")
        raise exc
    assert _xs(study) == []
    assert "s.duckdb is as it was before it" in str(err.value)
    assert str(err.value).startswith("no space left on ")
    assert str(err.value).endswith("Free some space and run the command again.")


def test_write_passes_parameters_counts_and_reports_a_full_disk(study: Study) -> None:
    before = study.writes
    study.write("INSERT INTO t VALUES (?), (?)", [7, 8])
    study.write("INSERT INTO t VALUES (9)")
    assert _xs(study) == [7, 8, 9]
    assert study.writes == before + 2
    # DuckDB reports a full disk as an error whose text says so
    with pytest.raises(DiskFullError) as err:
        study.write("SELECT error('IO Error: No space left on device')")
    assert "s.duckdb is as it was before it" in str(err.value)
    with pytest.raises(duckdb.Error, match="something else"):
        study.write("SELECT error('something else')")


def test_is_disk_full_reads_errno_and_both_texts() -> None:
    assert is_disk_full(OSError(errno.ENOSPC, "x"))
    assert is_disk_full(OSError(errno.EDQUOT, "x"))
    assert not is_disk_full(OSError(errno.ENOENT, "No such file"))
    assert not is_disk_full(OSError(errno.EACCES, "Permission denied"))
    assert is_disk_full(RuntimeError("IO Error: No Space Left On Device"))
    assert is_disk_full(RuntimeError("write failed: Disk quota exceeded"))
    assert not is_disk_full(RuntimeError("no space left"))
    assert not is_disk_full(RuntimeError("quota"))


def test_bulk_lowers_the_checkpoint_threshold_only_inside(study: Study) -> None:
    def threshold() -> str:
        return _setting(study, "checkpoint_threshold")

    normal = threshold()
    assert normal != "976.5 KiB"
    with study.transaction(bulk=True) as cur:
        inside = cur.execute("SELECT current_setting('checkpoint_threshold')").fetchone()
        cur.execute("INSERT INTO t VALUES (1)")
    assert inside is not None and inside[0] == "976.5 KiB"  # 1MB = 10**6 bytes
    assert threshold() == normal
    # and after a failed bulk transaction too
    with pytest.raises(ValueError), study.transaction(bulk=True):
        raise ValueError
    assert threshold() == normal
    with study.transaction() as cur:  # a plain one leaves it alone
        plain = cur.execute("SELECT current_setting('checkpoint_threshold')").fetchone()
    assert plain is not None and plain[0] == normal


def test_the_writer_lane_runs_one_transaction_at_a_time(study: Study) -> None:
    order: list[str] = []
    inside = threading.Event()
    release = threading.Event()

    def first() -> None:
        with study.transaction() as cur:
            order.append("first begins")
            inside.set()
            release.wait(10)
            cur.execute("INSERT INTO t VALUES (1)")
            order.append("first commits")

    def second() -> None:
        with study.transaction() as cur:
            order.append("second begins")
            cur.execute("INSERT INTO t VALUES (2)")

    a = threading.Thread(target=first)
    a.start()
    assert inside.wait(10)
    b = threading.Thread(target=second)
    b.start()
    b.join(0.3)  # it cannot begin while the first holds the lane
    assert b.is_alive()
    release.set()
    a.join(10)
    b.join(10)
    assert order == ["first begins", "first commits", "second begins"]
    assert _xs(study) == [1, 2]


def test_a_cancel_from_another_thread_stops_that_threads_query(study: Study) -> None:
    result: list[object] = []
    started = threading.Event()
    tid: list[int] = []

    def long_read() -> None:
        tid.append(threading.get_ident())
        try:
            with study.reader() as cur:
                started.set()
                cur.execute(_LONG_QUERY)
                result.append("finished")
        except TaskCancelled:
            result.append("cancelled")

    t = threading.Thread(target=long_read)
    t.start()
    assert started.wait(10)
    n = _interrupt_until(lambda: bool(result), lambda: interrupt_thread(tid[0]))
    t.join(30)
    assert result == ["cancelled"]
    assert n == 1
    assert study_mod._CURSORS.count(study) == 0


def test_study_interrupt_stops_only_its_own_queries(tmp_path: Path, study: Study) -> None:
    other = Study(tmp_path / "other.duckdb")
    try:
        outcome: dict[str, str] = {}
        ready = threading.Barrier(3)

        def run(name: str, st: Study, sql: str) -> None:
            try:
                with st.reader() as cur:
                    ready.wait(10)
                    cur.execute(sql)
                    outcome[name] = "finished"
            except TaskCancelled:
                outcome[name] = "cancelled"

        a = threading.Thread(target=run, args=("mine", study, _LONG_QUERY))
        b = threading.Thread(target=run, args=("other", other, "SELECT 1"))
        a.start()
        b.start()
        ready.wait(10)
        b.join(10)
        stopped = _interrupt_until(lambda: "mine" in outcome, study.interrupt)
        a.join(30)
        assert outcome == {"mine": "cancelled", "other": "finished"}
        assert stopped == 1
    finally:
        other.close()


class _FakeCursor:
    def __init__(self, name: str, calls: list[str], fail: bool = False) -> None:
        self.name, self.calls, self.fail = name, calls, fail

    def interrupt(self) -> None:
        self.calls.append(self.name)
        if self.fail:
            raise duckdb.ConnectionException("already closed")

    def close(self) -> None:
        raise duckdb.ConnectionException("already closed")


def test_the_cursor_registry_by_thread_and_study(tmp_path: Path) -> None:
    reg = _Cursors()
    calls: list[str] = []
    s1, s2 = object(), object()
    here = threading.get_ident()
    c1, c2, c3 = (_FakeCursor(n, calls) for n in ("c1", "c2", "c3"))
    reg.add(s1, c1)  # type: ignore[arg-type]
    reg.add(s2, c2)  # type: ignore[arg-type]

    def elsewhere() -> None:
        reg.add(s1, c3)  # type: ignore[arg-type]

    t = threading.Thread(target=elsewhere)
    t.start()
    t.join()
    there = t.ident
    assert (reg.count(s1), reg.count(s2)) == (2, 1)  # type: ignore[arg-type]
    assert reg.interrupt(thread_id=there) == 1 and calls == ["c3"]
    calls.clear()
    assert reg.interrupt(study=s1) == 2 and sorted(calls) == ["c1", "c3"]  # type: ignore[arg-type]
    calls.clear()
    assert reg.interrupt(thread_id=here, study=s2) == 1 and calls == ["c2"]  # type: ignore[arg-type]
    calls.clear()
    assert reg.interrupt() == 3
    # a cursor that fails to interrupt (closed meanwhile) does not stop the others
    reg.add(s2, _FakeCursor("bad", calls, fail=True))  # type: ignore[arg-type]
    calls.clear()
    assert reg.interrupt(study=s2) == 2 and sorted(calls) == ["bad", "c2"]  # type: ignore[arg-type]
    # removing one cursor of this thread keeps the thread's other ones
    reg.remove(c1)  # type: ignore[arg-type]
    assert (reg.count(s1), reg.count(s2)) == (1, 2)  # type: ignore[arg-type]
    assert here in reg._by_thread
    reg.remove(c2)  # type: ignore[arg-type]
    reg.remove(reg._by_thread[here][0][1])
    assert here not in reg._by_thread  # the thread's entry goes with its last cursor
    reg.remove(c1)  # type: ignore[arg-type]  # removing from a thread with none is a no-op
    assert reg._by_thread.keys() == {there}


def test_release_ignores_a_cursor_that_fails_to_close(study: Study) -> None:
    study._release(_FakeCursor("x", []))  # type: ignore[arg-type]


def test_a_closed_study_says_so(tmp_path: Path) -> None:
    s = Study(tmp_path / "c.duckdb")
    s.close()
    with pytest.raises(StudyError) as err:
        s.query("SELECT 1")
    assert str(err.value) == f"The study {tmp_path / 'c.duckdb'} is closed."


def test_checkpoint_folds_the_wal_and_is_skipped_when_it_cannot_write(
        study: Study, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    study.write("INSERT INTO t SELECT range FROM range(1000)")
    assert study.wal_bytes() > 0
    study.checkpoint()
    assert study.wal_bytes() == 0
    # a checkpoint that fails (a full disk, a DuckDB error) loses nothing and raises nothing
    for exc in (DiskFullError("full"), duckdb.IOException("IO Error")):
        def fail(sql: str, params: object = None, exc: Exception = exc) -> None:
            raise exc
        monkeypatch.setattr(study, "write", fail)
        study.checkpoint()
    monkeypatch.undo()

    calls: list[str] = []
    ro_path = tmp_path / "ro.duckdb"
    Study(ro_path).close()
    ro = Study(ro_path, read_only=True)
    monkeypatch.setattr(ro, "write", lambda sql, params=None: calls.append(sql))
    ro.checkpoint()  # read-only: nothing to fold, nothing written
    ro.close()
    closed = Study(tmp_path / "closed.duckdb")
    closed.close()
    monkeypatch.setattr(closed, "write", lambda sql, params=None: calls.append(sql))
    closed.checkpoint()
    assert calls == []


def test_migrate_reports_what_it_applied(tmp_path: Path) -> None:
    s = Study(tmp_path / "m.duckdb")  # migrated on open
    rows = s.query("SELECT version, name, app_version FROM schema_migrations ORDER BY version")
    assert [r["version"] for r in rows] == list(range(1, SCHEMA_VERSION + 1))
    assert {r["app_version"] for r in rows} == {__version__}
    assert all(r["name"] for r in rows)
    assert s.migrate() == []
    s.write("DELETE FROM schema_migrations WHERE version >= ?", [SCHEMA_VERSION])
    for table in ("generation_tokens", "text_scores", "scorers"):  # the newest migration's
        s.write(f"DROP TABLE {table}")
    s.write("DROP SEQUENCE seq_scorers")
    assert s.schema_version() == SCHEMA_VERSION - 1
    assert s.migrate() == [SCHEMA_VERSION]
    s.close()


def test_an_empty_migration_table_is_not_a_study(tmp_path: Path) -> None:
    path = tmp_path / "empty.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR)")
    con.close()
    with pytest.raises(StudyError) as err:
        Study(path)
    assert str(err.value) == (
        f"{path} is a DuckDB file but not a Monoscope study (it has tables and no "
        "schema_migrations). Choose a new file name for the study.")


def test_a_newer_schema_message(tmp_path: Path) -> None:
    path = tmp_path / "new.duckdb"
    Study(path).close()
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO schema_migrations (version, name) VALUES (?, 'future')",
                [SCHEMA_VERSION + 1])
    con.close()
    with pytest.raises(StudyError) as err:
        Study(path)
    assert str(err.value) == (
        f"{path} uses study schema {SCHEMA_VERSION + 1}, but this Monoscope ({__version__}) "
        f"knows schema {SCHEMA_VERSION} at most. Upgrade Monoscope to open it; the file was "
        "left untouched.")


def test_memory_budget_applies_inside_and_restores(study: Study) -> None:
    def limit() -> str:
        return _setting(study, "memory_limit")

    normal = limit()
    with study.memory_budget("512MB"):
        inside = limit()
    assert inside == "488.2 MiB"  # 512MB = 512 * 10**6 bytes
    # restored exactly: setting back the printed value ("18.8 GiB", rounded) would lower the
    # limit a little on every import
    assert limit() == normal
    with study.memory_budget("2GB"), study.memory_budget("256MB"):
        assert limit() == "244.1 MiB"
    assert limit() == normal
    with study.memory_budget("2GB"):
        with study.memory_budget("256MB"):
            pass
        assert limit() == "1.8 GiB"  # the outer budget again
    for _ in range(3):
        with pytest.raises(ValueError), study.memory_budget("256MB"):
            raise ValueError
    assert limit() == normal
    with pytest.raises(StudyError) as err, study.memory_budget("lots"):
        pass
    assert str(err.value) == "Memory limit 'lots' should look like 1GB or 512MB."
    assert limit() == normal


def test_a_cancel_reaches_only_the_thread_or_study_named(tmp_path: Path, study: Study) -> None:
    """An idle cursor of another thread, on another study, stays open while a thread's (and
    then a study's) queries are interrupted: the counts say only the named ones were hit."""
    other = Study(tmp_path / "other.duckdb")
    hold = threading.Event()
    opened = threading.Event()

    def idle_reader() -> None:
        with other.reader():
            opened.set()
            hold.wait(10)

    idle = threading.Thread(target=idle_reader)
    idle.start()
    try:
        assert opened.wait(10)
        with study.reader():  # this thread's own cursor, on `study`
            assert interrupt_thread(threading.get_ident()) == 1
            assert study.interrupt() == 1
            assert other.interrupt() == 1
        assert interrupt_thread(threading.get_ident()) == 0
    finally:
        hold.set()
        idle.join(10)
        other.close()


def test_cleanup_errors_never_hide_the_error_that_ended_the_block(study: Study) -> None:
    # the block closed its cursor: ROLLBACK and RESET then fail, quietly
    with pytest.raises(ValueError, match="the real one"), study.transaction(bulk=True) as cur:
        cur.execute("INSERT INTO t VALUES (1)")
        cur.close()
        raise ValueError("the real one")
    assert _xs(study) == []
    with study.transaction() as cur:
        cur.execute("INSERT INTO t VALUES (2)")
    assert _xs(study) == [2]


def test_memory_budget_defaults_and_nesting(study: Study, monkeypatch: pytest.MonkeyPatch) -> None:
    def limit() -> str:
        return _setting(study, "memory_limit")

    normal = limit()
    monkeypatch.delenv("MONOSCOPE_IMPORT_MEMORY", raising=False)
    with study.memory_budget():
        assert limit() == "953.6 MiB"  # 1GB = 10**9 bytes
    monkeypatch.setenv("MONOSCOPE_IMPORT_MEMORY", "300MB")
    with study.memory_budget():
        assert limit() == "286.1 MiB"
    with study.memory_budget("512mb"):  # any letter case
        assert limit() == "488.2 MiB"
    with study.memory_budget("2GB"):
        with study.memory_budget("256MB"):
            pass
        with study.memory_budget("128MB"):
            pass
        assert limit() == "1.8 GiB"  # back to the outer budget after each inner one
    assert limit() == normal
    # restoring that fails (the study is going away) is not an error of the block
    real = study.write

    def flaky(sql: str, params: object = None) -> None:
        if sql.startswith("RESET"):
            raise duckdb.ConnectionException("Connection already closed")
        real(sql, params)  # type: ignore[arg-type]

    monkeypatch.setattr(study, "write", flaky)
    with study.memory_budget("256MB"):
        pass
