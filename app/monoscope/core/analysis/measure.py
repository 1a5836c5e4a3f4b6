"""Measure stage: the one place that turns attributes and embeddings into statistics.

For every prompt it measures the source texts and each run's generated texts, then compares
them **like for like**: on the prompts a run covers and at equal sample size per prompt. A set
statistic that depends on n (entropy, distinct counts, Vendi, standard deviation, coverage…) is
measured on the larger side by repeated random subsets of the smaller side's size (``draws``
seeded draws, rarefaction); the spread of the draws is stored and enters the confidence
intervals. Next to each run's monoculture index it stores the *human baseline*: the index
that a subsample of people scores against the people of the same prompt at the same n.

Results are written to the study (`measure_sets` / `measurements`, docs/measure-schema.md),
keyed by the request's parameters and a fingerprint of the inputs: an unchanged study is read
back, a changed one is measured again. Views, the report and `replicate` read these rows;
nothing else computes a statistic. docs/methods.md states every estimator.
"""

from __future__ import annotations

import functools
import json
import math
import time
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from monoscope.core.analysis import metrics
from monoscope.core.errors import MonoscopeError
from monoscope.core.store import Study
from monoscope.core.store import attributes as attributes_repo
from monoscope.core.store import datasets as datasets_repo
from monoscope.core.store import embeddings as embeddings_repo
from monoscope.core.store import measurements as repo
from monoscope.core.store import runs as runs_repo
from monoscope.core.store import scores as scores_repo
from monoscope.core.store.frames import (
    DEFAULT_BACKEND,
    DEFAULT_EMBEDDING,
    load_attributes,
    load_embeddings,
    load_texts,
    resolve_dataset,
)
from monoscope.core.tasks import TaskState

SCHEMA = "monoscope.measure/2"
VERSION = "2.4"  # bump when an estimator changes: stored sets of another version are redone
EMBEDDING = "embedding"  # pseudo-attribute name for the embedding measures
WORDING = "wording"  # pseudo-attribute of the corpus-level wording measures
LEXICAL = "lexical"  # pseudo-attribute of the lexical set measures (Shaib et al.)
LOGPROB = "logprob"  # pseudo-attribute of the model's own log-probabilities (scoring stage)
LOW_QUANTILE = 0.05  # "human texts the model would not produce": below this of its samples
GATE = "|pass"  # suffix of an attribute measured among passing code solutions only (or texts
# passing the text gate)
JUDGE = "text.judge"  # the LLM judge's verdict on a text (label pass / fail)
SOURCE = "source"
SET_ATTRIBUTES = ("code.algorithms", "code.data_structures")
BINARY = frozenset({"POSITIVE", "NEGATIVE"})
# Which statistic is the dispersion behind the monoculture index, by attribute kind.
DISPERSION = {"categorical": "entropy", "numeric": "std", "set": "jaccard_dispersion",
              "embedding": "cosine_dispersion"}
# Accumulation curves: dispersion at these n (and the set's own size).
ACC_GRID = (2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32, 40, 48, 64, 96, 128)
ACC_DRAWS = 50
CORPUS_DRAWS = 50
COVERAGE_DRAWS = 50  # pairs of subsets behind coverage / precision
LEXICAL_DRAWS = 50  # subsample draws behind the matched lexical measures (costlier)
LEXICAL_ROUGE_MAX = 300  # homogenization (pairwise ROUGE-L) only on sets up to this size
EMBED_CHUNK = 1 << 22  # elements of a (draws, m, max(m, d)) block in `Pool.stats` (32 MB)
HIVEMIND_DRAWS = 50  # random splits behind a group's own (diagonal) cross-set cosine
MISSING_SHARE = 0.10  # a source category holding >= this share of a prompt's texts is a mode
MISSING_MODE_ATTRIBUTES = ("topic",)  # attributes whose categories are modes

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


class MeasureError(MonoscopeError):
    """A measure request names runs or attributes the study does not have."""


@dataclass(frozen=True)
class MeasureRequest:
    dataset: str | None = None
    runs: tuple[str, ...] = ()  # run ids or labels; empty = every run of the dataset
    attributes: tuple[str, ...] = ()  # empty = every attribute present (+ embedding)
    ppl_max: float | None = None  # the paper's filter: keep generations with 0 < ppl <= ppl_max
    embedding_model: str | None = None  # None: MiniLM/torch when present, else the most common
    backend: str | None = None
    coverage_k: int = 5
    wording: bool = True
    n_boot: int = 1000
    draws: int = 200  # subsample draws for like-for-like n
    entropy: str = "plugin"  # entropy behind the index: "plugin" (the paper's) | "miller-madow"
    accumulation: bool = True
    lexical: bool = True  # compression ratio, n-gram diversity, self-repetition, ... (costlier)
    missing_share: float = MISSING_SHARE  # min share of a prompt's human texts to be a mode
    quality_gate: bool = True  # code: every dispersion also among passing solutions only
    # text: the same "|pass" rows among texts that pass an optional gate (off by default):
    # generated texts with 0 < perplexity <= gate_ppl_max (human texts have no perplexity and
    # pass) and/or texts the LLM judge labels "pass" (`text.judge`, source and generated)
    gate_ppl_max: float | None = None
    gate_judge: bool = False
    seed: int = 0
    force: bool = False  # measure again even when the stored set is current

    def params(self) -> dict[str, Any]:
        """What the stored set is keyed by (not the dataset, not `force`)."""
        d = asdict(self)
        d.pop("dataset")
        d.pop("force")
        d["runs"] = sorted(d["runs"])
        d["attributes"] = sorted(d["attributes"])
        return d


@dataclass(frozen=True)
class Group:
    key: str  # "source" or "run:<id>"
    label: str
    run_id: int | None = None
    model: str | None = None
    sampling: dict[str, Any] = field(default_factory=dict)


Row = dict[str, Any]


@dataclass
class MeasureResult:
    """A stored measurement set, loaded: long rows plus lookups. Read-only."""

    dataset: str
    dataset_id: int
    kind: str
    request: MeasureRequest
    groups: list[Group]
    prompts: list[dict[str, Any]]
    attributes: dict[str, str]  # name -> kind
    table: Any  # the stored rows as read from the study (a pyarrow Table)
    filtered_out: dict[str, int]  # group key -> generations dropped by the perplexity filter
    set_id: int = 0
    seconds: float = 0.0
    reused: bool = False
    gated: dict[str, str] = field(default_factory=dict)  # "<name>|pass" -> kind (code)
    missing_share: float = MISSING_SHARE  # the share that made a source category a mode
    _index: dict[tuple[Any, ...], Row] = field(default_factory=dict, repr=False)

    @functools.cached_property
    def rows(self) -> list[Row]:
        """The stored rows as dicts (built from `table` on first use)."""
        out: list[Row] = self.table.to_pylist()
        return out

    def restricted(self, prompts: set[str], groups: list[Group] | None = None
                   ) -> MeasureResult:
        """The same set limited to some prompts (aggregates kept), optionally other groups."""
        import pyarrow.compute as pc

        keep = pc.or_(pc.is_null(self.table["prompt"]),
                      pc.is_in(self.table["prompt"], value_set=pa_array(sorted(prompts))))
        return replace(self, table=self.table.filter(keep), _index={},
                       groups=groups if groups is not None else self.groups)

    def _lookup(self) -> dict[tuple[Any, ...], Row]:
        if not self._index:  # built on first use
            for r in self.rows:
                key = (r["prompt"], r["grp"], r["ref"], r["attribute"], r["stat"])
                self._index[(*key, r["n"])] = r
                self._index.setdefault(key, r)
        return self._index

    # -- lookups ---------------------------------------------------------------------------
    def cell(self, group: str, attribute: str, stat: str, ref: str = "",
             prompt: str | None = None, n: int | None = None) -> Row | None:
        key: tuple[Any, ...] = (prompt, group, ref, attribute, stat)
        return self._lookup().get(key if n is None else (*key, n))

    def value(self, group: str, attribute: str, stat: str, ref: str = "",
              prompt: str | None = None) -> float:
        r = self.cell(group, attribute, stat, ref, prompt)
        return math.nan if r is None or r["value"] is None else float(r["value"])

    def per_prompt(self, group: str, attribute: str, stat: str, ref: str = ""
                   ) -> dict[str, float]:
        """prompt key -> value of one statistic (prompts without it are absent)."""
        return {r["prompt"]: (math.nan if r["value"] is None else float(r["value"]))
                for r in self.rows if r["prompt"] is not None and r["grp"] == group
                and r["ref"] == ref and r["attribute"] == attribute and r["stat"] == stat}

    def run_prompts(self, run_key: str) -> list[str]:
        """The prompts a run is compared on (matched rows exist)."""
        keys = {r["prompt"] for r in self.rows if r["ref"] == run_key and r["grp"] == run_key
                and r["prompt"] is not None}
        return sorted(keys)

    def curve(self, group: str, attribute: str, ref: str = "acc", prompt: str | None = None
              ) -> list[Row]:
        """Accumulation curve rows (dispersion against n), by n."""
        out = [r for r in self.rows if r["grp"] == group and r["attribute"] == attribute
               and r["ref"] == ref and r["stat"] == "dispersion" and r["prompt"] == prompt]
        return sorted(out, key=lambda r: r["n"] or 0)

    def group(self, key: str) -> Group | None:
        return next((g for g in self.groups if g.key == key), None)

    def missing_modes(self, run_key: str, prompt: str, attribute: str = "topic"
                      ) -> list[tuple[str, float]]:
        """The source categories (topic ids as text) holding ≥ `missing_share` of the
        prompt's human texts that none of the run's texts has: [(category, source share)],
        largest share first."""
        prefix = "missing_mode:"
        got = [(str(r["stat"])[len(prefix):], float(r["value"])) for r in self.rows
               if r["prompt"] == prompt and r["grp"] == run_key and r["ref"] == run_key
               and r["attribute"] == attribute and str(r["stat"]).startswith(prefix)]
        return sorted(got, key=lambda t: (-t[1], t[0]))

    def cross_cosine(self, prompt: str | None = None) -> tuple[list[str], F64]:
        """The Hivemind matrix: group keys and the groups × groups mean cross-set cosine
        (rows grp, columns ref; NaN where two groups share no prompt), averaged over prompts
        (`prompt` None) or of one prompt."""
        keys = [g.key for g in self.groups]
        mat = np.full((len(keys), len(keys)), np.nan)
        for i, a in enumerate(keys):
            for j, b in enumerate(keys):
                mat[i, j] = self.value(a, EMBEDDING, "cross_cosine", b, prompt)
        return keys, mat

    # -- JSON --------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out = {
            "schema": SCHEMA,
            "dataset": self.dataset,
            "kind": self.kind,
            "version": VERSION,
            "params": self.request.params(),
            "filter": {"ppl_max": self.request.ppl_max, "dropped": self.filtered_out},
            "groups": [g.__dict__ for g in self.groups],
            "prompts": self.prompts,
            "attributes": self.attributes,
            "gated_attributes": self.gated,
            "missing_share": self.missing_share,
            "rows": [{k: v for k, v in r.items() if k != "prompt_id"} for r in self.rows],
        }
        return _clean(out)  # type: ignore[no-any-return]

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)


