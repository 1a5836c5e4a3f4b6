"""`score`: the model's own log-probabilities of the human texts (and of its own samples)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "score",
        help="score the human texts (and the runs' samples) under the model that made the runs",
        description=(
            "For each prompt, the prompt rendered exactly as the model's runs render it, then "
            "each human text, teacher-forced through llama.cpp (the prompt evaluated once "
            "and shared by its texts). Stores per text the total and mean log-probability, "
            "perplexity and per-token log-probabilities and entropies. By default every "
            "(model, template) of the dataset's llama.cpp runs scores the human texts of its "
            "runs' prompts and its own samples. Texts already scored are skipped, so running "
            "it again (or after a kill) only scores what is missing."),
    )
    p.add_argument("study", help="study file")
    p.add_argument("--dataset", help="dataset (default: the only one)")
    p.add_argument("--model", help="score under this model (bundled name or .gguf path) instead "
                                   "of the runs' models")
    p.add_argument("--template", help="with --model: preset, template text or file (default: "
                                      "the dataset's preset)")
    p.add_argument("--prompts", help="comma-separated prompt keys (default: the runs' prompts; "
                                     "with --model every prompt)")
    p.add_argument("--no-samples", action="store_true", help="only the human texts")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--max-tokens", type=int, default=1024,
                   help="longer texts are cut and marked truncated (default 1024)")
    p.add_argument("--json", action="store_true", help="print the outcome as JSON")
    p.set_defaults(handler=cmd_score)


def cmd_score(args: argparse.Namespace) -> int:
    from monoscope.core.scoring import ScoreRequest, score
    from monoscope.core.store import Study
    from monoscope.core.tasks import ConsoleState

    keys = tuple(k.strip() for k in args.prompts.split(",") if k.strip()) if args.prompts else None
    req = ScoreRequest(dataset=args.dataset, model=args.model, template=args.template,
                       prompt_keys=keys, samples=not args.no_samples, threads=args.threads, max_tokens=args.max_tokens)
    with Study(args.study, create=False) as st:
        result = score(st, req, ConsoleState())
    if args.json:
        print(json.dumps({**asdict(result), "tokens_per_s": result.tokens_per_s}, indent=2))
        return 0
    print(f"scorers {', '.join(map(str, result.scorers))}: scored {result.scored:,} texts "
          f"({result.tokens:,} tokens, {result.tokens_per_s:.0f} tok/s), copied "
          f"{result.copied:,} from identical texts")
    if result.scored == 0 and result.copied == 0:
        print("nothing to score: every text in scope has a score")
    return 0
