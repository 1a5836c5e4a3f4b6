"""Attribute framework: content-hash cache, versioning, batching, cancellation, planning."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from attr_helpers import add_dataset, add_prompt, add_texts, attribute_rows

from monoscope.core import attributes
from monoscope.core.attributes import (
    AnnotateRequest,
    Context,
    Extractor,
    TextItem,
    Value,
    annotate,
)
from monoscope.core.errors import TaskCancelled
from monoscope.core.store import Study
from monoscope.core.tasks import TaskState


class LengthCounter(Extractor):
    """A deterministic extractor that records every body it was asked to compute."""

    name = "test.length"
    version = "1"
    kinds = ()  # never a default
    batch_size = 2

    def __init__(self) -> None:
        self.seen: list[str] = []

    def compute(self, ctx: Context, items: list[TextItem]) -> list[Value]:
        self.seen.extend(it.body for it in items)
        return [Value(float(len(it.body)), "long" if len(it.body) > 5 else "short") for it in items]


@pytest.fixture
def counter(monkeypatch: pytest.MonkeyPatch) -> LengthCounter:
    ex = LengthCounter()
    attributes.extractors()  # load the built-ins before patching the registry
    monkeypatch.setitem(attributes._registry, ex.name, ex)
    return ex


def _fill(study: Study) -> list[int]:
    ds = add_dataset(study)
    p1, p2 = add_prompt(study, ds, "a"), add_prompt(study, ds, "b")
    ids = add_texts(study, p1, ["same body", "other", "same body"])
    ids += add_texts(study, p2, ["same body", "x"], origin="generated")
    return ids


def test_identical_bodies_computed_once(study: Study, counter: LengthCounter) -> None:
    ids = _fill(study)
    res = annotate(study, AnnotateRequest(attributes=["test.length"]))
    assert sorted(counter.seen) == ["other", "same body", "x"]
    rows = attribute_rows(study, "test.length")
    assert set(rows) == set(ids)
    assert rows[ids[0]] == (9.0, "long", "1") == rows[ids[3]]
    assert res.outcomes[0].computed == 3


def test_second_run_computes_nothing_and_new_text_reuses_cache(
    study: Study, counter: LengthCounter
) -> None:
    _fill(study)
    annotate(study, AnnotateRequest(attributes=["test.length"]))
    counter.seen.clear()
    res = annotate(study, AnnotateRequest(attributes=["test.length"]))
    assert counter.seen == []
    assert res.computed == 0 and res.outcomes[0].already == 5
    # a new dataset with a body seen before: copied from the cache, not computed
    ds2 = add_dataset(study, "other")
    new = add_texts(study, add_prompt(study, ds2, "c"), ["other", "brand new"])
    res = annotate(study, AnnotateRequest(attributes=["test.length"]))
    assert counter.seen == ["brand new"]
    assert res.outcomes[-1].copied == 1
    assert attribute_rows(study, "test.length")[new[0]][0] == 5.0


def test_version_bump_recomputes(study: Study, counter: LengthCounter) -> None:
    ids = _fill(study)
    annotate(study, AnnotateRequest(attributes=["test.length"]))
    counter.seen.clear()
    counter.version = "2"
    annotate(study, AnnotateRequest(attributes=["test.length"]))
    assert sorted(counter.seen) == ["other", "same body", "x"]
    assert {v[2] for v in attribute_rows(study, "test.length").values()} == {"2"}
    assert len(attribute_rows(study, "test.length")) == len(ids)


def test_cancel_keeps_committed_batches(study: Study, counter: LengthCounter) -> None:
    _fill(study)
    state = TaskState()
    calls = 0

    def cancel_after_first(batch: list[TextItem]) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            state.cancel()

    original = counter.compute

    def compute(ctx: Context, items: list[TextItem]) -> list[Value]:
        cancel_after_first(items)
        return original(ctx, items)

    counter.compute = compute  # type: ignore[method-assign]
    with pytest.raises(TaskCancelled):
        annotate(study, AnnotateRequest(attributes=["test.length"]), state)
    assert 0 < len(attribute_rows(study, "test.length")) < 5
    annotate(study, AnnotateRequest(attributes=["test.length"]))
    assert len(attribute_rows(study, "test.length")) == 5


def test_progress_reported(study: Study, counter: LengthCounter) -> None:
    _fill(study)
    seen = []
    state = TaskState(on_progress=seen.append, min_interval_s=0)
    annotate(study, AnnotateRequest(attributes=["test.length"]), state)
    assert seen[-1].done == seen[-1].total == 5
    assert seen[0].stage.startswith("test.length")


def test_unknown_attribute_says_what_is_known(study: Study) -> None:
    _fill(study)
    with pytest.raises(attributes.UnknownAttribute, match=r"sentiment\.vader"):
        annotate(study, AnnotateRequest(attributes=["nope"]))


def test_plan_puts_dependencies_first() -> None:
    plan = [ex.name for ex in attributes._plan(["sentiment.head", "text.words"], "text")]
    assert plan == ["embedding", "sentiment.head", "text.words"]
    defaults = [ex.name for ex in attributes._plan(None, "text")]
    assert {"embedding", "sentiment.vader", "sentiment.head", "text.words", "text.ttr",
            "topic"} <= set(defaults)


def test_text_attributes(study: Study) -> None:
    ds = add_dataset(study)
    ids = add_texts(study, add_prompt(study, ds, "a"), ["It's a good, good film.", ""])
    annotate(study, AnnotateRequest(attributes=["text.words", "text.ttr"]))
    words = attribute_rows(study, "text.words")
    ttr = attribute_rows(study, "text.ttr")
    assert words[ids[0]][0] == 6.0  # it is a good good film
    assert ttr[ids[0]][0] == pytest.approx(5 / 6)
    assert words[ids[1]][0] == 0.0 and ttr[ids[1]][0] == 0.0


def test_vader_labels_obvious_sentences(study: Study) -> None:
    ds = add_dataset(study)
    ids = add_texts(study, add_prompt(study, ds, "a"), [
        "A wonderful, moving film. I loved every minute and the acting is superb.",
        "Terrible, boring and painfully stupid. The worst movie I have ever seen.",
    ])
    annotate(study, AnnotateRequest(attributes=["sentiment.vader"]))
    rows = attribute_rows(study, "sentiment.vader")
    assert rows[ids[0]][1] == "POSITIVE" and rows[ids[0]][0] > 0.9  # type: ignore[operator]
    assert rows[ids[1]][1] == "NEGATIVE" and rows[ids[1]][0] < 0.1  # type: ignore[operator]


def test_registry_imports_no_heavy_library() -> None:
    import subprocess

    code = (
        "import sys\n"
        "import monoscope.core.attributes as a\n"
        "a.extractors()\n"
        "import monoscope.cli.analysis_cmds\n"
        "heavy = ('torch', 'sentence_transformers', 'onnxruntime', 'transformers', 'sklearn')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
