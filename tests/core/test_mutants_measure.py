"""The measure stage, checked on values derived independently (written against surviving mutants).

Expectations are counted or computed here by hand (or with scipy) from the rows the test
writes, never with the code under test.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from analysis_fixture import build, clustered

from monoscope.cli import main
from monoscope.core.analysis.measure import MeasureRequest, measure
from monoscope.core.store import Study
from monoscope.core.tasks import TaskState

RUNS = {"instruct T0.8": {"temperature": 0.8, "top_p": 0.95},
        "instruct T1.2": {"temperature": 1.2, "top_p": 0.95}}


@pytest.fixture
def report_study(study: Study) -> Study:
    """The report's fixture: 6 prompts, 8 human texts and 5 generations per run each, the
    generations' perplexities 5, 6, 7, 8, 9."""
    rows = clustered(6, 8, 5, {"instruct T0.8": 0.3, "instruct T1.2": 0.6}, dim=8)
    rng = np.random.default_rng(3)
    for r in rows:
        pos = rng.random() < (0.5 if r.run is None else 0.97)
        r.attrs["sentiment.vader"] = (0.8 if pos else 0.2, "POSITIVE" if pos else "NEGATIVE")
    build(study, rows, runs=RUNS, model="all-MiniLM-L6-v2", backend="torch")
    return study


