"""`project`, `measure` and `report` subcommands (maps, monoculture metrics, HTML report)."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from monoscope.core.store import Study
from monoscope.core.tasks import ConsoleState


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser("project", help="compute the human-anchored maps (PCA, then UMAP)",
                       description="Fit a map on the source texts' embeddings and place every "
                       "generated text into it. Unchanged inputs reuse the stored map.")
    p.add_argument("study")
    p.add_argument("--dataset", help="dataset name (default: the study's only dataset)")
    p.add_argument("--scope", action="append", default=None, help="dataset (default), prompts "
                   "(one map per prompt) or prompt:KEY; repeatable")
    p.add_argument("--method", default="auto", choices=["auto", "pca", "umap"])
    p.add_argument("--max-fit", type=int, default=5000, help="fit on at most N source texts, "
                   "sampled evenly per prompt (default 5000)")
    p.add_argument("--backend", default="torch", help="embedding backend (torch or onnx-int8)")
    p.set_defaults(handler=cmd_project)

    p = sub.add_parser("measure", help="per-prompt and aggregate monoculture metrics",
                       description="Dispersion of every attribute per prompt, source vs each "
                       "run, and means over prompts with bootstrap CIs.")
    p.add_argument("study")
    p.add_argument("--dataset")
    p.add_argument("--run", action="append", default=[], help="run id or label; repeatable "
                   "(default: every run)")
    p.add_argument("--attribute", action="append", default=[], help="only these attributes")
    p.add_argument("--ppl-max", type=float, default=None, help="keep only generations with "
                   "0 < perplexity <= this (the paper used 20)")
    p.add_argument("--json", action="store_true", help="print the full result as JSON "
                   "(schema: docs/measure-schema.md)")
    p.add_argument("--per-prompt", action="store_true", help="also print per-prompt rows")
    p.set_defaults(handler=cmd_measure)

    p = sub.add_parser("report", help="write an HTML report with PNG/SVG figures",
                       description="Measure, draw the figures headless and write DIR/index.html.")
    p.add_argument("study")
    p.add_argument("--out", required=True, help="folder for index.html and the figures")
    p.add_argument("--dataset")
    p.add_argument("--run", action="append", default=[])
    p.add_argument("--ppl-max", type=float, default=None)
    p.set_defaults(handler=cmd_report)


def cmd_project(args: argparse.Namespace) -> int:
    from monoscope.core.projection import ProjectionRequest, describe, project

    req = ProjectionRequest(dataset=args.dataset, scopes=tuple(args.scope or ["dataset"]),
                            method=args.method, max_fit=args.max_fit, backend=args.backend)
    with Study(args.study, create=False) as st:
        res = project(st, req, ConsoleState())
    for row in describe(res):
        state = "reused" if row["cached"] else "fitted"
        print(f"{row['scope']:<24} {row['method']:<5} {state:<7} fit on {row['n_fit']:>6,} "
              f"source texts, {row['n_points']:>7,} points ({row['n_placed']:,} placed now)")
    return 0


def _f(v: Any) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def cmd_measure(args: argparse.Namespace) -> int:
    from monoscope.core.measure import MeasureRequest, measure

    req = MeasureRequest(dataset=args.dataset, runs=tuple(args.run),
                         attributes=tuple(args.attribute), ppl_max=args.ppl_max)
    with Study(args.study, read_only=True, create=False) as st:
        res = measure(st, req, ConsoleState(quiet=args.json))
    if args.json:
        print(res.to_json())
        return 0
    labels = {g.key: g.label for g in res.groups}
    print(f"dataset {res.dataset} ({res.kind}), {len(res.prompts)} prompts; perplexity filter: "
          + (f"0 < ppl <= {args.ppl_max} (dropped {res.filtered_out})" if args.ppl_max else "off"))
    for name in res.attributes:
        stats = sorted({a["stat"] for a in res.aggregate if a["attribute"] == name})
        print(f"\n{name}  (mean over prompts)")
        print("  " + f"{'group':<28}" + "".join(f"{s[:18]:>19}" for s in stats))
        for g in res.groups:
            cells = [res.agg(g.key, name, s) for s in stats]
            print("  " + f"{labels[g.key][:27]:<28}" + "".join(
                f"{_f(c['mean'] if c else None):>19}" for c in cells))
        if args.per_prompt:
            for r in res.rows(name):
                extra = {k: _f(v) for k, v in r.items() if k not in ("prompt", "group", "attribute")}
                print(f"    {r['prompt']:<16} {labels[r['group']][:20]:<20} {extra}")
    if res.wording:
        print("\nwording (corpus level)")
        for w in res.wording:
            print(f"  {labels[w['group']][:27]:<28} texts {w['n_texts']:>7}  unigram entropy "
                  f"{_f(w['unigram_entropy'])}  vocabulary {w['vocabulary']:>7}  cosine to source "
                  f"{_f(w['count_cosine_to_source'])}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from monoscope.core.report import ReportRequest, build_report

    req = ReportRequest(out=Path(args.out), dataset=args.dataset, runs=tuple(args.run),
                        ppl_max=args.ppl_max)
    with Study(args.study, read_only=True, create=False) as st:
        res = build_report(st, req, ConsoleState())
    print(f"report written: {res.index} ({len(res.figures)} figures)")
    return 0
