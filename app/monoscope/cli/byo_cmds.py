"""`import-attributes`, `import-generations` (bring your own data) and `run-code` (the sandbox)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from monoscope.core.errors import MonoscopeError


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "import-attributes",
        help="import precomputed attribute values (CSV/JSONL/Parquet)",
        description=(
            "Rows name a text by text_id, or by dataset + prompt key + run label ('source' for "
            "human texts) + 0-based sample index; plus name and value and/or label. Columns "
            "default to text_id, dataset, key, run, sample, name, value, label; rename with "
            "--map role=column,... . One transaction: a bad row imports nothing."
        ),
    )
    p.add_argument("study")
    p.add_argument("file")
    p.add_argument("--map", default="", help="role=column pairs, e.g. key=movie_id,name=attr")
    p.add_argument("--dataset", help="dataset of every row (when the file has no dataset column)")
    p.add_argument("--version", default="imported", help="version tag stored with the values")
    p.add_argument("--format", choices=["csv", "jsonl", "parquet"], help="default: from the name")
    p.set_defaults(handler=cmd_import_attributes)

    p = sub.add_parser(
        "import-generations",
        help="import texts generated elsewhere (e.g. vLLM) as a run",
        description=(
            "Each row is one generated text for a prompt key of DATASET. Columns default to "
            "key, text, sample (numbered in file order if absent), seed, perplexity, "
            "mean_logprob, n_tokens, n_prompt_tokens, finish_reason, prompt_text, wall_ms."
        ),
    )
    p.add_argument("study")
    p.add_argument("file")
    p.add_argument("--dataset", required=True)
    p.add_argument("--label", required=True, help="run label, e.g. vllm-llama3")
    p.add_argument("--model", required=True, help="name of the model that generated the texts")
    p.add_argument("--temperature", type=float)
    p.add_argument("--top-p", type=float)
    p.add_argument("--top-k", type=int)
    p.add_argument("--min-p", type=float)
    p.add_argument("--max-tokens", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--params", default="", help="more sampling parameters as a JSON object")
    p.add_argument("--template", default="external", help="prompt template name to record")
    p.add_argument("--map", default="", help="role=column pairs, e.g. key=movie,text=output")
    p.add_argument("--format", choices=["csv", "jsonl", "parquet"])
    p.set_defaults(handler=cmd_import_generations)

    p = sub.add_parser(
        "run-code",
        help="run a Python program in the sandbox",
        description=(
            "Run FILE in the kernel sandbox (bubblewrap: own PID/network/mount namespaces, "
            "uid nobody, read-only system, private /tmp; time/memory/process limits) with "
            "--input, or against a prompt's tests with --study, --dataset and --prompt. "
            "Prints one JSON object per test case."
        ),
    )
    p.add_argument("file", help="Python file (markdown with a ```python block is fine)")
    p.add_argument("--input", default="", help="stdin text")
    p.add_argument("--expect", help="expected stdout (compared ignoring whitespace)")
    p.add_argument("--study")
    p.add_argument("--dataset")
    p.add_argument("--prompt", help="prompt key whose tests to run")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds per test (wall)")
    p.add_argument("--memory-mb", type=int, default=512)
    p.add_argument("--unsafe-no-sandbox", action="store_true",
                   help="run even where the kernel sandbox (bubblewrap) is unavailable: the "
                        "program could then read and change your files")
    p.set_defaults(handler=cmd_run_code)


def cmd_import_attributes(args: argparse.Namespace) -> int:
    from monoscope.core.importers.byo import import_attributes, parse_mapping
    from monoscope.core.store import Study

    with Study(args.study, create=False) as st:
        rep = import_attributes(
            st, args.file, parse_mapping(args.map), args.dataset, args.version, args.format
        )
    print("\n".join(rep.lines()))
    return 0


def cmd_import_generations(args: argparse.Namespace) -> int:
    from monoscope.core.errors import ImportFailed
    from monoscope.core.importers.byo import import_generations, parse_mapping
    from monoscope.core.store import Study

    params: dict[str, Any] = {}
    if args.params:
        try:
            extra = json.loads(args.params)
        except json.JSONDecodeError as exc:
            raise ImportFailed(f"--params is not valid JSON ({exc.msg}).") from None
        if not isinstance(extra, dict):
            raise ImportFailed("--params must be a JSON object, e.g. '{\"top_k\": 40}'.")
        params.update(extra)
    for key in ("temperature", "top_p", "top_k", "min_p", "max_tokens", "seed"):
        if getattr(args, key) is not None:
            params[key] = getattr(args, key)
    with Study(args.study, create=False) as st:
        rep = import_generations(
            st, args.file, args.dataset, args.label, args.model, params,
            parse_mapping(args.map), args.format, args.template,
        )  # fmt: skip
    print("\n".join(rep.lines()))
    return 0


def cmd_run_code(args: argparse.Namespace) -> int:
    from monoscope.core.attributes.code.static import extract_code
    from monoscope.core.sandbox import Limits, TestCase, run_tests

    path = Path(args.file)
    if not path.is_file():
        raise MonoscopeError(f"{path} is not a file: give the Python program to run.")
    code = extract_code(path.read_text(encoding="utf-8", errors="replace"))
    if code is None:
        raise MonoscopeError(f"{path} holds no Python code that parses.")
    if args.prompt:
        tests = _prompt_tests(args)
    else:
        tests = [TestCase(args.input, args.expect)]
    res = run_tests(code, tests, Limits(timeout_s=args.timeout, memory_mb=args.memory_mb),
                    unsafe_no_sandbox=args.unsafe_no_sandbox)
    for i, case in enumerate(res.cases):
        row = {"test": i, "status": case.status, "wall_ms": round(case.wall_ms, 1),
               "peak_kb": case.peak_kb, "message": case.message,
               "isolation": case.isolation}  # fmt: skip
        if not args.prompt:
            row["stdout"] = case.stdout
        print(json.dumps(row))
    print(
        f"{res.status}: {res.share_passed:.0%} of {len(res.cases)} passed "
        f"(isolation: {res.isolation})",
        file=sys.stderr,
    )
    return 0 if res.status == "pass" else 1


def _prompt_tests(args: argparse.Namespace) -> list[Any]:
    from monoscope.core.sandbox import TestCase
    from monoscope.core.store import Study
    from monoscope.core.store import imports as imports_repo

    if not args.study or not args.dataset:
        raise MonoscopeError("--prompt needs --study STUDY and --dataset NAME too.")
    with Study(args.study, read_only=True, create=False) as st:
        ds = st.dataset_id(args.dataset)
        rows = imports_repo.prompt_tests_by_key(st, ds, args.prompt)
    if not rows:
        raise MonoscopeError(
            f"Prompt {args.prompt!r} of {args.dataset!r} has no tests (or does not exist)."
        )
    return [TestCase(inp, out) for inp, out in rows]
