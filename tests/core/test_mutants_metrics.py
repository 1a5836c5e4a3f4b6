"""The measures, checked on hand-computed values and reference packages (written against the
mutants of `metrics` that survived the older tests; see docs/testing.md)."""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import bootstrap, ks_2samp, mannwhitneyu, wasserstein_distance

from monoscope.core.analysis import metrics as m

# -- one-set measures ------------------------------------------------------------------------

def test_missing_values_are_skipped_not_crashed_on() -> None:
    # None (a NULL from the study) is not a finite value: skipped like nan
    assert m.std([1.0, None, 3.0, math.nan]) == 1.0
    assert m.diff_of_means([1.0, None], [4.0, math.inf]) == 3.0
    assert m.perplexity_mask([None, 0.5, 20.0, 20.5, 0.0, -1.0, math.nan]).tolist() == [
        False, True, True, False, False, False, False]  # default threshold 20, 0 < ppl


def test_tokenize_reads_curly_apostrophes_as_straight_ones() -> None:
    assert m.tokenize("Don\u2019t") == m.tokenize("Don't") == ["do", "not"]
    assert m.tokenize("Don\u2018t") == ["do", "not"]  # the left quote used as an apostrophe
    assert m.tokenize("\u2018It\u2019s\u2019") == ["it", "is"]


def test_unigram_counts_measures_by_hand() -> None:
    assert m.unigram_entropy({"a": 1, "b": 1, "c": 0}) == 1.0  # zero counts are no words
    assert m.unigram_entropy({"a": 3, "b": 1}) == pytest.approx(
        -(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25)))  # 0.811 bits: below 1
    assert m.unigram_entropy({"a": 5}) == 0.0
    assert math.isnan(m.unigram_entropy({})) and math.isnan(m.unigram_entropy({"a": 0}))
    assert m.unigram_entropy({"a": 1, "b": 1}, base=math.e) == pytest.approx(math.log(2))
    assert m.vocabulary_size({"a": 2, "b": 0, "c": 1}) == 2
    # cosine of (2, 1, 0) and (1, 0, 1) over {a, b, c}: 2 / (sqrt 5 * sqrt 2)
    assert m.count_cosine({"a": 2, "b": 1}, {"a": 1, "c": 1}) == pytest.approx(2 / math.sqrt(10))
    assert m.count_cosine({"a": 3}, {"a": 1}) == pytest.approx(1.0)  # |b| = 1 is not empty
    assert math.isnan(m.count_cosine({}, {"a": 1})) and math.isnan(m.count_cosine({"a": 1}, {}))


def test_distinct_n_defaults_to_bigrams() -> None:
    texts = ["a b a b a", "a b c"]
    # bigrams: ab ba ab ba | ab bc -> {ab, ba, bc} of 6; trigrams: aba bab aba | abc -> 3 of 4
    assert m.distinct_n(texts) == m.distinct_n(texts, 2) == 0.5
    assert m.distinct_n(texts, 3) == 0.75
    with pytest.raises(ValueError, match=r"^n must be at least 1$"):
        m.distinct_n(texts, 0)


# -- the lexical set on subsets: the packed and the tuple route ------------------------------

def _check_lexical_set(texts: list[str], sizes: tuple[int, ...], skip: int = 0,
                       draws: int = 4) -> None:
    """Random subsets of texts[skip:] (texts[:skip] only shape the shared vocabulary)."""
    lex = m.LexicalSet(texts, rouge=False)
    n = len(texts) - skip
    rng = np.random.default_rng(5)
    for size in sizes:
        idx = skip + np.argsort(rng.random((draws, n)), axis=1)[:, :size]
        got = lex.stats(idx)
        for d, row in enumerate(idx):
            sub = [texts[i] for i in row]
            want = {"compression_ratio": m.compression_ratio(sub),
                    "ngram_diversity": m.ngram_diversity(sub),
                    "self_repetition": m.self_repetition(sub),
                    "self_bleu": m.self_bleu(sub)}
            for key, w in want.items():
                g = got[key][d]
                assert (math.isnan(g) and math.isnan(w)) or g == pytest.approx(
                    w, rel=1e-9, abs=1e-12), (size, row, key, g, w)


