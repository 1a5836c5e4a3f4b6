"""Scoring with the real bundled SmolLM2: the scores are llama.cpp's own per-token numbers, the
stage stores and caches them, and a kill -9 mid-scoring resumes without rescoring a text."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from monoscope.cli import main as cli_main
from monoscope.core import assets
from monoscope.core.scoring import ScoreRequest, score, token_ends
from monoscope.core.store import Study, content_hash
from monoscope.core.store import scores as scores_repo
from monoscope.core.tasks import TaskState

pytestmark = pytest.mark.slow
CHAT = "<|im_start|>user\nWrite a personalized review of the movie titled {}: <|im_end|>\n" \
       "<|im_start|>assistant\n"
WORDS = ["the", "film", "is", "a", "gorgeous", "witty", "seductive", "movie", "that", "never",
         "quite", "finds", "its", "own", "voice", "but", "keeps", "us", "watching", "anyway",
         "because", "cast", "wonderful", "and", "strange"]


@pytest.fixture(autouse=True)
def one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONOSCOPE_THREADS", "1")  # shared 2-core machine


def texts(n: int, seed: int = 1) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, int(rng.integers(1, 45)))).capitalize() + "."
            for _ in range(n)]


def reference(llm: object, context: list[int], tokens: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Per-token log-probabilities and entropies from `Llama.eval`'s logits (float64)."""
    llm.reset()  # type: ignore[attr-defined]
    llm.eval(context + tokens)  # type: ignore[attr-defined]
    n = len(context) + len(tokens)
    rows = np.array(llm.scores[:n], dtype=np.float64)  # type: ignore[attr-defined]
    rows -= rows.max(axis=1, keepdims=True)
    lp = rows - np.log(np.exp(rows).sum(axis=1, keepdims=True))
    at = np.arange(len(tokens)) + len(context) - 1
    return lp[at, tokens], -(np.exp(lp[at]) * lp[at]).sum(axis=1)


def test_scores_equal_llama_cpp_per_token_logprobs() -> None:
    """Texts of two prompts scored with each prompt's KV shared (one text longer than a decode
    batch) against one `Llama.eval` per text with `logits_all`: per-token log-probability
    within 1e-4 nats, entropy within 1e-3 nats (float32 sums over the vocabulary)."""
    from llama_cpp import Llama

    from monoscope.core.generation.llama_engine import LlamaCppEngine, ScoreItem, score_lanes

    model = assets.locate("smollm2")
    bodies = texts(24)
    # two single-threaded lanes, each prompt split over both (chunks of 8 texts): a lane
    # keeps the prompt prefix the two contexts share and decodes only the title onwards
    assert score_lanes(2, len(bodies)) == (2, 1)
    bodies[5] = " ".join(texts(28, seed=9))  # longer than a decode batch: continues alone
    ctxs = [CHAT.format("Spider-Man"), CHAT.format("About a Boy")]
    got = {}
    with LlamaCppEngine(model, n_parallel=1, n_threads=2, flash_attn="off", prompt_slots=1
                        ) as eng:
        eng.score([ScoreItem(i, ctxs[i % 2], b) for i, b in enumerate(bodies)],
                  lambda r: got.__setitem__(r.key, r))
        ctx_tokens = [eng.tokenize(c) for c in ctxs]
        assert 512 < len(eng.tokenize_text(bodies[5])) < 1000  # more than one decode
    assert sorted(got) == list(range(len(bodies)))
    llm = Llama(str(model), n_ctx=1024, n_batch=1024, n_ubatch=1024, logits_all=True, verbose=False, n_threads=1,
                flash_attn=False)
    worst_lp: dict[int, float] = {}
    worst_h: dict[int, float] = {}
    for i in [5, *range(0, len(bodies), 4)]:  # a few texts: Llama.eval is slow here
        r = got[i]
        lp, h = reference(llm, ctx_tokens[i % 2], r.tokens)
        worst_lp[i] = float(np.abs(lp - r.logprobs).max())
        worst_h[i] = float(np.abs(h - r.entropies).max())
    llm.close()
    assert max(worst_lp.values()) < 1e-4, worst_lp
    assert max(worst_h.values()) < 1e-3, worst_h


