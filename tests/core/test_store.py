"""Study store: migrations, version checks, locking, transactions."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from monoscope.core.errors import SchemaTooNewError, StudyError
from monoscope.core.store import SCHEMA_VERSION, Study, content_hash
from monoscope.core.store.study import migrations

REPO = Path(__file__).resolve().parents[2]


def test_new_study_has_current_schema(study: Study) -> None:
    assert study.schema_version() == SCHEMA_VERSION
    recorded = [r["version"] for r in study.query("SELECT version FROM schema_migrations ORDER BY 1")]
    assert recorded == [m[0] for m in migrations()]


def test_migrations_are_numbered_forward_only() -> None:
    numbers = [m[0] for m in migrations()]
    assert numbers == sorted(set(numbers)), "migration numbers must be unique and increasing"
    assert numbers[0] == 1


def test_reopen_applies_nothing(study_path: Path) -> None:
    Study(study_path).close()
    with Study(study_path) as st:
        assert st.migrate() == []


def test_older_study_is_migrated(study_path: Path) -> None:
    """A file holding only migration 1 is brought up to the current schema on open."""
    con = duckdb.connect(str(study_path))
    con.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, "
        "applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp, app_version VARCHAR)"
    )
    number, name, sql = migrations()[0]
    con.execute(sql)
    con.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", [number, name])
    con.execute("INSERT INTO datasets (name, kind) VALUES ('old', 'text')")
    con.close()
    with Study(study_path) as st:
        assert st.schema_version() == SCHEMA_VERSION
        assert st.scalar("SELECT name FROM datasets") == "old"


def test_texts_keep_only_their_primary_key_index(study_path: Path) -> None:
    """Migration 004 drops the secondary indexes of texts, also in a study that has texts."""
    con = duckdb.connect(str(study_path))
    con.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, "
        "applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp, app_version VARCHAR)"
    )
    for number, name, sql in migrations()[:2]:
        con.execute(sql)
        con.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", [number, name])
    con.execute("INSERT INTO texts (prompt_id, origin, sample_index, body, content_hash) "
                "VALUES (1, 'source', 0, 'kept', md5('kept'))")
    assert {r[0] for r in con.execute("SELECT index_name FROM duckdb_indexes() "
                                      "WHERE table_name = 'texts'").fetchall()} == {
        "idx_texts_prompt", "idx_texts_hash"}
    con.close()
    with Study(study_path) as st:
        assert st.query("SELECT index_name FROM duckdb_indexes() WHERE table_name = 'texts'") == []
        assert st.query("SELECT id, body FROM texts") == [{"id": 1, "body": "kept"}]
        assert st.scalar("SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'texts' "
                         "AND constraint_type = 'PRIMARY KEY'") == 1


def test_newer_study_is_refused_untouched(study_path: Path) -> None:
    Study(study_path).close()
    con = duckdb.connect(str(study_path))
    con.execute("INSERT INTO schema_migrations (version, name) VALUES (999, 'future')")
    con.close()
    before = study_path.read_bytes()
    with pytest.raises(SchemaTooNewError, match="Upgrade Monoscope"):
        Study(study_path)
    assert study_path.read_bytes() == before


def test_foreign_duckdb_file_is_refused(study_path: Path) -> None:
    con = duckdb.connect(str(study_path))
    con.execute("CREATE TABLE something (x INT)")
    con.close()
    with pytest.raises(StudyError, match="not a Monoscope study"):
        Study(study_path)


def test_not_a_duckdb_file(tmp_path: Path) -> None:
    bad = tmp_path / "notes.duckdb"
    bad.write_text("hello, this is not a database\n" * 100)
    with pytest.raises(StudyError, match="Cannot open"):
        Study(bad)


def test_missing_study_without_create(tmp_path: Path) -> None:
    with pytest.raises(StudyError, match="monoscope init"):
        Study(tmp_path / "none.duckdb", create=False)


def test_second_process_gets_clear_lock_message(study_path: Path) -> None:
    with Study(study_path):
        code = (
            "import sys\n"
            "from monoscope.core.store import Study\n"
            "from monoscope.core.errors import StudyLockedError\n"
            f"try:\n    Study({str(study_path)!r})\n"
            "except StudyLockedError as e:\n    print('LOCKED:', e); sys.exit(3)\n"
        )
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3, proc.stderr
    # names the real holder: this pytest process, with its command line from /proc
    assert f"open for writing in process {os.getpid()} (" in proc.stdout
    assert "pytest" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_cli_locked_study_exit_code(study_path: Path) -> None:
    with Study(study_path):
        proc = subprocess.run(
            [sys.executable, "-m", "monoscope", "init", str(study_path)],
            capture_output=True, text=True, timeout=60,
        )
    assert proc.returncode == 1
    assert f"open for writing in process {os.getpid()}" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_transaction_rolls_back(study: Study) -> None:
    with pytest.raises(RuntimeError), study.transaction() as cur:
        cur.execute("INSERT INTO datasets (name, kind) VALUES ('x', 'text')")
        raise RuntimeError("boom")
    assert study.scalar("SELECT count(*) FROM datasets") == 0


def test_content_hash_matches_duckdb_md5(study: Study) -> None:
    body = "Ünïcode review — with “quotes”\n"
    assert study.scalar("SELECT md5(?)", [body]) == content_hash(body)


def test_schema_doc_lists_every_table(study: Study) -> None:
    doc = (REPO / "docs" / "schema.md").read_text()
    documented = set(re.findall(r"^###\s+`([a-z_]+)`", doc, flags=re.M))
    tables = set(study.table_counts())
    missing = tables - documented
    assert not missing, f"tables missing from docs/schema.md: {sorted(missing)}"
    stale = documented - tables
    assert not stale, f"docs/schema.md documents tables that do not exist: {sorted(stale)}"
