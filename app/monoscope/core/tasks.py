"""TaskState: progress, partial results and cancellation shared by every long stage.

A stage is a plain function ``run(request, state)``; the CLI passes a `ConsoleState`, the GUI a
state whose callbacks emit Qt signals, tests a plain `TaskState`.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from monoscope.core.errors import TaskCancelled


@dataclass(frozen=True)
class Progress:
    """One progress report: ``done`` of ``total`` units, with rate and ETA in seconds."""

    stage: str
    done: int
    total: int
    message: str
    rate: float
    eta_s: float | None
    elapsed_s: float

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0


def format_eta(seconds: float | None) -> str:
    """Human-friendly duration like ``1 h 02 min``, ``3 min 05 s`` or ``12 s``."""
    if seconds is None or seconds != seconds or seconds == float("inf"):
        return "?"
    s = round(seconds)
    if s >= 3600:
        return f"{s // 3600} h {(s % 3600) // 60:02d} min"
    if s >= 60:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s} s"


class TaskState:
    """Thread-safe progress/cancel channel between a running stage and its caller."""

    def __init__(
        self,
        on_progress: Callable[[Progress], None] | None = None,
        on_partial: Callable[[Any], None] | None = None,
        min_interval_s: float = 0.1,
    ) -> None:
        self._cancel = threading.Event()
        self._on_progress = on_progress
        self._on_partial = on_partial
        self._min_interval = min_interval_s
        self._last_emit = 0.0
        self._stage = ""
        self._stage_start = time.monotonic()
        self._stage_done0 = 0
        self.last: Progress | None = None

    # -- cancellation ---------------------------------------------------------------------
    def cancel(self) -> None:
        self._cancel.set()

    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check(self) -> None:
        """Raise TaskCancelled if cancelled; call between batches."""
        if self._cancel.is_set():
            raise TaskCancelled()

    # -- progress -------------------------------------------------------------------------
    def begin(self, stage: str, total: int = 0, done: int = 0) -> None:
        """Start a named stage; the ETA counts from here (``done`` already finished units)."""
        self._stage = stage
        self._stage_start = time.monotonic()
        self._stage_done0 = done
        self._last_emit = 0.0
        self.progress(done, total, force=True)

    def progress(self, done: int, total: int, message: str = "", force: bool = False) -> None:
        now = time.monotonic()
        elapsed = now - self._stage_start
        worked = done - self._stage_done0
        rate = worked / elapsed if elapsed > 0 and worked > 0 else 0.0
        eta = (total - done) / rate if rate > 0 and total >= done else None
        self.last = Progress(self._stage, done, total, message, rate, eta, elapsed)
        if self._on_progress is None:
            return
        if force or done >= total or now - self._last_emit >= self._min_interval:
            self._last_emit = now
            self._on_progress(self.last)

    def partial(self, result: Any) -> None:
        if self._on_partial is not None:
            self._on_partial(result)


class ConsoleState(TaskState):
    """TaskState that draws a one-line progress bar on a terminal (stderr)."""

    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        self._stream = stream or sys.stderr
        self._quiet = quiet
        self._tty = self._stream.isatty()
        super().__init__(on_progress=self._draw, min_interval_s=0.25 if self._tty else 5.0)

    def _draw(self, p: Progress) -> None:
        if self._quiet:
            return
        pct = f"{100 * p.fraction:5.1f}%" if p.total else "     "
        msg = f" {p.message}" if p.message else ""
        line = f"{p.stage}: {p.done}/{p.total} {pct} ETA {format_eta(p.eta_s)}{msg}"
        if self._tty:
            end = "\n" if p.total and p.done >= p.total else ""
            self._stream.write("\r\x1b[2K" + line[:160] + end)
        else:
            self._stream.write(line + "\n")
        self._stream.flush()
