"""Fast point renderer for pyqtgraph: numpy-rasterised density when dense, real points when few.

Each redraw bins the points in view into a grid at the view's pixel resolution with one
``np.bincount`` over (group, row, column), turns the counts of every group into a log-scaled
translucent layer in its own colour, composites the layers in draw order and shows the result
in one `ImageItem`. When at most `point_limit` points are in view it draws them as one
`ScatterPlotItem` per group instead. When the view is dense only because of the source (group
0) and the runs' points in view are few, the source is rasterised and the runs are drawn as
points on top (``overlay``), each in its colour and marker shape with a thin outline, so a few
hundred generated texts stay visible among ten thousand human ones. Picking goes through one
k-d tree per group.

A highlight (the explorer's selection) filters the picture: the highlighted points keep their
groups' colours and shapes, every other visible point is drawn as grey context (one faint
layer in the raster, small grey dots as points), still there but out of the way.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QPainter

F32 = npt.NDArray[np.float32]
RGB = tuple[int, int, int]


def build_trees(x: F32, y: F32, group: npt.NDArray[np.int8], n_groups: int) -> list[object]:
    """One k-d tree per group (index order = the group's points in order); thread-safe, so
    callers build them in a worker together with the data load."""
    from scipy.spatial import cKDTree

    trees: list[object] = []
    for g in range(n_groups):
        idx = np.flatnonzero(group == g)
        trees.append(cKDTree(np.column_stack([x[idx], y[idx]])))
    return trees


class RasterItem(pg.GraphicsObject):  # type: ignore[misc]
    """An RGBA raster stretched over a data rectangle, kept as a premultiplied ARGB32 QImage
    (the format the raster paint engine draws without converting)."""

    def __init__(self) -> None:
        super().__init__()
        self._rect = QRectF()
        self._qimage: QImage | None = None
        self._buf: npt.NDArray[np.uint8] | None = None

    def set_image(self, bgra_premultiplied: npt.NDArray[np.uint8], rect: QRectF) -> None:
        h, w, _ = bgra_premultiplied.shape
        self._buf = np.ascontiguousarray(bgra_premultiplied)
        self._qimage = QImage(self._buf.data, w, h, 4 * w,
                              QImage.Format.Format_ARGB32_Premultiplied)
        self.prepareGeometryChange()
        self._rect = QRectF(rect)
        self.update()

    def clear(self) -> None:
        self._qimage = None
        self._buf = None
        self.update()

    @property
    def image(self) -> npt.NDArray[np.uint8] | None:
        return self._buf

    def boundingRect(self) -> QRectF:
        return QRectF(self._rect)

    def paint(self, painter: QPainter, *args: object) -> None:
        if self._qimage is not None:
            # nearest-neighbour: crisp bins, and much cheaper than a smooth rescale
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
            painter.drawImage(self._rect, self._qimage)


class PointCloud:
    """Draws groups of points (group 0 = source, 1.. = runs) into a pyqtgraph ViewBox."""

    def __init__(self, view: pg.ViewBox, bin_px: int = 2, point_limit: int = 4000) -> None:
        self.view = view
        self.bin_px = bin_px
        self.point_limit = point_limit
        self.image = RasterItem()
        self.image.setZValue(-10)
        view.addItem(self.image)
        self.scatters: list[pg.ScatterPlotItem] = []
        # the points outside the highlight, as grey context below every group's points
        self.ctx_scatter = pg.ScatterPlotItem(size=5, pen=None, symbol="o")
        self.ctx_scatter.setZValue(-1)
        view.addItem(self.ctx_scatter)
        self.x = np.zeros(0, np.float32)
        self.y = np.zeros(0, np.float32)
        self.group = np.zeros(0, np.int8)
        self.colors: list[RGB] = []
        self.symbols: list[str] = []
        self.visible: list[bool] = []
        self.order: list[int] = []
        self.highlight: npt.NDArray[np.bool_] | None = None
        self.highlight_color: RGB = (20, 20, 20)
        self.context_color: RGB = (170, 170, 170)  # points outside the highlight
        self.max_alpha = 0.8
        self._trees: list[object | None] = []
        self._members: list[npt.NDArray[np.int64]] = []
        self.mode = "empty"
        self.overlay = False  # raster mode: runs drawn as points over the rasterised source
        self.outline: RGB = (255, 255, 255)  # edge of the runs' markers (the background)
        self.last_in_view = 0
        self._perm = np.zeros(0, np.int64)
        self._sx = self._sy = self.x
        self._sgroup = self.group
        self._srun = np.zeros(0, bool)
        self._slayer = np.zeros(0, np.int32)
        self._slayer_vis = np.zeros(0, bool)
        self._slayer_base = np.zeros(0, np.int32)  # runs sent to the dump layer (overlay)
        self._shigh: npt.NDArray[np.bool_] | None = None
        self._style: tuple[object, ...] = ()  # the groups' colours, symbols, order drawn
        # colour by a value per point (None: by group): LUT index per point, -1 = no value
        self.values: npt.NDArray[np.float64] | None = None
        self.value_lut = np.zeros((256, 3), np.uint8)
        self.value_range = (0.0, 1.0)
        self.missing_color: RGB = (200, 200, 200)
        self._vidx = np.zeros(0, np.int16)
        self._svidx = self._vidx
        self._brush_table: npt.NDArray[np.object_] = np.zeros(0, dtype=object)
        view.sigRangeChanged.connect(lambda *_: self.render())
        view.sigResized.connect(lambda *_: self.render())

    # -- data ----------------------------------------------------------------------------
    def set_data(self, x: F32, y: F32, group: npt.NDArray[np.int8], colors: Sequence[RGB],
                 order: Sequence[int] | None = None, trees: list[object] | None = None,
                 symbols: Sequence[str] | None = None) -> None:
        """Replace all points; ``colors[g]`` is the RGB of group g, ``order`` the draw order,
        ``symbols[g]`` its marker shape (pyqtgraph symbol; circles by default).

        ``trees`` from `build_trees` (made in a worker) saves building them on first pick.
        """
        self.x = np.ascontiguousarray(x, dtype=np.float32)
        self.y = np.ascontiguousarray(y, dtype=np.float32)
        self.group = np.ascontiguousarray(group, dtype=np.int8)
        self.colors = list(colors)
        n_groups = len(self.colors)
        self.symbols = list(symbols) if symbols is not None and len(symbols) == n_groups else (
            ["o"] * n_groups)
        self.visible = [True] * n_groups
        self.order = list(order) if order is not None else list(range(n_groups))
        self.highlight = None
        self._members = [np.flatnonzero(self.group == g) for g in range(n_groups)]
        self._perm = np.argsort(self.x, kind="stable")
        self._sx = self.x[self._perm]
        self._sy = self.y[self._perm]
        self._sgroup = self.group[self._perm]
        self._srun = self._sgroup != 0  # sorted points of the runs (the overlay's groups)
        self._shigh = None
        self.values = None
        self._update_layers()
        self._trees = list(trees) if trees is not None and len(trees) == n_groups else (
            [None] * n_groups)
        style = (tuple(self.colors), tuple(self.symbols), tuple(self.order))
        if style == self._style and len(self.scatters) == n_groups:
            self.render()  # the same groups (another prompt of the same runs): keep the items
            return
        self._style = style
        for s in self.scatters:
            self.view.removeItem(s)
        self.scatters = []
        for g in range(n_groups):
            # the source as small plain dots, runs as larger outlined shapes above it
            pen = None if g == 0 else pg.mkPen(*self.outline, 200, width=0.8)
            s = pg.ScatterPlotItem(size=6 if g == 0 else 8, pen=pen, symbol=self.symbols[g],
                                   brush=pg.mkBrush(*self.colors[g], 190))
            s.setZValue(self.order.index(g) if g in self.order else g)
            self.view.addItem(s)
            self.scatters.append(s)
        self.render()

    def _update_layers(self) -> None:
        """Per sorted point: its raster layer (hidden groups go to the dump layer)."""
        lut = np.array([g if v else len(self.colors) for g, v in enumerate(self.visible)],
                       dtype=np.int32)
        self._slayer = lut[self._sgroup] if len(lut) else np.zeros(0, np.int32)
        self._slayer_vis = self._slayer < len(self.colors)
        dump = np.int32(len(self.colors))
        self._slayer_base = np.where(self._sgroup == 0, self._slayer, dump).astype(np.int32)
        if self.highlight is not None:  # hidden groups are never highlighted
            self._shigh = self.highlight[self._perm] & self._slayer_vis

    def set_values(self, values: npt.NDArray[np.float64] | None, lut: npt.NDArray[np.uint8],
                   lo: float, hi: float) -> None:
        """Colour every point by its value (aligned with the points; NaN: the missing colour)
        through ``lut`` (256 RGB rows) from ``lo`` to ``hi``; None colours by group again."""
        if values is None or len(values) != len(self.x):
            self.values = None
            self.render()
            return
        self.values = np.asarray(values, dtype=np.float64)
        self.value_lut = np.asarray(lut, dtype=np.uint8)[:, :3]
        self.value_range = (lo, hi)
        t = np.clip((self.values - lo) / max(hi - lo, 1e-12), 0.0, 1.0)
        idx = np.where(np.isfinite(self.values), np.nan_to_num(t) * 255.0 + 0.5, -1.0)
        self._vidx = idx.astype(np.int16)
        self._svidx = self._vidx[self._perm]
        table = [pg.mkBrush(int(r), int(g), int(b), 215) for r, g, b in self.value_lut]
        table.append(pg.mkBrush(*self.missing_color, 150))  # index -1
        self._brush_table = np.empty(len(table), dtype=object)
        self._brush_table[:] = table
        self.render()

    def set_visible(self, group: int, on: bool) -> None:
        self.visible[group] = on
        self._update_layers()
        self.render()

    def set_highlight(self, mask: npt.NDArray[np.bool_] | None) -> None:
        """Emphasise these points (a boolean mask over all points); None clears."""
        self.highlight = None if mask is None else np.asarray(mask, dtype=bool)
        if self.highlight is None:
            self._shigh = None
        else:
            self._shigh = self.highlight[self._perm] & self._slayer_vis
        self.render()

    def bounds(self) -> QRectF | None:
        if not len(self.x):
            return None
        x0, x1 = float(self.x.min()), float(self.x.max())
        y0, y1 = float(self.y.min()), float(self.y.max())
        return QRectF(x0, y0, max(x1 - x0, 1e-6), max(y1 - y0, 1e-6))

    # -- picking ---------------------------------------------------------------------------
    def _tree(self, g: int) -> object:
        tree = self._trees[g]
        if tree is None:
            from scipy.spatial import cKDTree

            idx = self._members[g]
            tree = cKDTree(np.column_stack([self.x[idx], self.y[idx]]))
            self._trees[g] = tree
        return tree

    def build_index(self) -> None:
        """Build every group's k-d tree now (otherwise built on the first pick)."""
        for g in range(len(self._trees)):
            self._tree(g)

    def pick(self, x: float, y: float, radius: float) -> int | None:
        """Index of the nearest visible point within ``radius`` (data units), or None."""
        best, best_d = None, radius
        for g in range(len(self.colors)):
            if not self.visible[g] or not len(self._members[g]):
                continue
            d, i = self._tree(g).query((x, y), k=1, distance_upper_bound=best_d)  # type: ignore[attr-defined]
            if np.isfinite(d) and d <= best_d:
                best, best_d = int(self._members[g][int(i)]), float(d)
        return best

    def in_polygon(self, poly: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
        """Mask of visible points inside a closed polygon (even-odd rule, vectorised)."""
        mask = np.zeros(len(self.x), dtype=bool)
        if len(poly) < 3 or not len(self.x):
            return mask
        lo, hi = poly.min(axis=0), poly.max(axis=0)
        cand = np.flatnonzero((self.x >= lo[0]) & (self.x <= hi[0]) & (self.y >= lo[1])
                              & (self.y <= hi[1]) & self._visible_mask())
        px, py = self.x[cand].astype(np.float64), self.y[cand].astype(np.float64)
        inside = np.zeros(len(cand), dtype=bool)
        x1, y1 = poly[:, 0], poly[:, 1]
        x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
        for ax, ay, bx, by in zip(x1, y1, x2, y2, strict=True):
            if ay == by:
                continue
            cross = (ay > py) != (by > py)
            xint = ax + (py - ay) * (bx - ax) / (by - ay)
            inside ^= cross & (px < xint)
        mask[cand[inside]] = True
        return mask

    def _visible_mask(self) -> npt.NDArray[np.bool_]:
        vis = np.asarray([*self.visible, False], dtype=bool)
        return vis[np.minimum(self.group, len(self.visible))]

    # -- drawing ---------------------------------------------------------------------------
    def _grid(self) -> tuple[float, float, float, float, int, int] | None:
        (x0, x1), (y0, y1) = self.view.viewRange()
        rect = self.view.sceneBoundingRect()
        w = max(1, int(rect.width() // self.bin_px))
        h = max(1, int(rect.height() // self.bin_px))
        if x1 <= x0 or y1 <= y0:
            return None
        return x0, x1, y0, y1, w, h

    def render(self) -> None:
        """Re-bin the points in view (or draw them individually when few)."""
        grid = self._grid() if len(self.x) else None
        if grid is None:
            self.image.clear()
            for s in self.scatters:
                s.clear()
            self.ctx_scatter.clear()
            self.mode = "empty"
            self.overlay = False
            return
        x0, x1, y0, y1, w, h = grid
        # Points are kept sorted by x: the x-range in view is one slice, found by bisection.
        lo, hi = np.searchsorted(self._sx, [x0, x1])
        ys = self._sy[lo:hi]
        shown = (ys >= y0) & (ys < y1) & self._slayer_vis[lo:hi]
        n_in = int(np.count_nonzero(shown))
        self.last_in_view = n_in
        if n_in <= self.point_limit:
            self.overlay = False
            self._draw_points(x0, x1, y0, y1)
            return
        shown &= self._srun[lo:hi]
        n_runs_in = int(np.count_nonzero(shown))
        self.mode = "raster"
        self.overlay = 0 < n_runs_in <= self.point_limit
        for s in self.scatters:  # hidden, not only emptied: empty items still cost a paint call
            s.clear()
            s.hide()
        self.ctx_scatter.clear()
        self.ctx_scatter.hide()
        sx, sy = w / (x1 - x0), h / (y1 - y0)
        if self.values is not None:
            img = self._value_raster(lo, hi, x0, y0, sx, sy, w, h)
            self.image.set_image(img, QRectF(x0, y0, x1 - x0, y1 - y0))
            self.image.show()
            if self.overlay:
                self._draw_points(x0, x1, y0, y1, groups=range(1, len(self.colors)))
            return
        if self.overlay:
            high = None if self._shigh is None else self._shigh & ~self._srun
            counts = self._bin(lo, hi, x0, y0, sx, sy, w, h, self._slayer_base, high)
        else:
            counts = self._bin(lo, hi, x0, y0, sx, sy, w, h)
        self.image.set_image(self._composite(counts), QRectF(x0, y0, x1 - x0, y1 - y0))
        self.image.show()
        if self.overlay:
            self._draw_points(x0, x1, y0, y1, groups=range(1, len(self.colors)))

    def _bin(self, lo: int, hi: int, x0: float, y0: float, sx: float, sy: float, w: int,
             h: int, layers: npt.NDArray[np.int32] | None = None,
             high: npt.NDArray[np.bool_] | None = None) -> npt.NDArray[np.int64]:
        """Counts per (layer, row, column); rows -1 and h catch points above/below the view.

        ``layers``/``high``: the sorted points' layers and highlight (default: every visible
        group in its layer, `_shigh`); the overlay passes the source alone. With a highlight,
        the visible points outside it go to the context layer (the last) instead of their
        group's."""
        slayer = self._slayer if layers is None else layers
        shigh = self._shigh if layers is None else high
        n = hi - lo
        fbuf = np.empty(n, dtype=np.float32)
        ix = np.empty(n, dtype=np.int32)
        iy = np.empty(n, dtype=np.int32)
        np.subtract(self._sx[lo:hi], np.float32(x0), out=fbuf)
        fbuf *= np.float32(sx)
        np.copyto(ix, fbuf, casting="unsafe")
        np.minimum(ix, w - 1, out=ix)
        np.subtract(self._sy[lo:hi], np.float32(y0), out=fbuf)
        fbuf *= np.float32(sy)
        np.clip(fbuf, -1, h, out=fbuf)
        np.copyto(iy, fbuf, casting="unsafe")
        iy += 1  # row 0 and row h+1 are the off-view gutters
        stride = (h + 2) * w
        n_layers = len(self.colors) + 2  # + hidden dump + context
        lay = slayer[lo:hi]
        if shigh is not None:
            dump = len(self.colors)
            lay = np.where(shigh[lo:hi] | (lay == dump), lay, np.int32(n_layers - 1))
        flat = np.multiply(lay, stride)
        iy *= w
        flat += iy
        flat += ix
        counts = np.bincount(flat, minlength=n_layers * stride).reshape(n_layers, h + 2, w)
        return counts[:, 1 : h + 1, :]

    def _value_raster(self, lo: int, hi: int, x0: float, y0: float, sx: float, sy: float,
                      w: int, h: int) -> npt.NDArray[np.uint8]:
        """Colour = the LUT colour of the mean value of the pixel's points, opacity = log of
        their count; points without a value in the missing colour where no valued point is,
        and (with a highlight) the points outside it as faint context. In overlay mode the
        runs are left to the points drawn over it."""
        n = hi - lo
        fx = (self._sx[lo:hi] - np.float32(x0)) * np.float32(sx)
        fy = np.clip((self._sy[lo:hi] - np.float32(y0)) * np.float32(sy), -1, h)
        ix = np.minimum(fx.astype(np.int64), w - 1)
        iy = fy.astype(np.int64)
        inside = (iy >= 0) & (iy < h)
        flat = iy * w + ix
        keep = self._slayer_vis[lo:hi] & inside
        if self.overlay:
            keep &= ~self._srun[lo:hi]
        ctx = np.zeros(n, dtype=bool)
        if self._shigh is not None:
            ctx = keep & ~self._shigh[lo:hi]
            keep &= self._shigh[lo:hi]
        vidx = self._svidx[lo:hi]
        valued = keep & (vidx >= 0)
        size = h * w
        cnt = np.bincount(flat[valued], minlength=size)
        tot = np.bincount(flat[valued], weights=vidx[valued].astype(np.float64), minlength=size)
        miss = np.bincount(flat[keep & (vidx < 0)], minlength=size)
        out = np.zeros((size, 4), dtype=np.uint8)
        if ctx.any():
            cc = np.bincount(flat[ctx], minlength=size)
            only = np.flatnonzero((cc > 0) & (cnt == 0) & (miss == 0))
            if len(only):
                a = np.full(len(only), self.max_alpha * 0.25, dtype=np.float32)
                out[only, 2::-1] = np.asarray(self.context_color, np.float32)[None, :] * a[:, None]
                out[only, 3] = a * 255
        grey = np.flatnonzero((miss > 0) & (cnt == 0))
        if len(grey):
            a = np.full(len(grey), self.max_alpha * 0.5, dtype=np.float32)
            out[grey, 2::-1] = np.asarray(self.missing_color, np.float32)[None, :] * a[:, None]
            out[grey, 3] = a * 255
        hit = np.flatnonzero(cnt)
        if len(hit):
            mean = np.clip(np.rint(tot[hit] / cnt[hit]), 0, 255).astype(np.int64)
            col = self.value_lut[mean].astype(np.float32)
            lc = np.log1p(cnt[hit].astype(np.float32))
            alpha = self.max_alpha * (0.55 + 0.45 * lc / float(lc.max()))
            if self._shigh is not None:
                alpha = np.maximum(alpha, 0.9)
            out[hit, 2::-1] = col * alpha[:, None]
            out[hit, 3] = alpha * 255
        return out.reshape(h, w, 4)

    def _composite(self, counts: npt.NDArray[np.int64]) -> npt.NDArray[np.uint8]:
        """Colour = the groups' colours mixed by their density, opacity = log of the total count.

        Mixing (not painting one set over another) means no set hides another whatever the
        draw order: where runs and people overlap the pixel shows both hues. With a highlight,
        the context layer (points outside it) is a faint grey where no highlighted point is.
        """
        n_groups = len(self.colors)
        _, h, w = counts.shape
        flat = counts.reshape(counts.shape[0], -1)
        total = flat[:n_groups].sum(axis=0)
        out = np.zeros((h * w, 4), dtype=np.uint8)
        if self._shigh is not None:
            ctx = flat[n_groups + 1]
            only = np.flatnonzero((ctx > 0) & (total == 0))
            if len(only):
                lc = np.log1p(ctx[only].astype(np.float32))
                a = self.max_alpha * 0.3 * (0.45 + 0.55 * lc / float(lc.max()))
                col = np.asarray(self.context_color, dtype=np.float32)
                out[only, 2::-1] = col[None, :] * a[:, None]
                out[only, 3] = a * 255
        hit = np.flatnonzero(total)
        if not len(hit):
            return out.reshape(h, w, 4)
        c = flat[:n_groups, hit].astype(np.float32)
        # each set's local density relative to its own size: where a run concentrates its
        # hue wins even if the human set is larger overall
        c /= np.maximum(c.sum(axis=1, keepdims=True), 1.0)
        cols = np.asarray(self.colors, dtype=np.float32)  # (groups, 3)
        mix = c.T @ cols  # (pixels, 3), still to be divided by the weight sum
        wsum = c.sum(axis=0)
        tot = np.log1p(total[hit].astype(np.float32))
        alpha = self.max_alpha * (0.45 + 0.55 * tot / float(tot.max()))
        if self._shigh is not None:  # the highlighted few stand out at full strength
            alpha = np.maximum(alpha, 0.9)
        rgb_pm = mix * (alpha / wsum)[:, None]  # premultiplied colour
        # BGRA byte order of premultiplied ARGB32 on little-endian machines; values are
        # convex combinations, so already within 0..255
        out[hit, 2::-1] = rgb_pm
        out[hit, 3] = alpha * 255
        return out.reshape(h, w, 4)

    def _draw_points(self, x0: float, x1: float, y0: float, y1: float,
                     groups: Sequence[int] | None = None) -> None:
        """Draw the points in view of ``groups`` (all: points mode) as scatters; with some
        groups only, they go over the raster (overlay), above it in z."""
        if groups is None:
            self.mode = "points"
            self.image.hide()
        wanted = range(len(self.scatters)) if groups is None else groups
        cx: list[F32] = []
        cy: list[F32] = []
        for g in wanted:
            s = self.scatters[g]
            s.show()
            s.setZValue((0 if groups is None else 10) + g)
            m = self._members[g] if self.visible[g] else self._members[g][:0]
            xs, ys = self.x[m], self.y[m]
            sel = (xs >= x0) & (xs < x1) & (ys >= y0) & (ys < y1)
            s.setBrush(pg.mkBrush(*self.colors[g], 200))
            if self.highlight is not None:  # the rest as grey context
                on = self.highlight[m]
                cx.append(xs[sel & ~on])
                cy.append(ys[sel & ~on])
                sel &= on
            if self.values is not None:  # each point in its value's colour
                s.setData(x=xs[sel], y=ys[sel], brush=list(self._brush_table[self._vidx[m][sel]]))
            else:
                s.setData(x=xs[sel], y=ys[sel])
        if cx:
            self.ctx_scatter.show()
            self.ctx_scatter.setZValue(-1 if groups is None else 9)
            self.ctx_scatter.setBrush(pg.mkBrush(*self.context_color, 150))
            self.ctx_scatter.setData(x=np.concatenate(cx), y=np.concatenate(cy))
        else:
            self.ctx_scatter.clear()
