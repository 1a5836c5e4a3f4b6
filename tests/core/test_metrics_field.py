"""The field's measures (issue 14) against hand values and their reference packages:
Vendi of order q (``vendi-score`` 0.0.3), distinct_k (networkx components), the lexical set
measures of Shaib et al. (the installed ``diversity`` 0.3.1, loaded by diversity_ref.py),
Self-BLEU (``sacrebleu``), Jensen–Shannon (scipy) — and the null property: random human
subsets compared at equal n score as the people (ratio ≈ 1)."""

from __future__ import annotations

import gzip
import itertools
import lzma
import math
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon

sys.path.insert(0, str(Path(__file__).parent))
import diversity_ref as ref

from monoscope import metrics as m

QS = (0.5, 1.0, 2.0, math.inf)


# -- Vendi of order q ------------------------------------------------------------------------
def test_vendi_q_hand_values() -> None:
    for q in (*QS, 0.0, 3.0):
        assert m.vendi_score_q(np.eye(5), q) == pytest.approx(5.0)  # orthogonal: n
        assert m.vendi_score_q(np.tile([1.0, 2.0, 3.0], (6, 1)), q) == pytest.approx(1.0)
        # n > d (the dual route): two copies each of e1, e2, e3 -> eigenvalues 1/3 each
        assert m.vendi_score_q(np.repeat(np.eye(3), 2, axis=0), q) == pytest.approx(3.0)
    # e1, e1, e2: eigenvalues of K/n are (2/3, 1/3)
    v = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    p = np.array([2 / 3, 1 / 3])
    assert m.vendi_score_q(v, 0.5) == pytest.approx(np.sqrt(p).sum() ** 2)
    assert m.vendi_score_q(v, 1) == pytest.approx(math.exp(-(p * np.log(p)).sum()))
    assert m.vendi_score_q(v, 2) == pytest.approx(1 / (p**2).sum())  # 9/5
    assert m.vendi_score_q(v, math.inf) == pytest.approx(1.5)
    assert math.isnan(m.vendi_score_q(np.zeros((0, 3)), 2))


def test_vendi_q_is_vendi_at_1_and_falls_with_q() -> None:
    rng = np.random.default_rng(5)
    for shape in ((30, 8), (6, 20)):
        x = rng.normal(size=shape)
        assert m.vendi_score_q(x, 1) == pytest.approx(m.vendi_score(x), rel=1e-12)
        vals = [m.vendi_score_q(x, q) for q in QS]
        assert all(a >= b for a, b in itertools.pairwise(vals)), vals
    # batched eigenvalue rows give the per-row values
    eig = rng.random((4, 7))
    for q in QS:
        got = m.renyi_vendi(eig, q)
        assert got.shape == (4,)
        for row, g in zip(eig, got, strict=True):
            assert m.renyi_vendi(row, q) == pytest.approx(g)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # its scipy.sparse.csr lookup
def test_vendi_q_matches_the_vendi_score_package() -> None:
    """Exact to 1e-9, except q = 0.5 with n > d (rank-deficient K) at 1e-6: the package keeps
    round-off eigenvalues ~1e-16 of the n - d null space, whose square roots add ~1e-8 each;
    here eigenvalues <= 1e-12 are zero (the exact spectrum)."""
    vendi = pytest.importorskip("vendi_score.vendi")  # vendi-score==0.0.3 (dev extra)
    rng = np.random.default_rng(0)
    for n, d in ((40, 12), (9, 30)):
        x = rng.normal(size=(n, d)) + rng.normal(size=d)  # some shared direction
        k = x @ x.T
        for q in QS:
            q_pkg = "inf" if math.isinf(q) else q
            want = float(vendi.score_K(k, q=q_pkg, normalize=True))
            tol = 1e-6 if q < 1 and n > d else 1e-9
            assert m.vendi_score_q(x, q) == pytest.approx(want, rel=tol), (n, d, q)
            if n > d:  # the package's dual route
                assert m.vendi_score_q(x, q) == pytest.approx(
                    float(vendi.score_dual(x, q=q_pkg)), rel=1e-9), (n, d, q)
        # score_X ignores q (always the order-1 score), as METHODS.md warns
        assert float(vendi.score_X(x, q=2)) == pytest.approx(m.vendi_score_q(x, 1), rel=1e-9)


