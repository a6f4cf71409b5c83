"""One source of truth for cron (issue 14): what `jobctl check` accepts is what runs.

The validator (jobctl/cron_syntax.py, no croniter: `jobctl add` and `check`
use it) and the engine (jobctl/schedule.py on croniter: what the scheduler
and `jobctl schedules` compute) over a corpus of a few hundred expressions,
hand-picked and generated:
- everything the validator accepts, the engine computes a strictly
  increasing sequence of due times for, and never raises; croniter reads
  each of its fields as cron does;
- everything the validator refuses, croniter refuses too, or finds no time
  for (it can never fire), or is one of the refusals on purpose listed in
  ON_PURPOSE, with why (croniter would run it otherwise than cron means).
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from croniter import CroniterBadDateError, croniter

from jobctl.api import Queue
from jobctl.config import load_config
from jobctl.cron_syntax import cron_error, croniter_form
from jobctl.models import JobType
from jobctl.schedule import Schedule
from jobctl.scheduler import Scheduler
from jobctl.store import Store

# Refused on purpose although croniter runs them: what croniter would do.
ON_PURPOSE = {
    "backwards range": "croniter wraps 5-2 round the end of the field (5..59, 0..2);"
    " Vixie cron refuses it (entry.c get_range: num1 > num2)",
    "seven fields": "croniter takes a year as a 7th field; jobctl's cron has 5 or 6 (SPEC)",
    "random R": "croniter picks a random value each time it reads R: every next time would"
    " be computed on another schedule",
    "W15": "croniter's own spelling of 15W; jobctl takes the usual one (the hint says 15W)",
    "29W to 31W": "croniter moves a day a month lacks to its last day; other crons skip the"
    " month or roll into the next: jobctl takes 1W to 28W only",
    "W with a day of the week": "croniter ignores the day of the week beside a W",
    "5L or 1#2 beside plain weekdays": "croniter drops the plain weekdays (1,1#3 runs on"
    " third Mondays only) or refuses",
    "5L or 1#2 with a day of the month": "croniter intersects the two fields (or ignores the"
    " day of the month) instead of cron's either-field rule",
    "L5 (croniter's spelling)": "croniter's own spelling of 5L, the last Friday; jobctl takes"
    " the usual one (the hint says 5L)",
    "15-L": "croniter's own extension (the 15th to the last day); no other cron takes L in a"
    " range, and 15-31 says the same",
}

WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]


def _number(token: str, names: list[str] | None, first: int) -> int | None:
    if token.isascii() and token.isdigit():
        return int(token)
    if names and token.lower() in names:
        return names.index(token.lower()) + first
    return None


def _fields(expression: str) -> dict[str, str] | None:
    parts = expression.split()
    if len(parts) not in (5, 6):
        return None
    names = ["minute", "hour", "day", "month", "weekday"]
    return dict(zip(names if len(parts) == 5 else ["second", *names], parts, strict=True))


NAMES = {"month": (MONTHS, 1), "weekday": (WEEKDAYS, 0)}


def on_purpose(expression: str) -> str | None:
    """Which refusal on purpose an expression is, if any (keys of ON_PURPOSE)."""
    if len(expression.split()) == 7:
        return "seven fields"
    fields = _fields(expression)
    if fields is None:
        return None
    if any(re.fullmatch(r"[rR](\(.*\))?(/\d+)?", item) for f in fields.values()
           for item in f.split(",")):  # fmt: skip
        return "random R"
    for name, text in fields.items():
        words, first = NAMES.get(name, (None, 0))
        for item in text.split(","):
            low, dash, high = item.partition("/")[0].partition("-")
            a, b = _number(low, words, first), _number(high, words, first)
            if dash and a is not None and b is not None and a > b:
                return "backwards range"
    day, weekday = fields["day"], fields["weekday"]
    if any(re.fullmatch(r"\d+-[lL](/\d+)?", item) for item in day.split(",")):
        return "15-L"
    if re.fullmatch(r"[wW]\d+", day):
        return "W15"
    match = re.fullmatch(r"(\d+)[wW]", day)
    if match and 29 <= int(match[1]) <= 31:
        return "29W to 31W"
    if match and weekday not in ("*", "?"):
        return "W with a day of the week"
    if re.search(r"(^|,)[lL]\d", weekday):
        return "L5 (croniter's spelling)"
    items = weekday.split(",")
    special = [bool(re.search(r"#|\w[lL]$", item)) for item in items]
    if any(special) and not all(special):
        return "5L or 1#2 beside plain weekdays"
    if any(special) and day not in ("*", "?"):
        return "5L or 1#2 with a day of the month"
    return None


# -- the corpus -----------------------------------------------------------------

ACCEPTED = [
    "* * * * *", "*/15 * * * *", "0 * * * *", "30 1 * * *", "0 1-5 * * *", "0 9 * * 1-5",
    "0 9 * * mon-fri", "0 9 * * MON-FRI", "0 9 * * Mon,Wed,Fri", "0 0 1 jan *", "0 0 1 JAN-MAR *",
    "0 0 * jan/2 *", "0 0 * dec/3 *", "5/15 * * * *", "0 2/10 * * *", "0 0 2/10 * *",
    "0 0 * * 7", "0 0 * * 0,7", "0 0 * * 5-7", "0 0 * * 1-7/2", "0 0 * * mon/2", "0 0 * * 7/2",
    "0 0 * * */2", "0 0 * * sun-sat", "0 0 * * 0-7", "*/60 * * * *", "0 */24 * * *",
    "0 0 1-31/40 * *", "5-5 * * * *", "5-5/10 * * * *", "0 0 * * mon-mon", "0 0 * jan-jan *",
    "0 9-9 * * *", "0 0 ? * 1", "0 0 1 * ?", "00 00 01 01 *", "0 0 * * 0007", "0 0 29 2 *",
    "0 0 31 * *", "0 0 30 1,2 *", "0 0 31 2 mon", "0 0 1-31 * 1", "0 0 */2 * 1",
    "0 0 L * *", "0 0 l * *", "0 0 1,L * *", "0 9 L 2 *", "0 0 * * 5L", "0 0 * * friL",
    "0 0 * * 0L", "0 0 * * 7L", "0 0 * * 1#2", "0 0 * * mon#2", "0 0 * * 1#1,1#3",
    "0 0 * * 1#1,5L", "0 0 ? * 5L", "0 0 * 2 1#5", "0 0 15W * *", "0 0 15w * *", "0 0 1W * *",
    "0 0 28W * *", "0 9 15W 2 *", "0 0 1W * ?", "*/20 9-17 15W * *", "0 30 9 15W * *",
    "0 0 0 * * *", "*/10 * * * * *", "0 */15 1 * * *", "*/10 30 1 * * *", "30 0 9 * * mon-fri",
    "15 0 9 L * *", "0 30 8 * * 1#2", "0 0 0 1 1 *", "@hourly", "@daily", "@weekly",
    "@monthly", "@yearly", "@annually", "@midnight", "@HOURLY", " 0 0 * * * ", "0\t0 * * *",
    "0 0 1,15 * 1-5", "*/5,7 * * * *", "0-59/15 * * * *", "0 0 * * mon-5", "0 0 * 1-feb *",
]  # fmt: skip
REFUSED = [
    # croniter refuses these too
    "", "* * * *", "* * * * * * * *", "60 * * * *", "0 24 * * *", "0 0 0 * *", "0 0 32 * *",
    "0 0 * 0 *", "0 0 * 13 *", "0 0 * * 8", "*/0 * * * *", "0 0 2/0 * *", "-1 * * * *",
    "0 0 1- * *", "0 0 1,,2 * *", "0 0 ,1 * *", "? 0 * * *", "0 ? * * *", "0 0 * ? *",
    "0 0 * * L", "0 0 LL * *", "0 0 L-2 * *", "0 0 15-L * *", "0 0 L/2 * *", "0 0 * L *",
    "0 0 * * 1#6", "0 0 * * 1#0", "0 0 * * #2", "0 0 * * 1#", "0 0 * * 1-3#2", "0 0 * * *#2",
    "0 0 * * 5L/2", "0 0 * * 8L", "0 0 LW * *", "0 0 lw * *", "0 0 15W,20 * *",
    "0 0 1-15W * *", "0 0 15W/2 * *", "0 0 0W * *", "0 0 32W * *", "0 0 W * *",
    "0 0 1L * *", "*/2/3 * * * *", "0 0 ?,29 * *", "0 0 * * ?,1", "0 0 ?/2 * *", "H * * * *",
    "@reboot", "@every 5m", "@fortnightly",
    "0\u00a00 * * * *", "\u0665 * * * *", "0 0 * * \u0665L", "0 0 \uff11 * *", "0 0 1 * 1#\u0662",
    "60 0 0 * * *", "0 60 0 * * *", "0 0 24 * * *",
    # croniter finds no time: they can never fire
    "0 0 31 2 *", "0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 30,31 feb *", "0 0 31 2 ?",
    # refused on purpose (ON_PURPOSE)
    "0 5-2 * * *", "30-0 * * * *", "0 0 * * fri-mon", "0 0 * dec-jan *", "0 0 15-1 * *",
    "0 0 0 1 1 * 2030", "0 0 0 * * * *", "R * * * *", "R R * * *", "0 0 W15 * *", "0 0 w1 * *",
    "0 0 29W * *", "0 0 31W * *", "0 0 15W * 1", "0 0 15W * mon-fri", "0 0 * * 1,1#3",
    "0 0 * * 5,1#2", "0 0 * * 5L,1", "0 0 15 * 5L", "0 0 15 * 1#2", "0 0 L * 5L",
    "0 0 * * L5", "0 0 * * l5", "0 0 15-L * *", "0 0 1-l/2 * *",
]  # fmt: skip

# Generated: fields drawn from tokens cron reads (GOOD), now and then one it
# must not (BAD); most expressions come out valid, many not.
GOOD = {
    "second": ["*", "*/15", "0", "59", "0-30", "5/15", "1-1"],
    "minute": ["*", "*/15", "0", "5", "59", "0-30", "5/15", "1-1", "10-10/5", "0-59/20"],
    "hour": ["*", "*/6", "0", "9", "23", "1-5", "9-17/2", "2-2"],
    "day": ["*", "?", "1", "15", "28", "29", "30", "31", "L", "1-15", "*/2", "5/10", "3-3",
            "15W", "1W", "28W"],
    "month": ["*", "1", "2", "jan", "FEB", "4,6,9,11", "jan-mar", "jan/2", "2-2", "12/5",
              "feb-feb", "mar-dec/4"],
    "weekday": ["*", "?", "0", "7", "mon", "MON-FRI", "1-7/2", "mon/2", "7/2", "5L", "friL",
                "1#2", "1#5", "mon#3", "1-1", "sun-sun", "6-7", "5/1"],
}  # fmt: skip
BAD = {
    "second": ["60", "30-0", "R", "?"],
    "minute": ["60", "30-0", "*/0", "R", "?", "-1", "L", "\u0663"],
    "hour": ["24", "5-1", "R"],
    "day": ["32", "0", "15-1", "29W", "31W", "W15", "LW", "L-2"],
    "month": ["dec-jan", "13", "0"],
    "weekday": ["fri-mon", "L5", "1#6", "8", "L", "5,1#2"],
}  # fmt: skip


def generated(count: int, seed: int = 14) -> list[str]:
    draw = random.Random(seed)
    out = []
    for _ in range(count):
        names = ["minute", "hour", "day", "month", "weekday"]
        if draw.random() < 0.25:
            names.insert(0, "second")
        fields = []
        for name in names:
            pool = BAD[name] if draw.random() < 0.07 else GOOD[name]
            items = draw.sample(pool, k=1 if draw.random() < 0.8 or len(pool) < 2 else 2)
            fields.append(",".join(items))
        out.append(" ".join(fields))
    return out


CORPUS = list(dict.fromkeys([*ACCEPTED, *REFUSED, *generated(360)]))
ZONES = ["UTC", "America/New_York", "Australia/Lord_Howe"]
STARTS = ["2026-03-07T23:00:00", "2026-10-31T23:00:00", "2089-12-31T00:00:00"]


def croniter_verdict(expression: str) -> str:
    """What croniter makes of an expression as written: runs, refuses, or never fires."""
    seconds_first = len(expression.split()) >= 6
    try:
        it = croniter(expression, datetime(2026, 1, 1), second_at_beginning=seconds_first)
        it.get_next(datetime)
        it.get_prev(datetime)
    except CroniterBadDateError:
        return "never fires"
    except Exception:  # CroniterBadCronError, CroniterNotAlphaError, ...
        return "refuses"
    return "runs"


# -- what cron means by a plain field, to hold croniter's reading to ------------

RANGES = {"second": (0, 59), "minute": (0, 59), "hour": (0, 23), "day": (1, 31),
          "month": (1, 12), "weekday": (0, 7)}  # fmt: skip


def cron_values(name: str, text: str) -> set[int]:
    low, high = RANGES[name]
    words, first = NAMES.get(name, (None, 0))
    values: set[int] = set()
    for item in text.split(","):
        base, _, step = item.partition("/")
        if base in ("*", "?"):
            start, end = low, high
        else:
            a, dash, b = base.partition("-")
            start = _number(a, words, first)
            end = _number(b, words, first) if dash else (high if step else start)
        assert start is not None and end is not None
        values.update(range(start, end + 1, int(step or 1)))
    return {v % 7 for v in values} if name == "weekday" else values


def croniter_values(expression: str) -> dict[str, set[int]]:
    text, seconds_first = croniter_form(expression)
    expanded, _ = croniter.expand(text, second_at_beginning=seconds_first)
    names = ["minute", "hour", "day", "month", "weekday", "second"]
    out = {}
    for name, values in zip(names, expanded, strict=False):
        low, high = RANGES[name]
        full = range(low, 7 if name == "weekday" else high + 1)
        out[name] = set(full) if "*" in values else {v for v in values if isinstance(v, int)}
    return out


# -- the tests -------------------------------------------------------------------


def test_the_corpus_has_a_few_hundred_of_each_kind() -> None:
    accepted = [e for e in CORPUS if cron_error(e) is None]
    refused = [e for e in CORPUS if cron_error(e) is not None]
    assert len(CORPUS) >= 400 and len(accepted) >= 150 and len(refused) >= 150
    assert all(cron_error(e) is None for e in ACCEPTED), [e for e in ACCEPTED if cron_error(e)]
    assert all(cron_error(e) is not None for e in REFUSED), [
        e for e in REFUSED if not cron_error(e)
    ]


@pytest.mark.parametrize("zone", ZONES)
def test_what_the_validator_accepts_the_engine_runs(zone: str) -> None:
    problems = []
    for expression in CORPUS:
        if cron_error(expression) is not None:
            continue
        schedule = Schedule(JobType(name="t", cron=expression, timezone=zone))
        for start in STARTS:
            moment = datetime.fromisoformat(start).replace(tzinfo=ZoneInfo(zone)).timestamp()
            try:
                for _ in range(3):
                    later = schedule.next_after(moment)
                    if not later > moment:
                        problems.append(f"{expression!r} from {start}: {later} <= {moment}")
                        break
                    moment = later
            except Exception as exc:
                problems.append(f"{expression!r} from {start} in {zone}: {exc!r}")
    assert problems == []


def test_croniter_reads_each_accepted_field_as_cron_means_it() -> None:
    problems = []
    for expression in CORPUS:
        if cron_error(expression) is not None or expression.strip().startswith("@"):
            continue
        fields = _fields(expression.strip())
        assert fields is not None
        engine = croniter_values(expression)
        for name, text in fields.items():
            if re.search(r"[lLwW#]", text) and name in ("day", "weekday"):
                continue  # the specials: test_cron_special.py and the W test below
            if engine[name] != cron_values(name, text):
                problems.append(f"{expression!r} {name} {text}: croniter reads {engine[name]}")
    assert problems == []


def test_what_the_validator_refuses_croniter_refuses_or_is_refused_on_purpose() -> None:
    problems, used = [], set()
    for expression in CORPUS:
        if cron_error(expression) is None:
            continue
        verdict = croniter_verdict(expression)
        if verdict in ("refuses", "never fires"):
            continue
        reason = on_purpose(expression)
        if reason is None:
            problems.append(f"{expression!r}: croniter runs it, but check refuses it with"
                            f" {cron_error(expression)}")  # fmt: skip
        used.add(reason)
    assert problems == []
    assert used == set(ON_PURPOSE)  # each refusal on purpose is one croniter would run


def test_the_refusals_on_purpose_are_only_those() -> None:
    # Nothing the validator accepts is in a refused-on-purpose class.
    assert [e for e in CORPUS if cron_error(e) is None and on_purpose(e)] == []


def test_shorthands_agree_with_their_five_fields() -> None:
    start = datetime(2026, 11, 24, 10, 7, tzinfo=ZoneInfo("UTC")).timestamp()
    pairs = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
             "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *",
             "@annually": "0 0 1 1 *"}  # fmt: skip
    for alias, fields in pairs.items():
        assert cron_error(alias) is None and cron_error(alias.upper()) is None
        assert croniter.is_valid(alias)  # croniter takes it as written too
        a = Schedule(JobType(name="a", cron=alias, timezone="UTC"))
        b = Schedule(JobType(name="b", cron=fields, timezone="UTC"))
        assert a.wildcard == (alias == "@hourly") and b.wildcard == (alias == "@hourly")
        moment_a = moment_b = start
        for _ in range(5):
            moment_a, moment_b = a.next_after(moment_a), b.next_after(moment_b)
            assert moment_a == moment_b > start


# -- W: the weekday nearest a day of the month ----------------------------------


def nearest_weekday(year: int, month: int, day: int) -> int:
    """Quartz's W, independently of croniter: never leaves the month."""
    import calendar

    last = calendar.monthrange(year, month)[1]
    weekday = calendar.weekday(year, month, day)  # 0 = Monday
    if weekday == 5:  # Saturday: the Friday before, or Monday the 3rd
        return day - 1 if day > 1 else day + 2
    if weekday == 6:  # Sunday: the Monday after, or the Friday before a month's end
        return day + 1 if day < last else day - 2
    return day


