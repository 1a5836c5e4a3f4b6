"""The sandbox runs real child interpreters: limits, timeouts, no network, throw-away dirs."""

from __future__ import annotations

import os
import resource
import signal
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from monoscope.core import sandbox
from monoscope.core.sandbox import (
    Limits,
    SandboxUnavailable,
    TestCase,
    outputs_match,
    run_program,
    run_tests,
)
from monoscope.core.sandbox import bwrap as sandbox_wall

DOUBLE = "n = int(input())\nprint(n * 2)\n"


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP server on the host's loopback, in the test's own network namespace: a program
    that got out of the sandbox's namespace would reach it."""
    with socket.create_server(("127.0.0.1", 0)) as srv:
        srv.setblocking(False)
        yield srv


def connect(srv: socket.socket) -> str:
    port = srv.getsockname()[1]
    return (f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=3)\n"
            "s.sendall(b'hello')\nprint('connected')\n")


def accepted_nothing(srv: socket.socket) -> bool:
    try:
        conn, _ = srv.accept()
    except BlockingIOError:
        return True
    conn.close()
    return False


def test_outputs_compare_ignoring_whitespace() -> None:
    assert outputs_match("1 2\n3\n", "1  2 3")
    assert outputs_match("", "\n")
    assert not outputs_match("1 2", "12")


def test_correct_and_wrong_answers() -> None:
    res = run_tests(DOUBLE, [TestCase("21\n", "42"), TestCase("5", "10\n"), TestCase("1", "3")])
    assert [c.status for c in res.cases] == ["pass", "pass", "fail"]
    assert res.share_passed == pytest.approx(2 / 3)
    assert res.status == "fail"
    assert all(c.wall_ms > 0 and c.peak_kb > 1000 for c in res.cases)


def test_infinite_loop_is_stopped_by_timeout() -> None:
    res = run_program("while True:\n    pass\n", limits=Limits(timeout_s=1.0))
    assert res.status == "timeout"
    assert not res.passed
    # killed by a limit (the wall's SIGKILL or the CPU limit's SIGXCPU), not ended by itself
    assert res.returncode in (-signal.SIGKILL, -signal.SIGXCPU)


def test_wall_timeout_kills_a_sleeping_program() -> None:
    """No CPU used, so only the wall clock can stop it: the parent kills the sandbox."""
    code = "import time\nprint('started', flush=True)\ntime.sleep(3600)\nprint('woke')\n"
    res = run_program(code, limits=Limits(timeout_s=1.0))
    assert res.status == "timeout" and res.returncode == -signal.SIGKILL
    assert res.stdout == "started\n"  # it ran, and never reached the end


def test_cpu_limit_stops_busy_child_even_with_long_wall_timeout() -> None:
    code = ("print('started', flush=True)\n"
            "for i in range(10 ** 12):\n    pass\nprint('finished')\n")
    res = run_program(code, limits=Limits(timeout_s=300.0, cpu_s=1))
    assert res.status == "timeout"
    # SIGXCPU is the CPU limit's signal: the wall's kill would be SIGKILL
    assert res.returncode == -signal.SIGXCPU
    assert res.stdout == "started\n"  # the loop did not finish


def test_ten_gigabyte_allocation_is_a_memory_error() -> None:
    res = run_program(
        "b = bytearray(10 * 1024 ** 3)\nprint(len(b))\n", limits=Limits(memory_mb=256)
    )
    assert res.status == "memory"
    assert res.stdout == ""
    # The app process keeps its own (unlimited) address space.
    assert resource.getrlimit(resource.RLIMIT_AS)[0] == resource.RLIM_INFINITY


def test_network_attempt_fails_and_is_reported_default(listener: socket.socket) -> None:
    res = run_program(connect(listener))
    assert res.status == "error"
    assert "connected" not in res.stdout
    assert "socket" in res.message and "not allowed" in res.message
    assert accepted_nothing(listener)


def test_network_namespace_alone_blocks_connections(listener: socket.socket) -> None:
    """Without the guard, the program's own loopback is the sandbox's: nobody listens there,
    and the host's server accepts nothing."""
    res = run_program(connect(listener), guard=False)
    assert res.status == "error"
    assert "connected" not in res.stdout
    assert "ConnectionRefusedError" in res.stderr
    assert accepted_nothing(listener)


def test_the_listener_is_reachable_from_outside_the_sandbox(listener: socket.socket) -> None:
    """The control: the same client, run by this process, does reach the listener."""
    port = listener.getsockname()[1]
    with socket.create_connection(("127.0.0.1", port), timeout=3):
        pass
    assert not accepted_nothing(listener)


