"""Issue 17: many daemons on many hosts sharing one PostgreSQL database.

Real daemons on a real server; `$JOBCTL_HOST` makes one machine several
hosts, so that a daemon of another host is taken for dead only when its
`lease` runs out (on its own host a dead pid tells at once).

A job marks that it is in progress with an exclusive flock(2) on a file named
by its id, held for its whole run: a second copy running at once finds the
lock taken and records an overlap.  A lock, rather than a file created with
O_EXCL and removed at the end, because a `kill -9` ends a thread handler
without its `finally`: the file would stay and its rerun would report an
overlap that never was, where the kernel drops a dead process's locks.

Commands end in unique `sleep 1.1818`, `sleep 0.31818`, `sleep 1818.N` numbers, so that the
fixture below can kill whatever a failed test left running (and nothing
of another test's: tests/test_workers.py kills every `sleep 97*`).
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Cli, Daemons, copies, states, wait_for

LEASE = 'lease = "3s"\n'  # the shortest allowed (config._lease)


@pytest.fixture
def pg(tmp_path: Path, pg_url: str) -> Cli:
    return Cli(tmp_path, db=pg_url)


@pytest.fixture
def hosts(pg: Cli) -> Iterator[Daemons]:
    group = Daemons(pg)
    yield group
    group.stop_all()


@pytest.fixture(autouse=True)
def no_leftovers() -> Iterator[None]:
    yield
    for pid in copies("sleep 1.1818") + copies("sleep 0.31818") + copies("sleep 1818."):
        os.kill(pid, signal.SIGKILL)


def start_as(group: Daemons, host: str, *args: str) -> subprocess.Popen[str]:
    """A daemon going by the host name `host`."""
    env = group.cli.env
    group.cli.env = env | {"JOBCTL_HOST": host}
    try:
        return group.start(*args)
    finally:
        group.cli.env = env


def write_config(cli: Cli, text: str) -> None:
    (cli.home / "jobs.toml").write_text(text, encoding="utf-8")


def lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


# -- kill -9 under load -------------------------------------------------------------

HOLD = """
import fcntl, os, time

