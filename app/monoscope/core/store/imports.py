"""Repository of imported data: datasets, prompts, source texts, prompt tests, and the
bring-your-own attribute values and external runs (tables `datasets`, `prompts`, `texts`,
`prompt_tests`, `attributes`, and the `runs`, `models`, `generations` rows of an import).

Importers stage a file with `monoscope.core.store.staging` and load it with the functions here
on the same `Stage`, so that the whole import is one transaction. The functions only read and
write; what to import, and what to tell the user, is the importers' business.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from monoscope.core.store.staging import (
    BYO_TABLES,
    EMPTY_BODY,
    Offender,
    Stage,
    first_offender,
    label_sql,
    num_sql,
    sql_literal,
    str_sql,
)
from monoscope.core.store.study import Study

_DATASET_BY_NAME = "SELECT id, kind FROM datasets WHERE name = ?"


# -- datasets ----------------------------------------------------------------------------------
def find_dataset(stage: Stage, name: str) -> tuple[int, str] | None:
    """(id, kind) of the dataset of that name, inside an import; None if there is none."""
    row = stage.cur.execute(_DATASET_BY_NAME, [name]).fetchone()
    return (int(row[0]), str(row[1])) if row else None


def dataset_names(stage: Stage) -> list[str]:
    """Names of the study's datasets, oldest first."""
    return [str(r[0]) for r in stage.cur.execute("SELECT name FROM datasets ORDER BY id").fetchall()]


def prompt_count(stage: Stage, dataset_id: int) -> int:
    """Prompts of a dataset."""
    row = stage.cur.execute("SELECT count(*) FROM prompts WHERE dataset_id = ?", [dataset_id]).fetchone()
    return int(row[0]) if row else 0


def prompt_keys(stage: Stage, dataset_id: int, limit: int) -> list[str]:
    """The first ``limit`` prompt keys of a dataset, in key order (examples for messages)."""
    return [str(r[0]) for r in stage.cur.execute(
        f"SELECT key FROM prompts WHERE dataset_id = ? ORDER BY key LIMIT {int(limit)}",
        [dataset_id]).fetchall()]


def prompt_tests_by_key(study: Study, dataset_id: int, key: str) -> list[tuple[str, str]]:
    """(input, output) of each test of the prompt with that key, in order."""
    rows = study.query(
        "SELECT t.input, t.output FROM prompt_tests t JOIN prompts p ON p.id = t.prompt_id "
        "WHERE p.dataset_id = ? AND p.key = ? ORDER BY t.idx",
        [dataset_id, key],
    )
    return [(str(r["input"]), str(r["output"])) for r in rows]


# -- staged source texts -----------------------------------------------------------------------
def keep_new_texts(stage: Stage, dataset_id: int | None, max_bytes: int) -> int:
    """Pick the staged rows to write into ``_kept`` (row_no, key, h, sample_no): the first row of
    each (key, text), leaving out empty texts, texts over ``max_bytes`` and, when appending to
    ``dataset_id``, texts it already holds under that key; ``sample_no`` numbers a key's kept
    rows from 1 in file order. Returns how many rows were kept."""
    existing = (
        "SELECT p.key, t.content_hash AS h FROM texts t JOIN prompts p ON p.id = t.prompt_id "
        f"WHERE p.dataset_id = {int(dataset_id)} AND t.origin = 'source'"
        if dataset_id is not None else "SELECT NULL::VARCHAR AS key, NULL::VARCHAR AS h WHERE false"
    )
    # numbered here, on these narrow rows: numbering the joined rows sorted their bodies too
    stage.cur.execute(
        f"""CREATE OR REPLACE TEMP TABLE _kept AS
        SELECT c.row_no, c.key, c.h, row_number() OVER (PARTITION BY c.key ORDER BY c.row_no) AS sample_no
        FROM (
            SELECT min(row_no) AS row_no, key, h
            FROM (SELECT row_no, key, md5(body) AS h FROM _stage
                  WHERE NOT ({EMPTY_BODY}) AND strlen(body) <= {int(max_bytes)})
            GROUP BY key, h
        ) c ANTI JOIN ({existing}) e ON e.key = c.key AND e.h = c.h"""
    )
    return stage.count("SELECT count(*) FROM _kept")


