"""Run untrusted Python programs (generated solutions) against stdin tests, never in-process.

Each test case runs in a fresh child process started as ``python -I -S -c BOOTSTRAP`` with:

- a throw-away working directory (deleted afterwards) and a minimal environment;
- resource limits set by the bootstrap before the solution runs: address space (RLIMIT_AS),
  CPU seconds (RLIMIT_CPU), written file size (RLIMIT_FSIZE), no core files, and, when the
  app runs as root, process count (RLIMIT_NPROC) after dropping to the ``nobody`` user;
- a wall-clock timeout, after which the whole process group is killed;
- no network: a fresh network namespace (``unshare --net`` as root, ``unshare -rn``
  otherwise) when the kernel allows it, and always a Python audit hook that refuses sockets,
  subprocesses, ctypes and writes outside the working directory (the hook alone is a
  best-effort guard; the namespace is the real barrier — `network_isolation()` says which
  one is active);
- stdout/stderr captured into files outside the working directory and capped.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import resource
import select
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

from monoscope.core.assets import python_executable
from monoscope.core.errors import MonoscopeError

Status = Literal["pass", "fail", "error", "timeout", "memory"]
Isolation = Literal["auto", "namespace", "guard"]

MEMORY_EXIT = 86  # bootstrap exit code for MemoryError
BLOCKED_EXIT = 87  # bootstrap exit code when the guard refused an operation
_NOBODY = 65534
# Order used to summarise several failed cases into one label (most telling first).
SEVERITY: tuple[Status, ...] = ("timeout", "memory", "error", "fail")


class SandboxError(MonoscopeError):
    """The sandbox could not be set up (not a failure of the program under test)."""


@dataclass(frozen=True)
class Limits:
    """Per-test-case limits; ``cpu_s`` defaults to the wall timeout."""

    timeout_s: float = 5.0
    cpu_s: float | None = None
    memory_mb: int = 512
    file_size_mb: int = 16
    max_processes: int = 64
    output_kb: int = 1024


@dataclass(frozen=True)
class TestCase:
    """One stdin input and the expected stdout (None: only run, do not judge)."""

    __test__ = False  # not a pytest class

    input: str
    output: str | None = None


@dataclass(frozen=True)
class CaseResult:
    """Outcome of one test case; ``peak_kb`` is the child's max resident set size."""

    status: Status
    passed: bool
    wall_ms: float
    peak_kb: int
    returncode: int | None
    stdout: str
    stderr: str
    message: str = ""


@dataclass(frozen=True)
class RunResult:
    """Outcome of a program over all its test cases."""

    cases: list[CaseResult] = field(default_factory=list)

    @property
    def share_passed(self) -> float:
        return sum(c.passed for c in self.cases) / len(self.cases) if self.cases else 0.0

    @property
    def status(self) -> Status:
        """``pass`` if every case passed, else the most severe failure among the cases."""
        bad = {c.status for c in self.cases if not c.passed}
        if not self.cases:
            return "error"
        for s in SEVERITY:
            if s in bad:
                return s
        return "pass"

    @property
    def wall_ms(self) -> float:
        return max((c.wall_ms for c in self.cases), default=0.0)

    @property
    def peak_kb(self) -> int:
        return max((c.peak_kb for c in self.cases), default=0)


def outputs_match(actual: str, expected: str) -> bool:
    """Compare program output ignoring whitespace differences (as the paper does)."""
    return actual.split() == expected.split()