def test_token_ends_spell_the_body() -> None:
    assert token_ends([b"A", b" good", b" film"], "A good film") == [1, 6, 11]
    assert token_ends([b" A", b" film"], "A film") == [1, 6]  # leading space of the tokenizer
    assert token_ends([b"x"], "A film") is None


def add_films(st: Study, n_texts: int) -> list[int]:
    ids = []
    bodies = texts(n_texts, seed=3)
    with st.transaction() as cur:
        cur.execute("INSERT INTO datasets (name, kind, meta) VALUES ('films', 'text', '{}')")
        for i, title in enumerate(("Spider-Man", "Signs")):
            cur.execute("INSERT INTO prompts (dataset_id, key, title, context) VALUES "
                        "(1, ?, ?, NULL)", [f"m{i}", title])
        for j, body in enumerate(bodies):
            got = cur.execute(
                "INSERT INTO texts (prompt_id, origin, sample_index, body, content_hash) "
                "VALUES (?, 'source', ?, ?, ?) RETURNING id",
                [1 + j % 2, j // 2, body, content_hash(body)]).fetchone()
            ids.append(int(got[0]))
    return ids


def test_stage_stores_scores_and_skips_scored_texts(tmp_path: Path) -> None:
    with Study(tmp_path / "s.duckdb") as st:
        ids = add_films(st, 10)
        # two identical bodies under the same prompt and persona share one computation
        body = st.scalar("SELECT body FROM texts WHERE id = ?", [ids[0]])
        with st.transaction() as cur:
            cur.execute("INSERT INTO texts (prompt_id, origin, sample_index, body, content_hash) "
                        "VALUES (1, 'source', 99, ?, ?)", [body, content_hash(body)])
        req = ScoreRequest(dataset="films", model="smollm2", threads=1)
        first = score(st, req, TaskState())
        assert first.scored + first.copied == 11 and first.tokens > 0
        (sid,) = first.scorers
        row = scores_repo.text_score(st, sid, ids[0])
        assert row is not None and row["n_tokens"] == len(row["logprobs"]) == len(row["ends"])
        # float16 per-token values: within 1e-3 relative of the float32 total
        assert row["total_logprob"] == pytest.approx(float(np.sum(row["logprobs"])), rel=1e-3)
        assert row["mean_logprob"] == pytest.approx(row["total_logprob"] / row["n_tokens"])
        assert row["perplexity"] == pytest.approx(np.exp(-row["mean_logprob"]))
        assert int(row["ends"][-1]) == len(body.encode())  # the tokens spell the body
        again = score(st, req, TaskState())
        assert (again.scored, again.copied, again.tokens) == (0, 0, 0)
        assert scores_repo.count_rows(st, sid) == 11


CHILD = textwrap.dedent("""
    import sys
    from monoscope.core.scoring import ScoreRequest, score
    from monoscope.core.store import Study
    from monoscope.core.tasks import TaskState

    class Loud(TaskState):
        def progress(self, done, total, message="", force=False):
            super().progress(done, total, message, force)
            if done:
                print("committed", done, flush=True)

    with Study(sys.argv[1]) as st:
        score(st, ScoreRequest(dataset="films", model="smollm2", threads=1), Loud())
""")


def test_kill_9_mid_scoring_resumes_without_rescoring(tmp_path: Path) -> None:
    path = tmp_path / "k.duckdb"
    with Study(path) as st:
        add_films(st, 40)
    env = dict(os.environ, MONOSCOPE_THREADS="1", HF_HUB_OFFLINE="1")
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE,
                             text=True, env=env)
    assert child.stdout is not None
    for line in child.stdout:
        if line.startswith("committed"):
            break
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL
    with Study(path) as st:
        before = scores_repo.row_stamps(st)
        assert 1 <= len(before) < 40
    assert cli_main(["score", str(path), "--dataset", "films", "--model", "smollm2",
                     "--threads", "1"]) == 0
    with Study(path) as st:
        after = scores_repo.row_stamps(st)
        assert len(after) == 40
        kept = {(s, t): v for s, t, v in after}
        assert all(kept[(s, t)] == v for s, t, v in before)  # no row rewritten
        assert st.scalar("SELECT count(DISTINCT text_id) FROM text_scores") == 40
