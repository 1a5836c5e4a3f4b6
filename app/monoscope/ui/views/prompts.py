"""Prompts panel: sortable, filterable table of prompts with counts and the monoculture index.

The model wraps `queries.PromptTable` (numpy columns, the measure stage's stored rows) directly;
rows are titled by the prompt's title (its key in the tooltip), a "Runs" column counts the runs
with texts for the prompt and the "With runs" toggle hides the others. Sorting uses raw numbers
and puts rows without data (no index, no texts) last in either direction; filtering matches
title or key. The "n" column gives the generated texts per prompt (one number when the runs
agree, else their range; each run's count in the tooltip). Each run has one index column, its
header the run's colour and marker shape with `#id` and model (`labels.run_short_label`; the
full label in the tooltip). An index outside the range people score against themselves at the
same n is marked ▼ (narrower) or ▲ (wider); the cell adds the index's 95 % interval when the
column has room for it (stored by the measure stage, never computed here) and its tooltip the
matched n and the people's range.

The columns fit the panel's width (`PromptsPanel.fit_columns`): the counts at their contents'
width, each run's index column between its short form ("0.43▼") and its long one, the title
the rest; so at 1280×800 the source and n columns stay in view beside four runs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import (
    QAbstractTableModel,
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QFont, QFontMetrics, QIcon
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from monoscope.core.errors import MonoscopeError
from monoscope.core.explore.labels import attribute_label, run_label, run_short_label
from monoscope.core.explore.queries import PromptTable
from monoscope.core.store.datasets import Dataset
from monoscope.ui import theme
from monoscope.ui.views.histograms import outside_marker

AnyIndex = QModelIndex | QPersistentModelIndex
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
KEY_ROLE = Qt.ItemDataRole.UserRole + 2
TITLE, KEY, COVERAGE, SOURCE_N, GENERATED_N = 0, 1, 2, 3, 4  # then one index column per run
FIXED = 5


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key of a title: numbers by value ("Book 9" before "Book 10"), text by case-folded
    letters."""
    return tuple((0, int(part)) if part.isdigit() else (1, part.casefold())
                 for part in re.split(r"(\d+)", text) if part)


