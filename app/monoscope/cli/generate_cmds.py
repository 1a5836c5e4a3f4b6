"""`generate`, `runs` and `models` subcommands."""

from __future__ import annotations

import argparse
import json
from typing import Any

from monoscope.core import assets
from monoscope.core.errors import MonoscopeError
from monoscope.core.store import Study
from monoscope.core.tasks import ConsoleState


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "generate", help="generate samples with a local GGUF model (runs and sweeps)",
        description=(
            "Generate N samples per prompt of a dataset. Several --temperature/--top-p/--top-k "
            "values make a sweep (one run per combination). Re-running the same command resumes "
            "an unfinished run: only missing samples are generated."
        ),
    )
    p.add_argument("study")
    p.add_argument("--dataset", required=True)
    p.add_argument("--model", default="smollm2", help="bundled model name or path to a .gguf")
    p.add_argument("--template", default=None, help=(
        "preset (personalized, personation, code), template text with {title}/{context}/{person}, "
        "or a .txt/.json file; default: the preset that fits the dataset"))
    p.add_argument("--n", type=int, default=10, help="samples per prompt (default 10)")
    p.add_argument("--temperature", type=float, nargs="+", default=[0.8])
    p.add_argument("--top-p", type=float, nargs="+", default=[1.0])
    p.add_argument("--top-k", type=int, nargs="+", default=[50], help="0 = off (default 50)")
    p.add_argument("--min-p", type=float, default=0.0)
    p.add_argument("--repeat-penalty", type=float, default=1.0)
    p.add_argument("--max-tokens", type=int, default=128)
    p.add_argument("--stop", nargs="*", default=[], help="stop strings")
    p.add_argument("--decay", default=None, help=(
        "temperature decay KIND:START:END:LENGTH (e.g. linear:10:1.0:20, exp:10:1.2:50) or "
        "KIND:START:LENGTH to decay to each run's --temperature"))
    p.add_argument("--prompts", type=int, default=None, help="only the first K prompts")
    p.add_argument("--prompt-key", nargs="*", default=None, help="only these prompt keys")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--engine", choices=["llama.cpp", "http"], default="llama.cpp")
    p.add_argument("--base-url", action="append", default=None, help=(
        "OpenAI-compatible server for --engine http (llama-server, vLLM, llama-cpp-python); "
        "repeat it for several servers: requests go where there is free capacity"))
    p.add_argument("--servers", default=None, metavar="FILE", help=(
        "file of servers for --engine http, one `URL [SLOTS]` per line (SLOTS = requests in "
        "flight; default: what the server reports)"))
    p.add_argument("--vllm-cap", type=int, default=64,
                   help="requests in flight per vLLM server (default 64; vLLM reports no slots)")
    p.add_argument("--remote-model", default=None, help="model name to send to the server")
    p.add_argument("--http-concurrency", type=int, default=4, help="requests in flight (http)")
    p.add_argument("--n-parallel", type=int, default=16, help="sequences decoded per step")
    p.add_argument("--n-ctx", type=int, default=None, help="per-sequence context (default: model's)")
    p.add_argument("--n-gpu-layers", type=int, default=0)
    p.add_argument("--label", default=None)
    p.add_argument("--new", action="store_true", help="plan new runs even if identical ones exist")
    p.add_argument("--run", type=int, nargs="*", default=None, help="resume these run ids instead")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(handler=cmd_generate)

    p = sub.add_parser("runs", help="list the generation runs of a study")
    p.add_argument("study")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_runs)

    p = sub.add_parser("models", help="bundled and registered GGUF models with their metadata")
    p.add_argument("study", nargs="?", default=None)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_models)


class _RunPrinter(ConsoleState):
    """Console progress that prints a line as each run ends."""

    def partial(self, result: Any) -> None:
        if isinstance(result, tuple) and result[0] == "ended":
            s = result[1]
            note = "already complete" if s.generated_now == 0 else (
                f"{s.generated_now} new samples, {s.tokens_per_s:.0f} tok/s")
            print(f"run {s.run_id}: {s.status}, {s.total}/{s.expected} samples ({note})")


