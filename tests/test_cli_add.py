"""`jobctl add`, run as a real command against a real database file."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timedelta

import pytest
from conftest import JOBCTL, Cli, both_backends, fail_one_line, imports_of

CONFIG = """
max_payload = "1KiB"

[jobs.email]
command = "mail -s hi {to}"
queue = "mail"
priority = 5
max_attempts = 7
timeout = "1m"

[jobs.report]
handler = "reports:build"

[jobs.sync]
handler = "sync:run"
unique = "{account}"
"""


@pytest.fixture
def typed(cli: Cli, write_config) -> Cli:
    write_config(CONFIG)
    return cli


@both_backends
def test_add_prints_a_bare_id_and_the_job_is_queued(cli: Cli) -> None:
    out = cli.ok("add", "--", "echo", "hi")
    assert out.strip().isdigit() and out == out.strip() + "\n"
    job = cli.json("show", out.strip())
    assert job["state"] == "queued"
    assert job["argv"] == ["echo", "hi"]
    assert job["type"] is None and job["command"] == "echo hi"


@both_backends
def test_ad_hoc_command_records_cwd_and_environment(cli: Cli) -> None:
    work = cli.home / "work"
    work.mkdir()
    cli.env["MY_SETTING"] = "42"
    job_id = int(cli("add", "--", "./run.sh", "--full", cwd=work, check=True).stdout)
    cli.env.pop("MY_SETTING")
    job = cli.store().get(job_id)
    assert job.cwd == str(work)
    assert job.env["MY_SETTING"] == "42"
    assert job.command == ["./run.sh", "--full"]


def test_shell_job_is_explicit(cli: Cli) -> None:
    job = cli.json("add", "--shell", "echo a | wc -c")
    assert job["shell"] is True
    assert job["argv"] == ["/bin/sh", "-c", "echo a | wc -c"]
    assert job["command"] == "echo a | wc -c"


@both_backends
def test_typed_job_takes_defaults_from_its_type(typed: Cli) -> None:
    job = typed.json("add", "email", "--data", '{"to": "a@example.com"}')
    assert (job["type"], job["queue"], job["priority"], job["max_attempts"], job["timeout"]) == (
        "email",
        "mail",
        5,
        7,
        60.0,
    )
    assert job["payload"] == {"to": "a@example.com"}


def test_flags_override_the_type(typed: Cli) -> None:
    job = typed.json(
        "add", "email", "--data", '{"to": "b"}', "--queue", "urgent", "--priority", "-3",
        "--max-attempts", "1", "--timeout", "90s",
    )  # fmt: skip
    assert (job["queue"], job["priority"], job["max_attempts"], job["timeout"]) == (
        "urgent",
        -3,
        1,
        90.0,
    )


def test_payload_from_file_and_stdin(typed: Cli) -> None:
    (typed.home / "p.json").write_text('{"to": "file@example.com"}')
    job = typed.json("add", "email", "--data-file", "p.json")
    assert job["payload"] == {"to": "file@example.com"}
    out = typed("add", "email", "--data", "-", "--json", input='{"to": "stdin"}', check=True)
    assert json.loads(out.stdout)["payload"] == {"to": "stdin"}


@both_backends
def test_in_and_at_set_run_at(cli: Cli) -> None:
    before = time.time()
    job = cli.store().get(int(cli.ok("add", "--in", "10m", "--", "true")))
    assert before + 600 <= job.run_at <= time.time() + 600
    at = (datetime.now() + timedelta(days=2)).replace(microsecond=0)
    job = cli.store().get(int(cli.ok("add", "--at", at.isoformat(), "--", "true")))
    assert job.run_at == at.timestamp()
    job = cli.store().get(int(cli.ok("add", "--at", "23:59", "--", "true")))
    assert time.time() < job.run_at <= time.time() + 86400


@both_backends
def test_unique_twice_returns_the_same_id(cli: Cli) -> None:
    first = cli.ok("add", "--unique", "nightly", "--", "backup")
    second = cli.ok("add", "--unique", "nightly", "--", "backup")
    assert first == second
    assert cli.count_jobs() == 1
    assert cli.ok("add", "--unique", "other", "--", "backup") != first


def test_unique_template_of_a_type(typed: Cli) -> None:
    a = typed.ok("add", "sync", "--data", '{"account": 1}')
    assert typed.ok("add", "sync", "--data", '{"account": 1, "x": 2}') == a
    assert typed.ok("add", "sync", "--data", '{"account": 2}') != a


@both_backends
def test_unique_key_is_free_again_once_the_job_finished(cli: Cli) -> None:
    first = cli.ok("add", "--unique", "k", "--", "true").strip()
    cli.ok("cancel", first)
    assert cli.ok("add", "--unique", "k", "--", "true").strip() != first


@both_backends
def test_after_holds_the_job(cli: Cli) -> None:
    parent = cli.ok("add", "--", "true").strip()
    child = cli.json("add", "--after", parent, "--", "true")
    assert child["after"] == [int(parent)] and child["waiting_on"] == 1
    cli.ok("cancel", parent)
    assert cli.json("show", str(child["id"]))["state"] == "cancelled"
    assert f"job {parent} cancelled" in cli.json("show", str(child["id"]))["error"]


def test_sixteen_processes_adding_at_once_make_320_distinct_jobs(cli: Cli) -> None:
    script = (
        "import subprocess, sys\n"
        "for _ in range(20):\n"
        "    out = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "    if out.returncode: sys.exit(out.stderr)\n"
        "    print(out.stdout.strip())\n"
    )
    start = [*JOBCTL, "add", "--", "true"]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, *start],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=cli.env,
            cwd=cli.home,
        )
        for _ in range(16)
    ]
    ids = []
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        ids += [int(line) for line in out.split()]
    assert len(ids) == 320 and len(set(ids)) == 320
    assert cli.count_jobs() == 320


@both_backends
def test_concurrent_adds_with_one_unique_key_make_one_job(cli: Cli) -> None:
    procs = [
        subprocess.Popen(
            [*JOBCTL, "add", "--unique", "once", "--", "true"],
            stdout=subprocess.PIPE,
            text=True,
            env=cli.env,
            cwd=cli.home,
        )
        for _ in range(12)
    ]
    ids = {proc.communicate(timeout=120)[0] for proc in procs}
    assert len(ids) == 1
    assert cli.count_jobs() == 1


def test_batch_of_100k_lines(typed: Cli) -> None:
    lines = "".join(f'{{"to": "user{i}@example.com"}}\n' for i in range(100_000))
    out = typed("add", "email", "--batch", "-", input=lines, check=True).stdout.split()
    assert len(out) == 100_000 and len(set(out)) == 100_000
    assert typed.count_jobs() == 100_000
    last = typed.store().get(int(out[-1]))
    assert last.payload == {"to": "user99999@example.com"} and last.queue == "mail"


def test_batch_from_a_file(typed: Cli) -> None:
    (typed.home / "b.jsonl").write_text('{"to": "a"}\n\n{"to": "b"}\n')
    assert len(typed.ok("add", "email", "--batch", "b.jsonl").split()) == 2


@both_backends
def test_batch_with_a_bad_line_2_adds_nothing(typed: Cli) -> None:
    lines = '{"to": "a"}\n{"to": \n{"to": "c"}\n'
    message = fail_one_line(typed("add", "email", "--batch", "-", input=lines), 2)
    assert "line 2" in message
    assert typed.count_jobs() == 0


def test_batch_whose_line_2_lacks_a_field_adds_nothing(typed: Cli) -> None:
    lines = '{"to": "a"}\n{"from": "b"}\n'
    message = fail_one_line(typed("add", "email", "--batch", "-", input=lines), 2)
    assert "line 2" in message and '"to"' in message
    assert typed.count_jobs() == 0


def test_a_unique_key_that_cannot_be_filled_is_bad_input(cli: Cli, write_config) -> None:
    write_config('[jobs.n]\nhandler = "x:y"\nunique = "{n:d}"\n')
    message = fail_one_line(cli("add", "n", "--batch", "-", input='{"n": "abc"}\n'), 2)
    assert "line 1" in message and "{n:d}" in message
    fail_one_line(cli("add", "n", "--data", '{"n": "abc"}'), 2)
    assert cli.count_jobs() == 0


BAD_INPUT = {
    "invalid JSON": ["add", "email", "--data", '{"to": '],
    "unknown type": ["add", "emial", "--data", "{}"],
    "bad duration": ["add", "--timeout", "5 minutes", "--", "true"],
    "bad --in": ["add", "--in", "soon", "--", "true"],
    "--in with --at": ["add", "--in", "5m", "--at", "12:00", "--", "true"],
    "bad --at": ["add", "--at", "25:00", "--", "true"],
    "over max_payload": ["add", "email", "--data", json.dumps({"to": "x" * 2000})],
    "missing placeholder field": ["add", "email", "--data", '{"cc": "x"}'],
    "nothing to run": ["add"],
    "type and command": ["add", "email", "--", "true"],
    "bad priority": ["add", "--priority", "high", "--", "true"],
    "zero attempts": ["add", "--max-attempts", "0", "--", "true"],
    "unknown flag": ["add", "--frobnicate", "--", "true"],
    "data for a command": ["add", "--data", "{}", "--", "true"],
    "unreadable data file": ["add", "email", "--data-file", "nope.json"],
    "batch without type": ["add", "--batch", "-", "--", "true"],
    "bad --after": ["add", "--after", "x", "--", "true"],
}


@pytest.mark.parametrize("args", BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_is_one_line_exit_2_and_writes_nothing(typed: Cli, args: list[str]) -> None:
    fail_one_line(typed(*args), 2)
    assert typed.count_jobs() == 0


def test_bad_cron_in_config_refuses_to_add(cli: Cli, write_config) -> None:
    write_config('[jobs.nightly]\ncommand = "true"\ncron = "61 * * * *"\n')
    message = fail_one_line(cli("add", "--", "true"), 2)
    assert "minute 61 is out of range 0-59" in message
    assert cli.count_jobs() == 0


def test_after_a_missing_job_exits_3(cli: Cli) -> None:
    fail_one_line(cli("add", "--after", "999", "--", "true"), 3)
    assert cli.count_jobs() == 0


def test_debug_shows_the_traceback(cli: Cli) -> None:
    result = cli("add", "--debug", "--timeout", "nope", "--", "true")
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_add_does_not_import_textual_croniter_or_typer(cli: Cli) -> None:
    heavy = ("textual", "croniter", "typer", "click", "rich", "dataclasses")
    assert imports_of(cli, ["add", "--", "true"], heavy) == (0, [])
