"""`jobctl --version`, bare `jobctl`, --db/--config before the command, `jobctl restart`."""

from __future__ import annotations

import json
from importlib.metadata import version

import pytest
from conftest import Cli, both_backends, fail_one_line, imports_of

CONFIG = """
[jobs.email]
command = "true {to}"
queue = "mail"
priority = 5
max_attempts = 7
timeout = "1m"
"""


# -- the top level ---------------------------------------------------------------


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_prints_the_installed_version(cli: Cli, flag: str) -> None:
    result = cli(flag)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == f"jobctl {version('jobctl')}\n"


def test_bare_jobctl_prints_the_help_and_succeeds(cli: Cli) -> None:
    result = cli()
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("Usage: jobctl")
    assert "Commands:" in result.stdout and "restart" in result.stdout
    assert "--version" in result.stdout


def test_db_before_the_command(cli: Cli) -> None:
    other = cli.home / "other" / "jobs.db"
    job_id = cli.ok("--db", str(other), "add", "--", "true").strip()
    assert cli.count_jobs() == 0  # not in $JOBCTL_DB's database
    listed = cli.json("--db", str(other), "ls")
    assert [j["id"] for j in listed] == [int(job_id)]
    assert cli.json(f"--db={other}", "show", job_id)["argv"] == ["true"]
    assert cli("--db", str(other), "workers").returncode == 0


def test_db_after_the_command_wins(cli: Cli) -> None:
    first, second = cli.home / "a" / "jobs.db", cli.home / "b" / "jobs.db"
    cli.ok("--db", str(first), "add", "--db", str(second), "--", "true")
    cli.ok("--db", str(second), "add", "--", "true")
    assert len(cli.json("--db", str(first), "ls", "--db", str(second))) == 2
    assert len(cli.json("--db", str(second), "ls", "--db", str(first))) == 0


def test_config_before_the_command(cli: Cli) -> None:
    path = cli.home / "elsewhere.toml"  # not ./jobs.toml: only --config finds it
    path.write_text(CONFIG, encoding="utf-8")
    job_id = cli.ok("--config", str(path), "add", "email", "--data", '{"to": "a"}').strip()
    assert cli.json("show", job_id)["queue"] == "mail"
    assert "1 job type" in cli.ok("--config", str(path), "check")
    assert "unknown job type" in fail_one_line(cli("add", "email"), 2)


def test_add_after_a_leading_db_stays_on_the_fast_path(cli: Cli) -> None:
    other = cli.home / "fast" / "jobs.db"
    argv = ["--db", str(other), "add", "--", "true"]
    rc, modules = imports_of(cli, argv, ("typer", "click", "textual", "croniter"))
    assert (rc, modules) == (0, [])
    assert len(cli.json("--db", str(other), "ls")) == 1


def test_a_bad_global_option_is_one_line(cli: Cli) -> None:
    assert "--db" in fail_one_line(cli("--db"), 2)
    assert "--bogus" in fail_one_line(cli("--bogus", "ls"), 2)


# -- restart -------------------------------------------------------------------


def _ended(cli: Cli, *add_args: str) -> str:
    """A job added with `add_args`, then cancelled (ended): its id."""
    job_id = cli.ok("add", *add_args).strip()
    cli.ok("cancel", job_id)
    return job_id


@both_backends
def test_restart_adds_a_new_job_with_the_same_definition(cli: Cli, write_config) -> None:
    write_config(CONFIG)
    work = cli.home / "work"
    work.mkdir()
    cli.env["MY_SETTING"] = "42"
    old_cmd = cli("add", "--priority", "3", "--timeout", "9s", "--", "./x", "-v", cwd=work)
    cli.env.pop("MY_SETTING")
    old_cmd_id = old_cmd.stdout.strip()
    cli.ok("cancel", old_cmd_id)
    old_typed_id = _ended(cli, "email", "--data", '{"to": "a@example.com"}', "--queue", "q2")

    for old_id in (old_cmd_id, old_typed_id):
        out = cli.ok("restart", old_id)
        new_id = out.strip()
        assert out == new_id + "\n" and int(new_id) > int(old_id)
        old, new = cli.store().get(int(old_id)), cli.store().get(int(new_id))
        assert new.state == "queued" and old.state == "cancelled"  # the old one unchanged
        assert new.attempts_total == 0
        same = ("type", "command", "shell", "cwd", "env", "payload", "queue", "priority")
        same += ("max_attempts", "timeout", "unique_key", "parents")
        assert {f: getattr(new, f) for f in same} == {f: getattr(old, f) for f in same}

    new_cmd = cli.store().get(int(old_cmd_id) + 2)
    assert new_cmd.command == ["./x", "-v"] and new_cmd.cwd == str(work)
    assert new_cmd.env["MY_SETTING"] == "42" and new_cmd.timeout == 9
    new_typed = cli.store().get(int(old_typed_id) + 2)
    assert new_typed.payload == {"to": "a@example.com"} and new_typed.queue == "q2"
    assert new_typed.max_attempts == 7 and new_typed.priority == 5


def test_restart_of_a_succeeded_shell_job_runs_it_again(cli: Cli) -> None:
    marker = cli.home / "ran"
    job_id = cli.ok("add", "--shell", f"echo x >> {marker}").strip()
    cli.ok("daemon", "--drain")
    new_id = cli.ok("restart", job_id).strip()
    cli.ok("daemon", "--drain")
    assert cli.json("show", new_id)["state"] == "succeeded"
    assert marker.read_text() == "x\nx\n"


def test_restart_json_is_the_new_job_as_add_prints_it(cli: Cli) -> None:
    old_id = _ended(cli, "--", "true")
    out = cli.ok("restart", old_id, "--json")
    assert len(out.splitlines()) == 1
    job = json.loads(out)
    assert job["id"] != int(old_id) and job["state"] == "queued" and job["argv"] == ["true"]
    added = json.loads(cli.ok("add", "--json", "--", "true"))
    assert set(job) == set(added)


def test_restart_keeps_after_parents(cli: Cli) -> None:
    parent = cli.ok("add", "--", "true").strip()
    child = _ended(cli, "--after", parent, "--", "true")
    assert cli.json("show", parent)["state"] == "queued"  # cancelling the child left it
    new = json.loads(cli.ok("restart", child, "--json"))
    assert new["after"] == [int(parent)] and new["waiting_on"] == 1


def test_restart_with_a_held_unique_key_gives_the_holder(cli: Cli) -> None:
    old_id = _ended(cli, "--unique", "nightly", "--", "true")
    holder = cli.ok("add", "--unique", "nightly", "--", "true").strip()
    assert holder != old_id
    assert cli.ok("restart", old_id).strip() == holder
    assert cli.count_jobs() == 2


def test_restart_of_a_job_not_ended_changes_nothing(cli: Cli) -> None:
    job_id = cli.ok("add", "--", "true").strip()
    message = fail_one_line(cli("restart", job_id), 1)
    assert f"job {job_id} is queued" in message and "restarted" in message
    assert cli.count_jobs() == 1


def test_restart_of_an_unknown_job(cli: Cli) -> None:
    cli.ok("add", "--", "true")
    assert fail_one_line(cli("restart", "99"), 3) == "jobctl: no job with id 99"
    fail_one_line(cli("restart"), 2)
