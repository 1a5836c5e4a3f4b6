"""The raster/point renderer against brute-force numpy answers, at a scale where it rasterises."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.ui


@pytest.fixture
def cloud_view(qtbot: Any) -> Any:
    from monoscope.ui.views.map_view import MapView

    mv = MapView()
    qtbot.addWidget(mv)
    mv.resize(800, 600)
    mv.show()
    rng = np.random.default_rng(3)
    n = 60_000
    g = rng.integers(0, 3, n).astype(np.int8)
    x = (rng.normal(size=n) + g * 0.5).astype(np.float32)
    y = rng.normal(size=n).astype(np.float32)
    mv.set_points(np.arange(10, 10 + n, dtype=np.int64), x, y, g, ["source", "a", "b"],
                  [(120, 120, 120), (230, 159, 0), (0, 114, 178)])
    return mv


def test_dense_view_rasterises_and_counts_every_point(cloud_view: Any) -> None:
    c = cloud_view.cloud
    assert c.mode == "raster" and c.last_in_view == len(c.x)
    x0, x1, y0, y1, w, h = c._grid()
    lo, hi = np.searchsorted(c._sx, [x0, x1])
    counts = c._bin(lo, hi, x0, y0, w / (x1 - x0), h / (y1 - y0), w, h)
    # every point in view lands in exactly one cell of its own group's layer
    for g in range(3):
        inside = ((c.x >= x0) & (c.x < x1) & (c.y >= y0) & (c.y < y1) & (c.group == g)).sum()
        assert counts[g].sum() == inside
    img = c.image.image
    assert img.shape == (h, w, 4) and img[..., 3].max() > 200
    # source-coloured (grey) pixels stay visible next to the runs' hues (BGRA byte order)
    grey = (np.abs(img[..., 0].astype(int) - img[..., 2].astype(int)) < 12) & (img[..., 3] > 0)
    orange = (img[..., 2].astype(int) > img[..., 0].astype(int) + 60) & (img[..., 3] > 0)
    assert orange.sum() > 50
    assert grey.sum() > 50


def test_zooming_in_switches_to_points(cloud_view: Any) -> None:
    c = cloud_view.cloud
    cloud_view.vb.setRange(xRange=(2.9, 3.3), yRange=(-0.2, 0.2), padding=0)
    assert c.mode == "points"
    shown = sum(len(s.data) for s in c.scatters)
    assert shown == c.last_in_view and 0 < shown <= c.point_limit


def test_pick_matches_brute_force(cloud_view: Any) -> None:
    c = cloud_view.cloud
    rng = np.random.default_rng(0)
    for px, py in rng.normal(size=(30, 2)):
        got = c.pick(float(px), float(py), radius=10.0)
        d = np.hypot(c.x - px, c.y - py)
        assert got is not None and d[got] == pytest.approx(d.min(), abs=1e-6)
    c.set_visible(1, False)
    for px, py in rng.normal(size=(30, 2)):
        got = c.pick(float(px), float(py), radius=10.0)
        d = np.hypot(c.x - px, c.y - py)
        d[c.group == 1] = np.inf
        assert got is not None and c.group[got] != 1 and d[got] == pytest.approx(d.min(), abs=1e-6)


def test_highlight_filters_the_layers_and_hidden_groups(cloud_view: Any) -> None:
    """A highlight (the selection) keeps its points in their groups' layers and sends every
    other visible point to the grey context layer; hidden groups stay in the dump layer."""
    c = cloud_view.cloud
    mask = c.x > 1.5
    cloud_view.set_highlight(mask)
    assert c.mode == "raster"
    x0, x1, y0, y1, w, h = c._grid()
    lo, hi = np.searchsorted(c._sx, [x0, x1])
    counts = c._bin(lo, hi, x0, y0, w / (x1 - x0), h / (y1 - y0), w, h)
    inside = (c.x >= x0) & (c.x < x1) & (c.y >= y0) & (c.y < y1)
    for g in range(3):
        assert counts[g].sum() == (mask & inside & (c.group == g)).sum()
    assert counts[4].sum() == (~mask & inside).sum()  # the context layer
    # context pixels are grey, the selected ones keep their hues (BGRA)
    img = c.image.image.astype(int)
    orange = (img[..., 2] > img[..., 0] + 60) & (img[..., 3] > 0)
    xs = x0 + (np.arange(w) + 0.5) / w * (x1 - x0)
    assert orange[:, xs > 1.6].sum() > 50 and orange[:, xs < 1.4].sum() == 0
    ctx = (img[..., 3] > 0) & (np.abs(img[..., 0] - img[..., 2]) < 4)
    assert ctx[:, xs < 1.4].sum() > 100
    c.set_visible(2, False)
    counts = c._bin(lo, hi, x0, y0, w / (x1 - x0), h / (y1 - y0), w, h)
    assert counts[2].sum() == 0 and counts[3].sum() == (inside & (c.group == 2)).sum()
    assert counts[4].sum() == (~mask & inside & (c.group != 2)).sum()
    assert set(cloud_view.highlighted_ids().tolist()) == set((np.flatnonzero(mask) + 10).tolist())
    # zoomed in: the selected points as points in colour, the rest as grey context dots
    cloud_view.vb.setRange(xRange=(1.3, 1.7), yRange=(-0.2, 0.2), padding=0)
    assert c.mode == "points"
    shown = np.concatenate([s.data["x"] for s in c.scatters])
    assert len(shown) and (shown > 1.5).all()
    assert len(c.ctx_scatter.data) and (c.ctx_scatter.data["x"] <= 1.5).all()
