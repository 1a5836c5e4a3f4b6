"""The text table of the explorer's one selection (the Selection dock): one row per selected
text of the map (every text of the map when nothing is selected) with its group, prompt,
snippet and attribute values; sortable by any column, exported to CSV as shown.

It reads nothing itself: the rows are read by `core.explore.text_table.rows` in a
`TaskRunner` job, the values are the map's (`set_map`). It follows the window's
`ExplorerState` and loads only while it is shown.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from monoscope.core.explore import text_table
from monoscope.core.explore.labels import attribute_label
from monoscope.core.explore.search import Hit
from monoscope.core.explore.state import Change, ExplorerState
from monoscope.core.explore.text_table import AttributeColumn, TextTable
from monoscope.core.store import Study
from monoscope.core.tasks import TaskState
from monoscope.ui.workers import TaskRunner

AnyIndex = QModelIndex | QPersistentModelIndex
BASE = ["Text", "Group", "Prompt", "Snippet"]


class TextTableModel(QAbstractTableModel):
    """Rows of a `TextTable`; `sort` reorders the table itself (so the export follows)."""

    def __init__(self) -> None:
        super().__init__()
        self.table = TextTable()
        self.colors: dict[str, QColor] = {}  # group label -> its colour

    def set_table(self, table: TextTable) -> None:
        self.beginResetModel()
        self.table = table
        self.endResetModel()

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.table)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return len(BASE) + len(self.table.attributes)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return BASE[section] if section < len(BASE) else attribute_label(
                self.table.attributes[section - len(BASE)])
        if role == Qt.ItemDataRole.ToolTipRole and section >= len(BASE):
            return self.table.attributes[section - len(BASE)]
        return None

    def _value(self, row: int, col: int) -> tuple[float, str]:
        j = col - len(BASE)
        return float(self.table.values[row, j]), self.table.labels[row][j]

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        r, c = index.row(), index.column()
        h = self.table.hits[r]
        if role == Qt.ItemDataRole.DisplayRole:
            if c < len(BASE):
                return [str(h.text_id), h.group, h.prompt_title or h.prompt_key, h.snippet][c]
            v, lab = self._value(r, c)
            num = "" if not math.isfinite(v) else f"{v:.4g}"
            return f"{num} {lab}".strip() if lab and lab != num else num
        if role == Qt.ItemDataRole.ToolTipRole:
            if c == 2:
                return f"{h.prompt_title} [{h.prompt_key}]"
            return f"text {h.text_id}: {h.snippet}"
        if role == Qt.ItemDataRole.DecorationRole and c == 1:
            return self.colors.get(h.group)
        if role == Qt.ItemDataRole.TextAlignmentRole and (c == 0 or c >= len(BASE)):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.UserRole:
            return h.text_id
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort by a column; rows without a value stay last in either direction."""
        t = self.table
        n = len(t)
        if not n:
            return
        desc = order == Qt.SortOrder.DescendingOrder
        if column == 0 or column >= len(BASE):
            v = (np.asarray([h.text_id for h in t.hits], dtype=np.float64) if column == 0
                 else t.values[:, column - len(BASE)].astype(np.float64))
            missing = ~np.isfinite(v)
            key = np.where(missing, 0.0, -v if desc else v)
            perm = np.lexsort((np.arange(n), key, missing))
        else:
            texts = [[h.text_id, h.group, h.prompt_title or h.prompt_key, h.snippet][column]
                     for h in t.hits]
            perm = np.asarray(sorted(range(n), key=lambda i: str(texts[i]).lower(),
                                     reverse=desc), dtype=np.int64)
        self.layoutAboutToBeChanged.emit()
        self.table = TextTable([t.hits[i] for i in perm], t.attributes, t.values[perm],
                               [t.labels[i] for i in perm])
        self.layoutChanged.emit()

    def text_ids(self) -> list[int]:
        return [h.text_id for h in self.table.hits]


