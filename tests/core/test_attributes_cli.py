"""`monoscope annotate` on a real study file (model-free attributes, so it stays fast)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from attr_helpers import add_dataset, add_prompt, add_texts, attribute_rows

from monoscope.cli import main
from monoscope.core.store import Study


def _make(path: Path) -> list[int]:
    with Study(path) as st:
        ds = add_dataset(st)
        return add_texts(st, add_prompt(st, ds, "a"), ["Great fun!", "Awful.", "Great fun!"])


def test_annotate_cli_twice(study_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ids = _make(study_path)
    args = ["annotate", str(study_path), "--attributes", "text.words,sentiment.vader"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "sentiment.vader" in out and "computed" in out
    with Study(study_path, read_only=True) as st:
        rows = attribute_rows(st, "sentiment.vader")
        assert rows[ids[0]][1] == "POSITIVE" and rows[ids[1]][1] == "NEGATIVE"
        assert len(attribute_rows(st, "text.words")) == 3
    assert main([*args, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["computed"] == 0
    assert {o["already"] for o in result["outcomes"]} == {3}


def test_annotate_cli_errors(study_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _make(study_path)
    assert main(["annotate", str(study_path), "--attributes", "nope"]) == 1
    assert "Known:" in capsys.readouterr().err
    assert main(["annotate", str(study_path), "--dataset", "missing"]) == 1
    assert "No dataset named" in capsys.readouterr().err
    assert main(["annotate", str(study_path.with_name("absent.duckdb"))]) == 1
    assert main(["annotate", str(study_path), "--list"]) == 0
    assert "sentiment.head" in capsys.readouterr().out
