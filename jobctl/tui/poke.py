"""Waking the dashboard's poll thread.

The poll thread sleeps in the database's change watcher (an inotify watch
on SQLite's folder, LISTEN on PostgreSQL): it wakes when a commit may have
changed something, instead of looking at data_version ten times a second.
The UI wakes it too (a filter or the view changed) by writing to a pipe
the watcher's select() also waits on; a threading.Event could not be.
"""

from __future__ import annotations

import contextlib
import os
import threading

from jobctl.wakeup import wait_readable


class Poke:
    """set() from any thread wakes a select() on `fd`; clear() takes the wake-up."""

    def __init__(self) -> None:
        self.fd, self._write_fd = os.pipe()
        os.set_blocking(self.fd, False)
        os.set_blocking(self._write_fd, False)
        # set() may come from an action's thread as close() runs: never a
        # write to a closed fd, whose number a new file may have taken.
        self._lock = threading.Lock()
        self._closed = False

    def set(self) -> None:
        with self._lock:
            if self._closed:
                return
            with contextlib.suppress(BlockingIOError):  # full: a wake-up is there
                os.write(self._write_fd, b"!")

    def wait(self, timeout: float) -> None:
        """Sleep up to `timeout` seconds, less once set(); takes the wake-up."""
        wait_readable([self.fd], max(0.0, timeout))

    def clear(self) -> None:
        wait_readable([self.fd], 0.0)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            os.close(self.fd)
            os.close(self._write_fd)
