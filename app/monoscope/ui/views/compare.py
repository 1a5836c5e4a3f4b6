"""Compare: two runs side by side against the source, on the same map axes and histogram bins.

Top row: the map for each run (source grey underneath, translucent, so the human mass stays
visible), pan/zoom linked. Bottom row: the chosen attribute's distribution, source vs run,
normalised over the same bins. Under each: that run's stored numbers (share positive,
sentiment entropy, mean pairwise cosine, topic entropy, the monoculture indices) beside the
source's measured on the same prompts at the same n (per side: its own matched source), with
prompts and texts per prompt; each index with the range people score against themselves.
For the whole dataset, the source points and histogram are restricted to the runs' prompts.

Embedding::

    view = CompareView(runner=window.runner, state=window.state)
    view.set_study(study, dataset_id)      # None: the study's first dataset
    view.set_runs(run_a, run_b)            # optional; defaults to the first two runs
    view.set_prompt(key)                   # None = whole dataset
    view.export("compare.png")

With an `ExplorerState`, the view takes the explorer's prompt (or the whole dataset) each time
it comes to the front. All queries run in a worker (`TaskRunner`); the widget only draws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from monoscope.core.explore import palette
from monoscope.core.explore.compare_data import (
    COMPARE_METRICS,
    CompareData,
    Side,
    attribute_names,
    compute_compare,
    normalised_hist,
)
from monoscope.core.explore.figure_data import METRICS, SOURCE, Group, default_dataset, groups
from monoscope.core.explore.labels import elide, run_short_label
from monoscope.core.explore.state import ExplorerState
from monoscope.core.store import Study
from monoscope.core.store import datasets as datasets_repo
from monoscope.core.tasks import TaskState
from monoscope.ui.contours import source_contours
from monoscope.ui.loaders import figure_task
from monoscope.ui.views.figure_common import (
    FigureViewMixin,
    group_color,
)
from monoscope.ui.views.histograms import outside_marker
from monoscope.ui.views.map_view import contour_items, fit_view
from monoscope.ui.views.pointcloud import PointCloud
from monoscope.ui.workers import TaskRunner


def format_numbers(numbers: dict[str, float]) -> str:
    return "  ·  ".join(
        f"{METRICS[m]}: {'–' if v != v else f'{v:.3f}'}" for m, v in numbers.items()
    )


def side_text(side: Side, where: str) -> str:
    """Plain-text lines under one side: n and prompts, the run's numbers, the matched source's
    numbers, each index with the human range (stored numbers only)."""
    n = "?" if side.n is None else str(side.n)
    head = (f"{side.group.display}: {where}, "
            f"{side.prompts} prompt{'s' if side.prompts != 1 else ''}, n = {n} texts per prompt"
            " (matched: the source below is measured on the same prompts at the same n)")
    run_parts, src_parts, idx_parts = [], [], []
    for m, v in side.numbers.items():
        if m.endswith(".index"):
            if not math.isfinite(v):
                continue
            lo, hi = side.human_range.get(m, (math.nan, math.nan))
            mark = outside_marker(v, lo, hi)
            people = f" (people {lo:.2f}–{hi:.2f})" if math.isfinite(lo) else ""
            ci = ""
            if m in side.index_ci:
                c_lo, c_hi = side.index_ci[m]
                ci = f" [{c_lo:.2f}, {c_hi:.2f}]" + ("★" if not c_lo <= 1.0 <= c_hi else "")
            idx_parts.append(f"{METRICS[m].replace('monoculture index, ', '')} "
                             f"×{v:.2f}{ci}{mark}{people}")
            continue
        src = side.source_numbers.get(m, math.nan)
        if not (math.isfinite(v) or math.isfinite(src)):
            continue
        run_parts.append(f"{METRICS[m]} {_num(v)}")
        src_parts.append(f"{METRICS[m]} {_num(src)}")
    lines = [head, "run: " + " · ".join(run_parts), "source: " + " · ".join(src_parts)]
    if idx_parts:
        lines.append("index: " + " · ".join(idx_parts))
    return "\n".join(lines)


def _num(v: float) -> str:
    return "–" if not math.isfinite(v) else f"{v:.3f}"


@dataclass
class CompareChoices:
    """What the pickers offer for one dataset: its runs, prompts and attributes."""

    dataset_id: int
    runs: list[Group]
    prompts: list[tuple[str, str]]  # (key, title)
    attributes: list[str]


def load_choices(request: tuple[Study, int | None], state: TaskState) -> CompareChoices | None:
    """Task: the runs, prompts and attributes of a dataset (None: the study's first); None
    when the study has no dataset."""
    study, wanted = request
    dataset_id = default_dataset(study, wanted)
    if dataset_id is None:
        return None
    runs = [g for g in groups(study, dataset_id) if g.run_id is not None]
    state.check()
    return CompareChoices(dataset_id, runs, [(p.key, p.title) for p in datasets_repo.prompts(study, dataset_id)],
                          attribute_names(study, dataset_id))


class CompareView(FigureViewMixin, QWidget):
    """Two runs vs the source; see the module docstring for embedding."""

    task_key = "compare"

    loaded = Signal()

    def __init__(self, study: Study | None = None, runner: TaskRunner | None = None,
                 parent: QWidget | None = None, state: ExplorerState | None = None) -> None:
        super().__init__(parent)
        self.runner = runner or TaskRunner(self)
        self.state = state
        self.study: Study | None = None
        self.dataset_id: int | None = None
        self.data: CompareData | None = None
        # asked for before the pickers were filled: applied when they are
        self._wanted_runs: tuple[int, int] | None = None
        self._wanted_prompt: str | None = None
        self._wanted_attribute: str | None = None  # kept across a refresh

        self.run_a, self.run_b = QComboBox(), QComboBox()
        self.scope = QComboBox()
        self.attribute = QComboBox()
        export_btn = QPushButton("Export…")
        export_btn.clicked.connect(self._export_clicked)
        top = QHBoxLayout()
        for text, w in (("Run A", self.run_a), ("Run B", self.run_b), ("Prompt", self.scope),
                        ("Histogram", self.attribute)):
            top.addWidget(QLabel(text))
            top.addWidget(w, 1)
        top.addWidget(export_btn)
        self.status = QLabel("Open a study with at least two runs to compare them.")
        self.status.setWordWrap(True)  # long captions must not widen the view

        canvas = pg.GraphicsLayoutWidget()
        self.canvas = canvas
        canvas.setBackground("w")
        self.maps = [canvas.addPlot(row=0, col=c) for c in (0, 1)]
        self.hists = [canvas.addPlot(row=1, col=c) for c in (0, 1)]
        self.maps[1].setXLink(self.maps[0])
        self.maps[1].setYLink(self.maps[0])
        self.hists[1].setXLink(self.hists[0])
        self.hists[1].setYLink(self.hists[0])
        # the main map's look: the palette's colours and markers per run (`PointCloud`), the
        # source's 50 % / 90 % density contours, a locked aspect and a margin (`map_view`)
        self.clouds: list[PointCloud] = []
        self.contours: list[tuple[pg.PlotDataItem, pg.PlotDataItem]] = []
        for p in self.maps:
            p.setAspectLocked(True)
            p.hideAxis("left")
            p.hideAxis("bottom")
            p.hideButtons()
            cloud = PointCloud(p.getViewBox())
            cloud.outline = (255, 255, 255)  # the canvas is white
            self.clouds.append(cloud)
            self.contours.append(contour_items(p.getViewBox(), (25, 25, 25)))
        for p in self.hists:
            p.setLabel("left", "share of texts")
            p.getAxis("left").enableAutoSIPrefix(False)  # shares, not SI units
            p.setMouseEnabled(y=False)
        canvas.ci.layout.setRowStretchFactor(0, 3)
        canvas.ci.layout.setRowStretchFactor(1, 2)
        self.numbers = [QLabel(), QLabel()]
        nums = QHBoxLayout()
        for lab in self.numbers:
            lab.setWordWrap(True)
            nums.addWidget(lab, 1)

        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.status)
        lay.addWidget(self.canvas, 1)
        lay.addLayout(nums)
        for box in (self.run_a, self.run_b, self.scope, self.attribute):
            box.currentIndexChanged.connect(self._selection_changed)
        if study is not None:
            self.set_study(study)

    # -- inputs -----------------------------------------------------------------------------
    def _boxes(self) -> tuple[QComboBox, ...]:
        return (self.run_a, self.run_b, self.scope, self.attribute)

    def set_study(self, study: Study | None, dataset_id: int | None = None) -> None:
        """Show a study (None clears); its first dataset unless one is given. The pickers
        are filled in a worker, then the comparison loads."""
        self.study = study
        self.dataset_id = None
        self._wanted_runs, self._wanted_prompt = None, None
        for box in self._boxes():
            box.blockSignals(True)
            box.clear()
            box.blockSignals(False)
        if study is None:
            self.load()
            return
        self.status.setText("Loading…")
        job = self.runner.submit(f"{self.task_key}-choices", load_choices, (study, dataset_id))
        job.finished.connect(self._fill_choices)
        job.failed.connect(self.status.setText)

    def _fill_choices(self, choices: CompareChoices | None) -> None:
        boxes = self._boxes()
        for box in boxes:
            box.blockSignals(True)
        if choices is not None:
            self.dataset_id = choices.dataset_id
            for g in choices.runs:
                for box in (self.run_a, self.run_b):
                    box.addItem(g.display, g.run_id)
            if len(choices.runs) > 1:
                self.run_b.setCurrentIndex(1)
            self.scope.addItem("whole dataset", None)
            for key, title in choices.prompts:
                self.scope.addItem(f"{key} — {title}", key)
            names = choices.attributes
            for n in names:
                self.attribute.addItem(n, n)
            pref = next((n for n in (self._wanted_attribute, "sentiment.head", "sentiment.vader")
                         if n in names), None)
            if pref:
                self.attribute.setCurrentIndex(self.attribute.findData(pref))
            if self._wanted_runs is not None:
                self._pick_runs(*self._wanted_runs)
            self.scope.setCurrentIndex(max(0, self.scope.findData(self._wanted_prompt)))
        self._wanted_runs, self._wanted_attribute = None, None
        for box in boxes:
            box.blockSignals(False)
        self.load()

    def _pick_runs(self, run_a: int, run_b: int) -> None:
        for box, rid in ((self.run_a, run_a), (self.run_b, run_b)):
            box.blockSignals(True)
            box.setCurrentIndex(max(0, box.findData(rid)))
            box.blockSignals(False)

    def set_runs(self, run_a: int, run_b: int) -> None:
        """Compare these two runs (by id)."""
        if self.run_a.count() == 0:  # the pickers are still loading
            self._wanted_runs = (run_a, run_b)
            return
        self._pick_runs(run_a, run_b)
        self.load()

    def set_prompt(self, key: str | None) -> None:
        """Compare on one prompt (None: the whole dataset)."""
        self._wanted_prompt = key
        self.scope.setCurrentIndex(max(0, self.scope.findData(key)))

    def showEvent(self, event: QShowEvent) -> None:
        """Brought to the front: take the explorer's prompt (or the whole dataset)."""
        super().showEvent(event)
        if self.state is not None and not event.spontaneous():
            self.set_prompt(self.state.scope())

    def _selection_changed(self, _i: int) -> None:
        self.load()

    def refresh(self) -> None:
        """Reload after a run, an import or F5: the pickers (a new run or attribute appears;
        the runs, prompt and attribute chosen are kept), then the comparison."""
        if self.study is None:
            self.load()
            return
        if self.defer_while_hidden():
            return
        a, b = self.run_a.currentData(), self.run_b.currentData()
        if a is not None and b is not None:
            self._wanted_runs = (int(a), int(b))
        self._wanted_prompt = self.scope.currentData()
        self._wanted_attribute = self.attribute.currentData()
        for box in self._boxes():
            box.blockSignals(True)
            box.clear()
            box.blockSignals(False)
        job = self.runner.submit(f"{self.task_key}-choices", load_choices,
                                 (self.study, self.dataset_id))
        job.finished.connect(self._fill_choices)
        job.failed.connect(self.status.setText)

    def load(self) -> None:
        """Load the comparison of the runs, prompt and attribute chosen."""
        a, b = self.run_a.currentData(), self.run_b.currentData()
        if self.study is None or self.dataset_id is None or a is None or b is None:
            self.status.setText("Compare needs a study with at least one run (two to contrast).")
            return
        if self.defer_while_hidden():  # behind another tab: loads when shown
            return
        attr = self.attribute.currentData() or "sentiment.vader"
        self.status.setText("Loading…")
        job = self.runner.submit(self.task_key, figure_task(compute_compare), (
            self.study, self.dataset_id, int(a), int(b), self.scope.currentData(), str(attr)))
        job.finished.connect(self._show)
        job.failed.connect(self.status.setText)

    # -- drawing ----------------------------------------------------------------------------
    def _show(self, data: CompareData | None) -> None:
        if data is None:
            return
        self.data = data
        for h in self.hists:
            h.clear()
        edges = data.edges
        centers = (edges[:-1] + edges[1:]) / 2
        src_h = normalised_hist(data.source_values, edges)
        where = data.prompt_key or "the runs' prompts"
        sx, sy = data.source_points
        curves = source_contours(np.asarray(sx, np.float32), np.asarray(sy, np.float32))
        src_rgb = palette.group_colour(SOURCE)
        for i, side in enumerate(data.sides):
            key = side.group.key
            color = group_color(key)
            m = self.maps[i]
            n = "?" if side.n is None else side.n
            label = elide(side.group.display, 38)
            gx, gy = side.points
            # the legend is the title (outside the plot): each set's marker in its colour
            m.setTitle(
                f"{_glyph(key, color[:3])} {_esc(label)} ({len(gx)})"
                f"<br>{_glyph(SOURCE, src_rgb)} source ({len(sx)}; {where}; {side.prompts} "
                f"prompt{'s' if side.prompts != 1 else ''}, n = {n}/prompt)", size="10pt")
            self.clouds[i].set_data(
                np.concatenate([sx, gx]).astype(np.float32),
                np.concatenate([sy, gy]).astype(np.float32),
                np.concatenate([np.zeros(len(sx), np.int8), np.ones(len(gx), np.int8)]),
                [src_rgb, color[:3]], symbols=[palette.group_marker(SOURCE),
                                               palette.group_marker(key)])
            for item, (px, py) in zip(self.contours[i][::-1], curves, strict=True):
                item.setData(px, py, connect="finite")
            h = self.hists[i]
            src_c = group_color(SOURCE)
            h.setTitle(f"<span style='color: rgb{src_c[:3]}'>■</span> source "
                       f"({len(data.source_values)} texts) &nbsp; <span style='color: "
                       f"rgb{color[:3]}'>■</span> {_esc(run_short_label(side.group.run_id or 0, side.group.model))} "
                       f"({len(side.values)} texts)", size="9pt")  # the legend, outside
            h.addItem(pg.PlotDataItem(edges, src_h, stepMode="center", fillLevel=0,
                                      brush=pg.mkBrush(group_color(SOURCE, 90)),
                                      pen=pg.mkPen(src_c[:3], width=2)))
            h.addItem(pg.PlotDataItem(edges, normalised_hist(side.values, edges),
                                      stepMode="center", fillLevel=0,
                                      brush=pg.mkBrush(*color[:3], 80),
                                      pen=pg.mkPen(color[:3], width=2)))
            h.setLabel("bottom", data.attribute)
            lines = side_text(side, data.prompt_key or "all its prompts").split("\n")
            html = [f"<b style='color: rgb{color[:3]}'>{_esc(lines[0])}</b>"]
            for line in lines[1:]:
                label, _, rest = line.partition(": ")
                text = _esc(rest)
                if label == "index" and ("▼" in rest or "▲" in rest):
                    text = f"<b>{text}</b>"
                html.append(f"<b>{label}</b>: {text}")
            self.numbers[i].setText("<br>".join(html))
        self.hists[0].setXRange(float(edges[0]), float(edges[-1]), padding=0.02)
        top = max([float(src_h.max(initial=0))] + [float(normalised_hist(s.values, edges).max(initial=0))
                                                  for s in data.sides])
        self.hists[0].setYRange(0, max(top * 1.1, 0.05), padding=0)
        self._fit_maps(data)
        n = len(data.source_values)
        scope = (f"prompt {data.prompt_key}" if data.prompt_key else
                 "the prompts the two runs cover (source restricted to them)")
        self.status.setText(
            f"{data.attribute} histogram: {n} source texts of {scope}, bins of width "
            f"{centers[1] - centers[0]:.3g}. [a, b]: 95 % CI of an index, ★ when it excludes "
            f"1; ▼▲: index outside the range people score "
            "against themselves at the same n." if len(centers) > 1 else "")
        self.loaded.emit()

    def _fit_maps(self, data: CompareData) -> None:
        """Both maps (linked) fit every point of both sides and the contours, with the main
        map's margin."""
        bounds = [b for c in self.clouds if (b := c.bounds()) is not None]
        if bounds:
            r = bounds[0]
            for b in bounds[1:]:
                r = r.united(b)
            fit_view(self.maps[0].getViewBox(), r, self.contours[0][0])

    def metric_numbers(self) -> dict[str, dict[str, float]]:
        """The numbers shown: 'source' and each run key -> metric -> value (for tests, export)."""
        if self.data is None:
            return {}
        out = {SOURCE: dict(self.data.source_numbers)}
        for s in self.data.sides:
            out[s.group.key] = dict(s.numbers)
            out[f"{SOURCE}@{s.group.key}"] = dict(s.source_numbers)
        return out



_GLYPHS = {"o": "●", "s": "■", "t": "▼", "t1": "▲", "t2": "▶", "t3": "◀", "d": "◆",
           "p": "⬟", "h": "⬢", "star": "★"}


def _glyph(key: str, rgb: tuple[int, ...]) -> str:
    """A group's marker as a coloured character (the maps' legend in their titles)."""
    char = _GLYPHS.get(palette.group_marker(key), "●")
    return f"<span style='color: rgb({rgb[0]},{rgb[1]},{rgb[2]})'>{char}</span>"


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;")


__all__ = ["COMPARE_METRICS", "CompareView", "side_text"]
