"""Fleet generation: Monoscope's FleetEngine vs what the servers deliver to a plain client.

The same run (P prompts × N samples × T max tokens, bundled SmolLM2, chat template, seeds per
sample) on 1 server and on 2 servers (llama-cpp-python's server, 1 thread each, on 127.0.0.1),
measured in this run two ways:

  (a) direct: a minimal client in this script (threads + urllib, one request per sample, the
      same in-flight count per server as the engine) sends exactly the run's prompts and seeds;
      nothing is stored — the servers' own throughput;
  (b) engine: `run_generation` on a fresh study with `FleetEngine` (probe, dispatch, per-sample
      commits with provenance into DuckDB).

tokens/s = completion tokens (as the servers report them) / wall seconds. The goal is
engine ≥ 0.9 × direct. Where a `llama-server` binary is found ($LLAMA_SERVER, PATH, or
/tmp/llama-server/bin), the same is measured against `llama-server -np 16` (one server).
Usage:
    python benchmarks/fleet.py [--prompts 32] [--n 16] [--tokens 64] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "core"))


def _study(path: Path, prompts: int) -> Any:
    from monoscope.core.store import Study

    st = Study(path)
    with st.transaction() as cur:
        cur.execute("INSERT INTO datasets (name, kind) VALUES ('films', 'text')")
        for i in range(prompts):
            cur.execute("INSERT INTO prompts (dataset_id, key, title) VALUES (1, ?, ?)",
                        [f"m{i}", f"Film number {i}"])
    return st


def _plan(st: Any, urls: list[str], n: int, tokens: int) -> tuple[int, list[Any]]:
    from monoscope.core.generation import RunRequest, plan_runs
    from monoscope.core.generation.runs import render_jobs
    from monoscope.core.store import runs as runs_repo

    rid = plan_runs(st, RunRequest("films", model="smollm2", n=n, max_tokens=tokens,
                                   engine="http", base_url=urls[0], base_urls=urls[1:]))[0]
    work = runs_repo.run_work(st, rid)
    assert work is not None and work.model is not None
    every = {(p["id"], i) for p in work.prompts for i in range(n)}
    return rid, render_jobs(work.run, work.prompts, work.model["chat_template"], "", "", every)


def direct(urls: list[str], in_flight: int, jobs: list[Any], tokens: int) -> tuple[int, float]:
    """(completion tokens, seconds): each server kept at `in_flight` requests by its own threads."""
    queue = list(jobs)
    lock = __import__("threading").Lock()
    total = [0]

    def worker(url: str) -> None:
        while True:
            with lock:
                if not queue:
                    return
                job = queue.pop(0)
            body = {"prompt": job.prompt_text, "max_tokens": tokens, "temperature": 0.8,
                    "top_p": 1.0, "top_k": 50, "seed": job.seed % 2**31, "logprobs": 1}
            req = urllib.request.Request(url + "/v1/completions", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=600) as r:
                got = json.loads(r.read())
            with lock:
                total[0] += int(got["usage"]["completion_tokens"])

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(urls) * in_flight) as pool:
        for f in [pool.submit(worker, u) for u in urls for _ in range(in_flight)]:
            f.result()
    return total[0], time.perf_counter() - t0


def engine(st: Any, rid: int) -> tuple[int, float]:
    from monoscope.core.generation import run_generation
    from monoscope.core.tasks import TaskState

    t0 = time.perf_counter()
    s = run_generation(st, rid, TaskState())
    return s.tokens_now, time.perf_counter() - t0


def compare(label: str, urls: list[str], in_flight: int, args: argparse.Namespace) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        st = _study(Path(tmp) / "s.duckdb", args.prompts)
        try:
            rid, jobs = _plan(st, urls, args.n, args.tokens)
            d_tok, d_s = direct(urls, in_flight, jobs, args.tokens)
            e_tok, e_s = engine(st, rid)
        finally:
            st.close()
    d, e = d_tok / d_s, e_tok / e_s
    print(f"{label}: direct {d_tok} tok in {d_s:.1f} s = {d:.1f} tok/s | engine {e_tok} tok in "
          f"{e_s:.1f} s = {e:.1f} tok/s | engine/direct = {e / d:.2f}", flush=True)
    return e


def _llama_server() -> str | None:
    for cand in (os.environ.get("LLAMA_SERVER"), shutil.which("llama-server"),
                 "/tmp/llama-server/bin/llama-server"):
        if cand and Path(cand).is_file():
            return cand
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    from fleet_servers import LlamaServer, free_port

    from monoscope.core import assets

    model = assets.locate("smollm2")
    print(f"{args.prompts} prompts × {args.n} samples × {args.tokens} max tokens, SmolLM2, "
          f"llama-cpp-python server, {args.threads} thread(s) each", flush=True)
    servers = [LlamaServer(model, threads=args.threads), LlamaServer(model, threads=args.threads)]
    try:
        for s in servers:
            s.wait_ready()
        # the engine keeps slots (1) + depth (1) requests in flight per llama-cpp-python server
        one = compare("1 server ", [servers[0].url], 2, args)
        two = compare("2 servers", [s.url for s in servers], 2, args)
        print(f"engine 2 servers / 1 server = {two / one:.2f}")
    finally:
        for s in servers:
            s.stop()
    binary = _llama_server()
    if binary is None:
        print("llama-server -np 16: skipped (no llama-server binary: set $LLAMA_SERVER or put "
              "one on PATH; building it from the vendored llama.cpp is described in docs/scale.md)")
        return
    port = free_port()
    proc = subprocess.Popen([binary, "-m", str(model), "--host", "127.0.0.1", "--port", str(port),
                             "-np", "16", "-c", str(16 * 1024), "-t", str(args.threads)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(url + "/health", timeout=2).close()
                break
            except OSError:
                time.sleep(0.5)
        compare("llama-server -np 16", [url], 17, args)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
