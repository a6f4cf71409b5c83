"""Checks a cron expression's syntax without croniter.

`jobctl add` and `jobctl check` validate every schedule in jobs.toml, and
`add` must stay fast, so this small parser stands between the config and
croniter (which only the daemon's scheduler imports).  It accepts what the
scheduler can run: 5 fields, or 6 with seconds first (node-cron, NestJS),
`*`, `?`, numbers, month and weekday names, ranges, steps and lists, the
@hourly/@daily/@weekly/@monthly/@yearly (@annually, @midnight) shorthands,
and four specials:
- `L` in the day of the month: its last day (croniter's `L`);
- `15W` in the day of the month: the weekday (Monday to Friday) nearest the
  15th, never in another month (Quartz's `W`, which croniter runs);
- `5L` in the day of the week: the month's last Friday (croniter spells it
  `L5`: croniter_form() translates);
- `1#2` in the day of the week: the month's second Monday (1 to 5).
A `5L` or `1#2` stands alone, or in a list of such (`1#1,1#3`), with the day
of the month `*` or `?`: croniter would otherwise ignore the day of the month
(or fail when none of its days is such a weekday), nothing like cron's "either
field" rule.  A `15W` stands alone, with the day of the week `*` or `?`
(croniter ignores the day of the week beside it), and takes a day from 1 to
28: crons differ on what `31W` means in a 30-day month.  `LW` (the last
weekday) is refused: croniter cannot run it; so is `?` in a list (`?,29`).
None of them can keep an
expression from ever firing: `L` and `15W` are in every month, and every month
has a fifth Monday (or any weekday) in some year: February only in a leap
year whose February 1 is a Monday, at most 40 years apart, within croniter's
50-year search.

What the validator reads and what croniter runs must be one schedule:
croniter_form() hands croniter every range and step that does not start with
`*` as the list of values this module reads in it, because croniter reads
some of them otherwise (`1-1` and `mon-mon` as the whole field, `7/2` in the
day of the week as 0,2,4,6 where cron means Sunday).
tests/test_cron_agreement.py holds the two to that.
"""

from __future__ import annotations

import re

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
# Fields are split on ASCII whitespace only, as croniter does: "0\u00a00" is
# one (bad) field, not two.
_FIELD = re.compile(r"\S+", re.ASCII)
_LAST = ("l", "L")


def cron_error(expression: str) -> str | None:
    """Why `expression` is not a valid cron expression, or None when it is."""
    text = expression.strip()
    if text.startswith("@"):
        if text.lower() in ALIASES:
            return None
        known = ", ".join(a for a in ALIASES if a not in ("@annually", "@midnight"))
        return f'cron "{expression}": unknown shorthand {text} (use {known})'
    parts = _FIELD.findall(text)
    if len(parts) not in (5, 6):
        return f'cron "{expression}": has {len(parts)} fields, expected 5 (or 6 with seconds first)'
    names = _FIVE if len(parts) == 5 else ["second", *_FIVE]
    for name, part in zip(names, parts, strict=True):
        problem = _field_error(name, part)
        if problem:
            return f'cron "{expression}": {problem}'
    fields = dict(zip(names, parts, strict=True))
    day, weekday = fields["day-of-month"], fields["day-of-week"]
    if _special_weekdays(weekday) and day not in ("*", "?"):
        return (
            f'cron "{expression}": day-of-month {day} cannot be combined with'
            f" day-of-week {weekday} (make day-of-month *)"
        )
    if _nearest_weekday(day) and weekday not in ("*", "?"):
        return (
            f'cron "{expression}": day-of-month {day} cannot be combined with'
            f" day-of-week {weekday} (make day-of-week *)"
        )
    if (
        weekday in ("*", "?")
        and not _nearest_weekday(day)
        and not any(item in _LAST for item in day.split(","))
        and not _some_day_exists(_expand("day-of-month", day), _expand("month", fields["month"]))
    ):
        return f'cron "{expression}": names no day that exists in its months, so it never fires'
    return None


