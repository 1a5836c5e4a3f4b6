"""The kernel wall's set-up (`core/sandbox/bwrap.py`), checked on what a program inside sees
(written against the surviving mutants of `bwrap.py`; see docs/testing.md).

A probe runs through the wall both ways it can be built: privileged (as root: no user
namespace, ``setpriv`` drops to nobody) and through a user namespace (how every other user gets
it; root can take that path too). Each flag of the wall has an effect the probe reports.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from monoscope.core.assets import python_executable
from monoscope.core.sandbox import bwrap as sandbox_wall
from monoscope.core.sandbox.bwrap import SandboxUnavailable

NAMESPACES = ("cgroup", "ipc", "mnt", "net", "pid", "user", "uts")


@pytest.fixture(autouse=True)
def _cold_caches() -> Iterator[None]:
    """The wall is probed once per process (lru_cache); each test here probes it afresh, so it
    checks the code that finds bwrap and the interpreter, not an earlier test's answer."""
    for f in (sandbox_wall._checked, sandbox_wall.interpreter, sandbox_wall._system_binds):
        f.cache_clear()
    yield
    for f in (sandbox_wall._checked, sandbox_wall.interpreter, sandbox_wall._system_binds):
        f.cache_clear()
PROBE = r"""
import errno, json, os, socket, sys
st = dict(l.split(':', 1) for l in open('/proc/self/status'))
def err(f):
    try:
        f()
        return 'ok'
    except OSError as e:
        return errno.errorcode[e.errno]
v = os.statvfs('/tmp')
binds, hidden = json.loads(sys.argv[1]), json.loads(sys.argv[2])
up = sorted({str(p) for b in binds for p in __import__('pathlib').Path(b).parents if str(p) != '/'})
print(json.dumps(dict(
    ids=[os.getuid(), os.geteuid(), os.getgid(), os.getegid(), os.getgroups()],
    caps={k: st[k].strip() for k in ('CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb',
                                     'NoNewPrivs')},
    ns={n: os.readlink('/proc/self/ns/' + n) for n in __NS__},
    pid=os.getpid(), sid=os.getsid(0), host=socket.gethostname(),
    nics=[list(x) for x in socket.if_nameindex()], cwd=os.getcwd(), env=dict(os.environ),
    tmp=[os.stat('/tmp').st_mode, v.f_blocks * v.f_frsize],
    writes=[err(lambda: os.mkdir('/x')), err(lambda: open('/usr/x', 'w'))]
    + [err(lambda: open(b + '/x', 'w')) for b in binds],
    tmp_write=err(lambda: open('/tmp/x', 'w').write('x')),
    dev=os.path.exists('/dev/null'), pids=sorted(int(p) for p in os.listdir('/proc') if p.isdigit()),
    up=[[p, os.stat(p).st_mode] for p in up],
    hidden=[[h, os.stat(h).st_mode, os.listdir(h)] for h in hidden],
    exe=os.path.realpath(sys.executable),
)))
""".replace("__NS__", repr(NAMESPACES))


def _probe(privileged: bool, tmp_size: int) -> dict[str, object]:
    base = sandbox_wall.wall(python_executable(), 64 << 20)
    w = sandbox_wall.Wall(base.bwrap, privileged, base.setpriv if privileged else None,
                          base.interpreter, tmp_size)
    done = subprocess.run([*w.prefix(), "-I", "-S", "-c", PROBE,
                           json.dumps(w.interpreter.binds), json.dumps(w.interpreter.hidden)],
                          capture_output=True, text=True, timeout=60,
                          env=sandbox_wall.environment(), check=False)
    assert done.returncode == 0, done.stderr
    out: dict[str, object] = json.loads(done.stdout)
    return out


