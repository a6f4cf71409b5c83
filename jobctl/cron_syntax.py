"""Checks a cron expression's syntax without croniter.

`jobctl add` and `jobctl check` validate every schedule in jobs.toml, and
`add` must stay fast, so this small parser stands between the config and
croniter (which only the daemon's scheduler imports).  It accepts what the
scheduler can run: 5 fields, or 6 with seconds first (node-cron, NestJS),
`*`, `?`, numbers, month and weekday names, ranges, steps and lists, and the
@hourly/@daily/@weekly/@monthly/@yearly shorthands.
"""

from __future__ import annotations

ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

# field: (lowest, highest, names standing for lowest, lowest+1, ...)
_FIELDS = {
    "second": (0, 59, None),
    "minute": (0, 59, None),
    "hour": (0, 23, None),
    "day-of-month": (1, 31, None),
    "month": (1, 12, _MONTHS),
    "day-of-week": (0, 7, _DAYS),
}
_FIVE = ["minute", "hour", "day-of-month", "month", "day-of-week"]


def cron_error(expression: str) -> str | None:
    """Why `expression` is not a valid cron expression, or None when it is."""
    text = expression.strip()
    if text.startswith("@"):
        if text.lower() in ALIASES:
            return None
        known = ", ".join(a for a in ALIASES if a not in ("@annually", "@midnight"))
        return f'cron "{expression}": unknown shorthand {text} (use {known})'
    parts = text.split()
    if len(parts) not in (5, 6):
        return f'cron "{expression}": has {len(parts)} fields, expected 5 (or 6 with seconds first)'
    names = _FIVE if len(parts) == 5 else ["second", *_FIVE]
    for name, part in zip(names, parts, strict=True):
        problem = _field_error(name, part)
        if problem:
            return f'cron "{expression}": {problem}'
    fields = dict(zip(names, parts, strict=True))
    if fields["day-of-week"] in ("*", "?") and not _some_day_exists(
        _expand("day-of-month", fields["day-of-month"]), _expand("month", fields["month"])
    ):
        return f'cron "{expression}": names no day that exists in its months, so it never fires'
    return None


_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # February of a leap year


def _some_day_exists(days: set[int], months: set[int]) -> bool:
    return any(day <= _DAYS_IN_MONTH[month - 1] for day in days for month in months)


def _expand(name: str, text: str) -> set[int]:
    """The values a field (already checked by _field_error) stands for."""
    low, high, words = _FIELDS[name]
    values: set[int] = set()
    for item in text.split(","):
        base, _, step = item.partition("/")
        if base in ("*", "?"):
            start, end = low, high
        else:
            first, dash, last = base.partition("-")
            start = _value(first, low, words) or low
            end = (_value(last, low, words) or low) if dash else (high if step else start)
        values.update(range(start, end + 1, int(step) if step else 1))
    return values


def _field_error(name: str, text: str) -> str | None:
    low, high, words = _FIELDS[name]
    for item in text.split(","):
        base, slash, step = item.partition("/")
        if slash:
            if not _digits(step):
                return f"{name} step {step!r} is not a number"
            if int(step) == 0:
                return f"{name} step 0 is not allowed"
        if base in ("*", "?"):
            if base == "?" and name not in ("day-of-month", "day-of-week"):
                return f"{name} cannot be ?"
            continue
        start, dash, end = base.partition("-")
        values = []
        for token in (start, end) if dash else (start,):
            value = _value(token, low, words)
            if value is None:
                return f"{name} {token!r} is not a number" + (
                    f" or a name ({words[0]}…{words[-1]})" if words else ""
                )
            if not low <= value <= high:
                return f"{name} {value} is out of range {low}-{high}"
            values.append(value)
        if dash and values[0] > values[1]:
            return f"{name} range {base} runs backwards"
    return None


def _digits(token: str) -> bool:
    """0-9 only: str.isdigit() also takes other scripts' digits (٣), which croniter refuses."""
    return token.isascii() and token.isdigit()


def _value(token: str, low: int, words: list[str] | None) -> int | None:
    if _digits(token):
        return int(token)
    if words and token.lower() in words:
        return words.index(token.lower()) + low
    return None
