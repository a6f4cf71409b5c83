"""Schedule math: when a `cron` or `every` type is due.  Pure: `now` is a parameter.

Times are Unix seconds (UTC) in and out.  Cron expressions are matched on
the wall clock of the schedule's time zone, then each wall time becomes an
instant:
- a wall time that a daylight-saving change repeats (fall back) is its first
  occurrence, so it fires once (croniter 7, given aware datetimes, fires a
  daily 02:30 twice on such a day: it never sees them here);
- a wall time that a change skips (spring forward) fires at the next valid
  instant, the end of the gap (02:30 on a 02:00->03:00 day fires at 03:00);
- due times only ever increase: two wall times that land on one instant fire
  once.
`every` due times are multiples of the interval since the Unix epoch, so
every daemon computes the same ones and they never drift with how late a
daemon woke up.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from jobctl.cron_syntax import croniter_form
from jobctl.models import JobType

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

    @property
    def expression(self) -> str:
        return self.cron if self.cron is not None else f"every {_interval(self.every or 0)}"

    def next_after(self, moment: float) -> float:
        """The first due time strictly after `moment`."""
        if self.every is not None:
            return (moment // self.every + 1) * self.every
        return next(self._cron_after(moment))

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
        """Due instants strictly after `moment` (increasing), or at or before it (decreasing)."""
        from croniter import croniter

        zone = ZoneInfo(self.zone)
        # As croniter spells it: `5L` (the last Friday) is its `L5`.
        expression, seconds_first = croniter_form(self.cron or "")
        # Start an hour off on the wall clock: during a repeated hour the wall
        # clock runs backwards, and a match there must not be missed.
        wall = datetime.fromtimestamp(moment, zone).replace(tzinfo=None)
        wall += timedelta(hours=-1 if forward else 1)
        matches = croniter(expression, wall, second_at_beginning=seconds_first)
        step = matches.get_next if forward else matches.get_prev
        last = moment if forward else moment + 1e-6
        while True:
            instant = _instant(step(datetime), zone)
            if (instant > last) if forward else (instant < last):
                last = instant
                yield instant


def _interval(seconds: float) -> str:
    """An `every` as written: 30s, 5m, 1h, 1d, 250ms."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds * 1000:g}ms"


def _instant(wall: datetime, zone: ZoneInfo) -> float:
    """The instant a naive wall time of `zone` stands for (see the module docstring)."""
    first = wall.replace(tzinfo=zone, fold=0)
    instant = first.timestamp()
    if datetime.fromtimestamp(instant, zone).replace(tzinfo=None) == wall:
        return instant  # exists (in a repeated hour, fold=0 is the first occurrence)
    # Skipped by a change: the next valid instant is the end of the gap, the
    # moment the offset changes, between the fold=1 and fold=0 readings.
    low = wall.replace(tzinfo=zone, fold=1).timestamp()
    high = instant
    low, high = min(low, high), max(low, high)
    before = datetime.fromtimestamp(low, zone).utcoffset()
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == before:
            low = middle
        else:
            high = middle
    return float(high)


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
