"""Processes by pid: is it still the one we started, and stopping its group.

A pid alone can be reused, so a recorded process is (pid, start time), the
start time read from /proc; the daemon, recovery and the supervisor all
need that.  Linux only, like the rest of the daemon.
"""

from __future__ import annotations

import contextlib
import os


def _stat_fields(pid: int) -> list[bytes] | None:
    """The fields of /proc/PID/stat after the command name (which may hold spaces)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            return file.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None


def process_start_time(pid: int) -> float | None:
    """When `pid` started (clock ticks since boot), to tell a reused pid."""
    fields = _stat_fields(pid)
    try:
        return float(fields[19]) if fields else None
    except (IndexError, ValueError):
        return None


def pid_alive(pid: int, started: float | None) -> bool:
    """Whether `pid` still runs and is the process that started at `started`.

    A zombie counts as dead: a kill -9'd daemon stays one until its parent
    reaps it, and it will never heartbeat again.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    fields = _stat_fields(pid)
    if fields is None:
        return True  # no /proc: the signal check is all there is
    if fields[0] == b"Z":
        return False
    return started is None or float(fields[19]) == started


def signal_group(pgid: int, sig: int) -> None:
    """Signal a process group that may be gone already (or never was ours to signal)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
