"""Prompt switches in the real window (offscreen): today's code against a baseline revision,
in one run, on one study.

Usage:
    python benchmarks/bench_prompt_switch.py [--switches 60] [--rounds 3]
                                             [--baseline-rev 7b2b757] [--prompts 40]

Builds a synthetic fixture study (40 prompts, three runs, PCA maps), extracts the app as it
was at ``--baseline-rev`` with `git archive`, and times, in separate processes taking turns,
``--switches`` prompt switches in each version's `MainWindow`: `show_prompt(key)` then wait
until the map, histograms, table and inspector lists of that prompt have loaded. Every child
opens its own copy of the study and measures after the window has settled. Prints the median
switch time of each version per round and the ratio today / baseline (goal: ≤ 1.0, "no slower
than before"), and the same for the CPU time the process spends per switch (all threads), which
is steadier than wall time on a busy machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from baseline_study import baseline_copy, open_window  # noqa: E402


def child(study: str, switches: int) -> None:
    """Runs inside one version's interpreter: open the window, switch prompts, print times."""
    app, win = open_window(study)
    keys = list(win.prompts.model.table.key)
    times, cpu = [], []
    for i in range(switches + 5):
        key = keys[(i * 7) % len(keys)]
        t0, c0 = time.perf_counter(), time.process_time()
        win.show_prompt(key)
        assert win.wait_idle(120)
        app.processEvents()
        if i >= 5:  # the first switches warm caches up
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)  # every thread of the process
    win.close()
    print(json.dumps({"times": times, "cpu": cpu}))


def run_child(app_dir: Path, study: Path, copy: Path, switches: int
              ) -> tuple[list[float], list[float]]:
    if app_dir == ROOT / "app":
        shutil.copy(study, copy)
    else:  # an older version: without the tables of migrations it does not know
        baseline_copy(study, copy, ROOT / "app", app_dir)
    env = {**os.environ, "PYTHONPATH": str(app_dir), "QT_QPA_PLATFORM": "offscreen",
           "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", str(copy),
                          "--switches", str(switches)],
                         env=env, capture_output=True, text=True, check=False, cwd=str(copy.parent))
    if out.returncode:
        raise SystemExit(f"child on {app_dir} failed:\n{out.stderr[-3000:]}")
    line = [s for s in out.stdout.splitlines() if s.startswith("{")][-1]
    got = json.loads(line)
    return [float(t) for t in got["times"]], [float(c) for c in got["cpu"]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--switches", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--prompts", type=int, default=40)
    ap.add_argument("--baseline-rev", default="7b2b757")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.switches)
        return
    sys.path.insert(0, str(ROOT / "app"))
    from monoscope.testing.fixture_study import build_fixture_study

    work = Path(tempfile.mkdtemp(prefix="bench-switch-"))
    study = work / "study.duckdb"
    build_fixture_study(study, n_prompts=args.prompts).close()
    base = work / "baseline"
    base.mkdir()
    tar = subprocess.run(["git", "-C", str(ROOT), "archive", args.baseline_rev, "app"],
                         check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(base)], input=tar, check=True)
    versions = {"baseline": base / "app", "today": ROOT / "app"}
    medians: dict[str, list[float]] = {k: [] for k in versions}
    cpu_medians: dict[str, list[float]] = {k: [] for k in versions}
    print(f"{args.prompts} prompts, {args.switches} switches per child, baseline "
          f"{args.baseline_rev}")
    for r in range(args.rounds):
        for name, app_dir in versions.items():
            times, cpu = run_child(app_dir, study, work / f"{name}.duckdb", args.switches)
            med = statistics.median(times)
            medians[name].append(med)
            cpu_medians[name].append(statistics.median(cpu))
            print(f"round {r + 1} {name:8s} median switch {1000 * med:7.1f} ms wall "
                  f"(p90 {1000 * sorted(times)[int(0.9 * len(times))]:.1f} ms), "
                  f"{1000 * statistics.median(cpu):6.1f} ms CPU")
    b, t = statistics.median(medians["baseline"]), statistics.median(medians["today"])
    bc, tc = statistics.median(cpu_medians["baseline"]), statistics.median(cpu_medians["today"])
    print(f"median of rounds: baseline {1000 * b:.1f} ms, today {1000 * t:.1f} ms, "
          f"ratio today/baseline {t / b:.2f} wall (goal <= 1.0)")
    print(f"CPU per switch (all threads; steadier on a busy machine): baseline "
          f"{1000 * bc:.1f} ms, today {1000 * tc:.1f} ms, ratio {tc / bc:.2f}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