def _append(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.write(fd, text.encode())
    os.close(fd)

def hold(payload, ctx):
    folder, job = payload["dir"], ctx.job.id
    fd = os.open(f"{folder}/locks/{job}", os.O_WRONLY | os.O_CREAT)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _append(f"{folder}/overlaps", f"{job} {ctx.job.attempt}\\n")
            fcntl.flock(fd, fcntl.LOCK_EX)
        time.sleep(payload["seconds"])
        _append(f"{folder}/ended", f"{job}\\n")
    finally:
        os.close(fd)
"""

COMMAND = """\
exec 9>>"$1/locks/$JOBCTL_JOB_ID"
if ! flock -n 9; then
    echo "$JOBCTL_JOB_ID $JOBCTL_ATTEMPT" >> "$1/overlaps"
    flock 9
fi
sleep 1.1818
echo "$JOBCTL_JOB_ID" >> "$1/ended"
"""


def drain_while_killing(cli: Cli, group: Daemons, count: int, threads: int) -> None:
    """Three hosts drain `count` jobs; one daemon is killed with -9 about
    every second and started again at once, under the same host name."""
    names = ["host-a", "host-b", "host-c"]
    args = ("--concurrency", str(threads))
    procs = {name: start_as(group, name, *args) for name in names}
    kills = 0
    rng = random.Random()
    while kills < 10 and states(cli).get("succeeded", 0) < count:
        time.sleep(rng.uniform(0.3, 1.0))
        victim = rng.choice(names)
        procs[victim].kill()
        procs[victim].wait()
        procs[victim] = start_as(group, victim, *args)
        kills += 1
    assert kills >= 3, "the jobs ended before the daemons were killed a few times"
    wait_for(lambda: states(cli) == {"succeeded": count}, timeout=60, what=f"all {count} succeeded")
    assert all(proc.poll() is None for proc in procs.values())


def check_once_each(cli: Cli, ids: list[str], folder: Path) -> None:
    assert lines(folder / "overlaps") == []  # never two copies at once
    ended = Counter(lines(folder / "ended"))
    assert set(ended) == set(ids)  # none lost
    # Each job succeeded once; every attempt before that one was cut by a kill.
    rows = cli.rows(
        "SELECT job_id, number, outcome FROM attempts ORDER BY job_id, number",
    )
    by_job: dict[int, list[str]] = {}
    for job_id, _, outcome in rows:
        by_job.setdefault(job_id, []).append(outcome)
    assert sorted(by_job) == sorted(map(int, ids))
    for outcomes in by_job.values():
        assert outcomes[-1] == "succeeded" and set(outcomes[:-1]) <= {"recovered"}, outcomes
    # A job ran to its end more than once only if a kill came between its end
    # and the commit that recorded it: then its first attempt is "recovered".
    for job_id, times in ended.items():
        assert times <= len(by_job[int(job_id)])


def test_three_hosts_drain_3000_handler_jobs_through_kill_9s(pg: Cli, hosts: Daemons) -> None:
    (pg.home / "tasks.py").write_text(HOLD)
    (pg.home / "locks").mkdir()
    write_config(pg, LEASE + '[jobs.hold]\nhandler = "tasks:hold"\nmax_attempts = 50\n')
    payload = f'{{"dir": "{pg.home}", "seconds": 0.01}}\n'
    ids = pg.ok("add", "hold", "--batch", "-", input=payload * 3000).split()
    assert len(set(ids)) == 3000
    drain_while_killing(pg, hosts, 3000, threads=4)
    check_once_each(pg, ids, pg.home)


def test_three_hosts_drain_command_jobs_through_kill_9s(pg: Cli, hosts: Daemons) -> None:
    # A command outlives its daemon's kill -9: the daemon started again on
    # its host must stop it before the job runs again, here or elsewhere.
    (pg.home / "job.sh").write_text(COMMAND)
    (pg.home / "locks").mkdir()
    write_config(
        pg,
        LEASE + f'[jobs.cmd]\ncommand = "sh {pg.home}/job.sh {pg.home}"\nmax_attempts = 50\n',
    )
    ids = pg.ok("add", "cmd", "--batch", "-", input="{}\n" * 100).split()
    drain_while_killing(pg, hosts, 100, threads=8)
    check_once_each(pg, ids, pg.home)
    # Commands of a second outlast the restart: the kills left some running,
    # which the daemon started again on their host stopped.
    logs = "".join(hosts.log_path(n).read_text() for n in range(len(hosts.procs)))
    assert "its dead daemon left" in logs or "found by its run token" in logs


# -- a daemon stopped past its lease ------------------------------------------------

SLOW = """
import os, time

def slow(payload, ctx):
    folder, host = payload["dir"], os.environ["JOBCTL_HOST"]
    if host == "host-a":
        # Until the test lets it go, then ends with a result of its own: a
        # stale attempt's result, which must not replace the new attempt's.
        while not os.path.exists(f"{folder}/release") and not ctx.shutting_down():
            time.sleep(0.02)
    return {"host": host}
"""

LONG = """\
# $1: the test's folder; $2: "exit" (host-a's copy ends, failing, once
# released) or "stay" (host-a's copy runs until its daemon stops it).
trap 'exit 143' TERM
if [ "$JOBCTL_HOST" = host-a ]; then
    while [ "$2" = stay ] || [ ! -e "$1/release" ]; do sleep 0.05; done
    exit 3
fi
while [ "$2" = stay ] && [ ! -e "$1/finish" ]; do sleep 0.05; done
"""


def groups_with(entry: str) -> set[int]:
    """The process groups of live processes whose environment holds `entry`
    (NAME=value): one per copy of a job or worker, whatever it forks."""
    wanted = entry.encode()
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
        if wanted in environ and fields[0] != b"Z":
            groups.add(int(fields[2]))
    return groups


def attempts(cli: Cli, job_id: str) -> list[tuple[int, str | None, str]]:
    """(number, outcome, host of the daemon that ran it) of each attempt."""
    return cli.rows(
        "SELECT a.number, a.outcome, d.host FROM attempts a JOIN daemons d ON d.id = a.daemon_id"
        " WHERE a.job_id = ? ORDER BY a.number",
        (int(job_id),),
    )


def test_a_daemon_stopped_past_its_lease_changes_nothing_once_it_wakes(
    pg: Cli, hosts: Daemons
) -> None:
    home = pg.home
    (home / "tasks.py").write_text(SLOW)
    (home / "long.sh").write_text(LONG)
    write_config(
        pg,
        LEASE + '[jobs.slow]\nhandler = "tasks:slow"\n'
        f'[jobs.exits]\ncommand = "sh {home}/long.sh {home} exit"\n'
        f'[jobs.stays]\ncommand = "sh {home}/long.sh {home} stay"\n'
        f"[workers.keeper]\ncommand = \"sh -c 'echo $$ >> {home}/worker-pids;"
        " exec sleep 1818.2'\"\n",
    )
    payload = f'{{"dir": "{home}"}}'
    handlers = [pg.ok("add", "slow", "--data", payload).strip() for _ in range(2)]
    exits, stays = pg.ok("add", "exits").strip(), pg.ok("add", "stays").strip()
    stay_copies = lambda: groups_with(f"JOBCTL_JOB_ID={stays}")  # noqa: E731
    worker_copies = lambda: copies("sleep 1818.2")  # noqa: E731
    a = start_as(hosts, "host-a", "--concurrency", "4")
    wait_for(
        lambda: states(pg) == {"running": 4} and stay_copies() and worker_copies(),
        what="host-a runs the four jobs and the worker",
    )

    os.kill(a.pid, signal.SIGSTOP)
    try:
        b = start_as(hosts, "host-b", "--concurrency", "4")
        # Once host-a's lease has run out, host-b runs everything again.
        wait_for(
            lambda: (
                states(pg) == {"succeeded": 3, "running": 1}
                and len(stay_copies()) == 2
                and len(worker_copies()) == 2
            ),
            timeout=30,
            what="host-b ran the jobs and runs its own copies",
        )
        (home / "release").touch()  # host-a's stale attempts end as soon as it runs
    finally:
        os.kill(a.pid, signal.SIGCONT)
    # Within a heartbeat, plus the second a copy gets between SIGTERM and SIGKILL.
    wait_for(
        lambda: len(stay_copies()) == 1 and len(worker_copies()) == 1,
        timeout=5,
        what="one copy of the job and of the worker after SIGCONT",
    )
    assert "was presumed dead" in hosts.log_path(0).read_text()
    # host-a registered again: two of its heartbeats later, whatever its stale
    # attempts reported has been written, or refused.
    again = wait_for(
        lambda: pg.rows(
            "SELECT id FROM daemons WHERE host = ? AND stopped_at IS NULL", ("host-a",)
        ),
        what="host-a registered again",
    )
    beat = lambda: pg.rows("SELECT heartbeat_at FROM daemons WHERE id = ?", again[0])[0][0]  # noqa: E731
    first_beat = beat()
    wait_for(lambda: beat() > first_beat + 1.5, what="two more heartbeats of host-a")
    (home / "finish").touch()
    wait_for(lambda: states(pg) == {"succeeded": 4}, what="host-b's copy of the last job ended")

    for job_id in [*handlers, exits, stays]:
        assert attempts(pg, job_id) == [(1, "recovered", "host-a"), (2, "succeeded", "host-b")]
        shown = pg.json("show", job_id)
        assert shown["state"] == "succeeded" and shown["attempts_total"] == 2
    for job_id in handlers:
        assert pg.json("show", job_id)["result"] == {"host": "host-b"}
    assert len(stay_copies()) == 0 and len(worker_copies()) == 1
    worker_pids = lines(home / "worker-pids")
    assert len(worker_pids) == 2 and worker_copies() == [int(worker_pids[-1])]
    assert a.poll() is None and b.poll() is None


# -- a schedule on three hosts ------------------------------------------------------


def test_three_hosts_enqueue_each_due_time_of_a_schedule_once(pg: Cli, hosts: Daemons) -> None:
    # Ten due times: each is a race of three schedulers for one row lock, so
    # ten show what twenty would, in half the time.
    write_config(pg, LEASE + '[jobs.tick]\ncommand = "true"\nevery = "1s"\n')
    for host in ("host-a", "host-b", "host-c"):
        start_as(hosts, host)

    def fired() -> list[tuple[float, str]]:
        return pg.rows(
            "SELECT due_at, state FROM jobs WHERE schedule = ? ORDER BY due_at", ("tick",)
        )

    wait_for(
        lambda: sum(state == "succeeded" for _, state in fired()) >= 11,
        timeout=30,
        what="eleven due times ran",
    )
    due = [due_at for due_at, _ in fired()]
    assert len(due) == len(set(due))  # one job per due time
    assert [b - a for a, b in zip(due, due[1:], strict=False)] == [1.0] * (len(due) - 1)  # no gap
    assert pg.rows("SELECT job_id FROM attempts GROUP BY job_id HAVING count(*) > 1") == []


# -- the server restarted under a daemon --------------------------------------------


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Any]:
    """A pgserver of this test's own, which it may restart without
    disturbing the session's server."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs, as in pg_server.py
        import pgserver

        server = pgserver.get_server(tmp_path / "pgdata", cleanup_mode="stop")
    yield server
    server.cleanup()
    # pgserver stops the postmaster it started; after a restart that is
    # another process, which its cleanup leaves running.
    from pgserver._commands import pg_ctl

    with contextlib.suppress(Exception):
        pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=server.pgdata, user=server.system_user)


