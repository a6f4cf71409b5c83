"""Sleep until another process may have committed to the database.

A commit in WAL mode is a write() to the `-wal` file next to the database,
so on Linux an inotify watch on the database's folder wakes a sleeper the
moment any process commits: the daemon idles without polling, and a job
added to an idle daemon starts within a millisecond or two.  Callers still
confirm with SQLite's data_version counter (an event may come from another
file in the folder), and still poll now and then in case an event is missed.
Where inotify is not available (not Linux, or out of watches) `wait()` is a
plain sleep of the poll interval, and callers poll.

inotify through ctypes: three libc calls do not justify a dependency.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import time
from pathlib import Path

# After a file event, look again this long after it: the event comes with
# the write of a commit's WAL frames, but with PRAGMA synchronous=FULL the
# commit only becomes visible (to data_version) after its fsync.  Without
# these second looks, a waiter saw a FULL commit only at the next one: a
# daemon started jobs 20 ms late when they came 20 ms apart.  Doubling
# steps: six wake-ups per burst of events, covering 63 ms of fsync.
_LOOK_AGAIN = (0.001, 0.002, 0.004, 0.008, 0.016, 0.032)
# Not eager (a dashboard): the first look 2 ms after the event, once the
# commit's WAL index is written, then one once any fsync is over.  A
# daemon's heartbeat each second would otherwise wake it seven times.
_FIRST_LOOK_AFTER = 0.002
_LOOK_ONCE_MORE = (0.064,)

_IN_MODIFY = 0x00000002
_IN_CREATE = 0x00000100
_IN_MOVED_TO = 0x00000080


class CommitWatcher:
    """wait(timeout): return early when a file in the database's folder changes."""

    def __init__(self, db_path: Path, poll: float, eager: bool = True) -> None:
        self.poll = poll  # how long to sleep per wait() when there are no events
        self.looks = _LOOK_AGAIN if eager else _LOOK_ONCE_MORE
        self.first_look_after = 0.0 if eager else _FIRST_LOOK_AFTER
        self.fd: int | None = None
        self._look_again: list[float] = []  # the next waits' caps, after an event
        with contextlib.suppress(OSError, AttributeError):
            self.fd = _watch(Path(db_path).resolve().parent)

    @property
    def live(self) -> bool:
        """True when commits wake us: wait() may then sleep long."""
        return self.fd is not None

    def wait(self, timeout: float, also: tuple[int, ...] = ()) -> None:
        """Sleep up to `timeout` seconds, less if a file changes or an fd in `also` is readable.

        Without inotify, sleeps at most `poll`.  `also` is for a signal
        wake-up fd (signal.set_wakeup_fd): select() would otherwise resume
        its wait after a signal handler ran.
        """
        timeout = max(0.0, timeout)
        fds = [*also] if self.fd is None else [self.fd, *also]
        if self.fd is None:
            timeout = min(timeout, self.poll)
        elif self._look_again:
            timeout = min(timeout, self._look_again.pop(0))
        ready = wait_readable(fds, timeout)
        if self.fd in ready:
            self._look_again = list(self.looks)
            if self.first_look_after:  # an fd in `also` still ends it
                wait_readable([*also], self.first_look_after)

    def settle(self) -> None:
        """The commit a file event announced has been seen: no more looks for it."""
        self._look_again.clear()

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def wait_readable(fds: list[int], timeout: float) -> list[int]:
    """Sleep up to `timeout`, less once one of `fds` is readable; those
    that were, drained: one wake-up for a burst of events."""
    if not fds:
        time.sleep(timeout)
        return []
    ready, _, _ = select.select(fds, [], [], timeout)
    for fd in ready:
        with contextlib.suppress(BlockingIOError, InterruptedError):
            while os.read(fd, 65536):
                pass
    return ready


def _watch(folder: Path) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
    if fd < 0:
        raise OSError(ctypes.get_errno(), "inotify_init1")
    mask = _IN_MODIFY | _IN_CREATE | _IN_MOVED_TO
    if libc.inotify_add_watch(fd, os.fsencode(folder), mask) < 0:
        error = ctypes.get_errno()
        os.close(fd)
        raise OSError(error, "inotify_add_watch")
    return fd
