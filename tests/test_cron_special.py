"""Cron `L` (last day), `5L` (last Friday) and `1#2` (second Monday), SPEC "Schedules".

Due times with an injected clock (no waiting, no wall clock); what `jobctl
check` accepts and refuses, run for real; and a property test against an
oracle written here, independently of croniter.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import Cli, fail_one_line, imports_of
from hypothesis import event, given
from hypothesis import strategies as st
from test_properties import QUICK, fresh, run

from jobctl.api import Queue
from jobctl.config import load_config
from jobctl.models import JobType
from jobctl.render import safe
from jobctl.schedule import Schedule
from jobctl.scheduler import Scheduler
from jobctl.store import Store

BERLIN = "Europe/Berlin"


def at(text: str, zone: str = "UTC") -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp()


def wall(moment: float, zone: str = "UTC") -> str:
    return datetime.fromtimestamp(moment, ZoneInfo(zone)).isoformat()


def fires(cron: str, after: str, count: int, zone: str = "UTC") -> list[str]:
    """The next `count` due times strictly after `after`, as wall-clock text."""
    schedule = Schedule(JobType(name="t", cron=cron, timezone=zone))
    moment, times = at(after, zone), []
    for _ in range(count):
        moment = schedule.next_after(moment)
        times.append(wall(moment, zone))
    return times


# -- when they fire -------------------------------------------------------------


def test_last_day_of_the_month_across_month_ends_and_a_leap_february() -> None:
    assert fires("0 9 L * *", "2027-12-31T09:00:00", 5) == [
        "2028-01-31T09:00:00+00:00",
        "2028-02-29T09:00:00+00:00",  # leap year
        "2028-03-31T09:00:00+00:00",
        "2028-04-30T09:00:00+00:00",
        "2028-05-31T09:00:00+00:00",
    ]
    assert fires("0 9 L * *", "2027-02-27T23:59:59", 1) == ["2027-02-28T09:00:00+00:00"]
    assert fires("0 0 L 2 *", "2026-06-01T00:00:00", 3) == [
        "2027-02-28T00:00:00+00:00",
        "2028-02-29T00:00:00+00:00",
        "2029-02-28T00:00:00+00:00",
    ]


@pytest.mark.parametrize("cron", ["0 9 * * 5L", "0 9 * * 5l", "0 9 * * friL", "0 9 ? * FRIL"])
def test_last_friday_of_the_month(cron: str) -> None:
    assert fires(cron, "2026-05-29T09:00:00", 4) == [
        "2026-06-26T09:00:00+00:00",
        "2026-07-31T09:00:00+00:00",  # on the month's last day
        "2026-08-28T09:00:00+00:00",
        "2026-09-25T09:00:00+00:00",
    ]


def test_last_sunday_as_0L_and_7L() -> None:
    expected = ["2026-01-25T00:00:00+00:00", "2026-02-22T00:00:00+00:00"]
    assert fires("0 0 * * 0L", "2026-01-01T00:00:00", 2) == expected
    assert fires("0 0 * * 7L", "2026-01-01T00:00:00", 2) == expected


@pytest.mark.parametrize("cron", ["30 8 * * 1#2", "30 8 * * mon#2", "30 8 ? * 1#02"])
def test_second_monday_of_the_month(cron: str) -> None:
    assert fires(cron, "2026-01-12T08:30:00", 4) == [
        "2026-02-09T08:30:00+00:00",
        "2026-03-09T08:30:00+00:00",
        "2026-04-13T08:30:00+00:00",
        "2026-05-11T08:30:00+00:00",
    ]


def test_a_fifth_monday_only_in_months_that_have_five() -> None:
    # January and February 2026 have four Mondays, March five (2, 9, ..., 30).
    assert fires("0 0 * * 1#5", "2026-01-01T00:00:00", 4) == [
        "2026-03-30T00:00:00+00:00",
        "2026-06-29T00:00:00+00:00",
        "2026-08-31T00:00:00+00:00",
        "2026-11-30T00:00:00+00:00",
    ]
    # A fifth Monday in February: a leap year whose February starts on a
    # Monday; rare (2044, 2072, then 2112, 40 years on), but it fires.
    assert fires("0 0 * 2 1#5", "2026-01-01T00:00:00", 3) == [
        "2044-02-29T00:00:00+00:00",
        "2072-02-29T00:00:00+00:00",
        "2112-02-29T00:00:00+00:00",
    ]


def test_lists_of_nth_and_last_weekdays() -> None:
    assert fires("0 0 * * 1#1,1#3", "2026-01-01T00:00:00", 4) == [
        "2026-01-05T00:00:00+00:00",
        "2026-01-19T00:00:00+00:00",
        "2026-02-02T00:00:00+00:00",
        "2026-02-16T00:00:00+00:00",
    ]
    assert fires("0 0 * * 1#1,5L", "2026-01-06T00:00:00", 3) == [
        "2026-01-30T00:00:00+00:00",
        "2026-02-02T00:00:00+00:00",
        "2026-02-27T00:00:00+00:00",
    ]
    assert fires("0 0 1,L * *", "2026-01-15T00:00:00", 3) == [
        "2026-01-31T00:00:00+00:00",
        "2026-02-01T00:00:00+00:00",
        "2026-02-28T00:00:00+00:00",
    ]


def test_six_fields_put_seconds_first() -> None:
    assert fires("0 30 8 * * 1#2", "2026-01-01T00:00:00", 2) == [
        "2026-01-12T08:30:00+00:00",
        "2026-02-09T08:30:00+00:00",
    ]
    assert fires("15 0 9 L * *", "2026-02-01T00:00:00", 2) == [
        "2026-02-28T09:00:15+00:00",
        "2026-03-31T09:00:15+00:00",
    ]
    assert fires("*/20 0 0 * * 5L", "2026-01-01T00:00:00", 4) == [
        "2026-01-30T00:00:00+00:00",
        "2026-01-30T00:00:20+00:00",
        "2026-01-30T00:00:40+00:00",
        "2026-02-27T00:00:00+00:00",
    ]


def test_last_sunday_at_a_daylight_saving_change() -> None:
    # Berlin changes clocks on the last Sunday of March and of October.
    assert fires("30 2 * * 0L", "2026-03-01T00:00:00", 2, BERLIN) == [
        "2026-03-29T03:00:00+02:00",  # 02:30 does not exist: the end of the gap
        "2026-04-26T02:30:00+02:00",
    ]
    assert fires("30 2 * * 7L", "2026-10-01T00:00:00", 2, BERLIN) == [
        "2026-10-25T02:30:00+02:00",  # repeated at 02:30+01:00: fires once
        "2026-11-29T02:30:00+01:00",
    ]


def test_catch_up_all_after_an_outage_over_month_ends() -> None:
    last_day = Schedule(JobType(name="t", cron="0 9 L * *", timezone="UTC", catch_up="all"))
    due, last = last_day.to_enqueue(at("2026-01-31T09:00:00"), at("2026-05-01T00:00:00"))
    assert [wall(t) for t in due] == [
        "2026-02-28T09:00:00+00:00",
        "2026-03-31T09:00:00+00:00",
        "2026-04-30T09:00:00+00:00",
    ]
    assert last == due[-1]


def write(folder: Path, text: str) -> Path:
    path = folder / "jobs.toml"
    path.write_text(text, encoding="utf-8")
    return path


SPECIALS = "".join(
    f'[jobs.{name}]\ncommand = "true"\ncron = "{cron}"\ntimezone = "UTC"\noverlap = "allow"\n'
    for name, cron in [
        ("month_end", "0 9 L * *"),
        ("last_friday", "0 9 * * 5L"),
        ("second_monday", "30 8 * * 1#2"),
    ]
)


def test_schedules_shows_the_next_times(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, SPECIALS))
    queue = Queue(config, tmp_path / "jobs.db", clock=lambda: at("2026-07-15T12:00:00"))
    try:
        shown = {info.name: wall(info.next_run) for info in queue.schedules()}
    finally:
        queue.close()
    assert shown == {
        "month_end": "2026-07-31T09:00:00+00:00",
        "last_friday": "2026-07-31T09:00:00+00:00",
        "second_monday": "2026-08-10T08:30:00+00:00",
    }


def scheduled(store: Store) -> list[tuple[str, str]]:
    rows = store.conn.execute(
        "SELECT schedule, due_at FROM jobs WHERE schedule IS NOT NULL ORDER BY due_at, schedule"
    ).fetchall()
    return [(name, wall(due)) for name, due in rows]


def test_the_daemons_scheduler_fires_them_at_their_due_times(tmp_path: Path) -> None:
    """Scheduler.tick, as the daemon calls it, with the time passed in."""
    config = load_config(write(tmp_path, SPECIALS))
    store = Store.open(tmp_path / "jobs.db")
    scheduler = Scheduler(config, tmp_path / "jobs.db", store, log=lambda line: None)
    try:
        # First seen: nothing owed; it wakes for the soonest due time.
        assert wall(scheduler.tick(at("2026-07-15T12:00:00"))) == "2026-07-31T09:00:00+00:00"
        assert scheduled(store) == []
        assert wall(scheduler.tick(at("2026-07-31T09:00:05"))) == "2026-08-10T08:30:00+00:00"
        assert wall(scheduler.tick(at("2026-08-10T08:30:01"))) == "2026-08-28T09:00:00+00:00"
        assert wall(scheduler.tick(at("2026-08-28T09:00:02"))) == "2026-08-31T09:00:00+00:00"
        assert scheduled(store) == [
            ("last_friday", "2026-07-31T09:00:00+00:00"),
            ("month_end", "2026-07-31T09:00:00+00:00"),
            ("second_monday", "2026-08-10T08:30:00+00:00"),
            ("last_friday", "2026-08-28T09:00:00+00:00"),
        ]
    finally:
        scheduler.close()
        store.close()


# -- the real command -----------------------------------------------------------


def config_with(cli: Cli, cron: str) -> None:
    (cli.home / "jobs.toml").write_text(
        f'[jobs.t]\ncommand = "true"\ncron = "{cron}"\n', encoding="utf-8"
    )


def check_refuses(cli: Cli, cron: str) -> str:
    """`jobctl check` exits 2 with one line; that line."""
    config_with(cli, cron)
    result = cli("check")
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == "" and "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    return line


@pytest.mark.parametrize(
    "cron",
    ["0 9 L * *", "0 9 * * 5L", "30 8 * * 1#2", "0 0 * * 1#1,1#3", "0 0 L 2 *",
     "0 0 * 2 1#5", "0 30 8 * * 1#2", "0 0 ? * 5L,1#1", "0 0 1,L * 1-5",
     "0 9 15W * *", "0 9 1w * ?"],
)  # fmt: skip
def test_check_accepts(cli: Cli, cron: str) -> None:
    config_with(cli, cron)
    assert "1 schedule(s)" in cli.ok("check")
    [shown] = cli.json("schedules")
    assert shown["expression"] == cron  # as written, not as croniter spells it
    next_run = datetime.fromisoformat(shown["next_run"])
    assert next_run.tzinfo is not None and next_run.timestamp() > 0


@pytest.mark.parametrize(
    ("cron", "problem"),
    [
        ("0 0 * * 8L", "day-of-week 8L: 8 is out of range 0-7"),
        ("0 0 * * 1#6", "day-of-week 1#6: the week after # must be 1 to 5"),
        ("0 0 * * 1#0", "day-of-week 1#0: the week after # must be 1 to 5"),
        ("0 0 LL * *", "day-of-month 'LL' is not a number or L"),
        ("0 0 * * #2", "day-of-week #2: needs a weekday before #"),
        ("0 0 * * L", "day-of-week L: L needs a weekday before it"),
        ("0 0 * * L5", "day-of-week L5: put the weekday before L (5L)"),
        ("0 0 * * \u0665L", "day-of-week \u0665L: '\u0665' is not a number"),  # Arabic-Indic 5
        ("0 0 * * 1#\u0662", "day-of-week 1#\u0662: the week after # must be 1 to 5"),
        ("0 0 * * \uff15L", "is not a number"),  # a fullwidth 5
        ("0 0 \u0663L * *", "day-of-month '\u0663L' is not a number"),
        ("0 0 * * 1#2,3", "day-of-week 1#2,3: 3 cannot be listed with 5L or 1#2 days"),
        ("0 0 * * 1-3#2", "day-of-week 1-3#2: # and L take one weekday, not a range or step"),
        ("0 0 * * 5L/2", "day-of-week 5L/2: # and L take one weekday"),
        ("0 0 15-L * *", "day-of-month 15-L: L (the last day) stands alone"),
        ("0 0 L/2 * *", "day-of-month L/2: L (the last day) stands alone"),
        ("0 0 15 * 1#2", "day-of-month 15 cannot be combined with day-of-week 1#2"),
        ("0 0 L * 5L", "day-of-month L cannot be combined with day-of-week 5L"),
        ("0 0 * L *", "month 'L' is not a number"),
        ("L 0 * * *", "minute 'L' is not a number"),
        ("0 0 31 2 *", "never fires"),  # still refused
        ("0 0 31 4,6,9,11 *", "never fires"),
        ("0\u00a00 * * * *", "minute '0\\xa00' is not a number"),  # croniter's fields too
        # W, the weekday nearest a day (issue 14): one day from 1 to 28, alone.
        ("0 0 LW * *", "day-of-month LW: the last weekday (LW) is not supported"),
        ("0 0 W15 * *", "day-of-month W15: put the day before W (15W)"),
        ("0 0 31W * *", "day-of-month 31W: W takes a day from 1 to 28"),
        ("0 0 15W,20 * *", "day-of-month 15W,20: W takes one day, not a list"),
        ("0 0 15W * 1", "day-of-month 15W cannot be combined with day-of-week 1"),
        ("0 0 ?,29 * *", "day-of-month ?,29: ? stands alone"),  # croniter refuses it
    ],
)
def test_check_refuses_naming_the_problem(cli: Cli, cron: str, problem: str) -> None:
    line = check_refuses(cli, cron)
    assert problem in line, line
    assert f'[jobs.t] cron "{safe(cron)}": ' in line  # check escapes what is not printable


def test_add_and_schedules_refuse_a_bad_one_in_one_line(cli: Cli) -> None:
    config_with(cli, "0 0 * * 1#6")
    assert "the week after # must be 1 to 5" in fail_one_line(cli("add", "t"), 2)
    assert "the week after # must be 1 to 5" in fail_one_line(cli("schedules"), 2)
    assert cli.count_jobs() == 0


def test_add_checks_them_without_importing_croniter(cli: Cli) -> None:
    (cli.home / "jobs.toml").write_text(SPECIALS + '[jobs.plain]\ncommand = "true"\n')
    assert imports_of(cli, ["add", "plain"], ("croniter",)) == (0, [])


# -- property: refused with exit 2, or due times as an independent oracle says ---

ALL = "all"
LAST = "last"
BAD = "bad"
# Each token of a field and what it stands for (BAD: must be refused).
SECONDS = {"0": {0}, "*/30": {0, 30}, "\u0663": BAD}
MINUTES = {"0": {0}, "30": {30}, "*/20": {0, 20, 40}, "5,35": {5, 35}, "60": BAD, "L": BAD}
HOURS = {"0": {0}, "9": {9}, "23": {23}, "*/12": {0, 12}, "L": BAD}
DAY_ITEMS = {
    "L": LAST, "l": LAST, "1": {1}, "15": {15}, "29": {29}, "30": {30}, "31": {31},
    "LL": BAD, "L-5": BAD, "15-L": BAD, "L/2": BAD, "LW": BAD, "\u0661": BAD, "\u0661L": BAD,
}  # fmt: skip
MONTHS = {
    "*": set(range(1, 13)), "2": {2}, "feb": {2}, "2,3": {2, 3}, "4,6,9,11": {4, 6, 9, 11},
    "12": {12}, "L": BAD,
}  # fmt: skip
# day-of-week items: a set of weekdays (0 = Sunday), or (weekday, nth or LAST).
WEEKDAY_ITEMS = {
    "1": {1}, "5": {5}, "0": {0}, "7": {0}, "mon-fri": {1, 2, 3, 4, 5}, "sat": {6},
    "5L": (5, LAST), "0L": (0, LAST), "7L": (0, LAST), "friL": (5, LAST), "5l": (5, LAST),
    "1#1": (1, 1), "1#2": (1, 2), "1#5": (1, 5), "mon#3": (1, 3), "0#5": (0, 5),
    "6#4": (6, 4), "7#5": (0, 5),
    "8L": BAD, "1#6": BAD, "1#0": BAD, "#2": BAD, "L": BAD, "L5": BAD, "LL": BAD,
    "\u0665L": BAD, "1#\u0662": BAD, "5L/2": BAD, "1-3#2": BAD, "*#2": BAD, "1#": BAD,
}  # fmt: skip


def listed(items: dict[str, object]) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(sorted(items)), min_size=1, max_size=3).map(",".join)


EXPRESSIONS = st.tuples(
    st.one_of(st.none(), st.sampled_from(sorted(SECONDS))),
    st.sampled_from(sorted(MINUTES)),
    st.sampled_from(sorted(HOURS)),
    st.one_of(st.sampled_from(["*", "?"]), listed(DAY_ITEMS)),
    st.sampled_from(sorted(MONTHS)),
    st.one_of(st.sampled_from(["*", "?"]), listed(WEEKDAY_ITEMS)),
)
STARTS = st.integers(
    min_value=int(datetime(2000, 1, 1, tzinfo=UTC).timestamp()),
    max_value=int(datetime(2090, 1, 1, tzinfo=UTC).timestamp()),
)


class Oracle:
    """What an expression of the tokens above means, without croniter."""

    def __init__(self, fields: tuple[str | None, str, str, str, str, str]) -> None:
        second, minute, hour, day, month, weekday = fields
        self.seconds = SECONDS[second] if second is not None else {0}
        self.minutes, self.hours, self.months = MINUTES[minute], HOURS[hour], MONTHS[month]
        self.days = None if day in ("*", "?") else [DAY_ITEMS[i] for i in day.split(",")]
        self.weekdays = (
            None if weekday in ("*", "?") else [WEEKDAY_ITEMS[i] for i in weekday.split(",")]
        )

    def valid(self) -> bool:
        items = [*(self.days or []), *(self.weekdays or [])]
        if BAD in (self.seconds, self.minutes, self.hours, self.months, *items):
            return False
        special = [isinstance(w, tuple) for w in self.weekdays or []]
        if any(special) and (not all(special) or self.days is not None):
            return False  # mixed with plain days, or with a day of the month
        if self.weekdays is None and self.days is not None and LAST not in self.days:
            longest = max(calendar.monthrange(2024, m)[1] for m in self.months)  # leap
            return min(min(d) for d in self.days if isinstance(d, set)) <= longest
        return True

    def day_matches(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        length = calendar.monthrange(day.year, day.month)[1]
        weekday = (day.weekday() + 1) % 7  # 0 = Sunday
        on_day = self.days is not None and any(
            day.day == length if d == LAST else day.day in d for d in self.days
        )
        week = LAST if day.day + 7 > length else None  # the last of its weekday
        on_weekday = self.weekdays is not None and any(
            weekday in w
            if isinstance(w, set)
            else w in ((weekday, week), (weekday, (day.day + 6) // 7))
            for w in self.weekdays
        )
        if self.days is None and self.weekdays is None:
            return True
        return on_day or on_weekday  # both given: either, as in cron

    def next_after(self, moment: float) -> float:
        start = datetime.fromtimestamp(moment, UTC)
        day = start.date()
        times = sorted((h, m, s) for h in self.hours for m in self.minutes for s in self.seconds)
        for _ in range(60 * 366):
            if self.day_matches(day):
                for h, m, s in times:
                    instant = datetime(day.year, day.month, day.day, h, m, s, tzinfo=UTC)
                    if instant.timestamp() > moment:
                        return instant.timestamp()
            day += timedelta(days=1)
        raise AssertionError("no due time in 60 years")


@QUICK
@given(EXPRESSIONS, STARTS)
def test_any_expression_is_refused_or_fires_when_the_oracle_says(
    fields: tuple[str | None, str, str, str, str, str], start: int
) -> None:
    cron = " ".join(f for f in fields if f is not None)
    config = f'[jobs.t]\ncommand = "true"\ncron = "{cron}"\n'
    oracle = Oracle(fields)
    with fresh(config) as home:
        code, _, err = run(["check"])
        assert "Traceback" not in err and "internal error" not in err, err
        event("refused" if code else "accepted")
        if code != 0:
            assert code == 2 and len(err.splitlines()) == 1, (cron, err)
            assert not oracle.valid(), f"{cron} was refused: {err}"
            return
        assert oracle.valid(), f"{cron} was accepted"
        [job_type] = load_config(home / "jobs.toml").jobs.values()
    schedule = Schedule(job_type, host_zone="UTC")
    moment = expected = float(start)
    for _ in range(4):
        later = schedule.next_after(moment)
        assert later > moment  # strictly increasing
        expected = oracle.next_after(expected)
        assert later == expected, (cron, wall(moment), wall(later), wall(expected))
        moment = later
