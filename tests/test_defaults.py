"""Top-level defaults (issue 15): `timeout` for every job, and ad hoc commands
that run once unless asked (`command_max_attempts`, `--max-attempts`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Cli, wait_for

import jobctl
from jobctl.config import load_config
from jobctl.errors import ConfigError, InputError, JobFailed

TYPES = """
[jobs.plain]
command = "true"

[jobs.own]
command = "true"
timeout = "90s"
max_attempts = 7
"""


def stored(cli: Cli, *args: str) -> tuple[float | None, int]:
    """The timeout and max_attempts `jobctl add ARGS` stored with its job."""
    job = cli.json("show", cli.ok("add", *args).strip())
    return job["timeout"], job["max_attempts"]


# -- timeout -------------------------------------------------------------------


def test_top_level_timeout_is_the_default_of_types_and_commands(cli: Cli, write_config) -> None:
    write_config('timeout = "5m"\n' + TYPES)
    assert stored(cli, "--", "true")[0] == 300
    assert stored(cli, "--shell", "true")[0] == 300
    assert stored(cli, "plain")[0] == 300
    assert stored(cli, "own")[0] == 90  # the type's own wins
    assert stored(cli, "own", "--timeout", "2s")[0] == 2  # and the job's over both
    assert stored(cli, "plain", "--timeout", "2s")[0] == 2
    assert stored(cli, "--timeout", "1m", "--", "true")[0] == 60


def test_without_a_top_level_timeout_jobs_have_none(cli: Cli, write_config) -> None:
    write_config(TYPES)
    assert stored(cli, "--", "true")[0] is None
    assert stored(cli, "plain")[0] is None


@pytest.mark.parametrize("value", ['"5 minutes"', '"0s"', "true", '"-1s"'])
def test_a_bad_top_level_timeout_is_a_config_error(cli: Cli, write_config, value: str) -> None:
    write_config(f"timeout = {value}\n")
    check = cli("check")
    assert check.returncode == 2 and check.stdout == ""
    assert check.stderr.count("\n") == 1 and "jobs.toml:1: timeout: " in check.stderr
    add = cli("add", "--", "true")
    assert add.returncode == 2 and add.stderr.endswith(check.stderr)
    assert cli.count_jobs() == 0


def test_top_level_timeout_times_out_a_command_type_and_an_ad_hoc_command(
    cli: Cli, write_config, daemons
) -> None:
    write_config(
        'timeout = "1s"\nkill_grace = "1s"\n[jobs.slow]\ncommand = "sleep 5"\nmax_attempts = 1\n'
    )
    daemons.start()
    for args in (["slow"], ["--", "sleep", "5"]):
        result = cli("add", "--wait", *args)
        assert result.returncode == 1, (args, result.stderr)
        job = cli.json("show", result.stdout.strip())
        assert job["state"] == "failed"
        assert [a["outcome"] for a in job["attempts"]] == ["timed_out"]


def test_api_job_timeout_is_the_jobs_own_and_timeout_the_waits(
    cli: Cli, write_config, daemons
) -> None:
    config = write_config('kill_grace = "1s"\n')
    queue = jobctl.connect(cli.db, config)
    assert queue.add(command=["true"], job_timeout="2s").timeout == 2
    assert queue.add(command=["true"], timeout=3).timeout == 3  # add() has no wait: the same
    with pytest.raises(InputError, match="not both"):
        queue.add(command=["true"], timeout=3, job_timeout=3)
    daemons.start()
    # Today's run(timeout=) only bounds the wait; job_timeout stops the job itself.
    with pytest.raises(JobFailed, match="timed out after 1s") as raised:
        queue.run(command=["sleep", "5"], job_timeout="1s", timeout=30)
    job = queue.get(raised.value.job_id)
    assert job.timeout == 1 and job.state == "failed"


# -- attempts ------------------------------------------------------------------


def test_ad_hoc_commands_run_once_unless_asked(cli: Cli, write_config) -> None:
    write_config(TYPES)
    assert stored(cli, "--", "true")[1] == 1
    assert stored(cli, "--shell", "true")[1] == 1
    assert stored(cli, "--max-attempts", "3", "--", "true")[1] == 3
    assert stored(cli, "plain")[1] == 3  # typed jobs keep their type's setting
    assert stored(cli, "own")[1] == 7
    assert stored(cli, "own", "--max-attempts", "2")[1] == 2


def test_command_max_attempts_sets_the_ad_hoc_default_only(cli: Cli, write_config) -> None:
    write_config("command_max_attempts = 4\n" + TYPES)
    assert stored(cli, "--", "true")[1] == 4
    assert stored(cli, "--shell", "true")[1] == 4
    assert stored(cli, "--max-attempts", "1", "--", "true")[1] == 1
    assert stored(cli, "plain")[1] == 3
    assert stored(cli, "own")[1] == 7


@pytest.mark.parametrize("value", ["0", "1000001", '"3"', "true", "1.5"])
def test_a_bad_command_max_attempts_is_a_config_error(tmp_path: Path, value: str) -> None:
    path = tmp_path / "jobs.toml"
    path.write_text(f"command_max_attempts = {value}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    [problem] = caught.value.problems
    assert problem.startswith(f"{path}:1: command_max_attempts: "), problem
    assert problem.count("max_attempts") == 1


def test_command_max_attempts_accepts_its_range(tmp_path: Path) -> None:
    path = tmp_path / "jobs.toml"
    for value in (1, 1_000_000):
        path.write_text(f"command_max_attempts = {value}\n")
        assert load_config(path).command_max_attempts == value
    path.write_text("")
    assert load_config(path).command_max_attempts == 1


def test_add_wait_of_a_failing_command_exits_after_one_attempt(cli: Cli, daemons) -> None:
    daemons.start()
    result = cli("add", "--wait", "--", "sh", "-c", "exit 3")
    assert result.returncode == 3, result.stderr
    job = cli.json("show", result.stdout.strip())
    assert job["state"] == "failed" and job["attempts_total"] == 1
    assert len(job["attempts"]) == 1


def test_asked_for_retries_a_command_is_retried(cli: Cli, daemons) -> None:
    marker = cli.home / "tried"
    script = f"test -e {marker} || {{ touch {marker}; exit 1; }}"
    daemons.start()
    job_id = cli.ok("add", "--max-attempts", "2", "--shell", script).strip()
    wait_for(lambda: cli.json("show", job_id)["state"] == "succeeded", timeout=30)
    assert cli.json("show", job_id)["attempts_total"] == 2
