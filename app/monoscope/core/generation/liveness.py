"""Is the process that marked a run `running` still alive? (pid + process start time + heartbeat)

A run killed by a crash or ``kill -9`` never gets to write its final status. While it runs, its
`runs.meta` carries ``live``: the owner's host, pid and process start time (from /proc, so a
reused pid is not mistaken for the owner) and a heartbeat written with every committed sample,
plus that session's tokens and seconds. A reader shows such a run as ``interrupted`` when the
owner is gone; on another host (a study on a shared disk) when the heartbeat is older than
`STALE_AFTER_S`. The next session folds the dead session's tokens and seconds into the totals
(`monoscope.core.store.runs.start_session`), so tokens/s stays the true speed.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

STALE_AFTER_S = 600.0


def _start_ticks(pid: int) -> int | None:
    """Process start time in clock ticks since boot (field 22 of /proc/PID/stat); None if unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read().decode("ascii", "replace")
    except OSError:
        return None
    try:
        return int(raw[raw.rindex(")") + 2 :].split()[19])
    except (ValueError, IndexError):
        return None


def owner() -> dict[str, Any]:
    """This process, as recorded in a run's ``live`` meta."""
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "start": _start_ticks(pid),
            "heartbeat": time.time(), "tokens": 0, "seconds": 0.0}


def owner_alive(live: dict[str, Any] | None, now: float | None = None) -> bool:
    """True while the process recorded in ``live`` may still be running the run."""
    if not live:
        return False
    if live.get("host") != socket.gethostname():
        return (now or time.time()) - float(live.get("heartbeat") or 0) < STALE_AFTER_S
    pid = int(live.get("pid") or 0)
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, owned by another user
    recorded = live.get("start")
    current = _start_ticks(pid)
    return recorded is None or current is None or int(recorded) == current


def effective_status(status: str, meta: dict[str, Any]) -> str:
    """``interrupted`` for a ``running`` run whose process is gone; the stored status otherwise."""
    if status == "running" and not owner_alive(meta.get("live")):
        return "interrupted"
    return status


def tokens_per_s(meta: dict[str, Any]) -> float | None:
    """Generated tokens over generating seconds, over every session (a live or dead one included)."""
    live = meta.get("live") or {}
    tokens = int(meta.get("gen_tokens", 0)) + int(live.get("tokens", 0))
    seconds = float(meta.get("gen_seconds", 0.0)) + float(live.get("seconds", 0.0))
    return tokens / seconds if seconds > 0 else None


def server_speeds(meta: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per server of a fleet run: samples, tokens and tokens/s over the sessions that used it
    (finished sessions from ``meta.server_totals``, the live or dead one from ``live.servers``)."""
    out: dict[str, dict[str, float]] = {}
    live = meta.get("live") or {}
    parts = [(url, v, float(v.get("seconds", 0.0))) for url, v in (meta.get("server_totals") or {}).items()]
    parts += [(url, v, float(live.get("seconds", 0.0))) for url, v in (live.get("servers") or {}).items()]
    for url, v, seconds in parts:
        cur = out.setdefault(url, {"samples": 0.0, "tokens": 0.0, "seconds": 0.0})
        cur["samples"] += float(v.get("samples", 0))
        cur["tokens"] += float(v.get("tokens", 0))
        cur["seconds"] += seconds
    for cur in out.values():
        cur["tok_s"] = cur["tokens"] / cur["seconds"] if cur["seconds"] > 0 else 0.0
    return out
