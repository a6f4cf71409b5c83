"""Issue 15, items 4 and 5: failed lines that say whether a retry follows,
on_success / on_finish hooks, and stats totals, through the real `jobctl`."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

from conftest import Cli, wait_for

import jobctl

# Fails while the counter file holds fewer than 2 lines: fails twice, then succeeds.
FLAKY = "sh -c 'n=$(cat count 2>/dev/null | wc -l); echo x >> count; [ $n -ge 2 ]'"


def json_log(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


def failed_lines(lines: list[dict], job_id: str) -> list[dict]:
    return [
        line
        for line in lines
        if line.get("job") == int(job_id) and line["event"].startswith(("failed", "timed_out"))
    ]


def test_failed_lines_say_whether_a_retry_follows(cli: Cli, write_config, daemons) -> None:
    write_config(
        "[jobs.flaky]\n"
        f'command = "{FLAKY}"\n'
        'max_attempts = 3\nretry_delay = "100ms"\nretry_backoff = 1\n'
        "[jobs.broken]\n"
        'command = "false"\nmax_attempts = 1\n'
    )
    flaky = cli.ok("add", "flaky").strip()
    broken = cli.ok("add", "broken").strip()
    proc = daemons.start("--drain", "--log-format", "json")
    assert proc.wait(timeout=60) == 0
    assert cli.json("show", flaky)["state"] == "succeeded"
    assert cli.json("show", broken)["state"] == "failed"
    lines = json_log(daemons.log_path(0))

    retried = failed_lines(lines, flaky)
    assert [line["will_retry"] for line in retried] == [True, True]
    for line in retried:
        at = datetime.fromisoformat(line["retry_at"].replace("Z", "+00:00"))
        logged = datetime.fromisoformat(line["at"].replace("Z", "+00:00"))
        assert 0 <= (at - logged).total_seconds() <= 2
    [last] = failed_lines(lines, broken)
    assert last["will_retry"] is False and "retry_at" not in last
    # Other lines do not carry the fields.
    assert not any("will_retry" in line for line in lines if line["event"] == "succeeded")


def test_text_log_says_when_the_retry_is(cli: Cli, write_config, daemons) -> None:
    write_config(f'[jobs.flaky]\ncommand = "{FLAKY}"\nretry_delay = "100ms"\n')
    cli.ok("add", "flaky")
    assert daemons.start("--drain").wait(timeout=60) == 0
    text = daemons.log_path(0).read_text()
    assert text.count("retrying at ") == 2, text


# One write per run (O_APPEND): hooks of two jobs may run at once.
HOOK = """sh -c 'printf \\"%s\\n\\" \\"$(cat)\\" >> {file}'"""


def hook_runs(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_on_success_and_on_finish_run_once_each(cli: Cli, write_config, daemons) -> None:
    write_config(
        f'on_finish = "{HOOK.format(file="finish.jsonl")}"\n'  # the top-level default
        "[jobs.flaky]\n"
        f'command = "{FLAKY}"\n'
        'max_attempts = 3\nretry_delay = "100ms"\n'
        f'on_success = "{HOOK.format(file="success.jsonl")}"\n'
        f'on_failure = "{HOOK.format(file="failure.jsonl")}"\n'
    )
    job_id = cli.ok("add", "flaky").strip()
    daemons.start()
    success, finish = cli.home / "success.jsonl", cli.home / "finish.jsonl"
    wait_for(lambda: hook_runs(success) and hook_runs(finish), timeout=30, what="hooks")
    wait_for(lambda: cli.json("show", job_id)["state"] == "succeeded", what="succeeded")
    # The third attempt succeeded: no hook ran for the two failed attempts.
    time.sleep(1)  # a second run, if any, would show by now
    [ran] = hook_runs(success)
    assert ran["id"] == int(job_id) and ran["state"] == "succeeded" and ran["attempt"] == 3
    assert [r["id"] for r in hook_runs(finish)] == [int(job_id)]
    assert not (cli.home / "failure.jsonl").exists()


def test_on_finish_runs_after_on_failure_and_for_ad_hoc_commands(
    cli: Cli, write_config, daemons
) -> None:
    write_config(
        f'on_finish = "{HOOK.format(file="finish.jsonl")}"\n'
        "[jobs.broken]\n"
        'command = "false"\nmax_attempts = 1\n'
        f'on_failure = "{HOOK.format(file="failure.jsonl")}"\n'
    )
    broken = cli.ok("add", "--label", "nightly", "broken").strip()
    ad_hoc = cli.ok("add", "--label", "adhoc", "--", "true").strip()
    assert daemons.start("--drain").wait(timeout=60) == 0
    finish, failure = cli.home / "finish.jsonl", cli.home / "failure.jsonl"
    wait_for(lambda: len(hook_runs(finish)) == 2, what="on_finish twice")
    assert [r["id"] for r in hook_runs(failure)] == [int(broken)]
    by_id = {r["id"]: (r["state"], r["labels"]) for r in hook_runs(finish)}
    assert by_id == {int(broken): ("failed", ["nightly"]), int(ad_hoc): ("succeeded", ["adhoc"])}


def test_check_rejects_an_empty_hook(cli: Cli, write_config) -> None:
    write_config('on_success = ""\n[jobs.a]\ncommand = "true"\non_finish = 3\n')
    result = cli("check")
    assert result.returncode != 0
    assert "on_success" in result.stderr and "on_finish" in result.stderr


STATES = ["queued", "running", "succeeded", "failed", "cancelled"]
NO_SETTINGS = {"paused": None, "parallel": None, "parallel_source": None}


def test_stats_json_on_an_empty_database_has_every_state_and_total(cli: Cli) -> None:
    rows = cli.json("stats")
    assert rows == [{"queue": None} | NO_SETTINGS | dict.fromkeys([*STATES, "total"], 0)]


def test_stats_ends_with_all_queues(cli: Cli) -> None:
    first = cli.ok("add", "--queue", "a", "--", "true").strip()
    cli.ok("add", "--queue", "a", "--", "true")
    cli.ok("add", "--queue", "b", "--", "true")
    cli.ok("cancel", first)
    rows = cli.json("stats")
    assert [r["queue"] for r in rows] == ["a", "b", None]
    a, b, everything = rows
    assert a == {"queue": "a"} | NO_SETTINGS | {"paused": False} | dict.fromkeys(STATES, 0) | {
        "queued": 1,
        "cancelled": 1,
        "total": 2,
    }
    assert b["queued"] == 1 and b["total"] == 1 and b["cancelled"] == 0
    assert everything == {"queue": None} | NO_SETTINGS | {
        "queued": 2,
        "running": 0,
        "succeeded": 0,
        "failed": 0,
        "cancelled": 1,
        "total": 3,
    }
    last = cli.ok("stats").splitlines()[-1].split("\t")
    assert last == ["all queues", "2", "0", "0", "0", "1", "3", "", ""]


def test_queue_stats_gives_every_state_and_totals(cli: Cli) -> None:
    cli.ok("add", "--queue", "a", "--", "true")

    empty = cli.home / "empty.toml"
    empty.write_text("")
    with jobctl.connect(db=cli.db, config=empty) as q:
        stats = q.stats()
    assert stats == {"a": {s: int(s == "queued") for s in STATES} | {"total": 1}}
    assert stats.all == {s: int(s == "queued") for s in STATES} | {"total": 1}
