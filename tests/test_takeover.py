"""A daemon stopped (SIGSTOP) past its lease while a daemon on another host takes
over: once it runs again, it finds it was declared dead and stops its copies."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from conftest import Cli, Daemons, wait_for

JOB = """\
trap 'exit 143' TERM
while true; do sleep 0.05; done
"""


def copies(entry: str, test: str) -> set[int]:
    """The process groups of live processes whose environment holds `entry`
    (NAME=value) and TAKEOVER_TEST=`test`: one per copy of this test's job or
    worker, whatever it forks (another test's job 1 is not one of them)."""
    wanted, mine = entry.encode(), f"TAKEOVER_TEST={test}".encode()
    groups = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as file:
                environ = file.read().split(b"\0")
            with open(f"/proc/{name}/stat", "rb") as file:
                fields = file.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if wanted in environ and mine in environ and fields[0] != b"Z":
            groups.add(int(fields[2]))
    return groups


def test_a_daemon_declared_dead_stops_its_jobs_and_workers(
    cli: Cli, write_config, daemons: Daemons, tmp_path: Path
) -> None:
    (tmp_path / "job.sh").write_text(JOB)
    write_config(
        'lease = "3s"\n'
        f'[jobs.long]\ncommand = "sh {tmp_path}/job.sh"\nmax_attempts = 5\n'
        f'[workers.keeper]\ncommand = "sh {tmp_path}/job.sh"\n'
    )
    job_id = cli.ok("add", "long").strip()
    base_env = cli.env | {"TAKEOVER_TEST": str(tmp_path)}
    cli.env = base_env | {"JOBCTL_HOST": "host-a"}
    first = daemons.start()
    cli.env = base_env | {"JOBCTL_HOST": "host-b"}
    job_copies = lambda: copies(f"JOBCTL_JOB_ID={job_id}", str(tmp_path))  # noqa: E731
    worker_copies = lambda: copies("JOBCTL_WORKER=keeper", str(tmp_path))  # noqa: E731
    wait_for(lambda: len(job_copies()) == 1 and len(worker_copies()) == 1, what="A runs both")

    os.kill(first.pid, signal.SIGSTOP)
    try:
        second = daemons.start()
        # B takes A for dead once A's lease has run out: two copies of each now,
        # since B cannot reach A's processes on "another host".
        wait_for(
            lambda: len(job_copies()) == 2 and len(worker_copies()) == 2,
            timeout=30,
            what="B runs its own copies",
        )
    finally:
        os.kill(first.pid, signal.SIGCONT)
    # Within two heartbeats (plus the one second a copy gets after SIGTERM).
    wait_for(
        lambda: len(job_copies()) == 1 and len(worker_copies()) == 1,
        timeout=5,
        what="one copy of each after SIGCONT",
    )
    log = daemons.log_path(0).read_text()
    assert "was presumed dead" in log
    assert "another daemon runs it now" in log
    workers = cli.json("workers")
    (keeper,) = workers["workers"]
    daemons_by_host = {d["id"]: d["host"] for d in workers["daemons"]}
    assert daemons_by_host[keeper["daemon_id"]] == "host-b"
    assert keeper["pid"] in worker_copies()
    job = cli.json("show", job_id)
    assert job["state"] == "running" and job["attempts_total"] == 2
    # A, registered again, stays off them: still one copy after its next heartbeats.
    again = wait_for(
        lambda: [d["id"] for d in cli.json("workers")["daemons"] if d["host"] == "host-a"],
        what="A registered again under a new id",
    )
    beats = _heartbeat(cli, again[0])
    wait_for(lambda: _heartbeat(cli, again[0]) > beats + 1.5, what="two more heartbeats of A")
    assert len(job_copies()) == 1 and len(worker_copies()) == 1
    assert second.poll() is None and first.poll() is None


def _heartbeat(cli: Cli, daemon_id: int) -> float:
    store = cli.store()
    try:
        sql = "SELECT heartbeat_at FROM daemons WHERE id = ?"
        return store.conn.execute(sql, (daemon_id,)).fetchall()[0][0]
    finally:
        store.close()
