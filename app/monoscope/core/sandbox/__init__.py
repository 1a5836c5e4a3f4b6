"""Run untrusted Python programs (generated solutions) against stdin tests, never in-process.

Each test case runs in a fresh child interpreter (``python -I -S -c BOOTSTRAP``) inside a
bubblewrap sandbox (`monoscope.core.sandbox.bwrap`): fresh PID, network, IPC and mount
namespaces, read-only ``/usr`` and interpreter prefix, a private tmpfs ``/tmp`` as working
directory, uid 65534 with no capabilities. The bootstrap (`monoscope.core.sandbox.boot`) sets
resource limits before the program runs — address space, CPU seconds, written file size,
processes, open files, no core files — and adds a Python audit hook as a second layer. The
parent enforces a wall-clock timeout by killing the sandbox (the PID namespace takes every
descendant with it) and caps the captured output.

Without a working ``bwrap`` nothing runs unless the caller opts in with
``unsafe_no_sandbox=True``: the program then runs as a plain child process with the limits and
the audit hook only, and every result carries ``isolation == "unsafe-no-sandbox"``.
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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Literal

from monoscope.core.assets import python_executable
from monoscope.core.sandbox.boot import BLOCKED_EXIT, BOOTSTRAP, MEMORY_EXIT, boot_args
from monoscope.core.sandbox.bwrap import (
    WORK_DIR,
    SandboxError,
    SandboxUnavailable,
    environment,
    wall,
)
from monoscope.core.sandbox.bwrap import available as wall_available

Status = Literal["pass", "fail", "error", "timeout", "memory"]
Isolation = Literal["bwrap", "unsafe-no-sandbox"]
UNSAFE: Isolation = "unsafe-no-sandbox"
__all__ = ["BLOCKED_EXIT", "MEMORY_EXIT", "SandboxError", "SandboxUnavailable"]

# Order used to summarise several failed cases into one label (most telling first).
SEVERITY: tuple[Status, ...] = ("timeout", "memory", "error", "fail")


@dataclass(frozen=True)
class Limits:
    """Per-test-case limits; ``cpu_s`` defaults to the wall timeout."""

    timeout_s: float = 5.0
    cpu_s: float | None = None
    memory_mb: int = 512
    file_size_mb: int = 16
    max_processes: int = 16
    open_files: int = 64
    tmp_mb: int = 64  # size of the private /tmp (working directory) inside the sandbox
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
    isolation: Isolation = "bwrap"


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

    @property
    def isolation(self) -> Isolation:
        """``unsafe-no-sandbox`` if any case ran without the kernel wall, else ``bwrap``."""
        return UNSAFE if any(c.isolation == UNSAFE for c in self.cases) else "bwrap"


def outputs_match(actual: str, expected: str) -> bool:
    """Compare program output ignoring whitespace differences (as the paper does)."""
    return actual.split() == expected.split()


def isolation(unsafe_no_sandbox: bool = False, python: str | None = None) -> Isolation:
    """The barrier runs will use: ``bwrap``, or ``unsafe-no-sandbox`` if opted in and no wall.

    Raises `SandboxUnavailable` (saying how to install bubblewrap) when there is no wall and
    the caller did not opt in.
    """
    python = python or python_executable()
    if wall_available(python, Limits().tmp_mb << 20) is None:
        return "bwrap"
    if unsafe_no_sandbox:
        return UNSAFE
    wall(python, Limits().tmp_mb << 20)  # raises with the reason and the fix
    return "bwrap"


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


def _spawn(
    argv: list[str],
    stdio: tuple[IO[bytes], IO[bytes], IO[bytes]],
    keep: tuple[int, ...],
    cwd: str,
    env: dict[str, str],
    timeout_s: float,
    info_r: int | None,
) -> tuple[int, resource.struct_rusage, bool]:
    """Start ``argv`` in its own session, wait up to ``timeout_s``, leave nothing running.

    With ``info_r`` (bwrap's ``--info-fd``), the namespace's first process is also waited for:
    when it is gone the kernel has killed every process of the PID namespace.
    """
    try:
        proc = subprocess.Popen(argv, stdin=stdio[0], stdout=stdio[1], stderr=stdio[2], cwd=cwd,
                                env=env, start_new_session=True, close_fds=True, pass_fds=keep)
    except OSError as exc:
        if info_r is not None:
            os.close(keep[-1])
        raise SandboxError(f"Cannot start the sandbox: {exc}") from None
    first = -1
    if info_r is not None:
        os.close(keep[-1])  # our copy of the write end: EOF once bwrap closes its own
        first = _first_process(info_r, timeout_s)
    try:
        status, usage, timed_out = _wait(proc.pid, timeout_s)
    finally:
        _killpg(proc.pid)  # strays left in the group (outside a PID namespace)
        if first >= 0:
            _reap_namespace(first)
    return status, usage, timed_out


def _first_process(info_r: int, timeout_s: float) -> int:
    """A pidfd of the sandbox's first process, read from bwrap's info JSON (-1 if unknown)."""
    data = b""
    poller = select.poll()
    poller.register(info_r, select.POLLIN)
    deadline = time.monotonic() + timeout_s + 5
    while b"}" not in data and time.monotonic() < deadline:
        if not poller.poll(max(0.0, deadline - time.monotonic()) * 1000):
            break
        chunk = os.read(info_r, 4096)
        if not chunk:
            break
        data += chunk
    try:
        pid = int(json.loads(data.decode())["child-pid"])
        return os.pidfd_open(pid)
    except (ValueError, KeyError, TypeError, OSError):
        return -1


def _reap_namespace(pidfd: int) -> None:
    """Make sure the namespace's first process (and with it every process inside) is gone."""
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        if not poller.poll(2000):  # normally at once: --die-with-parent already killed it
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            poller.poll(10_000)
    finally:
        os.close(pidfd)


def run_program(
    code: str,
    stdin: str = "",
    expected: str | None = None,
    limits: Limits | None = None,
    python: str | None = None,
    guard: bool = True,
    unsafe_no_sandbox: bool = False,
) -> CaseResult:
    """Run ``code`` once in the sandbox with ``stdin``; judge against ``expected`` if given.

    ``guard=False`` leaves out the Python audit hook (for testing the kernel wall alone).
    ``unsafe_no_sandbox=True`` allows running without the wall when it is unavailable.
    """
    lim = limits or Limits()
    python = python or python_executable()
    how = isolation(unsafe_no_sandbox, python)
    io_dir = Path(tempfile.mkdtemp(prefix="monoscope-sbx-io-"))
    work = Path(tempfile.mkdtemp(prefix="monoscope-sbx-")) if how == UNSAFE else None
    try:
        (io_dir / "solution.py").write_text(code, encoding="utf-8")
        (io_dir / "stdin").write_text(stdin, encoding="utf-8")
        with (
            open(io_dir / "solution.py", "rb") as fsrc,
            open(io_dir / "peak", "wb") as fpeak,
            open(io_dir / "stdin", "rb") as fin,
            open(io_dir / "stdout", "wb") as fout,
            open(io_dir / "stderr", "wb") as ferr,
        ):
            cpu = math.ceil(lim.cpu_s if lim.cpu_s is not None else lim.timeout_s)
            args = boot_args(fsrc.fileno(), fpeak.fileno(), lim.memory_mb << 20, max(1, cpu),
                             lim.file_size_mb << 20, lim.max_processes, lim.open_files, guard,
                             str(work) if work else WORK_DIR)  # fmt: skip
            boot = ["-I", "-S", "-c", BOOTSTRAP, *args]
            keep = (fsrc.fileno(), fpeak.fileno())
            start = time.perf_counter()
            if how == UNSAFE:
                env = {**environment(), "HOME": str(work)}
                status, usage, timed_out = _spawn([python, *boot], (fin, fout, ferr), keep,
                                                  str(work), env, lim.timeout_s, None)
            else:
                info_r, info_w = os.pipe()
                try:
                    argv = [*wall(python, lim.tmp_mb << 20).prefix(info_w), *boot]
                    status, usage, timed_out = _spawn(argv, (fin, fout, ferr), (*keep, info_w),
                                                      "/", environment(), lim.timeout_s, info_r)
                finally:
                    os.close(info_r)
            rc = os.waitstatus_to_exitcode(status)
            if how != UNSAFE and 128 < rc < 128 + signal.NSIG:
                rc = 128 - rc  # bwrap reports a child killed by signal N as exit 128 + N
            wall_ms = (time.perf_counter() - start) * 1000.0
        cap = lim.output_kb * 1024
        out, out_cut = _read_capped(io_dir / "stdout", cap)
        err, _ = _read_capped(io_dir / "stderr", cap)
        peak_kb = _peak_kb(io_dir / "peak", usage)
        res = _judge(rc, timed_out, out, out_cut, err, expected, wall_ms, peak_kb)
        return res if how != UNSAFE else replace(res, isolation=UNSAFE)
    finally:
        if work is not None:
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
    on_case: Callable[[int, CaseResult], None] | None = None,
    unsafe_no_sandbox: bool = False,
) -> RunResult:
    """Run ``code`` against every test case, at most ``parallelism`` (≤ 2) sandboxes at once.

    Raises `SandboxUnavailable` without a kernel wall unless ``unsafe_no_sandbox`` is set.
    """
    workers = max(1, min(2, parallelism, len(tests) or 1))
    isolation(unsafe_no_sandbox)  # fail before the first case, with the fix

    def one(i: int) -> CaseResult:
        res = run_program(code, tests[i].input, tests[i].output, limits,
                          unsafe_no_sandbox=unsafe_no_sandbox)
        if on_case is not None:
            on_case(i, res)
        return res

    if workers == 1:
        return RunResult([one(i) for i in range(len(tests))])
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sandbox") as pool:
        return RunResult(list(pool.map(one, range(len(tests)))))
