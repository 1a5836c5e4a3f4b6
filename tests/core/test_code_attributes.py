"""Code attributes: extraction, AST tags, complexity, and sandboxed test runs through annotate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monoscope.core.attributes import AnnotateRequest, annotate, extractors
from monoscope.core.attributes.code.static import (
    ALGORITHMS,
    DATA_STRUCTURES,
    algorithm_tags,
    cyclomatic,
    data_structure_tags,
    extract_code,
)
from monoscope.core.store import Study, content_hash
from monoscope.testing import raw_connection

BINARY_SEARCH = """
import sys
def main():
    n, x = map(int, input().split())
    a = sorted(map(int, input().split()))
    lo, hi = 0, n - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        if a[mid] == x:
            print(mid); return
        elif a[mid] < x:
            lo = mid + 1
        else:
            hi = mid - 1
    print(-1)
main()
"""

FIB_MEMO = """
from functools import lru_cache
@lru_cache(None)
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)
print(fib(int(input())))
"""

BFS = """
from collections import deque
n, m = map(int, input().split())
adj = [[] for _ in range(n)]
for _ in range(m):
    u, v = map(int, input().split())
    adj[u].append(v); adj[v].append(u)
seen = {0}
q = deque([0])
while q:
    u = q.popleft()
    for v in adj[u]:
        if v not in seen:
            seen.add(v); q.append(v)
print(len(seen))
"""

BUBBLE = """
a = list(map(int, input().split()))
for i in range(len(a)):
    for j in range(len(a) - 1 - i):
        if a[j] > a[j + 1]:
            a[j], a[j + 1] = a[j + 1], a[j]
print(*a)
"""

PERMS = """
def perms(items, path, used, out):
    if len(path) == len(items):
        out.append(path[:]); return
    for i, x in enumerate(items):
        if not used[i]:
            used[i] = True
            path.append(x)
            perms(items, path, used, out)
            path.pop()
            used[i] = False