def pa_array(values: list[str]) -> Any:
    import pyarrow as pa

    return pa.array(values, type=pa.string())


def _clean(obj: Any) -> Any:
    """JSON-safe copy: NaN/inf -> None, numpy scalars -> Python."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items() if not str(k).startswith("_")}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        f = float(obj)
        return f if math.isfinite(f) else None
    return obj


# -- inputs --------------------------------------------------------------------------------
def resolve_runs(study: Study, dataset_id: int, wanted: Sequence[str]) -> list[Group]:
    """Source group plus the runs named (by id or label), or every run of the dataset."""
    rows = runs_repo.dataset_runs(study, dataset_id)
    by_key = {str(r.id): r for r in rows} | {r.label: r for r in rows}
    chosen = rows
    if wanted:
        missing = [w for w in wanted if w not in by_key]
        if missing:
            known = ", ".join(f"{r.id} ({r.label})" for r in rows) or "none"
            raise MeasureError(f"No run {', '.join(missing)} in this dataset. Runs: {known}.")
        chosen = list({by_key[w].id: by_key[w] for w in wanted}.values())
    groups = [Group(SOURCE, SOURCE)]
    for r in chosen:
        groups.append(Group(f"run:{r.id}", r.label, r.id, r.model, dict(r.sampling)))
    return groups


def attribute_kind(name: str, labels: npt.NDArray[Any], values: npt.NDArray[np.float64]) -> str:
    if name == EMBEDDING:
        return "embedding"
    if name in SET_ATTRIBUTES:
        return "set"
    if name == "topic" or any(lab is not None for lab in labels[:1000]):
        return "categorical"
    return "numeric"


def resolve_embedding(study: Study, dataset_id: int, request: MeasureRequest
                      ) -> MeasureRequest:
    """Fill in the embedding model/backend: MiniLM with torch when the dataset has them,
    else the most common pair among its texts (the map and the explorer use the same rule)."""
    if request.embedding_model is not None and request.backend is not None:
        return request
    found = embeddings_repo.most_common(study, dataset_id, DEFAULT_EMBEDDING, DEFAULT_BACKEND)
    model = request.embedding_model or (found[0] if found else DEFAULT_EMBEDDING)
    backend = request.backend or (found[1] if found else DEFAULT_BACKEND)
    return replace(request, embedding_model=model, backend=backend)


def ratio(gen: float, src: float) -> float:
    """Monoculture index gen/src; 1 when both have no dispersion, inf when only the source."""
    if not (math.isfinite(gen) and math.isfinite(src)):
        return math.nan
    if src == 0:
        return 1.0 if gen == 0 else math.inf
    return gen / src


# -- one attribute's texts of one (prompt, group): statistics on subsets ---------------------
class Pool:
    """The texts of one prompt and group that carry an attribute, ready for subset statistics.

    `stats(idx)` takes a (draws, m) array of positions and returns each statistic per draw;
    the whole set is `idx = arange(n)[None]`. One implementation serves the whole-set numbers,
    the matched subsamples, the baselines and the accumulation curves, so they cannot disagree.
    """

    def __init__(self, kind: str, name: str, *, codes: I64 | None = None,
                 values: F64 | None = None, sets: list[frozenset[str]] | None = None,
                 vectors: F64 | None = None, positive: int = -1, passing: int = -1,
                 n_codes: int = 0, entropy: str = "plugin",
                 categories: Sequence[Any] = (), incidence: F64 | None = None,
                 lexical: metrics.LexicalSet | None = None) -> None:
        self.kind, self.name, self.entropy_kind = kind, name, entropy
        self.codes, self.values, self.vectors = codes, values, vectors
        self.positive, self.passing = positive, passing
        self.n_codes = max(n_codes, int(codes.max()) + 1 if codes is not None and codes.size
                           else 1)
        self.categories = list(categories)  # code -> category (categorical pools)
        self.incidence = incidence  # set pools: texts x (tags + "no tag"), 0/1
        self.lexical = lexical
        self.gram: F64 | None = None
        self.jac: F64 | None = None
        self._cache: dict[tuple[Any, ...], dict[str, F64]] = {}
        if kind == "embedding" and vectors is not None:
            u = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-30)
            self.unit = u
            self.gram = u @ u.T
        if kind == "set" and sets is not None:
            n = len(sets)
            jac = np.zeros((n, n))
            for i in range(n):
                for j in range(i + 1, n):
                    a, b = sets[i], sets[j]
                    u_ = len(a | b)
                    jac[i, j] = jac[j, i] = 1.0 if u_ == 0 else len(a & b) / u_
            self.jac = jac
        self.n = int(next(len(x) for x in (codes, values, sets, vectors, incidence,
                                           lexical.texts if lexical else None)
                          if x is not None))

    def stats_cached(self, key: tuple[Any, ...], idx: I64) -> dict[str, F64]:
        """`stats(idx)` remembered under `key`, which must determine `idx` (the source's
        matched subsets are the same for every run of the same n: drawn once, measured once)."""
        got = self._cache.get(key)
        if got is None:
            got = self._cache[key] = self.stats(idx)
        return got

    def counts(self, idx: I64) -> F64:
        """Per draw (rows of `idx`), the count of each category (categorical pools, codes
        shared by the source and the runs) or of each tag (set pools; a text without tags
        counts once as "no tag"): a (draws, K) array."""
        b, m = idx.shape
        if self.incidence is not None:
            out: F64 = self.incidence[idx].sum(axis=1)
            return out
        assert self.codes is not None
        counts = np.zeros((b, self.n_codes))
        np.add.at(counts, (np.repeat(np.arange(b), m), self.codes[idx].ravel()), 1.0)
        return counts

    def stats(self, idx: I64, dispersion_only: bool = False) -> dict[str, F64]:
        """Every statistic per draw (rows of `idx`); only `dispersion` (and what it needs)
        with `dispersion_only`. NumPy warnings are silenced by the caller (`_compute`)."""
        b, m = idx.shape
        out: dict[str, F64] = {}
        if self.lexical is not None:
            return self.lexical.stats(idx)
        if self.values is not None and self.name != "topic" and self.kind != "embedding" \
                and not (dispersion_only and self.kind != "numeric"):
            v = self.values[idx]
            if self.kind == "numeric":  # finite by construction
                out["mean"] = v.mean(axis=1)
                out["std"] = v.std(axis=1)
            else:
                out["mean"] = np.nanmean(v, axis=1)
        if self.kind == "categorical":
            assert self.codes is not None
            c = self.codes[idx]
            k = self.n_codes
            counts = np.zeros((b, k))
            np.add.at(counts, (np.repeat(np.arange(b), m), c.ravel()), 1.0)
            p = counts / m
            h = -np.where(p > 0, p * np.log2(np.where(p > 0, p, 1.0)), 0.0).sum(axis=1)
            observed = (counts > 0).sum(axis=1)
            out["entropy"] = np.maximum(h, 0.0)
            out["entropy_mm"] = out["entropy"] + (observed - 1) / (2.0 * m * math.log(2))
            out["distinct"] = observed.astype(np.float64)
            if self.positive >= 0:
                out["share_positive"] = counts[:, self.positive] / m
            if self.passing >= 0:
                out["accuracy"] = counts[:, self.passing] / m
            out["dispersion"] = out["entropy_mm" if self.entropy_kind == "miller-madow"
                                    else "entropy"]
        elif self.kind == "numeric":
            out["dispersion"] = out["std"]
        elif self.kind == "set":
            assert self.jac is not None
            if m < 2:
                j = np.full(b, np.nan)
            else:
                sub = self.jac[idx[:, :, None], idx[:, None, :]]
                j = sub.sum(axis=(1, 2)) / (m * (m - 1))
            out["jaccard"] = j
            out["dispersion"] = 1.0 - j
        elif self.kind == "embedding":
            assert self.gram is not None
            d = self.unit.shape[1]
            step = max(1, EMBED_CHUNK // max(m * max(m, d), 1))
            if b > step:  # many draws: in chunks, so no (draws, m, m) array is held at once
                parts = [self.stats(idx[i:i + step], dispersion_only) for i in range(0, b, step)]
                return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
            whole = b == 1 and m == self.n and bool((idx[0] == np.arange(m)).all())
            sub = self.gram[None] if whole else self.gram[idx[:, :, None], idx[:, None, :]]
            if m < 2:
                cos = np.full(b, np.nan)
            else:
                diag = np.einsum("bii->b", sub)
                cos = (sub.sum(axis=(1, 2)) - diag) / (m * (m - 1))
            out["mean_pairwise_cosine"] = cos
            out["dispersion"] = 1.0 - cos
            if dispersion_only:
                return out
            # one eigendecomposition per draw serves every order q; when m > d, of the d×d
            # dual UᵀU/m (same non-zero eigenvalues as K/m, whose other m − d are zeros):
            # O(m·d² + d³) instead of O(m³)
            if m > d:
                ub = self.unit[None] if whole else self.unit[idx]
                eig = np.linalg.eigvalsh(np.matmul(ub.transpose(0, 2, 1), ub) / m)
            else:
                eig = np.linalg.eigvalsh(sub / m)
            for q, stat in ((1.0, "vendi"), (0.5, "vendi_q0.5"), (2.0, "vendi_q2"),
                            (math.inf, "vendi_qinf")):
                out[stat] = metrics.renyi_vendi(eig, q)
            out["distinct_k"] = metrics.distinct_k_from_similarity(
                self.gram, idx, metrics.DISTINCT_THRESHOLD).astype(np.float64)
        return out


def _quiet() -> Any:
    """Silence numpy's 'mean of empty slice' warnings for all-NaN subsets."""
    import warnings

    class Quiet(warnings.catch_warnings):
        def __enter__(self) -> None:
            super().__enter__()
            warnings.simplefilter("ignore", RuntimeWarning)

    return Quiet()


