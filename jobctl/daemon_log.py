"""The daemon's log: one line per event on stderr, as text or JSON lines.

User text in a line (a command, a type name, an error) has its control
characters escaped, as in every place jobctl writes for a person: a log
followed in a terminal must not be retitled or cleared by a job.

Lines are queued by any thread (hooks log too) and written once
per pass of the coordinator's loop, so a pass that starts a hundred jobs
makes one write.

Under journald (our stderr is the journal's stream), text lines carry no
timestamp, which the journal adds, and start with the syslog priority it
reads ("<6>" info, "<4>" warning, "<3>" error), so that `journalctl -p
warning` shows what went wrong alone.  JSON lines are the same everywhere.
"""

from __future__ import annotations

import json
import sys
import time
from collections import deque
from collections.abc import Callable

from jobctl.models import Job, iso
from jobctl.render import safe
from jobctl.systemd import stderr_is_journal

INFO, WARNING, ERROR = 6, 4, 3  # syslog priorities

# Which lines are not plain news, by how they begin (job lines: the outcome)
# or what they say (the daemon's own, its workers', recovery's).
_JOB_LINES = (
    ("failed: internal error", ERROR),  # a bug in jobctl, not in the job
    ("on_failure did not run", ERROR),
    ("on_success did not run", ERROR),
    ("on_finish did not run", ERROR),
    ("on_failure did not finish", ERROR),
    ("on_success did not finish", ERROR),
    ("on_finish did not finish", ERROR),
    ("failed", WARNING),
    ("timed_out", WARNING),
    ("recovered", WARNING),
)
_DAEMON_LINES = (
    (" was removed or replaced", ERROR),  # the database: the daemon stops, exit 1
    (": cannot start: ", ERROR),  # a worker
    (": gave up after ", ERROR),  # a worker, restarted too often
    ("retrying until it can write again", WARNING),  # a full disk, a lock held
    ("jobs.toml not reloaded", WARNING),  # invalid: the config in use goes on
    ("that takes a restart of the daemon", WARNING),
    (" was presumed dead", WARNING),
    ("another daemon runs it now", WARNING),
    ("left running", WARNING),  # a worker's processes from a dead daemon
    ("dead daemon", WARNING),  # a job's processes from a dead daemon
    ("cannot notify systemd", WARNING),
    ("ignoring NOTIFY_SOCKET", WARNING),
)


class DaemonLog:
    def __init__(
        self, log_format: str, clock: Callable[[], float], journal: bool | None = None
    ) -> None:
        self.format = log_format  # "text" or "json"
        self.journal = stderr_is_journal() if journal is None else journal
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
        will_retry: bool | None = None,
        retry_at: float | None = None,
    ) -> None:
        """One line; `will_retry` (and `retry_at`, when it will) for failed and
        timed_out attempts."""
        now = self.clock()
        if self.format == "json":
            record = {"at": iso(now), "event": what, "daemon": daemon_id}
            if job is not None:
                record |= {"job": job.id, "type": job.type or job.label, "attempt": attempt}
            if took is not None:
                record["seconds"] = round(took, 3)
            if will_retry is not None:
                record["will_retry"] = will_retry
                if will_retry and retry_at is not None:
                    record["retry_at"] = iso(retry_at)
            self._lines.append(json.dumps(record))
            return
        if self.journal:
            parts = []
        else:
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
        if will_retry and retry_at is not None:
            parts.append("retrying at " + time.strftime("%H:%M:%S", time.localtime(retry_at)))
        line = " ".join(parts)
        if self.journal:
            line = f"<{priority(job, what)}>{line}"
        self._lines.append(line)

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


def priority(job: Job | None, what: str) -> int:
    """The syslog priority of a line: INFO unless it tells of a failure."""
    if job is not None:
        return next((p for start, p in _JOB_LINES if what.startswith(start)), INFO)
    if what.startswith("schedule ") and not (
        ": queued job " in what or what.endswith("(overlap = skip)")
    ):
        return ERROR  # a schedule that could not fire
    return next((p for part, p in _DAEMON_LINES if part in what), INFO)


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:39] + "…"
