"""Sandbox overhead: per-test-case cost vs a bare `python -I -S` subprocess (baseline, same run).

Run: python benchmarks/bench_sandbox.py [n_cases]
"""

from __future__ import annotations

import subprocess
import sys
import time

from monoscope.core.sandbox import TestCase, network_isolation, run_tests

CODE = "n = int(input())\nprint(sum(range(n)))\n"


def main(n: int = 40) -> None:
    tests = [TestCase(str(i), str(sum(range(i)))) for i in range(n)]
    t0 = time.perf_counter()
    for t in tests:
        subprocess.run([sys.executable, "-I", "-S", "-c", CODE], input=t.input.encode(),
                       capture_output=True, check=True)  # fmt: skip
    base = time.perf_counter() - t0
    t0 = time.perf_counter()
    serial = run_tests(CODE, tests, parallelism=1)
    one = time.perf_counter() - t0
    t0 = time.perf_counter()
    par = run_tests(CODE, tests, parallelism=2)
    two = time.perf_counter() - t0
    assert serial.share_passed == par.share_passed == 1.0
    print(f"network barrier: {network_isolation()}; {n} cases")
    print(f"bare subprocess (baseline): {1000 * base / n:6.1f} ms/case")
    print(f"sandbox, 1 at a time:       {1000 * one / n:6.1f} ms/case  ratio {one / base:.2f}x")
    print(f"sandbox, 2 at a time:       {1000 * two / n:6.1f} ms/case  ratio {two / base:.2f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 40)
