"""Fuzzing jobs.toml: mutations of jobs.toml.example (values of other types,
huge numbers, odd strings, dropped keys, renamed and duplicated tables, broken
TOML) either are refused by `jobctl check` (exit 2, one line per problem), or
serve: `jobctl daemon --drain` on a job of each type, `jobctl schedules` and
the TUI all run without an internal error or a traceback.

Everything runs in-process, as test_properties.py does: main() as the console
script calls it, the TUI headless with App.run_test().  Commands and handlers
are only ever mutated into harmless ones: the daemon runs what the config says.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import math
import os
import re
import sys
import tempfile
import time
import tomllib
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import jobctl
from jobctl.__main__ import main
from jobctl.errors import JobctlError

EXAMPLE = Path(__file__).parent.parent / "jobctl" / "jobs.toml.example"
BASE = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))

# derandomize: the same examples every run; JOBCTL_FUZZ_EXAMPLES=500 explores by hand.
# `check` alone takes milliseconds; a daemon, `schedules` and the TUI a while.
_EXAMPLES = int(os.environ.get("JOBCTL_FUZZ_EXAMPLES", "30"))
_SETTINGS = dict(
    deadline=None,
    derandomize="JOBCTL_FUZZ_EXAMPLES" not in os.environ,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUZZ = settings(max_examples=_EXAMPLES, **_SETTINGS)
WIDE = settings(max_examples=_EXAMPLES * 4, **_SETTINGS)

# -- values --------------------------------------------------------------------

ODD_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\t",
        "\n",
        "x\x00y",
        "\x1b[2J",
        "\u202e",
        "\u2028",
        "é",
        "名前",
        "🙂",
        "{",
        "}",
        "{x",
        "{x:>999999999}",
        "{0}",
        "{name!r}",
        "'",
        '"',
        "\\",
        "-",
        "--x",
        "9" * 400,
        "1e400",
        "1e400s",
        "1" * 30 + "s",
        "99999999999999999999GiB",
        "0",
        "-1",
        "nan",
        "inf",
        "0s",
        "250ms",
        "1h30m",
        "1 h",
        "5 minutes",
        "1MiB",
        "0KiB",
        "UTC",
        "Europe/Berlin",
        "Mars/Olympus",
        "../../etc/passwd",
        "/etc/localtime",
        "@hourly",
        "@reboot",
        "* * * * *",
        "*/0 * * * *",
        "0 0 31 2 *",
        "59 23 29 2 * ",
        "0 0 * * * 2099",
        "1 2 3 4 5 6 7",
        "skip",
        "once",
        "all",
        "queue",
        "allow",
        "process",
        "thread",
        "full",
        "always",
        "never",
        "on-failure",
        "default",
    ]
)
NUMBERS = st.one_of(
    st.integers(min_value=-3, max_value=5),
    st.sampled_from([0, 1, 1024, 1025, 2**31, 2**53 + 1, 2**63 - 1, -(2**63), 2**64, 10**400]),
    st.integers(),
    st.floats(),  # inf, -inf, nan, 5e-324 and 1e308 among them
)
SCALARS = st.one_of(
    NUMBERS,
    st.booleans(),
    ODD_TEXT,
    st.text(max_size=12),
    st.datetimes().map(lambda d: d.replace(microsecond=0)),
    st.dates(),
    st.times().map(lambda t: t.replace(microsecond=0)),
)
VALUES = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=3),
    st.dictionaries(st.sampled_from(["a", "name", "x", "é"]), SCALARS, max_size=2),
)
# What a command, hook or handler may become: the daemon will run it.
COMMANDS = st.sampled_from(
    [
        "true",
        "false",
        "echo {name}",
        "echo {missing}",
        "echo {name:>5000}",
        "echo {}",
        "echo '",
        "echo 'unclosed",
        "sh -c 'exit 3'",
        "/nonexistent/program",
        "",
        "   ",
        "echo \x1b[2J é 名前",
        "echo --{name}",
        "cat",
    ]
)
HANDLERS = st.sampled_from(
    [
        "jobctl.examples:greet",
        "jobctl.examples:nosuchfunction",
        "jobctl.nosuchmodule:fn",
        "nosuchmodule:fn",
        "os.path:join",
        "jobctl.examples",
        ":greet",
        "jobctl examples:greet",
        "jobctl.examples:greet:x",
        "",
    ]
)
GOOD_NAMES = st.sampled_from(
    ["a.b", "x y", "é", "名前", "demo:echo", "-", "'", '"', "[x]", "x" * 200]
)
NAMES = st.one_of(
    GOOD_NAMES,
    st.sampled_from(["", " ", "a.b", "x y", "é", "\x1b[2J", "a\nb", "demo:echo", "-", "'"]),
    st.text(max_size=8),
)


DEEP: list[Any] = []
for _ in range(120):  # deeper than a payload may be (100 levels)
    DEEP = [DEEP]
DURATIONS = st.one_of(
    st.sampled_from(["0s", "0ms", "1ms", "0.0001s", "3s", "1h30m", "3650d", "3651d", "521w"]),
    st.integers(min_value=0, max_value=400_000_000),
    st.floats(min_value=0, max_value=400_000_000),
)
SIZES = st.sampled_from(
    ["0", "0KiB", "1", "1b", "1GiB", "8GiB", 1, 2**62, 2**63, "17179869184GiB", "9" * 30]
)
INTEGERS = st.sampled_from(
    [0, 1, -1, 2, 1024, 1025, 10**6, 10**6 + 1, 10**9, -(10**9), 10**9 + 1, 2**63 - 1, 2**63]
)
# Values of the right kind at the edges: most configs they make are accepted.
PLAUSIBLE = {
    **dict.fromkeys(
        [
            "timeout",
            "kill_grace",
            "retry_delay",
            "retry_max_delay",
            "shutdown_grace",
            "lease",
            "restart_delay",
            "restart_max_delay",
            "reset_after",
            "retention",
            "every",
        ],
        DURATIONS,
    ),
    **dict.fromkeys(["output_limit", "max_payload"], SIZES),
    **dict.fromkeys(
        ["priority", "max_attempts", "concurrency", "catch_up_limit", "max_restarts"], INTEGERS
    ),
    "retry_backoff": st.sampled_from([1, 1.0, 1.5, 2, 1000, 1e300, 1e308]),
    "timezone": st.sampled_from(
        [
            "UTC",
            "Etc/GMT+12",
            "Etc/GMT-14",
            "Pacific/Kiritimati",
            "America/St_Johns",
            "Asia/Kathmandu",
            "Europe/Berlin",
            "Australia/Lord_Howe",
            "EST5EDT",
            "Factory",
            "localtime",
        ]
    ),
    "cron": st.sampled_from(
        [
            "* * * * *",
            "0 0 29 2 *",
            "59 23 31 12 *",
            "30 2 * * *",  # in the spring-forward gap where DST applies
            "*/1 * * * * *",
            "0 0 1 1 * 0",
            "@yearly",
            "@hourly",
            "0 0 * * 7",
            "0 12 1-31/30 * *",
        ]
    ),
    "queue": st.sampled_from(["default", "é", "名前", "a b", "x" * 300, " q ", "\u200b", "\x1b"]),
    "unique": st.sampled_from([True, False, "{name}", "{missing}", "k", "{name:>4096}", "{a}-{a}"]),
    "durability": st.sampled_from(["normal", "full"]),
    "isolation": st.sampled_from(["thread", "process"]),
    "restart": st.sampled_from(["always", "on-failure", "never"]),
    "cron_data": st.one_of(VALUES, st.sampled_from([DEEP, [DEEP], {"a": 10**4000}])),
    **dict.fromkeys(["catch_up"], st.sampled_from(["skip", "once", "all"])),
    **dict.fromkeys(["overlap"], st.sampled_from(["skip", "queue", "allow"])),
    **dict.fromkeys(["allow_dash_values", "autostart"], st.booleans()),
}


def value_for(key: str, wild: bool = True) -> st.SearchStrategy[Any]:
    if key in ("command", "on_failure"):
        return COMMANDS if not wild else st.one_of(COMMANDS, NUMBERS, st.lists(COMMANDS))
    if key == "handler":
        return HANDLERS if not wild else st.one_of(HANDLERS, NUMBERS, st.lists(HANDLERS))
    if key == "db":  # --db overrides it
        return st.just("jobs.db") if not wild else st.one_of(st.just("x.db"), NUMBERS)
    if key in PLAUSIBLE:
        return PLAUSIBLE[key] if not wild else st.one_of(PLAUSIBLE[key], VALUES)
    return VALUES


# -- mutations ---------------------------------------------------------------------

JUNK = ["x = ", "[", "= 1", "[jobs", "a = 1 = 2", "\x00", "x = " + "9" * 5000]
JUNK += ["x = " + "[" * 2000 + "]" * 2000, "x = " + "{ a = " * 2000 + "1" + " }" * 2000]

TABLES = ("jobs", "queues", "workers")
JOB_KEYS = sorted({k for body in BASE["jobs"].values() for k in body})
WORKER_KEYS = sorted({k for body in BASE["workers"].values() for k in body})


@st.composite
def mutated(draw: st.DrawFn, wild: bool = True) -> str:
    """The example, changed a few times over: the text of a jobs.toml.

    Not `wild`: values of the right kind at the edges, names that are
    names, valid TOML; most of those configs are accepted, and run.
    """
    data: dict[str, Any] = {
        key: ({n: dict(b) for n, b in value.items()} if key in TABLES else value)
        for key, value in BASE.items()
    }
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        kinds = ["top value", "table value", "table value", "drop", "drop table", "rename", "copy"]
        kind = draw(st.sampled_from(kinds + ["new key"] if wild else kinds))
        if kind == "top value":
            key = draw(st.sampled_from(sorted(k for k in BASE if k not in TABLES)))
            data[key] = draw(value_for(key, wild))
        elif kind in ("table value", "drop", "new key"):
            section, name = _pick_table(draw, data)
            if name is None:
                continue
            body = data[section][name]
            known = JOB_KEYS if section == "jobs" else WORKER_KEYS
            if section == "queues":
                known = ["concurrency"]
            if kind == "drop":
                if body:
                    del body[draw(st.sampled_from(sorted(body)))]
                continue
            key = draw(st.sampled_from(known)) if kind == "table value" else draw(NAMES)
            body[key] = draw(value_for(key, wild))
        elif kind == "drop table":
            section = draw(st.sampled_from([*TABLES, *sorted(k for k in BASE if k not in TABLES)]))
            if section in TABLES and data.get(section) and draw(st.booleans()):
                del data[section][draw(st.sampled_from(sorted(data[section])))]
            else:
                data.pop(section, None)
        else:  # rename or copy a table under an odd name
            section, name = _pick_table(draw, data)
            if name is None:
                continue
            new = draw(NAMES if wild else GOOD_NAMES)
            body = data[section][name] if kind == "copy" else data[section].pop(name)
            data[section][new] = dict(body)
    text = to_toml(data)
    if not wild:
        return text
    broken = draw(st.sampled_from([None] * 4 + ["duplicate", "cut", "junk line"]))
    if broken == "duplicate":  # the same table twice: not TOML
        headers = re.findall(r"^\[.*\]$", text, re.MULTILINE)
        if headers:
            text += "\n" + draw(st.sampled_from(headers)) + '\nqueue = "x"\n'
    elif broken == "cut":
        text = text[: draw(st.integers(min_value=0, max_value=len(text)))]
    elif broken == "junk line":
        lines = text.splitlines()
        at = draw(st.integers(min_value=0, max_value=len(lines)))
        lines.insert(at, draw(st.sampled_from(JUNK)))
        text = "\n".join(lines) + "\n"
    return text


def _pick_table(draw: st.DrawFn, data: dict[str, Any]) -> tuple[str, str | None]:
    section = draw(st.sampled_from(TABLES))
    tables = data.get(section)
    if not isinstance(tables, dict) or not tables:
        return section, None
    return section, draw(st.sampled_from(sorted(tables)))


def to_toml(data: dict[str, Any]) -> str:
    lines = [f"{_key(k)} = {_value(v)}" for k, v in data.items() if k not in TABLES]
    for section in TABLES:
        tables = data.get(section)
        if tables is None:
            continue
        if not isinstance(tables, dict):
            lines.insert(0, f"{section} = {_value(tables)}")
            continue
        for name, body in tables.items():
            lines.append(f"\n[{section}.{_key(name)}]")
            lines += [f"{_key(k)} = {_value(v)}" for k, v in body.items()]
    return "\n".join(lines) + "\n"


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _string(key)


def _string(text: str) -> str:
    escaped = []
    for ch in text:
        if ch in '"\\':
            escaped.append("\\" + ch)
        elif ord(ch) < 0x20 or ch == "\x7f":
            escaped.append(f"\\u{ord(ch):04x}")
        else:
            escaped.append(ch)
    return '"' + "".join(escaped) + '"'


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(value)


# -- running it -----------------------------------------------------------------------


@contextlib.contextmanager
def fresh(text: str) -> Iterator[Path]:
    """A private folder holding jobs.toml, as cwd, with JOBCTL_* pointing into it."""
    saved_env = {n: os.environ.get(n) for n in ("JOBCTL_DB", "JOBCTL_CONFIG")}
    saved_cwd, saved_path = os.getcwd(), sys.path[:]  # the daemon puts the folder on sys.path
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        (home / "jobs.toml").write_text(text, encoding="utf-8")
        os.environ["JOBCTL_DB"] = str(home / "jobs.db")
        os.environ["JOBCTL_CONFIG"] = str(home / "jobs.toml")
        os.chdir(home)
        try:
            yield home
        finally:
            os.chdir(saved_cwd)
            sys.path[:] = saved_path
            for name, value in saved_env.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 2
    return code, out.getvalue(), err.getvalue()


def clean(code: int, err: str, what: str) -> None:
    assert "Traceback" not in err and "internal error" not in err, f"{what}: {err}"


def add_one_of_each(home: Path) -> None:
    """A job of every type the config declares, run once (no retries to wait for)."""
    queue = jobctl.connect(home / "jobs.db", home / "jobs.toml")
    with queue:
        for name in queue.config.jobs:
            with contextlib.suppress(JobctlError):  # a template that needs other fields
                queue.add_id(name, {"name": "fuzz", "a": 1}, max_attempts=1)


def tui(home: Path) -> None:
    """The TUI on it, headless: the schedules view, then the workers view, each filled."""
    from jobctl.tui import JobctlApp

    async def go() -> None:
        queue = jobctl.connect(home / "jobs.db", home / "jobs.toml")
        app = JobctlApp(queue)
        async with app.run_test(size=(120, 40)) as pilot:
            # A view is read when it is shown (tui/feed.py), from the config too.
            for key, table, rows in (
                ("s", "#schedules-table", len(queue.config.schedules)),
                ("w", "#workers-table", len(queue.config.workers)),
            ):
                await pilot.press(key)
                shown = app.query_one(table)
                deadline = time.monotonic() + 10
                while shown.row_count != rows:
                    assert time.monotonic() < deadline, f"{table} not filled within 10s"
                    await pilot.pause(0.05)

    asyncio.run(go())


@WIDE
@given(mutated())
def test_what_check_refuses_is_one_line_per_problem_and_exit_2(text: str) -> None:
    with fresh(text) as home:
        code, out, err = run("check")
        clean(code, err, "check")
        event("refused" if code else "accepted")
        if code == 0:
            return
        assert code == 2 and out == "", (code, out, err)
        lines = err.splitlines()
        assert lines, "refused without saying why"
        for line in lines:
            assert line.startswith((str(home / "jobs.toml"), "jobctl: ")), err


@FUZZ
@given(mutated(wild=False))
def test_what_check_accepts_is_served(text: str) -> None:
    with fresh(text) as home:
        code, _, err = run("check")
        clean(code, err, "check")
        event("refused" if code else "accepted")
        if code != 0:
            assert code == 2, err
            return
        add_one_of_each(home)
        code, _, err = run("daemon", "--drain")
        clean(code, err, "daemon --drain")
        assert code == 0, err
        code, _, err = run("schedules")
        clean(code, err, "schedules")
        assert code == 0, err
        if zlib.crc32(text.encode()) % 5 == 0:  # a fifth: the TUI takes a second or more
            tui(home)


def test_the_example_itself_is_served() -> None:
    with fresh(EXAMPLE.read_text(encoding="utf-8")) as home:
        assert run("check")[0] == 0
        add_one_of_each(home)
        code, _, err = run("daemon", "--drain")
        assert code == 0 and "Traceback" not in err, err
        tui(home)


# -- what the fuzzing found ----------------------------------------------------------

FOUND = [
    # internal errors in every command that reads jobs.toml
    "kill_grace = " + "1" * 400,  # OverflowError: int too large to convert to float
    "x = " + "9" * 5000,  # ValueError: over Python's 4,300 digits
    "x = " + "[" * 1000 + "]" * 1000,  # RecursionError in tomllib
    '[jobs.a]\ncommand = "true"\nretry_backoff = ' + "9" * 400,  # float() overflows
    # accepted, then wrong at run time
    '[jobs.a]\ncommand = "true"\ntimeout = nan',  # nan seconds
    "shutdown_grace = inf",
    '[jobs.a]\ncommand = "true"\nretry_delay = 1e300',  # `show` of the retry: past year 9999
    '[jobs.a]\ncommand = "true"\nretry_backoff = nan',
    'max_payload = "0KiB"',  # 0 was refused, "0KiB" not: then every add was
    '[jobs.a]\ncommand = "true"\nqueue = "\\u001b[2J"',  # --queue refuses that
    '[jobs.a]\ncommand = "true"\nevery = "1h"\ncron_data = { day = 1979-05-27 }',  # not JSON
    '[jobs.a]\ncommand = "true"\nevery = "1h"\ncron_data = ' + "[" * 150 + "]" * 150,
    # a problem printed over two lines
    '[queues.default]\n"a\\nb" = 1',
]


@pytest.mark.parametrize("text", FOUND)
def test_found_by_fuzzing_check_refuses_in_one_line(text: str) -> None:
    with fresh(text + "\n") as home:
        code, out, err = run("check")
        clean(code, err, "check")
        assert code == 2 and out == "" and len(err.splitlines()) == 1, err
        assert err.startswith(str(home / "jobs.toml")), err


def test_found_by_fuzzing_a_huge_backoff_no_longer_kills_the_daemon() -> None:
    # 1e200 ** 2 overflows: the daemon died computing the third attempt's delay.
    text = (
        '[jobs.a]\ncommand = "false"\nmax_attempts = 4\n'
        'retry_delay = "1ms"\nretry_max_delay = "2ms"\nretry_backoff = 1e200\n'
    )
    with fresh(text) as home:
        jobctl.connect(home / "jobs.db", home / "jobs.toml").add_id("a")
        code, _, err = run("daemon", "--drain")
        clean(code, err, "daemon --drain")
        assert code == 0 and "attempt 4 failed" in err, err
