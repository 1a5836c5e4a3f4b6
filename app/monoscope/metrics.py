"""Monoculture metrics: dispersion within a set, and source-vs-generated comparisons.

The public, documented API every other part of Monoscope (measure, report, GUI) stands on.
Pure numpy/scipy: no Qt, no torch. Follows Wu et al., "Generative Monoculture in LLMs"
(entropy in bits, mean pairwise cosine Σ_{i≠j} cos / (n(n−1)), wording measures) and adds
embedding-space measures (Vendi score, coverage/precision, distinct-n, compression ratio).

Conventions: functions take plain Python sequences or numpy arrays; a set too small for a
measure (e.g. one text for a pairwise mean) gives ``nan`` rather than raising, so per-prompt
tables stay rectangular; aggregates skip ``nan``.
"""

from __future__ import annotations

import math
import re
import zlib
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "Aggregate",
    "TestResult",
    "aggregate",
    "compression_ratio",
    "cosine_dispersion",
    "count_cosine",
    "coverage",
    "diff_of_means",
    "dispersion_ratio",
    "distinct_n",
    "entropy",
    "jaccard_dispersion",
    "ks",
    "mann_whitney",
    "mean_pairwise_cosine",
    "mean_pairwise_jaccard",
    "perplexity_mask",
    "precision",
    "std",
    "tokenize",
    "unigram_counts",
    "unigram_entropy",
    "vendi_score",
    "vocabulary_size",
    "wasserstein",
]

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike


# -- helpers ---------------------------------------------------------------------------------
def _as_matrix(vectors: ArrayLike) -> FloatArray:
    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"expected a 2-D array of vectors (n, d), got shape {x.shape}")
    return x


