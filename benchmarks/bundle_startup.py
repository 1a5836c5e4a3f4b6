"""Start-up of the frozen desktop bundle vs the same commands in the dev venv (the baseline).

    python benchmarks/bundle_startup.py [dist/monoscope] [--repeat 3]

Times `monoscope --version`, `monoscope --help` and `monoscope info STUDY` (a fresh study) as
whole processes, median of N runs each, and prints bundle/venv ratios; then a child interpreter
(`-I -S -c pass`) from the bundle's `monoscope-python` and its main executable vs the venv's python. Needs a built bundle
(`bash packaging/build_bundle.sh`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(cmd: list[str], repeat: int) -> float:
    """Median wall seconds of running cmd to completion (it must succeed)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bundle", nargs="?", default=str(ROOT / "dist" / "monoscope"))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    frozen = Path(args.bundle) / "monoscope"
    venv = shutil.which("monoscope", path=str(Path(sys.executable).parent)) or "monoscope"
    if not frozen.is_file():
        sys.exit(f"no bundle at {frozen}: build it with bash packaging/build_bundle.sh")
    with tempfile.TemporaryDirectory() as tmp:
        study = str(Path(tmp) / "s.duckdb")
        subprocess.run([venv, "init", study], check=True, capture_output=True)
        cases = {"--version": ["--version"], "--help": ["--help"], "info": ["info", study]}
        print(f"{'command':<12}{'venv s':>9}{'bundle s':>10}{'ratio':>8}")
        for name, argv in cases.items():
            base = timed([venv, *argv], args.repeat)
            got = timed([str(frozen), *argv], args.repeat)
            print(f"{name:<12}{base:>9.2f}{got:>10.2f}{got / base:>7.2f}x")
        # child interpreter for sandboxed programs: `python -I -S -c pass`
        child = Path(args.bundle) / "monoscope-python"
        for name, exe in (("child-py", child), ("child-main", frozen)):
            if exe.is_file():
                base = timed([sys.executable, "-I", "-S", "-c", "pass"], args.repeat)
                got = timed([str(exe), "-I", "-S", "-c", "pass"], args.repeat)
                print(f"{name:<12}{base:>9.2f}{got:>10.2f}{got / base:>7.2f}x")


if __name__ == "__main__":
    main()
