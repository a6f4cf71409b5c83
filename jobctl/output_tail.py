"""What a running job or worker printed that the database has not stored yet.

The thread reading a process's pipe writes here; the daemon's coordinator
takes what is pending at its next write.  Only the last `limit` bytes are
kept (the database keeps no more), so memory stays bounded whatever a job
prints and however long the database cannot be written.
"""

from __future__ import annotations

import threading


class OutputTail:
    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self._lock = threading.Lock()
        self._pending = bytearray()
        self._start = 0  # where _pending begins in all that was written

    def write(self, chunk: bytes) -> None:
        with self._lock:
            self._pending += chunk
            # Cut at twice the limit, not at each write: a flood then costs
            # one copy of `limit` bytes per `limit` bytes read, not per chunk.
            if len(self._pending) > 2 * self.limit:
                self._drop(len(self._pending) - self.limit)

    def __bool__(self) -> bool:
        return bool(self._pending)  # a glance: len() of a bytearray needs no lock

    def take(self) -> tuple[int, bytes] | None:
        """(where it begins, the bytes) of what is pending, at most `limit`;
        None when nothing is.  A gap between the last piece taken and this
        one is what was dropped."""
        with self._lock:
            if not self._pending:
                return None
            self._drop(max(0, len(self._pending) - self.limit))
            piece = (self._start, bytes(self._pending))
            self._start += len(self._pending)
            self._pending = bytearray()
            return piece

    def give_back(self, start: int, data: bytes) -> None:
        """A piece take() returned that could not be stored: pending again,
        ahead of what was written since."""
        with self._lock:
            self._pending[:0] = data
            self._start = start
            if len(self._pending) > 2 * self.limit:
                self._drop(len(self._pending) - self.limit)

    def _drop(self, count: int) -> None:
        if count:
            del self._pending[:count]
            self._start += count
