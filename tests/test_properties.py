"""Property tests: whatever `jobctl add`, a --batch line or a jobs.toml value
holds, the result is a job that can be read back and shown, or exit 2 with
one `jobctl: ` line and nothing written (issue 13).

They run the real command in-process (main(), as the console script does),
each on a fresh database, bounded to a few seconds.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobctl.__main__ import main
from jobctl.render import json_text
from jobctl.store import Store

FLAGS = [
    "--priority",
    "--max-attempts",
    "--in",
    "--at",
    "--queue",
    "--unique",
    "--after",
    "--timeout",
    "--data",
    "--json",
    "--shell",
    "--",
]
# What a shell can put in argv: any bytes but NUL, decoded as Python does.
ARGV_TEXT = st.binary(max_size=12).map(
    lambda b: b.replace(b"\0", b"").decode("utf-8", "surrogateescape")
)
NUMBERS = st.integers(min_value=-(2**70), max_value=2**70).map(str)
VALUES = st.one_of(ARGV_TEXT, NUMBERS, st.text(max_size=12).filter(lambda t: "\0" not in t))
ARGS = st.lists(st.one_of(st.sampled_from(FLAGS), VALUES), max_size=7)
# derandomize: the same examples every run, so that the suite is deterministic;
# JOBCTL_PROPERTY_EXAMPLES=5000 explores further by hand.
QUICK = settings(
    max_examples=int(os.environ.get("JOBCTL_PROPERTY_EXAMPLES", "60")),
    deadline=None,
    derandomize="JOBCTL_PROPERTY_EXAMPLES" not in os.environ,
    suppress_health_check=[HealthCheck.too_slow],
)

CONFIG = '[jobs.t]\ncommand = "echo {x}"\nunique = "{x}"\n[jobs.plain]\ncommand = "true"\n'


@contextlib.contextmanager
def fresh(config: str = CONFIG) -> Iterator[Path]:
    """A private folder with jobs.toml and JOBCTL_DB pointing into it, as cwd."""
    before = (os.getcwd(), os.environ.get("JOBCTL_DB"), os.environ.get("JOBCTL_CONFIG"))
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        (home / "jobs.toml").write_text(config, encoding="utf-8")
        os.environ["JOBCTL_DB"] = str(home / "state" / "jobs.db")
        os.environ["JOBCTL_CONFIG"] = str(home / "jobs.toml")
        os.chdir(home)
        try:
            yield home
        finally:
            os.chdir(before[0])
            for name, value in (("JOBCTL_DB", before[1]), ("JOBCTL_CONFIG", before[2])):
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def run(args: list[str], stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with (
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        _stdin(stdin),
    ):
        try:
            code = main(args)
        except SystemExit as exc:  # typer's usage errors
            code = exc.code if isinstance(exc.code, int) else 2
    return code, out.getvalue(), err.getvalue()


@contextlib.contextmanager
def _stdin(text: str) -> Iterator[None]:
    import sys

    saved = sys.stdin
    sys.stdin = io.StringIO(text)
    try:
        yield
    finally:
        sys.stdin = saved


def job_count(home: Path) -> int:
    db = home / "state" / "jobs.db"
    if not db.exists():
        return 0
    store = Store.open(db)
    try:
        return store.conn.execute("SELECT count(*) FROM jobs").fetchall()[0][0]
    finally:
        store.close()


def check(code: int, err: str, home: Path, before: int) -> None:
    """Either it worked and every job shows, or one line, exit 2 (3: no such job)."""
    assert "Traceback" not in err and "internal error" not in err, err
    if code == 0:
        store = Store.open(home / "state" / "jobs.db")
        try:
            for job in store.list(limit=1000):
                json_text(store.get(job.id).to_json())  # read back and shown
        finally:
            store.close()
        return
    assert code in (2, 3), (code, err)
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("jobctl: "), err
    assert job_count(home) == before


@QUICK
@given(ARGS, st.booleans())
def test_any_add_arguments(args: list[str], typed: bool) -> None:
    with fresh() as home:
        head = ["add", "t", "--data", '{"x": "a"}'] if typed else ["add"]
        code, _, err = run(head + args)
        check(code, err, home, 0)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)
LINES = st.one_of(
    JSON_VALUES.map(json.dumps),
    st.dictionaries(st.just("x"), JSON_VALUES).map(json.dumps),
    st.text(max_size=30),
)


@QUICK
@given(st.lists(LINES, min_size=1, max_size=5))
def test_any_batch_lines(lines: list[str]) -> None:
    with fresh() as home:
        text = "".join(line.replace("\n", " ") + "\n" for line in lines)
        code, _, err = run(["add", "t", "--batch", "-"], stdin=text)
        check(code, err, home, 0)


TOML_VALUES = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(str),
    st.floats(allow_nan=False).map(repr),
    st.text(max_size=15).map(json.dumps),
    st.booleans().map(lambda b: str(b).lower()),
)
KEYS = [
    "priority",
    "max_attempts",
    "timeout",
    "retry_delay",
    "retry_backoff",
    "concurrency",
    "unique",
    "every",
    "cron",
    "queue",
    "kill_grace",
    "timezone",
]


@QUICK
@given(st.sampled_from(KEYS), TOML_VALUES)
def test_any_jobs_toml_value(key: str, value: str) -> None:
    config = f'[jobs.t]\ncommand = "true"\n{key} = {value}\n'
    with fresh(config) as home:
        code, _, err = run(["add", "t"])
        check(code, err, home, 0)
        if code == 0:
            code, _, err = run(["schedules"])
            assert code == 0 and "Traceback" not in err, err
