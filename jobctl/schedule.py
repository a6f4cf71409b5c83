"""Schedule math: when a `cron` or `every` type is due.  Pure: `now` is a parameter.

Times are Unix seconds (UTC) in and out.  Cron expressions are matched on
the wall clock of the schedule's time zone (croniter sees naive wall times
only), then each wall time becomes instants as Debian's cron runs jobs
across clock changes (cron(8), "Special considerations exist when the clock
is changed by less than 3 hours"; cron.c's find_jobs(doWild, doNonWild)):
- a "wildcard" job, its minute or hour field starting with `*`
  (`*/15 * * * *`, `0 * * * *`, @hourly: cron_syntax.wildcard_job()), runs
  on the new wall clock: a wall time repeated when clocks go back fires in
  both copies, one skipped when they go forward does not fire at all;
- any other job runs at fixed times: a repeated wall time fires once, in the
  first copy, and the matches a gap skips fire once, at its end (02:30 on a
  02:00->03:00 day fires at 03:00);
- Debian's limits, which only odd historical zone changes reach: a gap under
  5 minutes fires everything in it at its end (cron catches up minute by
  minute); a gap of 3 hours or more fires nothing in it, and a repetition
  of more than 3 hours fires everything in both copies (no daylight-saving
  change: everything runs on the new clock);
- due times only ever increase: two wall times that land on one instant fire
  once.
`every` due times are multiples of the interval since the Unix epoch, so
every daemon computes the same ones and they never drift with how late a
daemon woke up.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from jobctl.cron_syntax import croniter_form, wildcard_job
from jobctl.models import JobType

# Debian's thresholds for a change of the wall clock (cron.c, main loop, in
# minutes): a gap under 5 minutes is caught up minute by minute, every job;
# a gap of 3 hours or more, or a repetition of more than 3, is no
# daylight-saving change ("time has changed a *lot*": everything runs on the
# new clock).
SMALL_GAP = 5 * 60.0
BIG_CHANGE = 3 * 3600.0

# A due time at most this late is on time; older ones were missed, and
# catch_up decides about them (systemd's timers are accurate to a minute too).
LATE_GRACE = 60.0


class Schedule:
    """The due times of one scheduled job type."""

    def __init__(self, job_type: JobType, host_zone: str | None = None) -> None:
        self.name = job_type.name
        self.cron = job_type.cron
        self.every = job_type.every
        self.zone = job_type.timezone or host_zone or _host_zone()
        self.catch_up = job_type.catch_up
        self.catch_up_limit = job_type.catch_up_limit
        self.overlap = job_type.overlap
        # Debian's "wildcard" job: runs in both copies of a repeated hour.
        self.wildcard = self.cron is not None and wildcard_job(self.cron)

    @property
    def expression(self) -> str:
        return self.cron if self.cron is not None else f"every {_interval(self.every or 0)}"

    def next_after(self, moment: float) -> float:
        """The first due time strictly after `moment`."""
        if self.every is not None:
            return (moment // self.every + 1) * self.every
        return next(self._cron_after(moment))

    def next_or_none(self, moment: float) -> float | None:
        """next_after(), or None when the engine cannot compute it (a schedule set aside)."""
        try:
            return self.next_after(moment)
        except Exception:
            return None

    def due_between(self, after: float, until: float) -> list[float]:
        """Every due time in (after, until], oldest first."""
        times = []
        moment = self.next_after(after)
        while moment <= until:
            times.append(moment)
            moment = self.next_after(moment)
        return times

    def to_enqueue(self, last_due: float | None, now: float) -> tuple[list[float], float | None]:
        """(due times to enqueue now, the new last_due) under the catch_up policy.

        With no last_due (a schedule seen for the first time) nothing is
        owed: the first run is the next due time after now.  The latest due
        time is on time if at most LATE_GRACE old; older ones were missed
        (the host was off, no daemon ran, the clock jumped): "skip" drops
        them, "once" runs the latest of everything owed once, "all" runs
        them all, at most catch_up_limit (the most recent).
        """
        if last_due is None:
            return [], now
        if now - last_due > 3 * 366 * 86400:
            last_due = now - 3 * 366 * 86400  # bound the walk after years offline
        owed = self._owed(last_due, now)
        if not owed:
            return [], last_due
        newest = owed[-1]
        on_time = now - newest <= LATE_GRACE
        if self.catch_up == "skip":
            return ([newest] if on_time else []), newest
        if self.catch_up == "once":
            return [newest], newest
        return owed[-self.catch_up_limit :], newest

    def _owed(self, last_due: float, now: float) -> list[float]:
        limit = self.catch_up_limit if self.catch_up == "all" else 1
        if self.every is not None:
            first = (last_due // self.every + 1) * self.every
            if first > now:
                return []
            count = int((now - first) // self.every) + 1
            start = max(0, count - limit)
            return [first + i * self.every for i in range(start, count)]
        # Walk back from now: however long the outage, at most `limit` steps.
        owed: list[float] = []
        for moment in self._cron_walk(now, forward=False):
            if moment <= last_due or len(owed) == limit:
                break
            owed.append(moment)
        return owed[::-1]

    def _cron_after(self, moment: float) -> Iterator[float]:
        """Due instants strictly after `moment`, increasing."""
        return self._cron_walk(moment, forward=True)

    def _cron_walk(self, moment: float, forward: bool) -> Iterator[float]:
        """Due instants strictly after `moment` (increasing), or at or before it (decreasing).

        croniter walks the wall clock; each wall time stands for no, one or
        two due instants (_due).  Around a repeated hour they come out of
        order (01:15 EDT, 01:15 EST, 01:30 EDT, ...), so they wait in a heap
        until no wall time still to come can bring an earlier one: walking
        forward, every instant of a later wall time is at least the first
        reading of this one; walking back, at most its last.
        """
        from croniter import croniter

        zone = ZoneInfo(self.zone)
        # As croniter spells it: `5L` (the last Friday) is its `L5`.
        expression, seconds_first = croniter_form(self.cron or "")
        matches = croniter(
            expression, _walk_start(moment, zone, forward), second_at_beginning=seconds_first
        )
        step = matches.get_next if forward else matches.get_prev
        sign = 1 if forward else -1  # the heap's smallest key is the next to yield
        pending: list[float] = []
        last: float | None = None
        while True:
            error = None
            try:
                wall = step(datetime)
            except Exception as exc:  # no further match (CroniterBadDateError)
                error, bound = exc, float("inf")  # what waits comes out first
            else:
                instants, first, final = self._due(wall, zone)
                for instant in instants:
                    heapq.heappush(pending, sign * instant)
                bound = sign * (first if forward else final)
            while pending and pending[0] <= bound:
                instant = sign * heapq.heappop(pending)
                if forward:
                    fresh = instant > moment and (last is None or instant > last)
                else:
                    fresh = instant <= moment and (last is None or instant < last)
                if fresh:
                    last = instant
                    yield instant
            if error is not None:
                raise error

    def _due(self, wall: datetime, zone: ZoneInfo) -> tuple[list[float], float, float]:
        """(the due instants of a matching wall time, its first and last readings).

        The readings bound the instants of every other wall time: a later
        one's are at least this one's first reading, an earlier one's at
        most its last (both the end of the gap, for a wall time in one).
        """
        readings, gap = _readings(wall, zone)
        if gap is not None:
            end, length = gap
            fires = length < SMALL_GAP or (length < BIG_CHANGE and not self.wildcard)
            return ([end] if fires else []), end, end
        first, final = readings[0], readings[-1]
        if final - first <= BIG_CHANGE and not self.wildcard:
            return [first], first, final  # a fixed time repeated: its first copy only
        return readings, first, final


def _interval(seconds: float) -> str:
    """An `every` as written: 30s, 5m, 1h, 1d, 250ms."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds * 1000:g}ms"