res = []
perms([1, 2, 3], [], [False] * 3, res)
print(len(res))
"""

POPCOUNT = "n = int(input())\nc = 0\nwhile n:\n    c += n & 1\n    n >>= 1\nprint(c)\n"
HEAP = "import heapq\nh = []\nfor x in [3, 1, 2]:\n    heapq.heappush(h, (x, str(x)))\nprint(heapq.heappop(h))\n"
WORDS = "s = input()\ncounts = {}\nfor w in s.lower().split():\n    counts[w] = counts.get(w, 0) + 1\nprint(max(counts.values()))\n"


def test_extract_code_from_fences_prose_and_cut_generations() -> None:
    md = "Here is my solution:\n```python\nprint(1)\n```\nIt prints 1."
    assert extract_code(md) == "print(1)"
    two = "```\nx = 1\n```\nand better:\n```py\ndef f():\n    return 2\nprint(f())\n```"
    assert extract_code(two) == "def f():\n    return 2\nprint(f())"
    cut = "Sure!\n```python\nn = int(input())\nprint(n * 2)\n"  # max_tokens hit, no closing fence
    assert extract_code(cut) == "n = int(input())\nprint(n * 2)"
    prose = "We read n and double it.\nn = int(input())\nprint(n * 2)\nThis runs in O(1)."
    assert extract_code(prose) == "n = int(input())\nprint(n * 2)"
    assert extract_code("I cannot solve this problem, sorry.") is None
    assert extract_code("```cpp\nint main() { return 0; }\n```") is None


@pytest.mark.parametrize(
    ("code", "must", "must_not"),
    [
        (BINARY_SEARCH, {"Searching", "Sorting"}, {"Recursion", "Graph"}),
        (FIB_MEMO, {"Recursion", "Dynamic Programming"}, {"Sorting", "Backtracking"}),
        (BFS, {"Graph"}, {"Recursion", "Sorting"}),
        (BUBBLE, {"Sorting"}, {"Searching", "Dynamic Programming"}),
        (PERMS, {"Recursion", "Backtracking"}, {"Sorting"}),
        (POPCOUNT, {"Bit Manipulation"}, {"Sorting", "Graph"}),
        (WORDS, {"String"}, {"Bit Manipulation"}),
        ("print(int(input()) + 1)\n", {"Others"}, {"Sorting"}),
    ],
)
def test_algorithm_tags(code: str, must: set[str], must_not: set[str]) -> None:
    tags = algorithm_tags(code)
    assert tags is not None
    assert tags <= set(ALGORITHMS)
    assert must <= tags, tags
    assert not tags & must_not, tags


@pytest.mark.parametrize(
    ("code", "must", "must_not"),
    [
        (BFS, {"Arrays", "Queues", "Sets"}, {"Heaps", "Trees"}),
        (HEAP, {"Heaps", "Priority Queues", "Arrays"}, {"Sets"}),
        (WORDS, {"Hash Tables", "Maps"}, {"Queues"}),
        (PERMS, {"Arrays", "Stacks"}, {"Hash Tables"}),
        ("print(int(input()) + 1)\n", {"Others"}, {"Arrays"}),
    ],
)
def test_data_structure_tags(code: str, must: set[str], must_not: set[str]) -> None:
    tags = data_structure_tags(code)
    assert tags is not None
    assert tags <= set(DATA_STRUCTURES)
    assert must <= tags, tags
    assert not tags & must_not, tags


def test_type_hints_are_not_bit_operations() -> None:
    tags = algorithm_tags("def f(x: int | None) -> int | None:\n    return x\n")
    assert tags == {"Others"}


def test_cyclomatic_hand_counted() -> None:
    assert cyclomatic("print(1)\n") == 1
    # while(1) + if(1) + elif(1) + 'and'(1) + comprehension for(1) + its if(1) = 6 → 7
    code = (
        "i = 0\n"
        "while i < 10:\n"
        "    if i % 2 and i > 3:\n"
        "        pass\n"
        "    elif i == 4:\n"
        "        pass\n"
        "    i += 1\n"
        "xs = [j for j in range(5) if j]\n"
    )
    assert cyclomatic(code) == 7
    assert cyclomatic(BINARY_SEARCH) == 1 + 1 + 1 + 1  # while, if, elif
    assert cyclomatic("def (:") is None


def test_code_extractors_are_registered_for_code_datasets() -> None:
    reg = extractors()
    for name in ("code.algorithms", "code.data_structures", "code.cyclomatic", "code.correct"):
        assert name in reg and "code" in reg[name].kinds


DOUBLE_OK = "n = int(input())\nprint(n * 2)\n"
DOUBLE_WRONG = "n = int(input())\nprint(n + 2)\n"  # right only for n = 2
LOOPS = "while True:\n    pass\n"
GENERATED = "Here you go:\n```python\nimport sys\nprint(2 * int(sys.stdin.read()))\n```\n"


def _code_study(study: Study) -> dict[str, int]:
    con = raw_connection(study)
    con.execute("INSERT INTO datasets (name, kind) VALUES ('algos', 'code')")
    ds = study.dataset_id("algos")
    con.execute("INSERT INTO prompts (dataset_id, key, title) VALUES (?, 'double', 'Double')", [ds])
    con.execute("INSERT INTO prompts (dataset_id, key, title) VALUES (?, 'none', 'No tests')", [ds])
    pid = int(study.scalar("SELECT id FROM prompts WHERE key = 'double'"))
    pid_none = int(study.scalar("SELECT id FROM prompts WHERE key = 'none'"))
    for i, (inp, out) in enumerate([("2", "4"), ("5", "10"), ("21\n", "42\n")]):
        con.execute("INSERT INTO prompt_tests VALUES (?, ?, 'public', ?, ?)", [pid, i, inp, out])
    con.execute(
        "INSERT INTO runs (dataset_id, label, engine, template, sampling, n_per_prompt, seed, "
        "status) VALUES (?, 'gen', 'external', 'code', ?, 2, 0, 'imported')",
        [ds, json.dumps({"temperature": 1.0})],
    )
    run = int(study.scalar("SELECT max(id) FROM runs"))
    ids: dict[str, int] = {}
    rows = [
        ("ok", pid, "source", None, 0, DOUBLE_OK),
        ("wrong", pid, "source", None, 1, DOUBLE_WRONG),
        ("loops", pid, "source", None, 2, LOOPS),
        ("gen", pid, "generated", run, 0, GENERATED),
        ("gen_dup", pid, "generated", run, 1, GENERATED),
        ("notests", pid_none, "source", None, 0, DOUBLE_OK),
    ]
    for name, prompt, origin, run_id, idx, body in rows:
        con.execute(
            "INSERT INTO texts (prompt_id, origin, run_id, sample_index, body, content_hash) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [prompt, origin, run_id, idx, body, content_hash(body)],
        )
        ids[name] = int(study.scalar("SELECT max(id) FROM texts"))
    return ids


def _attrs(study: Study, name: str) -> dict[int, tuple[float | None, str | None]]:
    rows = study.query("SELECT text_id, value, label FROM attributes WHERE name = ?", [name])
    return {int(r["text_id"]): (r["value"], r["label"]) for r in rows}


def test_annotate_runs_code_through_the_sandbox(study: Study) -> None:
    from monoscope.core.attributes.code import extractors as code_attrs
    from monoscope.core.sandbox import Limits

    ids = _code_study(study)
    names = ["code.algorithms", "code.data_structures", "code.cyclomatic", "code.correct"]
    old = code_attrs.Execution.limits
    code_attrs.Execution.limits = Limits(timeout_s=1.0)
    try:
        res = annotate(study, AnnotateRequest(dataset="algos", attributes=names))
    finally:
        code_attrs.Execution.limits = old
    correct = _attrs(study, "code.correct")
    assert correct[ids["ok"]] == (1.0, "pass")
    assert correct[ids["wrong"]][0] == pytest.approx(1 / 3)  # passes only the n = 2 test
    assert correct[ids["wrong"]][1] == "fail"
    assert correct[ids["loops"]] == (0.0, "timeout")
    assert correct[ids["gen"]] == (1.0, "pass")  # markdown fence stripped before running
    assert correct[ids["gen_dup"]] == (1.0, "pass")
    assert ids["notests"] not in correct  # nothing to judge without tests
    wall, peak = _attrs(study, "code.wall_ms"), _attrs(study, "code.peak_kb")
    # the loop ran until its 1 s limit stopped it (a floor set by the limit, not a speed)
    assert wall[ids["loops"]][0] is not None and wall[ids["loops"]][0] >= 1000
    assert wall[ids["ok"]][0] is not None and wall[ids["ok"]][0] > 0
    peak_ok = peak[ids["ok"]][0]
    assert peak_ok is not None and peak_ok > 1000
    cyc = _attrs(study, "code.cyclomatic")
    assert cyc[ids["loops"]][0] == 2.0 and cyc[ids["ok"]][0] == 1.0
    algos = _attrs(study, "code.algorithms")
    assert algos[ids["ok"]] == (1.0, "Others")
    by_name = {o.name: o for o in res.outcomes}
    assert by_name["code.correct"].computed == 4  # the duplicate generation ran once
    again = annotate(study, AnnotateRequest(dataset="algos", attributes=names))
    assert again.computed == 0


def test_judge_answer_parsing_keeps_to_the_fixed_list() -> None:
    from monoscope.core.attributes.code.judge import parse_answer

    assert parse_answer("Sorting, Binary Search") == {"Sorting", "Searching"}
    assert parse_answer("It uses DP with memoization and recursion.") == {
        "Dynamic Programming",
        "Recursion",
    }
    assert parse_answer("BFS over the grid; bitwise tricks") == {"Graph", "Bit Manipulation"}
    assert parse_answer("I am not sure.") == {"Others"}
    assert parse_answer("Others") == {"Others"}


def test_judge_is_off_by_default() -> None:
    reg = extractors()
    assert "code.judge_algorithms" in reg
    assert reg["code.judge_algorithms"].kinds == ()


@pytest.mark.slow
def test_judge_with_real_smollm2_gives_tags_from_the_list(study: Study) -> None:
    """Real SmolLM2-135M: the answers are poor, but parsed tags always come from the list."""
    con = raw_connection(study)
    con.execute("INSERT INTO datasets (name, kind) VALUES ('tiny', 'code')")
    ds = study.dataset_id("tiny")
    con.execute("INSERT INTO prompts (dataset_id, key, title) VALUES (?, 'p', 'P')", [ds])
    pid = study.scalar("SELECT id FROM prompts")
    body = "a = sorted(map(int, input().split()))\nprint(a[0])\n"
    for i in range(2):  # the same body twice: the judge is asked once (content-hash cache)
        con.execute(
            "INSERT INTO texts (prompt_id, origin, sample_index, body, content_hash) "
            "VALUES (?, 'source', ?, ?, ?)",
            [pid, i, body, content_hash(body)],
        )
    req = AnnotateRequest(dataset="tiny", attributes=["code.judge_algorithms"])
    res = annotate(study, req)
    got = _attrs(study, "code.judge_algorithms")
    assert len(got) == 2
    for value, label in got.values():
        assert label is not None and value is not None
        tags = set(label.split(";"))
        assert tags <= set(ALGORITHMS) and len(tags) == value
    version = study.scalar(
        "SELECT DISTINCT version FROM attributes WHERE name = 'code.judge_algorithms'"
    )
    assert str(version).startswith("judge-1:") and "SmolLM2" in str(version)
    assert res.computed == 1
    assert annotate(study, req).computed == 0


def _versions(study: Study, name: str) -> set[str]:
    return {str(r["version"]) for r in study.query(
        "SELECT DISTINCT version FROM attributes WHERE name = ?", [name])}


def test_without_the_sandbox_code_runs_only_when_opted_in_and_is_marked(
    study: Study, monkeypatch: pytest.MonkeyPatch
) -> None:
    from monoscope.core.attributes.code import extractors as code_attrs
    from monoscope.core.sandbox import Limits, SandboxUnavailable
    from monoscope.core.sandbox import bwrap as sandbox_wall

    ids = _code_study(study)
    monkeypatch.setattr(code_attrs.Execution, "limits", Limits(timeout_s=0.5))
    with monkeypatch.context() as m:
        m.setattr(sandbox_wall, "_checked", lambda python, size: "no bwrap here.")
        with pytest.raises(SandboxUnavailable, match="unsafe-no-sandbox"):
            annotate(study, AnnotateRequest(dataset="algos", attributes=["code.correct"]))
        assert _attrs(study, "code.correct") == {}
        req = AnnotateRequest(dataset="algos", attributes=["code.correct"],
                              unsafe_no_sandbox=True)
        annotate(study, req)
        assert _attrs(study, "code.correct")[ids["ok"]] == (1.0, "pass")
        marked = {"1+unsafe-no-sandbox"}
        assert _versions(study, "code.correct") == _versions(study, "code.wall_ms") == marked
        assert annotate(study, req).computed == 0  # done (unsafely) is done
    # the sandbox is back: the unsafe rows are recomputed inside it
    again = annotate(study, AnnotateRequest(dataset="algos", attributes=["code.correct"]))
    assert again.computed == 4
    assert _versions(study, "code.correct") == {"1"}
    assert _attrs(study, "code.correct")[ids["ok"]] == (1.0, "pass")


def test_run_code_cli_records_the_isolation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    from monoscope.cli import main
    from monoscope.core.sandbox import bwrap as sandbox_wall

    prog = tmp_path / "double.py"
    prog.write_text(DOUBLE_OK)
    assert main(["run-code", str(prog), "--input", "21", "--expect", "42"]) == 0
    row = json.loads(capsys.readouterr().out.splitlines()[0])
    assert row["status"] == "pass" and row["isolation"] == "bwrap"
    monkeypatch.setattr(sandbox_wall, "_checked", lambda python, size: "no bwrap here.")
    assert main(["run-code", str(prog), "--input", "21"]) == 1
    assert "apt-get install bubblewrap" in capsys.readouterr().err
    assert main(["run-code", str(prog), "--input", "21", "--unsafe-no-sandbox"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out.splitlines()[0])["isolation"] == "unsafe-no-sandbox"
    assert "isolation: unsafe-no-sandbox" in out.err