# The bootstrap runs in the child before the solution: limits, privilege drop, audit guard.
_BOOTSTRAP = r"""
import json, os, resource, sys
cfg = json.loads(sys.argv[1])
src = open(cfg["solution"], encoding="utf-8").read()
_report = open(cfg["report"], "w")
def _peak():
    # VmHWM is this process's own high-water mark (reset at exec, unlike ru_maxrss)
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                _report.write(line.split()[1]); break
        _report.close()
    except Exception:
        pass
def lim(res, soft, hard=None):
    try:
        resource.setrlimit(res, (soft, soft if hard is None else hard))
    except (ValueError, OSError):
        pass
lim(resource.RLIMIT_AS, cfg["as"])
lim(resource.RLIMIT_CPU, cfg["cpu"], cfg["cpu"] + 1)
lim(resource.RLIMIT_FSIZE, cfg["fsize"])
lim(resource.RLIMIT_CORE, 0)
if cfg["drop"] and os.getuid() == 0:
    lim(resource.RLIMIT_NPROC, cfg["nproc"])
    os.setgroups([])
    os.setgid(cfg["drop"])
    os.setuid(cfg["drop"])
os.chdir(cfg["work"])
WORK = os.path.realpath(cfg["work"])
ALLOWED = (WORK + os.sep, "/dev/null")
DENY = {"socket.__new__", "socket.connect", "socket.bind", "socket.getaddrinfo",
        "socket.sendto", "socket.gethostbyname", "os.system", "os.exec", "os.fork",
        "os.forkpty", "os.posix_spawn", "os.spawn", "os.kill", "os.killpg",
        "subprocess.Popen", "ctypes.dlopen", "ctypes.dlsym", "ctypes.cdata", "pty.spawn"}
PATHS = {"os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown",
         "os.truncate", "os.symlink", "os.link", "os.utime", "shutil.rmtree", "shutil.copyfile",
         "shutil.move", "os.chdir"}
WFLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
def inside(p):
    if isinstance(p, int):
        return True
    p = os.path.realpath(os.fsdecode(p))
    return p == WORK or p.startswith(ALLOWED)
def hook(event, args):
    if event in DENY:
        raise PermissionError(f"sandbox: {event} is not allowed (no network, no processes)")
    if event == "open" and len(args) >= 3:
        mode, flags = args[1], args[2]
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and flags & WFLAGS)
        if writing and not inside(args[0]):
            raise PermissionError(f"sandbox: writing {args[0]!r} outside the work dir")
    elif event in PATHS:
        for a in args[:2]:
            if isinstance(a, (str, bytes)) and not inside(a):
                raise PermissionError(f"sandbox: {event} on {a!r} outside the work dir")
code = compile(src, "solution.py", "exec")
sys.argv = ["solution.py"]
if cfg["guard"]:
    sys.addaudithook(hook)
del json, resource, cfg, src, lim
try:
    exec(code, {"__name__": "__main__", "__builtins__": __builtins__})
except MemoryError:
    sys.stdout.flush()
    sys.stderr.write("MemoryError: the program exceeded the sandbox memory limit\n")
    sys.stderr.flush()
    _peak()
    os._exit(86)
except PermissionError as exc:
    if str(exc).startswith("sandbox:"):
        sys.stdout.flush()
        sys.stderr.write(f"{exc}\n")
        sys.stderr.flush()
        _peak()
        os._exit(87)
    raise
finally:
    _peak()
"""


def _namespace_prefix() -> list[str]:
    return ["unshare", "--net"] if os.getuid() == 0 else ["unshare", "-rn"]


@lru_cache(maxsize=8)
def _probe(python: str) -> tuple[bool, bool]:
    """Probe once per interpreter: (network namespace works, dropping to nobody works).

    Dropping privileges only helps if the interpreter's standard library is readable by
    ``nobody`` (an interpreter under /root is not), so the probe imports a few modules after
    the drop.
    """

    def ok(argv: list[str]) -> bool:
        try:
            done = subprocess.run(argv, capture_output=True, timeout=15, check=False)
        except (OSError, subprocess.SubprocessError):
            return False
        return done.returncode == 0

    ns = shutil.which("unshare") is not None and ok(
        [*_namespace_prefix(), python, "-I", "-S", "-c", "pass"]
    )
    drop = os.getuid() == 0 and ok(
        [
            python,
            "-I",
            "-S",
            "-c",
            f"import os; os.setgroups([]); os.setgid({_NOBODY}); os.setuid({_NOBODY}); "
            "import heapq, collections, bisect, itertools, functools, re, socket",
        ]
    )
    return ns, drop


def network_isolation(
    isolation: Isolation = "auto", python: str | None = None
) -> Literal["namespace", "guard"]:
    """Which network barrier a run uses: a fresh network namespace, or only the audit guard."""
    if isolation == "guard":
        return "guard"
    if _probe(python or python_executable())[0]:
        return "namespace"
    if isolation == "namespace":
        raise SandboxError(
            "Cannot create a network namespace here (`unshare --net` failed). Install "
            "util-linux or allow unprivileged user namespaces, or use isolation='guard'."
        )
    return "guard"


def drops_privileges(python: str | None = None) -> bool:
    """True when programs run as ``nobody`` (the app runs as root and that user can run Python)."""
    return _probe(python or python_executable())[1]


def _read_capped(path: Path, cap: int) -> tuple[str, bool]:
    with open(path, "rb") as fh:
        data = fh.read(cap + 1)
    return data[:cap].decode("utf-8", errors="replace"), len(data) > cap


def _wait(pid: int, timeout_s: float) -> tuple[int, resource.struct_rusage, bool]:
    """Wait for ``pid`` up to ``timeout_s``; kill its process group on timeout.

    Returns (wait status, rusage, timed_out). Uses a pidfd when available (no polling).
    """
    timed_out = False
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        fd = -1
    if fd >= 0:
        try:
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            timed_out = not poller.poll(max(0.0, timeout_s) * 1000)
        finally:
            os.close(fd)
    else:
        deadline = time.monotonic() + timeout_s
        delay = 0.001
        while True:
            got, status, usage = os.wait4(pid, os.WNOHANG)
            if got:
                return status, usage, False
            if time.monotonic() >= deadline:
                timed_out = True
                break
            time.sleep(delay)
            delay = min(delay * 2, 0.02)
    if timed_out:
        _killpg(pid)
    _, status, usage = os.wait4(pid, 0)
    return status, usage, timed_out


