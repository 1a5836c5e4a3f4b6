"""Prompts panel: sortable, filterable table of prompts with counts and the monoculture index.

The model wraps `queries.PromptTable` (numpy columns, the measure stage's stored rows) directly;
sorting uses raw numbers (NaN last), filtering matches key or title. An index outside the range
people score against themselves at the same n is marked ▼ (narrower) or ▲ (wider); its tooltip
gives the matched n and that range.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from monoscope.core.errors import MonoscopeError
from monoscope.core.explore.queries import PromptTable
from monoscope.core.store.datasets import Dataset
from monoscope.ui.views.histograms import outside_marker

AnyIndex = QModelIndex | QPersistentModelIndex
SORT_ROLE = Qt.ItemDataRole.UserRole + 1


class PromptTableModel(QAbstractTableModel):
    """Columns: key, title, n source, then per run: n generated and the index (gen/src)."""

    def __init__(self) -> None:
        super().__init__()
        self.table: PromptTable | None = None

    def set_table(self, table: PromptTable | None) -> None:
        self.beginResetModel()
        self.table = table
        self.endResetModel()

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() or self.table is None else len(self.table)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if self.table is None else 3 + 2 * len(self.table.runs)

    def headers(self) -> list[str]:
        t = self.table
        if t is None:
            return []
        short = [r.label.split()[0][:8] if r.label else "" for r in t.runs]
        return ["Key", "Title", *(f"index #{r.id}\n{s}" for r, s in zip(t.runs, short,
                                                                       strict=True)),
                "Source", *(f"n #{r.id}\n{s}" for r, s in zip(t.runs, short, strict=True))]

    def _kind(self, col: int) -> tuple[str, int]:
        """('key'|'title'|'index'|'source'|'n', run position) of a column."""
        n = 0 if self.table is None else len(self.table.runs)
        if col < 2:
            return ("key", 0) if col == 0 else ("title", 0)
        if col < 2 + n:
            return "index", col - 2
        if col == 2 + n:
            return "source", 0
        return "n", col - 3 - n

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or self.table is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.headers()[section]
        kind, run = self._kind(section)
        if role == Qt.ItemDataRole.ToolTipRole and kind == "n":
            return f"Generated texts of run {self.table.runs[run].label}"
        if role == Qt.ItemDataRole.ToolTipRole and kind == "index":
            return (f"{self.table.runs[run].label}: monoculture index of "
                    f"{self.table.attribute}: dispersion of the run's texts divided by the "
                    "source's for this prompt, at the same n per side. Below 1 = narrower "
                    "than people; ▼/▲ = outside the range people score against themselves.")
        return None

    def index_tooltip(self, row: int, run: int) -> str:
        """Matched n and the human range behind one index cell."""
        t = self.table
        assert t is not None
        label = t.runs[run].label
        if not t.measured:
            return f"{label}: not measured yet (the measure stage has not run on this data)."
        v = float(t.index[row, run])
        if math.isnan(v):
            n = int(t.n_generated[row, run])
            return (f"{label}: no index for this prompt ("
                    + ("no texts of this run" if n == 0 else "no dispersion to compare") + ").")
        m = int(t.matched_n[row, run]) if t.matched_n.size else 0
        lo = float(t.human_lo[row, run]) if t.human_lo.size else math.nan
        hi = float(t.human_hi[row, run]) if t.human_hi.size else math.nan
        out = f"{label}: index {v:.2f} at n = {m} texts per side"
        if math.isfinite(lo) and math.isfinite(hi):
            mark = outside_marker(v, lo, hi)
            where = {"▼": "below", "▲": "above"}.get(mark, "inside")
            out += f"; people score {lo:.2f}–{hi:.2f} at n = {m} ({where} their range)"
        else:
            out += "; no human range (the source has no more texts than the run here)"
        return out

    def marker(self, row: int, run: int) -> str:
        t = self.table
        if t is None or not t.human_lo.size:
            return ""
        return outside_marker(float(t.index[row, run]), float(t.human_lo[row, run]),
                              float(t.human_hi[row, run]))

    def raw(self, row: int, col: int) -> Any:
        t = self.table
        assert t is not None
        kind, run = self._kind(col)
        if kind == "key":
            return t.key[row]
        if kind == "title":
            return t.title[row]
        if kind == "source":
            return int(t.n_source[row])
        return float(t.index[row, run]) if kind == "index" else int(t.n_generated[row, run])

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or self.table is None:
            return None
        v = self.raw(index.row(), index.column())
        kind, run = self._kind(index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            if isinstance(v, float):
                if math.isnan(v):
                    return "–" if self.table.measured else "n.m."
                return f"{v:.2f}{self.marker(index.row(), run)}"
            return str(v)
        if role == Qt.ItemDataRole.ToolTipRole and kind == "index":
            return self.index_tooltip(index.row(), run)
        if role == Qt.ItemDataRole.FontRole and kind == "index" and self.marker(index.row(), run):
            from PySide6.QtGui import QFont

            f = QFont()
            f.setBold(True)
            return f
        if role == SORT_ROLE:
            if isinstance(v, float) and math.isnan(v):
                return math.inf
            return v
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == 0:
            return self.table.title[index.row()]
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() >= 2:  # numbers
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def to_arrow(self) -> Any:
        import pyarrow as pa

        t = self.table
        if t is None:
            return pa.table({})
        cols: dict[str, Any] = {"key": t.key, "title": t.title, "n_source": t.n_source,
                                "source_dispersion": t.source_dispersion}
        for i, r in enumerate(t.runs):
            cols[f"n_generated[{r.label}]"] = t.n_generated[:, i]
            cols[f"dispersion[{r.label}]"] = t.dispersion[:, i]
            cols[f"index[{r.label}]"] = t.index[:, i]
            if t.matched_n.size:
                cols[f"matched_n[{r.label}]"] = t.matched_n[:, i]
                cols[f"human_lo[{r.label}]"] = t.human_lo[:, i]
                cols[f"human_hi[{r.label}]"] = t.human_hi[:, i]
        return pa.table(cols)


class TableExportError(MonoscopeError):
    """A table could not be written."""


def export_table(model: PromptTableModel, path: str | Path) -> Path:
    """Write the table to CSV or Parquet (chosen by extension)."""
    out = Path(path)
    tab = model.to_arrow()
    try:
        if out.suffix.lower() == ".parquet":
            import pyarrow.parquet as pq

            pq.write_table(tab, out)
        elif out.suffix.lower() == ".csv":
            import pyarrow.csv as pcsv

            pcsv.write_csv(tab, out)
        else:
            raise TableExportError(f"Cannot export to {out.name}: use a .csv or .parquet name.")
    except OSError as exc:
        raise TableExportError(f"Could not write {out}: {exc}. Choose another folder.") from None
    return out


class PromptsPanel(QWidget):
    """Attribute picker, filter box and the prompt table; emits the chosen prompt key."""

    prompt_selected = Signal(str)
    attribute_changed = Signal(str)
    dataset_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = PromptTableModel()
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.proxy.setFilterKeyColumn(-1)
        self.view = QTableView()
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.verticalHeader().hide()
        self.view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.view.selectionModel().currentRowChanged.connect(self._row_changed)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter prompts (Ctrl+F)")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self.proxy.setFilterFixedString)
        self.attribute = QComboBox()
        self.attribute.setToolTip("Attribute whose dispersion ranks the prompts")
        self.attribute.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.attribute.setMinimumContentsLength(8)
        self.attribute.currentTextChanged.connect(self._attr_changed)
        self.dataset = QComboBox()
        self.dataset.setToolTip("Dataset of the study to explore")
        self.dataset.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.dataset.setMinimumContentsLength(8)
        self.dataset.currentIndexChanged.connect(self._dataset_changed)
        self.status = QLabel("")
        self.status.setStyleSheet("color: #666;")
        self.status.setWordWrap(True)
        row0 = QHBoxLayout()
        row0.addWidget(QLabel("Dataset"))
        row0.addWidget(self.dataset, 1)
        row = QHBoxLayout()
        row.addWidget(QLabel("Rank by"))
        row.addWidget(self.attribute, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(row0)
        lay.addLayout(row)
        lay.addWidget(self.filter)
        lay.addWidget(self.view, 1)
        lay.addWidget(self.status)

    def set_attributes(self, names: list[str], current: str | None) -> None:
        self.attribute.blockSignals(True)
        self.attribute.clear()
        self.attribute.addItems(names)
        if current:
            self.attribute.setCurrentText(current)
        self.attribute.blockSignals(False)

    def set_datasets(self, rows: list[Dataset], current: int | None) -> None:
        """Fill the dataset picker without emitting."""
        self.dataset.blockSignals(True)
        self.dataset.clear()
        for d in rows:
            self.dataset.addItem(f"{d.name} ({d.kind}, {d.n_prompts} prompts)", d.id)
        if current is not None:
            self.dataset.setCurrentIndex(max(0, self.dataset.findData(current)))
        self.dataset.blockSignals(False)

    def _dataset_changed(self, index: int) -> None:
        ds = self.dataset.itemData(index)
        if ds is not None:
            self.dataset_changed.emit(int(ds))

    def _attr_changed(self, name: str) -> None:
        if name:
            self.attribute_changed.emit(name)

    def set_table(self, table: PromptTable | None, keep_key: str | None = None) -> None:
        self.model.set_table(table)
        if table is not None and table.runs:
            self.view.sortByColumn(2, Qt.SortOrder.AscendingOrder)  # most narrowed first
        elif table is not None:
            self.view.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.view.resizeColumnsToContents()
        self.view.setColumnWidth(0, min(self.view.columnWidth(0), 130))
        self.view.setColumnHidden(1, True)  # the title is the key's tooltip; keeps numbers visible
        n_runs = 0 if table is None else len(table.runs)
        for c in range(2, self.model.columnCount()):
            self.view.setColumnWidth(c, 64 if c < 2 + n_runs else 58)  # index cells carry ▼▲
        n = 0 if table is None else len(table)
        text = f"{n} prompts"
        if table is not None and table.runs and not table.measured:
            text += (" · not measured yet: the index appears when the measure stage has run "
                     "(it runs after each run, or press F5)")
        elif table is not None and table.runs:
            text += (" · index = run dispersion / source dispersion at the same n (<1 "
                     "narrower); ▼▲ outside the range people score against themselves")
        self.status.setText(text)
        if keep_key:
            self.select_key(keep_key, emit=False)

    def select_key(self, key: str, emit: bool = True) -> bool:
        t = self.model.table
        if t is None or key not in t.key:
            return False
        src = self.model.index(t.key.index(key), 0)
        idx = self.proxy.mapFromSource(src)
        if not idx.isValid():
            return False
        if not emit:
            self.view.selectionModel().blockSignals(True)
        self.view.setCurrentIndex(idx)
        self.view.scrollTo(idx)
        if not emit:
            self.view.selectionModel().blockSignals(False)
        return True

    def current_key(self) -> str | None:
        idx = self.view.currentIndex()
        if not idx.isValid():
            return None
        return str(self.model.raw(self.proxy.mapToSource(idx).row(), 0))

    def visible_keys(self) -> list[str]:
        return [str(self.proxy.index(r, 0).data()) for r in range(self.proxy.rowCount())]

    def _row_changed(self, current: QModelIndex, _prev: QModelIndex) -> None:
        if current.isValid():
            self.prompt_selected.emit(str(self.model.raw(self.proxy.mapToSource(current).row(),
                                                         0)))

    def first_key(self) -> str | None:
        return str(self.proxy.index(0, 0).data()) if self.proxy.rowCount() else None

