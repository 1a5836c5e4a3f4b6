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
/tmp/llama-srv/bin/llama-server; LLAMA_SERVER_HINT says how to build it), the same is measured
against one `llama-server -np 16` (direct: one request per sample, 17 in flight; engine: its
probe finds 16 slots and sends up to 16 samples of a prompt per request with `n`).
Usage:
    python benchmarks/fleet.py [--prompts 32] [--n 16] [--tokens 64] [--threads 1]
                               [--llama-server-only]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "core"))


LLAMA_SERVER_HINT = """no llama-server binary: set $LLAMA_SERVER, put one on PATH, or build
it (~12 min on 2 busy cores) from the llama.cpp sources vendored in the llama-cpp-python sdist,
linked against the shared libraries the installed wheel ships (the engine's own llama.cpp):
    pip download --no-binary :all: --no-deps llama-cpp-python==0.3.36 -d /tmp/lcp
    tar xzf /tmp/lcp/llama_cpp_python-0.3.36.tar.gz -C /tmp/lcp
    S=/tmp/lcp/llama_cpp_python-0.3.36/vendor/llama.cpp
    L=$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/lib
    O=/tmp/llama-srv; mkdir -p $O/bin $O/obj $O/ui
    # no web UI (only the HTTP API is used): an empty asset table from the UI templates
    sed -e 's/#cmakedefine LLAMA_UI_HAS_ASSETS 1//' -e 's/@N_ASSETS@/0/' \
        $S/tools/ui/ui.h.in > $O/ui/ui.h
    sed -e 's/@N_ASSETS@/0/g' -e 's/@ASSET_ARRAYS@//' -e 's/@ASSET_TABLE@//' \
        -e 's/@USE_GZIP@/false/' $S/tools/ui/ui.cpp.in > $O/ui/ui.cpp
    # cpp-httplib as the wheel's libllama-common has it (with OpenSSL, llama.cpp's defines)
    D="-DCPPHTTPLIB_OPENSSL_SUPPORT -DCPPHTTPLIB_FORM_URL_ENCODED_PAYLOAD_MAX_LENGTH=1048576
       -DCPPHTTPLIB_LISTEN_BACKLOG=512 -DCPPHTTPLIB_REQUEST_URI_MAX_LENGTH=32768
       -DCPPHTTPLIB_TCP_NODELAY=1"
    I="-I$S/include -I$S/ggml/include -I$S/common -I$S/vendor -I$S/tools/mtmd
       -I$S/tools/server -I$S -I$O/ui"
    for f in $S/vendor/cpp-httplib/httplib.cpp $O/ui/ui.cpp $S/tools/server/*.cpp; do
        nice -n 19 g++ -O2 -std=c++17 -w $D $I -c $f -o $O/obj/$(basename $f .cpp).o; done
    g++ -O2 $O/obj/*.o -o $O/bin/llama-server -L$L -lmtmd -lllama-common -lllama -lggml \
        -lggml-base -lssl -lcrypto -Wl,--disable-new-dtags,-rpath,$L -pthread
(the same command is in docs/scale.md)"""


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
                    "top_p": 1.0, "top_k": 50, "min_p": 0.0, "repeat_penalty": 1.0,
                    "seed": job.seed % 2**31, "logprobs": 1}
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--llama-server-only", action="store_true",
                    help="skip the llama-cpp-python cases")
    args = ap.parse_args()
    from fleet_servers import LlamaCppServer, LlamaServer, find_llama_server

    from monoscope.core import assets

    model = assets.locate("smollm2")
    print(f"{args.prompts} prompts × {args.n} samples × {args.tokens} max tokens, SmolLM2, "
          f"{args.threads} thread(s) per server; load average {os.getloadavg()[0]:.1f}",
          flush=True)
    if not args.llama_server_only:
        servers = [LlamaServer(model, threads=args.threads),
                   LlamaServer(model, threads=args.threads)]
        try:
            for s in servers:
                s.wait_ready()
            # the engine keeps slots (1) + depth (1) requests in flight per llama-cpp-python server
            one = compare("1 llama-cpp-python server ", [servers[0].url], 2, args)
            two = compare("2 llama-cpp-python servers", [s.url for s in servers], 2, args)
            print(f"engine 2 servers / 1 server = {two / one:.2f}")
        finally:
            for s in servers:
                s.stop()
    binary = find_llama_server()
    if binary is None:
        print("llama-server -np 16: skipped (" + LLAMA_SERVER_HINT + ")")
        return
    server = LlamaCppServer(binary, model, slots=16, threads=args.threads)
    try:
        server.wait_ready()
        # direct: 16 slots + 1 queued, one request per sample; the engine probes the same
        compare("llama-server -np 16", [server.url], 17, args)
    finally:
        server.stop()
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
