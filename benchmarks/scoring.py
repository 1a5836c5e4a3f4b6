"""Scoring throughput: the model's own per-token log-probabilities of 1,000 human snippets.

Bundled SmolLM2 (or --model), the first 1,000 Rotten Tomatoes snippets of the films demo
grouped by film, each after the film's prompt rendered with the model's chat template (the
`personalized-films` preset), all measured in this run with the same threads:

  (a) Monoscope's scorer (`LlamaCppEngine.score`: one single-threaded llama.cpp context per
      thread ("lanes", `score_lanes`) taking films from a shared queue; in a lane each film's
      prompt is evaluated from where it differs from the lane's previous one and its KV copied
      to every snippet's sequence; one decode per snippet, logits of every token, log-softmax
      and entropy in numpy);
  (b) a naive loop: one `Llama.eval` of prompt + snippet per text (llama-cpp-python's
      high-level API, `logits_all=True`), the same log-softmax and entropy on its logits;
  (c) llama.cpp's own prompt-processing speed, `llama-batched-bench -ntg 1 -npl 1` at
      -npp 512 (its best batch) and at the snippets' mean length (one snippet per decode), when
      a binary is found ($LLAMA_BATCHED_BENCH, PATH, /tmp/llama-bb/bin; benchmarks/generation.py
      says how to build it). Without one, llama-cpp-python's own single 512-token eval is the PP
      reference.

tokens/s = snippet tokens scored / wall time (prompts are overhead). Usage:
    python benchmarks/scoring.py [--threads 2] [--texts 1000] [--naive-texts 1000]
"""

from __future__ import annotations

import argparse
import bz2
import csv
import io
import json
import os
import subprocess
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def snippets(n: int) -> list[tuple[str, str]]:
    """(film title, snippet) of the first n critic snippets, in file order."""
    from monoscope.core import assets
    from monoscope.core.importers.films import film_title

    out: list[tuple[str, str]] = []
    with bz2.open(assets.locate("rotten-tomatoes"), "rb") as fh:
        for row in csv.DictReader(io.TextIOWrapper(fh, encoding="utf-8")):
            if row.get("category") in ("fresh", "rotten") and row.get("text", "").strip():
                out.append((film_title(row["movie_name"]), row["text"].strip()))
                if len(out) >= n:
                    break
    return out


def contexts(model: Path, titles: list[str], bos: str, eos: str) -> dict[str, str]:
    from monoscope.core.generation.gguf import read_gguf
    from monoscope.core.generation.templates import render_chat, resolve_template

    tpl = resolve_template("personalized", "films")
    chat = read_gguf(model).chat_template
    return {t: (render_chat(chat, tpl.messages(t, None, 0), bos, eos) if chat
                else tpl.completion(t, None, 0)) for t in dict.fromkeys(titles)}


def bench_monoscope(model: Path, texts: list[tuple[str, str]], threads: int
                    ) -> tuple[float, int, float]:
    """(tokens/s, tokens, mean tokens per text)."""
    from monoscope.core.generation.llama_engine import LlamaCppEngine, ScoreItem

    with LlamaCppEngine(model, n_parallel=1, prompt_slots=1, n_threads=threads,
                        flash_attn="off") as eng:
        ctx = contexts(model, [t for t, _ in texts], eng.bos_text, eng.eos_text)
        items = [ScoreItem(i, ctx[t], s) for i, (t, s) in enumerate(texts)]
        eng.score(items[:3], lambda r: None)  # warm-up
        got: list[int] = []
        t0 = time.perf_counter()
        eng.score(items, lambda r: got.append(len(r.tokens)))
        dt = time.perf_counter() - t0
    return sum(got) / dt, sum(got), sum(got) / len(got)


def bench_naive(model: Path, texts: list[tuple[str, str]], threads: int) -> float:
    from llama_cpp import Llama

    from monoscope.core.generation.llama_engine import LlamaCppEngine, row_stats

    with LlamaCppEngine(model, n_parallel=1, n_threads=threads) as eng:
        ctx = contexts(model, [t for t, _ in texts], eng.bos_text, eng.eos_text)
        toks = [(eng.tokenize(ctx[t]), eng.tokenize_text(s)) for t, s in texts]
    llm = Llama(str(model), n_ctx=1024, n_threads=threads, n_threads_batch=threads,
                logits_all=True, flash_attn=False, verbose=False)
    work = np.empty((1024, llm.n_vocab()), dtype=np.float32)
    llm.eval(toks[0][0] + toks[0][1])  # warm-up
    total = 0
    t0 = time.perf_counter()
    for c, s in toks:
        llm.reset()
        llm.eval(c + s)
        rows = np.array(llm.scores[len(c) - 1: len(c) + len(s) - 1], dtype=np.float32)
        lz, _h = row_stats(rows, work)
        _lp = rows[np.arange(len(s)), s] - lz
        total += len(s)
    dt = time.perf_counter() - t0
    llm.close()
    return total / dt


