"""Copy the bundled models and data into a built desktop bundle (``<bundle>/assets/``).

    python packaging/bake_assets.py dist/monoscope [NAME ...]   # default: every asset

Uses the copies this environment already has (fetching missing ones). The frozen app finds
them through ``monoscope.core.assets.bundled_assets_dir()``.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from monoscope.core import assets


def bake(bundle: Path, names: list[str]) -> list[Path]:
    """Copy each named asset to ``bundle/assets/<filename>``; returns the paths written."""
    if not (bundle / "monoscope").is_file():
        raise SystemExit(f"{bundle} is not a built bundle (no {bundle / 'monoscope'})")
    out = bundle / "assets"
    out.mkdir(exist_ok=True)
    written = []
    for name in names:
        src = assets.locate(name)
        dst = out / assets.ASSETS[name].filename
        if dst.exists():
            shutil.rmtree(dst) if dst.is_dir() else dst.unlink()
        if src.is_dir():
            shutil.copytree(src, dst)
        else:
            shutil.copy2(src, dst)
        print(f"  {name}: {dst}")
        written.append(dst)
    return written


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    bake(Path(sys.argv[1]), sys.argv[2:] or list(assets.ASSETS))
