"""Issue 15, items 7, 9, 10, 11 and 15: what the README promises, through the
real command and real daemons."""

from __future__ import annotations

import os
import signal
import time

import pytest
from conftest import Cli, copies, fail_one_line, wait_for, worker

import jobctl


@pytest.fixture(autouse=True)
def no_leftovers():
    """Each test's worker commands are `sleep 98N.5`: none may outlive a failed test."""
    yield
    for pid in copies("sleep 98"):
        os.kill(pid, signal.SIGKILL)


def kill_owner(cli: Cli, name: str) -> None:
    """kill -9 the daemon that owns worker `name` (only it: its worker lives on)."""
    owner = worker(cli, name)["daemon_id"]
    pid = next(d["pid"] for d in cli.json("workers")["daemons"] if d["id"] == owner)
    os.kill(pid, signal.SIGKILL)


# -- 9: `ls --json` and Queue.list() give payload and result ---------------------


def test_ls_json_and_queue_list_give_payload_and_result(cli: Cli, write_config, daemons) -> None:
    write_config('[jobs.greet]\nhandler = "jobctl.examples:greet"\n')
    ran = cli.ok("add", "greet", "--data", '{"name": "ann"}').strip()
    daemons.start("--drain").wait(timeout=60)
    waiting = cli.ok("add", "greet", "--data", '{"name": "bob", "n": [1, 2]}').strip()
    listed = {job["id"]: job for job in cli.json("ls")}
    assert listed[int(ran)]["state"] == "succeeded"
    assert listed[int(ran)]["payload"] == {"name": "ann"}
    assert listed[int(ran)]["result"] == {"greeting": "hello ann"}
    assert listed[int(waiting)]["payload"] == {"name": "bob", "n": [1, 2]}
    assert listed[int(waiting)]["result"] is None
    # The same through the filtered paths, and the library.
    [queued] = cli.json("ls", "--state", "queued")
    assert queued["payload"] == {"name": "bob", "n": [1, 2]}
    [done] = cli.json("ls", "--state", "succeeded")
    assert done["result"] == {"greeting": "hello ann"}
    with jobctl.connect(db=cli.db, config=cli.home / "jobs.toml") as q:
        jobs = {job.id: job for job in q.list()}
    assert jobs[int(ran)].payload == {"name": "ann"}
    assert jobs[int(ran)].result == {"greeting": "hello ann"}
    assert jobs[int(waiting)].payload == {"name": "bob", "n": [1, 2]}


# -- 10: a worker stopped and started again runs again after a takeover -----------


def test_a_worker_started_again_is_restarted_after_its_daemon_is_killed(
    cli: Cli, write_config, daemons
) -> None:
    write_config('[workers.again]\ncommand = "sleep 981.5"\n')
    daemons.start()
    wait_for(lambda: len(copies("sleep 981.5")) == 1, what="one copy running")
    cli.ok("workers", "stop", "again")
    wait_for(lambda: worker(cli, "again")["state"] == "stopped", what="stopped")
    cli.ok("workers", "start", "again")
    wait_for(lambda: worker(cli, "again")["state"] == "running", what="running again")
    daemons.start()
    [orphan] = copies("sleep 981.5")
    owner = worker(cli, "again")["daemon_id"]
    kill_owner(cli, "again")

    def rerun() -> bool:
        now, running = worker(cli, "again"), copies("sleep 981.5")
        return now["daemon_id"] not in (None, owner) and len(running) == 1 and orphan not in running

    wait_for(rerun, timeout=20, what="the new owner runs one new copy")
    assert worker(cli, "again")["state"] == "running"


# -- 7: autostart = false --------------------------------------------------------