def _stage_in_row_order(stage: Stage) -> None:
    """Make ``_stage``'s rows lie in row_no order, rewriting it if an importer filled it in
    another order (the generic import's rows already lie so: the k-th row holds row_no k)."""
    # rowids of a table made in this transaction start at a large offset
    if stage.count("SELECT count(*) FILTER (WHERE row_no IS DISTINCT FROM rowid - first + 1) "
                   "FROM _stage, (SELECT min(rowid) AS first FROM _stage)"):
        stage.cur.execute("CREATE OR REPLACE TEMP TABLE _stage AS SELECT * FROM _stage ORDER BY row_no")


@dataclass(frozen=True)
class StagedWrite:
    """What `write_staged` wrote: its new prompts, the dataset's prompts now, tests added."""

    new_prompts: int
    prompts: int
    tests: int


def write_staged(stage: Stage, dataset_id: int | None, *, name: str, kind: str,
                 source_uri: str, meta: Mapping[str, Any]) -> StagedWrite:
    """Write the kept rows (`keep_new_texts`) as source texts of the dataset (created when
    ``dataset_id`` is None): prompts first met get the first non-empty title (else the key),
    context and prompt meta of their rows; texts are numbered on after the prompt's last;
    prompts without tests get their staged tests."""
    cur = stage.cur
    if dataset_id is None:
        row = cur.execute(
            "INSERT INTO datasets (name, kind, source_uri, meta) VALUES (?, ?, ?, ?) RETURNING id",
            [name, kind, source_uri, json.dumps(meta)],
        ).fetchone()
        assert row is not None
        dataset_id = int(row[0])
    ds_id = int(dataset_id)
    before = stage.count(f"SELECT count(*) FROM prompts WHERE dataset_id = {ds_id}")
    cur.execute(
        f"""INSERT INTO prompts (dataset_id, key, title, context, meta)
        SELECT {ds_id}, k.key,
               coalesce(arg_min(k.title, k.row_no) FILTER (WHERE k.title IS NOT NULL AND trim(k.title) <> ''), k.key),
               arg_min(k.context, k.row_no) FILTER (WHERE k.context IS NOT NULL AND trim(k.context) <> ''),
               arg_min(k.prompt_meta, k.row_no) FILTER (WHERE k.prompt_meta IS NOT NULL)
        FROM _stage k SEMI JOIN _kept USING (row_no)
        WHERE k.key NOT IN (SELECT key FROM prompts WHERE dataset_id = {ds_id})
        GROUP BY k.key ORDER BY min(k.row_no)"""
    )
    new_prompts = stage.count(f"SELECT count(*) FROM prompts WHERE dataset_id = {ds_id}") - before
    # The texts' ids are drawn in file order. Each staged row gets its prompt, sample index and
    # hash (NULL: not kept) in a narrow table in the order of _stage's rows, which is pasted
    # beside _stage (POSITIONAL JOIN): no join or sort carries the bodies (~0.2 s less CPU per
    # 100k texts than joining _kept to _stage and sorting the result).
    _stage_in_row_order(stage)
    cur.execute(
        f"""CREATE OR REPLACE TEMP TABLE _rows AS
        SELECT p.id AS prompt_id, k.h,
               (coalesce(m.next_index, 0) + k.sample_no - 1)::INTEGER AS sample_index
        FROM _stage s LEFT JOIN _kept k USING (row_no)
        LEFT JOIN prompts p ON p.dataset_id = {ds_id} AND p.key = k.key
        LEFT JOIN (SELECT prompt_id, max(sample_index) + 1 AS next_index FROM texts
                   WHERE origin = 'source' GROUP BY prompt_id) m ON m.prompt_id = p.id
        ORDER BY s.rowid"""
    )
    cur.execute(
        """INSERT INTO texts (prompt_id, origin, run_id, sample_index, body, content_hash, label, rating, meta)
        SELECT r.prompt_id, 'source', NULL, r.sample_index, s.body, r.h, s.label, s.rating, s.meta
        FROM _stage s POSITIONAL JOIN _rows r WHERE r.h IS NOT NULL"""
    )
    tests = _insert_tests(stage, ds_id)
    prompts = stage.count(f"SELECT count(*) FROM prompts WHERE dataset_id = {ds_id}")
    cur.execute("DROP TABLE IF EXISTS _kept")
    cur.execute("DROP TABLE IF EXISTS _rows")
    return StagedWrite(new_prompts, prompts, tests)


