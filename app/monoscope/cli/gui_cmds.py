"""`gui` subcommand: open the explorer, or render a screenshot offscreen and exit."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser("gui", help="open the explorer window (the default with no command)")
    p.add_argument("--study", help="study file to open")
    p.add_argument("--screenshot", metavar="OUT.png", help="render offscreen to a PNG and exit")
    p.add_argument("--view", default="map", choices=[
        "map", "overview", "compare", "inspector", "sweep", "accumulation", "hivemind",
        "likelihood", "selection", "search", "run", "import"],
        help="what to show (selection, search: those docks; run, import: those dialogs)")
    p.add_argument("--prompt", help="prompt key to select")
    p.add_argument("--query", help="for --view search: the text to search (default: film)")
    p.add_argument("--file", help="for --view import: the table the import dialog reads")
    p.add_argument("--size", default="1400x900", help="window size for --screenshot, WxH")
    p.set_defaults(handler=cmd_gui)


def cmd_gui(args: argparse.Namespace) -> int:
    from monoscope.ui.app import run_gui

    return run_gui(args)