def test_subprocesses_are_refused() -> None:
    marker = Path(tempfile.gettempdir()) / f"monoscope-sbx-marker-{os.getpid()}"
    res = run_program(f"import os\nos.system('touch {marker}')\n")
    assert res.status == "error"
    assert not marker.exists()


def test_writes_land_in_a_private_tmp() -> None:
    outside = Path(tempfile.gettempdir()) / f"monoscope-sbx-outside-{os.getpid()}.txt"
    code = (
        "import os\n"
        "open('inside.txt', 'w').write('ok')\n"
        "print(os.getcwd(), os.listdir('.'))\n"
        f"open({str(outside)!r}, 'w').write('private')\n"
        "open('/usr/escaped.txt', 'w').write('escaped')\n"
    )
    res = run_program(code)
    assert res.status == "error"
    assert "outside the work dir" in res.message  # the guard refused /usr first
    assert res.stdout.strip() == "/tmp ['inside.txt']"  # a fresh, empty, private /tmp
    assert not outside.exists()  # the sandbox's /tmp is not the host's
    bare = run_program(code, guard=False)
    assert "Read-only file system" in bare.message  # the wall refuses it too
    assert not Path("/usr/escaped.txt").exists()


def test_output_is_capped() -> None:
    res = run_program("print('x' * 10 ** 6)\n", limits=Limits(output_kb=64))
    assert res.status == "error"
    assert len(res.stdout) <= 64 * 1024


def test_app_process_is_unaffected() -> None:
    cwd, env_keys = os.getcwd(), set(os.environ)
    kinds = (resource.RLIMIT_CPU, resource.RLIMIT_AS, resource.RLIMIT_FSIZE,
             resource.RLIMIT_NPROC, resource.RLIMIT_NOFILE, resource.RLIMIT_CORE)
    before = [resource.getrlimit(k) for k in kinds]  # (a test harness may set some itself)
    res = run_program("import sys\nsys.exit(3)\n")
    assert res.status == "error" and res.returncode == 3
    assert os.getcwd() == cwd and set(os.environ) == env_keys
    with socket.socket() as s:  # the parent may still create sockets
        assert s.fileno() >= 0
    assert [resource.getrlimit(k) for k in kinds] == before  # the child's limits stay its own


def test_parallel_cases_keep_their_order() -> None:
    tests = [TestCase(str(i), str(2 * i)) for i in range(6)]
    res = run_tests(DOUBLE, tests, parallelism=8)
    assert res.status == "pass" and res.share_passed == 1.0
    assert [c.stdout.strip() for c in res.cases] == [str(2 * i) for i in range(6)]


def test_peak_memory_is_the_child_own_not_the_forked_app() -> None:
    ballast = bytearray(300 * 1024 * 1024)  # make this (parent) process large
    ballast[::4096] = b"x" * len(ballast[::4096])  # touch the pages so they are resident
    small = run_program("print(1)\n")
    big = run_program("b = bytearray(100 * 1024 * 1024)\nb[::4096] = b'x' * len(b[::4096])\n")
    del ballast
    assert small.status == "pass" and big.status == "pass"
    assert small.peak_kb < 100_000  # a bare interpreter, not the 300 MB parent
    assert big.peak_kb > small.peak_kb + 90_000  # the child's own 100 MB show up


def test_without_the_wall_nothing_runs_unless_opted_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox_wall, "_checked", lambda python, size: "bwrap is gone.")
    with pytest.raises(SandboxUnavailable) as err:
        run_tests(DOUBLE, [TestCase("2", "4")])
    msg = str(err.value)
    assert "bwrap is gone." in msg and "apt-get install bubblewrap" in msg
    assert "--unsafe-no-sandbox" in msg
    with pytest.raises(SandboxUnavailable):
        run_program(DOUBLE, "2")
    res = run_tests(DOUBLE, [TestCase("2", "4")], unsafe_no_sandbox=True)
    assert res.status == "pass"
    assert res.isolation == "unsafe-no-sandbox" == res.cases[0].isolation
    assert sandbox.isolation(unsafe_no_sandbox=True) == "unsafe-no-sandbox"


def test_the_wall_is_used_even_when_unsafe_is_allowed() -> None:
    res = run_tests(DOUBLE, [TestCase("2", "4")], unsafe_no_sandbox=True)
    assert res.status == "pass" and res.isolation == "bwrap"
