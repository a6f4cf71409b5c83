"""Real `jobctl daemon` processes: run, recover from kill -9, shut down on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from conftest import JOBCTL, Cli, both_backends, process_running, states, wait_for

from jobctl.models import NewJob
from jobctl.store import Store

HANDLERS = """
import json
import os

def append(payload, ctx):
    fd = os.open(payload["file"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.write(fd, f"{ctx.job.id}\\n".encode())
    os.close(fd)
"""


def test_two_daemons_drain_1000_jobs_each_exactly_once(cli: Cli, write_config, daemons) -> None:
    (cli.home / "tasks.py").write_text(HANDLERS)
    write_config('[jobs.append]\nhandler = "tasks:append"\n')
    out = cli.home / "ids.txt"
    lines = "".join(f'{{"file": "{out}"}}\n' for _ in range(1000))
    ids = cli.ok("add", "append", "--batch", "-", input=lines).split()
    first, second = daemons.start("--drain"), daemons.start("--drain")
    assert first.wait(timeout=120) == 0 and second.wait(timeout=120) == 0
    written = out.read_text().split()
    assert sorted(written, key=int) == sorted(ids, key=int)
    assert states(cli) == {"succeeded": 1000}


@both_backends
def test_kill_9_then_a_new_daemon_recovers_running_jobs(cli: Cli, daemons) -> None:
    # Recovery counts as an attempt: an ad hoc command, run once by default, asks for more.
    ids = [cli.ok("add", "--max-attempts", "3", "--", "sleep", "30").strip() for _ in range(6)]
    first = daemons.start("--concurrency", "6")
    wait_for(lambda: states(cli).get("running") == 6, what="6 running")
    # The pids are read back below, to check the processes went; a kill
    # before they are recorded is test_kill_anytime.py's business.
    recorded = "SELECT count(pid) FROM attempts WHERE number = 1"
    wait_for(lambda: cli.rows(recorded)[0][0] == 6, what="6 pids")
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    daemons.start("--concurrency", "6")

    def all_second_attempts() -> bool:
        jobs = [cli.store().get(int(i)) for i in ids]
        return all(j.state == "running" and j.attempts_total == 2 for j in jobs)

    wait_for(all_second_attempts, timeout=5, what="second attempts running")
    for job_id in ids:
        kinds = [e["kind"] for e in cli.json("show", job_id)["events"]]
        assert "recovered" in kinds
    # The dead daemon's `sleep 30`s were stopped: no job runs twice at once.
    first_pids = [row[0] for row in cli.rows("SELECT pid FROM attempts WHERE number = 1")]
    assert len(first_pids) == 6 and all(first_pids)
    wait_for(lambda: not any(map(process_running, first_pids)), timeout=5, what="leftovers gone")


def test_sigterm_lets_short_jobs_finish(cli: Cli, daemons) -> None:
    for _ in range(3):
        cli.ok("add", "--", "sleep", "2")
    proc = daemons.start()
    wait_for(lambda: states(cli).get("running") == 3, what="3 running")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    assert states(cli) == {"succeeded": 3}
    assert "Stopped 0 worker(s), 4 threads" in daemons.log_path(0).read_text()


def test_sigterm_requeues_long_jobs_after_the_grace(cli: Cli, write_config, daemons) -> None:
    write_config('shutdown_grace = "2s"\nkill_grace = "1s"\n')
    ids = [cli.ok("add", "--", "sleep", "60").strip() for _ in range(2)]
    proc = daemons.start()
    wait_for(lambda: states(cli).get("running") == 2, what="2 running")
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
    assert time.monotonic() - started < 8
    for job_id in ids:
        job = cli.json("show", job_id)
        assert job["state"] == "queued" and job["attempt"] == 0


@both_backends
def test_timeout_kills_the_whole_group_and_on_failure_runs_once(
    cli: Cli, write_config, daemons
) -> None:
    write_config(
        "[jobs.slow]\n"
        "command = \"sh -c 'sleep 59.5 & sleep 59.5'\"\n"  # a duration no other test uses
        'timeout = "1s"\nkill_grace = "1s"\nmax_attempts = 2\nretry_delay = "100ms"\n'
        'on_failure = "tee -a failures.jsonl"\n'
    )
    job_id = cli.ok("add", "slow").strip()
    daemons.start()
    wait_for(lambda: cli.json("show", job_id)["state"] == "failed", timeout=30, what="failed")
    attempts = cli.json("show", job_id)["attempts"]
    assert [a["outcome"] for a in attempts] == ["timed_out", "timed_out"]
    failures = cli.home / "failures.jsonl"
    wait_for(failures.exists, what="on_failure output")
    wait_for(lambda: failures.read_text().count("\n") >= 1 or failures.read_text(), what="hook")
    assert failures.read_text().count('"id": ' + job_id) == 1
    leftover = subprocess.run(["pgrep", "-f", "sleep 59.5"], capture_output=True, text=True)
    assert leftover.stdout.strip() == ""


@both_backends
def test_a_flood_of_output_keeps_only_output_limit(cli: Cli, write_config, daemons) -> None:
    write_config('output_limit = "64KiB"\n')
    job_id = cli.ok("add", "--", "head", "-c", "3000000", "/dev/urandom").strip()
    daemons.start()
    wait_for(lambda: cli.json("show", job_id)["state"] == "succeeded", what="succeeded")
    [attempt] = cli.json("show", job_id)["attempts"]
    assert attempt["output_bytes"] == 3_000_000
    # The daemon deletes whole pieces: it keeps the limit, and at most one piece more.
    stored = sum(len(data) for _, data in cli.store().output(int(job_id), 1))
    assert 64 * 1024 <= stored <= 2 * 64 * 1024
    shown = subprocess.run([*JOBCTL, "logs", job_id], capture_output=True, env=cli.env)
    assert shown.returncode == 0 and len(shown.stdout) == 64 * 1024


def test_a_world_writable_database_is_refused(cli: Cli) -> None:
    cli.ok("add", "--", "true")
    os.chmod(cli.db, 0o666)
    result = cli("daemon", "--drain")
    assert result.returncode != 0
    [line] = result.stderr.splitlines()
    assert "writable by other users" in line and "chmod" in line


@both_backends
def test_cancel_kills_a_running_job(cli: Cli, daemons) -> None:
    job_id = cli.ok("add", "--", "sleep", "60").strip()
    daemons.start()
    wait_for(lambda: cli.json("show", job_id)["state"] == "running", what="running")
    cli.ok("cancel", job_id)
    wait_for(lambda: cli.json("show", job_id)["state"] == "cancelled", timeout=5, what="cancel")


@both_backends
def test_dependents_start_after_their_parent(cli: Cli, daemons, tmp_path: Path) -> None:
    parent = cli.ok("add", "--", "sleep", "0.2").strip()
    child = cli.ok("add", "--after", parent, "--", "true").strip()
    daemons.start("--drain").wait(timeout=30)
    parent_job, child_job = cli.store().get(int(parent)), cli.store().get(int(child))
    assert child_job.state == "succeeded" and child_job.started_at >= parent_job.finished_at


def test_store_claims_respect_priority(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "j.db")
    store.add_jobs(
        [NewJob(type=None, payload="null", command=["true"], priority=p) for p in (0, 5, 1)], 1.0
    )
    claimed = store.claim(store.register_daemon("h", 1, None, None, 1.0), 3, 2.0, 100.0)
    assert [c.job.priority for c in claimed] == [5, 1, 0]


PROCESS_HANDLERS = """
import os, time

def report(payload, ctx):
    print("hello from", os.getpid())
    ctx.log("halfway", step=1)
    return {"pid": os.getpid()}

def spin(payload, ctx):
    while True:  # never looks at ctx.shutting_down(): only SIGKILL stops it
        time.sleep(0.01)
"""


def test_process_isolation_runs_handlers_in_a_child_a_timeout_can_kill(
    cli: Cli, write_config, daemons
) -> None:
    (cli.home / "work.py").write_text(PROCESS_HANDLERS)
    write_config(
        'kill_grace = "1s"\n'
        '[jobs.report]\nhandler = "work:report"\nisolation = "process"\n'
        '[jobs.spin]\nhandler = "work:spin"\nisolation = "process"\n'
        'timeout = "1s"\nmax_attempts = 1\n'
    )
    spin = cli.ok("add", "spin").strip()
    report = cli.ok("add", "report").strip()
    daemon = daemons.start()
    wait_for(lambda: cli.json("show", spin)["state"] == "failed", timeout=30, what="spin ended")
    wait_for(lambda: cli.json("show", report)["state"] == "succeeded", what="report")
    shown = cli.json("show", report)
    assert shown["result"]["pid"] not in (daemon.pid, None)  # ran in a child
    logs = cli.ok("logs", report)
    assert f"hello from {shown['result']['pid']}" in logs and "halfway step=1" in logs
    assert [(line["message"], line["data"]) for line in shown["log"]] == [("halfway", {"step": 1})]
    assert "halfway step=1" in cli.ok("show", report)
    [attempt] = cli.json("show", spin)["attempts"]
    assert attempt["outcome"] == "timed_out"
    assert daemon.poll() is None  # the daemon goes on


@both_backends
def test_drain_waits_for_the_retries_of_jobs_it_ran(cli: Cli, write_config, daemons) -> None:
    write_config(
        "[jobs.second-time]\ncommand = \"sh -c 'test $JOBCTL_ATTEMPT = 2'\"\n"
        'retry_delay = "300ms"\n'
    )
    job_id = cli.ok("add", "second-time").strip()
    proc = daemons.start("--drain")
    assert proc.wait(timeout=30) == 0
    job = cli.json("show", job_id)
    assert job["state"] == "succeeded" and job["attempts_total"] == 2


@both_backends
def test_log_format_json_is_one_object_per_line(cli: Cli, daemons) -> None:
    job_id = int(cli.ok("add", "--", "true").strip())
    proc = daemons.start("--drain", "--log-format", "json")
    assert proc.wait(timeout=30) == 0
    records = [json.loads(line) for line in daemons.log_path(0).read_text().splitlines()]
    events = [(r.get("job"), r["event"]) for r in records]
    assert (job_id, "started") in events and (job_id, "succeeded") in events
    finished = next(r for r in records if r["event"] == "succeeded")
    assert finished["type"] == "true" and finished["attempt"] == 1
    assert finished["seconds"] >= 0 and finished["at"].endswith("Z")
    assert records[-1]["event"].startswith("Stopped")


@both_backends
def test_drain_ignores_due_jobs_it_may_not_run(cli: Cli, daemons) -> None:
    # Found in review: a due job in a paused or unserved queue made the loop
    # spin and --drain never exit.
    elsewhere = cli.ok("add", "--queue", "other", "--", "true").strip()
    paused = cli.ok("add", "--queue", "held", "--", "true").strip()
    cli.ok("pause", "held")
    mine = cli.ok("add", "--queue", "mine", "--", "true").strip()
    proc = daemons.start("--drain", "--queues", "mine,held")
    assert proc.wait(timeout=30) == 0
    assert cli.json("show", mine)["state"] == "succeeded"
    assert cli.json("show", elsewhere)["state"] == "queued"
    assert cli.json("show", paused)["state"] == "queued"


def test_logs_follow_of_an_attempt_that_never_began_ends(cli: Cli, daemons) -> None:
    job_id = cli.ok("add", "--", "echo", "once").strip()
    assert daemons.start("--drain").wait(timeout=30) == 0
    result = cli("logs", job_id, "-f", "--attempt", "7")
    assert result.returncode == 0 and result.stdout == ""
    assert cli("logs", job_id, "-f", "--attempt", "1").stdout == "once\n"


def test_a_thread_handler_that_never_returns_is_given_back_at_shutdown(
    cli: Cli, write_config, daemons
) -> None:
    (cli.home / "stuck.py").write_text(
        "import time\n\ndef wait(payload, ctx):\n    print('in', flush=True)\n    time.sleep(600)\n"
    )
    write_config('shutdown_grace = "0s"\nkill_grace = "1s"\n[jobs.stuck]\nhandler = "stuck:wait"\n')
    job_id = cli.ok("add", "stuck").strip()
    daemon = daemons.start()
    wait_for(lambda: cli.json("show", job_id)["state"] == "running", what="running")
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=30) == 0  # it gave up on the thread after kill_grace
    job = cli.json("show", job_id)
    assert job["state"] == "queued" and job["attempt"] == 0
    assert [a["outcome"] for a in job["attempts"]] == ["interrupted"]