class SelectionTable(QWidget):
    """The Selection dock's table (see the module docstring)."""

    text_activated = Signal(int)  # a row clicked (or Enter): open its text
    clear_requested = Signal()  # the Clear button

    def __init__(self, runner: TaskRunner, state: ExplorerState,
                 study: Callable[[], Study | None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.state = state
        self._study = study
        self.point_ids = np.zeros(0, np.int64)  # the map's text ids
        self.columns: list[AttributeColumn] = []
        self._stale = True  # the rows no longer match the selection (reload when shown)
        self.counter = QLabel("")
        self.counter.setWordWrap(True)
        self.clear_button = QPushButton("Clear (Esc)")
        self.clear_button.setToolTip("Clear the selection everywhere; Ctrl+Z undoes it")
        self.clear_button.clicked.connect(self.clear_requested)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setToolTip("Write the rows listed, in their order, to a CSV file")
        self.export_button.clicked.connect(self._export_dialog)
        bar = QHBoxLayout()
        bar.addWidget(self.counter, 1)
        bar.addWidget(self.clear_button)
        bar.addWidget(self.export_button)
        self.model = TextTableModel()
        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.setSortingEnabled(True)
        self.view.horizontalHeader().setSortIndicatorShown(True)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setWordWrap(False)
        self.view.setAlternatingRowColors(True)
        self.view.verticalHeader().hide()
        self.view.verticalHeader().setDefaultSectionSize(22)
        head = self.view.horizontalHeader()
        head.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        head.setMinimumSectionSize(36)
        self.view.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.view.clicked.connect(self._activated)
        self.view.activated.connect(self._activated)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(bar)
        lay.addWidget(self.view, 1)
        self._update_counter()
        state.subscribe(self._state_changed)

    # -- inputs --------------------------------------------------------------------------
    def set_map(self, point_ids: npt.ArrayLike, columns: Sequence[AttributeColumn],
                colors: dict[str, tuple[int, int, int]]) -> None:
        """The map's texts, their attribute values and each group label's colour."""
        self.point_ids = np.asarray(point_ids, dtype=np.int64)
        self.columns = list(columns)
        self.model.colors = {k: QColor(*c) for k, c in colors.items()}
        self._changed()

    def _state_changed(self, change: Change) -> None:
        if "selection" in change or "dataset_id" in change:
            self._changed()

    def _changed(self) -> None:
        self._stale = True
        self._update_counter()
        if self.isVisible():
            self.reload()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self.reload()

    def shown_ids(self) -> npt.NDArray[np.int64]:
        """The texts the table lists: the selection's texts on the map (all without one)."""
        sel = self.state.selection
        if sel is None:
            return np.sort(self.point_ids)
        ids = np.asarray(sel, dtype=np.int64)
        return ids[np.isin(ids, self.point_ids)]

    def counter_text(self) -> str:
        total = len(self.point_ids)
        sel = self.state.selection
        if sel is None:
            return (text_table.counter(None, total) + ", none selected: select on the map, "
                    "in a plot or by a search")
        n = int(np.count_nonzero(np.isin(self.point_ids, np.asarray(sel, dtype=np.int64))))
        return text_table.counter(n, total, self.state.selection_label)

    def _update_counter(self) -> None:
        self.counter.setText(self.counter_text())
        self.clear_button.setEnabled(self.state.selection is not None)

    def reload(self) -> None:
        """Read the rows of the texts listed (in a worker)."""
        study = self._study()
        self._stale = False
        if study is None or not len(self.point_ids):
            self.model.set_table(TextTable())
            return
        ids = self.shown_ids().tolist()
        job = self.runner.submit("selection-table", _rows_task, (study, ids))
        job.finished.connect(self._rows_loaded)

    def _rows_loaded(self, hits: list[Hit]) -> None:
        self.model.set_table(text_table.build(hits, self.point_ids, self.columns))
        head = self.view.horizontalHeader()
        if head.sortIndicatorSection() >= 0 and head.isSortIndicatorShown():
            self.model.sort(head.sortIndicatorSection(), head.sortIndicatorOrder())
        fm = self.view.horizontalHeader().fontMetrics()
        for i in range(self.model.columnCount()):
            head_w = fm.horizontalAdvance(str(self.model.headerData(
                i, Qt.Orientation.Horizontal, Qt.ItemDataRole.DisplayRole) or "")) + 28
            # the header whole (its text and the sort arrow), at least the usual width
            self.view.setColumnWidth(i, max([56, 110, 120, 260][i] if i < 4 else 110, head_w))

    # -- open and export -----------------------------------------------------------------
    def _activated(self, index: QModelIndex) -> None:
        tid = index.data(Qt.ItemDataRole.UserRole)
        if tid is not None:
            self.text_activated.emit(int(tid))

    def export(self, path: str | Path) -> Path:
        """Write the rows listed, in the order shown, to CSV."""
        return text_table.export_csv(self.model.table, path)

    def _export_dialog(self) -> None:
        from monoscope.core.errors import MonoscopeError

        path, _ = QFileDialog.getSaveFileName(self, "Export the selection to CSV",
                                              "selection.csv", "CSV (*.csv)")
        if not path:
            return
        try:
            out = self.export(path)
        except MonoscopeError as exc:
            self.counter.setText(str(exc))
            return
        self.counter.setText(f"Wrote {len(self.model.table):,} rows to {out}")


def _rows_task(req: tuple[Study, list[int]], state: TaskState) -> list[Hit]:
    study, ids = req
    return text_table.rows(study, ids)
