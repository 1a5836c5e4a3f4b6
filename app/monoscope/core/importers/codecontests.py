"""CodeContests (Parquet or JSON lines) as a code dataset: problems as prompts, Python 3 solutions as texts.

Columns used: ``name``, ``description``, ``solutions{language, solution}``, ``public_tests`` and
``private_tests`` ``{input, output}``, and if present ``cf_tags``, ``difficulty``, ``source``,
``cf_rating``. Python 3 is language code 3 in CodeContests; the strings 'PYTHON3'/'python3' are
accepted too. Problems with fewer than ``min_solutions`` Python 3 solutions are left out; of the
rest ``per_problem`` solutions are sampled (seeded, stable: md5 of seed, name and index).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb

from monoscope.core.errors import ImportFailed
from monoscope.core.importers.common import (
    STAGE_DDL,
    ImportReport,
    check_target,
    load_staged,
    sql_literal,
)
from monoscope.core.importers.readers import (
    check_file,
    detect_format,
    reader_sql,
    require_columns,
    translate_error,
)
from monoscope.core.store import Study
from monoscope.core.tasks import TaskState

PYTHON3_CODES = ("3", "PYTHON3", "PYTHON_3", "PY3")
_OPTIONAL_META = ("cf_tags", "difficulty", "source", "cf_rating", "cf_contest_id", "cf_index")


@dataclass(frozen=True)
class CodeContestsOptions:
    min_solutions: int = 4
    per_problem: int = 10
    max_problems: int | None = None
    seed: int = 0

    def validate(self) -> None:
        if self.min_solutions < 1 or self.per_problem < 1:
            raise ImportFailed("--min-solutions and --per-problem must be at least 1.")
        if self.max_problems is not None and self.max_problems < 1:
            raise ImportFailed("--max-problems must be at least 1 (or left out for all problems).")


def import_codecontests(
    study: Study,
    path: str | Path,
    *,
    dataset: str = "codecontests",
    options: CodeContestsOptions | None = None,
    fmt: str | None = None,
    append: bool = False,
    state: TaskState | None = None,
) -> ImportReport:
    """Import problems, their tests and a sample of their Python 3 solutions in one transaction."""
    state = state or TaskState()
    opt = options or CodeContestsOptions()
    opt.validate()
    src = Path(path).expanduser()
    fmt = detect_format(src, fmt)
    if fmt == "csv":
        raise ImportFailed("CodeContests comes as Parquet or JSON lines, not CSV: convert it or use `monoscope import`.")
    check_file(src)
    state.begin("import codecontests", 3)
    with study.transaction() as cur:
        check_target(cur, dataset, "code", append)
        sql, types = reader_sql(cur, src, fmt)
        require_columns(src, types, {"key": "name", "context": "description", "text": "solutions"})
        if not types["solutions"].upper().startswith("STRUCT"):
            raise ImportFailed(
                f"{src}: column 'solutions' is {types['solutions']}, expected a struct "
                "{language: [...], solution: [...]} as in CodeContests.")
        meta_cols = [c for c in _OPTIONAL_META if c in types]
        meta_sql = ("json_object(" + ", ".join(f"{sql_literal(c)}, {_q(c)}" for c in meta_cols) + ")"
                    if meta_cols else "NULL")
        tests_cols = [c for c in ("public_tests", "private_tests") if c in types]
        cur.execute(STAGE_DDL)
        seed = sql_literal(str(opt.seed))
        limit = "" if opt.max_problems is None else f"LIMIT {int(opt.max_problems)}"
        codes = ", ".join(sql_literal(c) for c in PYTHON3_CODES)
        try:
            cur.execute(
                f"""CREATE OR REPLACE TEMP TABLE _problems AS
                SELECT row_number() OVER () AS file_row, CAST(name AS VARCHAR) AS name,
                       CAST(description AS VARCHAR) AS description, solutions,
                       {', '.join(tests_cols) + ',' if tests_cols else ''} {meta_sql} AS pmeta
                FROM {sql}"""
            )
            cur.execute(
                """CREATE OR REPLACE TEMP TABLE _sols AS
                SELECT name, i, solutions.solution[i] AS body,
                       upper(replace(CAST(solutions.language[i] AS VARCHAR), ' ', '')) AS lang
                FROM (SELECT name, solutions,
                             unnest(generate_series(1, len(solutions.solution))) AS i
                      FROM _problems WHERE solutions.solution IS NOT NULL)"""
            )
        except duckdb.Error as exc:
            raise translate_error(exc, src, fmt) from None
        bad = cur.execute("SELECT min(file_row) FROM _problems WHERE name IS NULL OR trim(name) = ''").fetchone()
        if bad and bad[0] is not None:
            where = f"line {bad[0]}" if fmt == "jsonl" else f"row {bad[0]}"
            raise ImportFailed(f"{src}, {where}: the problem has no 'name' (the prompt key). "
                               "Fill it in or drop the row.")
        state.check()
        cur.execute(
            f"""CREATE OR REPLACE TEMP TABLE _picked AS
            WITH py AS (SELECT * FROM _sols WHERE lang IN ({codes}) AND body IS NOT NULL),
            ok AS (SELECT name FROM py GROUP BY name HAVING count(*) >= {int(opt.min_solutions)}
                   ORDER BY md5({seed} || ':' || name) {limit})
            SELECT py.*, row_number() OVER (PARTITION BY py.name
                       ORDER BY md5({seed} || ':' || py.name || ':' || py.i)) AS pick
            FROM py JOIN ok USING (name)"""
        )
        cur.execute(
            f"""INSERT INTO _stage
            SELECT row_number() OVER (ORDER BY p.file_row, k.pick), k.name, k.name, p.description,
                   k.body, NULL, NULL, json_object('solution_index', k.i - 1, 'language', 'python3'),
                   p.pmeta
            FROM _picked k JOIN _problems p ON p.name = k.name
            WHERE k.pick <= {int(opt.per_problem)}"""
        )
        for col, kind in (("public_tests", "public"), ("private_tests", "private")):
            if col in tests_cols:
                cur.execute(
                    f"""INSERT INTO _stage_tests
                    SELECT name, '{kind}', j, CAST({col}.input[j] AS VARCHAR), CAST({col}.output[j] AS VARCHAR)
                    FROM (SELECT name, {col}, unnest(generate_series(1, len({col}.input))) AS j
                          FROM _problems WHERE name IN (SELECT name FROM _picked)
                            AND {col}.input IS NOT NULL)"""
                )
        n_problems = int((cur.execute("SELECT count(*) FROM _problems").fetchone() or [0])[0])
        for t in ("_problems", "_sols", "_picked"):
            cur.execute(f"DROP TABLE IF EXISTS {t}")
        meta = {
            "importer": "codecontests",
            "file": str(src.resolve()),
            "options": asdict(opt),
            "attribution": "CodeContests by DeepMind (Li et al., Science 2022), CC BY 4.0.",
        }
        report = load_staged(
            cur, dataset=dataset, kind="code", source_uri=str(src.resolve()), meta=meta,
            append=append, state=state, describe_row=lambda n: f"selected solution {n}",
            key_column="name",
        )
    report.notes.append(
        f"{n_problems:,} problems in the file; kept those with >= {opt.min_solutions} Python 3 "
        f"solutions, {opt.per_problem} per problem (seed {opt.seed})")
    return report


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