def subsets(rng: np.random.Generator, n: int, m: int, draws: int) -> I64:
    """`draws` random subsets of size m of range(n), without replacement within a subset."""
    if m >= n:
        return np.arange(n, dtype=np.int64)[None, :]
    keys = rng.random((draws, n))
    return np.argsort(keys, axis=1)[:, :m].astype(np.int64)


def _seed(seed: int, *parts: Any) -> np.random.Generator:
    """A generator seeded by the request's seed and what is drawn (stable across runs)."""
    words = [seed] + [p if isinstance(p, int) else zlib.crc32(str(p).encode()) for p in parts]
    return np.random.default_rng(words)


def _q(v: F64) -> tuple[float, float]:
    """2.5 % and 97.5 % quantiles (linear interpolation, as numpy's default)."""
    a = np.sort(v)
    out = []
    for q in (0.025, 0.975):
        pos = q * (a.size - 1)
        lo = math.floor(pos)
        hi = min(lo + 1, a.size - 1)
        out.append(float(a[lo] + (a[hi] - a[lo]) * (pos - lo)))
    return out[0], out[1]


def ustat_se(values: F64, idx: I64, n: int) -> float:
    """Standard error of a subsample mean (a U-statistic of order m over the n texts), from
    the draws themselves: Hoeffding's first-order term, Var ≈ m²/n · Var_i(h_i), where h_i is
    the mean over the draws that contain text i. It carries the uncertainty of having only
    these n texts into the CI (the Monte Carlo error of the draws is part of it)."""
    b, m = idx.shape
    ok = np.isfinite(values)
    if b < 2 or m >= n or ok.sum() < 2:
        return 0.0
    sums = np.zeros(n)
    counts = np.zeros(n)
    np.add.at(sums, idx[ok].ravel(), np.repeat(values[ok], m))
    np.add.at(counts, idx[ok].ravel(), 1.0)
    seen = counts > 0
    if seen.sum() < 2:
        return 0.0
    h = sums[seen] / counts[seen]
    return float(math.sqrt(m * m / n * h.var(ddof=1)))


def _summary(stats: dict[str, F64], draws: int) -> dict[str, tuple[float, float, float, float]]:
    """stat -> (mean over draws, sd, 2.5 %, 97.5 %); the whole set has sd and range NaN."""
    out = {}
    for k, v in stats.items():
        fin = v[np.isfinite(v)]
        if fin.size == 0:
            out[k] = (math.nan, math.nan, math.nan, math.nan)
        elif draws == 0:
            out[k] = (float(fin[0]), math.nan, math.nan, math.nan)
        else:
            lo, hi = _q(fin)
            out[k] = (float(fin.mean()), float(fin.std()), float(lo), float(hi))
    return out


# -- stage ---------------------------------------------------------------------------------
def measure(study: Study, request: MeasureRequest, state: TaskState) -> MeasureResult:
    """Measure (or read back the stored set when its inputs are unchanged).

    BLAS runs single-threaded here: the matrices are small (one prompt's texts), and OpenBLAS
    threads on a busy 2-core machine made this stage ~15x slower (benchmarks/bench_measure.py).
    """
    dataset_id, dataset = resolve_dataset(study, request.dataset)
    if request.entropy not in ("plugin", "miller-madow"):
        raise MeasureError(f"Unknown entropy estimator {request.entropy!r}: use plugin or "
                           "miller-madow.")
    if not 0.0 < request.missing_share <= 1.0:
        raise MeasureError(f"missing_share must be a share of texts in (0, 1], not "
                           f"{request.missing_share}: e.g. 0.1 for 10 %.")
    request = resolve_embedding(study, dataset_id, request)
    params = request.params()
    phash = repo.params_hash(params)
    fp = repo.input_fingerprint(study, dataset_id, str(request.embedding_model),
                                str(request.backend))
    stored = repo.find_set(study, dataset_id, phash)
    if (stored is not None and not request.force and stored["fingerprint"] == fp
            and stored["version"] == VERSION):
        return load_result(study, dataset_id, dataset, request, int(stored["id"]))
    from threadpoolctl import threadpool_limits

    t0 = time.perf_counter()
    with threadpool_limits(limits=1, user_api="blas"), np.errstate(all="ignore"), _quiet():
        rows, extra = _compute(study, dataset_id, request, state)
    seconds = time.perf_counter() - t0
    params["_meta"] = extra  # groups, attribute kinds and filter counts, for readers
    set_id = repo.replace_set(study, dataset_id, phash, params, fp, VERSION, seconds, rows)
    study.checkpoint()  # the stage is done: the study file alone holds it
    res = load_result(study, dataset_id, dataset, request, set_id)
    res.reused = False
    return res


def stored(study: Study, dataset_id: int, request: MeasureRequest | None = None
           ) -> MeasureResult | None:
    """The stored set for a request if its inputs are unchanged, loaded; None otherwise."""
    request = request or MeasureRequest()
    set_id = current_set(study, dataset_id, request)
    if set_id is None:
        return None
    name = datasets_repo.dataset(study, dataset_id).name
    return load_result(study, dataset_id, name, request, set_id)


def current_set(study: Study, dataset_id: int, request: MeasureRequest | None = None
                ) -> int | None:
    """Id of the stored set for a request (default parameters when None) if its inputs are
    unchanged, else None. A few aggregate queries; computes nothing."""
    request = resolve_embedding(study, dataset_id, request or MeasureRequest())
    row = repo.find_set(study, dataset_id, repo.params_hash(request.params()))
    if row is None or row["version"] != VERSION:
        return None
    fp = repo.input_fingerprint(study, dataset_id, str(request.embedding_model),
                                str(request.backend))
    return int(row["id"]) if row["fingerprint"] == fp else None


def ensure_measured(study: Study, dataset_id: int, state: TaskState,
                    request: MeasureRequest | None = None) -> int:
    """Id of a current stored set: the stored one, or measured now (with progress)."""
    found = current_set(study, dataset_id, request)
    if found is not None:
        return found
    name = datasets_repo.dataset(study, dataset_id).name
    req = request or MeasureRequest()
    return measure(study, MeasureRequest(**{**asdict(req), "dataset": name}), state).set_id


def load_result(study: Study, dataset_id: int, dataset: str, request: MeasureRequest,
                set_id: int) -> MeasureResult:
    meta_row = repo.load_set(study, set_id)
    meta = json.loads(meta_row["params"]).get("_meta", {})
    table = repo.load_rows(study, set_id)
    groups = [Group(**g) for g in meta.get("groups", [])]
    kind = datasets_repo.dataset(study, dataset_id).kind
    return MeasureResult(dataset, dataset_id, kind, request, groups,
                         [{"id": p.id, "key": p.key, "title": p.title}
                          for p in datasets_repo.prompts(study, dataset_id)],
                         dict(meta.get("attributes", {})), table,
                         dict(meta.get("dropped", {})), set_id,
                         float(meta_row["seconds"] or 0.0), True,
                         dict(meta.get("gated", {})),
                         float(meta.get("missing_share", MISSING_SHARE)))


