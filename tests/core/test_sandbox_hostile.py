"""Hostile programs against the real sandbox: each test asserts the side effect did NOT happen.

These run through bubblewrap. Set-up (`packaging/setup.sh`) installs it, so without a working
wall these tests fail — they are never skipped. Most run with the audit guard switched off
(``guard=False``): the kernel wall alone must hold.
"""

from __future__ import annotations

import os
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from monoscope.core import sandbox
from monoscope.core.assets import python_executable
from monoscope.core.sandbox import CaseResult, Limits, run_program
from monoscope.core.sandbox import bwrap as sandbox_wall

LIMITS = Limits(timeout_s=10.0)


@pytest.fixture(scope="module", autouse=True)
def _wall_required() -> None:
    why = sandbox_wall.available(python_executable())
    assert why is None, f"the kernel sandbox must work here (setup installs bubblewrap): {why}"


def hostile(code: str, guard: bool = False, limits: Limits = LIMITS) -> CaseResult:
    return run_program(code, limits=limits, guard=guard)


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    """A host path the program tries to create (its parent exists on the host)."""
    return tmp_path / "escaped.txt"


@pytest.fixture
def victim() -> Iterator[Path]:
    """A host file the program CAN see (inside the interpreter's read-only prefix)."""
    binds = sandbox_wall.interpreter(python_executable()).binds
    spots = [Path(b) for b in binds] + [Path("/usr/local/share")]
    spot = next((p for p in spots if os.access(p, os.W_OK)), None)
    if spot is None:
        pytest.skip("no writable spot visible in the sandbox to plant a victim file (not root)")
    path = spot / f"monoscope-sbx-victim-{uuid.uuid4().hex}"
    path.write_text("original")
    yield path
    for p in (path, Path(str(path) + ".moved")):
        p.unlink(missing_ok=True)


def _write(path: Path, text: str = "pwned") -> str:
    """Python source that creates ``path`` (and its parents) — succeeding only inside."""
    return (
        f"try:\n    os.makedirs({str(path.parent)!r}, exist_ok=True)\n"
        f"    open({str(path)!r}, 'w').write({text!r})\n"
        f"    print('wrote', {str(path)!r})\n"
        "except OSError as e:\n    print('refused', e)\n"
    )


def test_runs_as_nobody_without_capabilities_in_its_own_namespaces() -> None:
    res = hostile(
        "import os, socket\n"
        "st = dict(l.split(':', 1) for l in open('/proc/self/status'))\n"
        "print(os.getuid(), os.geteuid(), os.getgid(), os.getgroups())\n"
        "print(st['CapEff'].strip(), st['CapBnd'].strip(), st['NoNewPrivs'].strip())\n"
        "print(sorted(os.listdir('/')))\n"
        "print(len([p for p in os.listdir('/proc') if p.isdigit()]), os.listdir('/etc'))\n"
        "print(socket.if_nameindex())\n"
    )
    assert res.status == "pass", res.stderr
    ids, caps, root, procs, nics = res.stdout.splitlines()
    assert ids == "65534 65534 65534 []"
    assert caps == "0000000000000000 0000000000000000 1"
    assert "home" not in root and "mnt" not in root and "work" not in root
    assert procs in ("2 ['ld.so.cache']", "3 ['ld.so.cache']")  # only the sandbox's own PIDs
    assert nics == "[(1, 'lo')]"  # a fresh network namespace: loopback only


def test_clearing_the_old_guard_globals_then_a_subprocess_changes_nothing(marker: Path) -> None:
    code = (
        "import __main__, subprocess\n"
        "try:\n    __main__.DENY.clear(); __main__.PATHS.clear()\n"
        "except AttributeError as e:\n    print('no guard globals:', e)\n"
        f"subprocess.run(['sh', '-c', 'mkdir -p {marker.parent} && id > {marker}'])\n"
    )
    guarded = hostile(code, guard=True)
    assert "no guard globals" in guarded.stdout
    assert guarded.status == "error", guarded.stderr
    assert "subprocess.Popen is not allowed" in guarded.message
    bare = hostile(code)  # without the guard the subprocess runs — inside the wall
    assert bare.status == "pass", bare.stderr
    assert not marker.exists()


