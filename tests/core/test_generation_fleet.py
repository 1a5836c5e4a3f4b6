"""Generation on a fleet of real llama-cpp-python servers on 127.0.0.1, one killed mid-run."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fleet_servers import LlamaServer, free_port

from monoscope.core import assets
from monoscope.core.generation import RunRequest, derive_seed, plan_runs, run_generation, run_table
from monoscope.core.generation.engine import SampleResult
from monoscope.core.generation.fleet import (
    FleetError,
    ServersGone,
    ServerSpec,
    parse_servers,
    probe,
)
from monoscope.core.store import Study
from monoscope.core.tasks import TaskState

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model() -> Any:
    pytest.importorskip("uvicorn", reason="install llama-cpp-python's server extras (dev deps)")
    return assets.locate("smollm2")


@pytest.fixture(scope="module")
def pair(model: Any) -> Iterator[list[LlamaServer]]:
    """Two servers that stay up for the module."""
    servers = [LlamaServer(model), LlamaServer(model)]
    try:
        yield [s.wait_ready() for s in servers]
    finally:
        for s in servers:
            s.stop()


def _dataset(study: Study, prompts: int) -> None:
    with study.transaction() as cur:
        cur.execute("INSERT INTO datasets (name, kind) VALUES ('films', 'text')")
        for i in range(prompts):
            cur.execute("INSERT INTO prompts (dataset_id, key, title) VALUES (1, ?, ?)",
                        [f"m{i}", f"Film number {i}"])


class _KillAfter(TaskState):
    """Kills a server once `after` samples are committed (from the runner's own thread)."""

    def __init__(self, victim: LlamaServer, after: int) -> None:
        super().__init__()
        self.victim, self.after, self.seen = victim, after, 0
        self.killed_at: int | None = None

    def partial(self, obj: object) -> None:
        if isinstance(obj, SampleResult):
            self.seen += 1
            if self.seen == self.after and self.killed_at is None:
                self.victim.kill()
                self.killed_at = self.seen


def _samples(study: Study) -> list[dict[str, Any]]:
    rows = study.query("SELECT g.prompt_id, g.sample_index, g.seed, g.params, p.key, t.body "
                       "FROM generations g JOIN prompts p ON p.id = g.prompt_id "
                       "JOIN texts t ON t.id = g.text_id ORDER BY g.prompt_id, g.sample_index")
    for r in rows:
        r["params"] = json.loads(r["params"])
    return rows


def test_probe_reports_kind_capacity_fields_and_ignored_n(pair: list[LlamaServer]) -> None:
    info = probe(ServerSpec(pair[0].url + "/v1"))
    assert info.healthy and info.error is None
    assert info.url == pair[0].url and info.kind == "llama-cpp-python"
    assert (info.slots, info.slots_from) == (1, "one request at a time")
    assert info.multi is False  # it accepts n=2 and returns one completion: detected, not assumed
    assert info.fields_from == "openapi" and info.fields is not None
    assert {"top_k", "min_p", "repeat_penalty", "seed"} <= info.fields
    assert probe(ServerSpec(pair[0].url, slots=3)).slots_from == "user"
    dead = probe(ServerSpec(f"http://127.0.0.1:{free_port()}"), timeout_s=2)
    assert dead.healthy is False and dead.error and "refused" in dead.error.lower()


def test_parse_servers_file(tmp_path: Any) -> None:
    f = tmp_path / "servers.txt"
    f.write_text("# the cluster\nhttp://10.0.0.1:8080/v1 16\n\nhttp://10.0.0.2:8000  # vllm\n"
                 "http://10.0.0.1:8080\n")
    specs = parse_servers(["http://10.0.0.3:8080/"], f)
    assert [(s.url, s.slots) for s in specs] == [
        ("http://10.0.0.3:8080", None), ("http://10.0.0.1:8080", 16), ("http://10.0.0.2:8000", None)]
    f.write_text("http://10.0.0.1:8080 many\n")
    with pytest.raises(FleetError, match=r"servers.txt:1: write `URL` or `URL SLOTS`"):
        parse_servers([], f)
    with pytest.raises(FleetError, match="must start with http"):
        parse_servers(["10.0.0.1:8080"])


def test_killed_server_samples_are_redone_elsewhere(model: Any, pair: list[LlamaServer],
                                                    study: Study) -> None:
    victim = LlamaServer(model).wait_ready()
    try:
        _dataset(study, 4)
        ids = plan_runs(study, RunRequest(
            "films", model="smollm2", n=5, max_tokens=12, top_ks=[40], min_p=0.05,
            engine="http", base_url=pair[0].url, base_urls=[pair[1].url, victim.url]))
        state = _KillAfter(victim, after=4)
        summary = run_generation(study, ids[0], state)
    finally:
        victim.stop()
    assert state.killed_at == 4
    assert summary.status == "finished" and summary.total == 20 and summary.generated_now == 20
    rows = _samples(study)
    assert len(rows) == 20
    assert len({(r["prompt_id"], r["sample_index"]) for r in rows}) == 20  # no duplicates
    assert sorted((r["key"], r["sample_index"]) for r in rows) == sorted(
        (f"m{p}", i) for p in range(4) for i in range(5))
    servers = {pair[0].url, pair[1].url, victim.url}
    for r in rows:
        prov = r["params"]
        assert prov["server"] in servers and prov["server_kind"] == "llama-cpp-python"
        assert r["seed"] == derive_seed(0, r["key"], r["sample_index"]) == prov["seed"]
        assert prov["request_seed"] == r["seed"] % 2**31
        assert prov["applied"] == {"temperature": 0.8, "top_p": 1.0, "seed": prov["request_seed"],
                                   "max_tokens": 12, "top_k": 40, "min_p": 0.05,
                                   "repeat_penalty": 1.0}  # declared: sent, neutral included
        assert prov["ignored"] == [] and prov["checked"] == "openapi"
    redone = [r for r in rows if r["params"].get("redone_from")]
    assert redone, "the killed server had samples in flight; they must be redone elsewhere"
    for r in redone:
        assert r["params"]["redone_from"] == [victim.url]
        assert r["params"]["server"] in (pair[0].url, pair[1].url)
        assert r["params"]["attempt"] == 2
    on_victim = [r for r in rows if r["params"]["server"] == victim.url]
    assert len(on_victim) < 4  # only what it finished before the kill
    table = {r["id"]: r for r in run_table(study)}[ids[0]]
    assert table["status"] == "finished"
    per = table["servers"]
    assert sum(int(v["samples"]) for v in per.values()) == 20
    assert per[pair[0].url]["tok_s"] > 0 and per[pair[1].url]["tok_s"] > 0


def test_all_servers_gone_interrupts_and_resume_is_exact(model: Any, pair: list[LlamaServer],
                                                         study: Study) -> None:
    victim = LlamaServer(model).wait_ready()
    _dataset(study, 3)
    req = RunRequest("films", model="smollm2", n=4, max_tokens=8, engine="http",
                     base_url=victim.url)
    ids = plan_runs(study, req)
    state = _KillAfter(victim, after=3)
    try:
        with pytest.raises(ServersGone, match="run the same command again") as err:
            run_generation(study, ids[0], state)
    finally:
        victim.stop()
    assert "samples are still missing" in str(err.value)
    table = {r["id"]: r for r in run_table(study)}[ids[0]]
    assert table["status"] == "interrupted" and table["samples"] == 3
    first = _samples(study)
    assert len(first) == 3
    # the same command against other servers resumes the same run
    again = plan_runs(study, RunRequest("films", model="smollm2", n=4, max_tokens=8,
                                        engine="http", base_url=pair[0].url,
                                        base_urls=[pair[1].url]))
    assert again == ids
    s = run_generation(study, ids[0], TaskState())
    assert s.status == "finished" and s.generated_now == 9 and s.total == 12
    rows = _samples(study)
    assert len(rows) == 12 and len({(r["prompt_id"], r["sample_index"]) for r in rows}) == 12
    assert [r for r in rows if (r["prompt_id"], r["sample_index"]) in
            {(f["prompt_id"], f["sample_index"]) for f in first}] == first  # kept untouched
    assert {r["params"]["server"] for r in rows if r not in first} <= {pair[0].url, pair[1].url}
    assert study.query("SELECT status FROM runs WHERE id = ?", [ids[0]])[0]["status"] == "finished"


def test_no_server_answers_at_start(study: Study) -> None:
    _dataset(study, 1)
    ids = plan_runs(study, RunRequest("films", model="smollm2", n=1, max_tokens=4, engine="http",
                                      base_url=f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(ServersGone, match="Every server is unreachable"):
        run_generation(study, ids[0], TaskState())
    assert run_table(study)[0]["status"] == "planned"  # nothing started
    meta = json.loads(study.query("SELECT meta FROM runs")[0]["meta"])
    assert "Every server is unreachable" in meta["interrupted"]
    assert study.scalar("SELECT count(*) FROM generations") == 0