class _Rows:
    """Column-wise row buffer in the repository's layout."""

    def __init__(self) -> None:
        self.cols: dict[str, list[Any]] = {c: [] for c in repo.COLUMNS}

    def add(self, prompt_id: int | None, grp: str, ref: str, attribute: str, stat: str,
            n: int | None, draws: int, value: float, sd: float = math.nan, lo: float = math.nan,
            hi: float = math.nan, prompts: int | None = None) -> None:
        c = self.cols
        for k, v in (("prompt_id", prompt_id), ("grp", grp), ("ref", ref),
                     ("attribute", attribute), ("stat", stat), ("n", n), ("prompts", prompts),
                     ("draws", draws)):
            c[k].append(v)
        for k, f in (("value", value), ("sd", sd), ("lo", lo), ("hi", hi)):
            c[k].append(f if f is not None and math.isfinite(f) else None)

    def add_summary(self, prompt_id: int | None, grp: str, ref: str, attribute: str, n: int,
                    draws: int, summary: dict[str, tuple[float, float, float, float]]) -> None:
        for stat, (v, sd, lo, hi) in summary.items():
            self.add(prompt_id, grp, ref, attribute, stat, n, draws, v, sd, lo, hi)


@dataclass
class _Matched:
    """Per prompt, what the aggregates of one (run, attribute) need."""

    prompt_id: int
    m: int
    src: dict[str, tuple[float, float, float, float]]
    gen: dict[str, tuple[float, float, float, float]]
    src_draws: int
    gen_draws: int
    index: float
    baseline: F64  # per-draw human index (source subsample / mean), empty when not drawn
    src_se: dict[str, float] = field(default_factory=dict)  # standard error of each mean
    gen_se: dict[str, float] = field(default_factory=dict)


def _compute(study: Study, dataset_id: int, req: MeasureRequest, state: TaskState
             ) -> tuple[dict[str, list[Any]], dict[str, Any]]:
    groups = resolve_runs(study, dataset_id, req.runs)
    prompt_ids = [p.id for p in datasets_repo.prompts(study, dataset_id)]
    texts = load_texts(study, dataset_id)
    gidx = np.full(len(texts), -1, dtype=np.int64)  # 0 = source, i = groups[i], -1 = not used
    gidx[texts.is_source] = 0
    dropped: dict[str, int] = {}
    for i, g in enumerate(groups[1:], start=1):
        sel = texts.run_id == g.run_id
        if req.ppl_max is not None:
            keep = metrics.perplexity_mask(texts.perplexity, req.ppl_max)
            dropped[g.key] = int((sel & ~keep).sum())
            sel &= keep
        gidx[sel] = i
    attrs = load_attributes(study, dataset_id, [a for a in req.attributes if a != EMBEDDING]
                            or None)
    names = sorted(set(attrs.name.tolist()))
    if req.attributes:
        names = [n for n in names if n in req.attributes]
    want_embedding = not req.attributes or EMBEDDING in req.attributes
    want_lexical = req.lexical and (not req.attributes or LEXICAL in req.attributes)
    # quality gate (code): the same measures again among passing solutions only
    gated = np.full(len(texts), -1, dtype=np.int64)
    if req.quality_gate and "code.correct" in names:
        sel = (attrs.name == "code.correct") & (attrs.label == "pass")
        passing = np.isin(texts.text_id, attrs.text_id[sel])
        gated = np.where(passing, gidx, -1)
    elif req.gate_ppl_max is not None or req.gate_judge:
        gated = np.where(_text_gate(texts, attrs, req), gidx, -1)
    gate = bool((gated >= 0).any())
    want_logprob = not req.attributes or LOGPROB in req.attributes
    has_logprob = False
    total = (len(names) + int(want_embedding)) * (1 + int(gate)) + int(req.wording) \
        + int(want_lexical) + int(want_logprob) + 1
    state.begin("measure", total=total)
    out = _Rows()
    kinds: dict[str, str] = {}
    gated_kinds: dict[str, str] = {}
    step = 0
    vec_ids, vecs = (load_embeddings(study, dataset_id, None, str(req.embedding_model),
                                     str(req.backend)) if want_embedding
                     else (np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)))
    for which, g_of in (("", gidx), (GATE, gated)) if gate else (("", gidx),):
        for name in names:
            if which and name in ("code.correct", JUDGE):
                continue
            state.check()
            sel = attrs.name == name
            a_ids, a_val, a_lab = attrs.text_id[sel], attrs.value[sel], attrs.label[sel]
            kind = attribute_kind(name, a_lab, a_val)
            pos = np.searchsorted(texts.text_id, a_ids)
            pools = _attribute_pools(name, kind, texts.prompt_id[pos], g_of[pos], a_val,
                                     a_lab, req.entropy)
            if pools or not which:
                (gated_kinds if which else kinds)[name + which] = kind
                _measure_pools(out, name + which, kind, pools, groups, prompt_ids, req, state,
                               accumulation=not which, compare=not which)
            step += 1
            state.progress(step, total, name + which)
        if want_embedding:
            state.check()
            if vec_ids.size:
                pos = np.searchsorted(texts.text_id, vec_ids)
                pools = _embedding_pools(texts.prompt_id[pos], g_of[pos], vecs)
                if pools or not which:
                    (gated_kinds if which else kinds)[EMBEDDING + which] = "embedding"
                    _measure_pools(out, EMBEDDING + which, "embedding", pools, groups,
                                   prompt_ids, req, state, accumulation=not which,
                                   compare=not which)
                    if not which:
                        _hivemind(out, pools, groups, prompt_ids, req)
            step += 1
            state.progress(step, total, EMBEDDING + which)
    bodies: list[str] = []
    if req.wording or want_lexical:
        # aligned with `texts` (a run may have added texts since they were read)
        b_ids, found = attributes_repo.text_bodies(study, dataset_id)
        at = np.minimum(np.searchsorted(b_ids, texts.text_id), max(b_ids.size - 1, 0))
        hit = (b_ids[at] == texts.text_id) if b_ids.size else np.zeros(len(texts), bool)
        bodies = [found[i] if h else "" for i, h in zip(at.tolist(), hit.tolist(),
                                                         strict=True)]
    if req.wording:
        state.check()
        _wording(out, bodies, texts.prompt_id, gidx, groups, req)
        step += 1
        state.progress(step, total, WORDING)
    if want_lexical:
        state.check()
        _lexical(out, bodies, texts.prompt_id, gidx, groups, prompt_ids, req, state)
        step += 1
        state.progress(step, total, LEXICAL)
    if want_logprob:
        state.check()
        has_logprob = _likelihood(out, study, dataset_id, texts.text_id, texts.prompt_id, gidx,
                                  groups, prompt_ids, req)
        step += 1
        state.progress(step, total, LOGPROB)
    state.progress(total, total, "stored")
    extra = {"groups": [g.__dict__ for g in groups], "attributes": kinds, "dropped": dropped,
             "gated": gated_kinds, "lexical": want_lexical, "logprob": has_logprob,
             "missing_share": req.missing_share}
    return out.cols, extra


Cells = dict[tuple[int, int], Pool]  # (prompt id, group index) -> pool
WHOLE = ("whole",)  # `Pool.stats_cached` key of the whole set


def _text_gate(texts: Any, attrs: Any, req: MeasureRequest) -> npt.NDArray[np.bool_]:
    """Texts that pass the text quality gate (`MeasureRequest.gate_ppl_max` / `gate_judge`).

    Perplexity: generated texts with 0 < ppl ≤ max pass; source texts pass (people's texts
    have no perplexity). Judge: texts whose `text.judge` label is ``pass``; a text without a
    judgement does not pass. With both, a text must pass both.
    """
    ok = np.ones(len(texts), dtype=bool)
    if req.gate_ppl_max is not None:
        ok &= texts.is_source | metrics.perplexity_mask(texts.perplexity, req.gate_ppl_max)
    if req.gate_judge:
        sel = (attrs.name == JUDGE) & (attrs.label == "pass")
        ok &= np.isin(texts.text_id, attrs.text_id[sel])
    return ok


def _attribute_pools(name: str, kind: str, prompt_ids: I64, gidx: I64, values: F64,
                     labels: npt.NDArray[Any], entropy: str) -> Cells:
    keep = gidx >= 0
    if kind == "categorical":
        cats = [None if not math.isfinite(v) else int(v) for v in values.tolist()] \
            if name == "topic" else labels.tolist()
        keep &= np.array([c is not None for c in cats], dtype=bool)
        vocab = sorted({c for c, k in zip(cats, keep.tolist(), strict=True) if k}, key=str)
        code_of = {c: i for i, c in enumerate(vocab)}
        codes = np.array([code_of.get(c, -1) for c in cats], dtype=np.int64)
        positive = code_of.get("POSITIVE", -1) if set(vocab) <= BINARY else -1
        passing = code_of.get("pass", -1) if name == "code.correct" else -1
    elif kind == "numeric":
        keep &= np.isfinite(values)
    elif kind == "set":
        all_sets = [frozenset(t for t in str(lab or "").split(";") if t) for lab in labels]
        tags = sorted(set().union(*(t for t, k in zip(all_sets, keep.tolist(), strict=True)
                                    if k)))
        tag_of = {t: i for i, t in enumerate(tags)}
    out: Cells = {}
    for cell, idx in _cells(prompt_ids, gidx, keep):
        if kind == "categorical":
            # codes shared by every cell of the attribute (the JSD compares their counts)
            out[cell] = Pool(kind, name, codes=codes[idx], values=values[idx],
                             positive=positive, passing=passing, n_codes=len(vocab),
                             entropy=entropy, categories=vocab)
        elif kind == "set":
            sets = [all_sets[i] for i in idx.tolist()]
            inc = np.zeros((len(sets), len(tags) + 1))
            for i, st in enumerate(sets):
                for t in st:
                    inc[i, tag_of[t]] = 1.0
                if not st:
                    inc[i, -1] = 1.0  # "no tag" is a category of its own
            out[cell] = Pool(kind, name, sets=sets, values=values[idx], incidence=inc)
        else:
            out[cell] = Pool(kind, name, values=values[idx])
    return out