class PromptTableModel(QAbstractTableModel):
    """Columns: prompt title, key, runs with texts (coverage), n source, n generated (per run),
    then per run the monoculture index (with its interval and the people's range at the same
    n in the tooltip)."""

    def __init__(self) -> None:
        super().__init__()
        self.table: PromptTable | None = None
        self._icons: list[QIcon] = []

    def set_table(self, table: PromptTable | None) -> None:
        self.beginResetModel()
        self.table = table
        self._icons = [] if table is None else [
            theme.marker_icon(theme.run_color(r.id), theme.group_symbols([r.id])[1])
            for r in table.runs]
        self.endResetModel()

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() or self.table is None else len(self.table)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if self.table is None else FIXED + len(self.table.runs)

    def index_column(self, run: int) -> int:
        """Column of run position ``run``'s index."""
        return FIXED + run

    def headers(self) -> list[str]:
        t = self.table
        if t is None:
            return []
        return ["Prompt", "Key", "Runs", "Source", "n",
                *(run_short_label(r.id, r.model) for r in t.runs)]

    def _kind(self, col: int) -> tuple[str, int]:
        """('title'|'key'|'coverage'|'source'|'n'|'index', run position) of a column."""
        if col < FIXED:
            return ("title", "key", "coverage", "source", "n")[col], 0
        return "index", col - FIXED

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or self.table is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.headers()[section]
        kind, run = self._kind(section)
        if role == Qt.ItemDataRole.DecorationRole and kind == "index":
            return self._icons[run]
        if role != Qt.ItemDataRole.ToolTipRole:
            return None
        t = self.table
        if kind == "index":
            r = t.runs[run]
            return (f"Run {run_label(r.id, r.label)} ({r.model}): monoculture index of "
                    f"{attribute_label(t.attribute or '')} — the dispersion of the run's texts "
                    "divided by the source's for this prompt, at the same n per side. Below "
                    "1 = narrower than people. [lo–hi] = the range people score against "
                    "themselves at that n (95 % of the draws); ▼/▲ = outside it.")
        return {"title": "Prompt title (its key in the tooltip)",
                "key": "Prompt key",
                "coverage": f"How many of the {len(t.runs)} runs have texts for the prompt",
                "source": "Human source texts of the prompt",
                "n": "Generated texts per run for the prompt (a range when the runs differ; "
                     "each run's count in the cell's tooltip)"}[kind]

    def index_tooltip(self, row: int, run: int) -> str:
        """Matched n and the human range behind one index cell."""
        t = self.table
        assert t is not None
        label = run_label(t.runs[run].id, t.runs[run].label)
        if not t.measured:
            return f"{label}: not measured yet (the measure stage has not run on this data)."
        v = float(t.index[row, run])
        if math.isnan(v):
            n = int(t.n_generated[row, run])
            return (f"{label}: no index for this prompt ("
                    + ("no texts of this run" if n == 0 else "no dispersion to compare") + ").")
        m = int(t.matched_n[row, run]) if t.matched_n.size else 0
        lo, hi = self._human(row, run)
        out = f"{label}: index {v:.2f} at n = {m} texts per side"
        ilo, ihi = self._interval(row, run)
        if math.isfinite(ilo) and math.isfinite(ihi):
            out += f", 95 % interval {ilo:.2f}–{ihi:.2f}"
        if math.isfinite(lo) and math.isfinite(hi):
            mark = outside_marker(v, lo, hi)
            where = {"▼": "below", "▲": "above"}.get(mark, "inside")
            out += f"; people score {lo:.2f}–{hi:.2f} at n = {m} ({where} their range)"
        else:
            out += "; no human range (the source has no more texts than the run here)"
        return out

    def _human(self, row: int, run: int) -> tuple[float, float]:
        t = self.table
        assert t is not None
        if not t.human_lo.size:
            return math.nan, math.nan
        return float(t.human_lo[row, run]), float(t.human_hi[row, run])

    def _interval(self, row: int, run: int) -> tuple[float, float]:
        t = self.table
        assert t is not None
        if not t.index_lo.size:
            return math.nan, math.nan
        return float(t.index_lo[row, run]), float(t.index_hi[row, run])

    def marker(self, row: int, run: int) -> str:
        t = self.table
        if t is None:
            return ""
        lo, hi = self._human(row, run)
        return outside_marker(float(t.index[row, run]), lo, hi)

    def key(self, row: int) -> str:
        assert self.table is not None
        return self.table.key[row]

    def raw(self, row: int, col: int) -> Any:
        t = self.table
        assert t is not None
        kind, run = self._kind(col)
        if kind == "title":
            return t.title[row]
        if kind == "key":
            return t.key[row]
        if kind == "coverage":
            return int(t.coverage[row])
        if kind == "source":
            return int(t.n_source[row])
        if kind == "n":
            return self.generated_n(row)
        return float(t.index[row, run])

    def generated_n(self, row: int) -> tuple[int, int]:
        """(fewest, most) generated texts of the prompt over the runs that have any ((0, 0):
        none)."""
        t = self.table
        assert t is not None
        have = [int(v) for v in t.n_generated[row] if v > 0] if t.runs else []
        return (min(have), max(have)) if have else (0, 0)

    def sort_value(self, row: int, col: int) -> Any:
        """What a column sorts by; None = no data (always sorted last)."""
        kind, _ = self._kind(col)
        v = self.raw(row, col)
        if kind == "title":
            return natural_key(str(v))
        if kind == "index" and math.isnan(v):
            return None
        if kind == "n":
            return None if v[1] == 0 else (v[1], v[0])
        return v

    def display(self, row: int, col: int) -> str:
        t = self.table
        assert t is not None
        kind, run = self._kind(col)
        v = self.raw(row, col)
        if kind == "coverage":
            return f"{v}/{len(t.runs)}"
        if kind == "n":
            lo, hi = v
            return "–" if hi == 0 else str(hi) if lo == hi else f"{lo}–{hi}"
        if kind != "index":
            return str(v)
        if math.isnan(v):
            return "–" if t.measured else "n.m."
        text = f"{v:.2f}{self.marker(row, run)}"
        lo, hi = self._interval(row, run)
        if not (math.isfinite(lo) and math.isfinite(hi)):
            lo, hi = self._human(row, run)
        if math.isfinite(lo) and math.isfinite(hi):
            text += f" [{lo:.2f}–{hi:.2f}]"
        return text

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or self.table is None:
            return None
        row, col = index.row(), index.column()
        kind, run = self._kind(col)
        if role == Qt.ItemDataRole.DisplayRole:
            return self.display(row, col)
        if role == KEY_ROLE:
            return self.table.key[row]
        if role == SORT_ROLE:
            return self.sort_value(row, col)
        if role == Qt.ItemDataRole.ToolTipRole:
            if kind == "index":
                return self.index_tooltip(row, run)
            if kind in ("title", "key"):
                return f"{self.table.title[row]} [{self.table.key[row]}]"
            if kind == "coverage":
                have = [run_label(r.id, r.label) for j, r in enumerate(self.table.runs)
                        if self.table.n_generated[row, j] > 0]
                return ("Runs with texts for this prompt: " + ", ".join(have)) if have else (
                    "No run has texts for this prompt yet.")
            if kind == "n":
                return self.n_tooltip(row)
            return None
        if role == Qt.ItemDataRole.FontRole and kind == "index" and self.marker(row, run):
            f = QFont()
            f.setBold(True)
            return f
        if role == Qt.ItemDataRole.TextAlignmentRole and kind not in ("title", "key"):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def n_tooltip(self, row: int) -> str:
        """Each run's generated texts for the prompt and the n its index compares."""
        t = self.table
        assert t is not None
        if not t.runs:
            return "No runs yet."
        lines = []
        for j, r in enumerate(t.runs):
            n = int(t.n_generated[row, j])
            m = int(t.matched_n[row, j]) if t.matched_n.size else 0
            lines.append(f"{run_label(r.id, r.label)}: {n} generated texts"
                         + (f" (the index compares n = {m} per side)" if m else ""))
        return "\n".join(lines)

    def to_arrow(self) -> Any:
        import pyarrow as pa

        t = self.table
        if t is None:
            return pa.table({})
        cols: dict[str, Any] = {"key": t.key, "title": t.title, "n_source": t.n_source,
                                "runs_with_texts": t.coverage,
                                "source_dispersion": t.source_dispersion}
        for i, r in enumerate(t.runs):
            cols[f"n_generated[{r.label}]"] = t.n_generated[:, i]
            cols[f"dispersion[{r.label}]"] = t.dispersion[:, i]
            cols[f"index[{r.label}]"] = t.index[:, i]
            if t.index_lo.size:
                cols[f"index_lo[{r.label}]"] = t.index_lo[:, i]
                cols[f"index_hi[{r.label}]"] = t.index_hi[:, i]
            if t.matched_n.size:
                cols[f"matched_n[{r.label}]"] = t.matched_n[:, i]
                cols[f"human_lo[{r.label}]"] = t.human_lo[:, i]
                cols[f"human_hi[{r.label}]"] = t.human_hi[:, i]
        return pa.table(cols)


