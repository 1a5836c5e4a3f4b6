"""Command line: one subcommand per pipeline stage plus `demo`, `report`, `assets`, `gui`.

Each command family lives in its own module with a ``register(subparsers)`` function; the
handler gets the parsed namespace and returns an exit code. Exit codes: 0 ok, 1 failure (a
MonoscopeError, message printed without traceback), 2 usage error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from monoscope import __version__
from monoscope.core.errors import MonoscopeError, TaskCancelled

# Modules that add subcommands; a module that is absent (not built yet) is skipped.
COMMAND_MODULES = [
    "monoscope.cli.study_cmds",
    "monoscope.cli.import_cmds",
    "monoscope.cli.demo_cmds",
    "monoscope.cli.generate_cmds",
    "monoscope.cli.analysis_cmds",
    "monoscope.cli.measure_cmds",
    "monoscope.cli.byo_cmds",
    "monoscope.cli.replicate_cmds",
    "monoscope.cli.gui_cmds",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="monoscope",
        description=(
            "Monoscope: does this model still say the range of things people say? "
            "Run with no command to open the explorer window."
        ),
    )
    parser.add_argument("--version", action="version", version=f"monoscope {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not args_list:
        args_list = ["gui"]
    args = parser.parse_args(args_list)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        code = int(args.handler(args) or 0)
        sys.stdout.flush()  # a closed pipe (`monoscope info | head`) shows here, not at exit
        return code
    except BrokenPipeError:
        # the reader went away: stop quietly, as cat and grep do, with 128 + SIGPIPE
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except MonoscopeError as exc:
        print(f"monoscope: error: {exc}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, TaskCancelled):
        print("\nmonoscope: interrupted; finished work is saved in the study.", file=sys.stderr)
        return 130
    except Exception as exc:
        from monoscope.core.store.study import disk_full_error, is_disk_full

        if not is_disk_full(exc):
            raise
        target = Path(getattr(args, "study", None) or ".")
        print(f"monoscope: error: {disk_full_error(target)}", file=sys.stderr)
        return 1