@pytest.mark.parametrize("day", range(1, 29))
def test_w_fires_on_the_nearest_weekday_both_ways(day: int) -> None:
    schedule = Schedule(JobType(name="t", cron=f"0 9 {day}W * *", timezone="UTC", catch_up="all",
                                catch_up_limit=1000))  # fmt: skip
    expected = [
        datetime(y, m, nearest_weekday(y, m, day), 9, tzinfo=ZoneInfo("UTC")).timestamp()
        for y in range(2026, 2028)
        for m in range(1, 13)
    ]
    start = datetime(2025, 12, 31, tzinfo=ZoneInfo("UTC")).timestamp()
    end = datetime(2027, 12, 31, 23, tzinfo=ZoneInfo("UTC")).timestamp()
    assert schedule.due_between(start, end) == expected
    # Walking back (what catch_up = "all" owes) gives the same times.
    assert schedule.to_enqueue(start, end)[0] == expected


def test_w_edges_at_month_ends() -> None:
    def first(cron: str, after: str) -> str:
        schedule = Schedule(JobType(name="t", cron=cron, timezone="UTC"))
        moment = datetime.fromisoformat(after).replace(tzinfo=ZoneInfo("UTC")).timestamp()
        return (
            datetime.fromtimestamp(schedule.next_after(moment), ZoneInfo("UTC")).date().isoformat()
        )

    assert first("0 0 1W * *", "2026-07-31") == "2026-08-03"  # Aug 1 is a Saturday: Monday 3rd
    assert first("0 0 15W * *", "2026-08-01") == "2026-08-14"  # Saturday 15th: Friday 14th
    assert first("0 0 15W * *", "2026-11-01") == "2026-11-16"  # Sunday 15th: Monday 16th
    assert first("0 0 28W 2 *", "2027-01-01") == "2027-02-26"  # Sunday 28th, the last: Friday


