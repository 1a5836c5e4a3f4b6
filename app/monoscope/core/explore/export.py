"""The one CSV writer of the explorer's exports (search hits, the selection's table, the
Hivemind matrix): UTF-8, a header row, the csv module's quoting, and a clear error when the
file cannot be written."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path

from monoscope.core.errors import MonoscopeError


def write_csv(path: str | Path, header: Sequence[object], rows: Iterable[Sequence[object]],
              error: type[MonoscopeError] = MonoscopeError, make_parents: bool = False) -> Path:
    """Write ``header`` then ``rows`` to ``path`` (its folder made first with
    ``make_parents``); a file that cannot be written raises ``error`` naming it and what to
    do."""
    out = Path(path)
    try:
        if make_parents:
            out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            w.writerows(rows)
    except OSError as exc:
        raise error(f"Could not write {out}: {exc.strerror or exc}. Choose another "
                    "folder.") from None
    return out
