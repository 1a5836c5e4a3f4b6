"""Turn one function of a human-written library module into a runnable stdin/stdout program.

`extract_function` keeps the function's own source text (comments and docstrings included) plus
the module-level helpers, constants and imports it uses, found with `ast`. `check_program` runs
a program on test cases in a child Python process (one process per program, each test executed
afresh with its own stdin/stdout) — enough to vet trusted library code at import time; untrusted
generated code goes through the code attribute's sandbox instead.
"""

from __future__ import annotations

import ast
import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from monoscope.core.assets import python_executable
from monoscope.core.errors import ImportFailed

# Imports of the libraries' own packages cannot run outside them; a function needing one fails
# its tests and is dropped.
_OWN_PACKAGES = ("algorithms", "pygorithm")


def _bound_names(node: ast.Import | ast.ImportFrom) -> list[str]:
    return [(a.asname or a.name).split(".")[0] for a in node.names]


def _used_names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _segment(lines: list[str], node: ast.stmt) -> str:
    decorators = getattr(node, "decorator_list", [])
    start = min([node.lineno, *(d.lineno for d in decorators)])
    end = node.end_lineno or node.lineno
    return "".join(lines[start - 1:end]).rstrip() + "\n"


def extract_function(source: str, function: str, origin: str = "<module>") -> str:
    """Source of ``function`` with the top-level definitions and imports it needs, in file order."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ImportFailed(f"{origin} is not valid Python ({exc.msg}, line {exc.lineno}).") from None
    defs: dict[str, ast.stmt] = {}
    imports: list[ast.Import | ast.ImportFrom] = []
    future: list[ast.ImportFrom] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defs[node.name] = node
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Name):
                    defs[t.id] = node
        elif isinstance(node, ast.ImportFrom) and node.module == "__future__":
            future.append(node)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            imports.append(node)
    if function not in defs or not isinstance(defs[function], ast.FunctionDef | ast.AsyncFunctionDef):
        raise ImportFailed(f"{origin} has no top-level function {function!r}.")
    keep: set[int] = set()
    used: set[str] = set()
    todo = [function]
    while todo:
        found = defs.get(todo.pop())
        if found is None or id(found) in keep:
            continue
        keep.add(id(found))
        names = _used_names(found)
        used |= names
        todo.extend(n for n in names if n in defs)
    lines = source.splitlines(keepends=True)
    out = [_segment(lines, n) for n in future]
    for imp in imports:
        if isinstance(imp, ast.ImportFrom) and (imp.level or (imp.module or "").split(".")[0] in _OWN_PACKAGES):
            continue
        if isinstance(imp, ast.Import) and any(a.name.split(".")[0] in _OWN_PACKAGES for a in imp.names):
            continue
        if set(_bound_names(imp)) & used:
            out.append(_segment(lines, imp))
    body = [_segment(lines, n) for n in tree.body if id(n) in keep]
    head = "".join(out)
    return (head + "\n\n" if head else "") + "\n\n".join(body)


def build_program(function_source: str, function: str, harness: str, adapter: str | None) -> str:
    """Library function + ``solve`` (the function itself or an adapter) + the task's harness."""
    solve = adapter.strip() if adapter else f"solve = {function}"
    return f"{function_source.rstrip()}\n\n\n{solve}\n\n\n{harness.strip()}\n"


def same_output(got: str, expected: str) -> bool:
    """Outputs match up to trailing spaces on lines and trailing blank lines."""
    def norm(s: str) -> list[str]:
        return [line.rstrip() for line in s.strip().splitlines()]
    return norm(got) == norm(expected)


_DRIVER = r"""
import io, json, sys
job = json.loads(sys.stdin.read())
code = compile(job["code"], "<solution>", "exec")
results = []
real_out = sys.stdout
for case in job["tests"]:
    sys.stdin = io.StringIO(case["input"])
    sys.stdout = buf = io.StringIO()
    try:
        exec(code, {"__name__": "__main__"})
        results.append({"ok": True, "out": buf.getvalue()})
    except BaseException as exc:
        results.append({"ok": False, "out": type(exc).__name__ + ": " + str(exc)[:200]})
    finally:
        sys.stdout = real_out
        sys.stdin = sys.__stdin__
real_out.write(json.dumps(results))
"""


@dataclass(frozen=True)
class CheckResult:
    passed: int
    total: int
    detail: str

    @property
    def ok(self) -> bool:
        return self.passed == self.total


def check_program(code: str, tests: Sequence[dict[str, str]], timeout_s: float = 20.0) -> CheckResult:
    """Run ``code`` on every test in one child interpreter; counts the tests passed."""
    job = json.dumps({"code": code, "tests": list(tests)})
    try:
        proc = subprocess.run(
            [python_executable(), "-I", "-S", "-c", _DRIVER], input=job, capture_output=True,
            text=True, timeout=timeout_s, check=False,
        )
    except subprocess.TimeoutExpired:
        return CheckResult(0, len(tests), f"timed out after {timeout_s:.0f} s")
    try:
        results = json.loads(proc.stdout)
    except ValueError:
        return CheckResult(0, len(tests), (proc.stderr.strip().splitlines() or ["crashed"])[-1])
    passed = 0
    detail = ""
    for case, res in zip(tests, results, strict=True):
        if res["ok"] and same_output(res["out"], case["output"]):
            passed += 1
        elif not detail:
            shown = res["out"].strip()[:80]
            detail = f"input {case['input'].strip()[:40]!r}: got {shown!r}"
    return CheckResult(passed, len(tests), detail)