def _insert_tests(stage: Stage, ds_id: int) -> int:
    """Tests of prompts that have none yet (appending never duplicates a problem's tests)."""
    before = stage.count("SELECT count(*) FROM prompt_tests")
    stage.cur.execute(
        f"""INSERT INTO prompt_tests (prompt_id, idx, kind, input, output)
        SELECT p.id, (row_number() OVER (PARTITION BY p.id ORDER BY s.kind = 'private', s.ord) - 1)::INTEGER,
               s.kind, s.input, s.output
        FROM _stage_tests s JOIN prompts p ON p.dataset_id = {ds_id} AND p.key = s.key
        WHERE p.id NOT IN (SELECT prompt_id FROM prompt_tests)
          AND s.input IS NOT NULL AND s.output IS NOT NULL"""
    )
    return stage.count("SELECT count(*) FROM prompt_tests") - before


# -- bring your own: attribute values ----------------------------------------------------------
# Staged rows are in staging.BYO_TABLES["attributes"] (_byo_attr: row_no and one text column per
# role); _byo_res maps each row_no to the text it names (tid, NULL when none).
_ATTR = BYO_TABLES["attributes"]


def resolve_attribute_text_ids(stage: Stage, roles: Collection[str]) -> None:
    """Name each staged attribute row's text by its text_id (NULL when the study has none)."""
    stage.cur.execute(
        f"CREATE OR REPLACE TEMP TABLE _byo_res AS SELECT a.row_no, "
        f"{num_sql('text_id', roles, 'BIGINT')} AS tid FROM {_ATTR} a"
    )
    stage.cur.execute("UPDATE _byo_res SET tid = NULL WHERE tid NOT IN (SELECT id FROM texts)")


def resolve_attribute_keys(stage: Stage, roles: Collection[str], dataset: str | None) -> None:
    """Name each staged attribute row's text by dataset, prompt key, run label ('source' or
    'human' for the source texts; the default) and sample index. The dataset is the row's
    ``dataset`` cell, else ``dataset``; with no dataset column, ``dataset`` must be given."""
    if "dataset" in roles:
        ds_sql = "a.dataset"
        if dataset is not None:
            ds_sql = f"coalesce(NULLIF(a.dataset, ''), {sql_literal(dataset)})"
    else:
        assert dataset is not None, "a file without a dataset column needs a dataset"
        ds_sql = sql_literal(dataset)
    run_sql = "coalesce(NULLIF(a.run, ''), 'source')" if "run" in roles else "'source'"
    stage.cur.execute(f"""
        CREATE OR REPLACE TEMP TABLE _byo_res AS
        SELECT a.row_no, min(t.id) AS tid, count(t.id) AS n
        FROM {_ATTR} a
        LEFT JOIN datasets d ON d.name = {ds_sql}
        LEFT JOIN prompts p ON p.dataset_id = d.id AND p.key = a.key
        LEFT JOIN runs r ON r.dataset_id = d.id AND r.label = {run_sql}
        LEFT JOIN texts t ON t.prompt_id = p.id
            AND t.sample_index = {num_sql('sample', roles, 'INTEGER')}
            AND ((t.origin = 'source' AND {run_sql} IN ('source', 'human') AND t.run_id IS NULL)
                 OR (t.origin = 'generated' AND t.run_id = r.id))
        GROUP BY a.row_no""")  # fmt: skip


