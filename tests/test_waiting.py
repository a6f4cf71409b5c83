"""Waiting on jobs a real daemon runs: `add --wait`, `wait`, `logs -f`, and `Queue.run()`."""

from __future__ import annotations

import json
import subprocess

import pytest
from conftest import JOBCTL, Cli, fail_one_line, read_line, states, wait_for

import jobctl
from jobctl.errors import JobFailed, WaitTimeout

TASKS = """
def add(payload, ctx):
    return {"sum": payload["a"] + payload["b"]}

def broken(payload, ctx):
    raise ValueError("no luck today")
"""

CONFIG = """
[jobs.add]
handler = "tasks:add"

[jobs.broken]
handler = "tasks:broken"
max_attempts = 1
"""


def test_add_wait_exits_with_the_commands_own_status(cli: Cli, daemons) -> None:
    daemons.start()
    # Registered first: a wait that finds no daemon after a second warns on stderr.
    wait_for(lambda: "started" in daemons.log_path(0).read_text(), what="the daemon started")
    result = cli("add", "--wait", "--", "sh", "-c", "exit 7")
    assert result.returncode == 7, result.stderr
    job_id = result.stdout.strip()  # the id is printed first, as without --wait
    assert result.stderr == f"jobctl: job {job_id} failed: exit status 7\n"
    assert cli.store().get(int(job_id)).state == "failed"


def test_add_wait_exits_0_when_the_job_succeeds(cli: Cli, daemons) -> None:
    daemons.start()
    result = cli("add", "--wait", "--json", "--", "echo", "fine")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["state"] == "succeeded"  # the job as it ended


def test_wait_timeout_exits_124_and_the_job_goes_on(cli: Cli, daemons) -> None:
    daemons.start()
    job_id = cli.ok("add", "--", "sleep", "60").strip()
    wait_for(lambda: states(cli).get("running") == 1, what="running")
    line = fail_one_line(cli("wait", job_id, "--timeout", "1s"), 124)
    assert "timed out after 1s" in line and job_id in line
    assert cli.store().get(int(job_id)).state == "running"


def test_wait_for_several_jobs_exits_1_when_one_did_not_succeed(cli: Cli, daemons) -> None:
    good = cli.ok("add", "--", "true").strip()
    bad = cli.ok("add", "--max-attempts", "1", "--", "false").strip()
    held = cli.ok("add", "--in", "1h", "--", "true").strip()
    cli.ok("cancel", held)
    daemons.start()
    line = fail_one_line(cli("wait", good, bad, held), 1)
    assert line == f"jobctl: 2 of 3 jobs did not succeed: job {bad} failed, job {held} cancelled"
    assert cli("wait", good).returncode == 0


def test_wait_for_an_unknown_job_exits_3(cli: Cli) -> None:
    cli.ok("add", "--", "true")
    fail_one_line(cli("wait", "99"), 3)


def test_a_bad_timeout_is_an_input_error(cli: Cli) -> None:
    job_id = cli.ok("add", "--", "true").strip()
    fail_one_line(cli("wait", job_id, "--timeout", "soon"), 2)


def test_logs_follow_prints_output_as_it_is_written(cli: Cli, daemons) -> None:
    # The job prints a line, then waits for a file the test creates only
    # once the follower has shown that line: so it was shown live.
    script = "echo one; while [ ! -e go ]; do sleep 0.05; done; echo two"
    job_id = cli.ok("add", "--", "sh", "-c", script).strip()
    follower = subprocess.Popen(
        [*JOBCTL, "logs", "-f", job_id],
        cwd=cli.home,
        env=cli.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        daemons.start()
        assert read_line(follower.stdout) == "one\n"
        assert cli.store().get(int(job_id)).state == "running"
        (cli.home / "go").touch()
        rest, errors = follower.communicate(timeout=20)
    finally:
        if follower.poll() is None:
            follower.kill()
    assert follower.returncode == 0, errors
    assert rest == "two\n"


def test_api_run_returns_the_result_or_raises(cli: Cli, write_config, daemons) -> None:
    (cli.home / "tasks.py").write_text(TASKS)
    config = write_config(CONFIG)
    daemons.start()
    queue = jobctl.connect(cli.db, config)
    assert queue.run("add", {"a": 2, "b": 3}, timeout=30) == {"sum": 5}
    with pytest.raises(JobFailed, match="no luck today") as raised:
        queue.run("broken", {}, timeout=30)
    assert raised.value.state == "failed"


def test_api_run_times_out_without_a_daemon(cli: Cli, write_config) -> None:
    config = write_config(CONFIG)
    queue = jobctl.connect(cli.db, config)
    with pytest.raises(WaitTimeout):
        queue.run("add", {"a": 1, "b": 1}, timeout=0.2)
    assert states(cli) == {"queued": 1}