def test_guard_state_cannot_be_reached_from_the_program() -> None:
    res = hostile(
        "import sys\n"
        "import __main__\n"
        "print(sorted(k for k in vars(__main__) if not k.startswith('__')))\n"
        "f = sys._getframe(0)\n"
        "while f.f_back:\n    f = f.f_back\n"
        "print(sorted(k for k in f.f_globals if not k.startswith('__')), sorted(f.f_locals))\n"
        "tries = ['import gc; gc.get_objects()', 'import gc; gc.get_referrers(sys)',\n"
        "         'sys.settrace(lambda *a: None)']\n"
        "for t in tries:\n"
        "    try:\n        exec(t); print('ran', t)\n"
        "    except PermissionError:\n        print('blocked')\n"
        "import socket\nsocket.socket()\n",
        guard=True,
    )
    mine, frame, *rest = res.stdout.splitlines()
    assert mine == "['sys']"  # a fresh __main__: only its own import, no DENY/PATHS/hook
    assert "hook" not in frame and "deny" not in frame.lower() and "make_hook" not in frame
    assert rest == ["blocked"] * 3
    assert res.status == "error" and "socket.__new__ is not allowed" in res.message


def test_posixsubprocess_fork_exec_runs_only_inside_as_nobody(marker: Path) -> None:
    cmd = f"echo ran $(id -u); mkdir -p {marker.parent} && id > {marker}"
    res = hostile(
        "import _posixsubprocess, os\n"
        "r, w = os.pipe()\n"
        f"pid = _posixsubprocess.fork_exec([b'/bin/sh', b'-c', {cmd.encode()!r}], [b'/bin/sh'],"
        " True, (w,), None, None, -1, -1, -1, -1, -1, -1, r, w, True, False, -1, None, None,"
        " None, -1, None, False)\n"
        "os.close(w); os.read(r, 100); os.waitpid(pid, 0)\n",
        guard=True,  # fork_exec raises no audit event: only the wall stops it
    )
    assert "ran 65534" in res.stdout  # it ran, unprivileged
    assert not marker.exists()


def test_dir_fd_writes_do_not_leave_the_sandbox(marker: Path, victim: Path) -> None:
    rel = str(marker).lstrip("/")
    res = hostile(
        "import os\n"
        "root = os.open('/', os.O_RDONLY)\n"
        f"os.makedirs({str(marker.parent)!r}, exist_ok=True)\n"
        f"fd = os.open({rel!r}, os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=root)\n"
        "os.write(fd, b'pwned'); os.close(fd)\n"
        f"d = os.open({str(victim.parent)!r}, os.O_RDONLY)\n"
        "for name, flags in [('" + victim.name + "', os.O_WRONLY | os.O_TRUNC),\n"
        "                    ('new-file', os.O_CREAT | os.O_WRONLY)]:\n"
        "    try:\n        os.write(os.open(name, flags, dir_fd=d), b'pwned')\n"
        "    except OSError as e:\n        print('refused', e.strerror)\n"
    )
    assert res.stdout.count("Read-only file system") == 2, res.stdout + res.stderr
    assert not marker.exists()
    assert victim.read_text() == "original" and not (victim.parent / "new-file").exists()


def test_fork_bomb_is_bounded_by_the_process_limit() -> None:
    res = hostile(
        "import os, time\n"
        "n = 0\n"
        "for i in range(500):\n"
        "    try:\n        pid = os.fork()\n    except OSError:\n        continue\n"
        "    if pid == 0:\n        time.sleep(60); os._exit(0)\n"
        "    n += 1\n"
        "print(n)\n",
        limits=Limits(timeout_s=10.0, max_processes=16),
    )
    assert res.status == "pass", res.stderr
    assert int(res.stdout) < 16  # 500 tried; the sandbox's first processes count too