def first_unmatched_attribute(stage: Stage) -> Offender | None:
    """First staged attribute row that names no text of the study."""
    return first_offender(stage, "_byo_res", "tid IS NULL")


def first_ambiguous_attribute(stage: Stage) -> Offender | None:
    """First staged attribute row whose key, run and sample match several texts."""
    return first_offender(stage, "_byo_res", "n > 1")


def first_repeated_attribute(stage: Stage) -> Offender | None:
    """First staged attribute row whose text and attribute name appear on another row too."""
    return first_offender(
        stage, f"(SELECT r.row_no, count(*) OVER (PARTITION BY r.tid, a.name) AS n "
               f"FROM _byo_res r JOIN {_ATTR} a USING (row_no))", "n > 1")


def write_attributes(stage: Stage, roles: Collection[str], version: str) -> list[str]:
    """Write (or replace) the staged attribute values with their version tag; drops the staged
    tables. Returns the attribute names written, sorted."""
    cur = stage.cur
    cur.execute(
        "INSERT OR REPLACE INTO attributes (text_id, name, value, label, version) "
        f"SELECT r.tid, trim(a.name), {num_sql('value', roles, 'DOUBLE')}, {label_sql(roles)}, ? "
        f"FROM {_ATTR} a JOIN _byo_res r USING (row_no)",
        [version],
    )
    names = [str(r[0]) for r in cur.execute(
        f"SELECT DISTINCT trim(name) FROM {_ATTR} ORDER BY 1").fetchall()]  # fmt: skip
    cur.execute(f"DROP TABLE {_ATTR}")
    cur.execute("DROP TABLE _byo_res")
    return names


# -- bring your own: an external run -----------------------------------------------------------
# Staged rows are in staging.BYO_TABLES["generations"] (_byo_gen); _byo_p maps each row to its
# prompt, _byo_rows adds prompt_id and the sample index (sidx).
_GEN = BYO_TABLES["generations"]


def run_labelled(stage: Stage, dataset_id: int, label: str) -> int | None:
    """Id of the dataset's run with that label; None if it has none."""
    row = stage.cur.execute("SELECT id FROM runs WHERE dataset_id = ? AND label = ?",
                            [dataset_id, label]).fetchone()  # fmt: skip
    return int(row[0]) if row else None


def match_generation_prompts(stage: Stage, dataset_id: int) -> None:
    """Look up the prompt of each staged generation by its key (NULL when the dataset has none)."""
    stage.cur.execute(
        f"CREATE OR REPLACE TEMP TABLE _byo_p AS SELECT g.row_no, p.id AS prompt_id "
        f"FROM {_GEN} g LEFT JOIN prompts p ON p.dataset_id = ? AND p.key = g.key",
        [dataset_id],
    )


def first_unknown_prompt(stage: Stage) -> Offender | None:
    """First staged generation whose key names no prompt of the dataset."""
    return first_offender(stage, "_byo_p", "prompt_id IS NULL")


def number_generations(stage: Stage, roles: Collection[str]) -> None:
    """Give each staged generation its sample index: the file's, or else its place among its
    prompt's rows (0-based, file order)."""
    sample_sql = (
        num_sql("sample", roles, "INTEGER")
        if "sample" in roles
        else "CAST(row_number() OVER (PARTITION BY g.key ORDER BY g.row_no) - 1 AS INTEGER)"
    )
    stage.cur.execute(f"""
        CREATE OR REPLACE TEMP TABLE _byo_rows AS
        SELECT g.*, p.prompt_id, {sample_sql} AS sidx FROM {_GEN} g JOIN _byo_p p USING (row_no)
    """)  # fmt: skip


def first_bad_sample(stage: Stage) -> Offender | None:
    """First staged generation whose sample index is missing or negative."""
    return first_offender(stage, "_byo_rows", "sidx IS NULL OR sidx < 0")


