"""The fast `add` parser and the typer command must read argv the same way."""

from __future__ import annotations

import pytest
from conftest import Cli, imports_of

from jobctl import cli
from jobctl.add_command import AddRequest
from jobctl.fastadd import OPTIONS, parse_add

SAME = [
    ["--", "echo", "hi"],
    ["--shell", "echo a | wc -c"],
    ["email", "--data", '{"to": 1}'],
    ["--data=-", "email"],
    ["email", "--data-file", "p.json", "--queue", "q", "--priority", "-5"],
    ["--in", "10m", "--max-attempts", "2", "--timeout", "1s", "--", "./x", "--data", "y"],
    ["--at", "12:00", "--unique", "k", "--after", "1", "--after", "2,3", "--", "true"],
    ["email", "--batch", "-", "--json", "--db", "x.db", "--config", "c.toml"],
    ["--queue", "a", "--queue", "b", "--", "true"],
]

FALLS_BACK = [
    ["--help"],
    ["-h"],
    ["--bogus", "--", "true"],
    ["email", "other"],
    ["--queue"],
    ["--json=yes", "email"],
]


def typer_request(args: list[str], monkeypatch: pytest.MonkeyPatch) -> AddRequest:
    seen: list[AddRequest] = []

    def capture(request: AddRequest) -> int:
        seen.append(request)
        return 0

    monkeypatch.setattr(cli, "execute_add", capture)
    assert cli.run(["add", *args]) == 0
    return seen[0]


@pytest.mark.parametrize("args", SAME)
def test_both_parsers_agree(args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    fast = parse_add(args)
    assert fast is not None
    assert fast == typer_request(args, monkeypatch)


@pytest.mark.parametrize("args", FALLS_BACK)
def test_anything_unusual_goes_to_typer(args: list[str]) -> None:
    assert parse_add(args) is None


def test_fast_parser_knows_every_typer_option() -> None:
    command = cli.typer.main.get_command(cli.app).commands["add"]
    typer_flags = {
        flag
        for param in command.params
        for flag in param.opts
        if flag.startswith("--") and flag != "--help"
    }
    assert typer_flags == set(OPTIONS)


# What `jobctl add -- true` without a jobs.toml must never import: the other
# commands' libraries, and the parts of jobctl (with their standard modules)
# that only other commands, or a config file, need.  Each was measurable in
# its start-up (README, Performance notes).
NOT_ON_THE_ADD_PATH = {
    "typer", "click", "rich", "textual", "croniter", "psycopg", "dataclasses",
    "tomllib",  # read only when there is a jobs.toml
    "ctypes",  # wakeup.py's inotify, for waiters
    "base64",  # the dump format's
    "jobctl.cli", "jobctl.render", "jobctl.cron_syntax", "jobctl.wakeup",
    "jobctl.store.transfer", "jobctl.store.dump_format", "jobctl.store.postgres",
}  # fmt: skip


def test_add_imports_only_what_adding_needs(cli: Cli) -> None:
    packages = tuple({name.split(".")[0] for name in NOT_ON_THE_ADD_PATH})
    rc, modules = imports_of(cli, ["add", "--", "true"], packages)
    assert rc == 0
    assert "jobctl.store.sqlite" in modules  # the check sees what was imported
    assert sorted(NOT_ON_THE_ADD_PATH.intersection(modules)) == []
