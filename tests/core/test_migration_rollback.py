"""A migration that fails halfway leaves the study exactly as before it: the schema version,
the tables and their columns, the rows. Each migration is its own transaction, so the ones
before it stay applied."""

from __future__ import annotations

from pathlib import Path

import pytest

from monoscope.core.store import SCHEMA_VERSION, Study
from monoscope.core.store import study as study_mod

GOOD = "CREATE TABLE added_by_next (x INTEGER);"
N = SCHEMA_VERSION  # the shipped migrations; the test's own come after them
BROKEN = (
    "CREATE TABLE half_done (x INTEGER);\n"
    "ALTER TABLE datasets ADD COLUMN extra INTEGER;\n"
    "UPDATE datasets SET name = 'changed';\n"
    "INSERT INTO no_such_table VALUES (1);\n"  # fails here, after three statements took effect
)


def _shape(st: Study) -> dict[str, object]:
    return {
        "version": st.schema_version(),
        "recorded": [r["version"] for r in st.query(
            "SELECT version FROM schema_migrations ORDER BY 1")],
        "tables": sorted(r["table_name"] for r in st.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'")),
        "dataset_columns": [r["column_name"] for r in st.query(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'datasets' "
            "ORDER BY ordinal_position")],
        "datasets": st.query("SELECT id, name, kind FROM datasets ORDER BY id"),
    }


@pytest.mark.parametrize("extra", [[(N + 1, "broken", BROKEN)],
                                   [(N + 1, "fine", GOOD), (N + 2, "broken", BROKEN)]],
                         ids=["fails-first", "fails-after-a-good-one"])
def test_failed_migration_rolls_back(study_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     extra: list[tuple[int, str, str]]) -> None:
    with Study(study_path) as st:
        st.write("INSERT INTO datasets (name, kind) VALUES ('kept', 'text')")
        before = _shape(st)
    assert before["version"] == SCHEMA_VERSION
    assert before["recorded"] == list(range(1, N + 1))
    shipped = study_mod.migrations()
    monkeypatch.setattr(study_mod, "migrations", lambda: [*shipped, *extra])
    monkeypatch.setattr(study_mod, "SCHEMA_VERSION", extra[-1][0])  # this build knows them
    with pytest.raises(Exception, match="no_such_table"):
        Study(study_path)
    with Study(study_path, read_only=True, create=False) as st:
        after = _shape(st)
    monkeypatch.undo()
    good = [m for m in extra if m[1] == "fine"]
    if good:  # the good migration before the broken one stays applied, on its own
        assert after["version"] == N + 1 and after["recorded"] == list(range(1, N + 2))
        assert after["tables"] == sorted([*before["tables"], "added_by_next"])  # type: ignore[misc]
        assert {k: after[k] for k in ("dataset_columns", "datasets")} == {
            k: before[k] for k in ("dataset_columns", "datasets")}
    else:
        assert after == before
    assert "half_done" not in after["tables"]  # type: ignore[operator]
    assert "extra" not in after["dataset_columns"]  # type: ignore[operator]
    # the file still opens for writing with the shipped migrations
    if not good:
        with Study(study_path) as st:
            assert st.scalar("SELECT name FROM datasets") == "kept"
