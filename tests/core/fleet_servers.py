"""Real llama-cpp-python servers on 127.0.0.1 for the fleet tests and benchmarks/fleet.py."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LlamaServer:
    """`python -m llama_cpp.server` on a free loopback port (1 thread unless told)."""

    def __init__(self, model: Path, threads: int = 1, n_ctx: int = 1024, embedding: bool = False,
                 port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model),
               "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", str(n_ctx),
               "--n_threads", str(threads), "--n_threads_batch", str(threads),
               "--verbose", "False"]
        if embedding:
            cmd += ["--embedding", "True"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     env=dict(os.environ, HF_HUB_OFFLINE="1"))

    def wait_ready(self, timeout_s: float = 90.0) -> LlamaServer:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(self.url + "/v1/models", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                err = self.proc.stderr.read().decode()[-2000:] if self.proc.stderr else ""
                self.stop()
                raise RuntimeError(f"llama_cpp.server did not start: {err}")
            time.sleep(0.3)

    def kill(self) -> None:
        """SIGKILL: the server dies mid-request, as a crashed GPU node would."""
        self.proc.kill()
        self.proc.wait(timeout=15)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)


LLAMA_SERVER_DEFAULT = Path("/tmp/llama-srv/bin/llama-server")


def find_llama_server() -> str | None:
    """A llama.cpp `llama-server` binary: $LLAMA_SERVER, PATH, or where the build command of
    benchmarks/fleet.py (LLAMA_SERVER_HINT) puts it."""
    import shutil

    for cand in (os.environ.get("LLAMA_SERVER"), shutil.which("llama-server"),
                 str(LLAMA_SERVER_DEFAULT)):
        if cand and Path(cand).is_file() and os.access(cand, os.X_OK):
            return cand
    return None


class LlamaCppServer(LlamaServer):
    """llama.cpp's own `llama-server` binary on a free loopback port, `slots` sequences decoded
    together (`-np`), each slot with `ctx_per_slot` tokens of context."""

    def __init__(self, binary: str, model: Path, slots: int = 16, threads: int = 1,
                 ctx_per_slot: int = 1024, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [binary, "-m", str(model), "--host", "127.0.0.1", "--port", str(self.port),
             "-np", str(slots), "-c", str(slots * ctx_per_slot), "-t", str(threads),
             "-tb", str(threads)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def wait_ready(self, timeout_s: float = 120.0) -> LlamaCppServer:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:  # refused while starting, 503 while the model loads
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                err = self.proc.stderr.read().decode()[-2000:] if self.proc.stderr else ""
                self.stop()
                raise RuntimeError(f"llama-server did not start: {err}")
            time.sleep(0.3)