def _processes_with(token: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if token.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(int(pid))
        except OSError:
            pass
    return found


@pytest.mark.parametrize("parent", ["exits", "loops"])
def test_setsid_child_dies_with_the_sandbox(parent: str, marker: Path) -> None:
    token = f"monoscope-sbx-{uuid.uuid4().hex}"
    later = f"sleep 1.5; mkdir -p {marker.parent}; echo pwned > {marker}; sleep 30"
    code = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        f"    os.execv('/bin/sh', ['{token}', '-c', {later!r}])\n"
        "time.sleep(0.3)\n"
        "print('parent done')\n" + ("while True:\n    pass\n" if parent == "loops" else "")
    )
    res = hostile(code, limits=Limits(timeout_s=1.0))
    assert res.status == ("timeout" if parent == "loops" else "pass"), res.stderr
    assert _processes_with(token) == []  # the whole PID namespace is gone
    time.sleep(2.0)  # past the moment the child would have written
    assert not marker.exists()
    assert _processes_with(token) == []


def test_secrets_outside_cannot_be_read(tmp_path: Path) -> None:
    secret = f"secret-{uuid.uuid4().hex}"
    study = tmp_path / "study.duckdb"
    study.write_text(secret)
    home_file = Path.home() / f".monoscope-sbx-secret-{uuid.uuid4().hex}"
    home_file.write_text(secret)
    me = os.getpid()
    try:
        paths = [
            "/etc/shadow", "/etc/passwd", str(study), str(home_file),
            f"/proc/1/root{study}", f"/proc/self/root{home_file}", f"/proc/{me}/root{study}",
            f"/proc/{me}/environ", f"/proc/{me}/cmdline", f"/proc/{os.getppid()}/environ",
        ]  # fmt: skip
        res = hostile(
            "import os\n"
            f"for i, p in enumerate({paths!r}):\n"
            "    try:\n        print(i, open(p, errors='replace').read()[:200])\n"
            "    except OSError as e:\n        print(i, 'refused', e.strerror)\n"
            f"for i, d in enumerate(['/root', '/home', {str(tmp_path)!r}, {str(Path.home())!r}]):\n"
            "    try:\n        print(i, os.listdir(d))\n"
            "    except OSError as e:\n        print(i, 'refused', e.strerror)\n"
        )
    finally:
        home_file.unlink()
    assert res.status == "pass", res.stderr
    assert secret not in res.stdout
    assert home_file.name not in res.stdout and "study.duckdb" not in res.stdout
    assert "root:" not in res.stdout  # neither /etc/shadow nor /etc/passwd
    assert "PYTEST_CURRENT_TEST" not in res.stdout  # nothing of this process's environment


def test_posix_spawn_and_execv_stay_inside(marker: Path, victim: Path) -> None:
    second = marker.with_name("second.txt")
    sh = f"mkdir -p {marker.parent}; echo pwned > {marker}; echo pwned > {victim}; echo ran"
    res = hostile(
        "import os\n"
        f"pid = os.posix_spawn('/bin/sh', ['sh', '-c', {sh!r}], {{}})\n"
        "os.waitpid(pid, 0)\n"
        f"os.execv('/bin/sh', ['sh', '-c', 'echo pwned > {second}; echo execed'])\n"
    )
    assert "ran" in res.stdout and "execed" in res.stdout  # both ran, inside
    assert not marker.exists() and not second.exists()
    assert victim.read_text() == "original"


def test_ctypes_calls_into_libc_stay_inside(marker: Path, victim: Path) -> None:
    res = hostile(
        "import ctypes, os\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        f"print('system', libc.system({f'mkdir -p {marker.parent}; id > {marker}'.encode()!r}))\n"
        f"print('unlink', libc.unlink({str(victim).encode()!r}))\n"
        f"print('rename', libc.rename({str(victim).encode()!r}, b'/tmp/x'))\n"
        f"fd = libc.open({str(victim).encode()!r}, os.O_WRONLY | os.O_TRUNC)\n"
        "print('open', fd, libc.write(fd, b'pwned', 5) if fd >= 0 else None)\n"
        "print('setuid', libc.setuid(0))\n"
    )
    assert "unlink -1" in res.stdout and "rename -1" in res.stdout and "open -1" in res.stdout
    assert "setuid -1" in res.stdout
    assert not marker.exists() and victim.read_text() == "original"