def test_ppl_max_7_on_the_report_fixture_keeps_5_6_and_7(
        report_study: Study, capsys: pytest.CaptureFixture[str]) -> None:
    """The issue's case: 0 < ppl <= 7 keeps 3 of 5 per prompt: 2 x 6 = 12 dropped per run
    (18 if the boundary were exclusive)."""
    path = str(report_study.path)
    report_study.close()
    assert main(["measure", path, "--json", "--ppl-max", "7", "--attribute", "sentiment.vader",
                 "--no-lexical"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["filter"] == {"ppl_max": 7.0, "dropped": {"run:1": 12, "run:2": 12}}
    ns = {(r["grp"], r["prompt"]): r["n"] for r in doc["rows"]
          if r["stat"] == "dispersion" and r["ref"] == "" and r["prompt"] is not None
          and r["attribute"] == "sentiment.vader"}
    assert set(ns.values()) == {8, 3}  # 8 human texts, 3 kept generations, every prompt
    assert sum(1 for (g, _), n in ns.items() if g != "source" and n == 3) == 12


def test_ppl_filter_in_the_stage_matches_a_hand_count(report_study: Study) -> None:
    state = TaskState()
    for ppl_max, kept in [(4.9, 0), (5.0, 1), (6.5, 2), (9.0, 5), (100.0, 5)]:
        res = measure(report_study, MeasureRequest(ppl_max=ppl_max, attributes=("sentiment.vader",),
                                                   lexical=False, wording=False), state)
        assert res.filtered_out == {"run:1": 6 * (5 - kept), "run:2": 6 * (5 - kept)}, ppl_max


# -- the stage's statistic helpers, on hand values --------------------------------------------
from itertools import combinations  # noqa: E402

from scipy.stats import entropy as scipy_entropy  # noqa: E402

from monoscope.core.analysis import measure as ms  # noqa: E402
from monoscope.core.analysis import metrics  # noqa: E402


def test_ratio_cases() -> None:
    assert ms.ratio(3.0, 2.0) == 1.5
    assert ms.ratio(0.0, 0.0) == 1.0 and ms.ratio(0.5, 0.0) == math.inf
    assert ms.ratio(0.0, 2.0) == 0.0
    for a, b in [(math.nan, 1.0), (1.0, math.nan), (math.inf, 1.0), (1.0, math.inf)]:
        assert math.isnan(ms.ratio(a, b))


def test_attribute_kinds() -> None:
    none = np.array([None, None], dtype=object)
    assert ms.attribute_kind("embedding", none, np.zeros(2)) == "embedding"
    assert ms.attribute_kind("code.algorithms", none, np.zeros(2)) == "set"
    assert ms.attribute_kind("code.data_structures", none, np.zeros(2)) == "set"
    assert ms.attribute_kind("topic", none, np.zeros(2)) == "categorical"
    assert ms.attribute_kind("sentiment.vader", np.array(["POSITIVE", None], dtype=object),
                             np.zeros(2)) == "categorical"
    assert ms.attribute_kind("sentiment.vader", np.array([None, "NEGATIVE"], dtype=object),
                             np.zeros(2)) == "categorical"
    assert ms.attribute_kind("text.words", none, np.zeros(2)) == "numeric"


def test_quantiles_are_numpys_linear_ones() -> None:
    rng = np.random.default_rng(4)
    for n in (1, 2, 3, 7, 40, 401):
        v = rng.normal(size=n)
        lo, hi = ms._q(v)
        assert (lo, hi) == pytest.approx(tuple(np.quantile(v, [0.025, 0.975])), rel=1e-12)
        assert isinstance(lo, float) and isinstance(hi, float)


def test_summary_of_draws_of_the_whole_set_and_of_nothing() -> None:
    v = np.array([1.0, 2.0, math.nan, 4.0])
    got = ms._summary({"x": v, "empty": np.array([math.nan])}, draws=3)
    fin = np.array([1.0, 2.0, 4.0])
    assert got["x"] == pytest.approx((7 / 3, fin.std(), *np.quantile(fin, [0.025, 0.975])))
    assert all(math.isnan(x) for x in got["empty"])
    whole = ms._summary({"x": np.array([5.0])}, draws=0)["x"]
    assert whole[0] == 5.0 and all(math.isnan(x) for x in whole[1:])


def test_subsets_are_distinct_positions_of_the_requested_size() -> None:
    rng = np.random.default_rng(0)
    assert ms.subsets(rng, 4, 4, 10).tolist() == [[0, 1, 2, 3]]  # m >= n: the whole set
    assert ms.subsets(rng, 4, 9, 10).tolist() == [[0, 1, 2, 3]]
    got = ms.subsets(np.random.default_rng(1), 9, 3, 500)
    assert got.shape == (500, 3) and got.dtype == np.int64
    assert all(len(set(row)) == 3 for row in got.tolist())
    assert set(got.ravel().tolist()) == set(range(9))  # every position can be drawn
    assert np.array_equal(got, ms.subsets(np.random.default_rng(1), 9, 3, 500))


def _h_by_hand(values: np.ndarray, idx: np.ndarray, n: int) -> list[float]:
    h = []
    for i in range(n):
        rows = [d for d in range(idx.shape[0]) if i in idx[d] and np.isfinite(values[d])]
        if rows:
            h.append(float(np.mean([values[d] for d in rows])))
    return h


def test_ustat_se_by_hand_and_for_a_mean() -> None:
    idx = np.array([[0, 1], [1, 2], [0, 2], [0, 1]])
    values = np.array([1.0, 3.0, 2.0, math.nan])
    h = _h_by_hand(values, idx, 4)  # text 3 is in no draw
    assert ms.ustat_se(values, idx, 4) == pytest.approx(math.sqrt(4 / 4 * np.var(h, ddof=1)))
    assert ms.ustat_se(values[:1], idx[:1], 4) == 0.0  # one draw
    assert ms.ustat_se(np.array([1.0, 2.0]), np.array([[0, 1], [1, 0]]), 2) == 0.0  # m = n
    assert ms.ustat_se(np.array([1.0, math.nan, math.nan]), idx[:3], 4) == 0.0  # 1 finite
    assert ms.ustat_se(np.array([1.0, 2.0]), np.array([[0], [0]]), 3) == 0.0  # one text seen
    # the smallest case that has an se: two draws, two finite values, two texts seen once each
    two = ms.ustat_se(np.array([1.0, 3.0]), np.array([[0], [1]]), 3)
    assert two == pytest.approx(math.sqrt(1 / 3 * np.var([1.0, 3.0], ddof=1)))
    # the mean of m of n values: h_i - mean = (x_i - mean)(n - m) / (m (n - 1)), so the
    # first-order se is sd / sqrt(n) * (n - m) / (n - 1)
    x = np.random.default_rng(3).normal(size=30)
    sub = ms.subsets(np.random.default_rng(4), 30, 10, 6000)
    se = ms.ustat_se(x[sub].mean(axis=1), sub, 30)
    assert se == pytest.approx(x.std(ddof=1) / math.sqrt(30) * 20 / 29, rel=0.03)


def test_boot_over_prompts() -> None:
    nan3 = ms._boot(np.array([math.nan]), np.zeros(1), 100, 0)
    assert all(math.isnan(x) for x in nan3)
    assert ms._boot(np.array([2.0, math.nan]), np.zeros(2), 100, 0) == (2.0, 2.0, 2.0)
    lone = ms._boot(np.array([2.0]), np.array([0.5]), 4000, 0)  # one prompt, its own se
    assert lone[0] == 2.0 and lone[1:] == pytest.approx((2 - 1.96 * 0.5, 2 + 1.96 * 0.5),
                                                         abs=0.05)
    # many prompts without se: the normal interval of a mean (sd with ddof=1)
    v = np.random.default_rng(8).normal(size=400)
    mean, lo, hi = ms._boot(v, np.zeros_like(v), 20_000, 3)
    half = 1.96 * v.std(ddof=1) / math.sqrt(v.size)
    assert mean == pytest.approx(v.mean()) and (lo, hi) == pytest.approx(
        (v.mean() - half, v.mean() + half), abs=0.06 * half)
    # three prompts: replicates by hand from the documented rule (resample prompts, add each
    # prompt's se times a standard normal, spread scaled by sqrt(P / (P - 1)))
    v3, se3 = np.array([1.0, 2.0, 6.0]), np.array([0.1, math.nan, 0.3])
    idx, noise = ms._boot_draws(3, 500, 7)
    assert idx.shape == noise.shape == (500, 3) and set(idx.ravel().tolist()) == {0, 1, 2}
    s = np.array([0.1, 0.0, 0.3])
    reps = np.array([np.mean([v3[j] + s[j] * z for j, z in zip(row, zr, strict=True)])
                     for row, zr in zip(idx, noise, strict=True)])
    reps = 3.0 + (reps - 3.0) * math.sqrt(3 / 2)
    assert ms._boot(v3, se3, 500, 7) == pytest.approx((3.0, *np.quantile(reps, [0.025, 0.975])))
    # two prompts: the same rule (sqrt(2 / 1) widening), and no shortcut without se
    v2 = np.array([1.0, 4.0])
    i2, _ = ms._boot_draws(2, 500, 7)
    reps2 = 2.5 + (np.array([np.mean(v2[row]) for row in i2]) - 2.5) * math.sqrt(2)
    assert ms._boot(v2, np.zeros(2), 500, 7) == pytest.approx(
        (2.5, *np.quantile(reps2, [0.025, 0.975])))
    plain = np.array([np.mean(v3[row]) for row in idx])
    plain = 3.0 + (plain - 3.0) * math.sqrt(3 / 2)
    assert ms._boot(v3, np.zeros(3), 500, 7) == pytest.approx(
        (3.0, *np.quantile(plain, [0.025, 0.975])))


def test_boot_draws_are_seeded_by_seed_and_size() -> None:
    a, za = ms._boot_draws(5, 50, 1)
    b, zb = ms._boot_draws(5, 50, 2)
    c, _ = ms._boot_draws(6, 50, 1)
    assert not np.array_equal(a, b) and not np.array_equal(za, zb)
    assert a.shape == (50, 5) and c.shape == (50, 6) and a.min() == 0 and a.max() == 4
    assert abs(float(za.mean())) < 0.3 and 0.7 < float(za.std()) < 1.3  # standard normal


def test_comparable_values_and_the_median_n() -> None:
    vals = ms.Pool("categorical", "s", codes=np.array([0, 1, 1]),
                   values=np.array([0.2, 0.9, 0.8]), positive=1)
    assert ms._comparable(vals).tolist() == [0.2, 0.9, 0.8]
    labels = ms.Pool("categorical", "s", codes=np.array([0, 1, 1]),
                     values=np.full(3, math.nan), positive=1)
    assert ms._comparable(labels).tolist() == [0.0, 1.0, 1.0]
    first = ms.Pool("categorical", "s", codes=np.array([0, 1, 0]),
                    values=np.full(3, math.nan), positive=0)  # POSITIVE may be code 0
    assert ms._comparable(first).tolist() == [1.0, 0.0, 1.0]
    neither = ms.Pool("categorical", "t", codes=np.array([0, 1]), values=np.full(2, math.nan))
    assert np.isnan(ms._comparable(neither)).all()
    assert ms._median_n([]) is None and ms._median_n([3, 10, 5]) == 5 and ms._median_n([3, 4]) == 3


def test_knn_coverage_equals_metrics_per_draw() -> None:
    rng = np.random.default_rng(6)
    us = metrics._unit_rows(rng.normal(size=(12, 5)))
    ug = metrics._unit_rows(rng.normal(size=(9, 5)) + 0.8)
    s_idx = ms.subsets(rng, 12, 6, 7)
    g_idx = ms.subsets(rng, 9, 4, 7)
    for k in (1, 3, 20):
        cov, prec = ms.knn_coverage(us, ug, s_idx, g_idx, k)
        assert cov.dtype == np.float64 and cov.shape == (7,)
        for d in range(7):
            s, g = us[s_idx[d]], ug[g_idx[d]]
            assert cov[d] == metrics.coverage(s, g, min(k, 9))
            assert prec[d] == metrics.precision(s, g, min(k, 9))
    # one whole source set against many generated draws: the source row is repeated
    cov, _ = ms.knn_coverage(us, ug, np.arange(12)[None, :], g_idx, 3)
    assert cov.tolist() == [metrics.coverage(us, ug[g_idx[d]], 3) for d in range(7)]
    one = ms.knn_coverage(us, ug, np.array([[0]]), np.zeros((1, 0), dtype=np.int64), 3)
    assert np.isnan(one[0]).all() and np.isnan(one[1]).all()  # nobody to be a neighbour


# -- Pool statistics against the one-set metrics and scipy -----------------------------------

def test_categorical_pool_statistics() -> None:
    codes = np.array([0, 0, 1, 2, 2, 2, 1])
    pool = ms.Pool("categorical", "sentiment", codes=codes, positive=2, passing=1,
                   values=np.array([0.1, math.nan, 0.5, 0.9, 0.8, 0.7, 0.4]), n_codes=4)
    idx = np.array([[0, 2, 3, 4], [5, 4, 3, 3], [1, 6, 0, 2]])
    st = pool.stats(idx)
    for d, row in enumerate(idx):
        c = np.bincount(codes[row], minlength=4)
        h = scipy_entropy(c, base=2)
        assert st["entropy"][d] == pytest.approx(h, abs=1e-12)
        obs = int((c > 0).sum())
        assert st["entropy_mm"][d] == pytest.approx(h + (obs - 1) / (2 * 4 * math.log(2)))
        assert st["distinct"][d] == obs and st["dispersion"][d] == st["entropy"][d]
        assert st["share_positive"][d] == c[2] / 4 and st["accuracy"][d] == c[1] / 4
        assert st["mean"][d] == pytest.approx(np.nanmean(pool.values[row]))
        assert pool.counts(idx)[d].tolist() == c.tolist()
    assert pool.counts(idx).shape == (3, 4)
    mm = ms.Pool("categorical", "sentiment", codes=codes, entropy="miller-madow")
    assert mm.n_codes == 3 and mm.n == 7
    assert mm.stats(idx)["dispersion"].tolist() == mm.stats(idx)["entropy_mm"].tolist()
    assert set(mm.stats(idx)) == {"entropy", "entropy_mm", "distinct", "dispersion"}
    topic = ms.Pool("categorical", "topic", codes=codes, values=codes.astype(float))
    assert "mean" not in topic.stats(idx)  # topic ids are not numbers
    only = pool.stats(idx, dispersion_only=True)
    assert "mean" not in only and only["dispersion"].tolist() == st["dispersion"].tolist()


def test_numeric_set_and_incidence_pools() -> None:
    vals = np.array([1.0, 4.0, 2.0, 8.0])
    pool = ms.Pool("numeric", "text.words", values=vals)
    idx = np.array([[0, 1, 2], [3, 3, 0]])
    st = pool.stats(idx)
    assert st["mean"].tolist() == [7 / 3, 17 / 3]
    assert st["std"] == pytest.approx([metrics.std(vals[r]) for r in idx])
    assert st["dispersion"].tolist() == st["std"].tolist()
    assert pool.stats(idx, dispersion_only=True)["dispersion"].tolist() == st["std"].tolist()
    sets = [frozenset({"sort"}), frozenset({"sort", "dp"}), frozenset(), frozenset()]
    sp = ms.Pool("set", "code.algorithms", sets=sets)
    st = sp.stats(np.array([[0, 1, 2], [2, 3, 0]]))
    assert st["jaccard"] == pytest.approx([
        metrics.mean_pairwise_jaccard([sets[0], sets[1], sets[2]]),
        metrics.mean_pairwise_jaccard([sets[2], sets[3], sets[0]])])
    assert st["jaccard"][1] == pytest.approx((1 + 0 + 0) / 3)  # two empty sets: 1
    assert st["dispersion"] == pytest.approx(1 - st["jaccard"])
    assert np.isnan(sp.stats(np.array([[1]]))["jaccard"]).all()
    inc = ms.Pool("set", "code.algorithms", sets=sets,
                  incidence=np.array([[1, 0, 0], [1, 1, 0], [0, 0, 1], [0, 0, 1]], float))
    assert inc.counts(np.array([[0, 1, 2]])).tolist() == [[2.0, 1.0, 1.0]]


def test_embedding_pool_statistics() -> None:
    rng = np.random.default_rng(2)
    vecs = rng.normal(size=(6, 4)) * np.array([[1.0], [2.0], [0.5], [1.0], [3.0], [1.0]])
    vecs[5] = vecs[0] * 7  # same direction as text 0
    pool = ms.Pool("embedding", "embedding", vectors=vecs)
    idx = np.array([[0, 1, 2, 3], [5, 0, 4, 1], [2, 3, 4, 5]])
    st = pool.stats(idx)
    for d, row in enumerate(idx):
        sub = vecs[row]
        assert st["mean_pairwise_cosine"][d] == pytest.approx(metrics.mean_pairwise_cosine(sub))
        assert st["dispersion"][d] == pytest.approx(metrics.cosine_dispersion(sub))
        assert st["vendi"][d] == pytest.approx(metrics.vendi_score(sub))
        for q, key in ((0.5, "vendi_q0.5"), (2.0, "vendi_q2"), (math.inf, "vendi_qinf")):
            assert st[key][d] == pytest.approx(metrics.vendi_score_q(sub, q))
        assert st["distinct_k"][d] == metrics.distinct_k(sub)
    assert st["distinct_k"].dtype == np.float64
    only = pool.stats(idx, dispersion_only=True)
    assert set(only) == {"mean_pairwise_cosine", "dispersion"}
    assert np.isnan(pool.stats(np.array([[3]]))["mean_pairwise_cosine"]).all()
    # pairwise cosines by hand for one draw
    u = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    pairs = [float(u[i] @ u[j]) for i, j in combinations([0, 1, 2, 3], 2)]
    assert st["mean_pairwise_cosine"][0] == pytest.approx(np.mean(pairs))


def test_lexical_pool_hands_over_to_the_lexical_set() -> None:
    texts = ["the film was good", "the film was bad", "a slog", "a delight of a film"]
    lex = metrics.LexicalSet(texts)
    pool = ms.Pool("lexical", "lexical", lexical=lex)
    assert pool.n == 4
    idx = np.array([[0, 1, 2], [3, 2, 1]])
    got = pool.stats(idx)
    for key, want in lex.stats(idx).items():
        assert np.allclose(got[key], want, equal_nan=True), key
    assert got["self_bleu"][0] == pytest.approx(metrics.self_bleu(texts[:3]))


def test_stats_cached_is_keyed() -> None:
    pool = ms.Pool("numeric", "x", values=np.array([1.0, 2.0, 3.0]))
    a = pool.stats_cached(("k",), np.array([[0, 1]]))
    assert pool.stats_cached(("k",), np.array([[1, 2]])) is a  # the key decides
    assert pool.stats_cached(("j",), np.array([[1, 2]]))["mean"].tolist() == [2.5]


def test_pooled_distinct_of_each_run_against_the_people_by_hand(study: Study,
                                                                 state: TaskState) -> None:
    """Topics pooled over prompts, per run against source subsamples of the run's n.

    Run r1 wrote only for prompt "b", which has no human text: nothing to match, no rows (and
    the next run is still measured). Run r2 on prompt "a": 2 texts of topic 0 against the 4
    human texts (topics 0, 0, 1, 2) drawn 2 at a time: of the 6 equally likely pairs, {0, 0}
    has 1 topic and the 5 others 2, so the people's mean is 11/6; the run always has 1."""
    from analysis_fixture import Row

    def row(prompt: str, body: str, topic: int, run: str | None = None) -> Row:
        return Row(prompt, body, run=run, ppl=1.0 if run else None,
                   attrs={"topic": (float(topic), f"t{topic}")})

    build(study, [row("a", "s1", 0), row("a", "s2", 0), row("a", "s3", 1), row("a", "s4", 2),
                  row("b", "g0", 5, "r1"), row("b", "g00", 6, "r1"),
                  row("a", "g1", 0, "r2"), row("a", "g2", 0, "r2")])
    res = measure(study, MeasureRequest(draws=400, n_boot=50, lexical=False), state)
    runs = sorted({r["grp"] for r in res.rows if r["grp"].startswith("run:")})
    assert len(runs) == 2
    r2 = next(k for k in runs if res.run_prompts(k) == ["a"])
    r1 = next(k for k in runs if k != r2)
    assert res.run_prompts(r1) == []
    assert res.cell("source", "topic", "pooled_distinct", r1) is None  # no prompt in common
    assert res.value(r1, "topic", "pooled_distinct") == 2  # its own texts: topics 5, 6
    people = res.cell("source", "topic", "pooled_distinct", r2)
    run = res.cell(r2, "topic", "pooled_distinct", r2)
    assert people is not None and run is not None
    assert people["n"] == run["n"] == 2 and people["draws"] == run["draws"] == 50  # capped
    assert people["value"] == pytest.approx(11 / 6, abs=0.2) and 1 < people["value"] < 2
    assert run["value"] == 1.0 and run["sd"] == 0.0 and run["lo"] == run["hi"] == 1.0
    assert res.value("source", "topic", "pooled_distinct") == 3  # all 4 human texts
    # measure.json (the report's, `measure --json`) is indented for people to read
    assert res.to_json().startswith('{\n  "') and "\n" not in res.to_json(indent=None)
    assert json.loads(res.to_json()) == json.loads(res.to_json(indent=None))


def test_accumulation_curves_and_two_sample_rows_by_hand(study: Study, state: TaskState) -> None:
    """Word counts 5, 5, 6, 6 (people) and 5, 6 (a run) on one prompt. Dispersion = population
    std. People at n = 3: every 3 of the 4 texts have std √2/3; at n = 2: 2 of the 6 pairs
    have std 0, 4 have 0.5 (mean 1/3); at n = 4: 0.5. The run at n = 2: 0.5. Mann-Whitney's
    p-value of the run against the people is scipy's."""
    from analysis_fixture import Row
    from scipy.stats import mannwhitneyu

    words = "text.words"
    rows = [Row("a", f"s{i}", attrs={words: (v, None)}) for i, v in enumerate((5.0, 5.0, 6.0, 6.0))]
    rows += [Row("a", f"g{i}", run="r", ppl=1.0, attrs={words: (v, None)})
             for i, v in enumerate((5.0, 6.0))]
    build(study, rows)
    res = measure(study, MeasureRequest(draws=400, n_boot=50, lexical=False), state)
    run = next(r["grp"] for r in res.rows if r["grp"].startswith("run:"))
    curve = {r["n"]: r for r in res.curve("source", words, prompt="a")}
    assert sorted(curve) == [2, 3, 4]
    assert curve[3]["value"] == pytest.approx(math.sqrt(2) / 3, abs=1e-12)
    assert curve[3]["draws"] == 50 and curve[3]["sd"] == pytest.approx(0.0, abs=1e-12)
    assert curve[2]["value"] == pytest.approx(1 / 3, abs=0.15) and curve[2]["draws"] == 50
    assert curve[4]["value"] == 0.5 and curve[4]["draws"] == 0 and curve[4]["sd"] is None
    own = {r["n"]: r for r in res.curve(run, words, prompt="a")}
    assert sorted(own) == [2] and own[2]["value"] == 0.5
    # pooled over prompts (one here): a bootstrap interval, no sd
    pooled = res.curve(run, words, ref=f"acc:{run}")
    assert [(r["n"], r["value"], r["sd"], r["lo"], r["hi"], r["prompts"]) for r in pooled] == [
        (2, 0.5, None, 0.5, 0.5, 1)]
    p = mannwhitneyu([5.0, 5.0, 6.0, 6.0], [5.0, 6.0], alternative="two-sided").pvalue
    mw = res.cell(run, words, "mannwhitney_p", run, "a")
    assert mw is not None and mw["n"] == 2 and mw["value"] == pytest.approx(p, rel=1e-12)


def test_no_people_baseline_when_the_run_is_as_large_as_the_people(study: Study,
                                                                   state: TaskState) -> None:
    """Prompt "a": 4 human texts, 2 generated: the people's own index comes from 2-text
    subsamples. Prompt "b": 2 and 2: the whole source is the only subsample, so there is no
    baseline of the people against themselves. Aggregates carry the median n (2)."""
    from analysis_fixture import Row

    words = "text.words"
    rows = [Row("a", f"s{i}", attrs={words: (v, None)}) for i, v in enumerate((5.0, 5.0, 6.0, 6.0))]
    rows += [Row("b", f"t{i}", attrs={words: (v, None)}) for i, v in enumerate((4.0, 8.0))]
    rows += [Row(p, f"g{p}{i}", run="r", ppl=1.0, attrs={words: (v, None)})
             for p in ("a", "b") for i, v in enumerate((5.0, 6.0))]
    build(study, rows)
    res = measure(study, MeasureRequest(draws=200, n_boot=50, lexical=False), state)
    run = next(r["grp"] for r in res.rows if r["grp"].startswith("run:"))
    a = res.cell("source", words, "index", run, "a")
    assert a is not None and a["n"] == 2 and a["draws"] == 200
    assert res.cell("source", words, "index", run, "b") is None
    b = res.cell(run, words, "index", run, "b")
    assert b is not None and b["value"] == pytest.approx(0.5 / 2.0)  # std 0.5 vs std 2
    # the people's baseline over prompts: only "a" has one, so it is a's, draw for draw
    agg_base = res.cell("source", words, "index", run)
    assert agg_base is not None and agg_base["prompts"] == 1 and agg_base["draws"] == 200
    assert agg_base["lo"] is not None and agg_base["lo"] < agg_base["hi"]
    for k in ("value", "sd", "lo", "hi"):
        assert agg_base[k] == pytest.approx(a[k], rel=1e-12), k
    for grp in ("source", run):
        agg = res.cell(grp, words, "std", run)
        assert agg is not None and agg["n"] == 2 and agg["prompts"] == 2, grp


def test_wording_rows_reuse_and_runs_by_id(study: Study, state: TaskState) -> None:
    """Two prompts, 2 human and 2 generated texts each: the corpus comparison subsamples
    min(2, 2) = 2 texts per prompt, i.e. all of them, so every draw is the same: the people's
    vocabulary is their 6 distinct words, the run's its 2, with no spread."""
    from analysis_fixture import Row

    from monoscope.core.analysis.measure import MeasureError, resolve_runs

    texts = {("a", None): ["red fox", "red dog"], ("b", None): ["blue cat", "blue sky"],
             ("a", "r"): ["red red", "red fox"], ("b", "r"): ["red fox", "fox fox"]}
    build(study, [Row(p, t, run=r, ppl=1.0 if r else None, attrs={})
                  for (p, r), ts in texts.items() for t in ts])
    req = MeasureRequest(draws=300, n_boot=50, lexical=False)
    res = measure(study, req, state)
    assert res.reused is False and measure(study, req, state).reused is True
    run = next(r["grp"] for r in res.rows if r["grp"].startswith("run:"))
    own = res.cell(run, "wording", "vocabulary")
    assert own is not None and own["value"] == 2 and own["prompts"] == 2  # red, fox
    for grp, vocab in (("source", 6), (run, 2)):
        row = res.cell(grp, "wording", "vocabulary", run)
        assert row is not None, grp
        assert (row["value"], row["n"], row["draws"], row["sd"], row["lo"], row["hi"],
                row["prompts"]) == (vocab, 2, 50, 0.0, vocab, vocab, 2), grp
    # a run named by its id or its label
    everyone = resolve_runs(study, 1, [])
    assert [g.key for g in everyone] == ["source", run]
    rid = everyone[1].run_id
    assert [g.key for g in resolve_runs(study, 1, [str(rid)])] == ["source", run]
    assert [g.key for g in resolve_runs(study, 1, [everyone[1].label])] == ["source", run]
    with pytest.raises(MeasureError, match=r"^No run 99 in this dataset"):
        resolve_runs(study, 1, ["99"])


def test_the_stage_stores_knn_coverage_and_precision_of_embeddings(study: Study,
                                                                   state: TaskState) -> None:
    """Two human and two generated vectors on one prompt: m = 2 is both sets whole, so the
    stage's coverage and precision are `metrics.coverage` / `precision` of the two sets."""
    from analysis_fixture import Row

    from monoscope.core.analysis import metrics

    src = [[1.0, 0.0, 0.0], [0.9, 0.2, 0.0]]
    gen = [[0.0, 1.0, 0.0], [0.95, 0.1, 0.0]]
    rows = [Row("a", f"s{i}", vector=v) for i, v in enumerate(src)]
    rows += [Row("a", f"g{i}", run="r", ppl=1.0, vector=v) for i, v in enumerate(gen)]
    build(study, rows, model="all-MiniLM-L6-v2", backend="torch")
    req = MeasureRequest(draws=50, n_boot=50, lexical=False, coverage_k=1)
    res = measure(study, req, state)
    run = next(r["grp"] for r in res.rows if r["grp"].startswith("run:"))
    cov = res.value(run, "embedding", "coverage", run, "a")
    prec = res.value(run, "embedding", "precision", run, "a")
    assert cov == metrics.coverage(src, gen, 1) == 1.0  # g1 is nearest to both human texts
    assert prec == metrics.precision(src, gen, 1)