def croniter_form(expression: str) -> tuple[str, bool]:
    """(the text croniter runs, whether seconds come first) for a valid expression."""
    text = expression.strip()
    parts = _FIELD.findall(ALIASES.get(text.lower(), text))
    names = _FIVE if len(parts) == 5 else ["second", *_FIVE]
    for index, (name, part) in enumerate(zip(names, parts, strict=True)):
        if name == "day-of-week" and _special_weekdays(part):
            parts[index] = ",".join(_special_weekday(item)[1] for item in part.split(","))
        elif not (name == "day-of-month" and _nearest_weekday(part)):
            parts[index] = ",".join(_as_listed(name, item) for item in part.split(","))
    return " ".join(parts), len(parts) == 6


def wildcard_job(expression: str) -> bool:
    """Whether Debian's cron runs a valid expression as a "wildcard" job.

    cron(8), "Special considerations exist when the clock is changed by less
    than 3 hours": a job whose minute or hour field starts with `*` (entry.c
    sets MIN_STAR or HR_STAR on the field's first character; `@hourly` sets
    HR_STAR) runs on the new wall clock, so in both copies of a repeated hour
    and never inside a skipped one; any other job runs at fixed times: once
    when they repeat, at the end of the gap when they are skipped.  With six
    fields the minute and the hour are the second and third.
    """
    text = expression.strip()
    if text.startswith("@"):
        return text.lower() == "@hourly"
    parts = _FIELD.findall(text)
    if len(parts) not in (5, 6):
        return False
    minute, hour = parts[len(parts) - 5 : len(parts) - 3]
    return minute.startswith("*") or hour.startswith("*")


def _as_listed(name: str, item: str) -> str:
    """A range or step as the list of values it stands for here (see the module docstring)."""
    if item.startswith("*") or item in _LAST or not ("-" in item or "/" in item):
        return item
    values = _expand(name, item)
    if name == "day-of-week":
        values = {value % 7 for value in values}  # croniter's Sunday is 0
    return ",".join(str(value) for value in sorted(values))


_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # February of a leap year


def _some_day_exists(days: set[int], months: set[int]) -> bool:
    return any(day <= _DAYS_IN_MONTH[month - 1] for day in days for month in months)


def _expand(name: str, text: str) -> set[int]:
    """The values a field (already checked by _field_error) stands for."""
    low, high, words = _FIELDS[name]
    values: set[int] = set()
    for item in text.split(","):
        if item in _LAST:
            continue  # the last day: in every month
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
    if name == "day-of-week" and _special_weekdays(text):
        return _special_weekdays_error(text)
    if name == "day-of-month" and _nearest_weekday(text):
        return _nearest_weekday_error(text)
    for item in text.split(","):
        if name == "day-of-month" and item in _LAST:
            continue
        if name == "day-of-month" and ("l" in item or "L" in item) and ("-" in item or "/" in item):
            return f"day-of-month {item}: L (the last day) stands alone, not in a range or step"
        base, slash, step = item.partition("/")
        if slash:
            if not _digits(step):
                return f"{name} step {step!r} is not a number"
            if int(step) == 0:
                return f"{name} step 0 is not allowed"
        if base in ("*", "?"):
            if base == "?" and name not in ("day-of-month", "day-of-week"):
                return f"{name} cannot be ?"
            if base == "?" and text != "?":  # croniter refuses ?,29 and ?/2
                return f"{name} {text}: ? stands alone (it means any day)"
            continue
        start, dash, end = base.partition("-")
        values = []
        for token in (start, end) if dash else (start,):
            value = _value(token, low, words)
            if value is None:
                hint = " or L" if name == "day-of-month" else ""
                if words:
                    hint = f" or a name ({words[0]}…{words[-1]})"
                return f"{name} {token!r} is not a number{hint}"
            if not low <= value <= high:
                return f"{name} {value} is out of range {low}-{high}"
            values.append(value)
        if dash and values[0] > values[1]:
            return f"{name} range {base} runs backwards"
    return None


