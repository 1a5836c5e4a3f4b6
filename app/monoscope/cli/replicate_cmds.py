"""`replicate reviews|code`: the paper's experiments on local models, as one command."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from monoscope.core.store import Study
from monoscope.core.tasks import ConsoleState, format_eta

PAPER_CONFIRM_S = 3600.0  # longer than this: ask first (the paper preset always asks)


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "replicate", help="the paper's experiments (reviews or code) on local models",
        description=(
            "Run the protocol of Wu et al., 'Generative Monoculture in Large Language Models': "
            "generate over the sampling grid, annotate, measure, and write the paper's tables, "
            "Figure 1 analogues and sweep plots to an HTML page. Re-running resumes and reuses "
            "everything already done."))
    psub = p.add_subparsers(dest="protocol", metavar="PROTOCOL", required=True)
    for protocol, dataset, helptext in (
            ("reviews", "films", "review protocol: personalized/personation prompts, sentiment, "
             "topic, wording"),
            ("code", "algorithms", "code protocol: solutions run against tests, algorithm sets, "
             "embedding similarity, accuracy")):
        q = psub.add_parser(protocol, help=helptext)
        q.add_argument("study")
        q.add_argument("--dataset", default=dataset,
                       help=f"dataset name (default {dataset}; a missing demo is imported)")
        q.add_argument("--model", action="append", default=None,
                       help="bundled model name or .gguf path; repeatable "
                            "(default: smollm2 and gemma3-base)")
        q.add_argument("--preset", choices=["quick", "paper", "mitigations"], default="quick",
                       help="quick (~15 min), paper (hours), or mitigations (reviews: min-p "
                            "sweep, verbalized sampling, personas, system prompts)")
        q.add_argument("--prompts", type=int, default=None, help="first N prompts (preset's)")
        q.add_argument("--n", type=int, default=None, help="samples per prompt (preset's)")
        q.add_argument("--max-tokens", type=int, default=None)
        if protocol == "reviews":
            dg = q.add_mutually_exclusive_group()
            dg.add_argument("--decay", dest="decays", action="store_true", default=None,
                            help="add the two temperature-decay runs (on in the paper preset)")
            dg.add_argument("--no-decay", dest="decays", action="store_false")
        q.add_argument("--ppl-max", type=float, default=20.0,
                       help="keep generations with 0 < perplexity <= this (default 20)")
        q.add_argument("--no-ppl-filter", action="store_true", help="keep every generation")
        q.add_argument("--seed", type=int, default=0)
        if protocol == "code":
            q.add_argument("--unsafe-no-sandbox", action="store_true",
                           help="run the programs even without the kernel sandbox "
                                "(bubblewrap); their results are marked as such")
        q.add_argument("--out", default=None,
                       help="report folder (default: STUDY-replication-PROTOCOL next to the study)")
        q.add_argument("--estimate", action="store_true", help="print the estimate and stop")
        q.add_argument("--yes", action="store_true", help="start without asking")
        q.add_argument("--quiet", action="store_true")
        q.set_defaults(handler=cmd_replicate)


def _confirm(prompt: str) -> bool:
    sys.stderr.write(prompt)
    sys.stderr.flush()
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")


def cmd_replicate(args: argparse.Namespace) -> int:
    from monoscope.core.replicate import ReplicateError, ReplicateRequest, plan, run_replication
    from monoscope.core.replicate.report import table_text

    req = ReplicateRequest(
        protocol=args.protocol, dataset=args.dataset,
        models=tuple(args.model or ("smollm2", "gemma3-base")), preset=args.preset,
        prompts=args.prompts, n=args.n, max_tokens=args.max_tokens,
        decays=getattr(args, "decays", None),
        ppl_max=None if args.no_ppl_filter else args.ppl_max, seed=args.seed, out=args.out,
        unsafe_no_sandbox=getattr(args, "unsafe_no_sandbox", False))
    state = ConsoleState(quiet=args.quiet)
    with Study(args.study) as st:
        _, _, est = plan(st, req, state)
        print(f"replicate {req.protocol} ({req.preset}): {est.describe()}")
        if args.estimate:
            for r in est.runs:
                print(f"  {r.config.label:<48} {r.done:>5}/{r.expected:<5} "
                      f"{r.tokens_per_s:5.0f} tok/s  {format_eta(r.seconds)}")
            return 0
        if (req.preset == "paper" or est.seconds > PAPER_CONFIRM_S) and not args.yes \
                and est.missing_samples:
            hours = est.seconds / 3600
            if not sys.stdin.isatty():
                raise ReplicateError(
                    f"This replication needs about {hours:.1f} hours. Add --yes to start it "
                    "anyway, or use --preset quick (about 10 minutes).")
            if not _confirm(f"This takes about {hours:.1f} hours. Start? [y/N] "):
                print("not started")
                return 1
        res = run_replication(st, req, state)
    print(f"\ngenerated {res.generated_now:,} new samples ({res.tokens_now:,} tokens), "
          f"annotated {res.annotated_now:,} values, "
          f"{'measured' if res.measured_now else 'tables unchanged (cached)'}; "
          f"{format_eta(res.seconds)}"
          + (" - nothing to redo" if res.repeated_nothing else ""))
    for t in res.tables:
        print(f"\n{t.title}\n{table_text(t)}")
    print(f"\nreport: {res.report}")
    return 0
