"""The code a sandboxed child interpreter runs before the program: limits, guard, then the program.

It is passed as ``python -I -S -c BOOTSTRAP ARGS`` (a string, so it also works in the frozen
bundle's ``monoscope-python``); ``ARGS`` are `boot_args`: plain integers and a path, parsed
without imports (``import json`` alone costs ~30 ms of interpreter start-up). The program's
source arrives on an inherited fd (``src_fd``); the child's peak memory (VmHWM) goes to
another (``peak_fd``). The audit hook is a second layer behind the kernel wall: its state lives only in a closure
(frozen sets and captured functions, so patching ``os.path`` or builtins does not fool it), the
program gets a fresh ``__main__`` module, and the ``gc`` calls that could find the hook
function are refused (frames hold no reference to it: ``sys._getframe`` stays allowed, the
standard library needs it). The hook is still a speed bump, not a barrier: whatever gets
past it (``_posixsubprocess`` raises no event) meets the kernel wall.
"""

from __future__ import annotations

MEMORY_EXIT = 86  # exit code for MemoryError
BLOCKED_EXIT = 87  # exit code when the guard refused an operation



def boot_args(src_fd: int, peak_fd: int, memory: int, cpu_s: int, file_size: int,
              processes: int, open_files: int, guard: bool, work: str) -> list[str]:
    """The bootstrap's command-line arguments, in the order it reads them."""
    nums = (src_fd, peak_fd, memory, cpu_s, file_size, processes, open_files, int(guard))
    return [*map(str, nums), work]


BOOTSTRAP = r"""
def _boot():
    import os, resource, sys
    src_fd, peak_fd, mem, cpu, fsize, nproc, nofile, guard = map(int, sys.argv[1:9])
    work = sys.argv[9]
    chunks = []
    while True:
        b = os.read(src_fd, 1 << 16)
        if not b:
            break
        chunks.append(b)
    os.close(src_fd)
    src = b"".join(chunks).decode("utf-8", "replace")

    def peak():
        # VmHWM is this process's own high-water mark (reset at exec, unlike ru_maxrss)
        try:
            for line in open("/proc/self/status"):
                if line.startswith("VmHWM:"):
                    os.write(peak_fd, line.split()[1].encode())
                    break
            os.close(peak_fd)
        except Exception:
            pass

    def lim(res, soft, hard=None):
        try:
            resource.setrlimit(res, (soft, soft if hard is None else hard))
        except (ValueError, OSError):
            pass

    lim(resource.RLIMIT_AS, mem)
    lim(resource.RLIMIT_CPU, cpu, cpu + 1)
    lim(resource.RLIMIT_FSIZE, fsize)
    lim(resource.RLIMIT_CORE, 0)
    lim(resource.RLIMIT_NOFILE, nofile)
    lim(resource.RLIMIT_NPROC, nproc)
    os.chdir(work)

    def make_hook(work, realpath, fsdecode, sep, wflags, isinstance, str, bytes, int, any,
                  PermissionError):
        allowed = (work + sep, "/dev/null")
        deny = frozenset({
            "socket.__new__", "socket.connect", "socket.bind", "socket.getaddrinfo",
            "socket.sendto", "socket.gethostbyname", "os.system", "os.exec", "os.fork",
            "os.forkpty", "os.posix_spawn", "os.spawn", "os.kill", "os.killpg",
            "subprocess.Popen", "ctypes.dlopen", "ctypes.dlsym", "ctypes.cdata", "pty.spawn",
            "gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys.settrace",
            "sys.setprofile", "sys.addaudithook"})
        paths = frozenset({
            "os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown",
            "os.truncate", "os.symlink", "os.link", "os.utime", "shutil.rmtree",
            "shutil.copyfile", "shutil.move", "os.chdir"})

        def inside(p):
            if isinstance(p, int):
                return True
            p = realpath(fsdecode(p))
            return p == work or p.startswith(allowed)

        def hook(event, args):
            if event in deny:
                raise PermissionError(f"sandbox: {event} is not allowed (no network, no processes)")
            if event == "open" and len(args) >= 3:
                mode, flags = args[1], args[2]
                writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                    isinstance(flags, int) and flags & wflags)
                if writing and not inside(args[0]):
                    raise PermissionError(f"sandbox: writing {args[0]!r} outside the work dir")
            elif event in paths:
                for a in args[:2]:
                    if isinstance(a, (str, bytes)) and not inside(a):
                        raise PermissionError(f"sandbox: {event} on {a!r} outside the work dir")

        return hook

    code = compile(src, "solution.py", "exec")
    main = type(sys)("__main__")
    main.__dict__["__builtins__"] = __builtins__
    sys.modules["__main__"] = main
    sys.argv = ["solution.py"]
    if guard:
        wflags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
        sys.addaudithook(make_hook(os.path.realpath(work), os.path.realpath,
                                   os.fsdecode, os.sep, wflags, isinstance, str, bytes, int,
                                   any, PermissionError))
    del make_hook, src, chunks
    exit_, flush, write = os._exit, sys.stdout.flush, sys.stderr.write
    try:
        exec(code, main.__dict__)
    except MemoryError:
        flush()
        write("MemoryError: the program exceeded the sandbox memory limit\n")
        sys.stderr.flush()
        peak()
        exit_(86)
    except PermissionError as exc:
        if str(exc).startswith("sandbox:"):
            flush()
            write(f"{exc}\n")
            sys.stderr.flush()
            peak()
            exit_(87)
        raise
    finally:
        peak()
_boot()
"""