def test_symlink_writes_stay_inside(marker: Path, victim: Path) -> None:
    res = hostile(
        "import os\n"
        f"os.symlink({str(marker)!r}, 'to-host'); os.symlink({str(victim)!r}, 'to-victim')\n"
        "for link in ['to-host', 'to-victim']:\n"
        "    try:\n        open(link, 'w').write('pwned'); print(link, 'written')\n"
        "    except OSError as e:\n        print(link, 'refused', e.strerror)\n"
        "try:\n"
        f"    os.link({str(victim)!r}, 'hard'); open('hard', 'w').write('pwned')\n"
        "except OSError as e:\n    print('hard link refused', e.strerror)\n"
    )
    assert "to-victim refused Read-only file system" in res.stdout, res.stdout + res.stderr
    assert "hard link refused" in res.stdout
    assert not marker.exists() and victim.read_text() == "original"


def test_a_gigabyte_of_output_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    sizes: list[int] = []
    real = sandbox._read_capped

    def measured(path: Path, cap: int) -> tuple[str, bool]:
        sizes.append(path.stat().st_size)
        return real(path, cap)

    monkeypatch.setattr(sandbox, "_read_capped", measured)
    res = hostile(
        "import sys\nchunk = b'x' * (1 << 20)\n"
        "for _ in range(1024):\n    sys.stdout.buffer.write(chunk)\n",
        limits=Limits(timeout_s=20.0, output_kb=1024, file_size_mb=16),
    )
    assert res.status == "error" and len(res.stdout) <= 1024 * 1024
    assert max(sizes) <= 16 * 1024 * 1024  # the captured file stopped at the size limit


def test_no_connection_reaches_a_server_on_the_host() -> None:
    tcp = socket.create_server(("127.0.0.1", 0))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    abstract = f"\0monoscope-sbx-{uuid.uuid4().hex}"
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(abstract)
    unix.listen()
    for s in (tcp, udp, unix):
        s.setblocking(False)
    try:
        port, uport = tcp.getsockname()[1], udp.getsockname()[1]
        res = hostile(
            "import socket\n"
            f"for fam, addr in [(socket.AF_INET, ('127.0.0.1', {port})), (socket.AF_UNIX, {abstract!r})]:\n"
            "    try:\n"
            "        s = socket.socket(fam); s.settimeout(2); s.connect(addr)\n"
            "        s.sendall(b'hello'); print('connected', addr)\n"
            "    except OSError as e:\n        print('refused', e.strerror)\n"
            "u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            f"print('udp', u.sendto(b'hello', ('127.0.0.1', {uport})))\n"
        )
        time.sleep(0.2)
        with pytest.raises(BlockingIOError):
            tcp.accept()
        with pytest.raises(BlockingIOError):
            unix.accept()
        with pytest.raises(BlockingIOError):
            udp.recv(100)
    finally:
        for s in (tcp, udp, unix):
            s.close()
    assert "connected" not in res.stdout
    assert [line.split()[0] for line in res.stdout.splitlines()] == ["refused", "refused", "udp"]


def test_file_size_and_private_tmp_are_bounded() -> None:
    res = hostile(
        "import os\n"
        "chunk = b'x' * (1 << 20)\n"
        "for name, mb in [('big', 64)] + [(f'f{i}', 15) for i in range(8)]:\n"
        "    try:\n"
        "        with open(name, 'wb') as f:\n"
        "            for _ in range(mb):\n                f.write(chunk)\n"
        "    except OSError as e:\n        print(name, e.strerror)\n"
        "print('big', os.path.getsize('big'))\n"
        "print('total', sum(os.path.getsize(n) for n in os.listdir('.')))\n",
        limits=Limits(timeout_s=20.0, file_size_mb=16, tmp_mb=64),
    )
    out = dict(line.split(" ", 1) for line in res.stdout.splitlines())
    assert int(out["big"]) <= 16 * 1024 * 1024  # not 64 MB
    assert int(out["total"]) <= 64 * 1024 * 1024  # the private /tmp is full at 64 MB
    assert "No space left on device" in res.stdout