# -- distinct_k ------------------------------------------------------------------------------
def test_distinct_k_hand_values() -> None:
    # a ~ b (cos 0.8), b ~ c (cos 0.8), a !~ c (cos 0.28): a chain
    a = np.array([1.0, 0.0])
    b = np.array([0.8, 0.6])
    c = np.array([0.28, 0.96])
    chain = np.vstack([a, b, c])
    assert m.distinct_k(chain, 0.75) == 1  # single link joins the chain
    assert m.distinct_k(chain, 0.75, "greedy") == 2  # a opens, b joins a, c opens
    assert m.distinct_k(chain, 0.9) == 3
    assert m.distinct_k(np.tile(a, (7, 1))) == 1
    assert m.distinct_k(np.eye(6)) == 6
    assert m.distinct_k(np.zeros((0, 4))) == 0
    texts = ["Hello, World!", "hello   world", "HELLO world.", "Hello there", "héllo world"]
    assert m.distinct_k(texts, method="text") == 3
    with pytest.raises(ValueError):
        m.distinct_k(chain, method="kmeans")


def test_distinct_k_batched_matches_networkx_and_the_loop() -> None:
    import networkx as nx

    rng = np.random.default_rng(3)
    centres = rng.normal(size=(6, 16))
    x = centres[rng.integers(0, 6, 40)] + 0.45 * rng.normal(size=(40, 16))
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    sim = u @ u.T
    idx = np.argsort(rng.random((60, 40)), axis=1)[:, :12]
    for thr in (0.5, 0.7, 0.85):
        single = m.distinct_k_from_similarity(sim, idx, thr)
        greedy = m.distinct_k_from_similarity(sim, idx, thr, "greedy")
        assert (greedy >= single).all()
        for row, s_got, g_got in zip(idx, single, greedy, strict=True):
            g = nx.Graph()
            g.add_nodes_from(range(12))
            g.add_edges_from((i, j) for i in range(12) for j in range(i + 1, 12)
                             if sim[row[i], row[j]] >= thr)
            assert s_got == nx.number_connected_components(g)
            assert s_got == m.distinct_k(x[row], thr)
            assert g_got == m.distinct_k(x[row], thr, "greedy")


