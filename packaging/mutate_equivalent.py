"""Mutants written down as equivalent (no test can tell them from the original), with the reason.

``EQUIVALENT[module][mutant name] = reason``; `packaging/mutate.py` counts a surviving mutant
listed here as equivalent, not as survived. Names are mutmut's (``mutmut show NAME`` in the work
folder prints the change) or, for the sandbox bootstrap, ``BOOTSTRAP__mutant_N`` of
`packaging/mutate_bootstrap.py`. Numbers shift when the module changes: re-check after edits.
"""

from __future__ import annotations

EQUIVALENT: dict[str, dict[str, str]] = {}
