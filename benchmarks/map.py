"""Map renderer vs a plain pyqtgraph ScatterPlotItem: load, redraw after pan/zoom, pick.

Run: QT_QPA_PLATFORM=offscreen python benchmarks/map.py [--n 100000] [--million]

At N points (source + two runs, one prompt) it writes a real study file with the fixture
builder, then measures in one process:
  * load   — read the prompt's points from the study (queries.points) and draw them once;
  * redraw — median time of a pan/zoom step (set the range, re-bin, repaint the viewport);
  * pick   — median time to find the point under the cursor.
The baseline is one ScatterPlotItem holding all points with three shared brushes, driven
through the same steps (its pick is `pointsAt`). Ratios are printed; nothing is asserted.
With --million the redraw/pick part is repeated at 1,000,000 synthetic points.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


CPU: dict[str, float] = {}


def _median_ms(fn: Callable[[], object], repeat: int, name: str = "") -> float:
    """Median wall time in ms; the median CPU time of this process goes to CPU[name]."""
    times, cpu = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    if name:
        CPU[name] = statistics.median(cpu) * 1e3
    return statistics.median(times) * 1e3


def _ranges(x: np.ndarray, y: np.ndarray, steps: int) -> list[tuple[float, float, float, float]]:
    """A pan/zoom path: zoom in 1.25x per step for half the steps, panning, then back out."""
    cx, cy = float(np.median(x)), float(np.median(y))
    w, h = float(np.ptp(x)) * 1.05, float(np.ptp(y)) * 1.05
    out = []
    for i in range(steps):
        z = 1.25 ** (i if i < steps // 2 else steps - i)
        dx = 0.04 * w * np.sin(i)
        out.append((cx + dx - w / z / 2, cx + dx + w / z / 2, cy - h / z / 2, cy + h / z / 2))
    return out


def measure(app: object, x: np.ndarray, y: np.ndarray, group: np.ndarray,
            steps: int = 24) -> dict[str, float]:
    import pyqtgraph as pg
    from PySide6.QtCore import QPointF

    from monoscope.ui.views.map_view import MapView

    colors = [(120, 120, 120), (230, 159, 0), (0, 114, 178)]
    res: dict[str, float] = {}
    path = _ranges(x, y, steps)

    # -- ours ----------------------------------------------------------------------------
    mv = MapView()
    mv.resize(900, 700)
    mv.show()
    app.processEvents()  # type: ignore[attr-defined]
    ids = np.arange(len(x), dtype=np.int64)
    t = time.perf_counter()
    mv.set_points(ids, x, y, group, ["source", "run A", "run B"], colors)
    mv.plot.viewport().repaint()
    res["ours_set_ms"] = (time.perf_counter() - t) * 1e3
    it = iter(path * 3)

    def step_ours() -> None:
        x0, x1, y0, y1 = next(it)
        mv.vb.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)
        mv.plot.viewport().repaint()

    step_ours()
    res["ours_redraw_ms"] = _median_ms(step_ours, steps, "ours_redraw")
    res["ours_mode_at_full_view"] = 1.0 if mv.cloud.mode == "raster" else 0.0
    mv.reset_view()
    app.processEvents()  # type: ignore[attr-defined]
    from monoscope.ui.views.pointcloud import build_trees

    build_trees(x[:10], y[:10], group[:10], 3)  # warm the scipy import (done in a worker)
    t = time.perf_counter()
    mv.cloud._trees = build_trees(x, y, group, 3)
    res["ours_index_ms"] = (time.perf_counter() - t) * 1e3
    rng = np.random.default_rng(1)
    probe = rng.integers(0, len(x), 200)
    pi = iter(probe)
    res["ours_pick_ms"] = _median_ms(lambda: mv.pick(float(x[next(pi)]), float(y[next(pi)])), 100)
    mv.close()
    mv.deleteLater()

    # -- baseline: one ScatterPlotItem, shared brushes -------------------------------------
    w = pg.PlotWidget()
    w.resize(900, 700)
    w.setAspectLocked(True)
    w.show()
    app.processEvents()  # type: ignore[attr-defined]
    brushes = [pg.mkBrush(*c, 190) for c in colors]
    t = time.perf_counter()
    sp = pg.ScatterPlotItem(x=x, y=y, size=6, pen=None,
                            brush=[brushes[g] for g in group.tolist()])
    w.addItem(sp)
    w.viewport().repaint()
    res["base_set_ms"] = (time.perf_counter() - t) * 1e3
    vb = w.getPlotItem().getViewBox()
    it2 = iter(path * 3)

    def step_base() -> None:
        x0, x1, y0, y1 = next(it2)
        vb.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)
        w.viewport().repaint()

    step_base()
    res["base_redraw_ms"] = _median_ms(step_base, steps, "base_redraw")
    vb.autoRange()
    app.processEvents()  # type: ignore[attr-defined]
    pi2 = iter(probe)
    res["base_pick_ms"] = _median_ms(
        lambda: sp.pointsAt(QPointF(float(x[next(pi2)]), float(y[next(pi2)]))), 20)
    w.close()
    w.deleteLater()
    app.processEvents()  # type: ignore[attr-defined]
    return res


def load_from_study(n: int, folder: Path) -> tuple[float, float, np.ndarray, np.ndarray,
                                                   np.ndarray]:
    """Write an n-point prompt to a study; time reading its points back (median of 3)."""
    from monoscope.core.explore import queries
    from monoscope.core.store import Study
    from monoscope.core.store import datasets as datasets_repo
    from monoscope.testing.fixture_study import build_fixture_study

    per = n // 3
    t = time.perf_counter()
    st = build_fixture_study(folder / "bench.duckdb", n_prompts=1, n_source=n - 2 * per,
                             n_generated=per, bodies=False, dim=8)
    build_s = time.perf_counter() - t
    st.close()
    st = Study(folder / "bench.duckdb")
    ds = datasets_repo.datasets(st)[0].id
    pts = None
    times = []
    for _ in range(3):
        t = time.perf_counter()
        pts = queries.points(st, ds, "book-001")
        times.append(time.perf_counter() - t)
    st.close()
    assert pts is not None and len(pts) == n
    return build_s, statistics.median(times) * 1e3, pts.x, pts.y, pts.group


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--million", action="store_true", help="also measure 1,000,000 points")
    args = ap.parse_args()
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory() as tmp:
        build_s, read_ms, x, y, g = load_from_study(args.n, Path(tmp))
    print(f"study with {args.n:,} points written in {build_s:.1f} s; "
          f"points of the prompt read back in {read_ms:.1f} ms (median of 3)")
    sizes = [(args.n, x, y, g)]
    if args.million:
        rng = np.random.default_rng(0)
        n = 1_000_000
        gg = rng.integers(0, 3, n).astype(np.int8)
        centers = rng.normal(size=(40, 2)) * 4
        c = rng.integers(0, 40, n)
        xy = centers[c] + rng.normal(size=(n, 2)) * np.where(gg[:, None] == 1, 0.3, 1.0)
        sizes.append((n, xy[:, 0].astype(np.float32), xy[:, 1].astype(np.float32), gg))
    for n, xs, ys, gs in sizes:
        r = measure(app, xs, ys, gs)
        print(f"\n== {n:,} points (source + 2 runs), 900x700 view ==")
        print(f"load+first draw: ours {r['ours_set_ms'] + (read_ms if n == args.n else 0):8.1f} ms"
              f"   baseline {r['base_set_ms'] + (read_ms if n == args.n else 0):8.1f} ms"
              + ("  (incl. the study read)" if n == args.n else "  (in-memory points)"))
        print(f"redraw pan/zoom: ours {r['ours_redraw_ms']:8.1f} ms   baseline "
              f"{r['base_redraw_ms']:8.1f} ms   -> {r['base_redraw_ms'] / r['ours_redraw_ms']:.1f}x"
              " faster (median wall)")
        print(f"   CPU time:     ours {CPU['ours_redraw']:8.1f} ms   baseline "
              f"{CPU['base_redraw']:8.1f} ms   -> {CPU['base_redraw'] / CPU['ours_redraw']:.1f}x")
        print(f"pick:            ours {r['ours_pick_ms']:8.3f} ms   baseline "
              f"{r['base_pick_ms']:8.3f} ms   -> {r['base_pick_ms'] / r['ours_pick_ms']:.0f}x "
              f"(k-d trees built in {r['ours_index_ms']:.0f} ms, in the load worker)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
