"""Fast unit tests of the numpy sampler, the temperature decay, seeds, templates and GGUF reading."""

from __future__ import annotations

import itertools
import math
import struct
from pathlib import Path

import numpy as np
import pytest

from monoscope.core.errors import ModelLoadError
from monoscope.core.generation.gguf import read_gguf
from monoscope.core.generation.sampling import (
    Decay,
    SamplingError,
    SamplingParams,
    derive_seed,
    sample_batch,
    top_ids,
    warp_probs,
)
from monoscope.core.generation.templates import (
    TemplateError,
    dataset_domain,
    personas,
    render_chat,
    resolve_template,
)


def test_exponential_decay_follows_the_papers_formula() -> None:
    d = Decay("exponential", 10.0, 1.0, 20)
    assert d.temperature(0) == pytest.approx(10.0)
    for i in (1, 5, 13):
        w = math.exp(-5 * i / 20)
        assert d.temperature(i) == pytest.approx(10 * w + 1.0 * (1 - w))
    assert d.temperature(20) == 1.0 and d.temperature(500) == 1.0
    temps = [d.temperature(i) for i in range(21)]
    assert all(a > b for a, b in itertools.pairwise(temps))


def test_linear_decay_and_parse() -> None:
    d = Decay.parse("linear:10:1.0:20")
    assert (d.kind, d.start, d.end, d.length) == ("linear", 10.0, 1.0, 20)
    assert d.temperature(10) == pytest.approx(5.5)
    assert Decay.parse("exp:10:1.2:50").kind == "exponential"
    with pytest.raises(SamplingError, match="KIND:START:END:LENGTH"):
        Decay.parse("linear:10")
    with pytest.raises(SamplingError, match="numbers"):
        Decay.parse("linear:hot:1:20")
    p = SamplingParams(temperature=0.5, decay=d)
    assert p.temperature_at(0) == 10.0 and p.temperature_at(25) == 1.0
    to_run = Decay.parse("exp:10:20")  # no END: decays to the run's own temperature
    assert to_run.end is None
    assert SamplingParams(temperature=1.2, decay=to_run).temperature_at(20) == 1.2
    assert SamplingParams(temperature=0.5, decay=to_run).temperature_at(0) == 10.0


def test_params_round_trip_json() -> None:
    p = SamplingParams(temperature=1.2, top_p=0.9, top_k=0, stop=("\n\n",), decay=Decay())
    assert SamplingParams.from_json(p.to_json()) == p


def test_top_ids_is_exact() -> None:
    rng = np.random.default_rng(1)
    for scale in (0.5, 3.0, 30.0):
        row = (rng.standard_normal(5000) * scale).astype(np.float32)
        for k in (1, 7, 50, 1000):
            assert (top_ids(row, k) == np.sort(np.argsort(row)[-k:])).all()


def test_warpers_top_k_top_p_min_p() -> None:
    logits = np.log(np.array([0.5, 0.2, 0.15, 0.1, 0.05], dtype=np.float32))
    ids, p = warp_probs(logits, 1.0, 2, 1.0, 0.0)
    assert sorted(ids.tolist()) == [0, 1] and p.sum() == pytest.approx(1.0)
    ids, p = warp_probs(logits, 1.0, 0, 0.8, 0.0)  # 0.5+0.2 < 0.8 <= 0.85: three tokens
    assert ids.tolist() == [0, 1, 2]
    ids, _ = warp_probs(logits, 1.0, 0, 1.0, 0.25)  # keep p >= 0.25 * 0.5
    assert sorted(ids.tolist()) == [0, 1, 2]
    # Temperature first (HF order): hot sampling widens the top-p nucleus.
    hot, _ = warp_probs(logits, 5.0, 0, 0.8, 0.0)
    assert len(hot) > 3


def _entropy(tokens: np.ndarray) -> float:
    _, counts = np.unique(tokens, return_counts=True)
    q = counts / counts.sum()
    return float(-(q * np.log(q)).sum())


