"""Runs on a real DuckDB study with the real bundled model: provenance, errors, cancel, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from monoscope.cli import main as cli_main
from monoscope.core import assets
from monoscope.core.errors import PromptTooLong, TaskCancelled
from monoscope.core.generation import RunRequest, plan_runs, run_generation
from monoscope.core.store import Study
from monoscope.core.tasks import TaskState

pytestmark = pytest.mark.slow
FILMS = ["Spider-Man", "Signs", "Chicago", "Insomnia"]


@pytest.fixture(autouse=True)
def one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONOSCOPE_THREADS", "1")  # shared 2-core machine: see test_generation_engine


def add_films(st: Study, long_context: str | None = None) -> None:
    with st.transaction() as cur:
        cur.execute("INSERT INTO datasets (name, kind, meta) VALUES ('films', 'text', '{}')")
        for i, title in enumerate(FILMS):
            ctx = long_context if (long_context and i == 2) else f"A film of 2002 ({title})."
            cur.execute("INSERT INTO prompts (dataset_id, key, title, context) VALUES (1, ?, ?, ?)",
                        [f"m{i}", title, ctx])


def samples(st: Study, run_id: int) -> list[dict[str, Any]]:
    return st.query(
        "SELECT g.*, t.body, t.origin, t.run_id AS text_run, t.content_hash FROM generations g "
        "JOIN texts t ON t.id = g.text_id WHERE g.run_id = ? ORDER BY g.prompt_id, g.sample_index",
        [run_id],
    )


def test_run_records_every_provenance_field(study: Study) -> None:
    add_films(study)
    req = RunRequest("films", model="smollm2", n=3, max_tokens=8, prompts=2, top_ps=(0.9, 1.0),
                     template="personation", n_parallel=4)
    ids = plan_runs(study, req)
    assert len(ids) == 2  # a sweep over top-p
    assert plan_runs(study, req) == ids  # planning the same again reuses the runs
    seen = []
    summary = run_generation(study, ids[0], TaskState(on_progress=seen.append))
    assert summary.status == "finished" and summary.total == 6 and summary.generated_now == 6
    assert seen and "tok/s" in seen[-1].message and seen[-1].done == 6
    run = study.query("SELECT * FROM runs WHERE id = ?", [ids[0]])[0]
    assert run["status"] == "finished" and run["started_at"] and run["finished_at"]
    assert "llama-cpp-python 0.3" in run["engine_version"] and run["sweep"]
    assert json.loads(run["sampling"])["top_p"] == 0.9
    assert "{person}" in run["template_text"] and "movie" in run["template_text"]
    model = study.query("SELECT * FROM models WHERE id = ?", [run["model_id"]])[0]
    assert model["sha256"] == assets.ASSETS["smollm2"].sha256
    assert model["architecture"] == "llama" and model["quantization"] == "Q4_1"
    assert model["n_params"] > 100_000_000 and "<|im_start|>" in model["chat_template"]
    rows = samples(study, ids[0])
    assert len(rows) == 6 and len({r["seed"] for r in rows}) == 6
    for r in rows:
        assert r["origin"] == "generated" and r["text_run"] == ids[0]
        assert r["body"] and r["n_tokens"] > 0 and r["n_prompt_tokens"] > 10
        assert r["finish_reason"] in ("eos", "length") and r["wall_ms"] > 0
        assert r["mean_logprob"] < 0 and r["perplexity"] > 1
        params = json.loads(r["params"])
        assert params["seed"] == r["seed"] and params["top_p"] == 0.9
        assert params["person"] in r["prompt_text"] and "<|im_start|>assistant" in r["prompt_text"]


def test_prompt_too_long_fails_before_any_write(study: Study) -> None:
    add_films(study, long_context="a very long plot summary " * 40)
    before = study.table_counts()
    with pytest.raises(PromptTooLong, match=r"'m2'.*context holds 96"):
        plan_runs(study, RunRequest("films", n=2, max_tokens=8, n_ctx=96,
                                    template="Review {title}. Plot: {context}"))
    assert study.table_counts() == before  # check first, then write: no model row, no planned run
    assert study.scalar("SELECT count(*) FROM runs") == 0 and study.scalar("SELECT count(*) FROM models") == 0


def test_truncated_gguf_fails_before_any_write(study: Study, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    add_films(study)
    whole = assets.locate("smollm2").read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(whole[: len(whole) // 2])  # the header is intact, half the weights are missing
    from monoscope.core.errors import ModelLoadError

    with pytest.raises(ModelLoadError, match=r"cut.gguf is truncated: its header describes .* bytes"):
        plan_runs(study, RunRequest("films", model=str(cut), n=2, max_tokens=4))
    assert study.scalar("SELECT count(*) FROM runs") == 0 and study.scalar("SELECT count(*) FROM models") == 0
    study.close()
    code = cli_main(["generate", str(study.path), "--dataset", "films", "--model", str(cut), "--n", "2"])
    assert code == 1 and "truncated" in capsys.readouterr().err
    with Study(study.path) as st:
        assert st.scalar("SELECT count(*) FROM runs") == 0 and st.scalar("SELECT count(*) FROM models") == 0


def test_cancel_then_resume_completes_without_duplicates(study: Study) -> None:
    add_films(study)
    ids = plan_runs(study, RunRequest("films", n=4, max_tokens=6, n_parallel=2))
    state = TaskState(on_partial=lambda _r: state.cancel())
    with pytest.raises(TaskCancelled):
        run_generation(study, ids[0], state)
    assert study.scalar("SELECT status FROM runs WHERE id = ?", [ids[0]]) == "cancelled"
    partial = study.scalar("SELECT count(*) FROM generations WHERE run_id = ?", [ids[0]])
    assert 1 <= partial < 16
    s = run_generation(study, ids[0], TaskState())
    assert s.generated_now == 16 - partial and s.total == 16
    rows = samples(study, ids[0])
    assert sorted((r["prompt_id"], r["sample_index"]) for r in rows) == [
        (p, i) for p in range(1, 5) for i in range(4)
    ]


CHILD = textwrap.dedent(
    """
    import sys
    from monoscope.core.generation import RunRequest, plan_runs, run_generation
    from monoscope.core.store import Study
    from monoscope.core.tasks import TaskState
    st = Study(sys.argv[1])
    ids = plan_runs(st, RunRequest("films", n=6, max_tokens=12, n_parallel=2))
    def tell(res):
        print("committed", res.job.prompt_id, res.job.sample_index, flush=True)
    run_generation(st, ids[0], TaskState(on_partial=tell))
    print("finished", flush=True)
    """
)


def test_sigkill_mid_run_then_rerun_gives_exactly_n_per_prompt(study_path: Path) -> None:
    with Study(study_path) as st:
        add_films(st)
    env = dict(os.environ, MONOSCOPE_THREADS="1", HF_HUB_OFFLINE="1")
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(study_path)], stdout=subprocess.PIPE,
                             text=True, env=env)
    assert child.stdout is not None
    committed = 0
    for line in child.stdout:
        if line.startswith("committed"):
            committed += 1
        if committed >= 3:
            break
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    with Study(study_path) as st:
        before = st.scalar("SELECT count(*) FROM generations")
        assert 3 <= before < 24
        assert st.scalar("SELECT status FROM runs") == "running"  # killed: never marked done
        from monoscope.core.generation import run_table

        (row,) = run_table(st)
        assert row["status"] == "interrupted" and row["tok_s"] > 0  # the dead process is seen
        live = json.loads(st.scalar("SELECT meta FROM runs"))["live"]
        assert live["pid"] == child.pid and live["tokens"] == st.scalar("SELECT sum(n_tokens) FROM generations")
    # Re-running the same command resumes the same run and fills in only what is missing.
    code = cli_main([
        "generate", str(study_path), "--dataset", "films", "--n", "6", "--max-tokens", "12",
        "--n-parallel", "2", "--quiet",
    ])
    assert code == 0
    with Study(study_path) as st:
        assert st.scalar("SELECT count(*) FROM runs") == 1
        assert st.scalar("SELECT status FROM runs") == "finished"
        per_prompt = st.query("SELECT prompt_id, count(*) AS n, count(DISTINCT sample_index) AS d "
                              "FROM generations GROUP BY prompt_id ORDER BY prompt_id")
        assert [(r["n"], r["d"]) for r in per_prompt] == [(6, 6)] * 4
        assert st.scalar("SELECT count(*) FROM texts WHERE origin = 'generated'") == 24
        # tokens/s counts both sessions: every generated token is in the totals, none twice
        meta = json.loads(st.scalar("SELECT meta FROM runs"))
        assert "live" not in meta and meta["gen_tokens"] == st.scalar("SELECT sum(n_tokens) FROM generations")
        assert run_table(st)[0]["status"] == "finished"


def test_cli_runs_and_models_list(study_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with Study(study_path) as st:
        add_films(st)
    assert cli_main(["generate", str(study_path), "--dataset", "films", "--n", "2",
                     "--max-tokens", "4", "--prompts", "1", "--quiet"]) == 0
    assert "run 1: finished, 2/2 samples" in capsys.readouterr().out
    assert cli_main(["runs", str(study_path)]) == 0
    out = capsys.readouterr().out
    assert "finished" in out and "2/2" in out and "smollm2" in out
    assert cli_main(["models", str(study_path)]) == 0
    out = capsys.readouterr().out
    assert "gemma3" in out and "Q4_K_M" in out and "base (completion prompts)" in out
    assert "study #1" in out and "Q4_1" in out


def test_decay_sweep_needs_per_run_end(study: Study) -> None:
    from monoscope.core.generation import Decay, RunError

    add_films(study)
    with pytest.raises(RunError, match="KIND:START:LENGTH"):
        plan_runs(study, RunRequest("films", temperatures=(0.8, 1.2), decay=Decay.parse("linear:10:1.0:20")))
    ids = plan_runs(study, RunRequest("films", temperatures=(0.8, 1.2), decay=Decay.parse("exp:10:20"), prompts=1))
    decays = [json.loads(study.scalar("SELECT sampling FROM runs WHERE id = ?", [i]))["decay"] for i in ids]
    assert decays == [{"kind": "exponential", "start": 10.0, "end": None, "length": 20}] * 2
