"""Packaging checks: wheel contents, installed-resource lookup, .desktop file, icons, constraints,
the frozen-bundle asset fallbacks (HTTPS download, bundled assets) and the bundle's python shim."""

from __future__ import annotations

import configparser
import hashlib
import http.server
import io
import json
import shutil
import struct
import subprocess
import sys
import threading
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from monoscope.core import assets
from monoscope.core.errors import AssetMissing

ROOT = Path(__file__).resolve().parent.parent
ICON_SIZES = (16, 32, 48, 64, 128, 256, 512)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built in an isolated environment (the build back-end comes from the index)."""
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(ROOT)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (whl,) = out.glob("monoscope-*.whl")
    return whl


@pytest.mark.network
def test_wheel_contains_package_resources_migrations_and_licence(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "monoscope/__main__.py" in names
    assert "monoscope/core/store/migrations/001_initial.sql" in names
    assert "monoscope/resources/icons/monoscope.svg" in names
    assert "monoscope/resources/templates/presets.json" in names
    assert "monoscope/core/analysis/metrics.py" in names and "monoscope/metrics.py" in names
    assert not any(n.startswith("monoscope/testing/") for n in names)  # tests' helpers stay out
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    entry = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry).decode()
    assert "monoscope = monoscope.__main__:main" in text


@pytest.mark.network
def test_installed_wheel_finds_its_resources_and_migrations(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from monoscope.core import assets; from monoscope.core.store import study;"
        "print(assets.resources_dir()); print(study.migrations()[0][1])"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(site)], capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    res, first_migration = proc.stdout.split()
    assert Path(res) == site / "monoscope" / "resources"
    assert first_migration == "initial"


def test_desktop_file_is_valid() -> None:
    path = ROOT / "packaging" / "monoscope.desktop"
    validator = shutil.which("desktop-file-validate")
    if validator:
        proc = subprocess.run([validator, str(path)], capture_output=True, text=True, check=False)
        assert proc.returncode == 0 and "error" not in proc.stdout, proc.stdout
    cp = configparser.ConfigParser(interpolation=None)
    cp.optionxform = str  # type: ignore[assignment,method-assign]
    cp.read(path, encoding="utf-8")
    entry = cp["Desktop Entry"]
    assert entry["Type"] == "Application" and entry["Name"] == "Monoscope"
    assert entry["Exec"].split()[0] == "monoscope" and entry["Icon"] == "monoscope"
    assert entry["Categories"].endswith(";")


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


def test_icons_exist_at_every_size() -> None:
    icons = ROOT / "resources" / "icons"
    svg = (icons / "monoscope.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    for size in ICON_SIZES:
        assert _png_size(icons / f"monoscope-{size}.png") == (size, size)


def test_dependencies_are_ranges_and_constraints_are_exact() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert meta["license"] == "Apache-2.0" and "LICENSE" in meta["license-files"]
    assert (ROOT / "LICENSE").read_text().lstrip().startswith("Apache License")
    for dep in meta["dependencies"]:
        assert "==" not in dep, f"exact pin in dependencies: {dep}"
    lines = [ln for ln in (ROOT / "constraints.txt").read_text().splitlines()
             if ln and not ln.startswith("#")]
    assert lines and all("==" in ln and "@" not in ln and "+" not in ln for ln in lines)
    assert not any(ln.lower().startswith("monoscope") for ln in lines)
    pinned = {ln.split("==")[0].lower().replace("_", "-") for ln in lines}
    assert {"torch", "llama-cpp-python", "pyside6-essentials", "duckdb"} <= pinned


# --- frozen-bundle fallbacks in monoscope.core.assets ------------------------------------

def _wheel_bytes(dist: str, version: str, member: str, payload: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(member, payload)
        zf.writestr(f"{dist}-{version}.dist-info/METADATA", f"Name: {dist}\nVersion: {version}\n")
    return buf.getvalue()


@pytest.fixture()
def index(tmp_path: Path) -> Iterator[tuple[str, bytes]]:
    """A local package index speaking PyPI's JSON simple API (PEP 691), over real HTTP."""
    payload = b"monoscope test payload\n" * 100
    whl = _wheel_bytes("tiny_asset", "1.0", "tiny_asset/data.bin", payload)
    files = tmp_path / "files"
    files.mkdir()
    (files / "tiny_asset-1.0-py3-none-any.whl").write_bytes(whl)
    listing = {"files": [
        {"filename": "tiny_asset-0.9-py3-none-any.whl", "url": "/files/nope.whl", "hashes": {}},
        {"filename": "tiny_asset-1.0.tar.gz", "url": "/files/nope.tar.gz", "hashes": {}},
        {"filename": "tiny_asset-1.0-py3-none-any.whl",
         "url": "../../files/tiny_asset-1.0-py3-none-any.whl",
         "hashes": {"sha256": hashlib.sha256(whl).hexdigest()}},
    ]}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/simple/tiny-asset/":
                assert "pypi.simple.v1+json" in self.headers["Accept"]
                body = json.dumps(listing).encode()
            elif self.path.startswith("/files/") and (files / self.path[7:]).is_file():
                body = (files / self.path[7:]).read_bytes()
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple", payload
    finally:
        server.shutdown()
        server.server_close()


