"""The read commands and the commands that change jobs, as a user runs them."""

from __future__ import annotations

import pytest
from conftest import Cli, both_backends, fail_one_line


@pytest.fixture
def three(cli: Cli) -> list[str]:
    """Three ad hoc jobs: ids as strings, oldest first."""
    return [
        cli.ok("add", "--queue", q, "--", "echo", str(n)).strip()
        for n, q in enumerate(["a", "b", "a"])
    ]


def test_ls_piped_is_tab_separated_newest_first(cli: Cli, three: list[str]) -> None:
    lines = cli.ok("ls").splitlines()
    assert lines[0].split("\t")[:3] == ["id", "state", "attempt"]
    assert [line.split("\t")[0] for line in lines[1:]] == three[::-1]
    assert all(line.count("\t") == 7 for line in lines)  # the last column: why


@both_backends
def test_ls_filters_and_limit(cli: Cli, three: list[str]) -> None:
    assert [j["id"] for j in cli.json("ls", "--queue", "a")] == [int(three[2]), int(three[0])]
    assert len(cli.json("ls", "--limit", "1")) == 1
    cli.ok("cancel", three[1])
    assert [j["id"] for j in cli.json("ls", "--state", "cancelled")] == [int(three[1])]
    assert cli.json("ls", "--type", "nope") == []
    fail_one_line(cli("ls", "--state", "done"), 2)


def test_ls_json_is_the_documented_flat_schema(cli: Cli, three: list[str]) -> None:
    [job] = cli.json("ls", "--limit", "1")
    assert set(job) >= {
        "id", "type", "command", "argv", "queue", "priority", "state", "attempt",
        "max_attempts", "run_at", "created_at", "started_at", "finished_at", "error",
    }  # fmt: skip
    assert all(not isinstance(v, dict) for k, v in job.items() if k != "payload")


@both_backends
def test_show_lists_fields_and_events(cli: Cli, three: list[str]) -> None:
    cli.ok("cancel", three[0])
    shown = cli.json("show", three[0])
    assert [e["kind"] for e in shown["events"]] == ["created", "cancelled"]
    assert shown["attempts"] == []
    human = cli.ok("show", three[0])
    assert "state:" in human and "cancelled" in human and "Events:" in human


def test_user_text_cannot_drive_the_terminal(cli: Cli) -> None:
    job_id = cli.ok("add", "--", "echo", "\x1b[31mred\x1b[0m").strip()
    assert "\x1b" not in cli.ok("show", job_id) + cli.ok("ls")


def test_missing_job_exits_3(cli: Cli) -> None:
    for args in (["show", "42"], ["logs", "42"], ["cancel", "42"], ["retry", "42"]):
        assert "no job with id 42" in fail_one_line(cli(*args), 3)


def test_logs_of_a_job_that_has_not_run(cli: Cli, three: list[str]) -> None:
    result = cli("logs", three[0])
    assert result.returncode == 0 and "has not run yet" in result.stderr


@both_backends
def test_cancel_is_all_or_nothing(cli: Cli, three: list[str]) -> None:
    cli.ok("cancel", three[0])
    message = fail_one_line(cli("cancel", three[1], three[0]), 1)
    assert "already cancelled" in message
    assert cli.json("show", three[1])["state"] == "queued"


@both_backends
def test_retry_keeps_the_id_and_history_with_a_fresh_budget(cli: Cli, three: list[str]) -> None:
    cli.ok("cancel", three[0])
    assert cli.ok("retry", three[0]).split() == [three[0]]
    job = cli.json("show", three[0])
    assert (job["state"], job["attempt"], job["error"]) == ("queued", 0, None)
    assert [e["kind"] for e in job["events"]] == ["created", "cancelled", "retried"]
    assert "only failed or cancelled" in fail_one_line(cli("retry", three[1]), 1)


def test_retry_needs_ids_or_failed(cli: Cli) -> None:
    fail_one_line(cli("retry"), 2)
    assert cli("retry", "--failed").returncode == 0


@both_backends
def test_stats_per_queue_and_state(cli: Cli, three: list[str]) -> None:
    cli.ok("cancel", three[0])
    cli.ok("pause", "b")
    rows = {row["queue"]: row for row in cli.json("stats")}
    assert rows["a"]["queued"] == 1 and rows["a"]["cancelled"] == 1 and rows["a"]["total"] == 2
    assert rows["b"]["paused"] is True and rows["a"]["paused"] is False
    cli.ok("resume", "b")
    assert {r["queue"]: r["paused"] for r in cli.json("stats")}["b"] is False
    assert "queue" in cli.ok("stats").splitlines()[0]


@both_backends
def test_purge_deletes_old_finished_jobs_only(cli: Cli, three: list[str]) -> None:
    cli.ok("cancel", three[0])
    assert cli.ok("purge", "--older-than", "1h").strip() == "purged 0 job(s)"
    assert cli.ok("purge", "--older-than", "0s").strip() == "purged 1 job(s)"
    assert len(cli.json("ls")) == 2
    fail_one_line(cli("show", three[0]), 3)
    fail_one_line(cli("purge", "--older-than", "0s", "--state", "queued"), 2)
    fail_one_line(cli("purge", "--older-than", "a while"), 2)


@both_backends
def test_purge_keeps_the_newest_job_so_no_id_is_given_twice(cli: Cli, three: list[str]) -> None:
    cli.ok("cancel", *three)
    assert cli.ok("purge", "--older-than", "0s").strip() == "purged 2 job(s)"
    assert [j["id"] for j in cli.json("ls")] == [int(three[2])]
    assert cli.ok("add", "--", "true").strip() == str(int(three[2]) + 1)


@both_backends
def test_queued_jobs_ready_or_waiting_are_listed_and_counted_together(
    cli: Cli, three: list[str]
) -> None:
    child = cli.ok("add", "--queue", "a", "--after", three[1], "--", "true").strip()
    newest = cli.ok("add", "--queue", "b", "--", "true").strip()
    cli.ok("cancel", three[2])
    listed = [str(j["id"]) for j in cli.json("ls", "--state", "queued")]
    assert listed == [newest, child, three[1], three[0]]
    assert [str(j["id"]) for j in cli.json("ls", "--state", "queued", "--limit", "2")] == [
        newest,
        child,
    ]
    assert [str(j["id"]) for j in cli.json("ls", "--state", "queued", "--queue", "a")] == [
        child,
        three[0],
    ]
    counts = {row["queue"]: row for row in cli.json("stats")}
    assert counts["a"]["queued"] == 2 and counts["a"]["cancelled"] == 1
    assert counts["b"]["queued"] == 2


def test_every_command_has_help_with_an_example(cli: Cli) -> None:
    commands = ["init", "check", "add", "ls", "show", "logs", "stats", "retry", "cancel"]
    for command in [*commands, "purge", "pause", "resume"]:
        out = cli.ok(command, "--help")
        assert "Example" in out and f"jobctl {command}" in out, command


def test_a_corrupt_database_is_one_line(cli: Cli) -> None:
    cli.db.parent.mkdir(parents=True)
    cli.db.write_bytes(b"this is not sqlite" * 100)
    assert "not a jobctl database" in fail_one_line(cli("ls"), 1)
