"""`demo`: build the demo study end to end, then open the explorer (or, headless, say where
the study, the report and the screenshots are)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from monoscope.core.tasks import ConsoleState


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser("demo", help="build the demo study end to end and open it", description=(
        "Imports the films (Rotten Tomatoes) and algorithms demos, runs the bundled instruct "
        "model (SmolLM2-135M) and base model (Gemma 3 270M) on a few prompts, annotates, "
        "projects, measures, writes an HTML report, then opens the explorer. Without a display "
        "it writes screenshots instead. Re-running does no repeated work."))
    p.add_argument("--dir", default="monoscope-demo", help="output folder (default: ./monoscope-demo)")
    p.add_argument("--prompts", type=int, default=12, help="films prompts to generate for (default 12)")
    p.add_argument("--n", type=int, default=8, help="samples per prompt (default 8)")
    p.add_argument("--max-tokens", type=int, default=96)
    p.add_argument("--model", action="append", dest="models",
                   help="bundled model name or .gguf path (repeatable; default: smollm2 and gemma3-base)")
    p.add_argument("--no-generate", action="store_true", help="only import, annotate and measure")
    p.add_argument("--headless", action="store_true", help="never open a window")
    p.set_defaults(handler=cmd_demo)


def _has_display() -> bool:
    if os.environ.get("QT_QPA_PLATFORM") in ("offscreen", "minimal"):
        return False
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def cmd_demo(args: argparse.Namespace) -> int:
    from monoscope.core.demo import DemoRequest, run_demo

    out = Path(args.dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    study = out / "demo.duckdb"
    req = DemoRequest(
        study=study, out=out / "report", films_prompts=args.prompts, films_n=args.n,
        films_max_tokens=args.max_tokens, generate=not args.no_generate,
        models=tuple(args.models) if args.models else DemoRequest.models,
    )
    result = run_demo(req, ConsoleState())
    for step in result.steps:
        print("  " + step)
    print(f"\nstudy:  {study}\nreport: {result.report}")
    if not args.headless and _has_display():
        from monoscope.ui.app import run_gui

        return run_gui(argparse.Namespace(study=str(study), screenshot=None, view="map",
                                          prompt=None, size="1400x900"))
    shots = out / "screenshots"
    shots.mkdir(exist_ok=True)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    for view in ("map", "overview", "compare"):
        target = shots / f"{view}.png"
        proc = subprocess.run(
            [sys.executable, "-m", "monoscope", "gui", "--study", str(study), "--screenshot",
             str(target), "--view", view], env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(f"screenshot of {view} failed: {proc.stderr.strip()[-300:]}", file=sys.stderr)
        else:
            print(f"screenshot: {target}")
    print("\nNo display here: open the report in a browser, or run "
          f"`monoscope gui --study {study}` on a machine with a screen.")
    return 0