def test_distinct_k_and_vendi_q_on_1000_texts_under_a_second() -> None:
    """Timed with single-threaded BLAS, as the measure stage runs (threads on the busy 2-core
    machine are many times slower)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        _timed_1000()


def _timed_1000() -> None:
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(50, 384))
    x = centres[rng.integers(0, 50, 1000)] + 0.5 * rng.normal(size=(1000, 384))
    m.distinct_k(x[:50])  # imports
    for method in ("single-link", "greedy"):
        t = time.perf_counter()
        k = m.distinct_k(x, method=method)
        assert time.perf_counter() - t < 1.0, method
        assert k == 50
    t = time.perf_counter()
    for q in QS:
        m.vendi_score_q(x, q)
    assert time.perf_counter() - t < 1.0


# -- lexical set measures (Shaib et al., `diversity` 0.3.1) ---------------------------------
CORPUS = [
    "The film is a delight from start to finish, and the cast is superb.",
    "The film is a delight, and the cast is superb from start to finish.",
    "A tedious, overlong slog that never finds its footing.",
    "The cast is superb but the script is a tedious slog.",
    "Gorgeous to look at, hollow at the core.",
    "A delight from start to finish.",
]


def _corpora() -> list[list[str]]:
    rng = np.random.default_rng(8)
    words = ["the", "a", "film", "cast", "is", "superb", "slog", "delight", "script", "core",
             "hollow", "gorgeous", "and", "but"]
    out = [CORPUS]
    for _ in range(5):
        out.append([" ".join(rng.choice(words, rng.integers(6, 18))) for _ in range(7)])
    return out


def test_compression_ratio_matches_diversity() -> None:
    for texts in _corpora():
        raw = " ".join(texts).encode()
        assert m.compression_ratio(texts) == pytest.approx(
            len(raw) / len(gzip.compress(raw, 9)))
        assert round(m.compression_ratio(texts, variant="diversity-0.3.1"), 3) == \
            ref.compression_ratio(texts)
        assert round(m.compression_ratio(texts, "xz"), 3) == ref.compression_ratio(
            texts, algorithm="xz")
        assert len(raw) / len(lzma.compress(raw)) == m.compression_ratio(texts, "xz")
    # the package compresses twice: its denominator is a few bytes larger, its ratio smaller
    assert m.compression_ratio(CORPUS, variant="diversity-0.3.1") < m.compression_ratio(CORPUS)
    assert m.compression_ratio(["same text."] * 40) > 4 * m.compression_ratio(CORPUS)
    assert math.isnan(m.compression_ratio([]))


def test_ngram_diversity_matches_diversity() -> None:
    # tokens a b a b: 2/4 + 2/3 + 2/2 + 1/1
    assert m.ngram_diversity(["a b", "a b"]) == pytest.approx(0.5 + 2 / 3 + 1 + 1)
    assert m.ngram_diversity(["w x y z v"]) == pytest.approx(4.0)  # all distinct
    for texts in _corpora():
        assert round(m.ngram_diversity(texts), 3) == ref.ngram_diversity_score(texts)
        assert round(m.ngram_diversity(texts, 2), 3) == ref.ngram_diversity_score(texts, 2)
    assert math.isnan(m.ngram_diversity(["one two"]))


def test_self_repetition_matches_diversity() -> None:
    # two identical 5-token texts: 2 distinct 4-grams each, each in the other text once
    assert m.self_repetition(["a b c d e", "a b c d e"]) == pytest.approx(math.log(3))
    assert m.self_repetition(["a b c d", "e f g h"]) == 0.0
    for texts in _corpora():
        assert m.self_repetition(texts) == pytest.approx(
            ref.self_repetition_score(texts, verbose=False), abs=1e-12)
        assert m.self_repetition(texts, 2) == pytest.approx(
            ref.self_repetition_score(texts, 2, verbose=False), abs=1e-12)


def test_homogenization_matches_diversity() -> None:
    from rouge_score import rouge_scorer

    sc = rouge_scorer.RougeScorer(["rougeL"])
    mat = m.pairwise_rouge_l(CORPUS)
    assert np.allclose(mat, mat.T) and np.allclose(np.diag(mat), 1.0)
    assert mat[0, 2] == pytest.approx(sc.score(CORPUS[0], CORPUS[2])["rougeL"].fmeasure)
    # the bit-parallel LCS gives rouge-score's numbers on every pair, long texts included
    rng = np.random.default_rng(6)
    words = ["a", "b", "c", "d", "e", "f", "G", "h-i", "j.", ""]
    texts = [" ".join(rng.choice(words, int(rng.integers(0, 120)))) for _ in range(25)]
    texts += [*CORPUS, "", "!!!"]
    mat = m.pairwise_rouge_l(texts)
    for i in range(len(texts)):
        for j in range(len(texts)):
            if i != j:
                assert mat[i, j] == pytest.approx(
                    sc.score(texts[i], texts[j])["rougeL"].fmeasure, abs=1e-12), (i, j)
    for texts in _corpora():
        assert round(m.homogenization(texts), 3) == ref.homogenization_score(
            texts, verbose=False)
    assert m.homogenization(["same words here"] * 3) == pytest.approx(1.0)
    # the one difference: all-different texts are 0 here, 1 in the package
    assert m.homogenization(["a b", "c d"]) == 0.0
    assert ref.homogenization_score(["a b", "c d"], verbose=False) == 1.0
    assert math.isnan(m.homogenization(["alone"]))


def test_self_bleu_uses_sacrebleu() -> None:
    import sacrebleu

    assert m.self_bleu(["the cat sat on the mat today"] * 3) == pytest.approx(1.0)
    want = np.mean([sacrebleu.sentence_bleu(t, [o for o in CORPUS if o is not t]).score
                    for t in CORPUS]) / 100
    assert m.self_bleu(CORPUS) == pytest.approx(want, rel=1e-12)
    for texts in _corpora():
        want = np.mean([sacrebleu.sentence_bleu(t, texts[:i] + texts[i + 1:]).score
                        for i, t in enumerate(texts)]) / 100
        assert m.self_bleu(texts) == pytest.approx(want, rel=1e-12)
    assert 0.0 < m.self_bleu(CORPUS) < 1.0
    assert math.isnan(m.self_bleu(["one"]))


def test_lexical_set_on_subsets_equals_the_one_set_functions() -> None:
    rng = np.random.default_rng(12)
    words = ["the", "a", "film", "cast", "is", "superb", "slog", "delight", "script", "core",
             "hollow,", "Gorgeous", "and", "but", "x"]
    texts = [" ".join(rng.choice(words, int(rng.integers(0, 40)))) for _ in range(30)]
    texts += [*CORPUS, "", "   ", "one", "x x x x x x", "Two words", "def f(x):\n    return x"]
    lex = m.LexicalSet(texts)
    n = len(texts)
    for size in (1, 2, 3, 8, 20, n):
        idx = np.argsort(rng.random((15, n)), axis=1)[:, :size]
        got = lex.stats(idx)
        for d, row in enumerate(idx):
            sub = [texts[i] for i in row]
            want = {"compression_ratio": m.compression_ratio(sub),
                    "ngram_diversity": m.ngram_diversity(sub),
                    "self_repetition": m.self_repetition(sub),
                    "self_bleu": m.self_bleu(sub),
                    "homogenization": m.homogenization(sub)}
            for key, w in want.items():
                g = got[key][d]
                assert (math.isnan(g) and math.isnan(w)) or g == pytest.approx(
                    w, rel=1e-9, abs=1e-12), (size, d, key, g, w)
    # a vocabulary too large to pack 4 word ids in an int64 takes the per-draw route
    idx = np.argsort(rng.random((5, n)), axis=1)[:, :6]
    want = lex.stats(idx)["ngram_diversity"]
    lex.n_words = 2**20
    assert np.allclose(lex.stats(idx)["ngram_diversity"], want, equal_nan=True)


# -- distributions ---------------------------------------------------------------------------
def test_jensen_shannon_and_missing_modes() -> None:
    assert m.jensen_shannon("aabb", "abab") == 0.0
    assert m.jensen_shannon("aaaa", "bbbb") == pytest.approx(1.0)  # disjoint: 1 bit
    assert m.jensen_shannon("aaaa", "bbbb", base=math.e) == pytest.approx(math.log(2))
    rng = np.random.default_rng(4)
    a, b = rng.integers(0, 6, 50).tolist(), rng.integers(1, 9, 30).tolist()
    cats = sorted(set(a) | set(b))
    p = np.array([a.count(c) for c in cats], float)
    q = np.array([b.count(c) for c in cats], float)
    assert m.jensen_shannon(a, b) == pytest.approx(jensenshannon(p, q, base=2) ** 2)
    assert math.isnan(m.jensen_shannon([], "ab"))
    # batched from counts: rows of (draws, K)
    ca, cb = rng.integers(0, 5, (30, 6)), rng.integers(0, 5, (30, 6))
    got = m.jensen_shannon_counts(ca, cb)
    for row_a, row_b, g in zip(ca, cb, got, strict=True):
        la = [k for k, c in enumerate(row_a) for _ in range(c)]
        lb = [k for k, c in enumerate(row_b) for _ in range(c)]
        assert (math.isnan(g) and not (la and lb)) or g == pytest.approx(
            m.jensen_shannon(la, lb))
    src = ["war"] * 5 + ["love"] * 3 + ["food"] * 1 + ["sea"] * 1  # shares .5 .3 .1 .1
    assert m.missing_modes(src, ["war", "war", None], 0.1) == [
        ("love", pytest.approx(0.3)), ("food", pytest.approx(0.1)), ("sea", pytest.approx(0.1))]
    assert m.missing_modes(src, ["war", "sea"], 0.2) == [("love", pytest.approx(0.3))]
    assert m.missing_modes([], ["x"]) == []


# -- the null property: people compared with people at equal n score 1 -----------------------
def _people(n_prompts: int = 10, n_source: int = 30, seed: int = 7
            ) -> list[tuple[list[str], np.ndarray, list[int]]]:
    """Per prompt: texts (Zipf words from a prompt's vocabulary, some stock phrases), vectors
    (tight clusters, so distinct_k is neither 1 nor n) and topic labels."""
    rng = np.random.default_rng(seed)
    vocab = [f"w{i}" for i in range(400)]
    zipf = 1 / np.arange(1, 401) ** 1.1
    out = []
    for _ in range(n_prompts):
        probs = rng.permutation(zipf)
        probs /= probs.sum()
        stock = [" ".join(rng.choice(vocab, 5, p=probs)) for _ in range(4)]
        k = int(rng.integers(3, 9))
        centres = rng.normal(size=(k, 24))
        topic_p = rng.dirichlet(np.ones(k))
        texts, vecs, topics = [], [], []
        for _ in range(n_source):
            t = int(rng.choice(k, p=topic_p))
            words = list(rng.choice(vocab, int(rng.integers(8, 25)), p=probs))
            if rng.random() < 0.5:
                words += stock[int(rng.integers(0, 4))].split()
            texts.append(" ".join(words))
            vecs.append(centres[t] + 0.35 * rng.normal(size=24))
            topics.append(t)
        out.append((texts, np.array(vecs), topics))
    return out


def test_null_people_score_as_people_at_equal_n() -> None:
    """For every n-dependent new measure: a 'run' of n random human texts of a prompt, over
    the mean of the same statistic on random n-subsets of that prompt's people, averages 1
    (10 prompts x n in 4, 8, 16 x 3 runs each); the unmatched comparison (run at n against the
    whole source) does not, for the size-dependent ones."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        _null()


def _null() -> None:
    people = _people()
    draws = 40
    ratios: dict[str, list[float]] = {}
    unmatched: dict[str, list[float]] = {}
    for pi, (texts, vecs, topics) in enumerate(people):
        u = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
        sim = u @ u.T
        rouge = m.pairwise_rouge_l(texts)
        n_all = len(texts)

        def stats(idx: np.ndarray, texts=texts, vecs=vecs, sim=sim, rouge=rouge
                  ) -> dict[str, np.ndarray]:
            sub = [[texts[i] for i in row] for row in idx]
            k = idx.shape[1]
            r = rouge[idx[:, :, None], idx[:, None, :]]
            d: dict[str, list[float]] = {
                **{f"vendi_q{q}": [m.vendi_score_q(vecs[row], q) for row in idx] for q in QS},
                "compression_ratio": [m.compression_ratio(s) for s in sub],
                "ngram_diversity": [m.ngram_diversity(s) for s in sub],
                "self_repetition": [m.self_repetition(s) for s in sub],
                "homogenization": list((r.sum(axis=(1, 2)) - k) / (k * (k - 1))),
            }
            out = {key: np.asarray(v, dtype=float) for key, v in d.items()}
            out["distinct_k"] = m.distinct_k_from_similarity(sim, idx).astype(float)
            out["distinct_k_greedy"] = m.distinct_k_from_similarity(
                sim, idx, method="greedy").astype(float)
            out["self_bleu"] = np.array([m.self_bleu(s) for s in sub])
            return out

        whole = stats(np.arange(n_all)[None, :])
        for n in (4, 8, 16):
            rng = np.random.default_rng([pi, n])
            base = stats(np.argsort(rng.random((draws, n_all)), axis=1)[:, :n])
            runs = stats(np.argsort(rng.random((3, n_all)), axis=1)[:, :n])
            for key, v in runs.items():
                ratios.setdefault(key, []).extend(v / base[key].mean())
                if key in whole:
                    unmatched.setdefault(key, []).extend(v / whole[key][0])
            # JSD between topic labels: runs of n people against n other people, over pairs
            # of samples of n people
            pairs = np.argsort(rng.random((2, 60, n_all)), axis=2)[:, :, :n]
            jsd = np.array([m.jensen_shannon([topics[i] for i in a], [topics[i] for i in b])
                            for a, b in zip(pairs[0], pairs[1], strict=True)])
            ratios.setdefault("jensen_shannon", []).extend(jsd[:20] / jsd[20:].mean())
    for key, v in ratios.items():
        assert abs(float(np.mean(v)) - 1.0) < 0.06, (key, np.mean(v))
    # why matching matters: at n = 4..16 of 30 these look narrower (or wider) than people
    for key in ("vendi_q1.0", "distinct_k", "ngram_diversity", "compression_ratio"):
        assert abs(float(np.mean(unmatched[key])) - 1.0) > 0.1, (key, np.mean(unmatched[key]))


def test_distinct_k_small_path_equals_the_sparse_graph_path() -> None:
    """m ≤ 64 takes the repeated-squaring path, larger m scipy's connected components: both
    give the same counts on the same subsets (the first 64 of a larger draw)."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(90, 6)) + np.repeat(rng.normal(size=(9, 6)) * 3, 10, axis=0)
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    sim = u @ u.T
    idx = np.argsort(rng.random((30, 90)), axis=1)
    for thr in (0.5, 0.7, 0.9):
        small = m.distinct_k_from_similarity(sim, idx[:, :64], thr)
        # the same 64 texts padded with 1 copy each of 2 isolated dummies -> sparse path
        pad = np.vstack([np.hstack([sim, np.full((90, 2), -1.0)]),
                         np.hstack([np.full((2, 90), -1.0), np.eye(2)])])
        big = m.distinct_k_from_similarity(
            pad, np.hstack([idx[:, :64], np.tile([90, 91], (30, 1))]), thr)
        assert (big - 2 == small).all(), thr
        for row in range(3):
            assert small[row] == m.distinct_k(x[idx[row, :64]], thr)
