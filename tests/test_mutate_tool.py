"""packaging/mutate.py's sample and interval (the mutation-testing tool, docs/testing.md)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from scipy.stats import binomtest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "packaging"))
import mutate

M = "monoscope.core.analysis.measure."


@pytest.mark.parametrize(("k", "n"), [(0, 10), (10, 10), (140, 150), (1, 3), (97, 160)])
def test_wilson_interval_is_scipys(k: int, n: int) -> None:
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    lo, hi = mutate.wilson(k, n)
    assert lo == pytest.approx(ci.low, abs=1e-12) and hi == pytest.approx(ci.high, abs=1e-12)


def test_sample_is_seeded_and_respects_only_and_skip() -> None:
    names = [f"{M}x__compute__mutmut_{i}" for i in range(1, 301)]
    names += [f"{M}x_ratio__mutmut_{i}" for i in range(1, 51)]
    names += [f"{M}xǁPoolǁstats__mutmut_{i}" for i in range(1, 51)]
    one, pop = mutate.draw_sample(names, 40, 7, skip=["x_ratio"])
    assert pop == 350 and len(one) == len(set(one)) == 40
    assert not any("x_ratio__" in n for n in one)
    assert mutate.draw_sample(list(reversed(names)), 40, 7, skip=["x_ratio"]) == (one, 350)
    assert mutate.draw_sample(names, 40, 8, skip=["x_ratio"])[0] != one
    only, pop = mutate.draw_sample(names, 500, 1, only=["xǁPoolǁstats"])
    assert pop == 50 and only == sorted(f"{M}xǁPoolǁstats__mutmut_{i}" for i in range(1, 51))
    # uniform: over many seeds every mutant is drawn about equally often (40 of 350 each time)
    hits = dict.fromkeys(names, 0)
    for seed in range(500):
        for n in mutate.draw_sample(names, 40, seed, skip=["x_ratio"])[0]:
            hits[n] += 1
    drawn = [v for n, v in hits.items() if "x_ratio__" not in n]
    assert min(drawn) > 500 * 40 / 350 * 0.6 and max(drawn) < 500 * 40 / 350 * 1.4
