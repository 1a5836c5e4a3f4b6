"""Mutation testing of one module with mutmut, on a focused test selection (not part of CI).

    python packaging/mutate.py core/analysis/metrics.py          # all mutants of the module
    python packaging/mutate.py core/analysis/metrics.py --again  # re-test last run's survivors
    python packaging/mutate.py core/analysis/measure.py --sample 150 --seed 1 --skip x_ratio
                                                  # a seeded uniform sample of the mutants
    python packaging/mutate.py core/sandbox/boot.py:BOOTSTRAP    # the sandbox bootstrap's code
    python packaging/mutate.py --list                            # modules and their tests

mutmut copies the source it mutates into ``mutants/`` and only knows the ``src/`` layout, so
each module gets a work folder (``$MONOSCOPE_MUTATE_DIR``, default
``~/.cache/monoscope/mutate/<module>``) holding ``src/monoscope`` (a copy of ``app/monoscope``),
``tests``, ``resources`` and a ``pyproject.toml`` whose ``[tool.mutmut]`` names the module and
its tests. mutmut runs each mutant only against the selected tests that reach the mutated
function (``-x``: the first failure kills it).

The sandbox bootstrap (``boot.py``'s ``BOOTSTRAP``) is Python code held in a string and run by
a bare child interpreter, which mutmut cannot reach; ``boot.py:BOOTSTRAP`` mutates that code
with mutmut's own operators and runs the sandbox tests once per mutant in a subprocess.

The score printed at the end: killed / survived / equivalent (mutants named in
``EQUIVALENT[module]`` of ``packaging/mutate_equivalent.py``, each with its reason), plus
mutants that timed out (counted as killed, as mutmut does), had no covering test or were
skipped. Results are written to ``<work>/score.json``.

``--sample N --seed S`` runs only N mutants drawn uniformly at random (seeded) from the
module's mutants (after ``--only`` / ``--skip``), for modules whose every mutant runs a slow
stage; the score then comes with its 95 % Wilson interval for the whole population.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from mutate_equivalent import EQUIVALENT  # noqa: E402

# The tests whose names relate to each module (fast, focused; the new test_mutants_* files
# hold the tests written against this module's surviving mutants).
_IMPORT_TESTS = [
    "tests/core/test_import_generic.py", "tests/core/test_import_sources.py",
    "tests/core/test_import_real_files.py", "tests/core/test_mutants_import.py",
]
TESTS: dict[str, list[str]] = {
    "core/analysis/metrics.py": [
        "tests/core/test_metrics.py", "tests/core/test_metrics_field.py",
        "tests/core/test_mutants_metrics.py",
    ],
    # the measure stage's tests build studies (slow): its selection leaves out the CLI runs
    # and test_measure_null.py (fixtures of ~50 s each)
    "core/analysis/measure.py": [
        *(f"tests/core/test_measure.py::{t}" for t in (
            "test_per_prompt_values_match_hand_computation",
            "test_perplexity_filter_changes_the_aggregate",
            "test_perplexity_filter_boundary_is_inclusive",
            "test_json_is_strict_and_runs_resolve", "test_per_prompt_table_sorted_by_index")),
        "tests/core/test_measure_field.py", "tests/core/test_measure_logprob.py",
        "tests/core/test_measure_text_gate.py", "tests/core/test_mutants_measure.py",
    ],
    "core/sandbox/__init__.py": [
        "tests/core/test_sandbox.py", "tests/core/test_sandbox_hostile.py",
        "tests/core/test_mutants_sandbox.py",
    ],
    "core/sandbox/bwrap.py": [
        "tests/core/test_sandbox.py", "tests/core/test_sandbox_hostile.py",
        "tests/core/test_mutants_sandbox.py", "tests/core/test_mutants_bwrap.py",
    ],
    "core/sandbox/boot.py": [
        "tests/core/test_sandbox.py", "tests/core/test_sandbox_hostile.py",
        "tests/core/test_mutants_sandbox.py",
    ],
    "core/store/study.py": [
        "tests/core/test_store.py", "tests/core/test_durability.py",
        "tests/core/test_migration_rollback.py", "tests/core/test_mutants_store.py",
    ],
    # the importers' skip rules: the staging counts and the kept-rows choice behind them
    "core/store/staging.py": _IMPORT_TESTS,
    "core/store/imports.py": _IMPORT_TESTS,
    "core/importers/readers.py": [
        "tests/core/test_import_generic.py", "tests/core/test_import_real_files.py",
    ],
    "core/importers/common.py": _IMPORT_TESTS,
}
# Tests that cannot run on mutmut's copy: this one copies the (trampolined, mutmut-importing)
# package for another user's system Python.
DESELECT = {
    mod: ["--deselect", "tests/core/test_sandbox_hostile.py::"
          "test_an_ordinary_user_gets_the_same_wall_through_a_user_namespace"]
    for mod in ("core/sandbox/__init__.py", "core/sandbox/bwrap.py", "core/sandbox/boot.py")
}
# ... and the measure stage's two CLI/whole-stage perplexity tests (minutes per mutant here)
DESELECT["core/analysis/measure.py"] = [
    x for t in ("test_ppl_max_7_on_the_report_fixture_keeps_5_6_and_7",
                "test_ppl_filter_in_the_stage_matches_a_hand_count")
    for x in ("--deselect", f"tests/core/test_mutants_measure.py::{t}")]
BOOT = "core/sandbox/boot.py:BOOTSTRAP"
TESTS[BOOT] = TESTS["core/sandbox/boot.py"]


def _work_dir(module: str) -> Path:
    root = Path(os.environ.get("MONOSCOPE_MUTATE_DIR") or Path.home() / ".cache/monoscope/mutate")
    return root / re.sub(r"[^A-Za-z0-9]+", "_", module).strip("_")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", QT_QPA_PLATFORM="offscreen",
               TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS="1")
    return env


def _copy_tree(work: Path, keep_mutants: bool) -> None:
    """Fresh copies of the package, tests and resources in ``work`` (mutmut's ``src`` layout)."""
    work.mkdir(parents=True, exist_ok=True)
    for name, src in (("src/monoscope", REPO / "app/monoscope"), ("tests", REPO / "tests"),
                      ("resources", REPO / "resources"), ("docs", REPO / "docs")):
        dst = work / name
        shutil.rmtree(dst, ignore_errors=True)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    if not keep_mutants:
        shutil.rmtree(work / "mutants", ignore_errors=True)
    elif (work / "mutants").is_dir():  # re-test with the current tests
        shutil.rmtree(work / "mutants/tests", ignore_errors=True)
        shutil.copytree(REPO / "tests", work / "mutants/tests",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def _pyproject(work: Path, module: str, tests: list[str]) -> None:
    text = (REPO / "pyproject.toml").read_text()
    text = text.split("\n[tool.mutmut]")[0]
    present = [t for t in tests if (REPO / t.split("::")[0]).is_file()]
    text += (
        "\n[tool.mutmut]\n"
        'source_paths = ["src"]\n'
        f'only_mutate = ["src/monoscope/{module}"]\n'
        f"pytest_add_cli_args_test_selection = {json.dumps(present)}\n"
        "pytest_add_cli_args = "
        f"{json.dumps(['-p', 'no:cacheprovider', '-p', 'no:randomly', '-p', 'no:xdist', *DESELECT.get(module, [])])}\n"
        'also_copy = ["resources", "docs"]\n'  # docs: a test reads the schema page
        "timeout_multiplier = 5.0\n"
        "timeout_constant = 20.0\n"
        "use_git_change_detection = false\n"
    )
    (work / "pyproject.toml").write_text(text)


def _results(work: Path, module: str) -> dict[str, str]:
    """mutant name -> mutmut's status, read from ``mutmut results --all true``."""
    done = subprocess.run([sys.executable, "-m", "mutmut", "results", "--all", "true"], cwd=work,
                          env=_env(), capture_output=True, text=True, check=False)
    out: dict[str, str] = {}
    for line in done.stdout.splitlines():
        name, sep, status = line.strip().partition(": ")
        if sep and "__mutmut_" in name:
            out[name] = status.strip()
    return out


def _matches(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(name, f"*.{pat}__mutmut_*") for pat in patterns)


def wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion k / n (as fractions)."""
    if n == 0:
        return math.nan, math.nan
    p = k / n
    mid = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, mid - half), min(1.0, mid + half)


def mutant_names(work: Path, module: str) -> list[str]:
    """Every mutant mutmut makes of ``module`` (its own names), without running a test."""
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from mutmut.mutation.file_mutation import mutate_file_contents\n"
        "from mutmut.utils.format_utils import get_mutant_name\n"
        f"p = Path({f'src/monoscope/{module}'!r})\n"
        "made = mutate_file_contents(str(p), p.read_text())\n"
        "json.dump([get_mutant_name(p, n) for n in made.mutant_names], sys.stdout)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=work, env=_env(),
                          capture_output=True, text=True, check=True)
    names: list[str] = json.loads(done.stdout)
    return names


def draw_sample(names: list[str], n: int, seed: int, only: list[str] | None = None,
                skip: list[str] | None = None) -> tuple[list[str], int]:
    """n of the mutants (within ``only``, outside ``skip``) drawn uniformly without replacement
    with ``random.Random(seed)``; also returns the population's size."""
    pool = sorted(x for x in names if (not only or _matches(x, only))
                  and not (skip and _matches(x, skip)))
    return sorted(random.Random(seed).sample(pool, min(n, len(pool)))), len(pool)


def _score(work: Path, module: str, statuses: dict[str, str],
           only: list[str] | None = None, tests: list[str] | None = None,
           sample: dict[str, object] | None = None) -> dict[str, object]:
    equivalent = EQUIVALENT.get(module, {})
    if only:
        statuses = {n: s for n, s in statuses.items() if _matches(n, only)}
    if sample:
        chosen = sample["names"]
        assert isinstance(chosen, list)
        picked = set(chosen)
        statuses = {n: s for n, s in statuses.items() if n in picked}
    counts: dict[str, int] = {}
    survivors: list[str] = []
    for name, status in sorted(statuses.items()):
        if status == "survived" and name in equivalent:
            status = "equivalent"
        counts[status] = counts.get(status, 0) + 1
        if status == "survived":
            survivors.append(name)
    killed = counts.get("killed", 0) + counts.get("timeout", 0)
    live = killed + counts.get("survived", 0)
    lo, hi = wilson(killed, live)
    score = {
        "module": module,
        "only": only or [],
        "tests": tests or [],
        "total": len(statuses),
        "killed": killed,
        "survived": counts.get("survived", 0),
        "equivalent": counts.get("equivalent", 0),
        "other": {k: v for k, v in counts.items()
                  if k not in ("killed", "timeout", "survived", "equivalent")},
        "percent_killed_of_non_equivalent": round(100.0 * killed / live, 1) if live else None,
        "survivors": survivors,
    }
    if sample:  # the score of a uniform sample estimates the population's, with this interval
        score["sample"] = sample
        score["wilson95_percent"] = [round(100 * lo, 1), round(100 * hi, 1)]
    (work / "score.json").write_text(json.dumps(score, indent=1))
    return score


def _print(score: dict[str, object]) -> None:
    print(f"\n== {score['module']}: {score['total']} mutants")
    print(f"   killed {score['killed']}, survived {score['survived']}, "
          f"equivalent {score['equivalent']}, other {score['other']}")
    print(f"   score: {score['percent_killed_of_non_equivalent']} % of non-equivalent "
          "mutants killed")
    sample = score.get("sample")
    if isinstance(sample, dict):
        lo, hi = score["wilson95_percent"]  # type: ignore[misc]
        print(f"   a uniform sample of {sample['n']} of {sample['population']} mutants (seed "
              f"{sample['seed']}): 95 % Wilson interval {lo} – {hi} %")
    surv = score["survivors"]
    assert isinstance(surv, list)
    if surv:
        print("   survivors (see: mutmut show NAME, run in the work folder):")
        for name in surv:
            print("    ", name)


def run_mutmut(module: str, tests: list[str], children: int, again: bool,
               only: list[str] | None, sample_n: int | None = None, seed: int = 0,
               skip: list[str] | None = None) -> dict[str, object]:
    work = _work_dir(module)
    if again:
        return _again(work, module, tests)
    _copy_tree(work, keep_mutants=False)
    for old in ("again.json", "score_before.json"):
        (work / old).unlink(missing_ok=True)
    _pyproject(work, module, tests)
    cmd = [str(Path(sys.executable).with_name("mutmut")), "run", "--max-children", str(children)]
    sample: dict[str, object] | None = None
    if sample_n is not None:
        chosen, population = draw_sample(mutant_names(work, module), sample_n, seed, only, skip)
        sample = {"n": len(chosen), "seed": seed, "population": population,
                  "only": only or [], "skip": skip or [], "names": chosen}
        print(f"sample: {len(chosen)} of {population} mutants (seed {seed})", flush=True)
        (work / "sample.json").write_text(json.dumps(sample, indent=1))
        cmd += chosen
        only = None
    elif skip:
        raise SystemExit("--skip needs --sample (mutmut itself runs only named mutants)")
    elif only:
        cmd += [f"*.{pat}__mutmut_*" for pat in only]
    print("work folder:", work, flush=True)
    t0 = time.monotonic()
    subprocess.run(cmd, cwd=work, env=_env(), check=False)
    print(f"mutmut took {time.monotonic() - t0:.0f} s", flush=True)
    present = sorted({t.split("::")[0] for t in tests if (REPO / t.split("::")[0]).is_file()})
    score = _score(work, module, _results(work, module), only, present, sample)
    shutil.copy2(work / "score.json", work / "score_before.json")
    return score


def _again(work: Path, module: str, tests: list[str]) -> dict[str, object]:
    """Re-test last run's survivors against the current tests.

    mutmut would throw away every verdict when the test selection changes, so this runs the
    survivors itself in mutmut's ``mutants/`` copy: a warm pytest process forks one child per
    mutant with ``MUTANT_UNDER_TEST`` set (mutmut's trampolines read it) and runs the whole
    selection with ``-x``, the newest tests (``test_mutants_*``) first."""
    from mutate_bootstrap import run_jobs

    if not (work / "score.json").is_file():
        raise SystemExit(f"no earlier run in {work}: run without --again first")
    previous = json.loads((work / "score.json").read_text())
    only = list(previous.get("only") or []) or None
    sample = previous.get("sample")
    shutil.rmtree(work / "mutants/tests", ignore_errors=True)
    shutil.copytree(REPO / "tests", work / "mutants/tests",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    present = [t for t in tests if (REPO / t.split("::")[0]).is_file()]
    present.sort(key=lambda t: "test_mutants_" not in t)
    args = [*present, *DESELECT.get(module, [])]
    statuses = _results(work, module)
    again_path = work / "again.json"
    done = json.loads(again_path.read_text()) if again_path.is_file() else {}
    statuses.update(done)
    # survivors written down as equivalent (with their reason) are not run again
    equivalent = EQUIVALENT.get(module, {})
    todo = [n for n in previous["survivors"]
            if statuses.get(n) == "survived" and n not in equivalent]
    print(f"work folder: {work}; re-testing {len(todo)} survivors", flush=True)
    clean = run_jobs(work / "mutants", [("clean", None, None)], args, _env(),
                     work / "mutants/src", 1800, work / "logs")
    if clean.get("clean") != "survived":
        raise SystemExit(f"the unmutated module fails the selected tests ({work}/logs/clean.log)")
    # the old tests let these survive: only tests new since then can kill them, and of those
    # only the ones that reach the mutated function (found like mutmut's stats)
    # (tests added to a file already in the selection count too: then every selected test
    # that reaches the function runs, the test_mutants_* files first)
    new = [t for t in present if t.split("::")[0] not in previous.get("tests", [])] or present
    run_jobs(work / "mutants", [("stats", None, "stats")], [*new, *DESELECT.get(module, [])],
             _env(), work / "mutants/src", 1800, work / "logs")
    tests_of = json.loads((work / "logs/stats.json").read_text())
    todo_run = [n for n in todo if tests_of.get(n.rpartition("__mutmut_")[0])]
    # in a seeded random order: a run stopped early leaves a uniform sample of the survivors
    random.Random(0).shuffle(todo_run)
    print(f"{len(todo_run)} of them reached by the new tests ({', '.join(new)})", flush=True)
    def keep(name: str, verdict: str) -> None:  # saved as it goes: a stopped run resumes
        done[name] = verdict
        again_path.write_text(json.dumps(done, indent=1))

    got = run_jobs(work / "mutants", [(n, None, n) for n in todo_run],
                   [*DESELECT.get(module, [])], {**_env(), "MUTATE_TESTS_OF":
                   str(work / "logs/stats.json")}, work / "mutants/src", 600, work / "logs",
                   keep)
    statuses.update(got)
    return _score(work, module, statuses, only, previous.get("tests"), sample)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("module", nargs="?", help="path under app/monoscope, e.g. core/analysis/metrics.py")
    ap.add_argument("--tests", nargs="+", help="test files to use instead of the module's own")
    ap.add_argument("--children", type=int, default=2, help="parallel mutants (default 2)")
    ap.add_argument("--again", action="store_true",
                    help="re-test only the survivors of the last run (after adding tests)")
    ap.add_argument("--only", nargs="+", metavar="FUNCTION",
                    help="only these functions' mutants (mutmut names: x_ratio, "
                         "xǁPoolǁstats; globs allowed)")
    ap.add_argument("--skip", nargs="+", metavar="FUNCTION",
                    help="with --sample: leave these functions' mutants out of the population")
    ap.add_argument("--sample", type=int, metavar="N",
                    help="run only N mutants drawn uniformly at random (seeded by --seed)")
    ap.add_argument("--seed", type=int, default=0, help="seed of --sample (default 0)")
    ap.add_argument("--list", action="store_true", help="list the modules and their tests")
    args = ap.parse_args(argv)
    if args.list or not args.module:
        for mod, tests in TESTS.items():
            print(f"{mod}: {' '.join(tests)}")
        return 0
    module = args.module.removeprefix("app/monoscope/").removeprefix("monoscope/")
    tests = args.tests or TESTS.get(module)
    if not tests:
        print(f"No test selection for {module}: pass --tests FILE ...", file=sys.stderr)
        return 2
    # tests that start a child interpreter (the CLI, a second process on the study, the
    # sandbox) import the installed package there, so it must be importable without PYTHONPATH
    probe = subprocess.run([sys.executable, "-c", "import monoscope.core"], cwd=Path.home(),
                           env=_env(), capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        print("monoscope is not importable in a child process (an editable install pointing at "
              "a removed checkout?): run `pip install --no-deps -e .` in this checkout, or "
              "`bash packaging/setup.sh --dev --mutation`, then try again.", file=sys.stderr)
        return 2
    if module == BOOT:
        from mutate_bootstrap import run_bootstrap

        score = run_bootstrap(_work_dir(module), REPO, tests, _env(), args.again)
        score = _score(_work_dir(module), module, score)
    else:
        if shutil.which("mutmut", path=str(Path(sys.executable).parent)) is None:
            print("mutmut is missing: pip install -e '.[mutation]'", file=sys.stderr)
            return 2
        score = run_mutmut(module, tests, args.children, args.again, args.only, args.sample,
                           args.seed, args.skip)
    _print(score)
    return 0


if __name__ == "__main__":
    sys.exit(main())
