"""The house rules of issue 11, checked on the source: SQL and DuckDB only in the store, static
imports only in the command line and the window, one way to run the stages."""

from __future__ import annotations

import ast
import re
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app" / "monoscope"
STORE = APP / "core" / "store"
SQL = re.compile(r"\b(SELECT\s.+\sFROM|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|"
                 r"CREATE\s+(OR\s+REPLACE\s+)?(TEMP\s+)?(TABLE|SEQUENCE|INDEX|VIEW)|CHECKPOINT|"
                 r"BEGIN\s+TRANSACTION|COPY\s.+\sTO)\b", re.DOTALL)  # the code writes SQL upper case
STORE_CALLS = {"query", "scalar", "write", "transaction", "reader"}


def _study_call(node: ast.AST) -> bool:
    """`study.query(...)`, `st.scalar(...)`, `self.study.transaction()`, `ctx.study.reader()`."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in STORE_CALLS):
        return False
    owner = node.func.value
    if isinstance(owner, ast.Name):
        return owner.id in {"study", "st"}
    return isinstance(owner, ast.Attribute) and owner.attr == "study"


def _outside_store() -> list[Path]:
    return [p for p in APP.rglob("*.py") if STORE not in p.parents]


def test_no_sql_outside_the_store() -> None:
    found = []
    for path in _outside_store():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef
                                    | ast.ClassDef)
                      and n.body and isinstance(n.body[0], ast.Expr)
                      and isinstance(n.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                    and id(node) not in docstrings and SQL.search(node.value)):
                found.append(f"{path.relative_to(APP)}:{node.lineno}: {node.value[:60]!r}")
            elif _study_call(node):
                found.append(f"{path.relative_to(APP)}:{node.lineno}: a direct store call")
    assert not found, "SQL outside core/store:\n" + "\n".join(found)


def test_only_the_store_imports_duckdb() -> None:
    found = []
    for path in _outside_store():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n == "duckdb" or n.startswith("duckdb.") for n in names):
                found.append(f"{path.relative_to(APP)}:{node.lineno}")
    assert not found, "duckdb imported outside core/store: " + ", ".join(found)


def test_static_imports_in_the_command_line_and_the_window() -> None:
    found = [str(p.relative_to(APP)) for folder in ("cli", "ui")
             for p in (APP / folder).rglob("*.py")
             if re.search(r"import_module|__import__|except ImportError",
                          p.read_text(encoding="utf-8"))]
    assert not found, found