def test_https_download_fetches_the_pinned_wheel(index: tuple[str, bytes], tmp_path: Path) -> None:
    url, payload = index
    dest = tmp_path / "dl"
    dest.mkdir()
    assets._https_download(["tiny-asset==1.0"], dest, index=url)
    (whl,) = dest.glob("*.whl")
    assert whl.name == "tiny_asset-1.0-py3-none-any.whl"
    assert zipfile.ZipFile(whl).read("tiny_asset/data.bin") == payload
    with pytest.raises(AssetMissing, match="no wheel"):
        assets._https_download(["tiny-asset==2.0"], dest, index=url)
    with pytest.raises(AssetMissing, match="exact version"):
        assets._https_download(["tiny-asset"], dest, index=url)


def test_frozen_fetch_uses_https_and_bundled_assets_win(
    index: tuple[str, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, payload = index
    tiny = assets.Asset("tiny", "data", "test asset", "data.bin",
                        (assets.WheelPart("tiny-asset==1.0", "tiny_asset/data.bin"),),
                        sha256=hashlib.sha256(payload).hexdigest())
    monkeypatch.setitem(assets.ASSETS, "tiny", tiny)
    monkeypatch.setenv("MONOSCOPE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MONOSCOPE_INDEX_URL", url)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    monkeypatch.setattr(sys, "executable", str(bundle / "monoscope"))
    monkeypatch.setenv("PATH", "/nonexistent")  # no pip reachable: only urllib can work
    got = assets.fetch("tiny")
    assert got == tmp_path / "data" / "assets" / "data.bin"
    assert got.read_bytes() == payload and assets.verify("tiny")[0]
    # a bundle built --with-assets carries its own copy next to the executable
    (bundle / "assets").mkdir()
    (bundle / "assets" / "data.bin").write_bytes(payload)
    assert assets.asset_path("tiny") == bundle / "assets" / "data.bin"
    assert assets.python_executable() == sys.executable  # no monoscope-python in this bundle
    (bundle / "monoscope-python").write_bytes(b"")
    assert assets.python_executable() == str(bundle / "monoscope-python")
    monkeypatch.delattr(sys, "frozen")
    assert assets.bundled_assets_dir() is None
    assert assets.python_executable() == sys.executable
    assert assets.asset_path("tiny") == tmp_path / "data" / "assets" / "data.bin"


@pytest.mark.network
def test_https_download_from_pypi(tmp_path: Path) -> None:
    """The real thing: PyPI's JSON simple API, a small asset wheel (pygorithm, ~0.1 MB)."""
    assets._https_download(["pygorithm==1.0.4"], tmp_path)
    (whl,) = tmp_path.glob("pygorithm-1.0.4-*.whl")
    assert any(n.startswith("pygorithm/sorting/") for n in zipfile.ZipFile(whl).namelist())


# --- the bundle's entry point standing in for `python -c` --------------------------------

def test_entry_runs_python_c_like_an_interpreter() -> None:
    entry = ROOT / "packaging" / "monoscope_entry.py"
    code = "import sys, heapq; print(sys.argv[1:], heapq.nsmallest(2, [3, 1, 2])); sys.exit(3)"
    proc = subprocess.run([sys.executable, str(entry), "-I", "-S", "-c", code, "a", "b"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout.strip() == "['a', 'b'] [1, 2]"
    proc = subprocess.run([sys.executable, str(entry), "-c", "raise ValueError('boom')"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1 and "ValueError: boom" in proc.stderr
    proc = subprocess.run([sys.executable, str(entry), "--version"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0 and proc.stdout.startswith("monoscope ")
    shim = ROOT / "packaging" / "python_shim.py"
    proc = subprocess.run([sys.executable, str(shim), "-I", "-c", "print(6 * 7)"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0 and proc.stdout == "42\n"
    proc = subprocess.run([sys.executable, str(shim), "script.py"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2 and "usage" in proc.stderr


def test_install_desktop_writes_entry_and_icons(tmp_path: Path) -> None:
    exe = tmp_path / "bundle" / "monoscope"
    exe.parent.mkdir()
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    data = tmp_path / "xdg"
    proc = subprocess.run(["bash", str(ROOT / "packaging" / "install_desktop.sh"), str(exe)],
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                               "XDG_DATA_HOME": str(data)},
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    entry = (data / "applications" / "monoscope.desktop").read_text()
    assert f'Exec="{exe}"' in entry and f"TryExec={exe}" in entry
    for size in ICON_SIZES:
        icon = data / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "monoscope.png"
        assert _png_size(icon) == (size, size)
    assert (data / "icons" / "hicolor" / "scalable" / "apps" / "monoscope.svg").is_file()