class PromptProxy(QSortFilterProxyModel):
    """Sorts by the model's sort values with rows without data last in either direction;
    filters by a text (in the title or the key) and, optionally, to prompts with runs."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = ""
        self.with_runs = False

    def model_(self) -> PromptTableModel:
        m = self.sourceModel()
        assert isinstance(m, PromptTableModel)
        return m

    def set_text(self, text: str) -> None:
        self._refilter(lambda: setattr(self, "text", text.casefold().strip()))

    def set_with_runs(self, on: bool) -> None:
        self._refilter(lambda: setattr(self, "with_runs", on))

    def _refilter(self, change: Callable[[], None]) -> None:
        """Apply a filter change (Qt >= 6.10 wants it between begin/endFilterChange)."""
        if hasattr(self, "beginFilterChange"):
            self.beginFilterChange()
            change()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:  # older Qt
            change()
            self.invalidateRowsFilter()

    def filterAcceptsRow(self, row: int, parent: AnyIndex) -> bool:
        t = self.model_().table
        if t is None:
            return False
        if self.with_runs and not t.coverage[row]:
            return False
        return not self.text or self.text in t.title[row].casefold() or (
            self.text in t.key[row].casefold())

    def lessThan(self, left: AnyIndex, right: AnyIndex) -> bool:
        m = self.model_()
        a = m.sort_value(left.row(), left.column())
        b = m.sort_value(right.row(), right.column())
        if a is None or b is None:
            # missing sorts last whichever way: Qt lays out a descending sort by reversing
            # this comparison, so "missing is less" puts it last there
            if a is None and b is None:
                return False
            descending = self.sortOrder() == Qt.SortOrder.DescendingOrder
            return descending if a is None else not descending
        return bool(a < b)


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


class IndexDelegate(QStyledItemDelegate):
    """An index cell with its interval when the column has room for it ("0.43▼ [0.89–1.12]"),
    else the index alone ("0.43▼"); the tooltip always has both."""

    def initStyleOption(self, option: QStyleOptionViewItem,
                        index: QModelIndex | QPersistentModelIndex) -> None:
        super().initStyleOption(option, index)
        text = option.text
        if " [" in text and option.fontMetrics.horizontalAdvance(text) \
                > option.rect.width() - 2 * CELL_MARGIN:
            option.text = short_index(text)


def short_index(text: str) -> str:
    """An index cell's text without its interval."""
    return text.split(" [", 1)[0]


