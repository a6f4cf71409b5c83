"""Durations ("30s", "5m", "1h30m") and points in time ("14:30", ISO 8601).

Pure functions: the current time is always a parameter.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo

from jobctl.errors import InputError

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
DURATION_HINT = "use 30s, 5m, 2h"


def parse_duration(text: str | int | float, what: str = "duration") -> float:
    """Seconds in `text`: "30s", "5m", "1h30m", "250ms", "2d"; a bare number is seconds."""
    if isinstance(text, bool):
        raise InputError(f"{what}: {text!r} is not a duration ({DURATION_HINT})")
    if isinstance(text, int | float):
        if text < 0:
            raise InputError(f"{what}: {text} is negative")
        return float(text)
    spec = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", spec):
        return float(spec)
    pos, total = 0, 0.0
    for match in _PART.finditer(spec):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(spec) or not spec:
        raise InputError(f'{what}: "{text}" is not a duration ({DURATION_HINT})')
    return total


def format_duration(seconds: float) -> str:
    """A short human form: 850ms, 42s, 5m03s, 2h05m, 3d04h."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{seconds:.0f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def parse_at(text: str, now: datetime, local_tz: tzinfo | None = None) -> datetime:
    """The moment `text` names, as an aware UTC datetime.

    "HH:MM" (or "HH:MM:SS") is the next such local wall-clock time: today if it
    is still ahead, else tomorrow, as `at 14:30` reads it.  Anything else must
    be ISO 8601; without an offset it is local time.  `local_tz` None means the
    host's zone.
    """
    spec = text.strip()
    if re.fullmatch(r"\d{1,2}:\d{2}(:\d{2})?", spec):
        fields = [int(part) for part in spec.split(":")]
        if fields[0] > 23 or fields[1] > 59 or (len(fields) == 3 and fields[2] > 59):
            raise InputError(f'--at: "{text}" is not a time of day (use HH:MM)')
        today = now.astimezone(local_tz).date()
        for day in (today, today + timedelta(days=1)):
            candidate = _localize(datetime(day.year, day.month, day.day, *fields), local_tz)
            if candidate > now:
                return candidate.astimezone(UTC)
    try:
        moment = datetime.fromisoformat(spec)
    except ValueError:
        raise InputError(
            f'--at: "{text}" is not a time (use HH:MM or ISO 8601 like 2026-12-01T09:00)'
        ) from None
    if moment.tzinfo is None:
        moment = _localize(moment, local_tz)
    return moment.astimezone(UTC)


def _localize(naive: datetime, local_tz: tzinfo | None) -> datetime:
    """Attach the local zone to a wall-clock time."""
    if local_tz is None:
        # astimezone() on a naive datetime reads it as the host's local time,
        # with the DST offset in force on that date.
        return naive.astimezone()
    return naive.replace(tzinfo=local_tz)
