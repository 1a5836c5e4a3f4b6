"""The heavy models of a chain in a helper process, so the caller's memory stays small.

The window keeps running for hours; the sentence-transformers stack (torch, transformers,
scikit-learn: ~400 MB resident once imported) and UMAP (numba, pynndescent: ~240 MB) cannot
be unloaded from a process once imported. Inside ``with session():`` the embedder
(`monoscope.core.attributes.embedding.load_embedder`) and the UMAP models
(`monoscope.core.analysis.projection_models.fit_umap` / `load_model`) run in one child
Python process instead; leaving the block ends that process, and everything it loaded goes
with it. The stages themselves stay in the calling process: the child touches no study (the
study file stays with its one writer), it only turns arrays and texts into arrays. The same
libraries at the same settings compute the same numbers as in process.

Outside a session (CLI, tests, `demo`) the models load in process as before. The window's
follow-up chain after a run (`monoscope.ui.pipeline`) runs in a session.

Protocol: length-prefixed pickles over the child's stdin/stdout (its own prints go to its
stderr); one request, one reply. A reply is ``("ok", value)`` or ``("error", exception,
traceback text)``; the exception is raised again in the caller (a missing model asset is the
same `AssetMissing`). A cancel of the session's `TaskState` kills the child in a call.
"""

from __future__ import annotations

import contextvars
import logging
import os
import pickle
import select
import struct
import subprocess
import sys
import threading
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

from monoscope.core.errors import MonoscopeError, TaskCancelled
from monoscope.core.tasks import TaskState

log = logging.getLogger(__name__)

_HEADER = struct.Struct("<Q")
_CHILD_CODE = "from monoscope.core.offload import serve; serve()"
_current: contextvars.ContextVar[Helper | None] = contextvars.ContextVar(
    "monoscope_offload", default=None)


class HelperError(MonoscopeError):
    """The helper process could not start or died in a call."""


def current() -> Helper | None:
    """The helper of the session this thread runs in, or None (models load in process)."""
    return _current.get()


@contextmanager
def session(state: TaskState | None = None, helper: Helper | None = None) -> Iterator[Helper]:
    """Run the heavy models of the block in one helper process (started on first use), ended
    when the block ends. ``state``: its cancel kills the child in a call (`TaskCancelled`).
    ``helper``: one started earlier (e.g. warming up while a run generates), taken over."""
    if helper is None:
        helper = Helper(state)
    else:
        helper.state = state
    token = _current.set(helper)
    try:
        yield helper
    finally:
        _current.reset(token)
        helper.close()


