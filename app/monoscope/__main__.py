"""`python -m monoscope` / `monoscope`: no arguments opens the GUI, a subcommand runs the CLI."""

from __future__ import annotations

import sys


def main() -> int:
    from monoscope.cli import main as cli_main

    return cli_main()


def gui_main() -> int:
    from monoscope.cli import main as cli_main

    return cli_main(["gui", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