def test_lexical_set_with_a_vocabulary_too_large_to_pack() -> None:
    """60,000 distinct words: 4 word ids no longer fit an int64 key (base**4 > 2**63), so the
    n-grams are counted as tuples; the subsets still equal the one-set functions."""
    words = [f"w{i}" for i in range(60_000)]
    rng = np.random.default_rng(1)
    texts = [" ".join(words)]  # only widens the vocabulary
    texts += [" ".join(rng.choice(words[:50], 30)) for _ in range(3)]  # repeated n-grams
    texts += [texts[1], "w1 w2 w3 w4 w1 w2 w3 w4", "w5", "w7 w8"]
    _check_lexical_set(texts, (1, 2, 5), skip=1)


def test_lexical_set_with_many_draws_over_a_mid_sized_vocabulary() -> None:
    """20,000 words: 4 word ids still pack in an int64 but not together with 120 draw
    numbers, so n-grams are sorted by (key, draw) instead."""
    rng = np.random.default_rng(2)
    words = [f"v{i}" for i in range(20_000)]
    texts = [" ".join(words)] + [" ".join(rng.choice(words[:6], int(rng.integers(1, 9))))
                                 for _ in range(12)]
    _check_lexical_set(texts, (3,), skip=1, draws=120)


@pytest.mark.parametrize("route", ["dense", "sorted"])
def test_lexical_set_of_texts_sharing_many_n_grams(route: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Two-word vocabularies: the texts of a draw share most of their n-grams (self-repetition
    and Self-BLEU count them across texts). Self-BLEU's clipped counts come from dense
    (draw, n-gram) arrays, or by sorting when those would be too large."""
    if route == "sorted":
        monkeypatch.setattr(m, "_DENSE_MAX", 0)
    rng = np.random.default_rng(3)
    texts = [" ".join(rng.choice(["a", "b"], int(rng.integers(3, 12)))) for _ in range(14)]
    texts += ["a b a b a b", "a b a b a b", "b b b b", "a", "A b a b"]
    _check_lexical_set(texts, (2, 3, 5, 12), draws=30)


def test_lexical_set_ngram_diversity_at_exactly_four_words() -> None:
    lex = m.LexicalSet(["w x y z", "w x y", "v"], rouge=False)
    got = lex.stats(np.array([[0]]))["ngram_diversity"]
    assert got.tolist() == [m.ngram_diversity(["w x y z"])] == [4.0]  # 1 + 1 + 1 + 1
    assert np.isnan(lex.stats(np.array([[1]]))["ngram_diversity"]).all()  # under 4 words
    assert lex.stats(np.array([[1, 2]]))["ngram_diversity"].tolist() == [
        m.ngram_diversity(["w x y", "v"])]


def test_lexical_set_with_many_draws_and_no_four_gram_at_all() -> None:
    """20,000 words and 120 draws: the 4-grams take the (key, draw) sort route, and no draw
    holds a 4-gram (every draw has fewer than 4 tokens): every draw's diversity is nan, as
    `ngram_diversity` says for fewer than 4 tokens."""
    words = [f"v{i}" for i in range(20_000)]
    texts = [" ".join(words), "v1", "v2 v3", "v4 v5 v6", "v7", "v8 v9"]
    lex = m.LexicalSet(texts, rouge=False)
    idx = 1 + np.arange(120)[:, None] % 5
    got = lex.stats(idx)["ngram_diversity"]
    assert got.shape == (120,) and np.isnan(got).all()
    assert all(math.isnan(m.ngram_diversity([t])) for t in texts[1:])
    _check_lexical_set(texts, (1,), skip=1, draws=120)


@pytest.mark.parametrize("route", ["dense", "sorted"])
def test_self_bleu_when_two_texts_hold_the_last_n_gram_unequally(
        route: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """"x x x x" three times in one text, once in the other: the other text's count (1) is the
    reference of the text holding the most. In the sorted route this 4-gram is the last group
    of all (two holders). Against sacrebleu's sentence BLEU of each text vs the other."""
    from sacrebleu import sentence_bleu

    if route == "sorted":
        monkeypatch.setattr(m, "_DENSE_MAX", 0)
    for texts in (["x x x x x x", "x x x x"], ["p q r s p q r s", "p q r s"]):
        want = (sentence_bleu(texts[0], [texts[1]]).score
                + sentence_bleu(texts[1], [texts[0]]).score) / 200
        got = m.LexicalSet(texts, rouge=False).stats(np.array([[0, 1]]))["self_bleu"]
        assert got[0] == pytest.approx(want, rel=1e-12) and m.self_bleu(texts) == pytest.approx(
            want, rel=1e-12)


def test_lexical_set_of_texts_too_short_for_any_n_gram() -> None:
    _check_lexical_set(["one", "two", "three", ""], (1, 2, 4))
    _check_lexical_set(["one two", "three", "\n", "\t\n", "   ", "a b c d e"], (1, 2, 3, 6))


# -- distributions ---------------------------------------------------------------------------

def _jsd_by_hand(a: list[int], b: list[int]) -> float:
    p = np.array(a, float) / sum(a)
    q = np.array(b, float) / sum(b)
    mid = (p + q) / 2

    def kl(x: np.ndarray, y: np.ndarray) -> float:
        return float(sum(xi * math.log2(xi / yi) for xi, yi in zip(x, y, strict=True) if xi > 0))

    return (kl(p, mid) + kl(q, mid)) / 2


def test_jensen_shannon_counts_stacked_and_at_one_count() -> None:
    a = np.array([[[1, 0, 0], [2, 1, 0]], [[0, 0, 0], [0, 3, 1]]])
    b = np.array([[[0, 1, 0], [1, 1, 1]], [[1, 1, 0], [0, 0, 0]]])
    got = m.jensen_shannon_counts(a, b)
    assert got.shape == (2, 2) and got.dtype == np.float64
    assert got[0, 0] == pytest.approx(1.0)  # one count each, disjoint: 1 bit
    assert got[0, 1] == pytest.approx(_jsd_by_hand([2, 1, 0], [1, 1, 1]))
    assert np.isnan(got[1, 0]) and np.isnan(got[1, 1])  # one side without counts
    one = m.jensen_shannon_counts([1, 0], [1, 0])
    assert one == 0.0
    assert m.jensen_shannon_counts([1, 1], [2, 0]) == pytest.approx(_jsd_by_hand([1, 1], [2, 0]))


def test_missing_modes_default_share_and_ties() -> None:
    src = ["b"] * 2 + ["a"] * 2 + ["c"] * 15 + ["d"]  # shares .1 .1 .75 .05
    assert m.missing_modes(src, ["c"]) == [("a", 0.1), ("b", 0.1)]  # >= 0.1, ties by name
    assert m.missing_modes(src, ["c"], min_share=0.2) == []
    assert m.missing_modes([2, 10, 10, 2], []) == [(10, 0.5), (2, 0.5)]  # by str: "10" < "2"


# -- source vs generated: empty sides, one value, and scipy ---------------------------------

@pytest.mark.parametrize("fn", [m.diff_of_means, m.wasserstein])
def test_value_comparisons_with_an_empty_or_a_single_value(fn) -> None:  # type: ignore[no-untyped-def]
    assert math.isnan(fn([], [1.0, 2.0])) and math.isnan(fn([1.0, 2.0], []))
    assert math.isnan(fn([math.nan], [1.0]))
    want = 1.5 if fn is m.diff_of_means else wasserstein_distance([1.0], [2.0, 3.0])
    assert fn([1.0], [2.0, 3.0]) == want
    assert fn([2.0, 3.0], [1.0]) == -want if fn is m.diff_of_means else want


@pytest.mark.parametrize("fn, ref", [(m.ks, ks_2samp), (m.mann_whitney, mannwhitneyu)])
def test_two_sample_tests_with_an_empty_or_a_single_value(fn, ref) -> None:  # type: ignore[no-untyped-def]
    for s, g in [([], [1.0, 2.0]), ([1.0, 2.0], []), ([], [])]:
        r = fn(s, g)
        assert isinstance(r.statistic, float) and isinstance(r.pvalue, float)
        assert math.isnan(r.statistic) and math.isnan(r.pvalue)
    for s, g in [([1.0], [2.0, 3.0, 4.0]), ([5.0, 0.5, 2.0], [1.0])]:
        r, want = fn(s, g), ref(s, g)
        assert (r.statistic, r.pvalue) == (float(want.statistic), float(want.pvalue))


# -- aggregates over prompts -----------------------------------------------------------------

def test_aggregate_of_nothing_and_of_one_prompt() -> None:
    a = m.aggregate([])
    assert math.isnan(a.mean) and math.isnan(a.ci_low) and math.isnan(a.ci_high)
    assert a.n == 0 and isinstance(a.n, int)
    assert m.aggregate([math.nan, 3.0]).as_dict() == {"mean": 3.0, "ci_low": 3.0,
                                                       "ci_high": 3.0, "n": 1}
    two = m.aggregate([1.0, 3.0])
    assert two.n == 2 and two.mean == 2.0 and two.ci_low == 1.0 and two.ci_high == 3.0


def test_aggregate_skips_missing_prompts() -> None:
    a = m.aggregate([1.0, None, 3.0, math.nan])
    assert (a.mean, a.n) == (2.0, 2)


def test_compression_ratio_refuses_unknown_choices() -> None:
    with pytest.raises(ValueError, match=r"^algorithm must be 'gzip' or 'xz'$"):
        m.compression_ratio(["a b"], algorithm="zip")
    with pytest.raises(ValueError, match=r"^variant must be 'single' or 'diversity-0.3.1'$"):
        m.compression_ratio(["a b"], variant="double")


def test_lexical_set_of_no_texts_and_of_empty_texts() -> None:
    none = m.LexicalSet([], rouge=False).stats(np.zeros((2, 0), dtype=np.int64))
    assert all(v.shape == (2,) and np.isnan(v).all() for v in none.values())
    empty = m.LexicalSet(["", "", "a"], rouge=False)
    assert empty.stats(np.array([[0, 1]]))["self_bleu"].tolist() == [m.self_bleu(["", ""])]
    assert empty.stats(np.array([[0, 2]]))["self_bleu"].tolist() == [m.self_bleu(["", "a"])]


def test_lexical_set_of_empty_draws() -> None:
    got = m.LexicalSet(["a b c d", "e f"], rouge=True).stats(np.zeros((2, 0), dtype=np.int64))
    assert set(got) == {"compression_ratio", "ngram_diversity", "self_repetition", "self_bleu",
                        "homogenization"}
    assert all(v.shape == (2,) and np.isnan(v).all() for v in got.values())


def test_aggregate_mask_selects_prompts() -> None:
    a = m.aggregate([1.0, 100.0, 3.0], mask=[1, 0, 1])  # 0/1 as well as booleans
    assert (a.mean, a.n) == (2.0, 2)
    assert m.aggregate([1.0, 100.0, 3.0], mask=np.array([True, False, True])).mean == 2.0


def test_aggregate_is_seeded_with_documented_defaults() -> None:
    v = np.random.default_rng(0).normal(size=25)
    a = m.aggregate(v)
    assert a == m.aggregate(v) == m.aggregate(v, n_boot=2000, confidence=0.95, seed=0)
    assert a != m.aggregate(v, seed=1) and a != m.aggregate(v, n_boot=2001)


def test_aggregate_interval_is_scipys_percentile_bootstrap() -> None:
    v = np.random.default_rng(2).exponential(size=40)
    a = m.aggregate(v, n_boot=40_000)
    ref = bootstrap((v,), np.mean, n_resamples=40_000, method="percentile",
                    confidence_level=0.95, random_state=np.random.default_rng(9)).confidence_interval
    se = v.std() / math.sqrt(v.size)
    assert a.mean == pytest.approx(v.mean(), rel=1e-12)
    assert abs(a.ci_low - ref.low) < 0.03 * se and abs(a.ci_high - ref.high) < 0.03 * se
    # every value can be drawn: one large value among zeros lifts the upper bound
    spike = m.aggregate([100.0] + [0.0] * 9)
    assert spike.ci_low == 0.0 and spike.ci_high > 20.0


# -- embeddings: distinct-k, k-NN coverage, Vendi ---------------------------------------------

def _components(sim: np.ndarray, rows: list[int], thr: float) -> int:
    """Connected components of the graph sim >= thr among rows (breadth-first, by hand)."""
    left, n = set(rows), 0
    while left:
        n += 1
        todo = [left.pop()]
        while todo:
            i = todo.pop()
            near = {j for j in left if sim[i, j] >= thr}
            left -= near
            todo += near
    return n


def _greedy(sim: np.ndarray, rows: list[int], thr: float) -> int:
    firsts: list[int] = []
    for i in rows:
        if not any(sim[f, i] >= thr for f in firsts):
            firsts.append(i)
    return len(firsts)


@pytest.mark.parametrize("size, b", [(1, 2), (5, 3), (40, 2), (70, 1), (70, 3), (300, 1)])
def test_distinct_k_from_similarity_equals_graph_components(size: int, b: int) -> None:
    rng = np.random.default_rng(size * 10 + b)
    n = max(size, 8) + 5
    # few edges, many of them exactly at the threshold (>= joins)
    sim = rng.choice([0.1, 0.69, 0.7, 0.9], size=(n, n), p=[0.96, 0.01, 0.015, 0.015])
    sim = np.triu(sim, 1) + np.triu(sim, 1).T + np.eye(n)
    idx = np.argsort(rng.random((b, n)), axis=1)[:, :size]
    for method, ref in (("single-link", _components), ("greedy", _greedy)):
        got = m.distinct_k_from_similarity(sim, idx, 0.7, method)
        assert got.dtype == np.int64 and got.shape == (b,)
        assert got.tolist() == [ref(sim, row.tolist(), 0.7) for row in idx], method


def test_distinct_k_edges_and_messages() -> None:
    assert m.distinct_k_from_similarity(np.eye(3), np.zeros((2, 0), dtype=int)).tolist() == [0, 0]
    assert m.distinct_k_from_similarity(np.eye(3), np.zeros((2, 0), dtype=int)).dtype == np.int64
    assert m.distinct_k([[1.0, 0.0]]) == 1 and m.distinct_k(np.zeros((0, 2))) == 0
    with pytest.raises(ValueError, match=r"^method must be 'single-link' or 'greedy' for a "):
        m.distinct_k_from_similarity(np.eye(2), [[0, 1]], method="text")
    with pytest.raises(ValueError, match=r"^idx must be \(draws, m\), got shape \(2,\)$"):
        m.distinct_k_from_similarity(np.eye(2), [0, 1])
    with pytest.raises(ValueError, match=r"^method must be one of"):
        m.distinct_k([[1.0, 0.0]], method="nope")
    with pytest.raises(ValueError, match=r"^expected a 2-D array of vectors \(n, d\)"):
        m.vendi_score([1.0, 2.0])


def _knn_by_sklearn(a: np.ndarray, b: np.ndarray, k: int) -> float:
    from sklearn.neighbors import NearestNeighbors

    pooled = np.vstack([a, b])
    kk = min(k, len(pooled) - 1)
    nn = NearestNeighbors(n_neighbors=kk + 1, metric="cosine").fit(pooled)
    _, ind = nn.kneighbors(a)
    hits = [any(j >= len(a) for j in row if j != i)
            for i, row in enumerate(ind)]  # self dropped (ties aside)
    return float(np.mean(hits))


def test_coverage_and_precision_equal_sklearns_neighbours() -> None:
    rng = np.random.default_rng(7)
    s = rng.normal(size=(30, 3))
    g = rng.normal(size=(12, 3)) + np.array([1.5, 0.0, 0.0])
    for k in (1, 2, 5, 8, 100):
        assert m.coverage(s, g, k) == _knn_by_sklearn(s, g, k), k
        assert m.precision(s, g, k) == _knn_by_sklearn(g, s, k), k
    assert m.coverage(s, g) == m.coverage(s, g, 5) and m.precision(s, g) == m.precision(s, g, 5)
    assert m.coverage(s, g) != m.coverage(s, g, 6)
    assert m.precision(g, s) == m.coverage(s, g, 5) != m.coverage(s, g, 6)  # default k = 5
    # chunks of rows give the same answer
    one = m._has_other_in_knn(s, g, 3)
    assert np.array_equal(m._has_other_in_knn(s, g, 3, chunk=4), one)
    assert np.array_equal(m._has_other_in_knn(s, g, 3, chunk=7), one)
    assert m.coverage(s[:1], g, 3) == _knn_by_sklearn(s[:1], g, 3)  # one source text
    assert m.coverage(s, np.zeros((0, 3))) == 0.0
    assert math.isnan(m.coverage(np.zeros((0, 3)), g)) and math.isnan(m.precision(s, g[:0]))


_KNN_CHILD = """
import json, sys
import numpy as np
from monoscope.core.analysis import metrics as m
rng = np.random.default_rng(11)
out = []
for trial in range(40):
    s = rng.normal(size=(25, 4))
    g = rng.normal(size=(9, 4)) + 0.7
    pooled = m._unit_rows(np.vstack([s, g]))
    sims = pooled[:25] @ pooled.T
    np.fill_diagonal(sims[:, :25], -np.inf)
    order = np.argsort(-sims, axis=1, kind="stable")  # full sort: the reference
    for k in (1, 2, 3, 4, 6):
        want = (order[:, :k] >= 25).any(axis=1).astype(float).tolist()
        out.append([want, m._has_other_in_knn(s, g, k).tolist()])
if __name__ == "__main__":
    json.dump(out, sys.stdout)
"""


def test_knn_share_without_numpys_simd_partition() -> None:
    """Which rows have a generated text among their k nearest, against a full sort, in a child
    whose numpy does not use the AVX2/AVX-512 partition (`NPY_DISABLE_CPU_FEATURES`): that one
    sorts the block around the k-th element, so a k-th neighbour picked at the wrong position
    still comes out right; numpy's generic introselect only places the k-th itself."""
    env = {**os.environ, "PYTHONPATH": str(Path(m.__file__).parents[3])}
    if platform.machine().lower() in ("x86_64", "amd64"):
        env["NPY_DISABLE_CPU_FEATURES"] = "X86_V3 X86_V4"
    done = subprocess.run([sys.executable, "-c", _KNN_CHILD], env=env, capture_output=True,
                          text=True, check=True, timeout=120)
    here: dict[str, object] = {"__name__": "here"}
    exec(_KNN_CHILD, here)  # the same in this process, with the default partition
    for pairs in (json.loads(done.stdout), here["out"]):
        assert isinstance(pairs, list) and len(pairs) == 200
        for want, got in pairs:
            assert got == want


def test_knn_with_k_past_the_set_takes_every_other_text() -> None:
    """k >= n - 1: every other text is a neighbour, so each source text reaches the one
    generated text, though it is the farthest from both."""
    s = np.array([[1.0, 0.0], [0.9, 0.1]])
    g = np.array([[-1.0, 0.0]])
    assert m.coverage(s, g, 2) == m.coverage(s, g, 5) == 1.0
    assert m.coverage(s, g, 1) == 0.0  # the nearest of each is the other source text


def test_ngram_diversity_of_tab_and_newline_tokens() -> None:
    """Tokens are split on single spaces, so tabs and newlines are tokens (as in the
    `diversity` package): four of them are enough for a value, in a draw as in one set."""
    texts = ["\t \n \t \n", "\n"]
    lex = m.LexicalSet(texts, rouge=False)
    want = m.ngram_diversity(texts[:1])
    assert want == pytest.approx(2 / 4 + 2 / 3 + 2 / 2 + 1 / 1)
    assert lex.stats(np.array([[0]]))["ngram_diversity"][0] == pytest.approx(want)


def test_rows_without_a_finite_length_become_zero() -> None:
    """A row whose length is 0 or nan (a broken embedding) is a zero row: cosine 0 with every
    other row, never nan. The allocator is first given a buffer of the same size full of
    non-zeros, so a result not written where the length is 0 would show them."""
    x = np.array([[3.0, 4.0], [np.nan, 1.0], [0.0, 0.0], [0.0, 2.0]])
    for _ in range(3):
        junk = np.full_like(x, 7.0)
        del junk
        u = m._unit_rows(x)
        assert u.tolist() == [[0.6, 0.8], [0.0, 0.0], [0.0, 0.0], [0.0, 1.0]]
    assert m.mean_pairwise_cosine(x) == pytest.approx(0.8 / 6)  # one pair of 6 has cosine 0.8


def test_renyi_vendi_orders_by_hand() -> None:
    eig = [0.5, 0.25, 0.25]
    assert m.renyi_vendi(eig) == m.renyi_vendi(eig, 1.0)
    assert m.renyi_vendi(eig) == pytest.approx(math.exp(-(0.5 * math.log(0.5)
                                                           + 0.5 * math.log(0.25))))
    assert m.renyi_vendi(eig, 2.0) == pytest.approx(1 / (0.25 + 0.0625 * 2))
    assert m.renyi_vendi(eig, math.inf) == pytest.approx(2.0)  # 1 / max p
    assert m.renyi_vendi(eig, 0.0) == pytest.approx(3.0)
    assert m.renyi_vendi([1.0, 1e-12], 0.0) == 1.0  # <= 1e-12 is a numerical zero
    rows = np.array([[0.5, 0.5, 0.0], [0.0, 0.0, 0.0], [0.9, 0.1, 0.0]])
    for q in (0.0, 0.5, 1.0, 2.0, math.inf):
        got = m.renyi_vendi(rows, q)
        assert got.dtype == np.float64 and got.shape == (3,)
        assert np.isnan(got[1]) and got[0] == pytest.approx(2.0)
        assert got[2] == pytest.approx(float(m.renyi_vendi(rows[2], q)))
    with pytest.raises(ValueError, match=r"^q must be >= 0$"):
        m.renyi_vendi(eig, -1.0)


def test_vendi_of_one_and_of_orthogonal_texts() -> None:
    assert m.vendi_score_q([[3.0, 4.0]]) == pytest.approx(1.0)
    eye = np.eye(4) * 2.0
    assert m.vendi_score_q(eye) == pytest.approx(4.0)
    vecs = np.random.default_rng(1).normal(size=(6, 3))
    assert m.vendi_score_q(vecs) == m.vendi_score_q(vecs, 1.0) == m.vendi_score(vecs)
    assert m.vendi_score_q(vecs) != m.vendi_score_q(vecs, 2.0)


def test_zero_vectors_have_cosine_zero() -> None:
    u = m._unit_rows(np.array([[3.0, 4.0], [0.0, 0.0]]))
    assert u.tolist() == [[0.6, 0.8], [0.0, 0.0]]
    assert m.mean_pairwise_cosine([[1.0, 0.0], [0.0, 0.0], [1.0, 0.0]]) == pytest.approx(1 / 3)


# -- ROUGE-L against rouge-score ---------------------------------------------------------------

def test_pairwise_rouge_l_equals_rouge_score_with_and_without_stemming() -> None:
    from rouge_score import rouge_scorer

    texts = ["The runners were running fast", "a runner runs fast", "", "Running, running!"]
    for stem in (False, True):
        ref = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=stem)
        got = m.pairwise_rouge_l(texts, use_stemmer=stem) if stem else m.pairwise_rouge_l(texts)
        for i, a in enumerate(texts):
            for j, b in enumerate(texts):
                want = 1.0 if i == j else ref.score(a, b)["rougeL"].fmeasure
                assert got[i, j] == pytest.approx(want, abs=1e-12), (stem, i, j)
    plain, stemmed = m.pairwise_rouge_l(texts), m.pairwise_rouge_l(texts, use_stemmer=True)
    assert plain[0, 1] < stemmed[0, 1]  # "running" ~ "runs" only when stemmed
    assert m.homogenization(texts) == pytest.approx((plain.sum() - 4) / 12)
    assert m.homogenization(texts, use_stemmer=True) == pytest.approx((stemmed.sum() - 4) / 12)
