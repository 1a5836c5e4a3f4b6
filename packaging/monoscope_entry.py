"""Entry point of the frozen desktop bundle (PyInstaller runs this file as ``__main__``).

Besides starting the CLI/GUI it runs ``monoscope [flags] -c CODE ARGS...`` as Python would
(see python_shim.py): the code sandbox and the program checker start ``sys.executable -c``.
"""

from __future__ import annotations

import multiprocessing
import sys

from python_shim import as_python


def run() -> int:
    multiprocessing.freeze_support()
    code = as_python(sys.argv[1:])
    if code is not None:
        return code
    from monoscope.__main__ import main

    return main()


if __name__ == "__main__":
    sys.exit(run())
