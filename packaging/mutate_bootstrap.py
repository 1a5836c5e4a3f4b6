"""Mutation testing of the sandbox bootstrap (``BOOTSTRAP`` in ``core/sandbox/boot.py``).

The bootstrap is Python source held in a string and run by a bare child interpreter
(``python -I -S -c BOOTSTRAP``), so mutmut's in-process trampolines cannot reach it. This
mutates the code inside the string with mutmut's own operators (only nodes inside ``_boot``),
writes each mutant into a copy of the package and runs the sandbox tests against it in a fresh
``pytest -x`` process. Exit code 0 = survived; anything else (or the time-out) = killed.
Used by ``packaging/mutate.py core/sandbox/boot.py:BOOTSTRAP``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

BOOT = "app/monoscope/core/sandbox/boot.py"
_LITERAL = re.compile(r'(BOOTSTRAP = r""")(.*?)(""")', re.S)


def mutants(source: str) -> list[tuple[str, str]]:
    """(diff line, mutated bootstrap source) for every mutation mutmut makes inside ``_boot``."""
    from types import SimpleNamespace

    import libcst as cst
    from mutmut.mutation import pragma_handling
    from mutmut.mutation.file_mutation import create_mutations, deep_replace

    # mutmut reads its project config here; the bootstrap has none of its own
    pragma_handling.config = lambda: SimpleNamespace(do_not_mutate_patterns=[])  # type: ignore
    module, found, _, _ = create_mutations("BOOTSTRAP", source)
    out: list[tuple[str, str]] = []
    for m in found:
        if m.contained_by_top_level_function is None:
            continue
        new = deep_replace(module, m.original_node, m.mutated_node)
        assert isinstance(new, cst.Module)
        code = new.code
        if code == source:
            continue
        before = module.code_for_node(m.original_node).strip().splitlines()[0][:80]
        after = module.code_for_node(m.mutated_node).strip().splitlines()
        out.append((f"{before}  ->  {after[0][:80] if after else '(removed)'}", code))
    return out


def _prepare(work: Path, repo: Path) -> None:
    for name, src in (("src/monoscope", repo / "app/monoscope"), ("tests", repo / "tests"),
                      ("resources", repo / "resources")):
        dst = work / name
        shutil.rmtree(dst, ignore_errors=True)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy2(repo / "pyproject.toml", work / "pyproject.toml")


# Runs in the work folder: imports pytest and the package once, then forks one child per
# mutant that swaps the bootstrap in and runs the tests (``-x``); one JSON line per mutant.
_RUNNER = r"""
import json, os, signal, sys, time
import pytest
import monoscope.core.sandbox as sandbox
import monoscope.core.sandbox.boot as boot
for heavy in ("scipy.stats", "sklearn.neighbors", "sacrebleu", "rouge_score.rouge_scorer",
              "monoscope.core.analysis.measure", "monoscope.cli"):
    try:  # imported once here, inherited by every forked child
        __import__(heavy)
    except Exception:
        pass
jobs = json.load(open(sys.argv[1]))
tests_of = json.load(open(os.environ["MUTATE_TESTS_OF"])) if os.environ.get("MUTATE_TESTS_OF") \
    else None
timeout = float(sys.argv[2])
logs = sys.argv[3]
tests = sys.argv[4:]
args = ["-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:xdist", *tests]
for name, code, mutant in jobs:
    log = os.open(f"{logs}/{name}.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    pid = os.fork()
    if pid == 0:
        os.setsid()
        os.dup2(log, 1); os.dup2(log, 2)
        if code is not None:
            sandbox.BOOTSTRAP = boot.BOOTSTRAP = code
        plugins = []
        if mutant == "stats":  # which test reaches which mutmut-mutated function
            import mutmut.mutation.trampoline as tramp
            hits, seen, took = set(), {}, {}
            tramp.record_trampoline_hit = lambda name, caller=None: hits.add(name)

            class Stats:
                def pytest_runtest_logreport(self, report):
                    took[report.nodeid] = took.get(report.nodeid, 0.0) + report.duration

                def pytest_runtest_teardown(self, item, nextitem):
                    for h in hits:
                        seen.setdefault(h, []).append(item.nodeid)
                    hits.clear()

                def pytest_sessionfinish(self, session):
                    # fastest first: -x stops at the first test that kills the mutant
                    out = {h: sorted(t, key=lambda n: took.get(n, 0.0)) for h, t in seen.items()}
                    json.dump(out, open(f"{logs}/stats.json", "w"))

            plugins.append(Stats())
            args = [a for a in args if a != "-x"]
        if mutant is not None:  # a mutmut mutant: its trampolines read this
            os.environ["MUTANT_UNDER_TEST"] = mutant
        if code is None and mutant is not None and mutant != "stats" and tests_of is not None:
            args += tests_of[mutant.rpartition("__mutmut_")[0]]
        os._exit(int(pytest.main(args, plugins=plugins)))
    os.close(log)
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        got, st = os.waitpid(pid, os.WNOHANG)
        if got:
            status = os.waitstatus_to_exitcode(st)
            break
        time.sleep(0.05)
    if status is None:
        os.killpg(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        verdict = "timeout"
    else:
        verdict = "survived" if status == 0 else "killed"
    print(json.dumps([name, verdict]), flush=True)
"""


def run_jobs(cwd: Path, jobs: list[tuple[str, str | None, str | None]], tests: list[str],
             env: dict[str, str], src: Path, timeout: float, logs: Path,
             on_result: Callable[[str, str], None] | None = None) -> dict[str, str]:
    """Run the tests once per job (name, bootstrap source or None, mutmut mutant or None) in
    forked children of one warm process in ``cwd``; name -> survived / killed / timeout.
    Each child's output goes to ``logs/<name>.log``."""
    logs.mkdir(exist_ok=True)
    (logs / "jobs.json").write_text(json.dumps(jobs))
    proc = subprocess.Popen([sys.executable, "-c", _RUNNER, str(logs / "jobs.json"),
                             str(timeout), str(logs), *tests],
                            cwd=cwd, env={**env, "PYTHONPATH": str(src)},
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    out: dict[str, str] = {}
    t0 = time.monotonic()
    for line in proc.stdout:
        name, verdict = json.loads(line)
        out[name] = verdict
        if on_result is not None:
            on_result(name, verdict)
        print(f"[{len(out)}/{len(jobs)} {time.monotonic() - t0:.0f}s] {name}: {verdict}",
              flush=True)
    proc.wait()
    return out


def _run(work: Path, jobs: list[tuple[str, str | None]], tests: list[str],
         env: dict[str, str], timeout: float) -> dict[str, str]:
    return run_jobs(work, [(n, c, None) for n, c in jobs], tests, env, work / "src", timeout,
                    work / "logs")


def run_bootstrap(work: Path, repo: Path, tests: list[str], env: dict[str, str],
                  again: bool) -> dict[str, str]:
    """Run every bootstrap mutant (or, with ``again``, last run's survivors); name -> status."""
    work.mkdir(parents=True, exist_ok=True)
    boot_text = (repo / BOOT).read_text()
    match = _LITERAL.search(boot_text)
    assert match, "BOOTSTRAP = r\"\"\"...\"\"\" not found in boot.py"
    source = match.group(2)
    found = mutants(source)
    results_path = work / "results.json"
    old: dict[str, str] = json.loads(results_path.read_text()) if results_path.is_file() else {}
    present = [t for t in tests if (repo / t.split("::")[0]).is_file()]
    present.sort(key=lambda t: "test_mutants_" not in t)  # the newest tests first (-x)
    _prepare(work, repo)
    print(f"work folder: {work}; {len(found)} bootstrap mutants; tests: {' '.join(present)}",
          flush=True)
    clean = _run(work, [("clean", None)], present, env, 900)
    if clean.get("clean") != "survived":
        raise SystemExit(f"the unmutated bootstrap fails the selected tests ({work}/logs/clean.log)")
    diffs = {f"BOOTSTRAP__mutant_{i}": diff for i, (diff, _) in enumerate(found, start=1)}
    jobs: list[tuple[str, str | None]] = []
    results: dict[str, str] = {}
    for i, (_, code) in enumerate(found, start=1):
        name = f"BOOTSTRAP__mutant_{i}"
        if again and old.get(name) not in (None, "survived"):
            results[name] = old[name]
        else:
            jobs.append((name, code))
    results.update(_run(work, jobs, present, env, 300))
    results = {n: results[n] for n in diffs if n in results}
    results_path.write_text(json.dumps(results, indent=1))
    (work / "mutants.json").write_text(json.dumps(diffs, indent=1))
    for name, verdict in results.items():
        if verdict == "survived":
            print(f"  {name}: {diffs[name]}")
    return results
