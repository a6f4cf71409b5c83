"""Why a queued job is not running: the pure rule (why.py), then `ls` and `show` as run."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import Cli

from jobctl.models import Config, Job, JobType, Outcome, QueueSpec, State
from jobctl.why import READY, Situation, caps, why_queued

NOW = 1_800_000_000.0


def job(**fields: Any) -> Job:
    base: dict[str, Any] = dict.fromkeys(Job._fields)
    base |= {
        "id": 7,
        "type": "email:send",
        "shell": False,
        "queue": "default",
        "priority": 0,
        "state": State.QUEUED,
        "run_at": NOW,
        "created_at": NOW - 10,
        "attempt": 0,
        "attempts_total": 0,
        "max_attempts": 3,
        "waiting": 0,
        "parents": (),
    }
    return Job(**(base | fields))


# -- the pure rule, with `now` fixed -------------------------------------------


def test_each_reason_with_a_fixed_now() -> None:
    nothing = Situation()
    assert why_queued(job(), NOW, nothing) == READY
    assert why_queued(job(run_at=NOW + 7200), NOW, nothing) == "due in 2h00m"
    assert why_queued(job(run_at=NOW + 0.3), NOW, nothing) == "due in 1s"
    assert why_queued(job(run_at=NOW + 3.2, attempt=1), NOW, nothing) == "retry 2/3 in 4s"
    assert why_queued(job(queue="email"), NOW, Situation(paused={"email"})) == "queue email paused"
    full = Situation(type_caps={"email:send": 2}, running_per_type={"email:send": 2})
    assert why_queued(job(), NOW, full) == "type email:send at its limit (2)"
    room = full._replace(running_per_type={"email:send": 1})
    assert why_queued(job(), NOW, room) == READY
    queue_full = Situation(queue_caps={"default": 1}, running_per_queue={"default": 1})
    assert why_queued(job(), NOW, queue_full) == "queue default at its limit (1)"
    unserved = Situation(unserved={"default"})
    assert why_queued(job(), NOW, unserved) == "no daemon serves queue default"


def test_not_queued_has_no_reason() -> None:
    for state in (State.RUNNING, State.SUCCEEDED, State.FAILED, State.CANCELLED):
        assert why_queued(job(state=state), NOW, Situation(paused={"default"})) is None


def test_waiting_names_two_parents_and_counts_the_rest() -> None:
    nothing = Situation()
    one = job(waiting=1, parents=(12,))
    assert why_queued(one, NOW, nothing, {12: "running"}) == "waiting on #12"
    two = job(waiting=2, parents=(12, 15))
    assert why_queued(two, NOW, nothing, {12: "queued", 15: "queued"}) == "waiting on #12 and #15"
    four = job(waiting=4, parents=(11, 12, 15, 16, 17))
    states = {11: "succeeded", 12: "queued", 15: "running"}  # the rest not read
    assert why_queued(four, NOW, nothing, states) == "waiting on #12, #15 and 2 more"
    assert why_queued(four, NOW, nothing, {}) == "waiting on 4 job(s)"


def test_the_order_of_the_reasons() -> None:
    everything = Situation(
        paused={"default"},
        type_caps={"email:send": 1},
        running_per_type={"email:send": 1},
        unserved={"default"},
    )
    waiting = job(waiting=1, parents=(3,), run_at=NOW + 60, attempt=1)
    assert why_queued(waiting, NOW, everything, {3: "queued"}) == "waiting on #3"
    assert why_queued(job(run_at=NOW + 60, attempt=1), NOW, everything) == "queue default paused"
    unpaused = everything._replace(paused=())
    assert why_queued(job(run_at=NOW + 60, attempt=1), NOW, unpaused).startswith("retry")
    assert why_queued(job(run_at=NOW + 60), NOW, unpaused) == "due in 1m00s"
    assert why_queued(job(), NOW, unpaused) == "type email:send at its limit (1)"
    no_cap = unpaused._replace(type_caps={})
    assert why_queued(job(), NOW, no_cap) == "no daemon serves queue default"


def test_caps_are_the_daemons() -> None:
    config = Config(
        jobs={
            "a": JobType("a", command="true", concurrency=3),
            "b": JobType("b", command="true"),
            "nightly": JobType("nightly", command="true", cron="0 3 * * *", overlap="queue"),
        },
        queues={"mail": QueueSpec("mail", concurrency=2), "other": QueueSpec("other")},
    )
    assert caps(config) == ({"mail": 2}, {"a": 3, "nightly": 1})


# -- through the real jobctl ---------------------------------------------------


def why(cli: Cli, job_id: str) -> str | None:
    [found] = [j for j in cli.json("ls", "--limit", "200") if j["id"] == int(job_id)]
    return found["why"]


def add(cli: Cli, *args: str) -> str:
    return cli.ok("add", *args).strip()


def live_daemon(cli: Cli, queues: list[str] | None = None) -> int:
    """A daemon row that counts as live: this test's process, a fresh heartbeat."""
    store = cli.store()
    try:
        return store.register_daemon(socket.gethostname(), os.getpid(), None, queues, time.time())
    finally:
        store.close()


