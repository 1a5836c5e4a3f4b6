"""Generation throughput: Monoscope's batched engine vs a naive loop vs llama.cpp's batched bench.

Bundled SmolLM2, one prompt, 16 samples × 128 tokens (end-of-generation ignored so every
sample has 128 tokens), all three measured in this run:

  (a) Monoscope's `LlamaCppEngine` (prompt once, KV copied to 16 sequences, one batch per step,
      numpy sampling with per-sample seeds);
  (b) a naive loop of 16 `Llama.create_completion` calls (llama-cpp-python's high-level API);
  (c) llama.cpp's own `llama-batched-bench -pps -npl 16` (no sampling at all), when a binary is
      found via $LLAMA_BATCHED_BENCH, PATH or /tmp/llama-bb/bin.

tokens/s = generated tokens / wall time including the prompt. Usage:
    python benchmarks/generation.py [--threads 2] [--n 16] [--tokens 128] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

BUILD_HINT = """llama-batched-bench not found. Build it in seconds from the llama.cpp sources vendored in
the llama-cpp-python sdist, linked against the shared libraries that the installed wheel ships
(so it runs the very same llama.cpp build as the engine):
    pip download --no-binary :all: --no-deps llama-cpp-python==0.3.36 -d /tmp/lcp
    tar xzf /tmp/lcp/llama_cpp_python-0.3.36.tar.gz -C /tmp/lcp
    S=/tmp/lcp/llama_cpp_python-0.3.36/vendor/llama.cpp
    L=$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/lib
    mkdir -p /tmp/llama-bb/bin && g++ -O2 -std=c++17 -I$S/include -I$S/ggml/include \
        -I$S/common -I$S/vendor $S/tools/batched-bench/batched-bench.cpp \
        $S/tools/batched-bench/main.cpp -o /tmp/llama-bb/bin/llama-batched-bench -L$L \
        -lllama-common -lllama -lggml -lggml-base -Wl,--disable-new-dtags,-rpath,$L -pthread
