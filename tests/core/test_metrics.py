"""monoscope.core.analysis.metrics against hand-computed values and reference libraries (scipy, scikit-learn)."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from scipy import stats

from monoscope import metrics as m


def test_entropy_hand_values() -> None:
    assert m.entropy(["a", "a", "a"]) == 0.0
    assert m.entropy(["POSITIVE", "NEGATIVE"]) == pytest.approx(1.0)
    assert m.entropy([0, 1, 2, 3]) == pytest.approx(2.0)
    # p = (3/4, 1/4): -(.75 log2 .75 + .25 log2 .25) = 0.811278...
    assert m.entropy([1, 1, 1, 0]) == pytest.approx(0.8112781244591328)
    assert m.entropy([1, 1, 0, 0], base=math.e) == pytest.approx(math.log(2))
    assert math.isnan(m.entropy([]))


def test_entropy_matches_scipy() -> None:
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 7, size=200)
    counts = np.bincount(labels)
    assert m.entropy(labels.tolist()) == pytest.approx(stats.entropy(counts, base=2))


def test_mean_pairwise_cosine_hand_and_sklearn() -> None:
    from sklearn.metrics.pairwise import cosine_similarity

    # e1, e2, e1+e2: cos pairs 0, 1/√2, 1/√2 -> mean over 3 unordered pairs = √2/3
    v = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    assert m.mean_pairwise_cosine(v) == pytest.approx(math.sqrt(2) / 3)
    assert m.mean_pairwise_cosine([[2.0, 0.0], [5.0, 0.0]]) == pytest.approx(1.0)
    assert math.isnan(m.mean_pairwise_cosine([[1.0, 2.0]]))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 16))
    c = cosine_similarity(x)
    n = len(x)
    ref = (c.sum() - np.trace(c)) / (n * (n - 1))
    assert m.mean_pairwise_cosine(x) == pytest.approx(ref, abs=1e-12)
    assert m.cosine_dispersion(x) == pytest.approx(1 - ref, abs=1e-12)


def test_mean_pairwise_jaccard() -> None:
    # {a,b} vs {b,c}: 1/3; {a,b} vs {a,b}: 1; {b,c} vs {a,b}: 1/3 -> mean 5/9
    sets = [{"a", "b"}, {"b", "c"}, {"a", "b"}]
    assert m.mean_pairwise_jaccard(sets) == pytest.approx(5 / 9)
    assert m.mean_pairwise_jaccard([set(), set()]) == 1.0
    assert m.mean_pairwise_jaccard([{"x"}, {"y"}]) == 0.0


def test_mean_pairwise_jaccard_matches_sklearn() -> None:
    from sklearn.metrics import jaccard_score

    rng = np.random.default_rng(3)
    mat = rng.integers(0, 2, size=(8, 11))
    mat[:, 0] = 1  # no empty sets (sklearn warns on them)
    sets = [{j for j in range(11) if row[j]} for row in mat]
    ref = np.mean(
        [jaccard_score(mat[i], mat[j]) for i in range(8) for j in range(i + 1, 8)]
    )
    assert m.mean_pairwise_jaccard(sets) == pytest.approx(ref)


def test_vendi_score() -> None:
    assert m.vendi_score(np.tile([1.0, 2.0, 3.0], (5, 1))) == pytest.approx(1.0)
    assert m.vendi_score(np.eye(4)) == pytest.approx(4.0)
    # two identical + one orthogonal: K/n eigenvalues (2/3, 1/3) -> exp(H)
    v = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    h = -(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3))
    assert m.vendi_score(v) == pytest.approx(math.exp(h))
    # the n×n kernel route gives the same number as the d×d route
    rng = np.random.default_rng(5)
    x = rng.normal(size=(30, 8))
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    eig = np.linalg.eigvalsh(u @ u.T / 30)
    eig = eig[eig > 1e-12]
    eig /= eig.sum()
    assert m.vendi_score(x) == pytest.approx(math.exp(-(eig * np.log(eig)).sum()))


def test_tokenize_and_wording() -> None:
    assert m.tokenize("I can't believe it's GREAT, isn't it? 42 times!") == [
        "i", "can", "not", "believe", "it", "is", "great", "is", "not", "it", "times",
    ]
    counts = m.unigram_counts(["the cat", "The dog the end"])
    assert counts == Counter({"the": 3, "cat": 1, "dog": 1, "end": 1})
    assert m.vocabulary_size(counts) == 4
    # p = (1/2, 1/6, 1/6, 1/6)
    h = -(0.5 * math.log2(0.5) + 3 * (1 / 6) * math.log2(1 / 6))
    assert m.unigram_entropy(counts) == pytest.approx(h)
    assert m.count_cosine({"a": 1}, {"b": 3}) == 0.0
    # (1,1,0)·(2,0,2) = 2; norms √2, √8 -> 0.5
    assert m.count_cosine({"a": 1, "b": 1}, {"a": 2, "c": 2}) == pytest.approx(0.5)


def test_distinct_n_and_compression() -> None:
    # bigrams: (a b)(b a)(a b) | (a b) -> 2 unique of 4
    assert m.distinct_n(["a b a b", "a b"], 2) == pytest.approx(0.5)
    assert m.distinct_n(["x y z"], 1) == 1.0
    assert math.isnan(m.distinct_n(["one"], 2))
    rep = m.compression_ratio(["the same sentence again."] * 50)
    rng = np.random.default_rng(0)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz "))
    varied = ["".join(rng.choice(letters, 24)) for _ in range(50)]
    assert rep > 5 * m.compression_ratio(varied)


def test_comparisons_against_scipy() -> None:
    rng = np.random.default_rng(7)
    src = rng.normal(0, 2, 80)
    gen = rng.normal(1, 1, 60)
    assert m.diff_of_means(src, gen) == pytest.approx(gen.mean() - src.mean())
    assert m.dispersion_ratio(src, gen) == pytest.approx(gen.std() / src.std())
    assert m.wasserstein(src, gen) == pytest.approx(stats.wasserstein_distance(src, gen))
    r = m.ks(src, gen)
    ref = stats.ks_2samp(src, gen)
    assert (r.statistic, r.pvalue) == pytest.approx((ref.statistic, ref.pvalue))
    u = m.mann_whitney(src, gen)
    ref_u = stats.mannwhitneyu(src, gen, alternative="two-sided")
    assert (u.statistic, u.pvalue) == pytest.approx((ref_u.statistic, ref_u.pvalue))


def test_comparisons_hand_values() -> None:
    assert m.diff_of_means([0, 0, 1, 1], [1, 1, 1, 1]) == pytest.approx(0.5)
    # entropy: source 1 bit, generated 0 -> index 0 (complete monoculture)
    assert m.dispersion_ratio([0, 1, 0, 1], [1, 1, 1, 1], m.entropy) == 0.0
    assert m.dispersion_ratio([1, 1], [1, 1]) == 1.0
    assert m.dispersion_ratio([1, 1], [0, 1]) == math.inf
    # W1 between point masses at 0 and 3 is 3
    assert m.wasserstein([0, 0], [3, 3]) == pytest.approx(3.0)
    # U of the source when every source value is below every generated value is 0
    assert m.mann_whitney([1, 2, 3], [4, 5, 6]).statistic == 0.0
    assert m.ks([1, 2, 3], [4, 5, 6]).statistic == 1.0


def test_coverage_and_precision_hand() -> None:
    # sources in two clusters, generated only near the first -> half of the sources covered
    src = np.array([[1.0, 0.0], [0.99, 0.1], [0.0, 1.0], [0.1, 0.99]])
    gen = np.array([[1.0, 0.05]])
    assert m.coverage(src, gen, k=1) == pytest.approx(0.5)
    assert m.precision(src, gen, k=1) == pytest.approx(1.0)
    assert m.coverage(src, np.zeros((0, 2)), k=3) == 0.0


def test_coverage_matches_sklearn_neighbours() -> None:
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(11)
    src = rng.normal(size=(40, 5))
    gen = rng.normal(loc=0.7, size=(25, 5))
    k = 4
    pooled = np.vstack([src, gen])
    nn = NearestNeighbors(n_neighbors=k + 1, metric="cosine").fit(pooled)
    _, idx = nn.kneighbors(pooled)
    neigh = [row[row != i][:k] for i, row in enumerate(idx)]
    ref_cov = np.mean([(neigh[i] >= 40).any() for i in range(40)])
    ref_prec = np.mean([(neigh[40 + j] < 40).any() for j in range(25)])
    assert m.coverage(src, gen, k) == pytest.approx(ref_cov)
    assert m.precision(src, gen, k) == pytest.approx(ref_prec)


def test_aggregate_bootstrap() -> None:
    a = m.aggregate([0.2, 0.4, float("nan"), 0.6])
    assert a.mean == pytest.approx(0.4)
    assert a.n == 3
    assert 0.2 <= a.ci_low <= a.mean <= a.ci_high <= 0.6
    assert m.aggregate([0.2, 0.4, 0.6], seed=3) == m.aggregate([0.2, 0.4, 0.6], seed=3)
    const = m.aggregate([0.5] * 10)
    assert (const.ci_low, const.ci_high) == pytest.approx((0.5, 0.5))
    # bootstrap CI of a large normal sample is close to the normal-theory CI
    rng = np.random.default_rng(2)
    v = rng.normal(size=400)
    b = m.aggregate(v, n_boot=4000)
    half = 1.96 * v.std(ddof=1) / math.sqrt(len(v))
    assert (b.ci_high - b.ci_low) / 2 == pytest.approx(half, rel=0.15)


def test_perplexity_mask_and_masked_aggregate() -> None:
    ppl = np.array([0.0, 5.0, 20.0, 20.5, float("nan"), 12.0])
    mask = m.perplexity_mask(ppl)
    assert mask.tolist() == [False, True, True, False, False, True]
    vals = [9.0, 1.0, 2.0, 9.0, 9.0, 3.0]
    assert m.aggregate(vals, mask=mask).mean == pytest.approx(2.0)