def test_due_later_and_no_daemon(cli: Cli) -> None:
    later = add(cli, "--in", "2h", "--", "true")
    now = add(cli, "--", "true")
    assert why(cli, later) in {"due in 2h00m", "due in 1h59m"}
    assert why(cli, now) == "no daemon serves queue default"
    live_daemon(cli, ["mail"])
    assert why(cli, now) == "no daemon serves queue default"
    live_daemon(cli)
    assert why(cli, now) == READY


def test_waiting_on_parents(cli: Cli) -> None:
    first = add(cli, "--in", "1h", "--", "true")
    second = add(cli, "--in", "1h", "--", "true")
    child = add(cli, "--after", first, "--after", second, "--", "true")
    assert why(cli, child) == f"waiting on #{first} and #{second}"
    assert f"waiting on #{first} and #{second}" in cli.ok("ls")
    shown = cli.ok("show", child).splitlines()
    assert f"why:        waiting on #{first} and #{second}" in shown


def test_queue_paused(cli: Cli) -> None:
    job_id = add(cli, "--queue", "mail", "--", "true")
    cli.ok("pause", "mail")
    assert why(cli, job_id) == "queue mail paused"
    cli.ok("resume", "mail")
    assert why(cli, job_id) == "no daemon serves queue mail"


def test_a_retry_waiting_for_its_delay(cli: Cli) -> None:
    job_id = add(cli, "--max-attempts", "3", "--", "false")
    store = cli.store()
    try:
        now = time.time()
        daemon = store.register_daemon("elsewhere", 1, None, None, now)
        [claimed] = store.claim(daemon, 1, now, now + 30)
        failed = Outcome(int(job_id), claimed.attempt, "failed", exit_status=1, error="Boom")
        store.record([failed], [], [], now, 1024, lambda job, outcome: 600.0)
    finally:
        store.close()
    reason = why(cli, job_id)
    assert reason is not None and reason.startswith("retry 2/3 in "), reason
    assert reason in {"retry 2/3 in 10m00s", "retry 2/3 in 9m59s"}
    [row] = [line for line in cli.ok("ls").splitlines() if line.startswith(f"{job_id}\t")]
    assert row.split("\t")[-2:] == ["Boom", reason]  # the error, then why
    assert [j["id"] for j in cli.json("ls", "--search", "bOOM")] == [int(job_id)]


def test_type_at_its_concurrency_limit(cli: Cli, write_config: Callable[[str], Path]) -> None:
    write_config('[jobs."email:send"]\ncommand = "true"\nconcurrency = 1\n')
    running = add(cli, "email:send")
    waiting = add(cli, "email:send")
    store = cli.store()
    try:
        now = time.time()
        [claimed] = store.claim(
            store.register_daemon("elsewhere", 1, None, None, now), 1, now, now + 60
        )
    finally:
        store.close()
    assert claimed.job.id == int(running)
    assert why(cli, waiting) == "type email:send at its limit (1)"
    assert why(cli, running) is None  # running: no reason
    shown = cli.ok("show", waiting)
    assert "why:" in shown and "type email:send at its limit (1)" in shown
    assert "why:" not in cli.ok("show", running)


def test_json_why_is_null_for_jobs_not_queued(cli: Cli) -> None:
    job_id = add(cli, "--", "true")
    cli.ok("cancel", job_id)
    [job] = cli.json("ls")
    assert job["state"] == "cancelled" and job["why"] is None
    assert cli.json("show", job_id)["why"] is None
    [row] = cli.ok("ls").splitlines()[1:]
    assert row.split("\t")[-1] == ""


def test_search_matches_type_command_and_error_case_insensitively(
    cli: Cli, write_config: Callable[[str], Path]
) -> None:
    write_config('[jobs."report:weekly"]\ncommand = "true"\n')
    typed = add(cli, "report:weekly")
    command = add(cli, "--", "echo", "NeedleInCommand")
    add(cli, "--", "echo", "other")
    assert [j["id"] for j in cli.json("ls", "--search", "REPORT:week")] == [int(typed)]
    assert [j["id"] for j in cli.json("ls", "--search", "needleincommand")] == [int(command)]
    assert cli.json("ls", "--search", "nowhere") == []
    assert len(cli.json("ls", "--search", "")) == 3  # empty: no filter
    lines = cli.ok("ls", "--search", "needle").splitlines()
    assert len(lines) == 2 and lines[1].startswith(f"{command}\t")


@pytest.mark.parametrize("text", ["\x1b[31mred", "a\x9bb"])
def test_pause_and_resume_print_a_queue_name_made_safe(cli: Cli, text: str) -> None:
    # Queue names in reasons come from jobs `add` checked; `pause` takes any name.
    for command in ("pause", "resume"):
        out = cli.ok(command, text)
        assert "\x1b" not in out and "\x9b" not in out
        assert out.startswith("queue ") and out.endswith(f" {command}d\n")
