"""Sandbox overhead per test case vs a bare `python -I -S` subprocess (baseline, same run).

Measures, interleaved over ``--rounds`` rounds (medians reported): the bare subprocess, the
current sandbox (bubblewrap wall) one and two at a time, and — with ``--old-ref REF`` — the
sandbox as it was at git commit REF (loaded from ``git show``, e.g. the audit-hook-only sandbox
before issue 12: ``--old-ref 638de8e``). Projects a CodeContests-sized study: 100 problems ×
20 solutions × 10 tests, two sandboxes at a time (the code attribute's setting).

Run: python benchmarks/bench_sandbox.py [--cases 40] [--rounds 3] [--old-ref 638de8e]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from monoscope.core.sandbox import TestCase, isolation, run_tests

CODE = "n = int(input())\nprint(sum(range(n)))\n"
STUDY_TESTS = 100 * 20 * 10  # problems x solutions x tests


def _old_sandbox(ref: str) -> Any:
    """The sandbox module as of git ``ref`` (its own imports resolve against this checkout)."""
    root = Path(__file__).resolve().parents[1]
    src = subprocess.run(["git", "show", f"{ref}:app/monoscope/core/sandbox.py"], cwd=root,
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    mod = types.ModuleType("monoscope_old_sandbox")
    mod.__dict__["__name__"] = "monoscope_old_sandbox"
    sys.modules[mod.__name__] = mod  # dataclasses look the module up
    exec(compile(src, f"{ref}:sandbox.py", "exec"), mod.__dict__)
    return mod


def _per_case(fn: Callable[[], object], n: int) -> float:
    t0 = time.perf_counter()
    fn()
    return 1000 * (time.perf_counter() - t0) / n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--old-ref", default=None, help="git commit of the sandbox to compare with")
    args = ap.parse_args()
    n = args.cases
    tests = [TestCase(str(i), str(sum(range(i)))) for i in range(n)]

    def bare() -> None:
        for t in tests:
            subprocess.run([sys.executable, "-I", "-S", "-c", CODE], input=t.input.encode(),
                           capture_output=True, check=True)  # fmt: skip

    def new(par: int) -> Callable[[], None]:
        def go() -> None:
            assert run_tests(CODE, tests, parallelism=par).share_passed == 1.0

        return go

    runs: dict[str, Callable[[], None]] = {"bare subprocess (baseline)": bare,
                                           "new sandbox, 1 at a time": new(1),
                                           "new sandbox, 2 at a time": new(2)}  # fmt: skip
    if args.old_ref:
        old = _old_sandbox(args.old_ref)

        def old_run(par: int) -> Callable[[], None]:
            def go() -> None:
                cases = [old.TestCase(t.input, t.output) for t in tests]
                assert old.run_tests(CODE, cases, parallelism=par).share_passed == 1.0

            return go

        runs[f"old sandbox ({args.old_ref}), 1 at a time"] = old_run(1)
        runs[f"old sandbox ({args.old_ref}), 2 at a time"] = old_run(2)
    for fn in runs.values():  # warm-up: probes, caches, the page cache
        fn()
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(args.rounds):
        for name, fn in runs.items():
            times[name].append(_per_case(fn, n))
    med = {k: statistics.median(v) for k, v in times.items()}
    base = med["bare subprocess (baseline)"]
    print(f"isolation: {isolation()}; {n} cases x {args.rounds} rounds (medians)")
    for name, ms in med.items():
        print(f"{name:<40} {ms:6.1f} ms/case  {ms / base:5.2f}x bare  "
              f"(+{ms - base:5.1f} ms)  rounds: {', '.join(f'{t:.1f}' for t in times[name])}")
    new2 = med["new sandbox, 2 at a time"]
    print(f"\nprojection, {STUDY_TESTS:,} test runs (100 problems x 20 solutions x 10 tests), "
          f"2 at a time: new {new2 * STUDY_TESTS / 60000:.1f} min", end="")
    if args.old_ref:
        old2 = med[f"old sandbox ({args.old_ref}), 2 at a time"]
        print(f", old {old2 * STUDY_TESTS / 60000:.1f} min: new/old = {new2 / old2:.2f}x")
    else:
        print()


if __name__ == "__main__":
    main()
