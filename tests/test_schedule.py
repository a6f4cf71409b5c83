"""Schedule math with an injected clock: no waiting, no daemon."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from jobctl.models import JobType
from jobctl.schedule import LATE_GRACE, Schedule

BERLIN = "Europe/Berlin"


def at(text: str, zone: str = "UTC") -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp()


def wall(moment: float, zone: str = "UTC") -> str:
    return datetime.fromtimestamp(moment, ZoneInfo(zone)).isoformat()


def schedule(**fields: object) -> Schedule:
    fields.setdefault("timezone", "UTC")
    return Schedule(JobType(name="t", **fields))


def test_every_15_minutes_fires_96_times_a_day() -> None:
    day = schedule(cron="*/15 * * * *")
    assert len(day.due_between(at("2026-11-24T00:00:00"), at("2026-11-25T00:00:00"))) == 96


@pytest.mark.parametrize(("catch_up", "runs"), [("skip", 0), ("once", 1), ("all", 12)])
def test_after_a_3_hour_outage_catch_up_decides(catch_up: str, runs: int) -> None:
    last_due = at("2026-11-24T10:00:00")
    now = last_due + 3 * 3600 + 300  # five minutes past the last missed due time
    due, new_last = schedule(cron="*/15 * * * *", catch_up=catch_up).to_enqueue(last_due, now)
    assert len(due) == runs
    assert new_last == at("2026-11-24T13:00:00")  # never owed again, whatever ran
    if catch_up == "all":
        assert due == [last_due + 900 * i for i in range(1, 13)]


def test_all_is_bounded_by_catch_up_limit_keeping_the_latest() -> None:
    last_due = at("2026-11-20T00:00:00")
    now = at("2026-11-24T00:00:30")
    due, _ = schedule(cron="0 * * * *", catch_up="all", catch_up_limit=5).to_enqueue(last_due, now)
    assert [wall(t)[11:16] for t in due] == ["20:00", "21:00", "22:00", "23:00", "00:00"]


def test_an_on_time_due_time_runs_even_with_skip() -> None:
    due_time = at("2026-11-24T10:15:00")
    due, last = schedule(cron="*/15 * * * *", catch_up="skip").to_enqueue(
        due_time - 900, due_time + LATE_GRACE / 2
    )
    assert due == [due_time] and last == due_time


def test_a_new_schedule_owes_nothing_and_starts_after_now() -> None:
    now = at("2026-11-24T10:07:00")
    quarter = schedule(cron="*/15 * * * *")
    assert quarter.to_enqueue(None, now) == ([], now)
    assert wall(quarter.next_after(now)) == "2026-11-24T10:15:00+00:00"


def test_nothing_is_owed_before_the_next_due_time() -> None:
    last_due = at("2026-11-24T10:15:00")
    assert schedule(cron="*/15 * * * *").to_enqueue(last_due, last_due + 600) == ([], last_due)


def test_a_time_repeated_by_fall_back_fires_once() -> None:
    # 2026-10-25 in Berlin: 03:00 CEST becomes 02:00 CET, so 02:30 happens twice.
    daily = schedule(cron="30 2 * * *", timezone=BERLIN)
    start = at("2026-10-25T00:00:00", BERLIN)
    fired = daily.due_between(start, start + 86400 + 3600)
    assert [wall(t, BERLIN) for t in fired] == ["2026-10-25T02:30:00+02:00"]


def test_a_time_skipped_by_spring_forward_fires_at_the_next_valid_instant() -> None:
    # 2026-03-29 in Berlin: 02:00 CET becomes 03:00 CEST; 02:30 does not exist.
    daily = schedule(cron="30 2 * * *", timezone=BERLIN)
    start = at("2026-03-29T00:00:00", BERLIN)
    fired = daily.due_between(start, start + 86400 - 3600)
    assert [wall(t, BERLIN) for t in fired] == ["2026-03-29T03:00:00+02:00"]


def test_every_match_inside_the_gap_fires_once_at_its_end() -> None:
    # Fixed times (no * in the minute or hour field): once, at the end of the gap.
    ten = schedule(cron="0,10,20,30,40,50 2 * * *", timezone=BERLIN)
    start = at("2026-03-29T00:00:00", BERLIN)
    assert [wall(t, BERLIN) for t in ten.due_between(start, start + 6 * 3600)] == [
        "2026-03-29T03:00:00+02:00"
    ]
    # `*/10 2` is a wildcard job to Debian's cron: it runs on the new wall
    # clock, which has no 02:xx that day (this test expected 03:00 before).
    wild = schedule(cron="*/10 2 * * *", timezone=BERLIN)
    assert wild.due_between(start, start + 6 * 3600) == []


def test_six_fields_put_seconds_first() -> None:
    tens = schedule(cron="*/10 * * * * *")
    fired = tens.due_between(at("2026-11-24T00:00:00"), at("2026-11-24T00:01:00"))
    assert [wall(t)[17:19] for t in fired] == ["10", "20", "30", "40", "50", "00"]


@pytest.mark.parametrize(
    ("alias", "next_run"),
    [
        ("@hourly", "2026-11-24T11:00:00+00:00"),
        ("@daily", "2026-11-25T00:00:00+00:00"),
        ("@weekly", "2026-11-29T00:00:00+00:00"),
        ("@monthly", "2026-12-01T00:00:00+00:00"),
        ("@yearly", "2027-01-01T00:00:00+00:00"),
    ],
)
def test_shorthands(alias: str, next_run: str) -> None:
    assert wall(schedule(cron=alias).next_after(at("2026-11-24T10:07:00"))) == next_run


def test_every_is_anchored_and_does_not_drift_with_late_wakeups() -> None:
    half_minute = schedule(every=30.0)
    assert wall(half_minute.next_after(at("2026-11-24T10:00:29.9"))) == (
        "2026-11-24T10:00:30+00:00"
    )
    # However late a daemon looks, the due times stay on the same grid.
    due, last = half_minute.to_enqueue(at("2026-11-24T10:00:30"), at("2026-11-24T10:01:47"))
    assert [wall(t)[14:19] for t in due] == ["01:30"] and wall(last)[14:19] == "01:30"


def test_a_clock_jump_forward_is_an_outage() -> None:
    hourly = schedule(cron="0 * * * *", catch_up="skip")
    due, last = hourly.to_enqueue(at("2026-11-24T10:00:00"), at("2026-11-26T10:30:00"))
    assert due == [] and wall(last) == "2026-11-26T10:00:00+00:00"
