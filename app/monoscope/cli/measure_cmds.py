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
                       "run on the same prompts at the same n per prompt, the monoculture index "
                       "beside the people's own range, means over prompts with bootstrap CIs. "
                       "Results are stored in the study; an unchanged study is read back.")
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
    p.add_argument("--draws", type=int, default=200, help="subsample draws for equal n "
                   "(default 200)")
    p.add_argument("--entropy", choices=["plugin", "miller-madow"], default="plugin",
                   help="entropy behind the index: plug-in (the paper's, default) or "
                   "Miller-Madow bias-corrected")
    p.add_argument("--missing-share", type=float, default=0.10, help="a source topic holding "
                   "at least this share of a prompt's human texts is a mode; listed as missing "
                   "when none of a run's texts has it (default 0.10)")
    p.add_argument("--no-lexical", action="store_true", help="leave out the lexical set "
                   "measures (compression ratio, n-gram diversity, self-repetition, Self-BLEU, "
                   "homogenization), the costliest part")
    p.add_argument("--gate-ppl-max", type=float, default=None, help="text quality gate: also "
                   "measure every attribute among the texts that pass (rows '<name>|pass'): "
                   "generated texts with 0 < perplexity <= this; human texts pass")
    p.add_argument("--gate-judge", action="store_true", help="text quality gate: texts the "
                   "LLM judge passed (annotate --attributes text.judge first)")
    p.add_argument("--force", action="store_true", help="measure again even if the stored "
                   "results are current")
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
    from monoscope.core.analysis.projection import ProjectionRequest, describe, project

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
    from monoscope.core.analysis.measure import MeasureRequest, measure

    req = MeasureRequest(dataset=args.dataset, runs=tuple(args.run),
                         attributes=tuple(args.attribute), ppl_max=args.ppl_max,
                         draws=args.draws, entropy=args.entropy, force=args.force,
                         missing_share=args.missing_share, lexical=not args.no_lexical,
                         gate_ppl_max=args.gate_ppl_max, gate_judge=args.gate_judge)
    with Study(args.study, create=False) as st:
        res = measure(st, req, ConsoleState(quiet=args.json))
    if args.json:
        print(res.to_json())
        return 0
    labels = {g.key: g.label for g in res.groups}
    print(f"dataset {res.dataset} ({res.kind}), {len(res.prompts)} prompts; perplexity filter: "
          + (f"0 < ppl <= {args.ppl_max} (dropped {res.filtered_out})" if args.ppl_max else "off")
          + ("; stored results read back" if res.reused else f"; measured in {res.seconds:.1f} s"))
    runs = [g for g in res.groups if g.run_id is not None]
    for name in res.attributes:
        print(f"\n{name}")
        src_all = res.cell("source", name, "dispersion")
        if src_all:
            print(f"  source: {src_all['prompts']} prompts, dispersion {_f(src_all['value'])} "
                  "(mean over prompts, all texts)")
        for g in runs:
            idx = res.cell(g.key, name, "index", g.key)
            if idx is None:
                continue
            base = res.cell("source", name, "index", g.key)
            people = (f"people {_f(base['lo'])}-{_f(base['hi'])}"
                      if base and base["lo"] is not None else "people: -")
            flag = ""
            if idx["lo"] is not None and idx["hi"] is not None and not (
                    idx["lo"] <= 1.0 <= idx["hi"]):
                flag += " *CI excludes 1"
            if base and base["lo"] is not None and idx["value"] is not None and not (
                    base["lo"] <= idx["value"] <= base["hi"]):
                flag += " *outside people's range"
            print(f"  {labels[g.key][:27]:<28} {idx['prompts']} prompts, n={idx['n']}/prompt: "
                  f"index {_f(idx['value'])} [{_f(idx['lo'])}, {_f(idx['hi'])}]  {people}{flag}")
            for stat in sorted({r["stat"] for r in res.rows if r["ref"] == g.key
                                and r["prompt"] is None and r["attribute"] == name
                                and r["grp"] == g.key
                                and r["stat"] not in ("index", "cross_cosine")}):
                a, b = res.cell(g.key, name, stat, g.key), res.cell("source", name, stat, g.key)
                print(f"      {stat:<22} run {_f(a['value'] if a else None):>8}   people "
                      f"{_f(b['value'] if b else None):>8}")
        if args.per_prompt and name == "topic":
            for g in runs:
                for p in res.run_prompts(g.key):
                    modes = res.missing_modes(g.key, p)
                    if modes:
                        print(f"    {p:<16} {labels[g.key][:20]:<20} missing topics: "
                              + ", ".join(f"{c} ({share:.0%})" for c, share in modes))
        if args.per_prompt:
            for r in res.rows:
                ref = str(r["ref"] or "")
                if r["attribute"] == name and r["prompt"] is not None and r["stat"] in (
                        "dispersion", "index") and not ref.startswith("acc"):
                    grp = str(r["grp"])
                    print(f"    {r['prompt']:<16} {labels.get(grp, grp)[:20]:<20} "
                          f"{r['ref'] or 'own':<8} {r['stat']:<10} n={r['n']:<4} "
                          f"{_f(r['value'])} [{_f(r['lo'])}, {_f(r['hi'])}]")
    _print_lexical(res, runs, labels)
    _print_hivemind(res, labels)
    return 0


def _print_lexical(res: Any, runs: list[Any], labels: dict[str, str]) -> None:
    """Lexical set measures of each run beside the people's at the run's n (mean over the
    run's prompts)."""
    stats = sorted({r["stat"] for r in res.rows if r["attribute"] == "lexical"
                    and r["prompt"] is None and r["ref"] != ""})
    if not stats:
        return
    print("\nlexical (run vs people at the run's n, mean over its prompts)")
    for g in runs:
        print(f"  {labels[g.key][:27]:<28}")
        for stat in stats:
            a, b = res.cell(g.key, "lexical", stat, g.key), res.cell("source", "lexical", stat,
                                                                   g.key)
            print(f"      {stat:<22} run {_f(a['value'] if a else None):>8}   people "
                  f"{_f(b['value'] if b else None):>8}")


def _print_hivemind(res: Any, labels: dict[str, str]) -> None:
    """The groups x groups mean cross-set cosine (diagonal: two disjoint halves)."""
    keys, mat = res.cross_cosine()
    if not any(math.isfinite(v) for v in mat.ravel()):
        return
    print("\nmean cross-set cosine, mean over prompts (diagonal: two disjoint halves)")
    names = [labels.get(k, k)[:12] for k in keys]
    print(" " * 14 + "".join(f"{n:>13}" for n in names))
    for name, row in zip(names, mat, strict=True):
        print(f"  {name:<12}" + "".join(f"{_f(float(v)):>13}" for v in row))


def cmd_report(args: argparse.Namespace) -> int:
    from monoscope.core.report import ReportRequest, build_report

    req = ReportRequest(out=Path(args.out), dataset=args.dataset, runs=tuple(args.run),
                        ppl_max=args.ppl_max)
    with Study(args.study, create=False) as st:
        res = build_report(st, req, ConsoleState())
    print(f"report written: {res.index} ({len(res.figures)} figures)")
    return 0
