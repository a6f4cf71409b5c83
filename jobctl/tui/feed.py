"""What the dashboard reads, and when: the reading side of app.py, run in
its poll thread.

Redrawing is what the dashboard's CPU goes on (a DataTable redraws every
row on screen after any change), so a read happens only when what it shows
may have changed, and only for the view on screen:

- SQLite's data_version (PostgreSQL: the notifications heard) is looked at
  when the store's watcher says a commit may have happened (inotify on
  SQLite's folder, LISTEN on PostgreSQL), and every WOKEN_POLL seconds in
  case a wake-up was missed; every POLL seconds where nothing wakes the
  poller.  Nothing moved, nothing is read.
- A part is read again when the database moved since its last read, or at
  once when the user changed what it shows (page, filter, view).
- While the database keeps moving, reads are MIN_GAP apart: at 20 jobs a
  second the page is redrawn about 2.5 times a second, not at every
  commit, and a change still shows within half a second (a read and a
  redraw take some 10-40 ms).
- The counts per queue and state (a scan of the whole table: 130 ms at 1M
  jobs) and the overview's chart and failures are read at most once every
  SLOW_EVERY seconds, and less often when a read takes longer than a
  twentieth of that.  The counts are read in every view: the banner about
  queues no daemon serves needs the queues with queued jobs.
- On the newest page, while the user looks at its top, a read between
  two full ones (FULL_EVERY apart) reads only the rows in sight and
  HEAD_MARGIN more; the older rows of the page are kept from the last
  read.  They are not on screen; once the user scrolls or moves the
  cursor past the rows read, the page is read whole at once.
- A daemon's heartbeat commits every second, which moves data_version and
  changes no job.  On the newest page of all jobs (the one people watch)
  a read first looks at the store's job_marks of the rows it would read:
  the same as at the last read, the jobs last read stand (SQLite; on
  PostgreSQL a heartbeat is not heard: no daemons trigger notifies).
- The jobs page is posted only when it differs from the last one posted,
  or AGES_EVERY seconds later (its ages move on with the clock).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from jobctl.api import Queue
from jobctl.models import State
from jobctl.tui.cells import JobPage

POLL = 0.1  # seconds between data_version checks
# The same when commits wake the poller, for a commit its looks after the
# file event missed: at durability = "full", an fsync slower than 64 ms
# (wakeup.py).  Each look costs the idle dashboard some 0.04% of a core.
WOKEN_POLL = 1.0
MIN_GAP = 0.4  # seconds between reads prompted by a moving database
SLOW_EVERY = 1.0  # seconds between reads of counts, chart and failures
AGES_EVERY = 10.0  # seconds between redraws of an unchanged jobs page
FULL_EVERY = 5.0  # seconds between whole reads of a page whose top only is in sight
HEAD_MARGIN = 20  # rows read beyond those in sight
FAILURES_WINDOW = 3600  # the overview lists failures of the last hour

# The parts each view shows, beyond the counts and the paused queues.
VIEW_PARTS = {
    "overview": ("chart", "failures", "workers"),
    "jobs": ("jobs",),
    "schedules": ("schedules",),
    "workers": ("workers",),
}
SLOW = {"stats", "chart", "failures"}

View = tuple[str | None, str, int | None]  # state filter, text filter, page
NEWEST: View = (None, "", None)  # the newest page of all jobs
MARKS_AFTER = 2 * MIN_GAP  # a read sooner after the last one looks at no marks


class Feed:
    """Reads what the view on screen needs, when it may have changed."""

    def __init__(
        self,
        queue: Queue,
        clock: Callable[[], float],
        read_jobs: Callable[[View, int], JobPage],
        page: int,
        in_sight: Callable[[], int | None] = lambda: None,
    ) -> None:
        self.queue = queue
        self.clock = clock
        self.read_jobs = read_jobs  # the newest `limit` jobs of a view, as the app reads them
        self.page = page  # rows in a page
        self.in_sight = in_sight  # rows from the top of the jobs table the user can see
        self.last_page: tuple[View, JobPage] | None = None  # the last jobs read
        self.full_at = float("-inf")  # when a whole page was last read
        self.fresh = 0.0  # rows from the top read since (inf: all)
        self.seen: dict[str, tuple[Any, ...]] = {}  # part -> (version, view) of its last read
        self.read_at: dict[str, float] = {}  # part -> monotonic time of its last read
        self.every: dict[str, float] = {}  # slow part -> seconds between its reads
        self.last_read = float("-inf")
        self.posted: dict[str, Any] = {}  # part -> what was last posted
        self.jobs_at = float("-inf")  # when the jobs page was last posted
        self.queued: list[str] = []  # queues with queued jobs, from the last counts
        self.reads: Counter[str] = Counter()  # reads of each part, for tests
        self.wake = float("inf")  # when a part held back may be read
        self.version: int | None = None  # data_version at the last look
        self.moved = False  # it moved since the look before
        self.kept: tuple[list[Any], JobPage] | None = None  # job_marks, and the jobs read (_jobs)
        self.jobs_read_at = float("-inf")  # when _jobs was last called

    def wait(self, woken: bool = False) -> float:
        """Seconds until the next look: POLL, or sooner when a part held back
        by MIN_GAP or SLOW_EVERY is ready before then.  `woken`: commits wake
        the caller (Store.watcher), which need not look before WOKEN_POLL."""
        most = WOKEN_POLL if woken else POLL
        return max(0.0, min(most, self.wake - time.monotonic()))

    @property
    def held_back(self) -> bool:
        """A part held back by MIN_GAP is read within MIN_GAP, with whatever
        else changed by then: commits meanwhile need not wake the reader.
        (A slow part held back longer must not hold back a new job.)"""
        return self.wake - time.monotonic() <= MIN_GAP

    def next(self, tab: str, view: View) -> dict[str, Any] | None:
        """The parts to show now, read; None when nothing needs showing."""
        version = self.queue.store.data_version()
        self.moved = version != self.version
        self.version = version
        at = time.monotonic()
        self.wake = float("inf")
        wanted = ("stats", "paused", *VIEW_PARTS.get(tab, ()))
        for part in list(self.seen):
            if part not in wanted:
                # Read at once when its view comes back, not MIN_GAP later.
                del self.seen[part]
                self.posted.pop(part, None)
        due = []
        for part in wanted:
            key = (version, view if part == "jobs" else None)
            last = self.seen.get(part)
            if last == key and not (part == "jobs" and self._sight() > self.fresh):
                continue
            if last is not None and last[1] == key[1]:  # only the database moved
                ready = max(self.last_read + MIN_GAP, self.read_at[part] + self.every.get(part, 0))
                if at < ready:
                    self.wake = min(self.wake, ready)
                    continue
            due.append(part)
        if not due:
            return None
        parts = {"now": self.clock()}
        for part in due:
            started = time.monotonic()
            value = self._read(part, view, parts["now"])
            self.reads[part] += 1
            self.seen[part] = (version, view if part == "jobs" else None)
            self.read_at[part] = started
            if part in SLOW:
                # A slow read (the counts at a million jobs) comes less often:
                # it takes at most a twentieth of the time.
                self.every[part] = max(SLOW_EVERY, 20 * (time.monotonic() - started))
            ages_due = part == "jobs" and at - self.jobs_at >= AGES_EVERY
            if value != self.posted.get(part) or ages_due:
                self.posted[part] = parts[part] = value
                if part == "jobs":
                    self.jobs_at = at
        if len(parts) == 1:
            return None
        # The gap follows a read that changed the screen: one that found
        # nothing new (a heartbeat's) does not hold back the next.
        self.last_read = at
        return parts

    def _sight(self) -> int:
        return self.in_sight() or self.page

    def _read_page(self, view: View) -> JobPage:
        """The page of `view`: its top only, the rest as last read, when the
        top is all the user sees (see the module's docstring)."""
        at = time.monotonic()
        rows = self._sight() + HEAD_MARGIN
        last = self.last_page
        if (
            view[2] is not None  # an older page
            or rows >= self.page
            or last is None
            or last[0] != view
            or at - self.full_at >= FULL_EVERY
        ):
            jobs = self._jobs(view, self.page)
            self.full_at, self.fresh = at, float("inf")
        else:
            jobs = head = self._jobs(view, rows)
            self.fresh = rows
            if len(head) == rows:  # older jobs there: those last read
                older = [job for job in last[1] if job.id < head[-1].id]
                jobs = JobPage([*head, *older][: self.page])
                was = last[1].why
                jobs.why = {job.id: was[job.id] for job in older if job.id in was} | head.why
        self.last_page = (view, jobs)
        return jobs

    def _jobs(self, view: View, limit: int) -> JobPage:
        """read_jobs(view, limit); on the newest page of all jobs, the jobs
        last read instead (as many) when the store's job_marks show that
        none of them changed and no new one came (see the module's docstring).

        The marks are read before the jobs: a change between the two reads
        makes the next marks differ, never hides itself.  Jobs with queued
        ones among them are not kept: why those wait changes with other tables."""
        last_at, self.jobs_read_at = self.jobs_read_at, time.monotonic()
        if view != NEWEST or self.jobs_read_at - last_at < MARKS_AFTER:
            # Jobs coming in: the marks would differ, a query for nothing.
            self.kept = None
            return self.read_jobs(view, limit)
        marks = self.queue.store.job_marks(limit)
        if marks is not None and self.kept is not None:
            kept_marks, kept_jobs = self.kept
            if len(kept_marks) >= len(marks) and kept_marks[: len(marks)] == marks:
                self.reads["kept"] += 1
                jobs = JobPage(kept_jobs[: len(marks)])
                jobs.why = {}
                return jobs
        jobs = self.read_jobs(view, limit)
        queued = any(job.state is State.QUEUED for job in jobs)
        self.kept = None if marks is None or queued else (marks, jobs)
        return jobs

    def _read(self, part: str, view: View, now: float) -> Any:
        queue = self.queue
        if part == "jobs":
            jobs = self._read_page(view)
            # What a queued job waits for may change while the job does not.
            return view, jobs, getattr(jobs, "why", None)
        if part == "stats":
            stats = queue.stats()
            self.queued = sorted(q for q, per in stats.items() if per.get("queued"))
            return stats
        if part == "paused":  # and each queue's parallel limit, stored beside the flag
            return set(queue.paused_queues()), queue.parallel_limits()
        if part == "chart":
            return queue.finished_per_minute(60)
        if part == "failures":
            since = now - FAILURES_WINDOW
            failed = queue.list(state="failed", limit=50)
            return [job for job in failed if job.finished_at and job.finished_at >= since][:20]
        if part == "workers":
            return queue.workers()
        if part == "schedules":
            return queue.schedules()
        raise ValueError(part)
