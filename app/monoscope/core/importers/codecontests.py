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

from monoscope.core.errors import ImportFailed
from monoscope.core.importers.common import ImportReport, check_target, load_staged
from monoscope.core.importers.readers import (
    check_file,
    detect_format,
    open_table,
    require_columns,
)
from monoscope.core.store import Study, staging
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
    with staging.import_transaction(study) as stage:
        check_target(stage, dataset, "code", append)
        table = open_table(stage, src, fmt)
        types = table.types
        require_columns(src, types, {"key": "name", "context": "description", "text": "solutions"})
        if not staging.is_struct_type(types["solutions"]):
            raise ImportFailed(
                f"{src}: column 'solutions' is {types['solutions']}, expected a struct "
                "{language: [...], solution: [...]} as in CodeContests.")
        meta_cols = [c for c in _OPTIONAL_META if c in types]
        tests_cols = [c for c in ("public_tests", "private_tests") if c in types]
        staging.create_stage_tables(stage)
        staging.stage_codecontests_problems(stage, table, meta_cols, tests_cols)
        bad = staging.first_unnamed_problem(stage)
        if bad is not None:
            where = f"line {bad}" if fmt == "jsonl" else f"row {bad}"
            raise ImportFailed(f"{src}, {where}: the problem has no 'name' (the prompt key). "
                               "Fill it in or drop the row.")
        state.check()
        n_problems = staging.stage_codecontests_selection(
            stage, languages=PYTHON3_CODES, min_solutions=opt.min_solutions,
            per_problem=opt.per_problem, max_problems=opt.max_problems, seed=opt.seed,
            test_columns=tests_cols)
        meta = {
            "importer": "codecontests",
            "file": str(src.resolve()),
            "options": asdict(opt),
            "attribution": "CodeContests by DeepMind (Li et al., Science 2022), CC BY 4.0.",
        }
        report = load_staged(
            stage, dataset=dataset, kind="code", source_uri=str(src.resolve()), meta=meta,
            append=append, state=state, describe_row=lambda n: f"selected solution {n}",
            key_column="name",
        )
    report.notes.append(
        f"{n_problems:,} problems in the file; kept those with >= {opt.min_solutions} Python 3 "
        f"solutions, {opt.per_problem} per problem (seed {opt.seed})")
    return report