# -- a schedule the engine cannot compute never takes the daemon down -----------


def test_a_schedule_the_engine_cannot_compute_is_logged_once_and_skipped(tmp_path: Path) -> None:
    """Scheduler.tick as the daemon drives it, and Queue.schedules(), with the time passed in.

    `jobctl check` refuses both broken ones; a config built in Python gets
    past it, as a validator/engine disagreement would."""
    (tmp_path / "jobs.toml").write_text(
        '[jobs.good]\ncommand = "true"\ncron = "* * * * *"\ntimezone = "UTC"\noverlap = "allow"\n'
        '[jobs.never]\ncommand = "true"\ncron = "0 0 1 * *"\n'
        '[jobs.lost]\ncommand = "true"\ncron = "0 * * * *"\n'
    )
    config = load_config(tmp_path / "jobs.toml")
    jobs = dict(config.jobs)
    jobs["never"] = jobs["never"]._replace(cron="0 0 31 2 *")  # CroniterBadDateError
    jobs["lost"] = jobs["lost"]._replace(timezone="Nowhere/Atlantis")  # ZoneInfoNotFoundError
    config = config._replace(jobs=jobs)
    db = tmp_path / "jobs.db"
    store = Store.open(db)
    lines: list[str] = []
    now = datetime(2026, 11, 24, 10, 0, 30, tzinfo=UTC).timestamp()
    try:
        for _load in range(2):  # a reload of jobs.toml makes a new Scheduler
            scheduler = Scheduler(config, db, store, log=lines.append)
            try:
                for _ in range(3):
                    wake = scheduler.tick(now)
                    assert wake is not None  # the good one's next minute
                    now = wake + 1
            finally:
                scheduler.close()
        queue = Queue(config, db, clock=lambda: now)
        try:
            shown = {info.name: info.next_run for info in queue.schedules()}
        finally:
            queue.close()
        fired = store.conn.execute("SELECT count(*) FROM jobs WHERE schedule = 'good'").fetchall()[
            0
        ][0]
    finally:
        store.close()
    assert fired == 5  # first seen owes nothing, then one a minute: the good one goes on
    never = [line for line in lines if line.startswith("schedule never ")]
    lost = [line for line in lines if line.startswith("schedule lost ")]
    assert len(never) == 2 and len(lost) == 2, lines  # once per config load, not per tick
    assert "CroniterBadDateError" in never[0] and "skipped until jobs.toml is reloaded" in never[0]
    assert "Nowhere/Atlantis" in lost[0]
    assert shown["never"] is None and shown["lost"] is None
    assert shown["good"] == now - 1 + 60
