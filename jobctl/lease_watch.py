"""Fencing by lease: a daemon cut off from a shared database stops its own jobs
before another host may take them.

On PostgreSQL a daemon on another host takes this one for dead once its
heartbeat is `lease` old, and runs its jobs and workers again.  If this one
is alive but cannot reach the database (a network cut, a server away, a
query hung on a dead connection, a SIGSTOP), its jobs' processes would go on
meanwhile: two copies.  So a thread of its own, which no database call can
hold up, watches the time since the last heartbeat that got through, and
when it nears the lease it has the jobs and workers stopped (the runners'
and workers' own threads do the signalling; this one only sets flags).  The
daemon claims and starts nothing until a heartbeat gets through again.

A heartbeat counts from the moment it began, and the stop begins early
enough for the SIGKILL after LOST_KILL_GRACE to land before the lease runs
out: it assumes the hosts' clocks agree to within that margin (NTP).  On
SQLite every daemon is on one host, which tells a dead daemon by its pid,
never by a lease: nothing is stopped there (a full disk is waited out with
the jobs running).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

WATCH_SECONDS = 0.25  # how often the thread looks


def fence_after(lease: float, kill_grace: float) -> float:
    """Seconds after a heartbeat began that this daemon stops its jobs if no
    other heartbeat got through: two thirds of a short lease, else time for
    SIGTERM, `kill_grace` and a second to spare before the lease ends."""
    return max(lease * 2 / 3, lease - kill_grace - 1.0)


class LeaseWatch:
    """Calls `on_lost` (from its own thread) once the lease may be lost."""

    def __init__(self, lease: float, kill_grace: float, on_lost: Callable[[float], None]) -> None:
        self.window = fence_after(lease, kill_grace)
        self.on_lost = on_lost  # given the seconds since the last heartbeat
        self.renewed_at = time.monotonic()
        self.lost = False  # stopped for it, and no heartbeat since
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="jobctl-lease", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def renewed(self, began: float) -> bool:
        """A heartbeat that began at monotonic time `began` got through;
        whether the lease had been given up meanwhile (jobs were stopped)."""
        self.renewed_at = max(self.renewed_at, began)
        was_lost, self.lost = self.lost, False
        return was_lost

    def stop(self) -> None:
        self._done.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._done.wait(WATCH_SECONDS):
            silent = time.monotonic() - self.renewed_at
            if not self.lost and silent > self.window:
                self.lost = True
                self.on_lost(silent)
