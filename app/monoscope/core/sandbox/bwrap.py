"""The kernel wall around generated programs: one bubblewrap (``bwrap``) sandbox per test case.

Each program runs in fresh PID, network, IPC, UTS and mount namespaces (``bwrap``): it sees a
read-only ``/usr`` (and the ``/lib*``, ``/bin`` links into it), the interpreter's own prefix
read-only (its site-packages hidden), a private ``/proc`` and ``/dev``, and a small private
tmpfs ``/tmp`` as its working directory; nothing of ``/root``, ``/home``, ``/etc`` (but the
loader cache), the study or the user's files. It runs as uid 65534 (``nobody``) with no
capabilities and ``no_new_privs``:

- as root, ``bwrap`` runs privileged without a user namespace and ``setpriv`` drops to the
  real uid 65534 (so ``RLIMIT_NPROC`` applies: the kernel exempts uid 0 from it, also inside a
  user namespace mapped to root);
- as any other user, ``bwrap`` makes a user namespace mapping uid 65534 to the caller.

Killing the outer ``bwrap`` kills the namespace's first process (``--die-with-parent``), and
the kernel then kills every process of the namespace, ``setsid`` or not. Where ``bwrap`` is
missing or the kernel refuses, `wall()` raises `SandboxUnavailable` saying what to install;
running without the wall needs an explicit opt-in (see `monoscope.core.sandbox`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from monoscope.core.errors import MonoscopeError

SANDBOX_UID = 65534  # `nobody`
WORK_DIR = "/tmp"  # the program's private, writable working directory (a tmpfs)
INSTALL_HINT = (
    "Install bubblewrap: `sudo apt-get install bubblewrap` (Debian/Ubuntu), "
    "`sudo dnf install bubblewrap` (Fedora) or `sudo pacman -S bubblewrap` (Arch); "
    "`bash packaging/setup.sh` installs it when run as root."
)
UNSAFE_HINT = (
    "To run generated code WITHOUT kernel isolation anyway (it could read and change your "
    "files), opt in with --unsafe-no-sandbox; every result is then marked 'unsafe-no-sandbox'."
)
# Host paths never exposed to programs, even as the interpreter's prefix.
_TOO_BROAD = ("/", "/home", "/root", "/etc", "/var", "/tmp", "/opt", "/srv", "/mnt", "/media")


class SandboxError(MonoscopeError):
    """The sandbox could not be set up (not a failure of the program under test)."""


class SandboxUnavailable(SandboxError):
    """No kernel isolation here (bubblewrap missing or refused by the kernel)."""


@dataclass(frozen=True)
class Interpreter:
    """The child interpreter as the sandbox exposes it: binary, read-only binds, hidden dirs."""

    executable: str
    binds: tuple[str, ...]
    hidden: tuple[str, ...]


@dataclass(frozen=True)
class Wall:
    """A checked bubblewrap set-up for one interpreter: ``argv(limits_cfg)`` starts a program."""

    bwrap: str
    privileged: bool
    setpriv: str | None
    interpreter: Interpreter
    tmp_size: int

    def prefix(self, info_fd: int | None = None) -> list[str]:
        """bwrap (+ setpriv) arguments up to the interpreter; ``info_fd`` gets bwrap's JSON
        (``child-pid``: the host PID of the namespace's first process)."""
        a = [self.bwrap]
        if info_fd is not None:
            a += ["--info-fd", str(info_fd)]
        if self.privileged:
            # no user namespace: root would stay root outside; setpriv drops to the real uid
            a += ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
                  "--unshare-cgroup-try", "--cap-drop", "ALL"]
            a += [x for c in ("CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP") for x in ("--cap-add", c)]
        else:
            a += ["--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc",
                  "--unshare-uts", "--unshare-cgroup-try",
                  "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID)]
        a += ["--die-with-parent", "--new-session", "--hostname", "sandbox"]
        a += _system_binds()
        for path in self.interpreter.binds:
            a += _parents(path)
            a += ["--ro-bind", path, path]
        for path in self.interpreter.hidden:
            a += ["--perms", "0555", "--tmpfs", path]
        a += ["--proc", "/proc", "--dev", "/dev",
              "--perms", "1777", "--size", str(self.tmp_size), "--tmpfs", WORK_DIR,
              "--remount-ro", "/", "--chdir", WORK_DIR, "--"]  # fmt: skip
        if self.privileged:
            assert self.setpriv is not None
            a += [self.setpriv, "--reuid", str(SANDBOX_UID), "--regid", str(SANDBOX_UID),
                  "--clear-groups", "--no-new-privs", "--bounding-set", "-all",
                  "--inh-caps", "-all"]  # fmt: skip
        return [*a, self.interpreter.executable]


def _parents(path: str) -> list[str]:
    """``--dir`` for each ancestor of a bind below ``/``, world-traversable (``/root`` is 0700)."""
    out: list[str] = []
    parts = Path(path).parts[1:-1]
    for i in range(len(parts)):
        out += ["--perms", "0755", "--dir", "/" + "/".join(parts[: i + 1])]
    return out


@lru_cache(maxsize=1)
def _system_binds() -> list[str]:
    """``/usr`` read-only; ``/bin``, ``/lib*`` as the host has them (links on merged-/usr)."""
    out = ["--ro-bind", "/usr", "/usr"]
    for name in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(name):
            out += ["--symlink", os.readlink(name), name]
        elif os.path.isdir(name):
            out += ["--ro-bind", name, name]
    if os.path.isfile("/etc/ld.so.cache"):  # the loader's index of /usr/lib: no secrets
        out += ["--perms", "0755", "--dir", "/etc"]
        out += ["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    return out


_QUERY = (
    "import json, os, sys\n"
    "try:\n"
    "    import sysconfig; paths = sysconfig.get_paths(); libdir = sysconfig.get_config_var("
    "'LIBDIR') if sysconfig.get_config_var('Py_ENABLE_SHARED') else None\n"
    "except Exception:\n"
    "    paths, libdir = {}, None\n"
    "exe = getattr(sys, '_base_executable', None) or sys.executable\n"
    "print(json.dumps({'exe': os.path.realpath(exe), 'prefix': os.path.realpath(sys.base_prefix),"
    " 'exec_prefix': os.path.realpath(sys.base_exec_prefix), 'libdir': libdir,"
    " 'site': [paths.get(k) for k in ('purelib', 'platlib')]}))\n"
)


@lru_cache(maxsize=8)
def interpreter(python: str) -> Interpreter:
    """What of ``python`` the sandbox must expose: its real binary and base prefix, read-only."""
    try:
        done = subprocess.run([python, "-I", "-S", "-c", _QUERY], capture_output=True,
                              text=True, timeout=30, check=True)  # fmt: skip
        info = json.loads(done.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as exc:
        raise SandboxError(f"Cannot inspect the child interpreter {python}: {exc}") from None
    exe = str(info["exe"])
    wanted = {os.path.dirname(exe), str(info["prefix"]), str(info["exec_prefix"])}
    if info.get("libdir"):
        wanted.add(os.path.realpath(str(info["libdir"])))
    wanted = {p for p in wanted if p and os.path.isdir(p) and not _under(p, "/usr")}
    binds = tuple(sorted(p for p in wanted if not any(q != p and _under(p, q) for q in wanted)))
    for p in binds:
        if p in _TOO_BROAD or _under(str(Path.home()), p):
            raise SandboxError(
                f"The child interpreter {exe} lives in {p}, which the sandbox will not expose "
                "whole. Use a Python installed under its own prefix (e.g. /usr, pyenv, a "
                "virtual environment's base interpreter)."
            )
    hidden = tuple(sorted({
        os.path.realpath(str(s)) for s in info.get("site") or []
        if s and os.path.isdir(str(s)) and any(_under(os.path.realpath(str(s)), b) for b in binds)
    }))  # fmt: skip
    return Interpreter(exe, binds, hidden)


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _find(name: str) -> str | None:
    return shutil.which(name, path="/usr/bin:/bin:/usr/local/bin:/usr/sbin:/sbin")


@lru_cache(maxsize=8)
def _checked(python: str, tmp_size: int) -> Wall | str:
    """A working `Wall` for ``python``, or the reason there is none (probed once)."""
    bwrap = _find("bwrap")
    if bwrap is None:
        return "bubblewrap (`bwrap`) is not installed."
    privileged = os.geteuid() == 0
    setpriv = _find("setpriv") if privileged else None
    if privileged and setpriv is None:
        return "`setpriv` (util-linux) is missing: as root the sandbox needs it to drop to nobody."
    w = Wall(bwrap, privileged, setpriv, interpreter(python), tmp_size)
    probe = "import os, sys; sys.stdout.write('%d %d' % (os.getuid(), os.getpid()))"
    argv = [*w.prefix(), "-I", "-S", "-c", probe]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False,
                              env=_env())  # fmt: skip
    except (OSError, subprocess.SubprocessError) as exc:
        return f"`bwrap` could not start: {exc}."
    if done.returncode != 0 or done.stdout.split() != [str(SANDBOX_UID), "2"]:
        why = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return (
            f"`bwrap` failed ({why}). The kernel may refuse namespaces: allow unprivileged "
            "user namespaces (sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces"
            " > 0; on Ubuntu ≥ 23.10 kernel.apparmor_restrict_unprivileged_userns=0 or an "
            "AppArmor profile for bwrap), or run inside a container that permits them."
        )
    return w


def _env() -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8", "HOME": WORK_DIR}


def wall(python: str, tmp_size: int) -> Wall:
    """The checked wall for ``python``; raises `SandboxUnavailable` saying how to get one."""
    got = _checked(python, tmp_size)
    if isinstance(got, str):
        raise SandboxUnavailable(
            f"Generated code runs only inside the kernel sandbox, which is not available here: "
            f"{got} {INSTALL_HINT} {UNSAFE_HINT}"
        )
    return got


def available(python: str, tmp_size: int = 64 << 20) -> str | None:
    """None when the wall works for ``python``, else the reason (for status lines and tests)."""
    try:
        got = _checked(python, tmp_size)
    except SandboxError as exc:
        return str(exc)
    return got if isinstance(got, str) else None


def environment() -> dict[str, str]:
    """The whole environment of a sandboxed program (nothing of the app's)."""
    return _env()
