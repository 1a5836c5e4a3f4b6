"""Stand in for ``python [flags] -c CODE ARGS...`` inside the frozen bundle.

In a PyInstaller bundle ``sys.executable`` is the bundle's program, not a Python interpreter,
yet the code sandbox and the program checker start ``sys.executable -I -S -c CODE ...``. The
bundle's executables run such a command line the way Python would. Run as a script (the small
``monoscope-python`` executable of the bundle) it accepts only that form.
"""

from __future__ import annotations

import sys
import traceback

# Interpreter switches that take no value; they change nothing inside the frozen bundle.
_PY_FLAGS = {"-I", "-S", "-E", "-B", "-s", "-u", "-O", "-OO", "-q"}


def as_python(argv: list[str]) -> int | None:
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


if __name__ == "__main__":
    code = as_python(sys.argv[1:])
    if code is None:
        print("usage: monoscope-python [-I] [-S] -c CODE [ARGS...]", file=sys.stderr)
        code = 2
    sys.stdout.flush()
    sys.exit(code)