# -- parent side ---------------------------------------------------------------------------
class Helper:
    """One child process serving `call(op, *args)`; thread-safe; started on first call."""

    def __init__(self, state: TaskState | None = None) -> None:
        self.state = state
        self.proc: subprocess.Popen[bytes] | None = None
        self.calls: list[str] = []  # the ops asked for, in order (what the child loaded)
        self._lock = threading.Lock()
        self._stderr: deque[str] = deque(maxlen=40)
        self._reader: threading.Thread | None = None
        self._unread = 0  # replies to `send` not read yet

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _start(self) -> subprocess.Popen[bytes]:
        import monoscope

        env = dict(os.environ)
        # the child imports this very package, not another copy on its path
        root = str(Path(monoscope.__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        env.setdefault("HF_HUB_OFFLINE", "1")
        try:
            proc = subprocess.Popen([sys.executable, "-c", _CHILD_CODE], env=env,
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, close_fds=True)
        except OSError as exc:
            raise HelperError(f"Cannot start the model helper process ({exc}); the models "
                              "need a working Python of this installation.") from exc
        assert proc.stderr is not None
        self._reader = threading.Thread(target=self._drain, args=(proc.stderr,),
                                        name="offload-stderr", daemon=True)
        self._reader.start()
        log.debug("model helper started, pid %d", proc.pid)
        return proc

    def _drain(self, stream: IO[bytes]) -> None:
        for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip()
            self._stderr.append(line)
            log.debug("helper: %s", line)

    def send(self, op: str, *args: Any) -> None:
        """Ask for ``op`` without waiting (e.g. ``warm``); its reply is read and dropped
        before the next `call`'s (a failure there shows again in the call that needs it)."""
        with self._lock:
            self._request(op, args)
            self._unread += 1

    def _request(self, op: str, args: tuple[Any, ...]) -> subprocess.Popen[bytes]:
        if self.proc is None:
            self.proc = self._start()
        proc = self.proc
        if proc.poll() is not None:
            raise HelperError(self._died(f"before {op}"))
        assert proc.stdin is not None
        self.calls.append(op)
        payload = pickle.dumps((op, args), protocol=pickle.HIGHEST_PROTOCOL)
        try:
            proc.stdin.write(_HEADER.pack(len(payload)) + payload)
            proc.stdin.flush()
        except OSError as exc:
            self._kill()
            raise HelperError(self._died(f"in {op} ({exc})")) from None
        return proc

    def call(self, op: str, *args: Any) -> Any:
        """Run ``op`` in the child and return its value (its exception is raised here)."""
        with self._lock:
            proc = self._request(op, args)
            assert proc.stdout is not None
            try:
                while self._unread:
                    self._read(proc, proc.stdout.fileno())
                    self._unread -= 1
                reply = pickle.loads(self._read(proc, proc.stdout.fileno()))
            except TaskCancelled:
                self._kill()
                raise
            except (OSError, EOFError, pickle.UnpicklingError) as exc:
                self._kill()
                raise HelperError(self._died(f"in {op} ({exc})")) from None
        if reply[0] == "ok":
            return reply[1]
        log.debug("helper %s failed:\n%s", op, reply[2])
        raise reply[1]

    def _read(self, proc: subprocess.Popen[bytes], fd: int) -> bytes:
        head = self._exactly(proc, fd, _HEADER.size)
        return self._exactly(proc, fd, _HEADER.unpack(head)[0])

    def _exactly(self, proc: subprocess.Popen[bytes], fd: int, n: int) -> bytes:
        parts: list[bytes] = []
        while n:
            if self.state is not None and self.state.cancelled():
                raise TaskCancelled()
            ready, _, _ = select.select([fd], [], [], 0.2)
            if not ready:
                continue
            chunk = os.read(fd, min(n, 1 << 20))
            if not chunk:
                raise EOFError("the helper closed its output")
            parts.append(chunk)
            n -= len(chunk)
        return b"".join(parts)

    def _died(self, when: str) -> str:
        if self.proc is not None:
            with suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=5)
        if self._reader is not None:
            self._reader.join(timeout=2)
        code = self.proc.returncode if self.proc is not None else None
        tail = "\n".join(list(self._stderr)[-8:])
        return (f"The model helper process ended {when} (exit code {code}). Its last "
                f"messages:\n{tail or '(none)'}\nSee the log; free memory and try again.")

    def _kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def kill(self) -> None:
        """End the child now, whatever it is doing (a warm-up no chain will use)."""
        with self._lock:
            self._kill()
        self.close()

    def close(self, timeout_s: float = 0.5) -> None:
        """End the child; what it loaded is gone then. With every reply read it holds nothing
        worth a clean exit (the models it saved are renamed into place before it replies),
        and an interpreter with torch loaded takes seconds to shut down: after ``timeout_s``
        it is killed."""
        with self._lock:
            proc = self.proc
            if proc is None:
                return
            try:
                if proc.stdin is not None:
                    proc.stdin.close()  # end of requests: the child leaves its loop
                proc.wait(timeout=timeout_s)
            except (OSError, subprocess.TimeoutExpired):
                self._kill()
            if self._reader is not None:
                self._reader.join(timeout=2)
            if proc.stdout is not None:
                proc.stdout.close()
            log.debug("model helper %d ended (%s)", proc.pid, proc.returncode)


# -- child side ----------------------------------------------------------------------------
class _Worker:
    """What the child holds: embedders by (backend, threads) and UMAP models by handle."""

    def __init__(self) -> None:
        self.embedders: dict[tuple[str, int | None], Any] = {}
        self.models: dict[int, Any] = {}
        self.next_handle = 1
        self.idle_work: list[Callable[[], Any]] = []  # done while no request waits

    def _keep(self, model: Any) -> int:
        handle = self.next_handle
        self.next_handle += 1
        self.models[handle] = model
        return handle

    def _embedder(self, backend: str, threads: int | None) -> Any:
        from monoscope.core.attributes.embedding import load_embedder

        emb = self.embedders.get((backend, threads))
        if emb is None:
            emb = self.embedders[(backend, threads)] = load_embedder(backend, threads)
        return emb

    def run(self, op: str, args: tuple[Any, ...]) -> Any:
        if op == "embed":
            backend, threads, texts = args
            return self._embedder(backend, threads).encode(texts)
        if op == "umap_fit":
            from monoscope.core.analysis.projection_models import Umap

            x, n_neighbors, min_dist, seed = args
            model = Umap(x, n_neighbors, min_dist, seed)
            return self._keep(model), model.embedding
        if op == "umap_load":
            from monoscope.core.analysis.projection_models import load_model

            (fp,) = args
            loaded = load_model(fp, "umap")
            return None if loaded is None else (self._keep(loaded), loaded.embedding)
        if op == "umap_transform":
            handle, x = args
            return self.models[handle].transform(x)
        if op == "umap_save":
            from monoscope.core.analysis.projection_models import save_model

            handle, fp = args
            save_model(fp, self.models[handle])
            return None
        if op == "drop":
            self.models.pop(args[0], None)
            return None
        if op == "warm":  # load ahead what a follow-up chain needs: the embedder now, UMAP
            from monoscope.core.analysis.projection_models import import_umap

            backend, threads = args
            self._embedder(backend, threads)
            self.idle_work.append(import_umap)  # when no request waits (after the embedding)
            return None
        if op == "ping":
            return os.getpid()
        raise ValueError(f"unknown helper op {op!r}")


def _reply(value: tuple[Any, ...]) -> bytes:
    try:
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # an exception that does not pickle: its text
        if value[0] == "ok":
            raise
        return pickle.dumps(("error", RuntimeError(f"{type(value[1]).__name__}: {value[1]}"),
                             value[2]), protocol=pickle.HIGHEST_PROTOCOL)


def serve() -> None:
    """The child's loop (``python -c "from monoscope.core.offload import serve; serve()"``):
    requests on stdin until it closes, replies on the original stdout."""
    inp = os.fdopen(os.dup(0), "rb", buffering=0)
    out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)  # anything a library prints goes to stderr, never into a reply
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    worker = _Worker()
    while True:
        while worker.idle_work and not select.select([inp], [], [], 0)[0]:
            with suppress(Exception):  # a warm-up only: the request that needs it will fail
                worker.idle_work.pop(0)()
        head = _read_all(inp, _HEADER.size)
        if head is None:
            break
        body = _read_all(inp, _HEADER.unpack(head)[0])
        if body is None:
            break
        op, args = pickle.loads(body)
        try:
            reply = _reply(("ok", worker.run(op, args)))
        except BaseException as exc:  # every failure goes back to the caller
            reply = _reply(("error", exc, traceback.format_exc()))
        _write_all(out, _HEADER.pack(len(reply)) + reply)
    out.close()


def _write_all(stream: IO[bytes], data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = stream.write(view)
        view = view[n or 0:]


def _read_all(stream: IO[bytes], n: int) -> bytes | None:
    parts: list[bytes] = []
    while n:
        chunk = stream.read(n)
        if not chunk:
            return None
        parts.append(chunk)
        n -= len(chunk)
    return b"".join(parts)