def bench_pp_python(model: Path, threads: int, n: int = 512) -> float:
    """llama-cpp-python's own eval of one n-token batch (logits of the last token only)."""
    from llama_cpp import Llama

    llm = Llama(str(model), n_ctx=1024, n_batch=n, n_ubatch=n, n_threads=threads,
                n_threads_batch=threads, flash_attn=False, verbose=False)
    toks = (llm.tokenize(b"The film is a gorgeous witty seductive movie. " * 80))[:n]
    llm.eval(toks[:32])
    best = 0.0
    for _ in range(2):
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(toks)
        best = max(best, n / (time.perf_counter() - t0))
    llm.close()
    return best


def bench_pp_llama_cpp(binary: str, model: Path, threads: int, npp: int, reps: int = 5
                       ) -> float:
    """llama.cpp's prompt-processing tok/s at ``npp`` tokens per decode: the best of ``reps``
    runs (one run is a single decode, whose speed swings by a third here from run to run; the
    best is the reference least flattering to the scorer)."""
    cmd = [binary, "-m", str(model), "-c", "2048", "-b", "512", "-ub", "512", "-npp", str(npp),
           "-ntg", "1", "-npl", "1", "-t", str(threads), "-tb", str(threads), "-fa", "off",
           "--output-format", "jsonl"]
    speeds = []
    for _ in range(reps):
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=900)
        rows = [json.loads(line) for line in (out.stdout + out.stderr).splitlines()
                if line.startswith("{")]
        speeds.append(float(rows[-1]["speed_pp"]))
    print(f"    llama-batched-bench PP at {npp} tokens per decode, {reps} runs: "
          + ", ".join(f"{v:.1f}" for v in speeds) + " tok/s (best taken)")
    return max(speeds)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--texts", type=int, default=1000)
    ap.add_argument("--naive-texts", type=int, default=1000,
                    help="texts for the naive loop (fewer when the machine is slow)")
    ap.add_argument("--model", default="smollm2", help="bundled model (smollm2, gemma3-base)")
    args = ap.parse_args()
    import sys

    from monoscope.core import assets
    from monoscope.core.generation.llama_engine import quiet_openmp

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from generation import find_batched_bench  # benchmarks/generation.py

    quiet_openmp()
    model = assets.locate(args.model)
    texts = snippets(args.texts)
    print(f"{model.name}: {len(texts)} snippets of {len({t for t, _ in texts})} films, "
          f"{args.threads} threads, load {os.getloadavg()[0]:.1f}")
    ours, tokens, mean_len = bench_monoscope(model, texts, args.threads)
    print(f"(a) monoscope scorer      {ours:8.1f} tok/s  ({tokens} snippet tokens, "
          f"{mean_len:.1f} per snippet)")
    naive = bench_naive(model, texts[: args.naive_texts], args.threads)
    print(f"(b) naive Llama.eval loop {naive:8.1f} tok/s   scorer/naive = {ours / naive:.2f}x "
          "(goal >= 2x)")
    binary = find_batched_bench()
    if binary:
        pp512 = bench_pp_llama_cpp(binary, model, args.threads, 512)
        ppn = bench_pp_llama_cpp(binary, model, args.threads, max(8, round(mean_len)))
        print(f"(c) llama-batched-bench PP {pp512:8.1f} tok/s at 512 tokens per decode   "
              f"scorer/PP = {ours / pp512:.2f}x (goal >= 0.8x)")
        print(f"    llama-batched-bench PP {ppn:8.1f} tok/s at {round(mean_len)} tokens per "
              f"decode   scorer/PP = {ours / ppn:.2f}x")
    else:
        pp = bench_pp_python(model, args.threads)
        print("llama-batched-bench not found (see benchmarks/generation.py); reference: "
              "llama-cpp-python's own eval of one 512-token batch")
        print(f"(c) llama-cpp-python PP    {pp:8.1f} tok/s   scorer/PP = {ours / pp:.2f}x "
              "(goal >= 0.8x)")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