def _killpg(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def run_program(
    code: str,
    stdin: str = "",
    expected: str | None = None,
    limits: Limits | None = None,
    isolation: Isolation = "auto",
    python: str | None = None,
    guard: bool = True,
) -> CaseResult:
    """Run ``code`` once in the sandbox with ``stdin``; judge against ``expected`` if given.

    ``guard=False`` leaves out the Python audit hook (only for testing the OS-level barriers).
    """
    lim = limits or Limits()
    python = python or python_executable()
    net = network_isolation(isolation, python)
    drop = _NOBODY if drops_privileges(python) else 0
    io_dir = Path(tempfile.mkdtemp(prefix="monoscope-sbx-io-"))
    work = Path(tempfile.mkdtemp(prefix="monoscope-sbx-"))
    try:
        if drop:
            os.chown(work, drop, drop)
        (io_dir / "solution.py").write_text(code, encoding="utf-8")
        (io_dir / "stdin").write_text(stdin, encoding="utf-8")
        cpu = math.ceil(lim.cpu_s if lim.cpu_s is not None else lim.timeout_s)
        cfg = {
            "solution": str(io_dir / "solution.py"),
            "report": str(io_dir / "peak"),
            "work": str(work),
            "as": lim.memory_mb * 1024 * 1024,
            "cpu": max(1, cpu),
            "fsize": lim.file_size_mb * 1024 * 1024,
            "nproc": lim.max_processes,
            "drop": drop,
            "guard": guard,
        }
        argv = [python, "-I", "-S", "-c", _BOOTSTRAP, json.dumps(cfg)]
        if net == "namespace":
            argv = [*_namespace_prefix(), *argv]
        env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8", "HOME": str(work)}
        with (
            open(io_dir / "stdin", "rb") as fin,
            open(io_dir / "stdout", "wb") as fout,
            open(io_dir / "stderr", "wb") as ferr,
        ):
            start = time.perf_counter()
            try:
                proc = subprocess.Popen(
                    argv,
                    stdin=fin,
                    stdout=fout,
                    stderr=ferr,
                    cwd=work,
                    env=env,
                    start_new_session=True,
                    close_fds=True,
                )
            except OSError as exc:
                raise SandboxError(f"Cannot start the sandbox interpreter: {exc}") from None
            try:
                status, usage, timed_out = _wait(proc.pid, lim.timeout_s)
            finally:
                _killpg(proc.pid)  # strays left in the group
            proc.returncode = os.waitstatus_to_exitcode(status)
            wall_ms = (time.perf_counter() - start) * 1000.0
        cap = lim.output_kb * 1024
        out, out_cut = _read_capped(io_dir / "stdout", cap)
        err, _ = _read_capped(io_dir / "stderr", cap)
        peak_kb = _peak_kb(io_dir / "peak", usage)
        return _judge(proc.returncode, timed_out, out, out_cut, err, expected, wall_ms, peak_kb)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(io_dir, ignore_errors=True)


def _peak_kb(report: Path, usage: resource.struct_rusage) -> int:
    """The child's own peak RSS (VmHWM written by the bootstrap); else ``ru_maxrss``.

    ``ru_maxrss`` also counts the forked copy of this (possibly large) app before exec, so it
    is only the fallback for children killed before they could report.
    """
    try:
        return int(report.read_text().strip())
    except (OSError, ValueError):
        return int(usage.ru_maxrss)


def _judge(
    rc: int,
    timed_out: bool,
    out: str,
    out_cut: bool,
    err: str,
    expected: str | None,
    wall_ms: float,
    peak_kb: int,
) -> CaseResult:
    """Turn a finished child into a status: timeout, memory, error, fail or pass."""
    status: Status
    message = ""
    if timed_out or rc in (-signal.SIGXCPU, -signal.SIGKILL):
        status, message = "timeout", "time limit exceeded (wall or CPU)"
    elif rc == MEMORY_EXIT or "MemoryError" in err[-2000:]:
        status, message = "memory", "memory limit exceeded"
    elif rc != 0:
        status = "error"
        last = err.strip().splitlines()[-1] if err.strip() else ""
        message = last if rc > 0 else f"killed by signal {-rc} {last}".strip()
    elif out_cut:
        status, message = "error", "output larger than the sandbox cap"
    elif expected is not None and not outputs_match(out, expected):
        status, message = "fail", "wrong answer"
    else:
        status = "pass"
    return CaseResult(
        status=status,
        passed=status == "pass",
        wall_ms=wall_ms,
        peak_kb=peak_kb,
        returncode=rc,
        stdout=out,
        stderr=err,
        message=message,
    )


def run_tests(
    code: str,
    tests: Sequence[TestCase],
    limits: Limits | None = None,
    parallelism: int = 2,
    isolation: Isolation = "auto",
    on_case: Callable[[int, CaseResult], None] | None = None,
) -> RunResult:
    """Run ``code`` against every test case, at most ``parallelism`` (≤ 2) processes at once."""
    workers = max(1, min(2, parallelism, len(tests) or 1))

    def one(i: int) -> CaseResult:
        res = run_program(code, tests[i].input, tests[i].output, limits, isolation)
        if on_case is not None:
            on_case(i, res)
        return res

    if workers == 1:
        return RunResult([one(i) for i in range(len(tests))])
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sandbox") as pool:
        return RunResult(list(pool.map(one, range(len(tests)))))
