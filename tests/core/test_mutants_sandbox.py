"""The sandbox's bootstrap and runner, checked on effects (written against surviving mutants).

Each test runs real programs. Tests marked "guard alone" take the kernel wall away (as on a
machine without bubblewrap, with the ``unsafe_no_sandbox`` opt-in): the audit guard and the
resource limits are then the only barrier, so a guard that stops checking something lets the
program really change a host file — and the test looks at that file.
"""

from __future__ import annotations

import os
import signal
import stat
import time
from pathlib import Path

import pytest

from monoscope.core.assets import python_executable
from monoscope.core.sandbox import (
    BLOCKED_EXIT,
    MEMORY_EXIT,
    CaseResult,
    Limits,
    RunResult,
    TestCase,
    run_program,
    run_tests,
)
from monoscope.core.sandbox import boot as sandbox_boot
from monoscope.core.sandbox import bwrap as sandbox_wall

LIMITS = Limits(timeout_s=20.0)


@pytest.fixture(scope="module", autouse=True)
def _wall_required() -> None:
    why = sandbox_wall.available(python_executable())
    assert why is None, f"the kernel sandbox must work here (setup installs bubblewrap): {why}"


@pytest.fixture
def no_wall(monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine without bubblewrap: only ``unsafe_no_sandbox=True`` runs anything."""
    monkeypatch.setattr(sandbox_wall, "_checked", lambda python, size: "bwrap is gone (test).")


def guard_alone(code: str, limits: Limits = LIMITS) -> CaseResult:
    res = run_program(code, limits=limits, unsafe_no_sandbox=True)
    assert res.isolation == "unsafe-no-sandbox"
    return res


def _attempts(calls: list[tuple[str, str]]) -> str:
    """Program source: run each call, print ``label: ok`` or ``label: <the exception>``."""
    lines = ["import os, shutil, sys", "def attempt(label, call):", "    try:",
             "        r = call()", "        print(f'{label}: ok')",
             "    except Exception as e:", "        print(f'{label}: {type(e).__name__}: {e}')"]
    lines += [f"attempt({label!r}, lambda: {call})" for label, call in calls]
    return "\n".join(lines) + "\n"


# -- the guard alone: files outside the work dir ------------------------------------------------

def test_guard_alone_refuses_every_change_outside_and_the_files_stay(
        no_wall: None, tmp_path: Path) -> None:
    keep = tmp_path / "keep.txt"
    keep.write_text("keep")
    os.utime(keep, (1_000_000, 1_000_000))
    empty = tmp_path / "empty"
    empty.mkdir()
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "leaf.txt").write_text("leaf")
    out = tmp_path / "out"
    out.mkdir()
    k, o = str(keep), str(out)
    calls = [
        ("remove", f"os.remove({k!r})"),
        ("unlink", f"os.unlink({k!r})"),
        ("rename", f"os.rename({k!r}, {k + '.moved'!r})"),
        ("rename-out", f"os.rename('inside.txt', {o + '/from-work.txt'!r})"),
        ("replace", f"os.replace({k!r}, 'stolen.txt')"),
        ("rmdir", f"os.rmdir({str(empty)!r})"),
        ("mkdir", f"os.mkdir({o + '/newdir'!r})"),
        ("chmod", f"os.chmod({k!r}, 0o777)"),
        ("chown", f"os.chown({k!r}, 65534, 65534)"),
        ("truncate", f"os.truncate({k!r}, 0)"),
        ("symlink", f"os.symlink({k!r}, 'link-to-keep')"),
        ("link", f"os.link({k!r}, {o + '/hard'!r})"),
        ("utime", f"os.utime({k!r}, (0, 0))"),
        ("rmtree", f"shutil.rmtree({str(tree)!r})"),
        ("copyfile", f"shutil.copyfile('inside.txt', {o + '/copy.txt'!r})"),
        ("move", f"shutil.move({k!r}, 'here.txt')"),
        ("chdir", f"os.chdir({o!r})"),
        ("open-w", f"open({k!r}, 'w')"),
        ("open-a", f"open({k!r}, 'a')"),
        ("open-r+", f"open({k!r}, 'r+')"),
        ("open-x", f"open({o + '/new.txt'!r}, 'x')"),
        ("os.open-wronly", f"os.open({k!r}, os.O_WRONLY)"),
        ("os.open-rdwr", f"os.open({k!r}, os.O_RDWR)"),
        ("os.open-creat", f"os.open({o + '/created.txt'!r}, os.O_RDONLY | os.O_CREAT)"),
        ("os.open-append", f"os.open({k!r}, os.O_RDONLY | os.O_APPEND)"),
        ("os.open-trunc", f"os.open({k!r}, os.O_RDONLY | os.O_TRUNC)"),
        ("bytes-path", f"os.remove({k.encode()!r})"),
        # allowed: reading outside, writing inside, /dev/null, an inherited fd, inside paths
        ("read", f"open({k!r}).read() == 'keep' or 1 / 0"),
        ("os.open-read", f"os.close(os.open({k!r}, os.O_RDONLY))"),
        ("inside", "open('inside2.txt', 'w').write('x') and os.rename('inside2.txt', 'i3')"),
        ("inside-dir", "os.mkdir('d') or os.rmdir(os.path.abspath('d'))"),
        ("devnull", "open('/dev/null', 'w').write('x')"),
        ("fd", "open(os.open('by-fd', os.O_WRONLY | os.O_CREAT), 'w').write('x')"),
        ("cwd", "os.chdir(os.getcwd())"),
    ]
    res = guard_alone("open('inside.txt', 'w').write('inside')\n" + _attempts(calls))
    assert res.status == "pass", res.stderr
    got = dict(line.split(": ", 1) for line in res.stdout.splitlines())
    ops = {"remove": "os.remove", "unlink": "os.remove", "rename": "os.rename",
           "rename-out": "os.rename", "replace": "os.rename", "rmdir": "os.rmdir",
           "mkdir": "os.mkdir", "chmod": "os.chmod", "chown": "os.chown",
           "truncate": "os.truncate", "symlink": "os.symlink", "link": "os.link",
           "utime": "os.utime", "rmtree": "shutil.rmtree", "copyfile": "shutil.copyfile",
           "move": "shutil.move", "chdir": "os.chdir", "bytes-path": "os.remove"}
    for label, event in ops.items():
        arg = {"rename-out": o + "/from-work.txt", "rmdir": str(empty), "mkdir": o + "/newdir",
               "rmtree": str(tree), "copyfile": o + "/copy.txt", "chdir": o,
               "bytes-path": keep.as_posix().encode()}.get(label, k)
        assert got[label] == f"PermissionError: sandbox: {event} on {arg!r} outside the work dir"
    for label, path in [("open-w", k), ("open-a", k), ("open-r+", k), ("open-x", o + "/new.txt"),
                        ("os.open-wronly", k), ("os.open-rdwr", k),
                        ("os.open-creat", o + "/created.txt"), ("os.open-append", k),
                        ("os.open-trunc", k)]:
        assert got[label] == f"PermissionError: sandbox: writing {path!r} outside the work dir"
    for label in ("read", "os.open-read", "inside", "inside-dir", "devnull", "fd", "cwd"):
        assert got[label] == "ok", label
    # the effects: nothing outside changed
    assert keep.read_text() == "keep"
    st = keep.stat()
    assert stat.S_IMODE(st.st_mode) == 0o644 and st.st_mtime == 1_000_000
    assert st.st_uid == os.getuid()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "keep.txt", "out", "tree"]
    assert (tree / "sub" / "leaf.txt").read_text() == "leaf" and empty.is_dir()
    assert list(out.iterdir()) == []


def test_guard_alone_deletes_and_renames_outside_fail(no_wall: None, tmp_path: Path) -> None:
    """The issue's case: a program without the kernel wall must not delete an outside file."""
    victim = tmp_path / "victim.txt"
    victim.write_text("original")
    res = guard_alone(f"import os\nos.remove({str(victim)!r})\n")
    assert res.status == "error" and res.returncode == BLOCKED_EXIT
    assert res.message == f"sandbox: os.remove on {str(victim)!r} outside the work dir"
    assert victim.read_text() == "original"
    res = guard_alone(f"import os\nos.rename({str(victim)!r}, 'mine.txt')\n")
    assert res.returncode == BLOCKED_EXIT and victim.read_text() == "original"


# -- the guard inside the wall: each denied event ----------------------------------------------

DENIED = [
    ("socket.__new__", "__import__('socket').socket()"),
    # sockets from _socket.socketpair() raise no socket.__new__: the calls are still refused
    ("socket.connect", "__import__('_socket').socketpair()[0].connect('\\0mono')"),
    ("socket.bind", "__import__('_socket').socketpair()[0].bind('\\0mono')"),
    ("socket.sendto", "__import__('_socket').socketpair()[0].sendto(b'x', '\\0mono')"),
    ("socket.getaddrinfo", "__import__('socket').getaddrinfo('localhost', 80)"),
    ("socket.gethostbyname", "__import__('socket').gethostbyname('localhost')"),
    ("os.system", "os.system('true')"),
    ("os.fork", "os.fork() or os._exit(0)"),
    ("os.forkpty", "os.forkpty()[0] or os._exit(0)"),
    ("os.posix_spawn", "os.posix_spawn('/bin/true', ['true'], {})"),
    ("os.kill", "os.kill(os.getpid(), 0)"),
    ("os.killpg", "os.killpg(os.getpgid(0), 0)"),
    ("subprocess.Popen", "__import__('subprocess').Popen(['true'])"),
    ("pty.spawn", "__import__('pty').spawn('true')"),
    ("ctypes.dlopen", "__import__('ctypes')"),
    # the C layer without `import ctypes` (no dlopen): reading memory and resolving symbols
    ("ctypes.cdata", "type('I', (__import__('_ctypes')._SimpleCData,), {'_type_': 'i'})"
                     ".from_address(id(0))"),
    ("ctypes.dlsym", "type('F', (__import__('_ctypes').CFuncPtr,), {'_flags_': 1})"
                     "(('getpid', type('D', (), {'_handle': 0})()))"),
    ("gc.get_objects", "__import__('gc').get_objects()"),
    ("gc.get_referrers", "__import__('gc').get_referrers(sys)"),
    ("gc.get_referents", "__import__('gc').get_referents(sys)"),
    ("sys.settrace", "sys.settrace(None)"),
    ("sys.setprofile", "sys.setprofile(None)"),
    # a refused hook is dropped silently (CPython swallows Exception subclasses here)
    ("sys.addaudithook", "sys.addaudithook(lambda e, a: e == 'mono' and print('HOOKED')) or "
                         "sys.audit('mono')"),
    ("os.exec", "os.execv('/bin/true', ['true'])"),  # last: if it ran, nothing would follow
]


def test_guard_refuses_each_denied_event_by_name() -> None:
    res = run_program(_attempts(DENIED) + "print('end: ok')\n", limits=LIMITS)
    assert res.status == "pass", res.stderr
    want = [f"{ev}: PermissionError: sandbox: {ev} is not allowed (no network, no processes)"
            for ev, _ in DENIED] + ["end: ok"]
    want[-3] = "sys.addaudithook: ok"  # ... and its hook never ran: no HOOKED line
    assert res.stdout.splitlines() == want


def test_guard_refuses_ctypes() -> None:
    """The issue's case: ``import ctypes`` (its dlopen) stops the program with the guard's code."""
    res = run_program("import ctypes\nprint(ctypes.CDLL(None).getpid())\n", limits=LIMITS)
    assert res.status == "error" and res.returncode == BLOCKED_EXIT and res.stdout == ""
    assert res.message == "sandbox: ctypes.dlopen is not allowed (no network, no processes)"
    assert res.stderr.splitlines() == [res.message]  # no traceback: the bootstrap's own report
    assert res.peak_kb > 1000  # the bootstrap reported the child's peak before leaving


def test_a_programs_own_permission_error_is_its_own() -> None:
    res = run_program("raise PermissionError('not the sandbox')\n", limits=LIMITS)
    assert res.status == "error" and res.returncode == 1
    assert res.message == "PermissionError: not the sandbox"
    assert 'File "solution.py", line 1, in <module>' in res.stderr


# -- resource limits ------------------------------------------------------------------------------

def _limits_of_child(res: CaseResult) -> dict[str, tuple[str, str]]:
    out = {}
    for line in res.stdout.splitlines()[1:]:
        name, soft, hard = line[:26].strip(), *line[26:].split()[:2]
        out[name] = (soft, hard)
    return out


def test_the_child_runs_under_exactly_the_requested_limits() -> None:
    lim = Limits(timeout_s=20.0, cpu_s=7, memory_mb=300, file_size_mb=3, max_processes=9,
                 open_files=33)
    res = run_program("print(open('/proc/self/limits').read(), end='')\n", limits=lim)
    assert res.status == "pass", res.stderr
    got = _limits_of_child(res)
    assert got["Max cpu time"] == ("7", "8")
    assert got["Max address space"] == (str(300 << 20),) * 2
    assert got["Max file size"] == (str(3 << 20),) * 2
    assert got["Max core file size"] == ("0", "0")
    assert got["Max processes"] == ("9", "9")
    assert got["Max open files"] == ("33", "33")


def test_the_cpu_limit_defaults_to_the_wall_timeout_rounded_up() -> None:
    res = run_program("print(open('/proc/self/limits').read(), end='')\n",
                      limits=Limits(timeout_s=2.2))
    assert _limits_of_child(res)["Max cpu time"] == ("3", "4")


@pytest.mark.parametrize("mode", ["bwrap", "guard alone"])
def test_a_64_mb_write_under_a_16_mb_limit_fails(mode: str, request: pytest.FixtureRequest
                                                   ) -> None:
    """The issue's case: the file-size limit holds (a private /tmp of 128 MB would take 64)."""
    if mode != "bwrap":
        request.getfixturevalue("no_wall")
    code = (
        "import os\nchunk = b'x' * (1 << 20)\n"
        "try:\n"
        "    with open('big', 'wb') as f:\n"
        "        for _ in range(64):\n            f.write(chunk)\n"
        "except OSError as e:\n    print('refused', e.strerror)\n"
        "print('size', os.path.getsize('big'))\n"
    )
    res = run_program(code, limits=Limits(timeout_s=30.0, file_size_mb=16, tmp_mb=128),
                      unsafe_no_sandbox=mode != "bwrap")
    assert res.status == "pass", res.stderr
    assert res.stdout.splitlines() == ["refused File too large", f"size {16 << 20}"]


def test_a_memory_error_exits_with_the_memory_code() -> None:
    res = run_program("b = bytearray(10 * 1024 ** 3)\n", limits=Limits(memory_mb=256))
    assert res.status == "memory" and res.returncode == MEMORY_EXIT
    assert res.stderr.splitlines()[-1] == (
        "MemoryError: the program exceeded the sandbox memory limit")
    assert res.peak_kb > 1000


# -- the program's own world -----------------------------------------------------------------

def test_the_program_is_main_with_its_own_name_argv_and_builtins() -> None:
    code = (
        "import sys, __main__\n"
        "print(__name__, sys.argv, sys.modules['__main__'] is __main__)\n"
        "print(__main__.__dict__ is globals(), len([1, 2]))\n"
        "if __name__ == '__main__':\n    print('main ran')\n"
    )
    res = run_program(code, limits=LIMITS)
    assert res.status == "pass", res.stderr
    assert res.stdout.splitlines() == ["__main__ ['solution.py'] True", "True 2", "main ran"]


def test_a_long_program_arrives_whole() -> None:
    """More than one 64 KiB read of the source: the chunks are joined with nothing between."""
    code = f"s = {'ab' * 50_000!r}\nprint(len(s), s.count('ab'), set(s))\n"
    res = run_program(code, limits=LIMITS)
    assert res.status == "pass", res.stderr
    assert res.stdout.split(" ", 2)[:2] == ["100000", "50000"]
    assert res.stdout.split(" ", 2)[2].strip() in ("{'a', 'b'}", "{'b', 'a'}")


def test_non_ascii_source_and_output() -> None:
    res = run_program("print('naïve ✓', input())\n", "café", expected="naïve ✓ café",
                      limits=LIMITS)
    assert res.status == "pass" and res.stdout == "naïve ✓ café\n"


# -- the runner's verdicts ---------------------------------------------------------------------

def test_signal_deaths_and_exit_codes_are_reported_as_they_happened() -> None:
    res = run_program("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n", guard=False,
                      limits=LIMITS)
    assert res.status == "error" and res.returncode == -signal.SIGSEGV
    assert res.message == f"killed by signal {int(signal.SIGSEGV)}"
    res = run_program("import sys\nprint('partial')\nsys.exit(5)\n", limits=LIMITS)
    assert (res.status, res.returncode, res.stdout, res.message) == ("error", 5, "partial\n", "")
    res = run_program("import sys\nsys.stderr.write('first\\nlast words\\n')\nsys.exit(2)\n",
                      limits=LIMITS)
    assert res.message == "last words"


def test_wrong_answer_and_unjudged_runs() -> None:
    res = run_program("print(1)\n", expected="2", limits=LIMITS)
    assert (res.status, res.passed, res.message) == ("fail", False, "wrong answer")
    res = run_program("print(1)\n", limits=LIMITS)
    assert (res.status, res.passed, res.message, res.returncode) == ("pass", True, "", 0)
    assert res.wall_ms > 0 and res.isolation == "bwrap"


def test_run_summary_orders_failures_by_severity() -> None:
    def case(status: str) -> CaseResult:
        return CaseResult(status=status, passed=status == "pass", wall_ms=float(len(status)),  # type: ignore[arg-type]
                          peak_kb=len(status) * 10, returncode=0, stdout="", stderr="")

    assert RunResult([]).status == "error" and RunResult([]).share_passed == 0.0
    assert RunResult([]).wall_ms == 0.0 and RunResult([]).peak_kb == 0
    both = RunResult([case("pass"), case("fail"), case("memory"), case("error")])
    assert both.status == "memory" and both.share_passed == 0.25
    assert both.wall_ms == 6.0 and both.peak_kb == 60
    assert RunResult([case("fail"), case("timeout")]).status == "timeout"
    assert RunResult([case("fail"), case("error")]).status == "error"
    assert RunResult([case("pass"), case("fail")]).status == "fail"
    assert RunResult([case("pass")]).status == "pass" and RunResult([case("pass")]).isolation == "bwrap"


def test_run_tests_reports_each_case_as_it_finishes() -> None:
    seen: list[tuple[int, str]] = []
    res = run_tests("print(int(input()) + 1)\n", [TestCase("1", "2"), TestCase("5", "7")],
                    limits=LIMITS, parallelism=1, on_case=lambda i, r: seen.append((i, r.status)))
    assert seen == [(0, "pass"), (1, "fail")]
    assert res.share_passed == 0.5 and res.status == "fail"


def test_the_bootstrap_arguments_are_in_its_reading_order() -> None:
    args = sandbox_boot.boot_args(3, 4, 5 << 20, 6, 7 << 20, 8, 9, True, "/tmp")
    assert args == ["3", "4", str(5 << 20), "6", str(7 << 20), "8", "9", "1", "/tmp"]
    assert sandbox_boot.boot_args(1, 2, 3, 4, 5, 6, 7, False, "/w")[7] == "0"


def test_default_limits_reach_the_child() -> None:
    code = (
        "import os\nprint(open('/proc/self/limits').read(), end='')\n"
        "st = os.statvfs('.')\nprint('TMP', st.f_blocks * st.f_frsize)\n"
    )
    res = run_program(code)
    assert res.status == "pass", res.stderr
    lines = res.stdout.splitlines()
    got = _limits_of_child(CaseResult("pass", True, 0.0, 0, 0, "\n".join(lines[:-1]), ""))
    assert got["Max cpu time"] == ("5", "6")  # the 5 s wall timeout
    assert got["Max address space"] == (str(512 << 20),) * 2
    assert got["Max file size"] == (str(16 << 20),) * 2
    assert got["Max processes"] == ("16", "16") and got["Max open files"] == ("64", "64")
    assert lines[-1] == f"TMP {64 << 20}"  # the private /tmp's size


@pytest.mark.parametrize("extra, cut", [(0, False), (1, True)])
def test_output_cap_boundary(extra: int, cut: bool) -> None:
    res = run_program(f"import sys\nsys.stdout.write('x' * {1024 + extra})\n",
                      limits=Limits(timeout_s=20.0, output_kb=1))
    assert len(res.stdout) == 1024
    if cut:
        assert (res.status, res.message) == ("error", "output larger than the sandbox cap")
    else:
        assert res.status == "pass"


@pytest.mark.parametrize("code, status", [(128, "error"), (193, "error"), (0, "pass")])
def test_plain_exit_codes_around_the_signal_range(code: int, status: str) -> None:
    """bwrap reports a child killed by signal N as 128 + N (1 <= N < NSIG); other codes stay."""
    res = run_program(f"import sys\nsys.exit({code})\n", limits=LIMITS)
    assert (res.status, res.returncode) == (status, code)


def test_killed_by_a_signal_with_last_words_and_sigkill_as_timeout() -> None:
    res = run_program("import os, sys\nsys.stderr.write('bye\\n'); sys.stderr.flush()\n"
                      "os.kill(os.getpid(), 11)\n", guard=False, limits=LIMITS)
    assert (res.returncode, res.message) == (-11, "killed by signal 11 bye")
    res = run_program("import os\nos.kill(os.getpid(), 9)\n", guard=False, limits=LIMITS)
    assert (res.status, res.returncode) == ("timeout", -9)  # the hard CPU limit's signal
    assert res.message == "time limit exceeded (wall or CPU)"
    res = run_program("while True:\n    pass\n", limits=Limits(timeout_s=1.0))
    assert res.status == "timeout" and res.peak_kb > 1000  # killed before reporting: rusage


@pytest.mark.parametrize("tail, status", [("", "memory"), ("x" * 2000, "error")])
def test_a_memory_error_is_recognised_in_the_last_2000_characters(tail: str, status: str
                                                                   ) -> None:
    res = run_program(f"import sys\nsys.stderr.write('MemoryError' + {tail!r})\nsys.exit(1)\n",
                      limits=LIMITS)
    assert (res.status, res.returncode) == (status, 1)


def test_nothing_is_left_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                request: pytest.FixtureRequest) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    res = run_program("open('x', 'w').write('y')\nprint('ok')\n", limits=LIMITS)
    assert res.stdout == "ok\n" and list(tmp_path.iterdir()) == []  # the i/o folder is gone
    request.getfixturevalue("no_wall")
    res = guard_alone("import os\nopen('x', 'w').write('y')\n"
                      "print(os.environ['HOME'] == os.getcwd(), sorted(os.environ))\n")
    assert res.stdout.split(" ", 1)[0] == "True"  # HOME is the private work dir ...
    assert res.stdout.split(" ", 1)[1].strip() == "['HOME', 'LC_ALL', 'PATH']"
    assert list(tmp_path.iterdir()) == []  # ... and it is removed with the i/o folder


