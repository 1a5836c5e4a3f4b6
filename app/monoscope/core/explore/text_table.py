"""The text table of the explorer's selection (a read model): one row per selected text with its
prompt, group (the source or the run's label), a snippet and the stored values of the map's
attributes, written to CSV as shown.

The rows (prompt, group, snippet) are read by `rows` in a worker (`store.search.text_rows`
through `search.selection_rows`); the attribute values are the ones the map's load already read
(`queries.attribute_values`, aligned with the map's points), joined here by text id.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from monoscope.core.errors import MonoscopeError
from monoscope.core.explore.export import write_csv
from monoscope.core.explore.search import Hit, selection_rows
from monoscope.core.store import Study

BASE_COLUMNS = ("text_id", "prompt_key", "prompt_title", "group", "snippet")
ROW_LIMIT = 20_000  # rows listed (a whole-dataset map without a selection may hold more)


class TableExportError(MonoscopeError):
    """The table could not be written."""


@dataclass(frozen=True)
class AttributeColumn:
    """A map attribute as the table shows it: values (and labels) aligned with the map's
    points."""

    name: str
    values: npt.NDArray[np.float64]
    labels: Sequence[object] | None = None


@dataclass
class TextTable:
    hits: list[Hit] = field(default_factory=list)
    attributes: list[str] = field(default_factory=list)  # stored attribute names
    values: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 0)))
    labels: list[list[str]] = field(default_factory=list)  # per row, per attribute ('' none)

    def __len__(self) -> int:
        return len(self.hits)

    def header(self) -> list[str]:
        return [*BASE_COLUMNS, *self.attributes, *(f"{a}.label" for a in self._labelled())]

    def _labelled(self) -> list[str]:
        return [a for j, a in enumerate(self.attributes)
                if any(row[j] for row in self.labels)]

    def csv_rows(self) -> list[list[object]]:
        labelled = [self.attributes.index(a) for a in self._labelled()]
        out: list[list[object]] = []
        for i, h in enumerate(self.hits):
            vals: list[object] = ["" if not math.isfinite(v) else round(float(v), 6)
                                  for v in self.values[i]]
            out.append([h.text_id, h.prompt_key, h.prompt_title, h.group, h.snippet, *vals,
                        *(self.labels[i][j] for j in labelled)])
        return out


def rows(study: Study, text_ids: Sequence[int], limit: int = ROW_LIMIT) -> list[Hit]:
    """Prompt, group and snippet of the texts (sorted by id, at most ``limit``)."""
    return selection_rows(study, text_ids, limit)


def build(hits: Sequence[Hit], point_ids: npt.ArrayLike,
          columns: Sequence[AttributeColumn]) -> TextTable:
    """The table of ``hits`` with the values of ``columns`` (aligned with ``point_ids``, the
    map's text ids); a text not on the map has no values."""
    ids = np.asarray(point_ids, dtype=np.int64)
    order = np.argsort(ids, kind="stable")
    want = np.asarray([h.text_id for h in hits], dtype=np.int64)
    pos = np.searchsorted(ids[order], want) if len(ids) else np.zeros(len(want), np.int64)
    pos = np.minimum(pos, max(len(ids) - 1, 0))
    found = (ids[order][pos] == want) if len(ids) else np.zeros(len(want), bool)
    idx = np.where(found, order[pos] if len(ids) else 0, -1)
    values = np.full((len(hits), len(columns)), np.nan)
    labels = [[""] * len(columns) for _ in hits]
    for j, col in enumerate(columns):
        v = np.asarray(col.values, dtype=np.float64)
        values[found, j] = v[idx[found]]
        if col.labels is not None:
            for i in np.flatnonzero(found).tolist():
                lab = col.labels[int(idx[i])]
                labels[i][j] = "" if lab is None else str(lab)
    return TextTable(list(hits), [c.name for c in columns], values, labels)


def export_csv(table: TextTable, path: str | Path) -> Path:
    """Write the table (its rows in the order given) to a CSV file with a header."""
    path = Path(path)
    if path.suffix.lower() != ".csv":
        path = path.with_suffix(".csv")
    return write_csv(path, table.header(), table.csv_rows(), TableExportError)


def counter(selected: int | None, total: int, label: str = "") -> str:
    """The selection counter: "16 / 51 texts · lasso", or "51 texts" with no selection."""
    if selected is None:
        return f"{total:,} texts"
    return f"{selected:,} / {total:,} texts" + (f" · {label}" if label else "")