def first_repeated_sample(stage: Stage) -> Offender | None:
    """First staged generation whose prompt and sample index appear on another row too."""
    return first_offender(
        stage, "(SELECT row_no, count(*) OVER (PARTITION BY prompt_id, sidx) AS n FROM _byo_rows)",
        "n > 1")


def external_model(stage: Stage, name: str) -> int:
    """The `models` row standing for a model that ran elsewhere (no local file, no hash)."""
    key = f"external:{name}"
    row = stage.cur.execute("SELECT id FROM models WHERE sha256 = ?", [key]).fetchone()
    if row:
        return int(row[0])
    stage.cur.execute(
        "INSERT INTO models (path, sha256, name) VALUES (?, ?, ?) RETURNING id",
        [f"external://{name}", key, name],
    )
    got = stage.cur.fetchone()
    return int(got[0]) if got else 0


def write_external_run(stage: Stage, dataset_id: int, model_id: int, *, label: str,
                       template: str, sampling: Mapping[str, Any], seed: int,
                       meta: Mapping[str, Any], roles: Collection[str]) -> tuple[int, int]:
    """Write the staged generations as a new run (engine 'external', status 'imported'): its
    texts, in file order, and their `generations` rows; drops the staged tables.
    Returns (run id, prompts covered)."""
    cur = stage.cur
    n_per = cur.execute(
        "SELECT max(c) FROM (SELECT count(*) c FROM _byo_rows GROUP BY prompt_id)").fetchone()  # fmt: skip
    cur.execute(
        "INSERT INTO runs (dataset_id, model_id, label, engine, template, sampling, "
        "n_per_prompt, seed, status, started_at, finished_at, meta) VALUES "
        "(?, ?, ?, 'external', ?, ?, ?, ?, 'imported', current_timestamp, current_timestamp, ?) "
        "RETURNING id",
        [dataset_id, model_id, label, template, json.dumps(sampling),
         int(n_per[0] if n_per else 0), seed, json.dumps(meta)],
    )  # fmt: skip
    got = cur.fetchone()
    run_id = int(got[0]) if got else 0
    c = roles
    # Draw the ids, then hand them out in file order (nextval order is not row order).
    cur.execute(
        "CREATE OR REPLACE TEMP TABLE _byo_nv AS SELECT nextval('seq_texts') AS nv FROM _byo_rows"
    )
    cur.execute(
        "CREATE OR REPLACE TEMP TABLE _byo_ids AS SELECT n.nv AS tid, r.* FROM "
        "(SELECT *, row_number() OVER (ORDER BY row_no) AS k FROM _byo_rows) r JOIN "
        "(SELECT nv, row_number() OVER (ORDER BY nv) AS k FROM _byo_nv) n USING (k)"
    )
    cur.execute(
        "INSERT INTO texts (id, prompt_id, origin, run_id, sample_index, body, content_hash) "
        "SELECT tid, prompt_id, 'generated', ?, sidx, text, md5(text) FROM _byo_ids",
        [run_id],
    )
    cur.execute(
        f"""INSERT INTO generations (text_id, run_id, prompt_id, sample_index, seed, params,
            prompt_text, n_prompt_tokens, n_tokens, finish_reason, mean_logprob, perplexity,
            wall_ms)
        SELECT tid, ?, prompt_id, sidx, coalesce({num_sql("seed", c, "BIGINT")}, ?), ?,
            {str_sql("prompt_text", c)}, {num_sql("n_prompt_tokens", c, "INTEGER")},
            {num_sql("n_tokens", c, "INTEGER")}, {str_sql("finish_reason", c)},
            {num_sql("mean_logprob", c, "DOUBLE")}, {num_sql("perplexity", c, "DOUBLE")},
            {num_sql("wall_ms", c, "DOUBLE")}
        FROM _byo_ids""",
        [run_id, seed, json.dumps(sampling)],
    )
    prompts = stage.count("SELECT count(DISTINCT prompt_id) FROM _byo_ids")
    for table in (_GEN, "_byo_p", "_byo_rows", "_byo_nv", "_byo_ids"):
        cur.execute(f"DROP TABLE {table}")
    return run_id, prompts
