"""Entry point of the frozen desktop bundle (PyInstaller runs this file as ``__main__``).

Besides starting the CLI/GUI it stands in for a Python interpreter for the few places that run
a child ``sys.executable -I -S -c CODE ARGS...`` (the code sandbox, the program checker): in a
frozen bundle ``sys.executable`` is this program, so such calls must run CODE, not the CLI.
"""

from __future__ import annotations

import multiprocessing
import sys
import traceback

# Interpreter switches that take no value; they change nothing inside the frozen bundle.
_PY_FLAGS = {"-I", "-S", "-E", "-B", "-s", "-u", "-O", "-OO", "-q"}


def _as_python(argv: list[str]) -> int | None:
    """Run ``[flags...] -c CODE [args]`` like ``python`` would; None if argv is not of that form."""
    i = 0
    while i < len(argv) and argv[i] in _PY_FLAGS:
        i += 1
    if i >= len(argv) or argv[i] != "-c" or i + 1 >= len(argv):
        return None
    code = argv[i + 1]
    sys.argv = ["-c", *argv[i + 2 :]]
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    try:
        exec(compile(code, "<string>", "exec"), namespace)
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return int(exc.code or 0)
        print(exc.code, file=sys.stderr)
        return 1
    except BaseException:
        traceback.print_exc()
        return 1
    return 0


def run() -> int:
    multiprocessing.freeze_support()
    as_python = _as_python(sys.argv[1:])
    if as_python is not None:
        return as_python
    from monoscope.__main__ import main

    return main()


if __name__ == "__main__":
    sys.exit(run())
