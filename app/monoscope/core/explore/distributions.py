"""Shapes of an attribute's stored values per group, for the explorer's eCDF and box/strip
plots (a read model: the values are the stored attribute values the map's load read through
`queries.attribute_values`; nothing here is reported as a number).

With 8 samples per run a histogram's bins say little; the eCDF (every value as a step) and a
strip of the values over a box show how much of the people's range a run covers. The people's
spread is drawn as a band between the source's 10 % and 90 % quantiles.

    e = ecdf(np.array([3.0, 1.0, 2.0]))   # e.x = [1, 2, 3], e.y = [1/3, 2/3, 1]
    band(np.array([1.0, 2.0, 3.0]))        # (1.2, 2.8): numpy's linear quantiles
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
BAND = (0.1, 0.9)  # the source band's quantiles


@dataclass(frozen=True)
class Ecdf:
    """The empirical CDF: the finite values sorted (``x``) and the share at or below each
    (``y`` = (i + 1) / n)."""

    x: F64
    y: F64

    def steps(self) -> tuple[F64, F64]:
        """The curve as drawn: a vertical step at every value, flat between values."""
        n = len(self.x)
        if not n:
            return np.zeros(0), np.zeros(0)
        xs = np.repeat(self.x, 2)
        ys = np.empty(2 * n)
        ys[0::2] = np.arange(n) / n
        ys[1::2] = self.y
        return xs, ys


@dataclass(frozen=True)
class Box:
    """Quartiles, median and extremes of a group's finite values (whiskers at the extremes:
    with a few samples every value is shown as a point anyway)."""

    n: int
    low: float
    q1: float
    median: float
    q3: float
    high: float


def finite(values: npt.ArrayLike) -> F64:
    v = np.asarray(values, dtype=np.float64)
    return v[np.isfinite(v)]


def ecdf(values: npt.ArrayLike) -> Ecdf:
    x = np.sort(finite(values))
    return Ecdf(x, np.arange(1, len(x) + 1, dtype=np.float64) / max(len(x), 1))


def box(values: npt.ArrayLike) -> Box | None:
    v = finite(values)
    if not len(v):
        return None
    q1, med, q3 = (float(q) for q in np.quantile(v, [0.25, 0.5, 0.75]))
    return Box(len(v), float(v.min()), q1, med, q3, float(v.max()))


def band(values: npt.ArrayLike, quantiles: tuple[float, float] = BAND
         ) -> tuple[float, float] | None:
    """The (lo, hi) quantiles of the finite values (numpy's default, linear); None if none."""
    v = finite(values)
    if not len(v):
        return None
    lo, hi = np.quantile(v, list(quantiles))
    return float(lo), float(hi)


def by_group(values: npt.ArrayLike, group: npt.ArrayLike, n_groups: int) -> list[F64]:
    """The finite values of each group 0..n_groups-1 (0 = source)."""
    v = np.asarray(values, dtype=np.float64)
    g = np.asarray(group)
    return [finite(v[g == i]) for i in range(n_groups)]