CELL_MARGIN = 4  # px each side of a cell's text (the style's margin and a little air)
TITLE_MIN = 90  # px: the narrowest the title column gets before the table scrolls sideways


class PromptsPanel(QWidget):
    """Dataset and attribute pickers, filter box, "with runs" toggle and the prompt table;
    emits the chosen prompt key."""

    prompt_selected = Signal(str)
    attribute_changed = Signal(str)
    dataset_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = PromptTableModel()
        self.proxy = PromptProxy(self)
        self.proxy.setSourceModel(self.model)
        self.view = QTableView()
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setWordWrap(False)
        self.view.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.view.verticalHeader().hide()
        # compact rows: more prompts in view
        self.view.verticalHeader().setDefaultSectionSize(self.view.fontMetrics().height() + 6)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setMinimumSectionSize(20)
        header.setTextElideMode(Qt.TextElideMode.ElideRight)  # "#3 gemma3-…": the id stays
        self.index_delegate = IndexDelegate(self.view)
        self._measured: tuple[dict[int, int], list[tuple[int, int]], int] | None = None
        self.view.viewport().installEventFilter(self)
        self.view.selectionModel().currentRowChanged.connect(self._row_changed)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter prompts (Ctrl+F)")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self.proxy.set_text)
        self.with_runs = QCheckBox("With runs")
        self.with_runs.setToolTip("Show only the prompts that some run has texts for")
        self.with_runs.toggled.connect(self._with_runs_toggled)
        self.attribute = QComboBox()
        self.attribute.setToolTip("Attribute whose dispersion ranks the prompts")
        self.attribute.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.attribute.setMinimumContentsLength(8)
        self.attribute.currentIndexChanged.connect(self._attr_changed)
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
        row2 = QHBoxLayout()
        row2.addWidget(self.filter, 1)
        row2.addWidget(self.with_runs)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(row0)
        lay.addLayout(row)
        lay.addLayout(row2)
        lay.addWidget(self.view, 1)
        lay.addWidget(self.status)

    def set_attributes(self, names: list[str], current: str | None) -> None:
        """Fill the attribute picker (plain names shown, stored names as data) silently."""
        self.attribute.blockSignals(True)
        self.attribute.clear()
        for n in names:
            self.attribute.addItem(attribute_label(n), n)
            self.attribute.setItemData(self.attribute.count() - 1, n,
                                       Qt.ItemDataRole.ToolTipRole)
        if current:
            self.attribute.setCurrentIndex(max(0, self.attribute.findData(current)))
        self.attribute.blockSignals(False)

    def set_attribute(self, name: str) -> bool:
        """Rank by an attribute (its stored name); False when the picker does not have it."""
        i = self.attribute.findData(name)
        if i >= 0:
            self.attribute.setCurrentIndex(i)
        return i >= 0

    def current_attribute(self) -> str | None:
        data = self.attribute.currentData()
        return None if data is None else str(data)

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

    def _attr_changed(self, index: int) -> None:
        name = self.attribute.itemData(index)
        if name:
            self.attribute_changed.emit(str(name))

    def _with_runs_toggled(self, on: bool) -> None:
        self.proxy.set_with_runs(on)
        self._update_status()

    def set_table(self, table: PromptTable | None, keep_key: str | None = None) -> None:
        self.model.set_table(table)
        self._measured = None
        if table is not None and table.runs and table.measured:
            # most narrowed first (the first run's index), prompts without an index last
            self.view.sortByColumn(self.model.index_column(0), Qt.SortOrder.AscendingOrder)
        elif table is not None and table.runs:  # counts only: most covered first
            self.view.sortByColumn(COVERAGE, Qt.SortOrder.DescendingOrder)
        elif table is not None:
            self.view.sortByColumn(TITLE, Qt.SortOrder.AscendingOrder)
        self.view.setColumnHidden(KEY, True)  # the key is the title's tooltip
        for col in range(FIXED, self.model.columnCount()):
            self.view.setItemDelegateForColumn(col, self.index_delegate)
        self.fit_columns()
        self._update_status()
        if keep_key:
            self.select_key(keep_key, emit=False)

    # -- column widths --------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.view.viewport() and event.type() == QEvent.Type.Resize:
            self.fit_columns()
        return super().eventFilter(watched, event)

    def _widths(self) -> tuple[dict[int, int], list[tuple[int, int]], int]:
        """({count column: width}, [(short, long) width of each run's index column], title's
        wanted width), from the font and the cells' texts (measured once per table)."""
        if self._measured is None:
            self._measured = self._measure()
        return self._measured

    def _measure(self) -> tuple[dict[int, int], list[tuple[int, int]], int]:
        m = self.model
        fm = self.view.fontMetrics()
        bold = QFont(self.view.font())
        bold.setBold(True)
        fb = QFontMetrics(bold)
        pad = 2 * CELL_MARGIN + 1  # the text's margins and the grid line
        rows = range(min(m.rowCount(), 2000))
        header = self.view.horizontalHeader()
        least = header.minimumSectionSize()  # no column is drawn narrower
        hfm = header.fontMetrics()
        fixed = {}
        for col in (COVERAGE, SOURCE_N, GENERATED_N):
            cells = max((fm.horizontalAdvance(m.display(r, col)) for r in rows), default=0)
            fixed[col] = max(cells, hfm.horizontalAdvance(m.headers()[col]) + 2, least) + pad
        runs = []
        icon = header.style().pixelMetric(header.style().PixelMetric.PM_SmallIconSize) + 4
        for run in range(len(m.table.runs) if m.table is not None else 0):
            col = m.index_column(run)
            texts = [m.display(r, col) for r in rows]
            short = max((fb.horizontalAdvance(short_index(t)) for t in texts), default=0)
            full = max((fb.horizontalAdvance(t) for t in texts), default=0)
            head = hfm.horizontalAdvance(m.headers()[col]) + icon
            runs.append((max(short + pad, least), max(full + pad, head + pad, least)))
        title = max((fm.horizontalAdvance(m.display(r, TITLE)) for r in rows), default=0) + pad
        return fixed, runs, min(max(title, TITLE_MIN), 160)

    def fit_columns(self) -> None:
        """Columns sized to the table's width: the counts at their contents' width, each run's
        index column between its short and its long form, the title the rest (at least
        TITLE_MIN): the table scrolls sideways only when even the short forms do not fit."""
        if self.model.table is None:
            return
        fixed, runs, _ = self._widths()
        avail = self.view.viewport().width() - sum(fixed.values()) - TITLE_MIN
        per = avail / len(runs) if runs else 0.0
        for col, w in fixed.items():
            self.view.setColumnWidth(col, w)
        used = sum(fixed.values())
        for run, (short, full) in enumerate(runs):
            w = int(min(max(per, short), full))
            self.view.setColumnWidth(self.model.index_column(run), w)
            used += w
        self.view.setColumnWidth(TITLE, max(TITLE_MIN, self.view.viewport().width() - used))

    def table_width(self, compact: bool = True) -> int:
        """Width the panel needs to show every column without a sideways scrollbar: with the
        short index forms (``compact``) or the long ones and the title whole."""
        fixed, runs, title = self._widths()
        cols = sum(fixed.values()) + (TITLE_MIN if compact else title) + sum(
            (short if compact else full) for short, full in runs)
        frame = 2 * self.view.frameWidth() + self.view.verticalScrollBar().sizeHint().width()
        lay = self.layout()
        margins = 0 if lay is None else lay.contentsMargins().left() + lay.contentsMargins().right()
        return cols + frame + margins + 2

    def _update_status(self) -> None:
        table = self.model.table
        n = 0 if table is None else len(table)
        shown = self.proxy.rowCount()
        text = f"{n} prompts" if shown == n else f"{shown} of {n} prompts"
        if table is not None and table.runs:
            covered = int(np.count_nonzero(table.coverage))
            text += f", {covered} with runs"
        if table is not None and table.runs and not table.measured:
            text += (" · not measured yet: the index appears when the measure stage has run "
                     "(it runs after each run, or press F5)")
        elif table is not None and table.runs:
            text += (f" · index of {attribute_label(table.attribute or '')} = run dispersion / "
                     "source dispersion at the same n (<1 narrower); [lo–hi] the range people "
                     "score against themselves, ▼▲ outside it")
        self.status.setText(text)

    def _proxy_row(self, key: str) -> QModelIndex | None:
        t = self.model.table
        if t is None or key not in t.key:
            return None
        idx = self.proxy.mapFromSource(self.model.index(t.key.index(key), TITLE))
        return idx if idx.isValid() else None

    def select_key(self, key: str, emit: bool = True) -> bool:
        idx = self._proxy_row(key)
        if idx is None:
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
        return self.model.key(self.proxy.mapToSource(idx).row())

    def visible_keys(self) -> list[str]:
        """Keys of the rows shown, in the table's order."""
        return [str(self.proxy.index(r, TITLE).data(KEY_ROLE))
                for r in range(self.proxy.rowCount())]

    def step(self, delta: int) -> str | None:
        """Select the prompt ``delta`` rows below (above when negative) the current one in
        the table's order, stopping at the ends; returns its key (None: the table is empty)."""
        n = self.proxy.rowCount()
        if not n:
            return None
        cur = self.view.currentIndex()
        row = 0 if not cur.isValid() else min(max(cur.row() + delta, 0), n - 1)
        idx = self.proxy.index(row, TITLE)
        self.view.setCurrentIndex(idx)
        self.view.scrollTo(idx)
        return str(idx.data(KEY_ROLE))

    def _row_changed(self, current: QModelIndex, _prev: QModelIndex) -> None:
        if current.isValid():
            self.prompt_selected.emit(self.model.key(self.proxy.mapToSource(current).row()))

    def first_key(self) -> str | None:
        return str(self.proxy.index(0, TITLE).data(KEY_ROLE)) if self.proxy.rowCount() else None
