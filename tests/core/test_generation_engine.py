"""The batched llama.cpp engine on the real bundled models (small n, few tokens).

One llama.cpp thread: on a shared 2-core machine two spinning threads slow down ~10x under load.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from monoscope.core import assets
from monoscope.core.errors import ModelLoadError
from monoscope.core.generation.engine import Job, SampleResult
from monoscope.core.generation.runs import render_jobs
from monoscope.core.generation.sampling import Decay, SamplingParams
from monoscope.core.generation.templates import render_chat

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smol() -> Iterator[object]:
    from monoscope.core.generation.llama_engine import LlamaCppEngine

    eng = LlamaCppEngine(assets.locate("smollm2"), n_parallel=8, n_threads=1)
    yield eng
    eng.close()


def _prompt(eng: object, title: str = "Spider-Man") -> str:
    info = eng.info  # type: ignore[attr-defined]
    msg = [{"role": "user", "content": f"Write a personalized review of the movie titled {title}: "}]
    return render_chat(info.chat_template, msg, eng.bos_text, eng.eos_text)  # type: ignore[attr-defined]


def _gen(eng: object, jobs: list[Job], params: SamplingParams) -> dict[int, SampleResult]:
    out: list[SampleResult] = []
    eng.generate(jobs, params, out.append)  # type: ignore[attr-defined]
    assert len(out) == len(jobs)
    return {r.job.sample_index: r for r in out}


def test_batched_engine_outputs_and_finish_reasons(smol: object) -> None:
    text = _prompt(smol)
    jobs = [Job(1, i, 100 + i, text) for i in range(10)]  # more jobs than slots: slots refill
    res = _gen(smol, jobs, SamplingParams(temperature=0.8, max_tokens=12))
    assert sorted(res) == list(range(10))
    n_prompt = smol.count_tokens(text)  # type: ignore[attr-defined]
    for r in res.values():
        assert r.n_prompt_tokens == n_prompt
        assert r.finish_reason in ("eos", "length")
        assert 0 < r.n_tokens <= 12 and (r.finish_reason == "eos" or r.n_tokens == 12)
        assert r.mean_logprob is not None and r.mean_logprob < 0
        assert r.perplexity == pytest.approx(np.exp(-r.mean_logprob))
        assert r.text.strip() and "<|im_end|>" not in r.text
    assert len({r.text for r in res.values()}) > 5


def test_same_seed_same_text_different_seed_different_text(smol: object) -> None:
    text = _prompt(smol, "Chicago")
    params = SamplingParams(temperature=1.0, top_k=50, max_tokens=16)
    a = _gen(smol, [Job(1, i, 7 + i, text) for i in range(4)], params)
    b = _gen(smol, [Job(1, i, 7 + i, text) for i in range(4)], params)
    c = _gen(smol, [Job(1, i, 9000 + i, text) for i in range(4)], params)
    assert [a[i].text for i in range(4)] == [b[i].text for i in range(4)]
    assert [a[i].text for i in range(4)] != [c[i].text for i in range(4)]


def test_stop_strings_cut_the_text(smol: object) -> None:
    text = _prompt(smol, "Signs")
    free = _gen(smol, [Job(1, 0, 5, text)], SamplingParams(temperature=0.0, max_tokens=24))[0]
    assert len(free.text) >= 12
    mid = len(free.text) // 2
    stop = free.text[mid : mid + 3]
    cut = _gen(smol, [Job(1, 0, 5, text)], SamplingParams(temperature=0.0, max_tokens=24, stop=(stop,)))[0]
    assert cut.finish_reason == "stop"
    assert cut.text == free.text[: free.text.find(stop)]


def test_decay_changes_the_first_token_distribution(smol: object) -> None:
    """Start at T=10 (the paper's decay): the first tokens spread far more than at T=0.7."""
    text = _prompt(smol, "Insomnia")
    jobs = [Job(1, i, 500 + i, text) for i in range(24)]
    plain = _gen(smol, jobs, SamplingParams(temperature=0.7, top_k=50, max_tokens=1))
    decay = _gen(smol, jobs, SamplingParams(temperature=0.7, top_k=50, max_tokens=1,
                                            decay=Decay("exponential", 10.0, 0.7, 20)))
    assert len({r.text for r in decay.values()}) > len({r.text for r in plain.values()}) + 3
    # The decayed samples pick less likely tokens: lower raw log-probability on average.
    mean = lambda rs: np.mean([r.mean_logprob for r in rs.values()])  # noqa: E731
    assert mean(decay) < mean(plain) - 0.5


def test_non_gguf_model_fails_before_llama_cpp(tmp_path: Path) -> None:
    from monoscope.core.generation.llama_engine import LlamaCppEngine

    bad = tmp_path / "fake.gguf"
    bad.write_text("<html>404 not found</html>")
    with pytest.raises(ModelLoadError, match="not a GGUF model file"):
        LlamaCppEngine(bad)


def test_gemma_base_model_gets_a_completion_prompt() -> None:
    from monoscope.core.generation.llama_engine import LlamaCppEngine

    eng = LlamaCppEngine(assets.locate("gemma3-base"), n_parallel=2, n_threads=1)
    try:
        assert eng.info.chat_template is None and not eng.info.is_chat
        run = {"template": "personalized-films", "n_per_prompt": 2, "seed": 0,
               "meta": '{"user": "Write a personalized review of the movie titled {title}: ", '
                       '"base": "Below is a personalized review of the movie titled {title}: "}'}
        prompts = [{"id": 1, "key": "m1", "title": "Signs", "context": None}]
        jobs = render_jobs(run, prompts, None, eng.bos_text, eng.eos_text, {(1, 0), (1, 1)})
        assert jobs[0].prompt_text == "Below is a personalized review of the movie titled Signs: "
        assert "[INST]" not in jobs[0].prompt_text and "<<SYS>>" not in jobs[0].prompt_text
        toks = eng.tokenize(jobs[0].prompt_text)
        assert toks[0] == 2  # Gemma's BOS added exactly once
        res = _gen(eng, jobs, SamplingParams(temperature=0.8, max_tokens=6))
        assert all(r.n_tokens > 0 and r.text for r in res.values())
    finally:
        eng.close()


def test_refilling_slots_mid_flight_keeps_each_sequence_on_its_own_logits(smol: object) -> None:
    """Samples finish at different steps (stop string), freed slots take new prompts whose
    evaluation must not clobber the logits of the sequences still running."""
    titles = ["Signs", "Chicago", "Insomnia", "Solaris"]
    texts = [_prompt(smol, t) for t in titles]
    params = SamplingParams(temperature=0.0, max_tokens=20, stop=("e",))
    alone = {t: _gen(smol, [Job(k, 0, 1, t)], params)[0].text for k, t in enumerate(texts)}
    jobs = [Job(k, i, 1, t) for k, t in enumerate(texts) for i in range(3)]
    out: list[SampleResult] = []
    smol.generate(jobs, params, out.append)  # type: ignore[attr-defined]
    assert len(out) == 12
    # Greedy decoding in a batch and alone can part at a near-tie of two logits (the matrix
    # kernels differ with the batch composition: seen here for 2 of the 3 "Solaris" samples on
    # one CPU build, whose first two tokens' logits are nearly tied), so the check is for
    # clobbering, which would hit every refilled sequence: at least 3 of 4 prompts agree with
    # their solo run in every sample, and no sample drifts into another prompt's film.
    agree = [all(r.text == alone[t] for r in out if r.job.prompt_text == t) for t in texts]
    assert sum(agree) >= 3, [(r.job.prompt_id, r.text) for r in out]
    for r in out:
        title = titles[r.job.prompt_id]
        assert not any(o in r.text for o in titles if o != title), r.text


def test_a_sample_does_not_depend_on_its_batch(smol: object) -> None:
    """Resumed samples are generated in other batches: seed + settings still give the same text."""
    text = _prompt(smol, "Signs")
    params = SamplingParams(temperature=1.0, max_tokens=16)
    batched = _gen(smol, [Job(1, i, 100 + i, text) for i in range(4)], params)
    for i in (0, 3):
        alone = _gen(smol, [Job(1, i, 100 + i, text)], params)[i]
        assert alone.text == batched[i].text
        assert alone.mean_logprob == pytest.approx(batched[i].mean_logprob, abs=1e-4)
