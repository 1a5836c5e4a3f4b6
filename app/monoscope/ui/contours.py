"""The closed curves around 50 % and 90 % of the smoothed density of a map's source points.

Pure numpy (and pyqtgraph's isocurve tracer, which touches no Qt object), so the map's
worker computes them with the points (`loaders.load_map`) and a prompt switch only draws
them; Compare computes its own.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyqtgraph as pg

Line = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]


def source_contours(xs: npt.NDArray[np.float32], ys: npt.NDArray[np.float32], bins: int = 60
                    ) -> tuple[Line, Line]:
    """The closed curves around 50 % and 90 % of the smoothed density of the source points
    (x and y with NaN between curves; empty for fewer than 10 points): the grid reaches past
    the smoothed mass and is bordered by empty cells, so no contour runs into the edge."""
    empty = (np.zeros(0), np.zeros(0))
    if len(xs) < 10:
        return empty, empty
    # Half of Scott's bandwidth (in bins): smooth enough for 30 texts, sharp for 30,000.
    n = float(len(xs))
    scott = n ** (-1 / 6)
    # a coarser grid for few texts (their density is smooth anyway): the contour tracing
    # costs grows with the grid, and a prompt switch redraws it
    bins = int(np.clip(4 * np.sqrt(n), 24, bins))
    edges, sigmas = [], []
    for v in (xs, ys):
        lo, hi = float(v.min()), float(v.max())
        cell = (hi - lo + 1e-6) / bins
        sig = max(0.8, 0.5 * scott * float(np.std(v)) / cell)  # in cells
        pad = int(np.ceil(3 * sig)) + 2  # cells past the data: the kernel's reach
        edges.append(lo - pad * cell + cell * np.arange(bins + 2 * pad + 1))
        sigmas.append(sig)
    ex, ey = edges
    hist, ex, ey = np.histogram2d(xs, ys, bins=[ex, ey])
    dens = np.pad(_smooth(hist, sigmas), 1)  # an empty border: curves close
    flat = np.sort(dens.ravel())[::-1]
    cum = np.cumsum(flat) / flat.sum()
    out: list[Line] = []
    for mass in (0.5, 0.9):
        level = float(flat[min(int(np.searchsorted(cum, mass)), len(flat) - 1)])
        px: list[float] = []
        py: list[float] = []
        # trace only the box of cells at or above the level, plus a ring below it (the
        # same closed curves; isocurve's cost grows with the cells it is given)
        rows = np.flatnonzero((dens >= level).any(axis=1))
        cols = np.flatnonzero((dens >= level).any(axis=0))
        r0, c0 = max(int(rows[0]) - 1, 0), max(int(cols[0]) - 1, 0)
        sub = dens[r0:int(rows[-1]) + 2, c0:int(cols[-1]) + 2]
        for line in pg.functions.isocurve(sub, level, connected=True, extendToEdge=False):
            arr = np.asarray(line, dtype=np.float64)
            # index i of the padded grid is cell i - 1; cell centres at edge + 0.5 cell
            px.extend(ex[0] + (arr[:, 0] + r0 - 0.5) * (ex[1] - ex[0]))
            py.extend(ey[0] + (arr[:, 1] + c0 - 0.5) * (ey[1] - ey[0]))
            px.append(np.nan)
            py.append(np.nan)
        out.append((np.asarray(px), np.asarray(py)))
    return out[0], out[1]


def _smooth(a: npt.NDArray[np.float64], sigma: list[float]) -> npt.NDArray[np.float64]:
    """Separable Gaussian blur with zeros outside, as two small matrix products (numpy only:
    no scipy.ndimage import on the GUI thread)."""
    out = a
    for axis, s in enumerate(sigma):
        n = a.shape[axis]
        i = np.arange(n)
        k = np.exp(-0.5 * ((i[:, None] - i[None, :]) / s) ** 2)
        r = int(3 * s) + 1
        k[np.abs(i[:, None] - i[None, :]) > r] = 0.0  # the truncated kernel of the old blur
        k /= np.exp(-0.5 * (np.arange(-r, r + 1) / s) ** 2).sum()
        out = k @ out if axis == 0 else out @ k.T
    return out
