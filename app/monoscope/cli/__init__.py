"""Command line: one subcommand per pipeline stage plus `demo`, `report`, `assets`, `gui`.

Each command family lives in its own module with a ``register(subparsers)`` function; the
handler gets the parsed namespace and returns an exit code. Exit codes: 0 ok, 1 failure (a
MonoscopeError, message printed without traceback), 2 usage error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from monoscope import __version__
from monoscope.cli import (
    analysis_cmds,
    byo_cmds,
    demo_cmds,
    generate_cmds,
    gui_cmds,
    import_cmds,
    measure_cmds,
    replicate_cmds,
    score_cmds,
    study_cmds,
)
from monoscope.core.errors import MonoscopeError, TaskCancelled

# The modules that add subcommands, in the order of `monoscope --help`.
COMMAND_MODULES = [
    study_cmds, import_cmds, demo_cmds, generate_cmds, analysis_cmds, measure_cmds, byo_cmds,
    replicate_cmds, score_cmds, gui_cmds,
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
    parser.set_defaults(handler=None)  # a subcommand sets its own
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
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
    if args.handler is None:
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
        target = Path(vars(args).get("study") or ".")
        print(f"monoscope: error: {disk_full_error(target)}", file=sys.stderr)
        return 1
