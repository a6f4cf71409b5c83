"""Saying what is served: the daemon's start and stop lines, and the warning a
wait gives when no live daemon serves its job's queue."""

from __future__ import annotations

import logging
import os
import queue
import signal
import subprocess
import threading
from typing import Any

import pytest
from conftest import JOBCTL, Cli, wait_for

import jobctl
from jobctl.api import unserved_message
from jobctl.errors import WaitTimeout

WARNING = 'jobctl: warning: no daemon is serving queue "default" (start one with: jobctl daemon)\n'
UNTIL_GO = ["sh", "-c", "while [ ! -e go ]; do sleep 0.05; done"]


class Lines:
    """A pipe's lines as they come, read by a thread: a deadline on each."""

    def __init__(self, stream: Any) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self.lines.put(line)

    def next(self, timeout: float) -> str:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no line within {timeout:g}s") from None

    def rest(self) -> list[str]:
        """Every line left, once the pipe has closed."""
        self.thread.join(20)
        return list(self.lines.queue)


def start(cli: Cli, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*JOBCTL, *args],
        cwd=cli.home,
        env=cli.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=20)


def registered(cli: Cli, count: int = 1) -> None:
    """Wait until `count` daemons have registered (and so heartbeat)."""

    def seen() -> bool:
        store = cli.store()
        try:
            return len(store.live_daemons()) >= count
        finally:
            store.close()

    wait_for(seen, what=f"{count} daemon(s) registered")


# -- the warning -----------------------------------------------------------------


@pytest.mark.parametrize("command", ["add --wait", "wait", "logs -f", "logs -f --attempt 1"])
def test_waiting_without_a_daemon_warns_within_2s_and_goes_on(cli: Cli, command: str) -> None:
    if command == "add --wait":
        proc = start(cli, "add", "--wait", "--", "true")
    else:
        job_id = cli.ok("add", "--", "true").strip()
        proc = start(cli, *command.split()[:2], job_id, *command.split()[2:])
    try:
        errors = Lines(proc.stderr)
        assert errors.next(timeout=2) == WARNING
        assert proc.poll() is None  # a warning: it goes on waiting
    finally:
        stop(proc)


def test_a_daemon_of_other_queues_only_is_not_serving_and_one_started_later_is(
    cli: Cli, daemons
) -> None:
    daemons.start("--queues", "mail,reports")
    registered(cli)
    proc = start(cli, "add", "--wait", "--", "true")
    try:
        errors = Lines(proc.stderr)
        assert errors.next(timeout=2) == WARNING
        # A daemon that serves it comes: the job runs, the exit status is the
        # job's, and nothing more is said.
        daemons.start()
        assert proc.wait(timeout=20) == 0
        assert errors.rest() == []
    finally:
        stop(proc)


def test_a_daemon_killed_with_9_is_not_serving(cli: Cli, daemons) -> None:
    first = daemons.start()
    registered(cli)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()  # its row says it runs: its process says otherwise
    proc = start(cli, "add", "--wait", "--", "true")
    try:
        assert Lines(proc.stderr).next(timeout=2) == WARNING
    finally:
        stop(proc)


def test_no_warning_while_a_daemon_serves_the_queue(cli: Cli, daemons) -> None:
    daemons.start("--queues", "default")
    registered(cli)
    proc = start(cli, "add", "--wait", "--", *UNTIL_GO)
    try:
        errors = Lines(proc.stderr)
        with pytest.raises(AssertionError, match="no line"):
            errors.next(timeout=2.5)  # past the moment it looks
        (cli.home / "go").touch()
        assert proc.wait(timeout=20) == 0
        assert errors.rest() == []
    finally:
        stop(proc)


def test_the_warning_names_every_unserved_queue_escaped() -> None:
    # Queue names are printable when they come from add or jobs.toml; a
    # database written otherwise still must not reach the terminal raw.
    text = unserved_message(["mail", "x\x1b[2J"])
    assert text == (
        'no daemon is serving queues "mail", "x\\x1b[2J" (start one with: jobctl daemon)'
    )


def test_api_run_logs_a_warning_once(cli: Cli, caplog: pytest.LogCaptureFixture) -> None:
    queue = jobctl.connect(cli.db, None)
    with caplog.at_level(logging.WARNING, logger="jobctl"), pytest.raises(WaitTimeout):
        queue.run(None, command=["true"], timeout="3s")
    warned = [r for r in caplog.records if r.name == "jobctl"]
    assert [r.getMessage() for r in warned] == [WARNING.removeprefix("jobctl: warning: ").strip()]
    assert warned[0].levelno == logging.WARNING


def test_api_wait_says_nothing_unless_asked(cli: Cli, caplog: pytest.LogCaptureFixture) -> None:
    queue = jobctl.connect(cli.db, None)
    job_id = queue.add_id(command=["true"])
    with caplog.at_level(logging.DEBUG), pytest.raises(WaitTimeout):
        queue.wait(job_id, timeout="2s")
    assert [r for r in caplog.records if r.name.startswith("jobctl")] == []
    assert queue.unserved(["default"]) == ["default"]


# -- the start and stop lines ----------------------------------------------------------

CONFIG = """
[jobs.hello]
command = "echo hello"

[jobs.hourly]
command = "true"
every = "1h"

[workers.napper]
command = "sleep 2323.5"
"""


def test_the_start_line_names_the_database_the_config_and_what_it_declares(
    cli: Cli, write_config, daemons
) -> None:
    config = write_config(CONFIG)
    assert daemons.start("--drain", "--queues", "default,mail").wait(timeout=30) == 0
    first = daemons.log_path(0).read_text().splitlines()[0]
    assert "started: pid " in first
    assert f"database {cli.db}" in first
    assert f"{config}: 2 job type(s), 1 schedule(s), 1 worker(s)" in first
    assert 'queues "default", "mail"' in first
    assert "workers not started (--drain)" in first


def test_the_start_line_says_when_there_is_no_config(cli: Cli, daemons) -> None:
    assert daemons.start("--drain").wait(timeout=30) == 0
    first = daemons.log_path(0).read_text().splitlines()[0]
    assert f"database {cli.db}" in first
    assert "no config file: 0 job type(s), 0 schedule(s), 0 worker(s)" in first
    assert "all queues" in first


def test_the_stop_line_counts_the_workers_it_stopped(cli: Cli, write_config, daemons) -> None:
    write_config(CONFIG)
    proc = daemons.start("--concurrency", "3")

    def napping() -> bool:
        return any(w["state"] == "running" for w in cli.json("workers")["workers"])

    wait_for(napping, what="the worker running")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    log = daemons.log_path(0).read_text()
    assert "Stopped 1 worker(s), 3 threads" in log, log