@pytest.mark.parametrize("privileged", [True, False], ids=["privileged", "user namespace"])
def test_what_a_program_sees_inside_the_wall(privileged: bool) -> None:
    if privileged and os.geteuid() != 0:
        pytest.skip("the privileged wall is root's (no user namespace)")
    got = _probe(privileged, 16 << 20)
    interp = sandbox_wall.interpreter(python_executable())
    zero = "0000000000000000"
    assert got["ids"] == [65534, 65534, 65534, 65534, []]  # nobody, no supplementary groups
    caps = got["caps"]
    assert isinstance(caps, dict)
    assert [caps[k] for k in ("CapInh", "CapPrm", "CapEff", "CapAmb", "NoNewPrivs")] == [
        zero, zero, zero, zero, "1"]
    if privileged:  # setpriv empties the bounding set (in a user namespace it is the ns's own)
        assert caps["CapBnd"] == zero
    host_ns = {n: os.readlink(f"/proc/self/ns/{n}") for n in NAMESPACES}
    ns = got["ns"]
    assert isinstance(ns, dict)
    fresh = {n for n in NAMESPACES if ns[n] != host_ns[n]}
    assert fresh == (set(NAMESPACES) - ({"user"} if privileged else set()))
    assert got["pid"] == 2 and got["pids"] == [1, 2]  # bwrap's init and the program
    assert got["sid"] == 1  # its own session (no TIOCSTI into the caller's terminal)
    assert got["host"] == "sandbox" and got["nics"] == [[1, "lo"]]
    assert got["cwd"] == "/tmp"
    assert got["env"] == {"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8", "HOME": "/tmp",
                          "PWD": "/tmp"}  # PWD: bwrap's, for --chdir
    assert got["tmp"] == [0o41777, 16 << 20]  # a sticky world-writable tmpfs of the size asked
    assert got["tmp_write"] == "ok"
    # / is read-only, /usr and the interpreter's prefix are read-only binds
    assert got["writes"] == ["EROFS"] * (2 + len(interp.binds))
    assert got["dev"] is True
    up = got["up"]
    assert isinstance(up, list) and up  # the binds' ancestors, made traversable
    assert all(mode == 0o40755 for _, mode in up)
    assert got["hidden"] == [[h, 0o40555, []] for h in interp.hidden]  # empty, read-only
    assert got["exe"] == os.path.realpath(interp.executable)


def test_the_tmpfs_size_is_the_one_asked_for() -> None:
    got = _probe(os.geteuid() == 0, 8 << 20)
    assert got["tmp"] == [0o41777, 8 << 20]


def test_without_bubblewrap_the_messages_say_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    py = python_executable()
    monkeypatch.setattr(sandbox_wall, "_find", lambda name: None)
    assert sandbox_wall.available(py) == "bubblewrap (`bwrap`) is not installed."
    with pytest.raises(SandboxUnavailable) as info:
        sandbox_wall.wall(py, 64 << 20)
    msg = str(info.value)
    assert msg.startswith("Generated code runs only inside the kernel sandbox, which is not "
                          "available here: bubblewrap (`bwrap`) is not installed. Install ")
    assert "`sudo apt-get install bubblewrap`" in msg
    assert msg.endswith("opt in with --unsafe-no-sandbox; every result is then marked "
                        "'unsafe-no-sandbox'.")


def test_an_interpreter_that_cannot_start_is_reported(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-python")
    why = sandbox_wall.available(missing)
    assert why is not None and why.startswith(f"Cannot inspect the child interpreter {missing}: ")


def test_find_looks_only_in_the_system_directories_in_order(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    found = sandbox_wall._find("bwrap")
    want = next(p for p in ("/usr/bin/bwrap", "/bin/bwrap", "/usr/local/bin/bwrap")
                if os.access(p, os.X_OK))
    assert found == want  # never the PATH's
    assert sandbox_wall._find(fake.name + "-not-there") is None


def test_under_is_path_containment_not_a_prefix() -> None:
    under = sandbox_wall._under
    assert under("/usr", "/usr") and under("/usr/lib", "/usr") and under("/usr/lib", "/usr/")
    assert under("/a/b", "/") and under("/", "/")
    assert not under("/usrx", "/usr") and not under("/us", "/usr") and not under("/usr", "/usr/lib")
    assert not under("/opt/Y", "/opt/X")  # only "/" is stripped off the root


def test_parents_are_made_traversable_top_down() -> None:
    assert sandbox_wall._parents("/a/b/c") == ["--perms", "0755", "--dir", "/a",
                                               "--perms", "0755", "--dir", "/a/b"]
    assert sandbox_wall._parents("/a") == []