def cmd_generate(args: argparse.Namespace) -> int:
    from monoscope.core.generation import Decay, RunRequest
    from monoscope.core.pipeline import Generate, run_chain

    state = _RunPrinter(quiet=args.quiet)
    with Study(args.study) as st:
        if args.run:
            step = Generate(run_ids=list(args.run))
        else:
            step = Generate(requests=[RunRequest(
                dataset=args.dataset, model=args.model, template=args.template, n=args.n,
                temperatures=args.temperature, top_ps=args.top_p, top_ks=args.top_k,
                min_p=args.min_p, repeat_penalty=args.repeat_penalty, max_tokens=args.max_tokens,
                stop=args.stop, decay=Decay.parse(args.decay) if args.decay else None,
                prompts=args.prompts, prompt_keys=args.prompt_key, seed=args.seed,
                engine=args.engine, base_url=(args.base_url or [None])[0],
                base_urls=(args.base_url or [])[1:], servers_file=args.servers,
                vllm_cap=args.vllm_cap, remote_model=args.remote_model,
                http_concurrency=args.http_concurrency,
                n_parallel=args.n_parallel, n_ctx=args.n_ctx, n_gpu_layers=args.n_gpu_layers,
                label=args.label, new=args.new,
            )])
        run_chain(st, [step], state)
    return 0


def _table(rows: list[dict[str, Any]], cols: list[tuple[str, str]]) -> None:
    widths = [max(len(h), *(len(str(r.get(k, ""))) for r in rows)) for k, h in cols]
    print("  ".join(h.ljust(w) for (_, h), w in zip(cols, widths, strict=True)))
    for r in rows:
        print("  ".join(str(r.get(k, "")).ljust(w) for (k, _), w in zip(cols, widths, strict=True)))


def cmd_runs(args: argparse.Namespace) -> int:
    from monoscope.core.generation import run_table

    with Study(args.study, read_only=True, create=False, snapshot_if_locked=True) as st:
        rows = run_table(st)
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    if not rows:
        print("no runs yet - start one with `monoscope generate`")
        return 0
    for r in rows:
        expected = (r["n_prompts"] or 0) * r["n_per_prompt"]
        r["samples"] = f"{r['samples']}/{expected}"
        r["tok/s"] = f"{r['tok_s']:.0f}" if r["tok_s"] else "-"
    _table(rows, [("id", "id"), ("status", "status"), ("dataset", "dataset"), ("model", "model"),
                  ("engine", "engine"), ("samples", "samples"), ("tok/s", "tok/s"),
                  ("sweep", "sweep"), ("label", "label")])
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from monoscope.core.generation.gguf import read_gguf
    from monoscope.core.generation.registry import bundled_models, describe, model_rows

    out: list[dict[str, Any]] = []
    for name in bundled_models():
        row: dict[str, Any] = {"source": "bundled", "model": name}
        if assets.is_present(name):
            try:
                row |= describe(read_gguf(assets.asset_path(name)))
            except MonoscopeError as exc:
                row["kind"] = f"unreadable: {exc}"
        else:
            row["kind"] = f"not fetched (monoscope assets fetch {name})"
        out.append(row)
    if args.study:
        with Study(args.study, read_only=True, create=False, snapshot_if_locked=True) as st:
            for m in model_rows(st):
                out.append({
                    "source": f"study #{m['id']}", "model": m["name"], "name": m["gguf_name"],
                    "architecture": m["architecture"], "quantization": m["quantization"],
                    "params": m["n_params"], "kind": "chat" if m["chat"] else "base",
                    "sha256": m["sha256"][:12], "path": m["path"],
                })
    if args.json:
        print(json.dumps(out, indent=2, default=str))
        return 0
    for r in out:
        if isinstance(r.get("params"), int):
            r["params"] = f"{r['params'] / 1e6:.0f}M"
    _table(out, [("source", "source"), ("model", "model"), ("name", "gguf name"),
                 ("architecture", "arch"), ("quantization", "quant"), ("params", "params"),
                 ("context", "ctx"), ("kind", "kind")])
    return 0
