"""Numbers and times out of range are input errors: exit 2, one line, nothing
written (issue 13, item 6), never an internal error."""

from __future__ import annotations

import pytest
from conftest import Cli, fail_one_line

HUGE = str(2**63)

COMMANDS = [
    ("add", "--priority", HUGE, "--", "true"),
    ("add", "--max-attempts", HUGE, "--", "true"),
    ("add", "--after", HUGE, "--", "true"),
    ("add", "--at", "0001-01-01", "--", "true"),
    ("add", "--at", "9999-12-31T23:59:59-05:00", "--", "true"),
    ("add", "--in", "9999999999w", "--", "true"),
    ("ls", "--limit", HUGE),
    ("show", HUGE),
    ("cancel", HUGE),
    ("wait", HUGE),
    ("logs", HUGE),
    ("retry", "9" * 30),
    ("daemon", "--concurrency", "100000"),
]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a)[:40])
def test_out_of_range_is_an_input_error(cli: Cli, args: tuple[str, ...]) -> None:
    line = fail_one_line(cli(*args), 2)
    assert "internal error" not in line
    assert cli.count_jobs() == 0


def test_a_batch_line_with_a_5000_digit_integer(cli: Cli, write_config) -> None:
    write_config('[jobs.t]\ncommand = "true"\n')
    lines = '{"n": 1}\n{"n": ' + "9" * 5000 + "}\n"
    line = fail_one_line(cli("add", "t", "--batch", "-", input=lines), 2)
    assert line.startswith("jobctl: line 2: invalid JSON")
    assert cli.count_jobs() == 0


@pytest.mark.parametrize(
    "setting",
    ["priority = 99999999999999999999", "max_attempts = 10000000"],
)
def test_config_numbers_out_of_range_are_config_errors(
    cli: Cli, write_config, setting: str
) -> None:
    write_config(f'[jobs.t]\ncommand = "true"\n{setting}\n')
    assert "out of range" in fail_one_line(cli("add", "t"), 2)


def test_the_extremes_themselves_are_fine(cli: Cli) -> None:
    assert cli.ok("add", "--priority", "1000000000", "--", "true").strip() == "1"
    assert cli.ok("add", "--at", "9999-12-31T23:59:59+00:00", "--", "true").strip() == "2"
    assert '"id": 2' in cli.ok("ls", "--json")


def test_a_daemon_of_100000_threads_is_a_config_error(cli: Cli, write_config) -> None:
    write_config("concurrency = 100000\n")
    assert "concurrency: 100000 is out of range" in fail_one_line(cli("daemon", "--drain"), 2)


@pytest.mark.parametrize(
    "schedule",
    [
        "every = 1e-300",
        'every = "0.5s"',
        'every = "99999999w"',
        'cron = "\u0663 * * * *"',  # an Arabic-Indic 3
        'cron = "0 0 31 2 *"',
        'cron = "0 0 31 4,6,9,11 *"',
    ],
)
def test_schedules_the_daemon_cannot_serve_are_config_errors(
    cli: Cli, write_config, schedule: str
) -> None:
    write_config(f'[jobs.t]\ncommand = "true"\n{schedule}\n')
    fail_one_line(cli("add", "t"), 2)
    assert cli("check").returncode == 2
    fail_one_line(cli("schedules"), 2)


@pytest.mark.parametrize("depth", [101, 985, 100_000])
def test_a_payload_nested_too_deep_is_refused(cli: Cli, write_config, depth: int) -> None:
    """985 levels were accepted, and then every daemon start died decoding them."""
    write_config('[jobs.t]\ncommand = "true"\n')
    deep = "[" * depth + "]" * depth
    fail_one_line(cli("add", "t", "--data", "-", input='{"d": ' + deep + "}"), 2)
    fail_one_line(cli("add", "t", "--batch", "-", input='{"d": ' + deep + "}\n"), 2)
    assert cli.count_jobs() == 0
    assert cli.ok("add", "t", "--data", '{"d": ' + "[" * 99 + "]" * 99 + "}").strip() == "1"


@pytest.mark.parametrize(
    "args",
    [
        ("add", "--queue", "q\udcff", "--", "true"),  # a byte that is not UTF-8, from argv
        ("add", "--queue", "q\x1b", "--", "true"),
        ("add", "--unique", "k\udcff", "--", "true"),
    ],
    ids=["queue not utf-8", "queue with an escape", "unique not utf-8"],
)
def test_names_that_cannot_be_stored_or_shown_are_refused(cli: Cli, args: tuple[str, ...]) -> None:
    fail_one_line(cli(*args), 2)
    assert cli.count_jobs() == 0


@pytest.mark.parametrize(
    "config",
    ['[workers."w\\u0000x"]\ncommand = "sleep 1"\n', '[jobs.t]\ncommand = "echo \\u0000"\n'],
    ids=["NUL in a worker's name", "NUL in a command"],
)
def test_a_nul_in_jobs_toml_is_a_config_error(cli: Cli, write_config, config: str) -> None:
    write_config(config)
    assert cli("check").returncode == 2
    fail_one_line(cli("daemon", "--drain"), 2)
