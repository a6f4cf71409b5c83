"""Cron across clock changes as Debian's cron runs it (issue 14), with an injected clock.

Debian cron(8): "Special considerations exist when the clock is changed by
less than 3 hours, for example at the beginning and end of daylight savings
time. [...] Only jobs that run at a particular time (not specified as
@hourly, nor with '*' in the hour or minute specifier) are affected. Jobs
which are specified with wildcards are run based on the new time
immediately."  So a job whose minute or hour field starts with `*` fires in
both copies of a repeated hour and never in a skipped one; a job at fixed
times fires once when they repeat, and at the end of the gap when they are
skipped.  No sleeping: Scheduler.tick and the schedule math get the time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_properties import QUICK

from jobctl.config import load_config
from jobctl.models import JobType
from jobctl.schedule import Schedule
from jobctl.scheduler import Scheduler
from jobctl.store import Store

NY = "America/New_York"


def utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def local(moment: float, zone: str = NY) -> str:
    return datetime.fromtimestamp(moment, ZoneInfo(zone)).isoformat()


def zulu(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%H:%MZ")


def schedule(cron: str, zone: str = NY, **fields: object) -> Schedule:
    return Schedule(JobType(name="t", cron=cron, timezone=zone, **fields))


def fired(cron: str, after: str, until: str, zone: str = NY) -> list[str]:
    """Due times in (after, until], both given in UTC, as local wall-clock text."""
    return [local(t, zone) for t in schedule(cron, zone).due_between(utc(after), utc(until))]


# -- the scheduler driven through the night, as the daemon drives it -----------

# 2026-11-01 in New York: at 06:00Z the clocks go from 02:00 EDT (-04:00)
# back to 01:00 EST (-05:00): 01:00-01:59 is lived twice, 05:00Z-05:59Z as
# EDT, 06:00Z-06:59Z as EST.
FALL_BACK = {
    "half": "*/30 * * * *",
    "quarter": "*/15 * * * *",
    "nightly": "30 1 * * *",
    "early": "0 1-5 * * *",
    "hourly": "@hourly",
}
# 2026-03-08 in New York: at 07:00Z the clocks go from 02:00 EST to 03:00 EDT.
SPRING_FORWARD = {
    "quarter": "*/15 * * * *",
    "nightly": "30 2 * * *",
    "wild_two": "*/30 2 * * *",
    "fixed_two": "0,30 2 * * *",
}


def run_night(tmp_path: Path, crons: dict[str, str], start: str, end: str) -> dict[str, list]:
    """Scheduler.tick from `start` to `end` (UTC), woken as the daemon wakes it:
    at each next due time, a couple of seconds late.  {schedule: [due_at]}."""
    text = "".join(
        f'[jobs.{name}]\ncommand = "true"\ncron = "{cron}"\ntimezone = "{NY}"\noverlap = "allow"\n'
        for name, cron in crons.items()
    )
    (tmp_path / "jobs.toml").write_text(text)
    config = load_config(tmp_path / "jobs.toml")
    store = Store.open(tmp_path / "jobs.db")
    lines: list[str] = []
    scheduler = Scheduler(config, tmp_path / "jobs.db", store, log=lines.append)
    try:
        now, stop = utc(start), utc(end)
        while now <= stop:
            wake = scheduler.tick(now)
            assert wake is not None and wake > now
            now = wake + 2
        rows = store.conn.execute(
            "SELECT schedule, due_at FROM jobs WHERE schedule IS NOT NULL ORDER BY due_at"
        ).fetchall()
    finally:
        scheduler.close()
        store.close()
    assert not any("cannot be computed" in line for line in lines), lines
    runs: dict[str, list] = {name: [] for name in crons}
    for name, due in rows:
        runs[name].append(due)
    return runs


def test_the_fall_back_night_in_new_york(tmp_path: Path) -> None:
    # From 00:59 EDT (04:59Z) to 02:01 EST (07:01Z).
    runs = run_night(tmp_path, FALL_BACK, "2026-11-01T04:59:00", "2026-11-01T07:01:00")
    # */30: 01:00 and 01:30 of both copies (four runs in the repeated hour), then 02:00 EST.
    assert [zulu(t) for t in runs["half"]] == ["05:00Z", "05:30Z", "06:00Z", "06:30Z", "07:00Z"]
    assert [local(t) for t in runs["half"]] == [
        "2026-11-01T01:00:00-04:00",
        "2026-11-01T01:30:00-04:00",
        "2026-11-01T01:00:00-05:00",
        "2026-11-01T01:30:00-05:00",
        "2026-11-01T02:00:00-05:00",
    ]
    # */15: eight times in the hour lived twice (05:00Z to 06:45Z), then 02:00 EST.
    assert [zulu(t) for t in runs["quarter"]] == [
        "05:00Z", "05:15Z", "05:30Z", "05:45Z", "06:00Z", "06:15Z", "06:30Z", "06:45Z", "07:00Z",
    ]  # fmt: skip
    # Fixed times fire once, in the first copy.
    assert [local(t) for t in runs["nightly"]] == ["2026-11-01T01:30:00-04:00"]
    assert [local(t) for t in runs["early"]] == [
        "2026-11-01T01:00:00-04:00",
        "2026-11-01T02:00:00-05:00",
    ]
    # @hourly is a wildcard job to Debian's cron (HR_STAR): both 01:00s.
    assert [zulu(t) for t in runs["hourly"]] == ["05:00Z", "06:00Z", "07:00Z"]


def test_the_spring_forward_night_in_new_york(tmp_path: Path) -> None:
    # From 01:00 EST (06:00Z) to 03:31 EDT (07:31Z); 02:00-02:59 does not exist.
    runs = run_night(tmp_path, SPRING_FORWARD, "2026-03-08T06:00:00", "2026-03-08T07:31:00")
    assert [local(t) for t in runs["quarter"]] == [
        "2026-03-08T01:15:00-05:00",
        "2026-03-08T01:30:00-05:00",
        "2026-03-08T01:45:00-05:00",
        "2026-03-08T03:00:00-04:00",  # nothing in the gap: 03:00 is the next match
        "2026-03-08T03:15:00-04:00",
        "2026-03-08T03:30:00-04:00",
    ]
    # A fixed 02:30 fires once, right at the end of the gap: 03:00 EDT, 07:00Z.
    assert [local(t) for t in runs["nightly"]] == ["2026-03-08T03:00:00-04:00"]
    assert [zulu(t) for t in runs["nightly"]] == ["07:00Z"]
    assert [local(t) for t in runs["fixed_two"]] == ["2026-03-08T03:00:00-04:00"]
    # `*/30 2` is a wildcard job: the new clock has no 02:xx that night.
    assert runs["wild_two"] == []


@pytest.mark.parametrize(
    ("catch_up", "expected"),
    [
        ("all", ["05:00Z", "05:15Z", "05:30Z", "05:45Z", "06:00Z", "06:15Z", "06:30Z", "06:45Z",
                 "07:00Z"]),
        ("once", ["07:00Z"]),
        ("skip", []),
    ],
)  # fmt: skip
def test_catch_up_after_sleeping_through_the_repeated_hour(
    catch_up: str, expected: list[str]
) -> None:
    # The daemon last fired 00:45 EDT and looks again at 02:10 EST: what is owed
    # is what it would have fired awake, both copies of the hour included.
    quarter = schedule("*/15 * * * *", catch_up=catch_up)
    due, last = quarter.to_enqueue(utc("2026-11-01T04:45:00"), utc("2026-11-01T07:10:00"))
    assert [zulu(t) for t in due] == expected
    assert zulu(last) == "07:00Z"
    # A fixed time owes its one run.
    nightly = schedule("30 1 * * *", catch_up="all")
    due, _ = nightly.to_enqueue(utc("2026-10-31T05:30:00"), utc("2026-11-01T07:10:00"))
    assert [local(t) for t in due] == ["2026-11-01T01:30:00-04:00"]


def test_a_daemon_waking_in_the_second_copy_owes_only_wildcard_runs() -> None:
    # Last fired 01:45 EDT (05:45Z); it is now 01:20 EST (06:20Z).
    quarter = schedule("*/15 * * * *", catch_up="all")
    due, _ = quarter.to_enqueue(utc("2026-11-01T05:45:00"), utc("2026-11-01T06:20:00"))
    assert [zulu(t) for t in due] == ["06:00Z", "06:15Z"]
    assert zulu(quarter.next_after(utc("2026-11-01T06:20:00"))) == "06:30Z"
    nightly = schedule("30 1 * * *")
    assert nightly.to_enqueue(utc("2026-11-01T05:30:00"), utc("2026-11-01T06:40:00")) == (
        [],
        utc("2026-11-01T05:30:00"),
    )
    assert local(nightly.next_after(utc("2026-11-01T06:20:00"))) == "2026-11-02T01:30:00-05:00"


# -- which jobs are wildcard jobs ----------------------------------------------


@pytest.mark.parametrize(
    ("cron", "wildcard"),
    [
        ("*/15 * * * *", True), ("0 * * * *", True), ("* 1 * * *", True), ("*/10 2 * * *", True),
        ("0,30 * * * *", True), ("@hourly", True), ("0 */20 * * * *", True),
        ("0 */15 1 * * *", True), ("30 1 * * *", False), ("0 1-5 * * *", False),
        ("0-59 1 * * *", False), ("0,30 1 * * *", False), ("@daily", False),
        ("@midnight", False), ("@weekly", False), ("*/10 30 1 * * *", False),
        ("0 0 * * *", False), ("0 9 L * *", False),
    ],
)  # fmt: skip
def test_wildcard_is_the_minute_or_hour_field_starting_with_a_star(
    cron: str, wildcard: bool
) -> None:
    # Debian's entry.c: MIN_STAR / HR_STAR when the field's first character
    # is `*`; @hourly sets HR_STAR.  The seconds field of 6 does not count.
    assert schedule(cron).wildcard is wildcard
    repeated = fired(cron, "2026-11-01T04:59:59", "2026-11-01T06:59:59")
    copies = {moment[-6:] for moment in repeated if moment[11:13] == "01"}
    if any(moment[11:13] == "01" for moment in repeated):
        assert copies == ({"-04:00", "-05:00"} if wildcard else {"-04:00"}), repeated


# -- other zones and Debian's 3-hour limit ---------------------------------------


def test_a_half_hour_change_on_lord_howe_island() -> None:
    zone = "Australia/Lord_Howe"  # clocks move by 30 minutes
    # 2026-04-05: 02:00 +11:00 becomes 01:30 +10:30.
    assert fired("*/15 * * * *", "2026-04-04T14:20:00", "2026-04-04T15:35:00", zone) == [
        "2026-04-05T01:30:00+11:00",
        "2026-04-05T01:45:00+11:00",
        "2026-04-05T01:30:00+10:30",
        "2026-04-05T01:45:00+10:30",
        "2026-04-05T02:00:00+10:30",
    ]
    assert fired("45 1 * * *", "2026-04-04T14:00:00", "2026-04-04T16:00:00", zone) == [
        "2026-04-05T01:45:00+11:00"
    ]
    # 2026-10-04: 02:00 +10:30 becomes 02:30 +11:00.
    assert fired("15 2 * * *", "2026-10-03T14:00:00", "2026-10-03T16:00:00", zone) == [
        "2026-10-04T02:30:00+11:00"
    ]
    assert fired("*/15 * * * *", "2026-10-03T15:10:00", "2026-10-03T15:50:00", zone) == [
        "2026-10-04T01:45:00+10:30",
        "2026-10-04T02:30:00+11:00",
        "2026-10-04T02:45:00+11:00",
    ]


def test_a_two_hour_change_at_troll_station() -> None:
    zone = "Antarctica/Troll"  # +00 in winter, +02 in summer
    # 2026-03-29: 01:00 +00:00 becomes 03:00 +02:00; 2026-10-25: back again.
    assert fired("30 1 * * *", "2026-03-28T12:00:00", "2026-03-29T12:00:00", zone) == [
        "2026-03-29T03:00:00+02:00"
    ]
    assert fired("0 * * * *", "2026-10-24T22:30:00", "2026-10-25T02:30:00", zone) == [
        "2026-10-25T01:00:00+02:00",
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T01:00:00+00:00",
        "2026-10-25T02:00:00+00:00",
    ]
    assert fired("30 1 * * *", "2026-10-24T12:00:00", "2026-10-25T12:00:00", zone) == [
        "2026-10-25T01:30:00+02:00"
    ]


def test_changes_of_three_hours_or_more_are_no_daylight_saving_change() -> None:
    # Samoa skipped 2011-12-30: Debian's cron runs nothing of a gap that long
    # (cron.c: "time has changed a *lot*"), not even fixed times at its end.
    assert fired("0 12 * * *", "2011-12-29T00:00:00", "2011-12-31T12:00:00", "Pacific/Apia") == [
        "2011-12-29T12:00:00-10:00",
        "2011-12-31T12:00:00+14:00",
    ]
    # Kwajalein lived 1969-09-30 from 01:00 to 24:00 twice: everything fires
    # in both copies, fixed times too.
    assert fired(
        "0 12 * * *", "1969-09-29T12:00:00", "1969-10-01T13:00:00", "Pacific/Kwajalein"
    ) == ["1969-09-30T12:00:00+11:00", "1969-09-30T12:00:00-12:00"]


def test_a_gap_of_seconds_fires_everything_in_it_at_its_end() -> None:
    # Amsterdam, 1937-07-01: +01:19:32 became +01:20, skipping 00:00:00-00:00:27.
    # Debian's cron catches up a gap under 5 minutes minute by minute, wildcard
    # jobs included.
    assert fired(
        "*/20 * * * * *", "1937-06-30T22:40:27", "1937-06-30T22:41:00", "Europe/Amsterdam"
    ) == [
        "1937-07-01T00:00:28+01:20",
        "1937-07-01T00:00:40+01:20",
        "1937-07-01T00:01:00+01:20",
    ]


# -- property: walking forward and walking back agree ---------------------------

ZONES = ["America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Antarctica/Troll"]
CRONS = ["*/15 * * * *", "*/30 * * * *", "0 * * * *", "30 1 * * *", "30 2 * * *",
         "0 1-5 * * *", "0,30 2 * * *", "*/20 1,2 * * *", "45 1 * * *", "0 */2 * * *",
         "*/30 0 * * * *", "15 2 * * 0", "@hourly", "@daily"]  # fmt: skip
# Around each zone's 2026 changes: a start up to two days before.
CHANGES = {
    "America/New_York": ["2026-03-08T07:00:00", "2026-11-01T06:00:00"],
    "Europe/Berlin": ["2026-03-29T01:00:00", "2026-10-25T01:00:00"],
    "Australia/Lord_Howe": ["2026-04-04T15:00:00", "2026-10-03T15:30:00"],
    "Antarctica/Troll": ["2026-03-29T01:00:00", "2026-10-25T01:00:00"],
}


@QUICK
@given(
    st.sampled_from(ZONES),
    st.sampled_from(CRONS),
    st.integers(min_value=0, max_value=1),
    st.integers(min_value=0, max_value=2 * 86400),
)
def test_due_times_walked_forward_are_what_catch_up_walks_back(
    zone: str, cron: str, change: int, before: int
) -> None:
    start = utc(CHANGES[zone][change]) - before
    end = start + 2 * 86400
    walked = schedule(cron, zone, catch_up="all", catch_up_limit=10_000)
    forward = walked.due_between(start, end)
    assert all(a < b for a, b in zip(forward, forward[1:], strict=False))
    assert walked.to_enqueue(start, end)[0] == forward
    # And from any moment, the next due time is the first one after it.
    for moment in (start + 1, (start + end) / 2, end - 1):
        later = [t for t in forward if t > moment]
        if later:
            assert walked.next_after(moment) == later[0]
