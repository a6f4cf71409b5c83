"""Supervised workers, run by real daemons: restarts, one copy, takeover, shutdown."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest
from conftest import JOBCTL, Cli, both_backends, copies, read_line, wait_for, worker


@pytest.fixture(autouse=True)
def no_leftovers():
    """Each test's worker commands are `sleep 97N.5`: none may outlive a failed test."""
    yield
    for pid in copies("sleep 97"):
        os.kill(pid, signal.SIGKILL)


def runs(cli: Cli, name: str) -> list[tuple[float, int | None]]:
    return cli.rows(
        "SELECT started_at, pid FROM worker_runs WHERE worker = ? ORDER BY number", (name,)
    )


@both_backends
def test_a_crashing_worker_restarts_with_growing_delays_then_gives_up(
    cli: Cli, write_config, daemons
) -> None:
    write_config(
        "[workers.crash]\ncommand = \"sh -c 'echo crashing; exit 1'\"\n"
        'restart_delay = "200ms"\nmax_restarts = 3\n'
    )
    daemons.start()
    wait_for(lambda: worker(cli, "crash")["state"] == "gave-up", what="gave-up")
    started = [at for at, _ in runs(cli, "crash")]
    assert len(started) == 4  # the first run and three restarts
    gaps = [b - a for a, b in zip(started, started[1:], strict=False)]
    assert gaps[0] < gaps[1] < gaps[2]  # 200 ms, 400 ms, 800 ms, each +-10%
    assert "crashing" in cli.ok("logs", "--worker", "crash")
    # It stays down until asked; then it gets a fresh budget.
    cli.ok("workers", "start", "crash")
    wait_for(lambda: len(runs(cli, "crash")) > 4, what="started again on request")


def test_a_killed_worker_is_restarted_and_stop_start_work(cli: Cli, write_config, daemons) -> None:
    write_config('[workers.sleeper]\ncommand = "sleep 971.5"\nrestart_delay = "300ms"\n')
    daemons.start()
    wait_for(lambda: len(copies("sleep 971.5")) == 1, what="one copy running")
    [first] = copies("sleep 971.5")
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: copies("sleep 971.5") not in ([], [first]), what="a new copy")
    assert len(copies("sleep 971.5")) == 1
    assert worker(cli, "sleeper")["last_exit"] == -signal.SIGKILL
    cli.ok("workers", "stop", "sleeper")
    wait_for(lambda: worker(cli, "sleeper")["state"] == "stopped", timeout=5, what="stopped")
    assert copies("sleep 971.5") == []
    cli.ok("workers", "start", "sleeper")
    wait_for(lambda: worker(cli, "sleeper")["state"] == "running", timeout=5, what="running")
    assert len(copies("sleep 971.5")) == 1


@both_backends
def test_exactly_one_copy_with_two_daemons_and_after_kill_9_of_its_daemon(
    cli: Cli, write_config, daemons
) -> None:
    write_config('[workers.single]\ncommand = "sleep 972.5"\n')
    cli.ok("stats")
    first, second = daemons.start(), daemons.start()
    wait_for(lambda: len(copies("sleep 972.5")) == 1, what="one copy")
    owner = worker(cli, "single")["daemon_id"]
    shown = cli.json("workers")
    assert len(shown["daemons"]) == 2
    owner_pid = next(d["pid"] for d in shown["daemons"] if d["id"] == owner)
    [orphan] = copies("sleep 972.5")
    os.killpg(owner_pid, signal.SIGKILL)  # the daemon only: its worker lives on, orphaned
    assert copies("sleep 972.5") == [orphan]
    daemons.start()  # a third daemon joins too; still only one copy may run

    def taken_over() -> bool:
        now = worker(cli, "single")
        return now["daemon_id"] not in (None, owner) and now["state"] == "running"

    wait_for(taken_over, timeout=15, what="another daemon runs the worker")
    # The new owner stops the orphan first, then starts its own copy.
    wait_for(
        lambda: (now := copies("sleep 972.5")) != [] and orphan not in now,
        what="the orphan stopped and a new copy started",
    )
    assert len(copies("sleep 972.5")) == 1
    survivors = [p for p in (first, second) if p.pid != owner_pid]
    assert all(p.poll() is None for p in survivors)


def test_sigterm_leaves_no_worker_process(cli: Cli, write_config, daemons) -> None:
    write_config(
        '[workers.stubborn]\ncommand = "sh -c \'trap \\"\\" TERM; sleep 973.5 & wait\'"\n'
        'kill_grace = "1s"\n'
        '[workers.polite]\ncommand = "sleep 974.5"\n'
    )
    proc = daemons.start()
    wait_for(lambda: copies("sleep 973.5") and copies("sleep 974.5"), what="both running")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    assert copies("sleep 973.5") == [] and copies("sleep 974.5") == []
    assert {w["state"] for w in cli.json("workers")["workers"]} == {"stopped"}


def test_no_workers_flag(cli: Cli, write_config, daemons) -> None:
    write_config('[workers.idle]\ncommand = "sleep 975.5"\n')
    daemons.start("--no-workers")
    cli.ok("add", "--", "true")
    wait_for(lambda: cli.json("ls")[0]["state"] == "succeeded", what="a job ran")
    assert copies("sleep 975.5") == []


WORKER_HANDLERS = """
import time

def loop(payload, ctx):
    ctx.log("worker up", step=1)
    while not ctx.shutting_down():
        print("beat", flush=True)
        time.sleep(0.1)
    print("bye", flush=True)
"""


@both_backends
def test_a_handler_worker_follows_its_logs_and_stops_on_request(
    cli: Cli, write_config, daemons
) -> None:
    (cli.home / "beats.py").write_text(WORKER_HANDLERS)
    write_config('[workers.beats]\nhandler = "beats:loop"\n')
    daemons.start()
    follower = subprocess.Popen(
        [*JOBCTL, "logs", "--worker", "beats", "-f"],
        cwd=cli.home,
        env=cli.env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert read_line(follower.stdout) == "worker up step=1\n"
        assert read_line(follower.stdout) == "beat\n"  # followed live
        cli.ok("workers", "stop", "beats")
        wait_for(lambda: worker(cli, "beats")["state"] == "stopped", what="stopped")
        assert "bye" in cli.ok("logs", "--worker", "beats")  # it saw ctx.shutting_down()
        assert worker(cli, "beats")["last_exit"] == 0
    finally:
        follower.kill()
        follower.wait()