def test_deletes_and_renames_outside_fail(tmp_path: Path, victim: Path) -> None:
    host_file = tmp_path / "keep.txt"
    host_file.write_text("keep")
    res = hostile(
        "import os, shutil\n"
        f"for call in [lambda: os.remove({str(victim)!r}),\n"
        f"             lambda: os.rename({str(victim)!r}, {str(victim)!r} + '.moved'),\n"
        f"             lambda: shutil.move({str(victim)!r}, 'here'),\n"
        f"             lambda: os.remove({str(host_file)!r}),\n"
        f"             lambda: shutil.rmtree({str(tmp_path)!r})]:\n"
        "    try:\n        call(); print('done')\n"
        "    except OSError as e:\n        print('refused', e.strerror)\n"
    )
    assert "done" not in res.stdout and res.stdout.count("refused") == 5, res.stdout
    assert victim.read_text() == "original" and not Path(str(victim) + ".moved").exists()
    assert host_file.read_text() == "keep"


def test_the_app_and_python_interpreter_are_untouched() -> None:
    res = hostile(
        "import os, sys\n"
        "print(sys.executable, sys.flags.isolated, sys.flags.no_site)\n"
        "print(os.environ.get('HOME'), sorted(os.environ))\n"
    )
    assert res.status == "pass", res.stderr
    exe, env = res.stdout.splitlines()
    assert exe.endswith(" 1 1")
    assert env == "/tmp ['HOME', 'LC_ALL', 'PATH', 'PWD']"  # bwrap sets PWD
    assert sys.flags.isolated == 0  # (this process is not affected)


SYSTEM_PYTHON = "/usr/bin/python3"


@pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists(SYSTEM_PYTHON),
                    reason="needs root (to become an ordinary user) and a system python3")
def test_an_ordinary_user_gets_the_same_wall_through_a_user_namespace() -> None:
    """As a non-root caller bwrap takes the user-namespace path; check it holds the same way."""
    import shutil
    import subprocess
    import tempfile

    open_dir = Path(tempfile.mkdtemp(prefix="monoscope-sbx-open-"))
    open_dir.chmod(0o777)  # the ordinary user could write here, outside the sandbox
    marker = open_dir / "escaped.txt"
    # the ordinary user must be able to import monoscope: a world-readable copy of the package,
    # wherever the checkout lives (a clone under a private 0700 folder would hide it)
    app_dir = Path(tempfile.mkdtemp(prefix="monoscope-sbx-app-"))
    app_dir.chmod(0o755)
    shutil.copytree(Path(sandbox.__file__).resolve().parents[2], app_dir / "monoscope",
                    ignore=shutil.ignore_patterns("__pycache__"))
    app = str(app_dir)
    code = (
        "import os, time\n"
        "st = dict(l.split(':', 1) for l in open('/proc/self/status'))\n"
        "print(os.getuid(), st['CapEff'].strip(), st['NoNewPrivs'].strip())\n"
        "n = 0\n"
        "for i in range(500):\n"
        "    try:\n        pid = os.fork()\n    except OSError:\n        continue\n"
        "    if pid == 0:\n        time.sleep(60); os._exit(0)\n"
        "    n += 1\n"
        "print(n)\n" + _write(marker)
    )
    driver = (
        f"import sys; sys.path.insert(0, {app!r})\n"
        "from monoscope.core.sandbox import Limits, run_program\n"
        f"r = run_program({code!r}, guard=False, limits=Limits(max_processes=16))\n"
        "print(r.isolation); print(r.stdout, end='')\n"
    )
    try:
        done = subprocess.run(
            ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
             SYSTEM_PYTHON, "-I", "-c", driver],
            capture_output=True, text=True, timeout=60, cwd="/",
        )  # fmt: skip
        lines = done.stdout.splitlines()
        assert lines[:2] == ["bwrap", "65534 0000000000000000 1"], done.stdout + done.stderr
        assert int(lines[2]) < 16
        assert lines[3].startswith("wrote")  # inside its private /tmp ...
        assert not marker.exists()  # ... not the host's
    finally:
        shutil.rmtree(open_dir, ignore_errors=True)
        shutil.rmtree(app_dir, ignore_errors=True)
