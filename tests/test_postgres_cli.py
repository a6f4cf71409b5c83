"""The real `jobctl` command and daemon on a real PostgreSQL server (issue 16).

Each test has a schema of its own on the session's server (conftest.pg_url);
the CLI and the daemons are given it as $JOBCTL_DB, as a user would.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Cli, Daemons, copies, fail_one_line, states, wait_for, worker


@pytest.fixture
def pg(tmp_path: Path, pg_url: str) -> Cli:
    return Cli(tmp_path, db=pg_url)


@pytest.fixture
def pg_daemons(pg: Cli) -> Iterator[Daemons]:
    group = Daemons(pg)
    yield group
    group.stop_all()


@pytest.fixture(autouse=True)
def no_leftovers():
    """The worker commands here are `sleep 1616.N`: none may outlive a failed test."""
    yield
    for pid in copies("sleep 1616."):
        os.kill(pid, signal.SIGKILL)


def write_config(cli: Cli, text: str) -> None:
    (cli.home / "jobs.toml").write_text(text, encoding="utf-8")


# -- what works on SQLite works on PostgreSQL --------------------------------------


def test_a_command_and_a_handler_job_drain_and_show(pg: Cli) -> None:
    write_config(pg, '[jobs.greet]\nhandler = "jobctl.examples:greet"\n')
    echo = pg.ok("add", "--", "echo", "hi").strip()
    greet = pg.ok("add", "greet", "--data", '{"name": "pg"}').strip()
    assert pg("daemon", "--drain").returncode == 0
    shown = pg.json("show", echo)
    assert shown["state"] == "succeeded" and [a["outcome"] for a in shown["attempts"]] == [
        "succeeded"
    ]
    assert pg.ok("logs", echo) == "hi\n"
    assert "succeeded" in pg.ok("show", echo)
    typed = pg.json("show", greet)
    assert typed["state"] == "succeeded" and typed["result"] == {"greeting": "hello pg"}
    assert [line["message"] for line in typed["log"]] == ["greeting"]


def test_a_schedule_enqueues_and_runs(pg: Cli, pg_daemons: Daemons) -> None:
    write_config(pg, '[jobs.tick]\ncommand = "echo tick"\nevery = "1s"\n')
    pg_daemons.start()

    def ran() -> list[tuple[int, float]]:
        return pg.rows(
            "SELECT id, due_at FROM jobs WHERE schedule = ? AND state = ?", ("tick", "succeeded")
        )

    wait_for(lambda: len(ran()) >= 2, timeout=30, what="two runs of the schedule succeeded")
    first_id, due = ran()[0]
    assert due == int(due)  # on the 1 s grid
    assert pg.ok("logs", str(first_id)) == "tick\n"
    [shown] = pg.json("schedules")
    assert shown["name"] == "tick" and shown["last_job_id"]


def test_a_worker_runs_and_stops(pg: Cli, pg_daemons: Daemons) -> None:
    write_config(pg, "[workers.beat]\ncommand = \"sh -c 'echo up; exec sleep 1616.5'\"\n")
    proc = pg_daemons.start()
    wait_for(lambda: worker(pg, "beat")["state"] == "running", what="worker running")
    wait_for(lambda: len(copies("sleep 1616.5")) == 1, what="one copy")
    wait_for(lambda: "up" in pg.ok("logs", "--worker", "beat"), what="its output")
    pg.ok("workers", "stop", "beat")
    wait_for(lambda: worker(pg, "beat")["state"] == "stopped", what="stopped")
    assert copies("sleep 1616.5") == []
    assert proc.poll() is None


APPEND = """
import os