def test_guard_alone_kills_the_programs_strays(no_wall: None) -> None:
    """Without the PID namespace the program's process group is killed when it ends."""
    token = f"monoscope-stray-{os.getpid()}-{id(object())}"
    res = run_program(
        "import os, time\n"
        f"if os.fork() == 0:\n    os.execv('/bin/sleep', ['{token}', '30'])\n"
        "time.sleep(0.2)\nprint('parent done')\n",
        guard=False, unsafe_no_sandbox=True, limits=LIMITS)
    assert res.stdout == "parent done\n"

    def alive() -> list[str]:
        found = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(token.encode()):
                    found.append(pid)
            except OSError:
                pass
        return found

    deadline = time.monotonic() + 10  # SIGKILLed: gone within moments, not after its 30 s
    while alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert alive() == []


def test_run_tests_runs_at_most_two_sandboxes_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from monoscope.core import sandbox

    real = sandbox.run_program
    lock = threading.Lock()
    live, peak, threads = [0], [0], set()

    def counting(*args: object, **kwargs: object) -> CaseResult:
        with lock:
            live[0] += 1
            peak[0] = max(peak[0], live[0])
            threads.add(threading.current_thread().name)
        try:
            return real(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            with lock:
                live[0] -= 1

    monkeypatch.setattr(sandbox, "run_program", counting)
    code = "import time\ntime.sleep(0.4)\nprint(input())\n"
    cases = [TestCase(str(i), str(i)) for i in range(6)]
    for parallelism, want in [(8, 2), (None, 2), (1, 1)]:
        peak[0] = 0
        threads.clear()
        kw = {} if parallelism is None else {"parallelism": parallelism}
        res = run_tests(code, cases, limits=LIMITS, **kw)  # type: ignore[arg-type]
        assert res.status == "pass" and [c.stdout for c in res.cases] == [
            f"{i}\n" for i in range(6)]
        assert peak[0] == want, parallelism
        if want == 1:
            assert threads == {threading.current_thread().name}  # no pool for one at a time
        else:
            assert all(t.startswith("sandbox_") for t in threads), threads
    peak[0] = 0
    threads.clear()
    one = run_tests(code, cases[:1], limits=LIMITS, parallelism=2)
    assert one.status == "pass" and peak[0] == 1
    assert threads == {threading.current_thread().name}  # one case: no pool
    assert run_tests(code, [], limits=LIMITS).cases == []
    # the limits reach every case
    cut = run_tests("print('x' * 2000)\n", cases[:2], limits=Limits(timeout_s=20.0, output_kb=1))
    assert [c.message for c in cut.cases] == ["output larger than the sandbox cap"] * 2