def test_seeded_sampling_is_reproducible_and_temperature_matters() -> None:
    rng = np.random.default_rng(0)
    logits = np.tile((rng.standard_normal(1000) * 4).astype(np.float32), (64, 1))
    params = SamplingParams(top_k=0, top_p=1.0)

    def draw(t: float, seeds: range) -> np.ndarray:
        rngs = [np.random.default_rng(s) for s in seeds]
        tok, lp = sample_batch(logits, [t] * 64, params, rngs, [[] for _ in seeds])
        assert (lp <= 0).all()
        return tok

    a, b = draw(1.0, range(64)), draw(1.0, range(64))
    assert (a == b).all()
    assert not (draw(1.0, range(100, 164)) == a).all()
    assert _entropy(draw(10.0, range(64))) > _entropy(draw(0.3, range(64))) + 0.5
    assert len(set(draw(0.0, range(64)).tolist())) == 1  # greedy


def test_logprob_is_untempered() -> None:
    logits = np.log(np.array([[0.7, 0.2, 0.1]], dtype=np.float32))
    params = SamplingParams(top_k=0)
    tok, lp = sample_batch(logits, [5.0], params, [np.random.default_rng(3)], [[]])
    assert lp[0] == pytest.approx(math.log([0.7, 0.2, 0.1][int(tok[0])]), abs=1e-5)


def test_repeat_penalty_discourages_recent_tokens() -> None:
    logits = np.array([[2.0, 1.9, -1.0]], dtype=np.float32)
    params = SamplingParams(temperature=0.0, repeat_penalty=2.0)
    tok, _ = sample_batch(logits, [0.0], params, [np.random.default_rng(0)], [[0]])
    assert int(tok[0]) == 1


def test_derived_seeds_are_stable_and_distinct() -> None:
    assert derive_seed(0, "m1", 3) == derive_seed(0, "m1", 3)
    seeds = {derive_seed(s, k, i) for s in (0, 1) for k in ("a", "b") for i in range(10)}
    assert len(seeds) == 40 and all(0 <= x < 2**63 for x in seeds)


def test_presets_pick_film_wording_and_rotate_personas() -> None:
    assert dataset_domain("films", "text", {}) == "films"
    assert dataset_domain("goodreads", "text", {}) == "books"
    assert dataset_domain("cc", "code", None) == "code"
    t = resolve_template("personalized", "films")
    assert "movie titled {title}" in t.user and "movie" in (t.base or "")
    p = resolve_template("personation", "books")
    names = personas()
    assert len(names) == 10
    assert names[3] in p.completion("Dune", None, 13) and names[3] in p.messages("Dune", None, 3)[0]["content"]
    code = resolve_template("code", "code")
    msgs = code.messages("A", "Sum two ints {a} {b}", 0)
    assert msgs[0]["role"] == "system" and "{a} {b}" in msgs[1]["content"]
    custom = resolve_template("Tell me about {title} ({context})", "books")
    assert custom.completion("X", "ctx", 0) == "Tell me about X (ctx)"
    with pytest.raises(TemplateError, match="Unknown placeholder"):
        resolve_template("About {titel}", "books")
    with pytest.raises(TemplateError, match="No preset"):
        resolve_template("nonexistent", "books")


def test_chat_template_renders_with_generation_prompt() -> None:
    tpl = "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"
    out = render_chat(tpl, [{"role": "user", "content": "hi"}], "<s>", "</s>")
    assert out == "<|user|>hi\n<|assistant|>"


def test_non_gguf_file_is_a_clear_model_error(tmp_path: Path) -> None:
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"PK\x03\x04 this is a zip, not a model" * 10)
    with pytest.raises(ModelLoadError, match="not a GGUF model file"):
        read_gguf(bad)
    with pytest.raises(ModelLoadError, match="No model file"):
        read_gguf(tmp_path / "missing.gguf")
    trunc = tmp_path / "trunc.gguf"
    trunc.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 1, 5) + struct.pack("<Q", 100) + b"ab")
    with pytest.raises(ModelLoadError, match=r"corrupt|truncated"):
        read_gguf(trunc)
