"""Hivemind: how alike the source and every run write, as a groups × groups heatmap, and each
group's per-prompt mean pairwise similarity (after Jiang et al. 2025, "Artificial Hivemind").

Top: cell (A, B) = the mean cosine between A's and B's texts of the same prompt, averaged over
the prompts both cover (the stored `cross_cosine` rows); on the diagonal the mean cosine
between two disjoint halves of a group, so the source's diagonal cell — people against other
people — is the yardstick: a run closer to another run than people are to each other writes
like a hivemind. Each cell shows the value and the prompts behind it; the colour bar is the
shared heat scale (`monoscope.core.explore.palette.HEAT`). Clicking a cell emits
`runs_activated(a, b)` (the window opens Compare with those runs; a cell of the source and run
X opens X on both sides, since Compare draws every run over the source). Bottom: Hivemind's
histogram, the share of each group's prompts per bin of its per-prompt mean pairwise cosine
(stored `mean_pairwise_cosine` rows; the source on the prompts the runs cover).

    view = HivemindView(runner=window.runner)
    view.set_study(study, dataset_id)          # None: the study's first dataset
    view.export("hivemind.png"); view.export_matrix("hivemind.csv")

Every number is a stored row of the measure stage, read in a worker (`TaskRunner`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QTextOption
from PySide6.QtWidgets import (
    QFileDialog,
    QGraphicsRectItem,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from monoscope.core.errors import MonoscopeError
from monoscope.core.explore import palette
from monoscope.core.explore.hivemind import HivemindData, compute_hivemind
from monoscope.core.explore.labels import elide
from monoscope.core.store import Study
from monoscope.ui.loaders import figure_task
from monoscope.ui.views.figure_common import (
    FigureViewMixin,
    group_color,
    legend_below,
    plain_axis,
)
from monoscope.ui.workers import TaskRunner

NO_DATA = "Open a study with a dataset to see how alike its groups write."
NO_MATRIX = ("No cross-set cosines stored yet: the dataset needs embeddings (Run ▸ Annotate) "
             "and a measurement (Run ▸ Measure).")
LABEL_CHARS = 26


def heat_map() -> pg.ColorMap:
    """The shared heat scale as a pyqtgraph colour map."""
    return pg.ColorMap(np.linspace(0.0, 1.0, len(palette.HEAT)), list(palette.HEAT))


def _short(label: str, size: int = LABEL_CHARS) -> str:
    """A long label cut in the middle (a run's '#id' first, its sampling last)."""
    return elide(label, size)


class _HeatImage(pg.ImageItem):  # type: ignore[misc]
    """The matrix image; a click reports the cell (row, column) under the mouse."""

    def __init__(self, on_click: Callable[[int, int], None]) -> None:
        super().__init__()
        self._on_click = on_click

    def mouseClickEvent(self, ev: Any) -> None:
        img = self.image
        pos = ev.pos()  # in image pixels: x = column, y = row
        if img is None:
            ev.ignore()
            return
        j, i = math.floor(pos.x()), math.floor(pos.y())
        if not (0 <= j < img.shape[0] and 0 <= i < img.shape[1]):
            ev.ignore()
            return
        ev.accept()
        self._on_click(i, j)


class HivemindView(FigureViewMixin, QWidget):
    """The groups × groups heatmap and the similarity histograms; see the module docstring."""

    task_key = "hivemind"

    runs_activated = Signal(int, int)  # run A, run B of a clicked cell
    loaded = Signal()

    def __init__(self, study: Study | None = None, runner: TaskRunner | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner or TaskRunner(self)
        self.study: Study | None = None
        self.dataset_id: int | None = None
        self.data: HivemindData | None = None
        self.cell_items: dict[tuple[int, int], pg.TextItem] = {}
        self.hist_items: dict[str, pg.PlotDataItem] = {}
        self.extra_items: list[Any] = []  # the yardstick's outline

        self.status = QLabel(NO_DATA)
        self.status.setWordWrap(True)
        export_btn = QPushButton("Export figure…")
        export_btn.clicked.connect(self._export_clicked)
        csv_btn = QPushButton("Export matrix (CSV)…")
        csv_btn.clicked.connect(self._export_matrix_clicked)
        top = QHBoxLayout()
        top.addWidget(self.status, 1)
        top.addWidget(export_btn)
        top.addWidget(csv_btn)
        self.caption = QLabel("")
        self.caption.setWordWrap(True)
        self.caption.setStyleSheet("color: #555;")

        canvas = pg.GraphicsLayoutWidget()
        canvas.setBackground("w")
        self.canvas = canvas
        self.heat: pg.PlotItem = canvas.addPlot(row=0, col=0)
        self.heat.setTitle("mean cross-set cosine over prompts", size="10pt")
        self.heat.invertY(True)
        self.heat.setAspectLocked(False)
        self.heat.setMouseEnabled(x=False, y=False)
        self.heat.hideButtons()
        self.heat.setMenuEnabled(False)
        self.image = _HeatImage(self._cell_clicked)
        self.heat.addItem(self.image)
        self.colorbar = pg.ColorBarItem(values=(0.0, 1.0), colorMap=heat_map(),
                                        interactive=False, width=16,
                                        label="mean cosine")
        self.colorbar.setImageItem(self.image, insert_in=self.heat)
        self.hist: pg.PlotItem = canvas.addPlot(row=1, col=0)
        self.hist.setTitle("per-prompt similarity of each group", size="10pt")
        self.hist.setLabel("left", "share of prompts")
        self.hist.setLabel("bottom", "mean pairwise cosine of a prompt's texts")
        self.hist.showGrid(x=True, y=True, alpha=0.2)
        self.hist.setMouseEnabled(x=False, y=False)
        self.hist.hideButtons()
        plain_axis(self.hist.getAxis("left"))
        self.legend = legend_below(canvas, row=2)  # under the histogram, off its data
        canvas.ci.layout.setRowStretchFactor(0, 3)
        canvas.ci.layout.setRowStretchFactor(1, 2)

        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.caption)
        lay.addWidget(canvas, 1)
        if study is not None:
            self.set_study(study)

    # -- data -------------------------------------------------------------------------------
    def set_study(self, study: Study | None, dataset_id: int | None = None) -> None:
        """Show a study (None clears); its first dataset unless one is given."""
        self.study = study
        self.dataset_id = dataset_id
        self.refresh()

    def load_task(self) -> tuple[Any, Any]:
        return figure_task(compute_hivemind), (self.study, self.dataset_id)

    def show_empty(self) -> None:
        self._clear(NO_DATA)

    def show_data(self, data: HivemindData | None) -> None:
        self._show(data)

    def _clear(self, message: str) -> None:
        self.data = None
        for item in [*self.cell_items.values(), *self.extra_items]:
            self.heat.removeItem(item)
        self.cell_items.clear()
        self.extra_items.clear()
        self.image.clear()
        self.hist.clear()
        self.legend.clear()
        self.hist_items.clear()
        self.status.setText(message)
        self.caption.setText("")

    # -- drawing ----------------------------------------------------------------------------
    def _show(self, data: HivemindData | None) -> None:
        if data is None:
            self._clear(NO_DATA)
            return
        self._clear("")
        self.data = data
        if data.has_matrix():
            self._draw_matrix(data)
        self._draw_histograms(data)
        self.status.setText("" if data.has_matrix() else NO_MATRIX)
        self.caption.setText(self.caption_text())
        self.loaded.emit()

    def _draw_matrix(self, data: HivemindData) -> None:
        size = len(data.keys)
        lo, hi = data.scale
        self.image.setImage(data.value.T, levels=(lo, hi), autoLevels=False)
        self.image.setRect(QRectF(0, 0, size, size))
        self.colorbar.setLevels((lo, hi))
        for i in range(size):
            for j in range(size):
                text = self.cell_text(i, j)
                if not text:
                    continue
                v = float(data.value[i, j])
                ink = palette.hex_of(palette.ink_on(palette.heat_colour((v - lo) / (hi - lo))))
                value, _, n = text.partition("\n")
                item = pg.TextItem(anchor=(0.5, 0.5))
                item.setHtml(f"<div style='color:{ink}; text-align:center'><b>{value}</b><br>"
                             f"<span style='font-size:8pt'>{n}</span></div>")
                doc = item.textItem.document()
                doc.setDefaultTextOption(QTextOption(Qt.AlignmentFlag.AlignHCenter))
                item.textItem.setTextWidth(doc.idealWidth())
                item.setPos(j + 0.5, i + 0.5)
                self.heat.addItem(item)
                self.cell_items[(i, j)] = item
        src = data.keys.index("source") if "source" in data.keys else -1
        if src >= 0 and math.isfinite(float(data.value[src, src])):  # the yardstick
            box = QGraphicsRectItem(src + 0.04, src + 0.04, 0.92, 0.92)
            box.setPen(pg.mkPen((255, 255, 255), width=2, style=Qt.PenStyle.DashLine,
                                cosmetic=True))
            self.heat.addItem(box)
            self.extra_items.append(box)
        ticks = [(k + 0.5, _short(lab)) for k, lab in enumerate(data.labels)]
        # columns: the group's first two words ('#1 smollm2', 'source (human)'), so every
        # column keeps its name under a narrow cell; the rows carry the longer labels
        columns = [(k + 0.5, " ".join(lab.split()[:2])) for k, lab in enumerate(data.labels)]
        self.heat.getAxis("bottom").setTicks([columns])
        self.heat.getAxis("left").setTicks([ticks])
        self.heat.setXRange(0, size, padding=0)
        self.heat.setYRange(0, size, padding=0)

    def cell_text(self, i: int, j: int) -> str:
        """What cell (row i, column j) shows: the stored value and the prompts behind it
        ('' for a cell without a stored value)."""
        data = self.data
        if data is None or not math.isfinite(float(data.value[i, j])):
            return ""
        p = int(data.prompts[i, j])
        return f"{float(data.value[i, j]):.3f}\nn = {p} prompt{'s' if p != 1 else ''}"

    def _draw_histograms(self, data: HivemindData) -> None:
        edges = np.asarray(data.edges)
        top = 0.0
        for key, label in zip(data.keys, data.labels, strict=True):
            shares, n = data.histogram(key)
            if not n:
                continue
            colour = group_color(key)
            item = pg.PlotDataItem(edges, shares, stepMode="center", fillLevel=0,
                                   brush=pg.mkBrush(*colour[:3], 60),
                                   pen=pg.mkPen(colour[:3], width=2))
            self.hist.addItem(item)
            self.legend.addItem(item, f"{_short(label, 48)} ({n} prompts)")
            self.hist_items[key] = item
            top = max(top, float(shares.max(initial=0.0)))
        first = next((k for k in range(len(edges) - 1) if any(
            data.histogram(key)[0][k] > 0 for key in self.hist_items)), 0)
        self.hist.setXRange(float(edges[max(0, first - 1)]), float(edges[-1]), padding=0.02)
        self.hist.setYRange(0, max(0.05, top * 1.15), padding=0)

    def caption_text(self) -> str:
        data = self.data
        if data is None or not data.has_matrix():
            return ""
        i = data.keys.index("source") if "source" in data.keys else -1
        people = (f" People against other people score {data.value[i, i]:.3f} over "
                  f"{int(data.prompts[i, i])} prompts (the outlined cell): the yardstick."
                  if i >= 0 and math.isfinite(float(data.value[i, i])) else "")
        return ("Each cell: the mean cosine between the two groups' texts of the same prompt "
                "(embeddings), averaged over the prompts both cover; n = those prompts. On "
                "the diagonal: between two disjoint halves of the group." + people
                + " Click a cell to compare those groups. Histogram: the source on the "
                "prompts the runs cover.")

    # -- clicks and export -------------------------------------------------------------------
    def _cell_clicked(self, i: int, j: int) -> None:
        data = self.data
        if data is None or not math.isfinite(float(data.value[i, j])):
            return
        a = palette.run_id_of(data.keys[i])
        b = palette.run_id_of(data.keys[j])
        if a is None and b is None:
            self.status.setText("The source's own cell is the yardstick (people against "
                                "other people): pick a cell with a run to compare.")
            return
        self.runs_activated.emit(a if a is not None else b, b if b is not None else a)

    def cell_center(self, i: int, j: int) -> Any:
        """Scene position of the centre of cell (row i, column j) (for tests and tours)."""
        return self.heat.vb.mapViewToScene(pg.Point(j + 0.5, i + 0.5))

    def export_matrix(self, path: str | Path) -> Path:
        """Write the matrix (long rows: grp, ref, value, CI, prompts, n) to CSV."""
        if self.data is None:
            raise MonoscopeError("Nothing to export yet: open a study with a measured dataset.")
        return self.data.export_csv(path)

    def _export_matrix_clicked(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export matrix", "hivemind.csv",
                                              "CSV table (*.csv)")
        if path:
            try:
                self.export_matrix(path)
            except MonoscopeError as exc:
                QMessageBox.warning(self, "Export failed", str(exc))
