"""Pure parsing: durations, points in time, cron syntax."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from jobctl.cron_syntax import cron_error
from jobctl.durations import format_duration, parse_at, parse_duration
from jobctl.errors import InputError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1h30m", 5400), ("250ms", 0.25), ("2d", 172800), ("12", 12),
     (" 1.5h ", 5400), (7, 7)],
)  # fmt: skip
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["5 minutes", "", "m5", "5x", "-3s", "1h 30m", True])
def test_bad_durations(text: str) -> None:
    with pytest.raises(InputError, match="not a duration"):
        parse_duration(text)


def test_format_duration() -> None:
    assert [format_duration(s) for s in (0.25, 5, 42, 303, 7500, 90000)] == [
        "250ms", "5.0s", "42s", "5m03s", "2h05m", "1d01h",
    ]  # fmt: skip


BERLIN = ZoneInfo("Europe/Berlin")


def test_at_hh_mm_is_the_next_such_local_time() -> None:
    now = datetime(2026, 11, 24, 13, 0, tzinfo=UTC)  # 14:00 in Berlin
    assert parse_at("15:30", now, BERLIN) == datetime(2026, 11, 24, 14, 30, tzinfo=UTC)
    assert parse_at("09:00", now, BERLIN) == datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def test_at_iso_with_and_without_offset() -> None:
    now = datetime(2026, 11, 24, tzinfo=UTC)
    assert parse_at("2026-12-01T09:00", now, BERLIN) == datetime(2026, 12, 1, 8, tzinfo=UTC)
    plus2 = timezone(timedelta(hours=2))
    assert parse_at("2026-12-01T09:00+02:00", now, BERLIN) == datetime(2026, 12, 1, 9, tzinfo=plus2)


@pytest.mark.parametrize("text", ["25:00", "12:60", "tomorrow", "2026-13-01"])
def test_bad_at(text: str) -> None:
    with pytest.raises(InputError):
        parse_at(text, datetime(2026, 11, 24, tzinfo=UTC), BERLIN)


@pytest.mark.parametrize(
    "expr",
    ["*/15 * * * *", "0 2 * * *", "30 2 * * 1-5", "0 0 1 jan,jul *", "*/10 * * * * *",
     "0 9 * * mon-fri", "@daily", "@hourly", "@weekly", "@monthly", "@yearly", "0 0 ? * *"],
)  # fmt: skip
def test_valid_cron(expr: str) -> None:
    assert cron_error(expr) is None


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("61 * * * *", 'cron "61 * * * *": minute 61 is out of range 0-59'),
        ("* 24 * * *", "hour 24 is out of range 0-23"),
        ("* * 0 * *", "day-of-month 0 is out of range 1-31"),
        ("* * * 13 *", "month 13 is out of range 1-12"),
        ("* * * *", "has 4 fields, expected 5"),
        ("*/0 * * * *", "step"),
        ("@often", "@often"),
        ("70 * * * * *", "second 70 is out of range 0-59"),
    ],
)
def test_bad_cron_names_the_field(expr: str, message: str) -> None:
    error = cron_error(expr)
    assert error is not None and message in error, error
