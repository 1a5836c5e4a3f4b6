"""Monoculture metrics: dispersion within a set, and source-vs-generated comparisons.

The public, documented API every other part of Monoscope (measure, report, GUI) stands on.
Pure numpy/scipy: no Qt, no torch. Follows Wu et al., "Generative Monoculture in LLMs"
(entropy in bits, mean pairwise cosine Σ_{i≠j} cos / (n(n−1)), wording measures) and adds
embedding-space measures (Vendi score and its orders q, coverage/precision, distinct_k), the
lexical set measures of Shaib et al. 2024 (compression ratio, n-gram diversity,
self-repetition, ROUGE-L homogenization, Self-BLEU; ``rouge-score`` and ``sacrebleu`` are
imported lazily) and distribution comparisons (Jensen–Shannon, missing modes).
docs/methods.md ("Measures from the field") states each variant.

Conventions: functions take plain Python sequences or numpy arrays; a set too small for a
measure (e.g. one text for a pairwise mean) gives ``nan`` rather than raising, so per-prompt
tables stay rectangular; aggregates skip ``nan``.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "Aggregate",
    "LexicalSet",
    "TestResult",
    "aggregate",
    "compression_ratio",
    "cosine_dispersion",
    "count_cosine",
    "coverage",
    "diff_of_means",
    "dispersion_ratio",
    "distinct_k",
    "distinct_k_from_similarity",
    "distinct_n",
    "entropy",
    "homogenization",
    "jaccard_dispersion",
    "jensen_shannon",
    "jensen_shannon_counts",
    "ks",
    "mann_whitney",
    "mean_pairwise_cosine",
    "mean_pairwise_jaccard",
    "missing_modes",
    "ngram_diversity",
    "pairwise_rouge_l",
    "perplexity_mask",
    "precision",
    "renyi_vendi",
    "self_bleu",
    "self_repetition",
    "std",
    "tokenize",
    "unigram_counts",
    "unigram_entropy",
    "vendi_score",
    "vendi_score_q",
    "vocabulary_size",
    "wasserstein",
]

FloatArray = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
ArrayLike = npt.ArrayLike


# -- helpers ---------------------------------------------------------------------------------
def _as_matrix(vectors: ArrayLike) -> FloatArray:
    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"expected a 2-D array of vectors (n, d), got shape {x.shape}")
    return x


def _unit_rows(x: FloatArray) -> FloatArray:
    """Rows scaled to length 1; zero rows (and rows with a nan) are zero (cosine with them is 0)."""
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
    return vendi_score_q(vectors, 1.0)


VENDI_ORDERS = (0.5, 1.0, 2.0, math.inf)  # the orders q the measure stage reports


def renyi_vendi(eigenvalues: ArrayLike, q: float = 1.0) -> FloatArray:
    """exp of the Rényi entropy of order q of each row of eigenvalues (batched on the last axis).

    Eigenvalues ≤ 1e-12 (numerical zeros and round-off negatives) count as 0 and each row is
    normalised to sum 1, giving p. Then, in nats: q = 1: −Σ p log p (Shannon);
    q = ∞: −log max p; q = 0: log(#{p > 0}); else log(Σ_{p>0} p^q) / (1 − q). Returns
    exp(H_q), an effective number of modes (1 ≤ value ≤ number of positive p), ``nan`` for a
    row without positive eigenvalues. Rényi entropies fall with q: small q weighs rare modes,
    q = ∞ only the dominant one (Pasarkar & Dieng, "Cousins of the Vendi score").
    """
    if q < 0:
        raise ValueError("q must be >= 0")
    eig = np.asarray(eigenvalues, dtype=np.float64)
    eig = np.where(eig > 1e-12, eig, 0.0)
    tot = eig.sum(axis=-1, keepdims=True)
    p = np.divide(eig, tot, out=np.zeros_like(eig), where=tot > 0)
    pos = p > 0
    safe = np.where(pos, p, 1.0)
    if q == 1:
        h = -(np.where(pos, p * np.log(safe), 0.0)).sum(axis=-1)
    elif math.isinf(q):
        h = -np.log(np.where(tot[..., 0] > 0, p.max(axis=-1), 1.0))
    elif q == 0:
        h = np.log(np.maximum(pos.sum(axis=-1), 1))
    else:
        h = np.log(np.where(pos, safe**q, 0.0).sum(axis=-1) + (tot[..., 0] <= 0)) / (1.0 - q)
    out: FloatArray = np.where(tot[..., 0] > 0, np.exp(h), np.nan)
    return out


def vendi_score_q(vectors: ArrayLike, q: float = 1.0) -> float:
    """Vendi score of order q with the cosine kernel (Friedman & Dieng 2023; Pasarkar & Dieng).

    K = the n×n cosine similarity matrix of the rows (rows scaled to length 1; a zero row has
    similarity 0 with everything), λ = eigenvalues of K/n, computed from the d×d dual UᵀU/n
    when n > d (same non-zero spectrum). VS_q = exp(H_q(λ)) with H_q the Rényi entropy of
    order q in nats (`renyi_vendi`: λ ≤ 1e-12 dropped, renormalised to sum 1): q = 1 is
    `vendi_score`; q = ∞ is 1 / λ_max; any q ≥ 0 is accepted, the stage reports
    q ∈ (0.5, 1, 2, ∞). 1 when all texts are the same, n when all are orthogonal, for every q;
    VS_q falls with q. ``nan`` for no vectors. Agrees with the ``vendi-score`` package 0.0.3's
    ``score_K(K, q, normalize=True)`` and ``score_dual(X, q)`` (its ``score_X`` ignores q).
    """
    x = _as_matrix(vectors)
    n = x.shape[0]
    if n == 0:
        return math.nan
    u = _unit_rows(x)
    small = u.T @ u if u.shape[1] < n else u @ u.T
    return float(renyi_vendi(np.linalg.eigvalsh(small / n), q))


# -- functional distinctness (NoveltyBench) --------------------------------------------------
# Default cosine threshold for "the same answer" with all-MiniLM-L6-v2 embeddings; how it was
# chosen is in `distinct_k`'s docstring and docs/methods.md.
DISTINCT_THRESHOLD = 0.7
DISTINCT_METHODS = ("single-link", "greedy", "text")
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def _normalise_text(text: str) -> str:
    """NFKC, case-folded, every run of non-alphanumerics (punctuation, spaces) -> one space."""
    import unicodedata

    return _NON_WORD.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def distinct_k(items: ArrayLike | Sequence[str], threshold: float = DISTINCT_THRESHOLD,
               method: str = "single-link") -> int:
    """Number of equivalence classes among k texts (NoveltyBench's distinct_k, Zhang et al. 2025).

    ``method``:

    - ``"single-link"`` (default; ``items`` = (k, d) embedding vectors): two texts are
      equivalent when their cosine is ≥ ``threshold``; classes are the connected components
      of that graph (single-link grouping: a chain of close pairs is one class).
    - ``"greedy"`` (vectors): NoveltyBench's partition rule with cosine as the equivalence:
      texts in order, each joins the first class whose first member it is equivalent to, else
      opens a new class. Never fewer classes than single-link (a chain a~b~c with a≁c is
      one class by single-link, two by greedy).
    - ``"text"`` (``items`` = strings): exact duplicates after normalisation (NFKC, case
      folding, punctuation and whitespace runs collapsed to one space); ``threshold`` unused.

    The default threshold 0.7 (``DISTINCT_THRESHOLD``) is for all-MiniLM-L6-v2 vectors
    (`benchmarks/distinct_threshold.py`): 12 of 14 hand-written paraphrase pairs have cosine
    ≥ 0.7 (range 0.47–0.97), none of 12 pairs of different answers to the same request does
    (max 0.64), and 0.57 % of the 17,850 pairs of human critic snippets of the same film (30
    films × 35 snippets, demo corpus) do (0.8 would keep only 7 of 14 paraphrases).
    NoveltyBench itself uses a trained equivalence classifier; this is an embedding proxy and
    its counts are comparable only at the same threshold and embedding model.
    0 for no texts.
    """
    if method not in DISTINCT_METHODS:
        raise ValueError(f"method must be one of {DISTINCT_METHODS}, got {method!r}")
    if method == "text":
        return len({_normalise_text(str(t)) for t in items})  # type: ignore[union-attr]
    x = _as_matrix(items)
    k = x.shape[0]
    if k == 0:
        return 0
    u = _unit_rows(x)
    sim = u @ u.T
    return int(distinct_k_from_similarity(sim, np.arange(k)[None, :], threshold, method)[0])


def distinct_k_from_similarity(sim: ArrayLike, idx: ArrayLike,
                               threshold: float = DISTINCT_THRESHOLD,
                               method: str = "single-link") -> npt.NDArray[np.int64]:
    """`distinct_k` of many subsets at once: one count per row of ``idx``.

    ``sim`` is a precomputed (n, n) similarity matrix (e.g. the cosine Gram matrix of one
    prompt's texts), ``idx`` a (draws, m) array of positions (a subset per row, as the
    measure stage draws them). Single-link: for m ≤ 64 the transitive closure of the edges
    sim ≥ threshold by repeated squaring of each draw's adjacency (batched matmul), counting
    each class at its first member; for larger m the edges of every draw go into one
    block-diagonal sparse graph, scipy's ``connected_components`` labels it once and the
    distinct labels are counted per draw. Greedy: one pass over the m positions, vectorised
    over draws. The diagonal is ignored (a text is always in its own class).
    """
    if method not in ("single-link", "greedy"):
        raise ValueError("method must be 'single-link' or 'greedy' for a similarity matrix")
    s = np.asarray(sim, dtype=np.float64)
    ix = np.asarray(idx, dtype=np.int64)
    if ix.ndim != 2:
        raise ValueError(f"idx must be (draws, m), got shape {ix.shape}")
    b, m = ix.shape
    if m == 0:
        return np.zeros(b, dtype=np.int64)
    if method == "greedy":
        rep = np.zeros((b, m), dtype=bool)
        rep[:, 0] = True
        for j in range(1, m):
            close = s[ix[:, j:j + 1], ix[:, :j]] >= threshold  # (b, j)
            rep[:, j] = ~(close & rep[:, :j]).any(axis=1)
        out: npt.NDArray[np.int64] = rep.sum(axis=1).astype(np.int64)
        return out
    if m <= 64:  # small subsets: reachability by repeated squaring, one batched matmul each
        reach = (s[ix[:, :, None], ix[:, None, :]] >= threshold).astype(np.float32)
        reach[:, np.arange(m), np.arange(m)] = 1.0
        for _ in range(max(1, math.ceil(math.log2(m)))):
            reach = (reach @ reach > 0).astype(np.float32)
        # a class is counted once, at its first member: i is first when no j < i reaches it
        first = reach.argmax(axis=2) == np.arange(m)
        small: npt.NDArray[np.int64] = first.sum(axis=1).astype(np.int64)
        return small
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if m <= 256 or b > 1:
        adj = s[ix[:, :, None], ix[:, None, :]] >= threshold  # (b, m, m)
        dd, ii, jj = np.nonzero(adj)
    else:  # one large subset: avoid the fancy-indexed copy
        sub = s[np.ix_(ix[0], ix[0])] >= threshold
        ii, jj = np.nonzero(sub)
        dd = np.zeros_like(ii)
    keep = ii < jj
    rows, cols = dd[keep] * m + ii[keep], dd[keep] * m + jj[keep]
    graph = coo_matrix((np.ones(rows.size, dtype=np.int8), (rows, cols)), shape=(b * m, b * m))
    _, labels = connected_components(graph, directed=False)
    lab = np.sort(labels.reshape(b, m), axis=1)
    counts: npt.NDArray[np.int64] = (1 + (np.diff(lab, axis=1) != 0).sum(axis=1)).astype(
        np.int64)
    return counts


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


DIVERSITY_VERSION = "0.3.1"  # the `diversity` package (Shaib et al.) whose definitions are matched


def _gzip(raw: bytes, level: int = 9) -> bytes:
    import gzip

    return gzip.compress(raw, compresslevel=level, mtime=0)


def compression_ratio(texts: Iterable[str], algorithm: str = "gzip",
                      variant: str = "single") -> float:
    """Compression ratio (Shaib et al. 2024): original size / compressed size, higher = more
    repetitive.

    Original: the UTF-8 bytes of the texts joined by one space (as ``diversity`` 0.3.1 joins
    them). ``algorithm``: ``"gzip"`` (default, level 9: the paper's) or ``"xz"`` (lzma, xz
    container, preset 6). ``variant="single"`` (default) compresses once:
    len(raw) / len(gzip(raw)). ``variant="diversity-0.3.1"`` reproduces that package's
    number exactly (unrounded): it writes ``gzip.compress(raw)`` into a ``GzipFile`` named
    ``compressed.gz``, i.e. compresses twice and adds a second header with the file name (~34
    bytes more in the denominator; a few % on one prompt's texts). ``nan`` for empty input.
    """
    raw = " ".join(texts).encode("utf-8")
    if not raw:
        return math.nan
    if algorithm == "xz":
        import lzma

        return len(raw) / len(lzma.compress(raw))
    if algorithm != "gzip":
        raise ValueError("algorithm must be 'gzip' or 'xz'")
    packed = _gzip(raw)
    if variant == "diversity-0.3.1":
        import gzip
        import io

        buf = io.BytesIO()
        with gzip.GzipFile("compressed.gz", "wb", compresslevel=9, fileobj=buf,
                           mtime=0) as f:
            f.write(packed)
        return len(raw) / len(buf.getvalue())
    if variant != "single":
        raise ValueError("variant must be 'single' or 'diversity-0.3.1'")
    return len(raw) / len(packed)


def ngram_diversity(texts: Sequence[str], n_max: int = 4) -> float:
    """N-gram diversity (Shaib et al. 2024; ``diversity`` 0.3.1 ``ngram_diversity_score``).

    Σ_{n=1..n_max} (unique n-grams / all n-grams) over the texts joined by one space and split
    on single spaces (tokens keep their punctuation and case; n-grams run across text
    boundaries, as in the package). Between 0 and n_max; n_max = 4 is the package's and the
    paper's. Unrounded (the package rounds to 3 places). ``nan`` when there are fewer than
    n_max tokens.
    """
    toks = " ".join(texts).split(" ")
    if len(toks) < n_max or not any(toks):
        return math.nan
    score = 0.0
    for n in range(1, n_max + 1):
        grams = list(zip(*(toks[i:] for i in range(n)), strict=False))
        score += len(set(grams)) / len(grams)
    return score


def self_repetition(texts: Sequence[str], n: int = 4) -> float:
    """Self-repetition score (Salkar et al. 2022; ``diversity`` 0.3.1
    ``self_repetition_score``): how often a text's long n-grams appear in the other texts.

    Tokens: whitespace split (``str.split()``). For text i with its set G_i of distinct
    n-grams (n = 4): N_i = Σ_{g∈G_i} (number of other texts whose set contains g);
    score = mean_i ln(N_i + 1). 0 when no 4-gram is shared; higher = more repetition across
    texts. ``nan`` for no texts.
    """
    if not texts:
        return math.nan
    docs = []
    for t in texts:
        toks = t.split()
        docs.append({" ".join(toks[i:i + n]) for i in range(len(toks) - n + 1)})
    df: Counter[str] = Counter(g for d in docs for g in d)
    return float(np.mean([math.log(sum(df[g] for g in d) - len(d) + 1) for d in docs]))


_ROUGE_TOKEN = re.compile(r"[a-z0-9]+")  # rouge-score 0.1.2's tokens after lower()


def _lcs_length(masks: dict[str, int], m: int, b: Sequence[str]) -> int:
    """Length of the longest common subsequence of a (given as its match masks: token -> bit
    set of its positions, m = len(a)) and b: the bit-parallel algorithm of Allison & Dix /
    Hyyrö (2004), one big-integer step per token of b instead of an m × len(b) table."""
    full = (1 << m) - 1
    v = full
    for tok in b:
        u = v & masks.get(tok, 0)
        v = ((v + u) | (v - u)) & full
    return m - v.bit_count()


def pairwise_rouge_l(texts: Sequence[str], use_stemmer: bool = False) -> FloatArray:
    """(n, n) matrix of ROUGE-L F1 between every pair of texts, as ``rouge-score`` 0.1.2's
    ``RougeScorer(['rougeL'])`` scores them: its ``DefaultTokenizer`` (lower-cased
    alphanumeric tokens, optional Porter stemming), LCS = longest common subsequence of the
    tokens, P = LCS/len(b), R = LCS/len(a), F1 = 2PR/(P + R) (symmetric; 0 when either text
    has no tokens); diagonal 1. Each text is tokenised once and the LCS is computed
    bit-parallel (`_lcs_length`) rather than by rouge-score's Python table: same numbers
    (tested), ~50× faster on long texts. The measure stage subsets it like a Gram matrix."""
    if use_stemmer:
        from rouge_score import tokenizers

        tok = tokenizers.DefaultTokenizer(use_stemmer=True)
        toks = [tok.tokenize(t) for t in texts]
    else:  # rouge-score's tokenizer without its import of nltk (seconds): same tokens
        toks = [_ROUGE_TOKEN.findall(t.lower()) for t in texts]
    n = len(texts)
    out = np.eye(n)
    for i in range(n):
        a = toks[i]
        masks: dict[str, int] = {}
        for pos, t in enumerate(a):
            masks[t] = masks.get(t, 0) | (1 << pos)
        for j in range(i + 1, n):
            b = toks[j]
            if not a or not b:
                continue
            lcs = _lcs_length(masks, len(a), b)
            p, r = lcs / len(b), lcs / len(a)
            out[i, j] = out[j, i] = 2 * p * r / (p + r) if p + r > 0 else 0.0
    return out


def homogenization(texts: Sequence[str], use_stemmer: bool = False) -> float:
    """Homogenization score with ROUGE-L (Padmakumar & He 2023; ``diversity`` 0.3.1
    ``homogenization_score(measure='rougel')``): the mean ROUGE-L F1 over ordered pairs i≠j
    of the texts (`pairwise_rouge_l`, via ``rouge-score``). Higher = more alike.

    One deliberate difference: the package returns 1 when every pair scores 0 (its "all
    identical" special case fires on all-different texts); this returns 0 there.
    ``nan`` for fewer than two texts.
    """
    n = len(texts)
    if n < 2:
        return math.nan
    mat = pairwise_rouge_l(texts, use_stemmer)
    return float((mat.sum() - n) / (n * (n - 1)))


@functools.lru_cache(maxsize=1 << 16)
def _bleu_ngrams(text: str) -> tuple[Counter[tuple[str, ...]], int]:
    """1..4-gram counts and length of a text after sacrebleu's 13a tokenisation (cached: the
    measure stage scores many subsets of the same texts)."""
    from sacrebleu.metrics.helpers import extract_all_word_ngrams
    from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

    tokens = Tokenizer13a()(text.rstrip())  # type: ignore[no-untyped-call]
    grams, length = extract_all_word_ngrams(tokens, 1, 4)
    return grams, int(length)


def self_bleu(texts: Sequence[str]) -> float:
    """Self-BLEU (Zhu et al. 2018, Texygen) with ``sacrebleu`` 2.6.0: the mean over texts of
    the sentence BLEU of text i against all the other texts as references, / 100.

    Exactly ``sacrebleu.sentence_bleu(text_i, others).score`` (BLEU-4, 13a tokenisation,
    case-sensitive, exponential smoothing, effective order, closest reference length), but
    each text is tokenised once: sacrebleu's ``Tokenizer13a`` and
    ``extract_all_word_ngrams``, reference counts = max over the other texts, the score by
    ``BLEU.compute_bleu``. In [0, 1], higher = more alike. ``nan`` for fewer than two texts.
    """
    from sacrebleu.metrics.bleu import BLEU

    n = len(texts)
    if n < 2:
        return math.nan
    prep = [_bleu_ngrams(t) for t in texts]
    # per n-gram over the set: the largest count, who has it, and the second largest, so that
    # "max over the other texts" is one lookup per n-gram of text i
    best: dict[tuple[str, ...], tuple[int, int, int]] = {}
    for j, (grams, _) in enumerate(prep):
        for g, c in grams.items():
            top, who, second = best.get(g, (0, -1, 0))
            if c > top:
                best[g] = (c, j, top)
            elif c > second:
                best[g] = (top, who, c)
    lens = [length for _, length in prep]
    total_score = 0.0
    for i, (hyp, hyp_len) in enumerate(prep):
        # closest reference length, ties to the shorter (sacrebleu's rule)
        ref_len = min((r for j, r in enumerate(lens) if j != i),
                      key=lambda r: (abs(hyp_len - r), r))
        correct, total = [0] * 4, [0] * 4
        for g, c in hyp.items():
            top, who, second = best[g]
            total[len(g) - 1] += c
            correct[len(g) - 1] += min(c, second if who == i else top)
        total_score += BLEU.compute_bleu(correct, total, hyp_len, ref_len,
                                         smooth_method="exp", effective_order=True).score
    return total_score / n / 100.0


def _text_ngrams(token_lists: Sequence[Sequence[str]], orders: Sequence[int]
                 ) -> list[tuple[I64, I64, I64]]:
    """Per text: the ids of its distinct n-grams (n in `orders`, ids shared by all texts),
    how often each occurs in it, and each one's order − 1. Word ids are packed n to an int64
    key (base = vocabulary + 1, ids from 1, so keys of different orders differ) and the keys
    turned into ids with one sort; a vocabulary too large to pack falls back to tuples."""
    vocab: dict[str, int] = {}
    arrs = [np.array([vocab.setdefault(w, len(vocab) + 1) for w in tk], dtype=np.int64)
            for tk in token_lists]
    base = len(vocab) + 1
    empty = np.zeros(0, dtype=np.int64)
    if base ** max(orders) >= 2**62:
        ids: dict[tuple[str, ...], int] = {}
        out = []
        for tk in token_lists:
            grams = Counter(tuple(tk[i:i + n]) for n in orders for i in range(len(tk) - n + 1))
            out.append((np.array([ids.setdefault(g, len(ids)) for g in grams], dtype=np.int64),
                        np.array(list(grams.values()), dtype=np.int64),
                        np.array([len(g) - 1 for g in grams], dtype=np.int64)))
        return out
    keys, owner = [], []
    for t, a in enumerate(arrs):
        for n in orders:
            if a.size < n:
                continue
            k = a[: a.size - n + 1].copy()
            for j in range(1, n):
                k += a[j: a.size - n + 1 + j] * base**j
            keys.append(k)
            owner.append(np.full(k.size, t, dtype=np.int64))
    if not keys:
        return [(empty, empty, empty) for _ in token_lists]
    key = np.concatenate(keys)
    uniq, inv = np.unique(key, return_inverse=True)
    order = np.searchsorted(np.array([base**n for n in range(1, max(orders) + 1)]), uniq,
                            side="right")  # key < base**n  <=>  order ≤ n
    pair, counts = np.unique(np.concatenate(owner) * uniq.size + inv.ravel(), return_counts=True)
    text, gid = pair // uniq.size, pair % uniq.size
    bounds = np.searchsorted(text, np.arange(len(token_lists) + 1))
    return [(gid[lo:hi], counts[lo:hi].astype(np.int64), order[gid[lo:hi]].astype(np.int64))
            for lo, hi in itertools.pairwise(bounds.tolist())]


_DENSE_MAX = 4_000_000  # Self-BLEU: (draws x distinct n-grams) cells before sorting instead


class LexicalSet:
    """One set of texts (a prompt's source or run texts) prepared once for the lexical set
    measures on many subsets, as the measure stage draws them.

    ``stats(idx)`` takes a (draws, m) array of positions and returns, per draw, exactly what
    the one-set functions return on ``[texts[i] for i in row]`` (tested):
    ``compression_ratio``, ``ngram_diversity``, ``self_repetition``, ``self_bleu`` and
    ``homogenization`` (mean of the `pairwise_rouge_l` matrix, computed once, on first use).
    Tokens and n-grams are turned into integer ids once; each draw is then a few numpy
    operations (self-BLEU: sacrebleu's clipped counts and ``BLEU.compute_bleu`` formula with
    exponential smoothing and effective order, vectorised over the texts of the draw).
    """

    def __init__(self, texts: Sequence[str], rouge: bool = True) -> None:
        from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

        self.texts = list(texts)
        self.raw = [t.encode("utf-8") for t in self.texts]
        self.want_rouge = rouge
        self._rouge: FloatArray | None = None
        # ngram_diversity: the single-space tokens of each text (their concatenation over a
        # subset is the package's ' '.join(...).split(' '))
        words: dict[str, int] = {}  # own id space: n-gram keys pack n word ids in an int64
        self.space = [np.array([words.setdefault(w, len(words)) for w in t.split(" ")],
                               dtype=np.int64) for t in self.texts]
        self.n_words = len(words)
        self.has_word = [any(t.split(" ")) for t in self.texts]
        # self_repetition: each text's distinct whitespace 4-grams (ids)
        self.rep4 = [g for g, _, _ in _text_ngrams([t.split() for t in self.texts], (4,))]
        # self-BLEU: each text's 1..4-gram ids, counts, orders and length (13a tokens, as
        # sacrebleu's extract_all_word_ngrams(tokenized, 1, 4))
        tok = Tokenizer13a()  # type: ignore[no-untyped-call]
        toks = [tok(t.rstrip()).split() for t in self.texts]
        self.bleu: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64],
                              npt.NDArray[np.int64], int]] = [
            (g, c, o, len(tk)) for (g, c, o), tk in zip(
                _text_ngrams(toks, (1, 2, 3, 4)), toks, strict=True)]

    @property
    def rouge(self) -> FloatArray:
        if self._rouge is None:
            self._rouge = pairwise_rouge_l(self.texts)
        return self._rouge

    def stats(self, idx: npt.NDArray[np.int64]) -> dict[str, FloatArray]:
        idx = np.asarray(idx, dtype=np.int64)
        b, m = idx.shape
        out: dict[str, FloatArray] = {}
        cr = np.full(b, np.nan)
        for d, row in enumerate(idx.tolist()):
            raw = b" ".join(self.raw[i] for i in row)
            if raw:
                cr[d] = len(raw) / len(_gzip(raw))
        out["compression_ratio"] = cr
        out["ngram_diversity"] = self._ngram_diversity(idx)
        out["self_repetition"] = self._self_repetition(idx) if m else np.full(b, np.nan)
        out["self_bleu"] = self._self_bleu(idx) if m >= 2 else np.full(b, np.nan)
        if self.want_rouge:
            if m >= 2:
                r = self.rouge[idx[:, :, None], idx[:, None, :]]
                out["homogenization"] = (r.sum(axis=(1, 2)) - m) / (m * (m - 1))
            else:
                out["homogenization"] = np.full(b, np.nan)
        return out

    @staticmethod
    def _flat(parts: list[npt.NDArray[np.int64]]) -> tuple[npt.NDArray[np.int64], I64, I64]:
        """Per-text arrays as one flat array with starts and lengths (CSR)."""
        lens = np.array([p.size for p in parts], dtype=np.int64)
        starts = np.r_[0, np.cumsum(lens)[:-1]].astype(np.int64)
        flat = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        return flat.astype(np.int64), starts, lens

    @staticmethod
    def _gather(starts: I64, lens: I64, idx: I64) -> tuple[I64, I64]:
        """Positions in a flat array of the texts idx (draw-major) and the slot (draw·m + k)
        each element belongs to."""
        sel_len = lens[idx].ravel()
        sel_start = starts[idx].ravel()
        total = int(sel_len.sum())
        slot = np.repeat(np.arange(sel_len.size, dtype=np.int64), sel_len)
        offset = np.r_[0, np.cumsum(sel_len)[:-1]].astype(np.int64)
        pos = np.arange(total, dtype=np.int64) - offset[slot] + sel_start[slot]
        return pos, slot

    def _prepare_flat(self) -> None:
        if hasattr(self, "_space_csr"):
            return
        self._space_csr = self._flat(self.space)
        self._rep_csr = self._flat(self.rep4)
        self._bleu_g = self._flat([p[0] for p in self.bleu])
        self._bleu_c = np.concatenate([p[1] for p in self.bleu]) if self.bleu else \
            np.zeros(0, np.int64)
        self._bleu_o = np.concatenate([p[2] for p in self.bleu]) if self.bleu else \
            np.zeros(0, np.int64)
        self._bleu_len = np.array([p[3] for p in self.bleu], dtype=np.float64)

    def _ngram_diversity(self, idx: I64) -> FloatArray:
        self._prepare_flat()
        b, m = idx.shape
        flat, starts, lens = self._space_csr
        pos, slot = self._gather(starts, lens, idx)
        seq, draw = flat[pos], slot // max(m, 1)
        size = np.bincount(draw, minlength=b)
        has_word = np.array(self.has_word, dtype=bool)[idx].any(axis=1) if m else \
            np.zeros(b, dtype=bool)
        score = np.zeros(b)
        base = self.n_words + 1
        for n in range(1, 5):
            if base**n >= 2**62:  # too many ids to pack n in one int64: per draw
                return np.array([self._ngram_diversity_slow(row) for row in idx.tolist()])
            if seq.size < n:
                continue
            win = np.lib.stride_tricks.sliding_window_view(seq, n)
            dw = draw[: win.shape[0]]
            ok = dw == draw[n - 1:]
            keys = (win[ok] * (base ** np.arange(n, dtype=np.int64))).sum(axis=1)
            dk = dw[ok]
            if base**n * b < 2**62:  # (key, draw) in one int64: one sort
                k = np.sort(keys * b + dk)  # (np.unique hashes: slower here)
                first = np.r_[True, k[1:] != k[:-1]] if k.size else np.zeros(0, dtype=bool)
                uniq = np.bincount(k[first] % b, minlength=b)
            else:
                order = np.lexsort((keys, dk))
                ks, ds = keys[order], dk[order]
                first = np.r_[True, (ks[1:] != ks[:-1]) | (ds[1:] != ds[:-1])] if ks.size \
                    else np.zeros(0, dtype=bool)
                uniq = np.bincount(ds[first], minlength=b)
            tot = np.bincount(dk, minlength=b)
            score += np.divide(uniq, tot, out=np.zeros(b), where=tot > 0)
        out: FloatArray = np.where((size >= 4) & has_word, score, np.nan)
        return out

    def _ngram_diversity_slow(self, row: list[int]) -> float:
        return ngram_diversity([self.texts[i] for i in row])

    def _self_repetition(self, idx: I64) -> FloatArray:
        self._prepare_flat()
        b, m = idx.shape
        flat, starts, lens = self._rep_csr
        pos, slot = self._gather(starts, lens, idx)
        g, draw = flat[pos], slot // m
        sizes = lens[idx].ravel().astype(np.float64)
        if g.size == 0:
            return np.zeros(b)
        order = np.argsort(draw * (int(g.max()) + 1) + g)  # by draw, then n-gram
        gs, ds = g[order], draw[order]
        first = np.r_[True, (gs[1:] != gs[:-1]) | (ds[1:] != ds[:-1])]
        grp = np.cumsum(first) - 1
        counts = np.bincount(grp)[grp]  # texts of the draw holding each element's n-gram
        n_i = np.bincount(slot[order], weights=counts, minlength=b * m) - sizes
        out: FloatArray = np.log(n_i + 1).reshape(b, m).mean(axis=1)
        return out

    def _self_bleu(self, idx: I64) -> FloatArray:
        self._prepare_flat()
        b, m = idx.shape
        flat, starts, lens = self._bleu_g
        pos, slot = self._gather(starts, lens, idx)
        g, c, o = flat[pos], self._bleu_c[pos], self._bleu_o[pos]
        draw = slot // m
        correct = np.zeros(b * m * 4)
        total = np.zeros(b * m * 4)
        if g.size and b * (int(g.max()) + 1) <= _DENSE_MAX:
            # per (draw, n-gram) in dense arrays: the largest count, how many texts hold it,
            # and the largest below it; a text's reference count (the most the other texts of
            # the draw have) is the largest, unless it alone holds it: then the one below
            width = int(g.max()) + 1
            key = draw * width + g
            top = np.zeros(b * width, dtype=np.int64)
            np.maximum.at(top, key, c)
            at_top = c == top[key]
            holders = np.bincount(key[at_top], minlength=b * width)
            below = np.zeros(b * width, dtype=np.int64)
            np.maximum.at(below, key[~at_top], c[~at_top])
            ref = np.where(at_top & (holders[key] == 1), below[key], top[key])
            cell = slot * 4 + o
            correct = np.bincount(cell, weights=np.minimum(c, ref), minlength=b * m * 4)
            total = np.bincount(cell, weights=c, minlength=b * m * 4)
        elif g.size:
            # the same by sorting (many n-grams): by draw, n-gram, then count, largest first
            top_c = int(c.max()) + 1
            order = np.argsort((draw * (int(g.max()) + 1) + g) * top_c + (top_c - 1 - c))
            gs, cs, ss, ds = g[order], c[order], slot[order], draw[order]
            first = np.r_[True, (gs[1:] != gs[:-1]) | (ds[1:] != ds[:-1])]
            start = np.flatnonzero(first)
            grp = np.cumsum(first) - 1
            top, who = cs[start], ss[start]
            has2 = np.r_[start[1:], gs.size] - start > 1
            second = np.where(has2, cs[np.minimum(start + 1, gs.size - 1)], 0)
            ref = np.where(ss == who[grp], second[grp], top[grp])
            cell = ss * 4 + o[order]
            correct = np.bincount(cell, weights=np.minimum(cs, ref), minlength=b * m * 4)
            total = np.bincount(cell, weights=cs, minlength=b * m * 4)
        correct, total = correct.reshape(b * m, 4), total.reshape(b * m, 4)
        ln = self._bleu_len[idx]  # (b, m)
        # closest other length in the draw, ties to the shorter
        key = np.abs(ln[:, :, None] - ln[:, None, :]) * (ln.max() + 1) + ln[:, None, :]
        key[:, np.arange(m), np.arange(m)] = np.inf
        ref_len = np.take_along_axis(ln, np.argmin(key, axis=2), axis=1).ravel()
        sys_len = ln.ravel()
        short = sys_len < ref_len
        bp = np.where(short, np.exp(1 - ref_len / np.where(sys_len > 0, sys_len, 1.0)), 1.0)
        bp = np.where(short & (sys_len == 0), 0.0, bp)
        valid = total > 0
        smooth = 2.0 ** np.cumsum(valid & (correct == 0), axis=1)
        safe = np.where(valid, total, 1.0)
        prec = np.where(correct > 0, 100 * correct / safe, 100 / (smooth * safe))
        eff = np.maximum(valid.sum(axis=1), 1)
        logs = np.where(valid, np.log(prec), 0.0).sum(axis=1) / eff
        score = np.where(correct.sum(axis=1) > 0, bp * np.exp(logs), 0.0)
        out: FloatArray = score.reshape(b, m).mean(axis=1) / 100.0
        return out


# -- distributions: source vs generated labels -----------------------------------------------
def jensen_shannon(labels_a: Iterable[Hashable], labels_b: Iterable[Hashable],
                   base: float = 2) -> float:
    """Jensen–Shannon divergence between two label distributions (not the distance).

    P, Q = relative frequencies over the union of categories, M = (P + Q)/2;
    JSD = H(M) − (H(P) + H(Q))/2 = ½KL(P‖M) + ½KL(Q‖M), in bits by default (0 ≤ JSD ≤ 1).
    Equals ``scipy.spatial.distance.jensenshannon(p, q, base) ** 2``. Plug-in estimate: it is
    biased upward for small samples (two samples of one distribution score > 0), so compare
    at matched n. ``nan`` when either side is empty.
    """
    ca, cb = Counter(labels_a), Counter(labels_b)
    if not ca or not cb:
        return math.nan
    cats = list(ca.keys() | cb.keys())
    p = np.array([ca.get(c, 0) for c in cats], dtype=np.float64)
    q = np.array([cb.get(c, 0) for c in cats], dtype=np.float64)
    p, q = p / p.sum(), q / q.sum()
    mid = (p + q) / 2

    def h(x: FloatArray) -> float:
        x = x[x > 0]
        return float(-(x * np.log(x)).sum())

    return max(h(mid) - (h(p) + h(q)) / 2, 0.0) / math.log(base)


def jensen_shannon_counts(counts_a: ArrayLike, counts_b: ArrayLike, base: float = 2
                          ) -> FloatArray:
    """`jensen_shannon` from category counts, batched: rows of (…, K) count arrays over the
    same K categories (e.g. the per-draw label counts of the measure stage's subsets) give one
    JSD per row; ``nan`` where a row has no counts."""
    a = np.asarray(counts_a, dtype=np.float64)
    b = np.asarray(counts_b, dtype=np.float64)
    ta, tb = a.sum(axis=-1, keepdims=True), b.sum(axis=-1, keepdims=True)
    p = np.divide(a, ta, out=np.zeros_like(a), where=ta > 0)
    q = np.divide(b, tb, out=np.zeros_like(b), where=tb > 0)

    def h(x: FloatArray) -> FloatArray:
        out: FloatArray = -np.where(x > 0, x * np.log(np.where(x > 0, x, 1.0)), 0.0).sum(
            axis=-1)
        return out

    jsd = np.maximum(h((p + q) / 2) - (h(p) + h(q)) / 2, 0.0) / math.log(base)
    ok = (ta[..., 0] > 0) & (tb[..., 0] > 0)
    res: FloatArray = np.where(ok, jsd, np.nan)
    return res


def missing_modes(source_labels: Iterable[Hashable], run_labels: Iterable[Hashable],
                  min_share: float = 0.1) -> list[tuple[Hashable, float]]:
    """Categories (topics, clusters) that hold ≥ ``min_share`` of the source texts and none of
    the run's: [(category, source share)], largest share first (ties by category as text).
    ``None`` labels are ignored on both sides."""
    src = Counter(lab for lab in source_labels if lab is not None)
    run = {lab for lab in run_labels if lab is not None}
    total = sum(src.values())
    if not total:
        return []
    out = [(c, k / total) for c, k in src.items() if k / total >= min_share and c not in run]
    return sorted(out, key=lambda t: (-t[1], str(t[0])))


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