def _unit_rows(x: FloatArray) -> FloatArray:
    """Rows scaled to length 1; zero rows stay zero (cosine with them is 0)."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    out: FloatArray = np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)
    return out


def _finite(values: ArrayLike) -> FloatArray:
    v = np.asarray(values, dtype=np.float64).ravel()
    out: FloatArray = v[np.isfinite(v)]
    return out


# -- dispersion within one set ---------------------------------------------------------------
def entropy(labels: Iterable[Hashable], base: float = 2) -> float:
    """Shannon entropy of the label distribution, −Σ p log p (bits by default).

    The paper's per-prompt dispersion of a categorical attribute (sentiment label, topic id).
    0 for a single class; ``nan`` for no labels.
    """
    counts = np.array(list(Counter(labels).values()), dtype=np.float64)
    if counts.size == 0:
        return math.nan
    p = counts / counts.sum()
    h = float(-(p * np.log(p)).sum() / math.log(base))
    return max(h, 0.0)  # -0.0 for one class


def std(values: ArrayLike) -> float:
    """Population standard deviation (ddof=0) of the finite values; ``nan`` if none."""
    v = _finite(values)
    return float(v.std()) if v.size else math.nan


def mean_pairwise_cosine(vectors: ArrayLike) -> float:
    """Mean cosine similarity over ordered pairs i≠j: Σ_{i≠j} cos(v_i, v_j) / (n(n−1)).

    Closed form, O(n·d): with unit rows u_i and s = Σ u_i, Σ_{i≠j} u_i·u_j = |s|² − Σ|u_i|².
    ``nan`` for fewer than two vectors.
    """
    x = _as_matrix(vectors)
    n = x.shape[0]
    if n < 2:
        return math.nan
    u = _unit_rows(x)
    s = u.sum(axis=0)
    diag = float((u * u).sum())
    return float((s @ s - diag) / (n * (n - 1)))


def cosine_dispersion(vectors: ArrayLike) -> float:
    """1 − mean pairwise cosine: 0 when all texts point the same way (a dispersion for ratios)."""
    return 1.0 - mean_pairwise_cosine(vectors)


def _jaccard(a: frozenset[Any], b: frozenset[Any]) -> float:
    union = len(a | b)
    return 1.0 if union == 0 else len(a & b) / union


def mean_pairwise_jaccard(sets: Sequence[Iterable[Hashable]]) -> float:
    """Mean Jaccard similarity |A∩B|/|A∪B| over pairs i<j (two empty sets count as identical, 1).

    The paper's measure for algorithm / data-structure tag sets. ``nan`` for fewer than two sets.
    """
    fs = [frozenset(s) for s in sets]
    n = len(fs)
    if n < 2:
        return math.nan
    total = sum(_jaccard(fs[i], fs[j]) for i in range(n) for j in range(i + 1, n))
    return total / (n * (n - 1) / 2)


def jaccard_dispersion(sets: Sequence[Iterable[Hashable]]) -> float:
    """1 − mean pairwise Jaccard (a dispersion for ratios)."""
    return 1.0 - mean_pairwise_jaccard(sets)


def vendi_score(vectors: ArrayLike) -> float:
    """Vendi score (Friedman & Dieng 2023) with the cosine kernel: exp of the eigenvalue entropy of K/n.

    Reads as an effective number of distinct texts: 1 when all are the same, n when all are
    orthogonal. Uses the d×d Gram matrix (same non-zero spectrum as K) so it is cheap for large n.
    """
    x = _as_matrix(vectors)
    n = x.shape[0]
    if n == 0:
        return math.nan
    u = _unit_rows(x)
    small = u.T @ u if u.shape[1] < n else u @ u.T
    eig = np.linalg.eigvalsh(small / n)
    eig = eig[eig > 1e-12]
    if eig.size == 0:
        return math.nan
    eig = eig / eig.sum()
    return float(math.exp(-(eig * np.log(eig)).sum()))


# -- wording ---------------------------------------------------------------------------------
_CONTRACTIONS = [
    (re.compile(r"\bcan't\b"), "can not"),
    (re.compile(r"\bwon't\b"), "will not"),
    (re.compile(r"\bshan't\b"), "shall not"),
    (re.compile(r"\bain't\b"), "is not"),
    (re.compile(r"\blet's\b"), "let us"),
    (re.compile(r"n't\b"), " not"),
    (re.compile(r"'re\b"), " are"),
    (re.compile(r"'m\b"), " am"),
    (re.compile(r"'ll\b"), " will"),
    (re.compile(r"'ve\b"), " have"),
    (re.compile(r"'d\b"), " would"),
    (re.compile(r"\b(it|that|there|what|here|who|he|she)'s\b"), r"\1 is"),
]
_WORD = re.compile(r"[a-z]+")


def tokenize(text: str) -> list[str]:
    """Lower-cased alphabetic tokens with English contractions expanded (the paper's wording rule)."""
    t = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    for pattern, repl in _CONTRACTIONS:
        t = pattern.sub(repl, t)
    return _WORD.findall(t)


def unigram_counts(texts: Iterable[str]) -> Counter[str]:
    """Corpus-level unigram counts over all texts (see `tokenize`)."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(tokenize(text))
    return counts


def unigram_entropy(counts: Mapping[str, int], base: float = 2) -> float:
    """Entropy of the unigram distribution (bits): the paper's corpus wording diversity."""
    c = np.array([v for v in counts.values() if v > 0], dtype=np.float64)
    if c.size == 0:
        return math.nan
    p = c / c.sum()
    return max(float(-(p * np.log(p)).sum() / math.log(base)), 0.0)


def vocabulary_size(counts: Mapping[str, int]) -> int:
    """Number of distinct words with a positive count."""
    return sum(1 for v in counts.values() if v > 0)


def count_cosine(counts_a: Mapping[str, int], counts_b: Mapping[str, int]) -> float:
    """Cosine between two count vectors over the union vocabulary (source vs generated wording)."""
    dot = sum(v * counts_b.get(k, 0) for k, v in counts_a.items())
    na = math.sqrt(sum(v * v for v in counts_a.values()))
    nb = math.sqrt(sum(v * v for v in counts_b.values()))
    return math.nan if na == 0 or nb == 0 else dot / (na * nb)


def distinct_n(texts: Iterable[str], n: int = 2) -> float:
    """Distinct-n (Li et al. 2016): unique n-grams / all n-grams, pooled over the texts.

    Tokens as in `tokenize`; n-grams never cross text boundaries. ``nan`` if no n-grams.
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    seen: set[tuple[str, ...]] = set()
    total = 0
    for text in texts:
        toks = tokenize(text)
        grams = [tuple(toks[i : i + n]) for i in range(len(toks) - n + 1)]
        total += len(grams)
        seen.update(grams)
    return len(seen) / total if total else math.nan


def compression_ratio(texts: Iterable[str], level: int = 9) -> float:
    """Raw size / zlib-compressed size of the texts joined by newlines (higher = more repetitive)."""
    raw = "\n".join(texts).encode("utf-8")
    if not raw:
        return math.nan
    return len(raw) / len(zlib.compress(raw, level))


# -- source vs generated ---------------------------------------------------------------------
@dataclass(frozen=True)
class TestResult:
    """A two-sample test: the statistic and its p-value."""

    __test__ = False  # not a pytest class
    statistic: float
    pvalue: float


def diff_of_means(source: ArrayLike, generated: ArrayLike) -> float:
    """mean(generated) − mean(source) over finite values; ``nan`` if either side is empty."""
    s, g = _finite(source), _finite(generated)
    if s.size == 0 or g.size == 0:
        return math.nan
    return float(g.mean() - s.mean())


def dispersion_ratio(
    source: Any,
    generated: Any,
    dispersion: Callable[[Any], float] = std,
) -> float:
    """Monoculture index: dispersion(generated) / dispersion(source).

    Below 1 means the model's outputs are narrower than the people's. ``dispersion`` is any
    set measure: `std` (default), `entropy`, `cosine_dispersion`, `jaccard_dispersion`…
    When the source has no dispersion: 1.0 if the generated has none either, else ``inf``.
    """
    d_src = float(dispersion(source))
    d_gen = float(dispersion(generated))
    if math.isnan(d_src) or math.isnan(d_gen):
        return math.nan
    if d_src == 0:
        return 1.0 if d_gen == 0 else math.inf
    return d_gen / d_src


def wasserstein(source: ArrayLike, generated: ArrayLike) -> float:
    """Wasserstein-1 (earth mover's) distance between the two value distributions (scipy)."""
    from scipy.stats import wasserstein_distance

    s, g = _finite(source), _finite(generated)
    if s.size == 0 or g.size == 0:
        return math.nan
    return float(wasserstein_distance(s, g))


def ks(source: ArrayLike, generated: ArrayLike) -> TestResult:
    """Two-sample Kolmogorov–Smirnov test (scipy ``ks_2samp``, two-sided)."""
    from scipy.stats import ks_2samp

    s, g = _finite(source), _finite(generated)
    if s.size == 0 or g.size == 0:
        return TestResult(math.nan, math.nan)
    r = ks_2samp(s, g)
    return TestResult(float(r.statistic), float(r.pvalue))


def mann_whitney(source: ArrayLike, generated: ArrayLike) -> TestResult:
    """Mann-Whitney U test, two-sided (scipy); the statistic is U of the source sample."""
    from scipy.stats import mannwhitneyu

    s, g = _finite(source), _finite(generated)
    if s.size == 0 or g.size == 0:
        return TestResult(math.nan, math.nan)
    r = mannwhitneyu(s, g, alternative="two-sided")
    return TestResult(float(r.statistic), float(r.pvalue))


def _has_other_in_knn(a: FloatArray, b: FloatArray, k: int, chunk: int = 2048) -> FloatArray:
    """For each row of a: 1.0 if a row of b is among its k cosine-nearest neighbours in a ∪ b."""
    ua, ub = _unit_rows(a), _unit_rows(b)
    pooled = np.vstack([ua, ub])
    n_a, n = ua.shape[0], pooled.shape[0]
    kk = min(k, n - 1)
    out = np.zeros(n_a)
    if kk < 1 or ub.shape[0] == 0:
        return out
    for start in range(0, n_a, chunk):
        stop = min(start + chunk, n_a)
        sims = ua[start:stop] @ pooled.T
        sims[np.arange(stop - start), np.arange(start, stop)] = -np.inf  # exclude self
        nearest = np.argpartition(-sims, kk - 1, axis=1)[:, :kk]
        out[start:stop] = (nearest >= n_a).any(axis=1)
    return out


def coverage(source_vecs: ArrayLike, gen_vecs: ArrayLike, k: int = 5) -> float:
    """Share of source texts with at least one generated text among their k nearest neighbours.

    Neighbours by cosine in the pooled set (self excluded). Low coverage = regions of the human
    distribution the model never writes into. ``nan`` without source texts.
    """
    s, g = _as_matrix(source_vecs), _as_matrix(gen_vecs)
    if s.shape[0] == 0:
        return math.nan
    return float(_has_other_in_knn(s, g, k).mean())


def precision(source_vecs: ArrayLike, gen_vecs: ArrayLike, k: int = 5) -> float:
    """Mirror of `coverage`: share of generated texts with a source text among their k nearest."""
    s, g = _as_matrix(source_vecs), _as_matrix(gen_vecs)
    if g.shape[0] == 0:
        return math.nan
    return float(_has_other_in_knn(g, s, k).mean())


# -- aggregates over prompts -----------------------------------------------------------------
@dataclass(frozen=True)
class Aggregate:
    """Mean of per-prompt values with a percentile bootstrap confidence interval."""

    mean: float
    ci_low: float
    ci_high: float
    n: int

    def as_dict(self) -> dict[str, float | int]:
        return {"mean": self.mean, "ci_low": self.ci_low, "ci_high": self.ci_high, "n": self.n}


def aggregate(
    per_prompt_values: ArrayLike,
    mask: ArrayLike | None = None,
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Aggregate:
    """Mean over prompts (the paper's table entries) with a seeded percentile bootstrap CI.

    ``nan`` values are skipped; ``mask`` (bool, same length) keeps only selected entries, e.g.
    `perplexity_mask` applied to per-text values before averaging.
    """
    v = np.asarray(per_prompt_values, dtype=np.float64).ravel()
    if mask is not None:
        v = v[np.asarray(mask, dtype=bool).ravel()]
    v = v[np.isfinite(v)]
    if v.size == 0:
        return Aggregate(math.nan, math.nan, math.nan, 0)
    mean = float(v.mean())
    if v.size == 1:
        return Aggregate(mean, mean, mean, 1)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, v.size, size=(n_boot, v.size))
    means = v[idx].mean(axis=1)
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return Aggregate(mean, float(lo), float(hi), int(v.size))


def perplexity_mask(ppl: ArrayLike, threshold: float = 20.0) -> npt.NDArray[np.bool_]:
    """The paper's quality filter: True where 0 < perplexity ≤ threshold (nan counts as False)."""
    p = np.asarray(ppl, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.asarray((p > 0) & (p <= threshold), dtype=np.bool_)
