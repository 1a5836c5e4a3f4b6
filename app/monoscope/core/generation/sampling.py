"""Sampling settings, the paper's temperature decay, and a numpy sampler over a batch of logits.

Order of the warpers follows Hugging Face (which the paper used): repetition penalty, then
temperature, then top-k, top-p and min-p on the tempered distribution. Each sequence draws from
its own seeded numpy Generator, so the same seed and settings give the same text. The
log-probability recorded for perplexity is taken from the raw (untempered) softmax.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from monoscope.core.errors import MonoscopeError

FloatArray = npt.NDArray[np.float32]


class SamplingError(MonoscopeError):
    """Sampling settings that cannot work (e.g. negative temperature)."""


@dataclass(frozen=True)
class Decay:
    """Temperature decay from `start` to `end` over `length` generated tokens.

    linear: T_i = start + (end - start)·i/L; exponential (the paper):
    T_i = start·e^(−5i/L) + end·(1 − e^(−5i/L)). After L tokens T = end. ``end=None`` means
    the run's own temperature, so a temperature sweep with decay decays to each value.
    """

    kind: str = "exponential"
    start: float = 10.0
    end: float | None = None
    length: int = 20

    def __post_init__(self) -> None:
        if self.kind not in ("linear", "exponential"):
            raise SamplingError(f"Decay kind must be 'linear' or 'exponential', not {self.kind!r}.")
        if self.length < 1 or self.start < 0 or (self.end is not None and self.end < 0):
            raise SamplingError("Decay needs length ≥ 1 and non-negative temperatures.")

    def temperature(self, i: int, end: float = 1.0) -> float:
        """Temperature of the i-th generated token; `end` is used when the decay has none."""
        last = self.end if self.end is not None else end
        if i >= self.length:
            return last
        if self.kind == "linear":
            return self.start + (last - self.start) * i / self.length
        w = math.exp(-5.0 * i / self.length)
        return self.start * w + last * (1.0 - w)

    @classmethod
    def parse(cls, spec: str) -> Decay:
        """``KIND:START:END:LENGTH`` (e.g. ``linear:10:1.0:20``) or ``KIND:START:LENGTH``
        (decays to the run's temperature, e.g. ``exp:10:50``)."""
        parts = spec.split(":")
        if len(parts) not in (3, 4):
            raise SamplingError(
                f"Cannot read decay {spec!r}: write KIND:START:END:LENGTH (linear:10:1.0:20) or "
                "KIND:START:LENGTH to decay to each run's --temperature."
            )
        kind = {"exp": "exponential", "lin": "linear"}.get(parts[0], parts[0])
        try:
            end = float(parts[2]) if len(parts) == 4 else None
            return cls(kind, float(parts[1]), end, int(parts[-1]))
        except ValueError:
            raise SamplingError(
                f"Cannot read decay {spec!r}: START and END are numbers, LENGTH an integer."
            ) from None


@dataclass(frozen=True)
class SamplingParams:
    """All settings of one run's sampler; stored as the run's `sampling` JSON."""

    temperature: float = 0.8
    top_p: float = 1.0
    top_k: int = 50
    min_p: float = 0.0
    repeat_penalty: float = 1.0
    repeat_last_n: int = 64
    max_tokens: int = 128
    stop: tuple[str, ...] = ()
    decay: Decay | None = None
    ignore_eos: bool = False  # benchmarks only: always generate max_tokens
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise SamplingError("Temperature must be ≥ 0 (0 means greedy).")
        if not 0 < self.top_p <= 1:
            raise SamplingError("top-p must be in (0, 1].")
        if self.top_k < 0 or not 0 <= self.min_p < 1:
            raise SamplingError("top-k must be ≥ 0 (0 = off) and min-p in [0, 1).")
        if self.max_tokens < 1:
            raise SamplingError("max tokens must be ≥ 1.")
        if self.repeat_penalty <= 0:
            raise SamplingError("repeat penalty must be > 0 (1 = off).")

    def temperature_at(self, i: int) -> float:
        """Temperature for the i-th generated token (0-based)."""
        return self.decay.temperature(i, self.temperature) if self.decay else self.temperature

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["stop"] = list(self.stop)
        if not self.ignore_eos:
            d.pop("ignore_eos")
        if not self.extra:
            d.pop("extra")
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SamplingParams:
        d = dict(d)
        decay = d.pop("decay", None)
        d["stop"] = tuple(d.get("stop") or ())
        known = set(cls.__dataclass_fields__)
        return cls(decay=Decay(**decay) if decay else None, **{k: v for k, v in d.items() if k in known})


def derive_seed(run_seed: int, prompt_key: str, sample_index: int) -> int:
    """Per-sample seed from (run seed, prompt key, sample index): stable across resumes."""
    h = hashlib.sha256(f"{run_seed}\x1f{prompt_key}\x1f{sample_index}".encode()).digest()
    return int.from_bytes(h[:8], "little") & ((1 << 63) - 1)


_scratch = threading.local()


def _buffer(shape: tuple[int, ...]) -> FloatArray:
    """A reused per-thread float32 work array: fresh 16 MB temporaries per step cost more than
    the arithmetic (page faults), ~3x on Gemma's 262k vocabulary."""
    buf: FloatArray | None = getattr(_scratch, "buf", None)
    if buf is None or buf.size < shape[0] * shape[1]:
        buf = np.empty(shape[0] * shape[1], dtype=np.float32)
        _scratch.buf = buf
    return buf[: shape[0] * shape[1]].reshape(shape)


def log_softmax_at(
    logits: FloatArray, chosen: npt.NDArray[np.int64], row_max: FloatArray | None = None
) -> npt.NDArray[np.float64]:
    """log p(chosen) under the raw softmax of each row (what the model believes, untempered)."""
    m = (logits.max(axis=1) if row_max is None else row_max)[:, None]
    work = _buffer(logits.shape)
    np.subtract(logits, m, out=work)
    np.exp(work, out=work)
    sums = work.sum(axis=1, dtype=np.float64)
    picked = logits[np.arange(len(chosen)), chosen].astype(np.float64)
    return np.asarray(picked - m[:, 0].astype(np.float64) - np.log(sums), dtype=np.float64)


def apply_repeat_penalty(row: FloatArray, recent: Sequence[int], penalty: float) -> None:
    """llama.cpp/CTRL rule in place: divide positive logits of recent tokens, multiply negatives."""
    if penalty == 1.0 or not recent:
        return
    idx = np.unique(np.asarray(recent, dtype=np.int64))
    vals = row[idx]
    row[idx] = np.where(vals > 0, vals / penalty, vals * penalty)


def top_ids(row: FloatArray, k: int, mx: float | None = None) -> npt.NDArray[np.int64]:
    """Ids of the k largest entries of a row, ascending; exact.

    Pre-filters by a gap below the maximum (a cheap comparison) so the partial sort only sees a
    few hundred candidates; falls back to the full row when fewer than k pass the filter.
    """
    n = row.shape[0]
    if k >= n:
        return np.arange(n, dtype=np.int64)
    mx = float(row.max()) if mx is None else mx
    for gap in (8.0, 16.0, 32.0):
        cand = np.flatnonzero(row >= mx - gap)
        if len(cand) >= k:
            if len(cand) > k:
                cand = cand[np.argpartition(row[cand], len(cand) - k)[len(cand) - k :]]
            return np.sort(cand).astype(np.int64)
    return np.sort(np.argpartition(row, n - k)[n - k :]).astype(np.int64)


def warp_probs(
    logits: FloatArray,
    temperature: float,
    top_k: int,
    top_p: float,
    min_p: float,
    _window: int = 4096,
    row_max: float | None = None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Candidate token ids and their normalised probabilities after all warpers (one row)."""
    n = logits.shape[0]
    # Temperature is monotonic: choose candidates on the raw float32 row, temper only those.
    if 0 < top_k < n:
        ids = top_ids(logits, top_k, row_max)
    elif top_p < 1.0 and _window < n:
        # Most rows reach top_p within a few thousand tokens: sort those only, widen if not.
        ids = top_ids(logits, _window, row_max)
    else:
        ids = np.arange(n)
    zc = logits[ids].astype(np.float64) / temperature
    zmax = zc.max()
    p = np.exp(zc - zmax)
    if top_p < 1.0:
        windowed = top_k == 0 and len(ids) < n
        total = np.exp((logits - np.float32(zmax * temperature)) / np.float32(temperature)).sum(dtype=np.float64) if windowed else p.sum()
        order = np.argsort(-p, kind="stable")
        ids, p = ids[order], p[order]
        cum = np.cumsum(p) / total
        if windowed and cum[-1] < top_p:
            return warp_probs(logits, temperature, top_k, top_p, min_p, _window=n)
        keep = int(np.searchsorted(cum, top_p, side="left")) + 1
        ids, p = ids[:keep], p[:keep]
    if min_p > 0.0:
        mask = p >= min_p * p.max()
        ids, p = ids[mask], p[mask]
    return ids.astype(np.int64), p / p.sum()


def sample_batch(
    logits: FloatArray,
    temperatures: Sequence[float],
    params: SamplingParams,
    rngs: Sequence[np.random.Generator],
    recents: Sequence[Sequence[int]],
    entropies: list[float] | None = None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Sample one token per row; returns (tokens, raw log-probabilities of those tokens).

    ``entropies``, when given, receives per row the entropy (nats) of the distribution the
    token was drawn from (after temperature and the top-k / top-p / min-p warpers; 0 for a
    greedy row).

    ``logits`` is (rows, vocab) float32 from the model; each row has its own temperature (the
    decay depends on how far that sequence is), random generator and recent-token history.
    """
    rows = logits.shape[0]
    raw = logits
    if params.repeat_penalty != 1.0:
        logits = logits.copy()
        for r in range(rows):
            apply_repeat_penalty(logits[r], recents[r][-params.repeat_last_n :], params.repeat_penalty)
    maxes = logits.max(axis=1)
    chosen = np.empty(rows, dtype=np.int64)
    for r in range(rows):
        t = temperatures[r]
        if t <= 0.0:
            chosen[r] = int(np.argmax(logits[r]))
            if entropies is not None:
                entropies.append(0.0)
            continue
        ids, p = warp_probs(logits[r], t, params.top_k, params.top_p, params.min_p, row_max=float(maxes[r]))
        if entropies is not None:
            nz = p[p > 0]
            entropies.append(float(-(nz * np.log(nz)).sum()))
        u = rngs[r].random()
        j = int(np.searchsorted(np.cumsum(p), u, side="right"))
        chosen[r] = ids[min(j, len(ids) - 1)]
    return chosen, log_softmax_at(raw, chosen, maxes if raw is logits else None)
