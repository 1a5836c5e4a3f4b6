"""Mutants written down as equivalent (no test can tell them from the original), with the reason.

``EQUIVALENT[module][mutant name] = reason``; `packaging/mutate.py` counts a surviving mutant
listed here as equivalent, not as survived. Names are mutmut's (``mutmut show NAME`` in the work
folder prints the change) or, for the sandbox bootstrap, ``BOOTSTRAP__mutant_N`` of
`packaging/mutate_bootstrap.py` (``<work>/mutants.json`` lists each one's change). Numbers
shift when the module changes: re-check after edits.
"""

from __future__ import annotations

_B = "BOOTSTRAP__mutant_"

BOOTSTRAP = {
    **dict.fromkeys([f"{_B}18", f"{_B}19"], "the source is read in chunks of 1 << 16 bytes; "
                    "2 << 16 or 1 << 17 only changes the chunk size"),
    **dict.fromkeys([f"{_B}28", f"{_B}33", f"{_B}34"], "the error handler of decoding the "
                    "source: run_program writes the source as strict UTF-8, so decoding never "
                    "meets an error (and a lone surrogate cannot be written at all)"),
    f"{_B}32": "codec names are case-insensitive ('UTF-8' is 'utf-8')",
    f"{_B}47": "peak(): `return` instead of `break` after writing VmHWM skips only closing the "
               "fd, which the exit closes",
    f"{_B}48": "peak(): os.close(None) raises inside its own `except Exception: pass` after the "
               "write; the exit closes the fd",
    **dict.fromkeys([f"{_B}114", f"{_B}115"], "the audit event 'os.spawn' exists only where C "
                    "spawnv does (Windows); on Linux os.spawn* fork and exec (refused as "
                    "'os.fork')"),
    f"{_B}189": "the guard reads `mode` from args[2] (the flags): every 'open' event of CPython "
                "3.11 that writes carries the O_* flags, which the flag check refuses",
    **dict.fromkeys([f"{_B}196", f"{_B}197"], "the mode-string check is a second look at what "
                    "the O_* flags already say for every writing 'open' event of CPython 3.11 "
                    "(io.open and os.open pass the flags); 'XXwax+XX' is a superset anyway"),
    f"{_B}230": "the program's globals without a '__builtins__' key: exec() puts the builtins "
                "in itself",
    f"{_B}207": "args[:3] instead of args[:2]: the third argument of every path event in the "
                "list is an int, a tuple or None (dir_fd, times, gid), never a path",
}

_S = "monoscope.core.sandbox."
SANDBOX = {
    f"{_S}x_run_tests__mutmut_1": "default parallelism 3 instead of 2: run_tests caps the "
                                  "workers at 2 either way",
    f"{_S}x_run_tests__mutmut_17": "`len(tests) or 2` instead of `or 1`: only differs for no "
                                   "test cases, where the pool maps over nothing",
}

_M = "monoscope.core.analysis.measure."
MEASURE = {
    f"{_M}x__boot__mutmut_29": "the se-perturbed replicates when every se is 0: v + 0 * noise "
                               "equals v",
    f"{_M}x__comparable__mutmut_8": "astype(None) is astype(float64)",
    f"{_M}x_attribute_kind__mutmut_13": "how many labels are looked at to tell a categorical "
                                        "attribute (1000 or 1001): a sampling bound",
    f"{_M}x_subsets__mutmut_3": "np.arange's default dtype is int64 here",
    f"{_M}x_subsets__mutmut_5": "np.arange's default dtype is int64 here",
    f"{_M}x_subsets__mutmut_12": "np.argsort's default axis is the last (-1 = 1)",
    f"{_M}x_ustat_se__mutmut_4": "b >= 2, m < n and fewer than 2 finite values: every seen "
                                 "text has the same h, so the variance and the se are 0 anyway",
    f"{_M}x_ustat_se__mutmut_5": "one draw never has 2 finite values: `ok.sum() < 2` returns 0 "
                                 "whether or not `b < 2 and m >= n` holds",
    f"{_M}x_ustat_se__mutmut_8": "m = n: every draw holds every text, all h are equal, se 0",
}

EQUIVALENT: dict[str, dict[str, str]] = {
    "core/analysis/measure.py": MEASURE,
    "core/sandbox/boot.py:BOOTSTRAP": BOOTSTRAP,
    "core/sandbox/__init__.py": SANDBOX,
}