def test_autostart_false_starts_only_on_request(cli: Cli, write_config, daemons) -> None:
    write_config('[workers.manual]\ncommand = "sleep 982.5"\nautostart = false\n')
    first = daemons.start()
    wait_for(lambda: worker(cli, "manual")["daemon_id"] is not None, what="taken")
    # Not started by its daemon, nor by one taking over after a kill -9.
    owner = worker(cli, "manual")["daemon_id"]
    kill_owner(cli, "manual")
    first.wait(timeout=10)
    second = daemons.start()
    wait_for(lambda: worker(cli, "manual")["daemon_id"] not in (None, owner), what="taken over")
    # ... nor by one started after a graceful stop.
    second.send_signal(signal.SIGTERM)
    assert second.wait(timeout=20) == 0
    third = daemons.start()
    wait_for(lambda: worker(cli, "manual")["daemon_id"] is not None, what="taken again")
    time.sleep(1.5)  # several ticks
    assert copies("sleep 982.5") == []
    assert worker(cli, "manual")["state"] == "stopped"
    # `workers start` starts it; running when its owner stops, it runs again
    # under the next daemon; stopped by request, it stays down.
    cli.ok("workers", "start", "manual")
    wait_for(lambda: len(copies("sleep 982.5")) == 1, what="started on request")
    # Its owner killed -9 while it runs: the daemon taking over runs one copy.
    [orphan] = copies("sleep 982.5")
    owner = worker(cli, "manual")["daemon_id"]
    fourth = daemons.start()
    kill_owner(cli, "manual")
    third.wait(timeout=10)
    wait_for(
        lambda: (now := copies("sleep 982.5")) != [] and orphan not in now,
        timeout=20,
        what="running again after a kill -9 of its daemon",
    )
    assert len(copies("sleep 982.5")) == 1
    assert worker(cli, "manual")["daemon_id"] not in (None, owner)
    # Its owner stopped gracefully while it runs: the next daemon runs it.
    fourth.send_signal(signal.SIGTERM)
    assert fourth.wait(timeout=20) == 0
    fifth = daemons.start()
    wait_for(lambda: len(copies("sleep 982.5")) == 1, what="running again after the restart")
    cli.ok("workers", "stop", "manual")
    wait_for(lambda: copies("sleep 982.5") == [], what="stopped on request")
    fifth.send_signal(signal.SIGTERM)
    assert fifth.wait(timeout=20) == 0
    daemons.start()
    wait_for(lambda: worker(cli, "manual")["daemon_id"] is not None, what="taken once more")
    time.sleep(1.5)
    assert copies("sleep 982.5") == []


# -- 11: cancel a job and one waiting on it, in either order ----------------------


@pytest.mark.parametrize("parent_first", [True, False])
def test_cancel_a_job_and_its_child_in_either_order(cli: Cli, parent_first: bool) -> None:
    parent = cli.ok("add", "--in", "1h", "--", "true").strip()
    child = cli.ok("add", "--after", parent, "--", "true").strip()
    order = [parent, child] if parent_first else [child, parent]
    out = cli.ok("cancel", *order)
    assert out.splitlines() == [f"{order[0]} cancelled", f"{order[1]} cancelled"]
    states = {str(job["id"]): job["state"] for job in cli.json("ls")}
    assert states == {parent: "cancelled", child: "cancelled"}
    # A job already cancelled before still makes the whole set fail.
    line = fail_one_line(cli("cancel", parent), 1)
    assert f"job {parent} is already cancelled" in line


# -- 15: `jobctl check` imports the handlers, in a child process -------------------


def test_check_imports_each_handler_in_a_child_process(cli: Cli, write_config) -> None:
    jobs_toml = write_config(
        '[jobs.a]\nhandler = "nosuchmodule:fn"\n\n'
        '[jobs.b]\nhandler = "tasks:nope"\n\n'
        '[jobs.c]\nhandler = "tasks:fn"\n\n'
        '[jobs.d]\nhandler = "broken:fn"\n\n'
        '[workers.w]\nhandler = "hangs:fn"\n\n'
        '[jobs.e]\nhandler = "os.path:join"\n'
    )
    (cli.home / "tasks.py").write_text("print('imported')\ndef fn(payload, ctx):\n    pass\n")
    (cli.home / "broken.py").write_text("raise SystemExit('no')\n")
    (cli.home / "hangs.py").write_text("import time\ntime.sleep(3600)\n")
    result = cli("check")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{jobs_toml}:2: [jobs.a] handler: cannot import nosuchmodule (ModuleNotFoundError)",
        f'{jobs_toml}:5: [jobs.b] handler: module tasks has no function "nope"',
        f"{jobs_toml}:11: [jobs.d] handler: cannot import broken (SystemExit)",
        f"{jobs_toml}:14: [workers.w] handler: importing hangs took over 5s (timed out)",
    ]
    assert "Traceback" not in result.stderr