def _embedding_pools(prompt_ids: I64, gidx: I64, vecs: npt.NDArray[np.float32]) -> Cells:
    return {cell: Pool("embedding", EMBEDDING, vectors=np.asarray(vecs[idx], dtype=np.float64))
            for cell, idx in _cells(prompt_ids, gidx, gidx >= 0)}


def _cells(prompt_ids: I64, gidx: I64, keep: npt.NDArray[np.bool_]
           ) -> Iterator[tuple[tuple[int, int], I64]]:
    """Row positions per (prompt id, group index), kept rows only, in one sort."""
    order = np.lexsort((gidx, prompt_ids))
    order = order[keep[order]]
    if order.size == 0:
        return
    p_sorted, g_sorted = prompt_ids[order], gidx[order]
    brk = np.flatnonzero((np.diff(p_sorted) != 0) | (np.diff(g_sorted) != 0)) + 1
    for lo, hi in zip(np.r_[0, brk], np.r_[brk, order.size], strict=True):
        yield (int(p_sorted[lo]), int(g_sorted[lo])), order[lo:hi]


def _measure_pools(out: _Rows, name: str, kind: str, pools: Cells, groups: list[Group],
                   prompt_ids: list[int], req: MeasureRequest, state: TaskState, *,
                   accumulation: bool = True, compare: bool = True,
                   draws: int | None = None) -> None:
    """Whole-set rows, matched rows and indices per (prompt, run), aggregates, curves; with
    `compare`, the distributional comparisons of categorical and tag attributes (JSD,
    missing modes). `draws` overrides the request's subsample draws (lexical measures)."""
    draws = req.draws if draws is None else draws
    full: dict[tuple[int, int], dict[str, tuple[float, float, float, float]]] = {}
    for (pid, gi), pool in pools.items():
        s = _summary(pool.stats_cached(WHOLE, np.arange(pool.n, dtype=np.int64)[None, :]), 0)
        full[(pid, gi)] = s
        out.add_summary(pid, groups[gi].key, "", name, pool.n, 0, s)
    _aggregate_plain(out, name, groups, prompt_ids, full, req)
    for gi, g in enumerate(groups):
        if gi == 0:
            continue
        state.check()
        matched: list[_Matched] = []
        compared: list[_Matched] = []
        for pid in prompt_ids:
            src, gen = pools.get((pid, 0)), pools.get((pid, gi))
            if src is None or gen is None:
                continue
            matched.append(_match(out, name, kind, pid, src, gen, g.key, req, draws))
            if compare and kind in ("categorical", "set"):
                got = _distributions(out, name, pid, src, gen, g.key, req)
                if got is not None:
                    compared.append(got)
        _aggregate_matched(out, name, g.key, matched, req)
        _aggregate_sides(out, name, g.key, compared, req)
    if kind == "categorical":
        _pooled_distinct(out, name, pools, groups, prompt_ids, req)
    if req.accumulation and accumulation:
        _accumulation(out, name, pools, groups, prompt_ids, req)


def _pooled_distinct(out: _Rows, name: str, pools: Cells, groups: list[Group],
                     prompt_ids: list[int], req: MeasureRequest) -> None:
    """Distinct categories over all prompts of a group (the paper's pooled topic count): per
    group over its own texts, and per run against source subsamples of the run's n."""
    for gi, g in enumerate(groups):
        own = [pools[(p, gi)] for p in prompt_ids if (p, gi) in pools]
        if own:
            cats = np.unique(np.concatenate([pl.codes for pl in own if pl.codes is not None]))
            out.add(None, g.key, "", name, "pooled_distinct", None, 0, float(cats.size),
                    prompts=len(own))
    draws = min(req.draws, CORPUS_DRAWS)
    for gi, g in enumerate(groups):
        if gi == 0:
            continue
        cells = [(p, pools[(p, 0)], pools[(p, gi)]) for p in prompt_ids
                 if (p, 0) in pools and (p, gi) in pools]
        if not cells:
            continue
        got: dict[str, list[float]] = {SOURCE: [], g.key: []}
        rng = _seed(req.seed, "pooled", g.key, name)
        for _ in range(draws):
            parts: dict[str, list[I64]] = {SOURCE: [], g.key: []}
            for _p, sp, gp in cells:
                m = min(sp.n, gp.n)
                for key, pl in ((SOURCE, sp), (g.key, gp)):
                    assert pl.codes is not None
                    parts[key].append(pl.codes[rng.permutation(pl.n)[:m]])
            for key in got:
                got[key].append(float(np.unique(np.concatenate(parts[key])).size))
        n_med = _median_n([min(sp.n, gp.n) for _, sp, gp in cells])
        for key, vals in got.items():
            v = np.asarray(vals)
            lo, hi = _q(v)
            out.add(None, key, g.key, name, "pooled_distinct", n_med, draws, float(v.mean()),
                    float(v.std()), float(lo), float(hi), prompts=len(cells))


def _match(out: _Rows, name: str, kind: str, pid: int, src: Pool, gen: Pool, key: str,
           req: MeasureRequest, draws: int) -> _Matched:
    m = min(src.n, gen.n)
    s_idx = subsets(_seed(req.seed, "src", pid, name, m), src.n, m, draws)
    g_idx = subsets(_seed(req.seed, "gen", key, pid, name, m), gen.n, m, draws)
    s_draws = 0 if s_idx.shape[0] == 1 and m == src.n else s_idx.shape[0]
    g_draws = 0 if g_idx.shape[0] == 1 and m == gen.n else g_idx.shape[0]
    # the source's subsets depend on (prompt, attribute, m) only: shared by runs of equal n;
    # a whole set was measured for its own rows already
    s_stats = dict(src.stats_cached(WHOLE if m >= src.n else ("match", m, draws), s_idx))
    g_stats = dict(gen.stats_cached(WHOLE, g_idx) if m >= gen.n else gen.stats(g_idx))
    if kind == "embedding" and src.vectors is not None and gen.vectors is not None:
        pairs = min(max(s_idx.shape[0], g_idx.shape[0]), COVERAGE_DRAWS)
        cov, prec = knn_coverage(src.unit, gen.unit, s_idx[:pairs], g_idx[:pairs],
                                 req.coverage_k)
        g_stats["coverage"], g_stats["precision"] = cov, prec
        g_draws = max(g_draws, s_draws)
    s_sum, g_sum = _summary(s_stats, s_draws), _summary(g_stats, g_draws)
    out.add_summary(pid, SOURCE, key, name, m, s_draws, s_sum)
    out.add_summary(pid, key, key, name, m, g_draws, g_sum)
    s_se = {k: ustat_se(v, s_idx, src.n) if s_draws else 0.0 for k, v in s_stats.items()}
    g_se = {k: (ustat_se(v, g_idx, gen.n) if v.shape[0] == g_idx.shape[0]
                else float(np.nanstd(v)) / math.sqrt(max(v.shape[0], 1))) if g_draws else 0.0
            for k, v in g_stats.items()}
    if "dispersion" not in s_sum:  # measures without an index (lexical)
        return _Matched(pid, m, s_sum, g_sum, s_draws, g_draws, math.nan, np.zeros(0),
                        s_se, g_se)
    # no dispersion is defined on one text: no index below n = 2
    index = ratio(g_sum["dispersion"][0], s_sum["dispersion"][0]) if m >= 2 else math.nan
    out.add(pid, key, key, name, "index", m, max(s_draws, g_draws), index)
    baseline = np.zeros(0)
    mu = s_sum["dispersion"][0]
    if s_draws and m >= 2 and math.isfinite(mu) and mu > 0:
        baseline = s_stats["dispersion"] / mu
        fin = baseline[np.isfinite(baseline)]
        if fin.size:
            lo, hi = _q(fin)
            out.add(pid, SOURCE, key, name, "index", m, s_draws, float(fin.mean()),
                    float(fin.std()), float(lo), float(hi))
    if src.values is not None and gen.values is not None and kind != "embedding":
        _two_sample(out, pid, key, name, kind, src, gen)
    return _Matched(pid, m, s_sum, g_sum, s_draws, g_draws, index, baseline, s_se, g_se)


