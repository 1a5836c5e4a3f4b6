"""Search panel: full-text or semantic search over the dataset's texts, a table of hits that
exports to CSV.

The panel reads nothing itself: queries run as `TaskRunner` jobs through the read model
`monoscope.core.explore.search`. It reads the dataset and the prompt from the window's
`ExplorerState`, and tells the window through signals which texts were found
(`hits_changed`: the window makes them the explorer's selection, added to it when Shift was
held as the search started, `combine_mode`) and which text to open (`text_activated`). In
"current prompt" scope a prompt change re-runs the last query on the new prompt. The
selection's own table is the Selection dock (`selection_table.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from monoscope.core.explore.search import (
    Hit,
    SearchRequest,
    SearchResult,
    export_csv,
    search,
)
from monoscope.core.explore.state import Change, ExplorerState
from monoscope.core.store import Study
from monoscope.core.tasks import TaskState
from monoscope.ui.workers import TaskRunner

AnyIndex = QModelIndex | QPersistentModelIndex


class HitsModel(QAbstractTableModel):
    """Rows of `Hit`s; ``score`` adds the score column (search hits)."""

    def __init__(self, score: bool) -> None:
        super().__init__()
        self.hits: list[Hit] = []
        self.columns = ["#", "Score", "Prompt", "Group", "Snippet"] if score else [
            "Text", "Prompt", "Group", "Snippet"]

    def set_hits(self, hits: Sequence[Hit]) -> None:
        self.beginResetModel()
        self.hits = list(hits)
        self.endResetModel()

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.hits)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section]
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        h = self.hits[index.row()]
        col = self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return {"#": str(index.row() + 1), "Text": str(h.text_id),
                    "Score": "" if np.isnan(h.score) else f"{h.score:.3f}",
                    "Prompt": h.prompt_title or h.prompt_key, "Group": h.group,
                    "Snippet": h.snippet}[col]
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == "Prompt":
                return f"{h.prompt_title} [{h.prompt_key}]"
            if col == "Snippet":
                return f"text {h.text_id}: {h.snippet}"
            return f"text {h.text_id}"
        if role == Qt.ItemDataRole.TextAlignmentRole and col in ("#", "Score", "Text"):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.UserRole:
            return h.text_id
        return None


def _table(model: HitsModel) -> QTableView:
    view = QTableView()
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setWordWrap(False)
    view.setAlternatingRowColors(True)
    view.verticalHeader().hide()
    view.verticalHeader().setDefaultSectionSize(22)
    head = view.horizontalHeader()
    head.setStretchLastSection(True)
    head.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    head.setMinimumSectionSize(36)
    return view


class SearchPanel(QWidget):
    """The search box and its hits (see the module docstring)."""

    text_activated = Signal(int)  # a hit clicked (or Enter): open it
    hits_changed = Signal(object)  # int64 array of the text ids found, or None

    def __init__(self, runner: TaskRunner, state: ExplorerState,
                 study: Callable[[], Study | None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.state = state
        self._study = study
        self.result: SearchResult | None = None
        self.text_limit = 500  # hits listed in text mode (every match is lit on the map)
        self.semantic_limit = 25  # nearest texts found, listed and lit in semantic mode
        self.combine_mode = "replace"  # how the hits join the selection (Shift: "add")

        self.query = QLineEdit()
        self.query.setPlaceholderText("Search texts (Enter)…")
        self.query.setClearButtonEnabled(True)
        self.query.setToolTip("Text: every word must occur in the text (ranked by BM25). "
                              "Semantic: the texts closest in meaning (MiniLM embeddings). "
                              "The hits become the selection (Shift+Enter adds them to it). "
                              "Ctrl+Shift+F puts the cursor here.")
        self.query.returnPressed.connect(self.run)
        self.mode = QComboBox()
        self.mode.addItem("Text", "text")
        self.mode.addItem("Semantic", "semantic")
        self.mode.setToolTip("Text: words in the text; semantic: nearest texts in meaning")
        self.scope = QComboBox()
        self.scope.addItem("Current prompt", "prompt")
        self.scope.addItem("Whole dataset", "dataset")
        self.mode.currentIndexChanged.connect(lambda _i: self._rerun())
        self.scope.currentIndexChanged.connect(lambda _i: self._rerun())
        go = QPushButton("Search")
        go.clicked.connect(self.run)
        self.export_hits_button = QPushButton("Export CSV…")
        self.export_hits_button.setToolTip("Write the hits listed to a CSV file")
        self.export_hits_button.clicked.connect(lambda: self._export_dialog("hits"))
        bar = QHBoxLayout()
        bar.addWidget(self.query, 1)
        bar.addWidget(self.mode)
        bar.addWidget(self.scope)
        bar.addWidget(go)
        bar.addWidget(self.export_hits_button)
        self.status = QLabel("Type words to find the texts holding them, or switch to "
                             "Semantic to find texts close in meaning.")
        self.status.setWordWrap(True)
        self.hits_model = HitsModel(score=True)
        self.hits_view = _table(self.hits_model)
        self._wire(self.hits_view)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(bar)
        lay.addWidget(self.status)
        lay.addWidget(self.hits_view, 1)
        self._size_columns(self.hits_view, [36, 60, 160, 120])
        state.subscribe(self._state_changed)

    def _wire(self, view: QTableView) -> None:
        view.clicked.connect(self._activated)
        view.activated.connect(self._activated)

    @staticmethod
    def _size_columns(view: QTableView, widths: list[int]) -> None:
        for i, w in enumerate(widths):
            view.setColumnWidth(i, w)

    # -- search --------------------------------------------------------------------------
    def focus_query(self) -> None:
        self.query.setFocus()
        self.query.selectAll()

    def set_mode(self, mode: str) -> None:
        self.mode.setCurrentIndex(max(0, self.mode.findData(mode)))

    def set_scope(self, scope: str) -> None:
        """'prompt' (the current prompt) or 'dataset'."""
        self.scope.setCurrentIndex(max(0, self.scope.findData(scope)))

    def run(self, query: str | None = None, mode: str | None = None) -> None:
        """Run the query in the box (or ``query``, put in the box) in a worker; its hits
        replace the selection, or join it by ``mode`` ('add': Shift held as it starts)."""
        if mode is None:
            shift = QApplication.keyboardModifiers() & Qt.KeyboardModifier.ShiftModifier
            mode = "add" if shift else "replace"
        self.combine_mode = mode
        if isinstance(query, str):
            self.query.setText(query)
        text = self.query.text().strip()
        study, ds = self._study(), self.state.dataset_id
        if not text:
            self.clear_results("Type a word or a sentence to search for.")
            return
        if study is None or ds is None:
            self.clear_results("Open a study with a dataset to search its texts.")
            return
        key = self.state.prompt if self.scope.currentData() == "prompt" else None
        if self.scope.currentData() == "prompt" and key is None:
            self.clear_results("Choose a prompt, or search the whole dataset.")
            return
        mode = str(self.mode.currentData())
        limit = self.semantic_limit if mode == "semantic" else self.text_limit
        req = SearchRequest(study, ds, text, mode, key, limit)
        self.status.setText("Loading the embedding model and searching…" if mode == "semantic"
                            else "Searching…")
        job = self.runner.submit("search", _search_task, req)
        job.finished.connect(self._searched)
        job.failed.connect(lambda msg: self.clear_results(msg))

    def _rerun(self) -> None:
        if self.result is not None and self.query.text().strip():
            self.run(mode="replace")

    def clear_results(self, message: str = "") -> None:
        self.result = None
        self.hits_model.set_hits([])
        self.status.setText(message)
        self.hits_changed.emit(None)

    def _searched(self, result: SearchResult) -> None:
        self.result = result
        self.hits_model.set_hits(result.hits)
        where = "this prompt" if result.prompt_key is not None else "the dataset"
        ms = f"{result.seconds * 1000:.0f} ms"
        if result.mode == "text":
            words = " ".join(result.terms)
            msg = (f"{result.total:,} texts of {where} hold every word of “{words}” "
                   f"(ranked by BM25) · {ms}")
            if result.total > len(result.hits):
                msg += f" · first {len(result.hits):,} listed, all lit on the map"
        else:
            msg = f"{result.total:,} texts of {where} nearest in meaning · {result.note} · {ms}"
        self.status.setText(msg)
        self.hits_changed.emit(result.ids)

    def hit_ids(self) -> np.ndarray[Any, np.dtype[np.int64]] | None:
        """Every text id of the last result (what the map lights), None without one."""
        return None if self.result is None else self.result.ids

    def selection_label(self) -> str:
        """How a selection made of the last result's hits is named."""
        if self.result is None:
            return ""
        kind = "search" if self.result.mode == "text" else "semantic search"
        q = self.result.query if len(self.result.query) <= 30 else self.result.query[:29] + "…"
        return f"{kind} “{q}”"

    def _state_changed(self, change: Change) -> None:
        if "dataset_id" in change:
            self.clear_results("")
        elif ("prompt" in change or "whole_dataset" in change) and (
                self.scope.currentData() == "prompt"):
            self._rerun()

    # -- open and export -----------------------------------------------------------------
    def _activated(self, index: QModelIndex) -> None:
        tid = index.data(Qt.ItemDataRole.UserRole)
        if tid is not None:
            self.text_activated.emit(int(tid))

    def export(self, which: str, path: str | Path) -> Path:
        """Write the hits listed ('hits') to CSV."""
        if which != "hits":
            raise ValueError("the search panel exports its hits; the selection's table is the "
                             "Selection dock's")
        return export_csv(self.hits_model.hits, path)

    def _export_dialog(self, which: str) -> None:
        from monoscope.core.errors import MonoscopeError

        path, _ = QFileDialog.getSaveFileName(self, "Export to CSV", f"{which}.csv",
                                              "CSV (*.csv)")
        if not path:
            return
        try:
            out = self.export(which, path)
        except MonoscopeError as exc:
            self.status.setText(str(exc))
            return
        self.status.setText(f"Wrote {out}")


def _search_task(req: SearchRequest, state: TaskState) -> SearchResult:
    return search(req, state)