def _nearest_weekday(text: str) -> bool:
    """Whether a day-of-month field has a `15W` (the weekday nearest the 15th) item."""
    return "w" in text or "W" in text


def _nearest_weekday_error(text: str) -> str | None:
    if "," in text:
        return f"day-of-month {text}: W takes one day, not a list (15W)"
    if text in ("LW", "lw", "Lw", "lW"):
        return "day-of-month LW: the last weekday (LW) is not supported (croniter cannot run it)"
    if "-" in text or "/" in text:
        return f"day-of-month {text}: W takes one day, not a range or step (15W)"
    day, mark = text[:-1], text[-1:]
    if mark not in ("w", "W"):
        hint = f" ({text[1:]}W)" if text[:1] in ("w", "W") and _digits(text[1:]) else ""
        return f"day-of-month {text}: put the day before W{hint}"
    if not day:
        return f"day-of-month {text}: W needs a day before it (15W: the weekday nearest the 15th)"
    if not _digits(day):
        return f"day-of-month {text}: {day!r} is not a number (15W: the weekday nearest the 15th)"
    value = int(day)
    if not 1 <= value <= 31:
        return f"day-of-month {text}: {value} is out of range 1-31"
    if value > 28:
        return (
            f"day-of-month {text}: W takes a day from 1 to 28"
            f" (not every month has a {value}{'st' if value == 31 else 'th'})"
        )
    return None


def _special_weekdays(text: str) -> bool:
    """Whether a day-of-week field has a `5L` or `1#2` item."""
    return any(_special(item) for item in text.split(","))


def _special(item: str) -> bool:
    return "#" in item or "l" in item or "L" in item  # no weekday name has an L


def _special_weekdays_error(text: str) -> str | None:
    items = text.split(",")
    for item in items:
        if not _special(item):
            return f"day-of-week {text}: {item} cannot be listed with 5L or 1#2 days"
    for item in items:
        problem = _special_weekday(item)[0]
        if problem:
            return problem
    return None


def _special_weekday(item: str) -> tuple[str | None, str]:
    """(why a `5L` or `1#2` item is wrong or None, croniter's spelling of it)."""
    low, high, words = _FIELDS["day-of-week"]
    if "-" in item or "/" in item:
        return f"day-of-week {item}: # and L take one weekday, not a range or step", ""
    day, hash_, nth = item.partition("#")
    if hash_:
        if not day:
            return f"day-of-week {item}: needs a weekday before # (1#2 is the second Monday)", ""
        if not _digits(nth) or nth.lstrip("0") not in ("1", "2", "3", "4", "5"):
            return f"day-of-week {item}: the week after # must be 1 to 5", ""
    elif item in _LAST:
        return f"day-of-week {item}: L needs a weekday before it (5L is the last Friday)", ""
    elif item[-1:] in _LAST:
        day = item[:-1]
    else:
        hint = f" ({item[1:]}L)" if _value(item[1:], low, words) is not None else ""
        return f"day-of-week {item}: put the weekday before L{hint}", ""
    value = _value(day, low, words)
    if value is None:
        return f"day-of-week {item}: {day!r} is not a number or a name (sun…sat)", ""
    if not low <= value <= high:
        return f"day-of-week {item}: {value} is out of range {low}-{high}", ""
    return None, f"{value}#{nth.lstrip('0')}" if hash_ else f"L{value}"


def _digits(token: str) -> bool:
    """0-9 only: str.isdigit() also takes other scripts' digits (٣), which croniter refuses."""
    return token.isascii() and token.isdigit()


def _value(token: str, low: int, words: list[str] | None) -> int | None:
    if _digits(token):
        return int(token)
    if words and token.lower() in words:
        return words.index(token.lower()) + low
    return None
