"""Read model of the cross-model view (after Jiang et al. 2025, "Artificial Hivemind"): the
groups × groups matrix of stored mean cross-set cosines and the per-prompt mean pairwise cosine
of every group (Hivemind's histogram), for the window's Hivemind view and the report.

Every number is a stored row of the measure stage (`stat = 'cross_cosine'` and
`'mean_pairwise_cosine'` of the `embedding`, see docs/measure-schema.md); this module only
arranges them (and counts prompts into histogram bins). No Qt here.

    data = compute_hivemind((study, dataset_id))       # or hivemind_data(result)
    data.value[i, j], data.prompts[i, j]                # row group i (grp), column j (ref)
    data.histogram("run:1")                             # (share of prompts per bin, prompts)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from monoscope.core.analysis.measure import EMBEDDING, MeasureResult
from monoscope.core.errors import MonoscopeError
from monoscope.core.explore import labels as label_names
from monoscope.core.explore.export import write_csv
from monoscope.core.store import Study

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

CROSS = "cross_cosine"
PAIRWISE = "mean_pairwise_cosine"
# Hivemind's histogram: per-prompt mean pairwise cosine in bins of 0.05 over [0, 1] (values
# outside are counted in the end bins).
HIST_EDGES: tuple[float, ...] = tuple(round(0.05 * i, 2) for i in range(21))


class HivemindExportError(MonoscopeError):
    """The matrix could not be written."""


def group_label(result: MeasureResult, key: str) -> str:
    """'source (human)' or '#<run id> <run label>'."""
    g = result.group(key)
    return label_names.group_label(key, "" if g is None else g.label)


@dataclass
class HivemindData:
    """The matrix (rows: `grp`, columns: `ref`, both in `keys` order) with each cell's stored
    95 % CI over prompts, the prompts behind it and the median texts per prompt (`n`: on the
    diagonal the size of each half), plus each group's per-prompt mean pairwise cosine."""

    dataset_id: int
    keys: list[str]
    labels: list[str]
    value: F64
    lo: F64
    hi: F64
    prompts: I64  # prompts behind each cell (0: no stored cell)
    n: F64  # the stored row's n (median texts per prompt of the row group), NaN when absent
    similarity: dict[str, dict[str, float]] = field(default_factory=dict)  # group -> prompt -> v
    edges: tuple[float, ...] = HIST_EDGES

    def has_matrix(self) -> bool:
        return bool(np.isfinite(self.value).any())

    @property
    def scale(self) -> tuple[float, float]:
        """The colour scale's range: the finite values widened to multiples of 0.05 (the
        window and the report use the same)."""
        fin = self.value[np.isfinite(self.value)]
        if not fin.size:
            return 0.0, 1.0
        lo = math.floor(float(fin.min()) * 20 + 1e-9) / 20
        hi = math.ceil(float(fin.max()) * 20 - 1e-9) / 20
        return (lo, hi) if hi > lo else (lo, lo + 0.05)

    def rows(self) -> list[dict[str, Any]]:
        """One dict per stored cell (for the CSV export and tests)."""
        out = []
        for i, a in enumerate(self.keys):
            for j, b in enumerate(self.keys):
                if not self.prompts[i, j] and not math.isfinite(self.value[i, j]):
                    continue
                out.append({"grp": a, "grp_label": self.labels[i], "ref": b,
                            "ref_label": self.labels[j], "cross_cosine": _num(self.value[i, j]),
                            "ci_lo": _num(self.lo[i, j]), "ci_hi": _num(self.hi[i, j]),
                            "prompts": int(self.prompts[i, j]), "n": _num(self.n[i, j])})
        return out

    def histogram(self, key: str) -> tuple[F64, int]:
        """(share of the group's prompts per bin of `edges`, prompts) of the per-prompt mean
        pairwise cosine; zeros and 0 when the group has none."""
        vals = np.array([v for v in self.similarity.get(key, {}).values() if math.isfinite(v)])
        if not vals.size:
            return np.zeros(len(self.edges) - 1), 0
        lo, hi = self.edges[0], self.edges[-1]
        counts, _ = np.histogram(np.clip(vals, lo, hi), bins=np.asarray(self.edges))
        return counts / vals.size, int(vals.size)

    def export_csv(self, path: str | Path) -> Path:
        """Write the matrix as long rows (grp, ref, cross_cosine, CI, prompts, n) to CSV."""
        out = Path(path)
        if out.suffix.lower() != ".csv":
            raise HivemindExportError(f"Cannot export the matrix to {out.name}: use a .csv "
                                      "file name.")
        rows = self.rows()
        header = list(rows[0]) if rows else ["grp", "ref"]
        return write_csv(out, header, ([r[k] for k in header] for r in rows),
                         HivemindExportError, make_parents=True)


def _num(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def hivemind_data(result: MeasureResult) -> HivemindData:
    """Arrange the stored aggregate `cross_cosine` rows and the per-prompt mean pairwise
    cosines of a measurement set; the source's per-prompt values are those of the prompts the
    runs cover (all prompts without a run), like the overview."""
    keys = [g.key for g in result.groups]
    size = len(keys)
    value, lo, hi, n = (np.full((size, size), np.nan) for _ in range(4))
    prompts = np.zeros((size, size), dtype=np.int64)
    for i, a in enumerate(keys):
        for j, b in enumerate(keys):
            r = result.cell(a, EMBEDDING, CROSS, b)
            if r is None:
                continue
            value[i, j] = _f(r["value"])
            lo[i, j], hi[i, j], n[i, j] = _f(r["lo"]), _f(r["hi"]), _f(r["n"])
            prompts[i, j] = int(r["prompts"] or 0)
    covered = {k for g in result.groups if g.run_id is not None
               for k in result.run_prompts(g.key)}
    sim: dict[str, dict[str, float]] = {}
    for k in keys:
        per = result.per_prompt(k, EMBEDDING, PAIRWISE)
        sim[k] = {p: v for p, v in per.items() if k != "source" or not covered or p in covered}
    return HivemindData(result.dataset_id, keys, [group_label(result, k) for k in keys],
                        value, lo, hi, prompts, n, sim)


def _f(v: Any) -> float:
    return math.nan if v is None else float(v)


def compute_hivemind(request: tuple[Study, int], state: Any = None) -> HivemindData:
    """Task: the Hivemind matrix and histograms of one dataset, from its stored set."""
    from monoscope.core.explore.figure_data import stored_result

    study, dataset_id = request
    return hivemind_data(stored_result(study, dataset_id, state))
