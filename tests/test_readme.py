"""The README's Quick start: its jobctl commands work on a fresh database."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from conftest import Cli

README = Path(__file__).parent.parent / "README.md"


def quick_start_commands() -> list[str]:
    section = README.read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)\n```", section, flags=re.S)


def test_quick_start_has_exactly_two_commands() -> None:
    commands = quick_start_commands()
    assert len(commands) == 2
    assert all("\n" not in command for command in commands)
    assert commands[1] == (
        "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest"
    )
    ci = (Path(__file__).parent.parent / ".ci" / "run").read_text()
    assert commands[1] in ci


def test_the_first_command_runs_the_demo_on_the_default_database(cli: Cli) -> None:
    cli.env.pop("JOBCTL_DB")  # the default database, under this test's XDG_STATE_HOME
    steps = [shlex.split(step) for step in quick_start_commands()[0].split(" && ")]
    jobctl_steps = [step for step in steps if step[0] == ".venv/bin/jobctl"]
    assert [step[1:] for step in jobctl_steps] == [["demo"]]
    shown = cli.ok("demo")
    assert (cli.home / "xdg-state" / "jobctl" / "jobctl.db").exists()
    jobs = cli.json("ls")
    assert len(jobs) == 6 and {job["state"] for job in jobs} == {"succeeded"}
    assert {job["type"] for job in jobs} >= {"demo:echo", "demo:greet", "demo:flaky"}
    flaky = next(job for job in jobs if job["type"] == "demo:flaky")
    assert flaky["attempts_total"] == 3  # failed twice, retried, then succeeded
    # The results table: one row per job, as tab-separated lines when piped.
    table = shown.split("\nid\t", 1)[1].splitlines()
    assert sum("\tsucceeded\t" in row for row in table) == 6
    assert any("hello Ada" in row for row in table)  # a command's output
    assert any('"greeting": "hello Grace"' in row for row in table)  # a handler's result