def _distributions(out: _Rows, name: str, pid: int, src: Pool, gen: Pool, key: str,
                   req: MeasureRequest) -> _Matched | None:
    """Jensen–Shannon divergence of a run's categories (or tags) from the people's, beside the
    people's own (two disjoint human subsets), and missing modes; all at m = min(n_run,
    ⌊n_source/2⌋) texts so that the two human subsets fit side by side.

    Per draw: a random permutation of the source gives A (its first m texts), B (the next m)
    and the rest R (everything after A, ≥ m texts); the run gives m texts (all of them when it
    has m). `jsd` = JSD(run, A) for the run and JSD(B, A) for the source. For the attributes of
    `MISSING_MODE_ATTRIBUTES`, the modes are R's categories holding ≥ `missing_share` of R,
    and `missing_modes` counts those absent from the run's m texts (run) or from A (source).
    The run's missing modes on the whole sets are listed as `missing_mode:<category>` rows
    (value: the category's share of all the prompt's source texts)."""
    modes = gen.kind == "categorical" and src.name in MISSING_MODE_ATTRIBUTES
    if modes:  # the list, on the whole sets
        assert src.codes is not None and gen.codes is not None
        share = np.bincount(src.codes, minlength=src.n_codes) / src.n
        present = np.bincount(gen.codes, minlength=src.n_codes) > 0
        for c in np.argsort(-share, kind="stable").tolist():
            if share[c] >= req.missing_share - 1e-12 and share[c] > 0 and not present[c]:
                out.add(pid, key, key, name, f"missing_mode:{src.categories[c]}", src.n, 0,
                        float(share[c]))
    m = min(gen.n, src.n // 2)
    if m < 1:
        return None
    draws = req.draws
    perm = np.argsort(_seed(req.seed, "jsd", pid, name, m).random((draws, src.n)), axis=1)
    a_idx, b_idx = perm[:, :m], perm[:, m:2 * m]
    g_idx = np.resize(subsets(_seed(req.seed, "jsd", key, pid, name, m), gen.n, m, draws),
                      (draws, m))
    ca, cg = src.counts(a_idx), gen.counts(g_idx)
    s_stats = {"jsd": metrics.jensen_shannon_counts(src.counts(b_idx), ca)}
    g_stats = {"jsd": metrics.jensen_shannon_counts(cg, ca)}
    if modes:
        rest = src.counts(perm[:, m:])
        is_mode = rest >= req.missing_share * rest.sum(axis=1, keepdims=True) - 1e-9
        is_mode &= rest > 0
        s_stats["missing_modes"] = (is_mode & (ca == 0)).sum(axis=1).astype(np.float64)
        g_stats["missing_modes"] = (is_mode & (cg == 0)).sum(axis=1).astype(np.float64)
    s_sum, g_sum = _summary(s_stats, draws), _summary(g_stats, draws)
    out.add_summary(pid, SOURCE, key, name, m, draws, s_sum)
    out.add_summary(pid, key, key, name, m, draws, g_sum)
    used = perm[:, :2 * m]
    s_se = {k: ustat_se(v, used, src.n) for k, v in s_stats.items()}
    g_se = {k: ustat_se(v, g_idx, gen.n) for k, v in g_stats.items()}
    return _Matched(pid, m, s_sum, g_sum, draws, draws, math.nan, np.zeros(0), s_se, g_se)


def _hivemind(out: _Rows, pools: Cells, groups: list[Group], prompt_ids: list[int],
              req: MeasureRequest) -> None:
    """Cross-model homogeneity (after Jiang et al. 2025, "Artificial Hivemind"): for every
    two groups A, B (the source and every run) and prompt, the mean cosine over all pairs
    (a in A, b in B) = the dot product of the mean unit vectors; on the diagonal (A = B) the
    mean cosine between two disjoint random halves of the group (⌊n/2⌋ texts each,
    `HIVEMIND_DRAWS` splits), so that the source's diagonal is people against other people.
    Stored per prompt (grp = A, ref = B, stat `cross_cosine`, both orders) and averaged over
    the prompts both groups cover among those any run covers, with a bootstrap CI."""
    covered = {p for (p, g) in pools if g > 0}
    prompts = [p for p in prompt_ids if p in covered] if covered else prompt_ids
    size = len(groups)
    cells: dict[tuple[int, int], list[tuple[float, int]]] = {}
    draws = min(req.draws, HIVEMIND_DRAWS)
    for pid in prompts:
        means: dict[int, F64] = {}
        for gi in range(size):
            pool = pools.get((pid, gi))
            if pool is None:
                continue
            means[gi] = pool.unit.mean(axis=0)
            h = pool.n // 2
            if h < 1:
                continue
            rng = _seed(req.seed, "hivemind", groups[gi].key, pid)
            perm = np.argsort(rng.random((draws, pool.n)), axis=1)
            rows = np.repeat(np.arange(draws), h)
            half_a = np.zeros((draws, pool.n))
            half_b = np.zeros((draws, pool.n))
            half_a[rows, perm[:, :h].ravel()] = 1.0 / h
            half_b[rows, perm[:, h:2 * h].ravel()] = 1.0 / h
            vals = ((half_a @ pool.unit) * (half_b @ pool.unit)).sum(axis=1)
            v, sd, lo, hi = _summary({"v": vals}, draws)["v"]
            key = groups[gi].key
            out.add(pid, key, key, EMBEDDING, "cross_cosine", h, draws, v, sd, lo, hi)
            cells.setdefault((gi, gi), []).append((v, h))
        for gi in means:
            for gj in means:
                if gj <= gi:
                    continue
                v = float(means[gi] @ means[gj])
                for a, b in ((gi, gj), (gj, gi)):
                    n = pools[(pid, a)].n
                    out.add(pid, groups[a].key, groups[b].key, EMBEDDING, "cross_cosine", n, 0,
                            v)
                    cells.setdefault((a, b), []).append((v, n))
    for (a, b), got in sorted(cells.items()):
        vals = np.array([v for v, _ in got])
        mean, lo, hi = _boot(vals, np.zeros_like(vals), req.n_boot, req.seed)
        out.add(None, groups[a].key, groups[b].key, EMBEDDING, "cross_cosine",
                _median_n([n for _, n in got]), 0, mean, math.nan, lo, hi,
                prompts=int(np.isfinite(vals).sum()))


def _lexical(out: _Rows, bodies: list[str], prompt_ids: I64, gidx: I64, groups: list[Group],
             all_prompts: list[int], req: MeasureRequest, state: TaskState) -> None:
    """The lexical set measures (`metrics.LexicalSet`: compression ratio, n-gram diversity,
    self-repetition, Self-BLEU, homogenization) per prompt and group, on the prompts the runs
    cover only (they cost more than the others), matched like every set statistic with
    `LEXICAL_DRAWS` draws. Homogenization (pairwise ROUGE-L) only on sets of up to
    `LEXICAL_ROUGE_MAX` texts."""
    covered = np.unique(prompt_ids[gidx > 0])
    keep = (gidx >= 0) & np.isin(prompt_ids, covered)
    pools: Cells = {}
    for cell, idx in _cells(prompt_ids, gidx, keep):
        state.check()
        texts = [bodies[i] for i in idx.tolist()]
        pools[cell] = Pool("lexical", LEXICAL, lexical=metrics.LexicalSet(
            texts, rouge=len(texts) <= LEXICAL_ROUGE_MAX))
    _measure_pools(out, LEXICAL, "lexical", pools, groups, all_prompts, req, state,
                   accumulation=False, compare=False, draws=min(req.draws, LEXICAL_DRAWS))


def knn_coverage(us: F64, ug: F64, s_idx: I64, g_idx: I64, k: int) -> tuple[F64, F64]:
    """k-NN coverage and precision (as `metrics.coverage` / `metrics.precision`) for every
    pair of subsets at once: per draw, the source subset and the generated subset pooled."""
    b = max(s_idx.shape[0], g_idx.shape[0])
    s_i = np.resize(s_idx, (b, s_idx.shape[1]))
    g_i = np.resize(g_idx, (b, g_idx.shape[1]))
    pooled = np.concatenate([us[s_i], ug[g_i]], axis=1)  # (b, ns + ng, d)
    ns, n = s_i.shape[1], pooled.shape[1]
    kk = min(k, n - 1)
    if kk < 1:
        return np.full(b, np.nan), np.full(b, np.nan)
    sims = pooled @ pooled.transpose(0, 2, 1)
    diag = np.arange(n)
    sims[:, diag, diag] = -np.inf  # exclude self
    nearest = np.argpartition(-sims, kk - 1, axis=2)[:, :, :kk]
    cov = (nearest[:, :ns] >= ns).any(axis=2).mean(axis=1)
    prec = (nearest[:, ns:] < ns).any(axis=2).mean(axis=1)
    return cov.astype(np.float64), prec.astype(np.float64)


def _two_sample(out: _Rows, pid: int, key: str, name: str, kind: str, src: Pool,
                gen: Pool) -> None:
    """Distribution comparisons on the whole sets (the tests account for unequal n)."""
    if src.name == "topic":  # ids, not numbers (also among passing solutions)
        return
    sv, gv = _comparable(src), _comparable(gen)
    sv, gv = sv[np.isfinite(sv)], gv[np.isfinite(gv)]
    if sv.size == 0 or gv.size == 0:
        return
    n = gen.n
    out.add(pid, key, key, name, "diff_of_means", n, 0, metrics.diff_of_means(sv, gv))
    out.add(pid, key, key, name, "wasserstein", n, 0, metrics.wasserstein(sv, gv))
    k = metrics.ks(sv, gv)
    out.add(pid, key, key, name, "ks", n, 0, k.statistic)
    out.add(pid, key, key, name, "ks_p", n, 0, k.pvalue)
    out.add(pid, key, key, name, "mannwhitney_p", n, 0, metrics.mann_whitney(sv, gv).pvalue)


def _comparable(pool: Pool) -> F64:
    """Per-text numbers for the two-sample tests (POSITIVE/NEGATIVE as 1/0 without values)."""
    assert pool.values is not None
    if np.isfinite(pool.values).any():
        return pool.values
    if pool.positive >= 0 and pool.codes is not None:
        out: F64 = (pool.codes == pool.positive).astype(np.float64)
        return out
    return pool.values


@functools.lru_cache(maxsize=64)
def _boot_draws(size: int, n_boot: int, seed: int) -> tuple[I64, F64]:
    """Resampling indices and standard normal noise of one bootstrap (the same for every
    statistic over the same number of prompts: seeded, so cached)."""
    rng = np.random.default_rng([seed, size])
    idx = rng.integers(0, size, size=(n_boot, size))
    return idx, rng.standard_normal(idx.shape)


def _boot(values: F64, se: F64, n_boot: int, seed: int) -> tuple[float, float, float]:
    """Mean over prompts with a 95 % bootstrap CI over prompts; each replicate also perturbs
    every prompt's value by its standard error from the subsample draws (normal, `se`), and
    the spread is scaled by √(P/(P−1)) so that few prompts do not give too narrow an interval."""
    ok = np.isfinite(values)
    v, s = values[ok], np.where(np.isfinite(se[ok]), se[ok], 0.0)
    if v.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(v.mean())
    if v.size == 1 and not s.any():
        return mean, mean, mean
    idx, noise = _boot_draws(v.size, n_boot, seed)
    reps = (v[idx] + s[idx] * noise).mean(axis=1) if s.any() else v[idx].mean(axis=1)
    if v.size > 1:  # the bootstrap's variance of a mean is (P-1)/P of the unbiased one
        reps = mean + (reps - mean) * math.sqrt(v.size / (v.size - 1))
    lo, hi = _q(reps)
    return mean, float(lo), float(hi)


def _aggregate_plain(out: _Rows, name: str, groups: list[Group], prompt_ids: list[int],
                     full: dict[tuple[int, int], dict[str, tuple[float, float, float, float]]],
                     req: MeasureRequest) -> None:
    """Each group over its own prompts at its own n (a description, not a comparison)."""
    for gi, g in enumerate(groups):
        cells = [full[(p, gi)] for p in prompt_ids if (p, gi) in full]
        if not cells:
            continue
        for stat in cells[0]:
            vals = np.array([c[stat][0] if stat in c else math.nan for c in cells])
            mean, lo, hi = _boot(vals, np.zeros_like(vals), req.n_boot, req.seed)
            out.add(None, g.key, "", name, stat, None, 0, mean, math.nan, lo, hi,
                    prompts=int(np.isfinite(vals).sum()))


def _median_n(ms: list[int]) -> int | None:
    return int(np.median(ms)) if ms else None


def _aggregate_sides(out: _Rows, name: str, key: str, matched: list[_Matched],
                     req: MeasureRequest) -> None:
    """Each matched statistic of both sides (the source at the run's n, the run): mean over
    the run's prompts, bootstrap CI with the draws' standard errors."""
    if not matched:
        return
    n_med = _median_n([mt.m for mt in matched])
    for side, grp in (("src", SOURCE), ("gen", key)):
        stats = set().union(*(getattr(mt, side).keys() for mt in matched))
        for stat in sorted(stats):
            vals = np.array([getattr(mt, side).get(stat, (math.nan,) * 4)[0] for mt in matched])
            se = np.array([getattr(mt, f"{side}_se").get(stat, 0.0) for mt in matched])
            draws = np.array([getattr(mt, f"{side}_draws") for mt in matched])
            mean, lo, hi = _boot(vals, se, req.n_boot, req.seed)
            out.add(None, grp, key, name, stat, n_med, int(draws.max()), mean, math.nan, lo, hi,
                    prompts=int(np.isfinite(vals).sum()))


def _aggregate_matched(out: _Rows, name: str, key: str, matched: list[_Matched],
                       req: MeasureRequest) -> None:
    _aggregate_sides(out, name, key, matched, req)
    if not matched or "dispersion" not in matched[0].src:
        return
    n_med = _median_n([mt.m for mt in matched])
    # the run's index: mean over prompts (inf where the source has no dispersion: left out);
    # each prompt's index carries the standard errors of both matched dispersions
    idx = np.array([mt.index if math.isfinite(mt.index) else math.nan for mt in matched])
    se = np.zeros_like(idx)
    for i, mt in enumerate(matched):
        s_mu, g_mu = mt.src["dispersion"][0], mt.gen["dispersion"][0]
        rel = 0.0
        if s_mu and math.isfinite(s_mu):
            rel += (mt.src_se.get("dispersion", 0.0) / s_mu) ** 2
        if g_mu and math.isfinite(g_mu):
            rel += (mt.gen_se.get("dispersion", 0.0) / g_mu) ** 2
        se[i] = abs(idx[i]) * math.sqrt(rel) if math.isfinite(idx[i]) else 0.0
    mean, lo, hi = _boot(idx, se, req.n_boot, req.seed)
    out.add(None, key, key, name, "index", n_med, req.draws, mean, math.nan, lo, hi,
            prompts=int(np.isfinite(idx).sum()))
    # human baseline: a run of people (one source subsample per prompt) against the people,
    # averaged over the same prompts; its spread over draws is the range of human indices.
    base = [mt.baseline for mt in matched if mt.baseline.size]
    if base:
        d = min(b.size for b in base)
        mat = np.vstack([b[:d] for b in base])  # prompts x draws
        per_draw = np.nanmean(mat, axis=0)
        per_draw = per_draw[np.isfinite(per_draw)]
        if per_draw.size:
            lo_b, hi_b = _q(per_draw)
            out.add(None, SOURCE, key, name, "index", n_med, d, float(per_draw.mean()),
                    float(per_draw.std()), float(lo_b), float(hi_b), prompts=len(base))


def _accumulation(out: _Rows, name: str, pools: Cells, groups: list[Group],
                  prompt_ids: list[int], req: MeasureRequest) -> None:
    """Dispersion against n (2..the set's size) per prompt and group, and pooled per run."""
    covered = {p for (p, g) in pools if g > 0}
    prompts = [p for p in prompt_ids if p in covered] or prompt_ids[:50]
    curves: dict[tuple[int, int], dict[int, float]] = {}
    for pid in prompts:
        for gi, g in enumerate(groups):
            pool = pools.get((pid, gi))
            if pool is None or pool.n < 2:
                continue
            grid = [k for k in ACC_GRID if k < pool.n] + [pool.n]
            curve: dict[int, float] = {}
            # nested subsets (the first k of each random order), as a rarefaction curve
            order = subsets(_seed(req.seed, "acc", g.key, pid, name), pool.n, pool.n - 1,
                            min(req.draws, ACC_DRAWS)) if pool.n > 2 else None
            for k in grid:
                idx = (order[:, :k] if order is not None and k < pool.n
                       else np.arange(pool.n, dtype=np.int64)[None, :])
                d = pool.stats(idx, dispersion_only=True)["dispersion"]
                fin = d[np.isfinite(d)]
                if fin.size == 0:
                    continue
                draws = 0 if idx.shape[0] == 1 else idx.shape[0]
                lo, hi = _q(fin) if draws else (math.nan, math.nan)
                out.add(pid, g.key, "acc", name, "dispersion", k, draws, float(fin.mean()),
                        float(fin.std()) if draws else math.nan, float(lo), float(hi))
                curve[k] = float(fin.mean())
            curves[(pid, gi)] = curve
    for gi, g in enumerate(groups):
        if gi == 0:
            continue
        run_prompts = [p for p in prompts if (p, gi) in curves and (p, 0) in curves]
        for side, grp in ((0, SOURCE), (gi, g.key)):
            ks = sorted({k for p in run_prompts for k in curves[(p, side)]})
            for k in ks:
                # like for like: only prompts where both sides reach n = k
                vals = np.array([curves[(p, side)][k] for p in run_prompts
                                 if k in curves[(p, 0)] and k in curves[(p, gi)]])
                if vals.size == 0:
                    continue
                mean, lo, hi = _boot(vals, np.zeros_like(vals), min(req.n_boot, 500), req.seed)
                out.add(None, grp, f"acc:{g.key}", name, "dispersion", k, 0, mean, math.nan,
                        lo, hi, prompts=int(vals.size))


def _likelihood(out: _Rows, study: Study, dataset_id: int, text_ids: I64, prompt_of: I64,
                gidx: I64, groups: list[Group], prompt_ids: list[int], req: MeasureRequest
                ) -> bool:
    """The model's own log-probabilities (docs/methods.md, "What the model would not say").

    Per run with a scorer (its model and template) and per prompt of the run: the mean over
    texts of each text's mean per-token log-probability, for the human texts (source rows) and
    the run's samples (run rows); the gap (human − samples); the share of human texts below
    the 5th percentile of the samples. Human baselines on the source rows: the same gap and
    share that people score against people (m = min(n_run, ⌊n_source/2⌋) human texts in the
    samples' place, the rest as the people, ``draws`` draws). Returns whether any row was made.
    """
    from monoscope.core.scoring import run_scorers

    scorer_of = run_scorers(study, dataset_id)
    made = False
    for gi, g in enumerate(groups):
        sid = scorer_of.get(g.run_id) if g.run_id is not None else None
        if sid is None:
            continue
        tab = scores_repo.score_frame(study, sid, dataset_id)
        ids = np.asarray(tab.column("text_id").to_numpy(zero_copy_only=False), dtype=np.int64)
        val = np.asarray(tab.column("mean_logprob").to_numpy(zero_copy_only=False),
                         dtype=np.float64)
        pos = np.searchsorted(text_ids, ids)
        pos = np.minimum(pos, max(text_ids.size - 1, 0))
        keep = (text_ids[pos] == ids) & np.isfinite(val) if text_ids.size else ids < 0
        pos, val = pos[keep], val[keep]
        grp_of, pr_of = gidx[pos], prompt_of[pos]
        per: dict[str, list[float]] = {}
        base: dict[str, list[F64]] = {}
        for pid in prompt_ids:
            src = val[(pr_of == pid) & (grp_of == 0)]
            gen = val[(pr_of == pid) & (grp_of == gi)]
            if src.size == 0 or gen.size == 0:
                continue
            made = True
            q = float(np.quantile(gen, LOW_QUANTILE))
            gap = float(src.mean() - gen.mean())
            share = float((src < q).mean())
            out.add(pid, SOURCE, g.key, LOGPROB, "mean_logprob", int(src.size), 0,
                    float(src.mean()), float(src.std()))
            out.add(pid, g.key, g.key, LOGPROB, "mean_logprob", int(gen.size), 0,
                    float(gen.mean()), float(gen.std()))
            out.add(pid, g.key, g.key, LOGPROB, "gap", int(src.size), 0, gap)
            out.add(pid, g.key, g.key, LOGPROB, "share_below_p5", int(src.size), 0, share)
            out.add(pid, g.key, g.key, LOGPROB, "p5", int(gen.size), 0, q)
            per.setdefault("mean_logprob:src", []).append(float(src.mean()))
            per.setdefault("mean_logprob:gen", []).append(float(gen.mean()))
            per.setdefault("gap", []).append(gap)
            per.setdefault("share_below_p5", []).append(share)
            m = min(int(gen.size), int(src.size) // 2)
            if m >= 2 and req.draws > 0:
                bg, bs = people_baseline(src, m, req.draws, _seed(req.seed, "logprob", pid,
                                                                  g.key))
                for stat, v in (("gap", bg), ("share_below_p5", bs)):
                    lo, hi = _q(v)
                    out.add(pid, SOURCE, g.key, LOGPROB, stat, m, req.draws, float(v.mean()),
                            float(v.std()), float(lo), float(hi))
                    base.setdefault(stat, []).append(v)
        for name, vals in per.items():
            stat, grp = (name.split(":")[0], SOURCE if name.endswith(":src") else g.key) \
                if ":" in name else (name, g.key)
            arr = np.asarray(vals, dtype=np.float64)
            mean, lo, hi = _boot(arr, np.zeros_like(arr), req.n_boot, req.seed)
            out.add(None, grp, g.key, LOGPROB, stat, None, 0, mean, math.nan, lo, hi,
                    prompts=int(arr.size))
        for stat, draws in base.items():  # the prompt-mean of the people, draw by draw
            means = np.mean(np.stack(draws), axis=0)
            lo, hi = _q(means)
            out.add(None, SOURCE, g.key, LOGPROB, stat, None, req.draws, float(means.mean()),
                    float(means.std()), float(lo), float(hi), prompts=len(draws))
    return made


def people_baseline(src: F64, m: int, draws: int, rng: np.random.Generator
                    ) -> tuple[F64, F64]:
    """Per draw: m human texts stand in for the model's samples (A), the others are the people
    (B); returns (mean(B) − mean(A), share of B below A's 5th percentile)."""
    gaps = np.empty(draws)
    shares = np.empty(draws)
    n = src.size
    for d in range(draws):
        perm = rng.permutation(n)
        a, b = src[perm[:m]], src[perm[m:]]
        gaps[d] = b.mean() - a.mean()
        shares[d] = (b < np.quantile(a, LOW_QUANTILE)).mean()
    return gaps, shares


def _wording(out: _Rows, bodies: list[str], prompt_ids: I64, gidx: I64, groups: list[Group],
             req: MeasureRequest) -> None:
    """The paper's corpus-level wording measures and pooled topics, per group and matched.

    Per group over its own texts (ref ''), and for each run against a source corpus of the
    same prompts and texts per prompt (ref 'run:<id>', `CORPUS_DRAWS` subsample draws).
    `bodies` are aligned with `prompt_ids` and `gidx` (every text of the dataset, by id)."""
    g_of, p_of = gidx, prompt_ids
    vocab: dict[str, int] = {}
    toks: list[I64] = []
    for b, g in zip(bodies, g_of.tolist(), strict=True):
        if g < 0:
            toks.append(np.zeros(0, dtype=np.int64))
            continue
        toks.append(np.array([vocab.setdefault(t, len(vocab)) for t in metrics.tokenize(b)],
                             dtype=np.int64))
    size = len(vocab)

    def counts(members: Sequence[int]) -> F64:
        arr = [toks[i] for i in members]
        cat = np.concatenate(arr) if arr else np.zeros(0, dtype=np.int64)
        return np.bincount(cat, minlength=size).astype(np.float64)

    def stats(c: F64, ref_c: F64 | None) -> dict[str, float]:
        tot = c.sum()
        p = c[c > 0] / tot if tot else np.zeros(0)
        d = {"unigram_entropy": float(-(p * np.log2(p)).sum()) if p.size else math.nan,
             "vocabulary": float((c > 0).sum())}
        if ref_c is not None:
            na, nb = np.linalg.norm(c), np.linalg.norm(ref_c)
            d["count_cosine_to_source"] = float(c @ ref_c / (na * nb)) if na and nb else math.nan
        return d

    members: dict[tuple[int, int], list[int]] = {}
    for i, (g, p) in enumerate(zip(g_of.tolist(), p_of.tolist(), strict=True)):
        if g >= 0:
            members.setdefault((p, g), []).append(i)
    src_all = counts([i for (_, g), ms in members.items() if g == 0 for i in ms])
    for gi, g in enumerate(groups):
        ms = [i for (_, gg), v in members.items() if gg == gi for i in v]
        if not ms:
            continue
        s = stats(counts(ms), src_all if gi else None)
        for stat, v in s.items():
            out.add(None, g.key, "", WORDING, stat, None, 0, v, prompts=len(
                {p for (p, gg) in members if gg == gi}))
        out.add(None, g.key, "", WORDING, "texts", None, 0, float(len(ms)))
    draws = min(req.draws, CORPUS_DRAWS)
    for gi, g in enumerate(groups):
        if gi == 0:
            continue
        cells = [(p, members[(p, 0)], members[(p, gi)]) for (p, gg) in list(members)
                 if gg == gi and (p, 0) in members]
        if not cells:
            continue
        src_stats: list[dict[str, float]] = []
        gen_stats: list[dict[str, float]] = []
        rng = _seed(req.seed, "corpus", g.key)
        for _ in range(draws):
            s_members: list[int] = []
            g_members: list[int] = []
            for _p, s_ms, g_ms in cells:
                m = min(len(s_ms), len(g_ms))
                s_members += [s_ms[j] for j in rng.permutation(len(s_ms))[:m]]
                g_members += [g_ms[j] for j in rng.permutation(len(g_ms))[:m]]
            sc, gc = counts(s_members), counts(g_members)
            src_stats.append(stats(sc, None))
            gen_stats.append(stats(gc, sc))
        n_med = _median_n([min(len(s), len(x)) for _, s, x in cells])
        for grp, got in ((SOURCE, src_stats), (g.key, gen_stats)):
            for stat in got[0]:
                arr = np.array([d[stat] for d in got])
                fin = arr[np.isfinite(arr)]
                if fin.size == 0:
                    continue
                lo, hi = _q(fin)
                out.add(None, grp, g.key, WORDING, stat, n_med, draws, float(fin.mean()),
                        float(fin.std()), float(lo), float(hi), prompts=len(cells))


def per_prompt_table(study: Study, dataset: str | None, attribute: str,
                     run_ids: Sequence[int] = (), ppl_max: float | None = None
                     ) -> list[dict[str, Any]]:
    """One row per prompt (CLI / scripts): source n and dispersion, per run the matched n,
    index and human range; sorted by the mean index over the runs (narrowest first)."""
    req = MeasureRequest(dataset=dataset, runs=tuple(str(r) for r in run_ids),
                         ppl_max=ppl_max)
    res = measure(study, req, TaskState())
    table: dict[str, dict[str, Any]] = {
        p["key"]: {"prompt": p["key"], "title": p["title"], "n_source": 0} for p in res.prompts}
    for r in res.rows:
        if r["attribute"] != attribute or r["prompt"] is None or r["ref"].startswith("acc"):
            continue
        row = table[r["prompt"]]
        if r["grp"] == SOURCE and r["ref"] == "" and r["stat"] == "dispersion":
            row["n_source"], row["source_dispersion"] = r["n"], r["value"]
        elif r["grp"] != SOURCE and r["ref"] == r["grp"] and r["stat"] == "index":
            row[f"n[{r['grp']}]"] = r["n"]
            row[f"index[{r['grp']}]"] = r["value"]
        elif r["grp"] == SOURCE and r["ref"] != "" and r["stat"] == "index":
            row[f"human[{r['ref']}]"] = (r["lo"], r["hi"])
    out = list(table.values())
    for row in out:
        idx = [v for k, v in row.items() if k.startswith("index[") and v is not None
               and math.isfinite(v)]
        row["monoculture_index"] = float(np.mean(idx)) if idx else math.nan
    out.sort(key=lambda r: (math.isnan(r["monoculture_index"]), r["monoculture_index"]))
    return out