def restart(server: Any, mode: str) -> None:
    """pg_ctl restart: "fast" ends the sessions, "immediate" is a crash and recovery."""
    from pgserver._commands import pg_ctl

    pg_ctl(["-w", "-m", mode, "restart"], pgdata=server.pgdata, user=server.system_user, timeout=60)


def test_a_daemon_rides_out_a_server_restart(tmp_path: Path, own_server: Any) -> None:
    from pg_server import with_schema

    cli = Cli(tmp_path, db=with_schema(own_server.get_uri(), "jobctl_restart"))
    group = Daemons(cli)
    write_config(cli, '[jobs.nap]\ncommand = "sleep 0.31818"\n')
    ids = cli.ok("add", "nap", "--batch", "-", input="{}\n" * 40).split()
    daemon = group.start("--concurrency", "4")
    try:
        for mode, done in (("fast", 4), ("immediate", 16)):
            wait_for(
                lambda done=done: (
                    states(cli).get("succeeded", 0) >= done and states(cli).get("running", 0) > 0
                ),
                what=f"{done} jobs done, others running",
            )
            restart(own_server, mode)
        wait_for(lambda: states(cli) == {"succeeded": 40}, timeout=60, what="all 40 succeeded")
        assert daemon.poll() is None
        log = group.log_path(0).read_text()
    finally:
        group.stop_all()
    # Each job ran once, and its end was recorded once the server was back.
    assert cli.rows("SELECT count(*), count(DISTINCT job_id) FROM attempts") == [(40, 40)]
    assert cli.rows("SELECT DISTINCT outcome FROM attempts") == [("succeeded",)]
    assert cli.json("show", ids[-1])["state"] == "succeeded"
    # Each restart: one line when the daemon's pass fails, one when it goes on.
    assert log.count("retrying until it can write again") == 2, log
    assert log.count("the database is writable again: going on") == 2, log
    assert "Traceback" not in log


