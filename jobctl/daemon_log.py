"""The daemon's log: one line per event on stderr, as text or JSON lines.

User text in a line (a command, a type name, an error) has its control
characters escaped, as in every place jobctl writes for a person: a log
followed in a terminal must not be retitled or cleared by a job.

Lines are queued by any thread (on_failure hooks log too) and written once
per pass of the coordinator's loop, so a pass that starts a hundred jobs
makes one write.
"""

from __future__ import annotations

import json
import sys
import time
from collections import deque
from collections.abc import Callable

from jobctl.models import Job, iso
from jobctl.render import safe


class DaemonLog:
    def __init__(self, log_format: str, clock: Callable[[], float]) -> None:
        self.format = log_format  # "text" or "json"
        self.clock = clock
        self._lines: deque[str] = deque()
        self._stamp_second = -1
        self._stamp = ""

    def add(
        self,
        daemon_id: int | None,
        job: Job | None,
        what: str,
        attempt: int | None = None,
        took: float | None = None,
    ) -> None:
        now = self.clock()
        if self.format == "json":
            record = {"at": iso(now), "event": what, "daemon": daemon_id}
            if job is not None:
                record |= {"job": job.id, "type": job.type or job.label, "attempt": attempt}
            if took is not None:
                record["seconds"] = round(took, 3)
            self._lines.append(json.dumps(record))
            return
        second = int(now)
        if second != self._stamp_second:  # strftime once a second, not once a line
            self._stamp_second = second
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(now))
        parts = [self._stamp]
        if job is not None:
            parts += [f"job {job.id}", safe(job.type or _short(job.label))]
            if attempt is not None:
                parts.append(f"attempt {attempt}")
        parts.append(safe(what))  # it may quote a job's error or a worker's name
        if took is not None:
            parts.append(f"({took:.3f}s)")
        self._lines.append(" ".join(parts))

    def flush(self) -> None:
        if not self._lines:
            return
        lines = []
        while self._lines:
            lines.append(self._lines.popleft())
        try:
            sys.stderr.write("".join(line + "\n" for line in lines))
            sys.stderr.flush()
        except (OSError, ValueError):
            pass  # nobody reads our stderr any more: go on running jobs


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:39] + "…"