(or a full cmake build of the target llama-batched-bench, ~1 h on 2 busy cores), then
LLAMA_BATCHED_BENCH=/tmp/llama-bb/bin/llama-batched-bench or put it on PATH."""

PROMPT_USER = "Write a personalized review of the movie titled Spider-Man: "
PROMPT_BASE = "Below is a personalized review of the movie titled Spider-Man: "


def prompt_for(model: Path, bos: str = "", eos: str = "") -> str:
    """Chat models get their GGUF chat template, base models the completion prompt."""
    from monoscope.core.generation.gguf import read_gguf
    from monoscope.core.generation.templates import render_chat

    tpl = read_gguf(model).chat_template
    if not tpl:
        return PROMPT_BASE
    return render_chat(tpl, [{"role": "user", "content": PROMPT_USER}], bos, eos)


def bench_engine(model: Path, n: int, tokens: int, threads: int) -> float:
    from monoscope.core.generation.engine import Job
    from monoscope.core.generation.llama_engine import LlamaCppEngine
    from monoscope.core.generation.sampling import SamplingParams

    with LlamaCppEngine(model, n_parallel=n, n_threads=threads) as eng:
        text = prompt_for(model, eng.bos_text, eng.eos_text)
        params = SamplingParams(temperature=0.8, top_k=50, max_tokens=tokens, ignore_eos=True)
        eng.generate([Job(0, 0, 0, text)], SamplingParams(max_tokens=4), lambda r: None)  # warm-up
        got: list[int] = []
        t0 = time.perf_counter()
        eng.generate([Job(0, i, 1000 + i, text) for i in range(n)], params,
                     lambda r: got.append(r.n_tokens))
        dt = time.perf_counter() - t0
    assert len(got) == n and sum(got) == n * tokens, got
    return sum(got) / dt


def bench_naive(model: Path, n: int, tokens: int, threads: int) -> float:
    """16 plain `create_completion` calls; tokens/s counts the tokens each call reports.

    No logits processor (a Python processor copies the whole vocabulary per token and would
    handicap the baseline); a sample that ends early simply counts fewer tokens.
    """
    from llama_cpp import Llama

    llm = Llama(str(model), n_ctx=512, n_threads=threads, n_threads_batch=threads, verbose=False,
                seed=0)
    prompt = prompt_for(model)
    llm.create_completion(prompt, max_tokens=4)  # warm-up
    total = 0
    t0 = time.perf_counter()
    for i in range(n):
        out = llm.create_completion(prompt, max_tokens=tokens, temperature=0.8, top_k=50, top_p=1.0,
                                    min_p=0.0, seed=1000 + i)
        total += int(out["usage"]["completion_tokens"])  # type: ignore[index]
    dt = time.perf_counter() - t0
    llm.close()
    return total / dt


def find_batched_bench() -> str | None:
    env = os.environ.get("LLAMA_BATCHED_BENCH")
    if env and Path(env).is_file():
        return env
    found = shutil.which("llama-batched-bench")
    if found:
        return found
    for local in (Path("/tmp/llama-bb/bin/llama-batched-bench"),
                  Path("/tmp/llama-bb/build/bin/llama-batched-bench")):
        if local.is_file():
            return str(local)
    return None


def bench_llama_cpp(binary: str, model: Path, n: int, tokens: int, threads: int, n_prompt: int) -> float:
    cmd = [binary, "-m", str(model), "-c", "4096", "-b", "2048", "-ub", "512", "-npp", str(n_prompt),
           "-ntg", str(tokens), "-npl", str(n), "-pps", "-t", str(threads), "-tb", str(threads),
           "-fa", "auto", "--output-format", "jsonl"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=900)
    rows = [json.loads(line) for line in (out.stdout + out.stderr).splitlines() if line.startswith("{")]
    row = rows[-1]
    return float(row["pl"] * row["tg"] / row["t"])  # generated tokens / (prompt + generation) time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--model", default="smollm2", help="bundled model (smollm2, gemma3-base)")
    args = ap.parse_args()
    from monoscope.core import assets
    from monoscope.core.generation.llama_engine import LlamaCppEngine, quiet_openmp

    quiet_openmp()  # same OpenMP wait policy for all three (inherited by llama-batched-bench)
    model = assets.locate(args.model)
    with LlamaCppEngine(model, n_parallel=1, n_threads=args.threads) as eng:
        n_prompt = eng.count_tokens(prompt_for(model, eng.bos_text, eng.eos_text))
        title = f"{eng.info.name} {eng.info.quantization}"
    binary = find_batched_bench()
    res: dict[str, list[float]] = {"engine": [], "naive": [], "llama.cpp": []}
    print(f"{title}, {args.n} samples x {args.tokens} tokens, prompt {n_prompt} tokens, "
          f"{args.threads} threads, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}, "
          f"load {os.getloadavg()[0]:.1f}")
    for r in range(args.repeat):
        res["engine"].append(bench_engine(model, args.n, args.tokens, args.threads))
        res["naive"].append(bench_naive(model, args.n, args.tokens, args.threads))
        if binary:
            res["llama.cpp"].append(bench_llama_cpp(binary, model, args.n, args.tokens, args.threads, n_prompt))
        print(f"  round {r + 1}: " + ", ".join(f"{k} {v[-1]:.1f}" for k, v in res.items() if v) + " tok/s")
    med = {k: statistics.median(v) for k, v in res.items() if v}
    print(f"(a) monoscope engine    {med['engine']:7.1f} tok/s")
    print(f"(b) naive 16x create_completion {med['naive']:7.1f} tok/s   engine/naive = {med['engine'] / med['naive']:.2f}x")
    if "llama.cpp" in med:
        print(f"(c) llama-batched-bench {med['llama.cpp']:7.1f} tok/s   engine/llama.cpp = "
              f"{med['engine'] / med['llama.cpp']:.2f}x")
    else:
        print(BUILD_HINT)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
