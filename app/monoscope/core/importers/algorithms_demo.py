"""The `algorithms` demo (kind 'code'): named programming tasks, each with several human solutions.

Tasks, statements, harnesses and tests live in ``resources/demo/algorithms_tasks.json``. Each
solution is a function from keon/algorithms or pygorithm (both MIT), cut out of its module with
its helpers and wrapped in the task's stdin/stdout harness. Every program is run against the
task's tests at import; programs that fail are dropped (and counted), and a task keeps its place
only with at least `MIN_SOLUTIONS` passing programs.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monoscope.core import assets
from monoscope.core.errors import ImportFailed
from monoscope.core.importers.code_programs import build_program, check_program, extract_function
from monoscope.core.importers.common import ImportReport, load_staged
from monoscope.core.store import Study, staging
from monoscope.core.tasks import TaskState

DATASET = "algorithms"
MIN_SOLUTIONS = 4
LICENCES = {"algorithms-src": "keon/algorithms (MIT)", "pygorithm-src": "pygorithm (MIT)"}


@dataclass
class Solution:
    task: str
    asset: str
    module: str
    function: str
    program: str = ""
    passed: int = 0
    total: int = 0
    problem: str = ""

    @property
    def name(self) -> str:
        return f"{self.module}:{self.function}"


@dataclass
class Task:
    key: str
    title: str
    statement: str
    tests: list[dict[str, str]]
    solutions: list[Solution] = field(default_factory=list)


def spec_path() -> Path:
    return assets.resources_dir() / "demo" / "algorithms_tasks.json"


def load_tasks(path: Path | None = None) -> tuple[list[Task], dict[str, Any]]:
    """Tasks with their solution programs built (not yet checked); also the raw spec."""
    spec = json.loads((path or spec_path()).read_text(encoding="utf-8"))
    roots = {name: assets.locate(name) for name in LICENCES}
    tasks = []
    for t in spec["tasks"]:
        task = Task(t["key"], t["title"], t["statement"], t["tests"])
        for s in t["solutions"]:
            sol = Solution(t["key"], s["asset"], s["module"], s["function"])
            file = roots[s["asset"]].joinpath(*Path(s["module"]).parts[1:])
            try:
                src = extract_function(file.read_text(encoding="utf-8"), s["function"], s["module"])
                sol.program = build_program(src, s["function"], t["harness"], s.get("adapter"))
            except (OSError, ImportFailed) as exc:
                sol.problem = str(exc)
            task.solutions.append(sol)
        tasks.append(task)
    return tasks, spec


def check_solutions(tasks: list[Task], state: TaskState) -> None:
    """Run every program on its task's tests (in a child process); record passes and problems."""
    todo = [s for t in tasks for s in t.solutions]
    state.begin("checking algorithms solutions", len(todo))
    by_key = {t.key: t for t in tasks}

    def run(sol: Solution) -> Solution:
        tests = by_key[sol.task].tests
        sol.total = len(tests)
        if sol.program and not state.cancelled():
            res = check_program(sol.program, tests)
            sol.passed = res.passed
            if not res.ok:
                sol.problem = f"passed {res.passed}/{res.total}: {res.detail}"
        return sol

    # Two child interpreters at a time (the target machines have 2 cores); each runs all its tests.
    with ThreadPoolExecutor(max_workers=2) as pool:
        for i, sol in enumerate(pool.map(run, todo)):
            state.progress(i + 1, len(todo), sol.name)
    state.check()


def import_algorithms_demo(study: Study, state: TaskState | None = None) -> ImportReport:
    """Build, check and import the algorithms demo as dataset 'algorithms'."""
    state = state or TaskState()
    tasks, _spec = load_tasks()
    check_solutions(tasks, state)
    kept_tasks = [t for t in tasks if sum(s.problem == "" for s in t.solutions) >= MIN_SOLUTIONS]
    dropped = [s for t in tasks for s in t.solutions if s.problem]
    state.begin("import algorithms", 3)
    with staging.import_transaction(study) as stage:
        staging.create_stage_tables(stage)
        rows: list[tuple[Any, ...]] = []
        tests: list[tuple[Any, ...]] = []
        for t in kept_tasks:
            good = [s for s in t.solutions if not s.problem]
            pmeta = json.dumps({"solutions_checked": len(t.solutions), "solutions_passing": len(good),
                                "dropped": [s.name for s in t.solutions if s.problem]})
            for s in good:
                tmeta = json.dumps({"library": LICENCES[s.asset], "module": s.module,
                                    "function": s.function, "tests_passed": s.passed})
                rows.append((len(rows) + 1, t.key, t.title, t.statement, s.program, None, None, tmeta, pmeta))
            tests += [(t.key, "public", j, c["input"], c["output"]) for j, c in enumerate(t.tests)]
        staging.add_stage_rows(stage, rows)
        staging.add_stage_tests(stage, tests)
        meta = {
            "importer": "demo:algorithms",
            "spec": str(spec_path()),
            "attribution": ("Human solutions from keon/algorithms (MIT) and pygorithm (MIT); task "
                            "statements and tests written for Monoscope."),
            "dropped_solutions": {s.name + f" [{s.task}]": s.problem for s in dropped},
        }
        report = load_staged(
            stage, dataset=DATASET, kind="code", source_uri="demo:algorithms", meta=meta,
            append=False, state=state, describe_row=lambda n: f"solution {n}",
        )
    report.notes.append(
        f"{len(dropped)} of {sum(len(t.solutions) for t in tasks)} library functions failed their "
        f"task's tests and were dropped; {len(tasks) - len(kept_tasks)} tasks had fewer than "
        f"{MIN_SOLUTIONS} passing solutions")
    return report
