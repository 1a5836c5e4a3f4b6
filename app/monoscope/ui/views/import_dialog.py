"""The import dialog: a table file's columns, a guessed column mapping, a preview of the first
rows and of the prompts the mapping makes, then the importer's report and messages.

Every read of the file (columns and first rows, the key counts of a mapping) and the import
itself run in the window's `TaskRunner`, never on the GUI thread. The dialog is window-modal
but not blocking (`open()`), stays open after the import to show the report, and emits
`imported(ImportOutcome)`; the window then shows the new dataset and computes its map.

Embedding::

    dlg = ImportDialog(study, "reviews.csv", runner, parent=window)
    dlg.imported.connect(lambda outcome: window.set_dataset(outcome.dataset_id))
    dlg.open()
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from monoscope.core.store import Study, catalog
from monoscope.core.store import datasets as datasets_repo
from monoscope.core.store.catalog import FilePreview, KeyPreview
from monoscope.core.tasks import Progress, TaskState, format_eta
from monoscope.ui.workers import Job, TaskRunner

if TYPE_CHECKING:
    from monoscope.core.importers.common import ImportReport

ROLES = ("key", "text", "title", "context", "label", "rating")
REQUIRED = ("key", "text")
ROLE_HELP = {
    "key": "groups rows into prompts (a book id, a film)",
    "text": "the human text of the row",
    "title": "the prompt's title, shown in the table",
    "context": "a description given to the model with the prompt",
    "label": "a class or sentiment label of the text",
    "rating": "a numeric rating of the text",
}
# Column-name hints per role, strongest first; a hint matches the whole name or one of its
# words (``book_id`` has the words ``book`` and ``id``).
HINTS: dict[str, tuple[str, ...]] = {
    "key": ("key", "prompt_id", "prompt", "book_id", "movie_id", "film_id", "item_id",
            "product_id", "book", "movie", "film", "item", "product", "asin", "id"),
    "text": ("text", "review", "body", "content", "comment", "snippet", "solution", "answer",
             "response", "completion", "quote", "description"),
    "title": ("title", "name", "headline"),
    "context": ("context", "summary", "question", "problem", "description", "prompt_text"),
    "label": ("label", "sentiment", "class", "category", "polarity", "verdict"),
    "rating": ("rating", "stars", "star", "score", "rate", "grade"),
}
PREVIEW_ROWS = 50
NONE = "(none)"


def _words(name: str) -> list[str]:
    return [w for w in re.split(r"[^0-9a-z]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower())
            if w]


def _score(column: str, hints: Sequence[str]) -> int | None:
    """Rank of the best hint the column matches (lower is better), None when none does."""
    low, words = column.lower(), _words(column)
    for rank, hint in enumerate(hints):
        if low == hint:
            return rank
    for rank, hint in enumerate(hints):
        if hint in words or ("_" in hint and hint in low):
            return len(hints) + rank
    return None


def guess_mapping(columns: Sequence[str], rows: Sequence[Sequence[str | None]] = ()
                  ) -> dict[str, str | None]:
    """A column for each role, guessed from the names (and, for the text, from the longest
    values in ``rows`` when no name says so); each column fills at most one role."""
    out: dict[str, str | None] = dict.fromkeys(ROLES)
    used: set[str] = set()
    for role in ("key", "text", "rating", "label", "title", "context"):
        best: tuple[int, str] | None = None
        for c in columns:
            if c in used:
                continue
            if role != "key" and "id" in _words(c):  # book_id is a key, never a text
                continue
            s = _score(c, HINTS[role])
            if s is not None and (best is None or s < best[0]):
                best = (s, c)
        if best is None and role == "text" and rows:
            best = _longest(columns, rows, used)
        if best is not None:
            out[role] = best[1]
            used.add(best[1])
    if out["key"] is None and out["title"] is not None:  # films by title: the title is the key
        out["key"], out["title"] = out["title"], None
    return out


def _longest(columns: Sequence[str], rows: Sequence[Sequence[str | None]], used: set[str]
             ) -> tuple[int, str] | None:
    """The free column whose values are longest on average (a text column nobody named)."""
    best: tuple[float, str] | None = None
    for j, c in enumerate(columns):
        if c in used:
            continue
        vals = [r[j] for r in rows if j < len(r) and r[j] is not None]
        if not vals or all(_is_number(v) for v in vals if v is not None):
            continue
        mean = sum(len(str(v)) for v in vals) / len(vals)
        if mean >= 20 and (best is None or mean > best[0]):
            best = (mean, c)
    return None if best is None else (0, best[1])


def _is_number(v: str) -> bool:
    try:
        float(v)
    except ValueError:
        return False
    return True


# -- tasks (run in the window's runner) ----------------------------------------------------------
def preview_task(path: str, state: TaskState) -> FilePreview:
    """Task: the columns and first rows of the file."""
    return catalog.file_preview(path, PREVIEW_ROWS)


def key_preview_task(request: tuple[str, str, str | None], state: TaskState) -> KeyPreview:
    """Task: the prompts a key column (and text column) would make of the whole file."""
    path, key, text = request
    return catalog.file_key_preview(path, key, text)


@dataclass
class ImportOutcome:
    """What an import wrote: the dataset's id and name and the importer's report."""

    dataset_id: int | None
    dataset: str
    report: ImportReport | None = None
    lines: list[str] = field(default_factory=list)


ImportFn = Callable[[Study, TaskState], "ImportReport"]


def import_task(request: tuple[Study, ImportFn], state: TaskState) -> ImportOutcome:
    """Task: run an import, then look up the dataset it wrote."""
    study, run = request
    report = run(study, state)
    found = datasets_repo.find(study, report.dataset)
    return ImportOutcome(None if found is None else found.id, report.dataset, report,
                         report.lines())


# -- the dialog ----------------------------------------------------------------------------------
DEFAULT_COLUMN = 140  # px: a preview column's width (the text column takes the rest)


class ImportDialog(QDialog):
    """Columns, guessed mapping, preview, import, report (see the module docstring)."""

    imported = Signal(object)  # ImportOutcome

    def __init__(self, study: Study, path: str | Path, runner: TaskRunner,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.study = study
        self.path = Path(path)
        self.runner = runner
        self.preview: FilePreview | None = None
        self.keys: KeyPreview | None = None
        self.outcome: ImportOutcome | None = None
        self.job: Job | None = None
        self.setWindowTitle(f"Import texts — {self.path.name}")
        self.setWindowModality(Qt.WindowModality.WindowModal)

        self.file_label = QLabel(f"<b>{self.path.name}</b> · reading the columns…")
        self.file_label.setToolTip(str(self.path))
        self.dataset = QLineEdit(self.path.name.split(".")[0])
        self.dataset.setToolTip("The name of the new dataset in the study")
        self.boxes: dict[str, QComboBox] = {}
        grid = QGridLayout()
        for i, role in enumerate(ROLES):
            box = QComboBox()
            box.setMinimumContentsLength(14)
            box.setToolTip(ROLE_HELP[role])
            box.currentIndexChanged.connect(lambda _i, r=role: self._mapping_changed(r))
            self.boxes[role] = box
            name = QLabel(f"{role}{' *' if role in REQUIRED else ''}")
            name.setToolTip(ROLE_HELP[role])
            grid.addWidget(name, i // 3, 2 * (i % 3))
            grid.addWidget(box, i // 3, 2 * (i % 3) + 1)
            grid.setColumnStretch(2 * (i % 3) + 1, 1)
        form = QFormLayout()
        form.addRow("Dataset name", self.dataset)
        mapping = QGroupBox("Which column holds what (* required; guessed from the names)")
        ml = QVBoxLayout(mapping)
        ml.addLayout(form)
        ml.addLayout(grid)

        self.table = QTableWidget(0, 0)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setDefaultSectionSize(DEFAULT_COLUMN)
        self.table.verticalHeader().setDefaultSectionSize(22)
        rows_box = QGroupBox(f"First rows of the file (up to {PREVIEW_ROWS})")
        rl = QVBoxLayout(rows_box)
        rl.addWidget(self.table)
        self.prompts_label = QLabel("")
        self.prompts_label.setWordWrap(True)
        self.prompts_label.setTextFormat(Qt.TextFormat.RichText)
        prompts_box = QGroupBox("Prompts this mapping makes")
        pl = QVBoxLayout(prompts_box)
        pl.addWidget(self.prompts_label)

        self.messages = QPlainTextEdit()
        self.messages.setReadOnly(True)
        self.messages.setPlaceholderText("The importer's report and messages appear here.")
        self.messages.setMinimumHeight(120)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.progress.setTextVisible(True)
        self.buttons = QDialogButtonBox()
        self.import_button = QPushButton("Import")
        self.import_button.setDefault(True)
        self.import_button.setEnabled(False)
        self.import_button.clicked.connect(self.start_import)
        self.buttons.addButton(self.import_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.close_button.clicked.connect(self._close_clicked)
        bottom = QHBoxLayout()
        bottom.addWidget(self.progress, 1)
        bottom.addWidget(self.buttons)

        lay = QVBoxLayout(self)
        lay.addWidget(self.file_label)
        lay.addWidget(mapping)
        lay.addWidget(rows_box, 2)
        lay.addWidget(prompts_box)
        lay.addWidget(QLabel("Messages"))
        lay.addWidget(self.messages, 1)
        lay.addLayout(bottom)
        self.resize(900, 720)
        self._load_preview()

    # -- reading the file ------------------------------------------------------------------
    def _load_preview(self) -> None:
        job = self.runner.submit("import-preview", preview_task, str(self.path))
        job.finished.connect(self._preview_loaded)
        job.failed.connect(self._preview_failed)

    def _preview_failed(self, message: str) -> None:
        self.file_label.setText(f"<b>{self.path.name}</b> · cannot be read")
        self.messages.setPlainText(message)

    def _preview_loaded(self, preview: FilePreview) -> None:
        self.preview = preview
        self.file_label.setText(f"<b>{self.path.name}</b> · {len(preview.columns)} columns: "
                                + ", ".join(preview.columns))
        guess = guess_mapping(preview.columns, preview.rows)
        for role, box in self.boxes.items():
            box.blockSignals(True)
            box.clear()
            if role not in REQUIRED or guess[role] is None:
                box.addItem(NONE, None)
            for c, t in zip(preview.columns, preview.types, strict=True):
                box.addItem(c, c)
                box.setItemData(box.count() - 1, t, Qt.ItemDataRole.ToolTipRole)
            box.setCurrentIndex(max(0, box.findData(guess[role])))
            box.blockSignals(False)
        self.table.setColumnCount(len(preview.columns))
        self.table.setRowCount(len(preview.rows))
        for i, row in enumerate(preview.rows):
            for j, v in enumerate(row):
                shown = "" if v is None else " ".join(v.split())
                item = QTableWidgetItem(shown[:200] + ("…" if len(shown) > 200 else ""))
                if v is not None and len(v) > 60:
                    item.setToolTip(v[:2000])
                self.table.setItem(i, j, item)
        self._mapping_changed("key")

    def mapping(self) -> dict[str, str | None]:
        """The chosen column of each role (None: not mapped)."""
        return {role: box.currentData() for role, box in self.boxes.items()}

    def _mapping_changed(self, role: str) -> None:
        if self.preview is None:
            return
        m = self.mapping()
        marks = {c: r for r, c in m.items() if c is not None}
        self.table.setHorizontalHeaderLabels(
            [f"{c} → {marks[c]}" if c in marks else c for c in self.preview.columns])
        self._fit_text_column()
        missing = [r for r in REQUIRED if m[r] is None]
        self.import_button.setEnabled(not missing and self.outcome is None)
        if missing:
            self.prompts_label.setText(f"Choose the {' and '.join(missing)} column.")
            return
        if role in ("key", "text"):
            self.prompts_label.setText("Counting…")
            key, text = m["key"], m["text"]
            assert key is not None
            job = self.runner.submit("import-keys", key_preview_task, (str(self.path), key, text))
            job.finished.connect(self._keys_loaded)
            job.failed.connect(self.prompts_label.setText)

    def _fit_text_column(self) -> None:
        """The text column takes the preview's spare width (the others keep theirs)."""
        text = self.mapping().get("text")
        if self.preview is None:
            return
        header = self.table.horizontalHeader()
        for j, c in enumerate(self.preview.columns):
            header.setSectionResizeMode(j, QHeaderView.ResizeMode.Stretch if c == text
                                        else QHeaderView.ResizeMode.Interactive)

    def _keys_loaded(self, keys: KeyPreview) -> None:
        self.keys = keys
        first = ", ".join(f"{k} ({n})" for k, n in keys.first)
        more = " …" if keys.prompts > len(keys.first) else ""
        lines = [f"<b>{keys.prompts:,} prompts</b> from {keys.rows:,} rows "
                 f"({keys.texts:,} with a text).", f"First keys (texts): {first}{more}"]
        if keys.keyless:
            lines.append(f"<span style='color:#b00'>{keys.keyless:,} rows have no key: the "
                         "import stops at the first of them; choose another key column or "
                         "fill the keys.</span>")
        self.prompts_label.setText("<br>".join(lines))

    # -- importing -------------------------------------------------------------------------
    def start_import(self) -> Job | None:
        """Import the file with the chosen mapping (in the runner's writer lane)."""
        from monoscope.core.importers import ColumnMap, import_table

        m = self.mapping()
        name = self.dataset.text().strip()
        if m["key"] is None or m["text"] is None or not name:
            self.messages.setPlainText("Choose the key and text columns and name the dataset.")
            return None
        mapping = ColumnMap(key=m["key"], text=m["text"], title=m["title"],
                            context=m["context"], label=m["label"], rating=m["rating"])
        path = str(self.path)

        def run(study: Study, state: TaskState) -> ImportReport:
            return import_table(study, path, dataset=name, mapping=mapping, state=state)

        self.import_button.setEnabled(False)
        self.messages.setPlainText(f"Importing {self.path.name} as dataset {name!r}…")
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)
        job = self.runner.submit("import", import_task, (self.study, run))
        self.job = job
        job.progressed.connect(self._progress)
        job.finished.connect(self._imported)
        job.failed.connect(self._failed)
        job.cancelled.connect(lambda: self._failed("Import cancelled; nothing was written."))
        return job

    def _progress(self, p: Progress) -> None:
        self.progress.setRange(0, max(1, p.total))
        self.progress.setValue(p.done)
        self.progress.setFormat(f"{p.stage} {p.message} · ETA {format_eta(p.eta_s)}".strip())

    def _imported(self, outcome: ImportOutcome) -> None:
        self.outcome = outcome
        self.progress.setVisible(False)
        self.messages.setPlainText("\n".join(
            [*outcome.lines, "", "The window now computes the embeddings and the map of the "
             "new dataset (progress in the status bar)."]))
        self.close_button.setText("Done")
        self.imported.emit(outcome)

    def _failed(self, message: str) -> None:
        self.progress.setVisible(False)
        self.messages.setPlainText(message)
        self._mapping_changed("")

    def _close_clicked(self) -> None:
        if self.job is not None and not self.job.done:
            self.job.cancel()
        self.accept() if self.outcome is not None else self.reject()
