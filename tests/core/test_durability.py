"""Crashes, full disks, pipes and a second program (issue 13), on real study files and processes."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from monoscope.cli import main as cli_main
from monoscope.core.generation import run_table
from monoscope.core.importers import ColumnMap, import_table
from monoscope.core.store import Study, copy_study
from monoscope.core.store.study import wal_path

ENV = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=os.pathsep.join(
    [str(Path(__file__).resolve().parents[2] / "app"), os.environ.get("PYTHONPATH", "")]))


def cli(*args: str, stdin: int | None = None, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monoscope", *args], capture_output=True, text=True,
                          timeout=120, env=env or ENV)


def small_csv(path: Path, rows: int = 20, width: int = 20) -> Path:
    with path.open("w") as fh:
        fh.write("film,review\n")
        for i in range(rows):
            fh.write(f"f{i % 3},review {i} " + "abcdefghij klmnop"[i % 17:] * (width // 17 + 1) + f" {i}\n")
    return path


def random_csv(path: Path, rows: int, width: int) -> Path:
    """Reviews of ``width`` random hex digits: text no compression can squeeze below half."""
    rng = random.Random(7)
    with path.open("w") as fh:
        fh.write("film,review\n")
        for i in range(rows):
            fh.write(f"f{i % 3},{rng.getrandbits(4 * width):0{width}x}\n")
    return path


# --- WAL: checkpoint after a stage, `info` tells, `copy` makes one file ---------------------------

CRASH_AFTER_COMMIT = textwrap.dedent(
    """
    import os, signal, sys
    from monoscope.core.store import Study
    st = Study(sys.argv[1])
    with st.transaction() as cur:
        cur.execute("INSERT INTO datasets (name, kind) VALUES ('after-crash', 'text')")
        for i in range(4):
            cur.execute("INSERT INTO prompts (dataset_id, key, title) VALUES "
                        "((SELECT id FROM datasets WHERE name = 'after-crash'), ?, 'T')", [f"k{i}"])
    os.kill(os.getpid(), signal.SIGKILL)  # committed, never checkpointed, never closed
    """
)


def test_stage_end_checkpoints_the_wal(study: Study, tmp_path: Path) -> None:
    import_table(study, small_csv(tmp_path / "a.csv"), dataset="a", mapping=ColumnMap.parse("key=film,text=review"))
    assert study.wal_bytes() == 0  # the study file alone holds the import, while still open
    shutil.copyfile(study.path, tmp_path / "plain-copy.duckdb")
    with Study(tmp_path / "plain-copy.duckdb", read_only=True) as st:
        assert st.scalar("SELECT count(*) FROM texts") == 20


def test_crash_leaves_wal_info_says_so_and_copy_keeps_everything(study_path: Path, tmp_path: Path) -> None:
    with Study(study_path) as st:
        import_table(st, small_csv(tmp_path / "a.csv"), dataset="a", mapping=ColumnMap.parse("key=film,text=review"))
    child = subprocess.run([sys.executable, "-c", CRASH_AFTER_COMMIT, str(study_path)], env=ENV, timeout=120)
    assert child.returncode == -signal.SIGKILL
    assert wal_path(study_path).stat().st_size > 0
    # copying only the .duckdb file loses the committed work still in the WAL
    lone = tmp_path / "lone.duckdb"
    shutil.copyfile(study_path, lone)
    with Study(lone, read_only=True) as st:
        assert st.scalar("SELECT count(*) FROM prompts") == 3
    info = cli("info", str(study_path))
    assert info.returncode == 0 and "WAL pending" in info.stdout and "monoscope copy" in info.stdout
    out = cli("copy", str(study_path), str(tmp_path / "copy.duckdb"))
    assert out.returncode == 0, out.stderr
    assert not wal_path(tmp_path / "copy.duckdb").exists()
    moved = tmp_path / "moved" / "copy.duckdb"  # the copy alone, moved elsewhere, holds everything
    moved.parent.mkdir()
    shutil.move(tmp_path / "copy.duckdb", moved)
    with Study(moved, read_only=True) as st:
        assert st.scalar("SELECT count(*) FROM prompts") == 7
        assert st.scalar("SELECT count(*) FROM texts") == 20
        assert [r["name"] for r in st.query("SELECT name FROM datasets ORDER BY id")] == ["a", "after-crash"]
    assert cli("copy", str(study_path), str(moved)).returncode == 1  # never overwrites silently
    with Study(study_path) as st:  # the original is untouched by the copy, still complete
        assert st.scalar("SELECT count(*) FROM prompts") == 7


def test_copy_study_refuses_same_file(study_path: Path) -> None:
    Study(study_path).close()
    from monoscope.core.errors import StudyError

    with pytest.raises(StudyError, match="another file"):
        copy_study(study_path, study_path, overwrite=True)


# --- full disk ------------------------------------------------------------------------------------

@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting an 8 MB tmpfs needs root")
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    # 8 MB: a small study fits once checkpointed into its file (~3.5 MB: DuckDB's blocks)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)]).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_full_disk_is_a_message_and_the_study_stays_consistent(tiny_disk: Path, tmp_path: Path) -> None:
    study = tiny_disk / "s.duckdb"
    ok = cli("import", str(study), str(small_csv(tmp_path / "small.csv")), "--dataset", "small",
             "--map", "key=film,text=review")
    assert ok.returncode == 0, ok.stderr
    big = random_csv(tmp_path / "big.csv", rows=40000, width=600)  # 24 MB of hex digits (>= 12 MB
    # however compressed), 8 MB disk; small_csv's repeated letters compress to ~6 MB and fit
    full = cli("import", str(study), str(big), "--dataset", "big", "--map", "key=film,text=review")
    assert full.returncode == 1
    assert f"no space left on {tiny_disk} (tmpfs); nothing was written" in full.stderr
    assert "Traceback" not in full.stderr
    # consistent: exactly the first import, nothing of the second (read where there is room)
    shutil.copytree(tiny_disk, tmp_path / "rescued")
    with Study(tmp_path / "rescued" / "s.duckdb") as st:
        assert [r["name"] for r in st.query("SELECT name FROM datasets")] == ["small"]
        assert st.scalar("SELECT count(*) FROM texts") == 20
    info = cli("info", str(study))
    assert info.returncode == 0 and "small" in info.stdout


# --- broken pipe ----------------------------------------------------------------------------------

def test_info_into_head_has_no_broken_pipe_traceback(study: Study) -> None:
    with study.transaction() as cur:  # enough output to overflow the pipe once head has gone
        cur.execute("INSERT INTO datasets (name, kind) SELECT 'dataset-' || i, 'text' FROM range(4000) t(i)")
    study.close()
    proc = subprocess.run(f"{sys.executable} -m monoscope info {study.path} | head -c 100", shell=True,
                          capture_output=True, text=True, env=ENV, timeout=120)
    assert proc.stdout.startswith("study ")
    assert "BrokenPipeError" not in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stderr == ""


# --- a killed run: interrupted, true speed after resume -----------------------------------------

FAKE_RUN = textwrap.dedent(
    """
    import sys, time
    from monoscope.core.generation import RunRequest, plan_runs, run_generation
    from monoscope.core.generation.engine import SampleResult
    from monoscope.core.store import Study
    from monoscope.core.tasks import TaskState

    class Slow:  # a deterministic engine: 10 tokens per sample, 20 ms each
        name = "fake"
        def version(self): return "fake 1"
        def context_limit(self): return None
        def count_tokens(self, text): return None
        def close(self): pass
        def generate(self, jobs, params, on_result, check=lambda: None, on_step=None):
            for j in jobs:
                check()
                time.sleep(0.02)
                on_result(SampleResult(j, f"text {j.prompt_id}/{j.sample_index}", 5, 10, "length", -1.0, 2.7, 20.0))

    st = Study(sys.argv[1])
    ids = plan_runs(st, RunRequest("films", model="none", engine="http", base_url="http://127.0.0.1:9/v1",
                                   remote_model="fake", n=int(sys.argv[2])))
    run_generation(st, ids[0], TaskState(on_partial=lambda r: print("committed", flush=True)), engine=Slow())
    print("finished", flush=True)
    """
)


def test_killed_run_shows_interrupted_then_resumes_with_true_speed(study_path: Path) -> None:
    with Study(study_path) as st, st.transaction() as cur:
        cur.execute("INSERT INTO datasets (name, kind, meta) VALUES ('films', 'text', '{}')")
        cur.execute("INSERT INTO prompts (dataset_id, key, title, context) VALUES (1, 'a', 'A', 'x'), (1, 'b', 'B', 'y')")
    child = subprocess.Popen([sys.executable, "-c", FAKE_RUN, str(study_path), "20"], stdout=subprocess.PIPE,
                             text=True, env=ENV)
    assert child.stdout is not None
    seen = 0
    for line in child.stdout:
        seen += line.startswith("committed")
        if seen >= 5:
            break
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    runs = cli("runs", str(study_path))
    assert runs.returncode == 0 and "interrupted" in runs.stdout and "running" not in runs.stdout
    info = cli("info", str(study_path))
    assert "interrupted" in info.stdout
    with Study(study_path) as st:
        done = st.scalar("SELECT count(*) FROM generations")
        assert 5 <= done < 40
        (row,) = run_table(st)
        assert row["status"] == "interrupted" and row["tok_s"] > 0
    resumed = subprocess.run([sys.executable, "-c", FAKE_RUN, str(study_path), "20"], capture_output=True,
                             text=True, env=ENV, timeout=120)
    assert "finished" in resumed.stdout, resumed.stderr
    with Study(study_path) as st:
        assert st.scalar("SELECT count(*) FROM runs") == 1
        assert st.scalar("SELECT count(DISTINCT (prompt_id, sample_index)) FROM generations") == 40
        assert st.scalar("SELECT count(*) FROM generations") == 40
        meta = json.loads(st.scalar("SELECT meta FROM runs"))
        assert meta["gen_tokens"] == 400  # both sessions' tokens, each once
        (row,) = run_table(st)
        assert row["status"] == "finished"
        # ~10 tokens per 20 ms: the speed over both sessions, not just the short resumed tail
        assert 100 < row["tok_s"] <= 500


# --- two programs, one study ------------------------------------------------------------------

HOLDER = textwrap.dedent(
    """
    import sys
    from monoscope.core.store import Study
    st = Study(sys.argv[1])
    with st.transaction() as cur:
        cur.execute("INSERT INTO datasets (name, kind) VALUES ('written-while-open', 'text')")
    print("ready", flush=True)
    sys.stdin.read()  # hold the study open for writing until the test closes stdin
    st.close()
    """
)


def test_reading_works_while_another_process_writes(study_path: Path, tmp_path: Path) -> None:
    Study(study_path).close()
    tmp = tmp_path / "tmp"  # the readers' snapshots go here: no other test's can be mistaken
    tmp.mkdir()
    env = dict(ENV, TMPDIR=str(tmp))
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(study_path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=ENV)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        info = cli("info", str(study_path), env=env)
        assert info.returncode == 0, info.stderr
        assert f"open for writing in process {holder.pid} (" in info.stdout
        assert "written-while-open" in info.stdout  # committed work is visible to the reader
        assert cli("runs", str(study_path), env=env).returncode == 0
        locked = cli("init", str(study_path), env=env)  # a writer is still refused, naming the holder
        assert locked.returncode == 1
        assert f"open for writing in process {holder.pid} ({sys.executable} -c" in locked.stderr
        assert "Traceback" not in locked.stderr
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=60)
    assert list(tmp.iterdir()) == []  # the snapshots were removed
    with Study(study_path, read_only=True) as st:
        assert st.scalar("SELECT count(*) FROM datasets") == 1


def test_cli_main_in_process_reports_disk_full_without_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """An OSError(ENOSPC) from anywhere in a command becomes the same one-line message."""
    import errno

    import monoscope.cli.study_cmds as sc

    def boom(_args: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(sc, "cmd_init", boom)
    code = cli_main(["init", str(tmp_path / "x.duckdb")])
    err = capsys.readouterr().err
    assert code == 1 and "no space left on" in err and "nothing was written" in err