# -- a host whose daemon comes back after its lease -----------------------------------


def test_a_daemon_restarted_after_its_lease_stops_what_its_dead_predecessor_left(
    pg: Cli, hosts: Daemons
) -> None:
    """host-a's daemon dies with -9 and stays down past its lease: host-b takes
    the job and runs it again (the first copy, on "another host", is out of
    its reach).  When host-a's daemon starts again it stops the first copy,
    though the job is no longer host-a's to recover."""
    write_config(pg, LEASE)
    pids = pg.home / "pids"
    pg.ok("add", "--max-attempts", "2", "--shell", f"echo $$ >> {pids}; exec sleep 1818.9")
    first_daemon = start_as(hosts, "host-a")
    wait_for(lambda: lines(pids), what="host-a runs the job")
    first_copy = int(lines(pids)[0])
    first_daemon.send_signal(signal.SIGKILL)
    first_daemon.wait()
    start_as(hosts, "host-b")
    wait_for(lambda: len(lines(pids)) == 2, timeout=30, what="host-b runs it again")
    second_copy = int(lines(pids)[1])
    assert copies("sleep 1818.9") == sorted([first_copy, second_copy])  # two, for now

    start_as(hosts, "host-a")
    wait_for(lambda: copies("sleep 1818.9") == [second_copy], what="the first copy stopped")
    wait_for(lambda: "a dead daemon left" in hosts.log_path(2).read_text(), what="host-a says so")
