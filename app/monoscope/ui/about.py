"""About dialog: version, the method it implements, and licences/attributions of bundled assets.

Embedding::

    help_menu.addAction("About Monoscope", lambda: AboutDialog(window).exec())
"""

from __future__ import annotations

import html
import platform

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from monoscope import __version__
from monoscope.core import assets

METHOD = (
    "Implements the method of F. Wu, E. Black and V. Chandrasekaran, "
    "<i>Generative Monoculture in Large Language Models</i> (ICLR 2025, arXiv 2407.02209)."
)


def library_versions() -> dict[str, str]:
    """Versions of the libraries shown in the dialog (without importing heavy ones)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"Python": platform.python_version()}
    for dist in ("PySide6-Essentials", "pyqtgraph", "duckdb", "llama-cpp-python", "sentence-transformers",
                 "umap-learn"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "not installed"
    return out


class AboutDialog(QDialog):
    """Version, method reference, library versions and a table of bundled assets' licences."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About Monoscope")
        libs = ", ".join(f"{k} {v}" for k, v in library_versions().items())
        head = QLabel(
            f"<h2>Monoscope {html.escape(__version__)}</h2>"
            "<p>A desktop explorer for generative monoculture: lay a language model's outputs "
            "over what people wrote for the same prompt, and measure the narrowing.</p>"
            f"<p>{METHOD}</p><p>Licence: Apache-2.0.</p>"
            f"<p style='color: gray'>{html.escape(libs)}</p>"
        )
        head.setWordWrap(True)
        head.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        rows = assets.attributions()
        self.table = QTableWidget(len(rows), 3)
        self.table.setHorizontalHeaderLabels(("bundled asset", "licence", "attribution"))
        self.table.verticalHeader().setVisible(False)
        for i, (name, licence, attribution) in enumerate(rows):
            for j, text in enumerate((name, licence, attribution)):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(i, j, item)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.resizeColumnsToContents()
        self.table.setWordWrap(True)
        self.table.resizeRowsToContents()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(head)
        lay.addWidget(QLabel("Bundled models and data (fetched on first use):"))
        lay.addWidget(self.table, 1)
        lay.addWidget(buttons)
        self.resize(900, 520)