def append(payload, ctx):
    fd = os.open(payload["file"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.write(fd, f"{ctx.job.id}\\n".encode())
    os.close(fd)
"""


def test_two_daemons_drain_2000_handler_jobs_each_exactly_once(
    pg: Cli, pg_daemons: Daemons
) -> None:
    (pg.home / "tasks.py").write_text(APPEND)
    write_config(pg, '[jobs.append]\nhandler = "tasks:append"\n')
    out = pg.home / "ids.txt"
    lines = "".join(f'{{"file": "{out}"}}\n' for _ in range(2000))
    ids = pg.ok("add", "append", "--batch", "-", input=lines).split()
    assert len(set(ids)) == 2000
    first = pg_daemons.start("--drain", "--concurrency", "6")
    second = pg_daemons.start("--drain", "--concurrency", "6")
    assert first.wait(timeout=180) == 0 and second.wait(timeout=180) == 0
    assert sorted(out.read_text().split(), key=int) == sorted(ids, key=int)  # each ran once
    assert states(pg) == {"succeeded": 2000}
    assert pg.rows(
        "SELECT count(*), count(DISTINCT job_id), min(number), max(number) FROM attempts"
    ) == [(2000, 2000, 1, 1)]
    assert pg.rows("SELECT count(*) FROM jobs WHERE attempts_total <> 1") == [(0,)]
    totals = next(row for row in pg.json("stats") if row["queue"] is None)
    assert (totals["succeeded"], totals["total"]) == (2000, 2000)
    sample = pg.json("show", ids[1234])
    assert sample["state"] == "succeeded" and len(sample["attempts"]) == 1


# -- the password never shows ------------------------------------------------------


def with_password(url: str, password: str) -> str:
    """`url` with `password` in its user info (pgserver trusts, so ignores, it)."""
    found = re.match(r"^(postgres(?:ql)?://)([^:@/?#]*)(?::[^@/?#]*)?@", url)
    assert found, "a URL with a user name"
    return f"{found[1]}{found[2]}:{password}@{url[found.end() :]}"


@pytest.fixture
def secret() -> str:
    # Unique, so that a scan of every process's argv sees no other test's.
    return f"s3cret{uuid.uuid4().hex[:12]}"


@pytest.fixture
def masked(tmp_path: Path, pg_url: str, secret: str) -> Cli:
    return Cli(tmp_path, db=with_password(pg_url, secret))


@pytest.fixture
def masked_daemons(masked: Cli) -> Iterator[Daemons]:
    group = Daemons(masked)
    yield group
    group.stop_all()


def argv_of_every_process() -> dict[int, str]:
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):  # it ended meanwhile
                found[int(entry.name)] = (entry / "cmdline").read_bytes().decode(errors="replace")
    return found


SPY = """
import os, subprocess

def spy(payload, ctx):
    with open(f"/proc/{os.getppid()}/cmdline", "rb") as file:
        print("parent:", file.read().replace(b"\\0", b" ").decode())
    with open("/proc/self/cmdline", "rb") as file:
        print("self:", file.read().replace(b"\\0", b" ").decode())
"""


def test_the_password_is_in_no_log_output_json_or_argv(
    masked: Cli, masked_daemons: Daemons, secret: str
) -> None:
    cli, pg_daemons = masked, masked_daemons
    (cli.home / "spy.py").write_text(SPY)
    write_config(
        cli,
        '[jobs.spy]\nhandler = "spy:spy"\nisolation = "process"\n'
        "[workers.lurk]\ncommand = \"sh -c 'exec sleep 1616.7'\"\n"
        '[jobs.fails]\ncommand = "false"\nmax_attempts = 1\n'
        "on_failure = \"sh -c 'cat /proc/$PPID/cmdline > hook.txt; cat >> hook.txt'\"\n",
    )
    # Into a file, not the job's output, which the daemon stores now and then;
    # -ww: ps cuts args to $COLUMNS otherwise, and a test runner may set it.
    seen_by_shell = cli.home / "shell.txt"
    shell = cli.ok(
        "add",
        "--shell",
        "{ cat /proc/$PPID/cmdline; ps -ww -o args= -p $$ -p $PPID; } > shell.txt; sleep 30",
    ).strip()
    spy = cli.ok("add", "spy").strip()
    fails = cli.ok("add", "fails").strip()
    daemon = pg_daemons.start("--log-format", "json")
    text_daemon = pg_daemons.start()
    wait_for(lambda: cli.json("show", shell)["state"] == "running", what="the shell job running")
    wait_for(lambda: copies("sleep 1616.7"), what="the worker running")
    wait_for(lambda: cli.json("show", spy)["state"] == "succeeded", what="the spy job")
    wait_for(lambda: cli.json("show", fails)["state"] == "failed", what="the failing job")
    hook = cli.home / "hook.txt"
    wait_for(lambda: hook.exists() and f'"id": {fails}' in hook.read_text(), what="the hook")
    # While jobs, a handler child, a worker and a hook run: no process's argv holds it.
    leaks = {pid: argv for pid, argv in argv_of_every_process().items() if secret in argv}
    assert leaks == {}
    wait_for(lambda: "sleep 30" in seen_by_shell.read_text(), what="the shell job's ps output")
    cli.ok("cancel", shell)
    wait_for(lambda: cli.json("show", shell)["state"] == "cancelled", what="cancelled")
    seen = [seen_by_shell.read_text(), cli.ok("logs", spy), hook.read_text()]
    assert all("jobctl" in text for text in seen)  # the spies saw the daemon's argv
    outputs = [
        *seen,
        *(cli.ok("logs", job) for job in (shell, fails)),
        cli.ok("logs", "--worker", "lurk"),
        cli.ok("ls", "--json"),
        cli.ok("stats", "--json"),
        cli.ok("workers", "--json"),
        cli.ok("schedules", "--json"),
        *(cli.ok("show", job, "--json") for job in (shell, spy, fails)),
        cli.ok("show", spy),
        cli.ok("add", "--json", "--", "true"),
    ]
    for output in outputs:
        assert secret not in output
    daemon.send_signal(signal.SIGTERM)
    text_daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=30) == 0 and text_daemon.wait(timeout=30) == 0
    json_log = pg_daemons.log_path(0).read_text()
    text_log = pg_daemons.log_path(1).read_text()
    assert [json.loads(line) for line in json_log.splitlines()]  # it did log, as JSON
    assert "Stopped" in text_log
    assert "database postgresql://postgres:***@" in text_log  # shown, masked
    assert "database postgresql://postgres:***@" in json_log
    assert secret not in json_log and secret not in text_log


def test_the_password_is_in_no_error_message(tmp_path: Path, pg_url: str, secret: str) -> None:
    absent = Cli(tmp_path, db=f"postgresql://u:{secret}@127.0.0.1:1/db")
    bad_schema = Cli(tmp_path, db=with_password(pg_url, secret).replace("schema=", "schema=Bad-"))
    for cli in (absent, bad_schema):
        for args in (["add", "--", "true"], ["ls", "--json"], ["show", "1", "--json"]):
            message = fail_one_line(cli(*args), 1 if cli is absent else 2)
            assert secret not in message and "***" in message, message
        result = cli("daemon", "--drain")
        assert result.returncode != 0 and result.stderr
        assert secret not in result.stderr + result.stdout
        # On the command line too, where the user typed it: the message hides it.
        typed = Cli(tmp_path)
        result = typed("ls", "--db", cli.db)
        assert result.returncode != 0 and secret not in result.stderr


def test_init_names_the_database_without_the_password(masked: Cli, secret: str) -> None:
    out = masked.ok("init")
    assert "database at postgresql://" in out and "***" in out
    assert secret not in out
    assert [row["total"] for row in masked.json("stats")] == [0]  # it made the schema