def _readings(wall: datetime, zone: ZoneInfo) -> tuple[list[float], tuple[float, float] | None]:
    """The instants a naive wall time of `zone` reads at, earliest first, and the gap.

    One instant, two in a repeated hour (fold=0 is the first copy), or none
    for a wall time a change skips: then the gap is (its end, its length),
    the end being the moment the offset changes, between the fold=1 and
    fold=0 readings.
    """
    first = wall.replace(tzinfo=zone, fold=0).timestamp()
    second = wall.replace(tzinfo=zone, fold=1).timestamp()
    readings = [
        instant
        for instant in sorted({first, second})
        if datetime.fromtimestamp(instant, zone).replace(tzinfo=None) == wall
    ]
    if readings:
        return readings, None
    low, high = min(first, second), max(first, second)
    length = high - low
    before = datetime.fromtimestamp(low, zone).utcoffset()
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == before:
            low = middle
        else:
            high = middle
    return [], (float(high), length)


def _walk_start(moment: float, zone: ZoneInfo, forward: bool) -> datetime:
    """The wall time croniter walks from, so that no due time near `moment` is missed.

    Walking forward, every wall time before the start reads at or before
    `moment`; walking back, every one after it reads after `moment`.  That
    is the wall time of `moment` itself (a second past it, walking back),
    except in a repeated hour, where the wall clock ran backwards: then it
    is where the repetition begins (ends), found to the second.
    """
    wall = datetime.fromtimestamp(moment, zone).replace(tzinfo=None)

    def start(seconds: float) -> datetime:
        if forward:
            return wall - timedelta(seconds=seconds)
        return wall + timedelta(seconds=seconds + 1)

    def far_enough(seconds: float) -> bool:
        readings, gap = _readings(start(seconds), zone)
        if forward:
            return (readings[-1] if readings else gap[0]) <= moment  # type: ignore[index]
        return (readings[0] if readings else gap[0]) > moment  # type: ignore[index]

    near = 0.0
    for hours in (0, 1, 3, 6, 12, 25, 49):
        if far_enough(hours * 3600.0):
            far = hours * 3600.0
            break
        near = hours * 3600.0
    else:
        return start(near)
    while far - near > 1:  # the readings only grow with the wall time: bisect
        middle = (near + far) / 2
        if far_enough(middle):
            far = middle
        else:
            near = middle
    return start(far)


@lru_cache(maxsize=1)
def _host_zone() -> str:
    """The host's IANA zone name: $TZ, else /etc/localtime's link, else UTC."""
    import os

    named = os.environ.get("TZ", "").lstrip(":")
    if named:
        return named
    try:
        target = os.path.realpath("/etc/localtime")
    except OSError:
        return "UTC"
    marker = "zoneinfo/"
    return target.split(marker, 1)[1] if marker in target else "UTC"


def iso_local(moment: float, zone: str) -> str:
    return datetime.fromtimestamp(moment, ZoneInfo(zone)).isoformat(timespec="seconds")


def utc(moment: float) -> datetime:
    return datetime.fromtimestamp(moment, UTC)
