"""The one palette of Monoscope: the colour and marker of the source and of every run.

The window (`monoscope.ui.theme`, the figure views), the HTML report and the exported figures
all take a run's colour and marker from here, keyed by run id, so a run looks the same
everywhere (and in every study opened later). Qt-free: plain RGB tuples, hex strings and
marker names (pyqtgraph's symbol names; `mpl_marker` translates them for matplotlib).

Runs: a colour-blind-aware qualitative palette (Okabe-Ito's hues, with a wine, a brown and an
indigo instead of the yellow that vanishes on white and the pink close to the selection) and,
on a cycle of a different length, a marker shape, so runs that share a colour never share a
shape. The source is neutral grey and drawn as circles. The selection colour (the ring around
the chosen text) is a magenta that no run and not the source uses.
"""

from __future__ import annotations

RGB = tuple[int, int, int]

SOURCE_LIGHT: RGB = (120, 120, 120)  # on white (window light mode, report, exports)
SOURCE_DARK: RGB = (165, 165, 165)  # on a dark window
SOURCE_MARKER = "o"

RUN_COLOURS: tuple[RGB, ...] = (
    (0, 114, 178),  # blue
    (213, 94, 0),  # vermillion
    (0, 158, 115),  # bluish green
    (230, 159, 0),  # orange
    (86, 180, 233),  # sky blue
    (136, 34, 85),  # wine
    (140, 81, 10),  # brown
    (51, 34, 136),  # indigo
)
# pyqtgraph symbol names; 7 shapes against 8 colours: (colour, shape) repeats after 56 runs
RUN_MARKERS: tuple[str, ...] = ("s", "t", "d", "t1", "p", "h", "star")
_MPL = {"o": "o", "s": "s", "t": "v", "t1": "^", "t2": ">", "t3": "<", "d": "D", "p": "p",
        "h": "h", "star": "*", "+": "P", "x": "X"}

SELECTION: RGB = (255, 0, 255)  # the selected text's ring: no run's colour, not the source's


def hex_of(rgb: RGB) -> str:
    """'#rrggbb' of an RGB triple."""
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def run_colour(run_id: int) -> RGB:
    """A run's colour, by run id (run 1 takes the first colour)."""
    return RUN_COLOURS[(int(run_id) - 1) % len(RUN_COLOURS)]


def run_marker(run_id: int) -> str:
    """A run's marker shape (pyqtgraph symbol name), by run id."""
    return RUN_MARKERS[(int(run_id) - 1) % len(RUN_MARKERS)]


def source_colour(dark: bool = False) -> RGB:
    return SOURCE_DARK if dark else SOURCE_LIGHT


def run_id_of(key: str) -> int | None:
    """The run id of a group key 'run:<id>' (None for 'source' or anything else)."""
    head, _, tail = key.partition(":")
    if head != "run":
        return None
    try:
        return int(tail)
    except ValueError:
        return None


def group_colour(key: str, dark: bool = False) -> RGB:
    """Colour of a group key: 'source' or 'run:<id>' (another key: a colour from its hash)."""
    if key == "source":
        return source_colour(dark)
    rid = run_id_of(key)
    if rid is None:
        return RUN_COLOURS[sum(key.encode()) % len(RUN_COLOURS)]
    return run_colour(rid)


def group_marker(key: str) -> str:
    """Marker of a group key ('source' draws circles)."""
    rid = run_id_of(key)
    return SOURCE_MARKER if rid is None else run_marker(rid)


def group_hex(key: str, dark: bool = False) -> str:
    return hex_of(group_colour(key, dark))


def mpl_marker(symbol: str) -> str:
    """matplotlib's marker for a pyqtgraph symbol name."""
    return _MPL.get(symbol, "o")


# The sequential scale of heatmaps (the Hivemind matrix in the window and the report): viridis'
# stops, low -> high, perceptually even and readable by colour-blind readers. A cell's value
# text takes black or white ink, whichever reads on its colour (`ink_on`).
HEAT: tuple[RGB, ...] = ((68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98),
                         (253, 231, 37))


def heat_colour(t: float) -> RGB:
    """Colour of a position t in [0, 1] on the heat scale (clipped; linear between stops)."""
    t = min(max(float(t), 0.0), 1.0) * (len(HEAT) - 1)
    i = min(int(t), len(HEAT) - 2)
    f = t - i
    a, b = HEAT[i], HEAT[i + 1]
    return (round(a[0] + (b[0] - a[0]) * f), round(a[1] + (b[1] - a[1]) * f),
            round(a[2] + (b[2] - a[2]) * f))


def ink_on(rgb: RGB) -> RGB:
    """Black or white, whichever reads on a background colour (relative luminance)."""
    lum = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]
    return (0, 0, 0) if lum > 140 else (255, 255, 255)
