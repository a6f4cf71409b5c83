"""kill -9 at random instants while a daemon starts jobs and a worker: never two copies.

Every job holds a lock file for its whole run, and runs until the test is
done killing; a copy that finds the lock taken writes an overlap line and
waits for it.  Each daemon starts THREADS jobs (and the worker) at once, so
the kills land while it is starting them.  Each worker does the same
with one lock for all its copies, and writes when it waited and when it got
the lock; it exits and is started again ten times a second, so that kills
land while workers start too.  A run that nothing could find (started just before its daemon
died, its pid not yet recorded) would hold its lock while the job or the
worker runs again.
"""

from __future__ import annotations

import contextlib
import random
import signal
import subprocess
import time
from pathlib import Path

from conftest import JOBCTL, Cli, states, wait_for

from jobctl.store import Store

KILLS = 150  # each a random instant; the suite has a 10-minute budget
JOBS = 48
THREADS = 16

JOB = """\
exec 9>>"$1/lock-$JOBCTL_JOB_ID"
if ! flock -n 9; then
    echo "$JOBCTL_JOB_ID $JOBCTL_ATTEMPT" >> "$1/overlaps"
    flock 9
fi
echo "$JOBCTL_JOB_ID" >> "$1/started"
while [ ! -e "$1/finish" ]; do sleep 0.05; done
echo "$JOBCTL_JOB_ID" >> "$1/ended"
"""

WORKER = """\
exec 9>>"$1/worker-lock-$JOBCTL_WORKER"
if ! flock -n 9; then
    echo "$JOBCTL_WORKER waited $(date +%s.%N)" >> "$1/worker-overlaps"
    flock 9
    echo "$JOBCTL_WORKER got $(date +%s.%N)" >> "$1/worker-overlaps"
fi
# Exit after a tenth of a second, to be started again at once, while the
# daemon that started it lives; once it is gone, stay until the test ends.
daemon=$PPID
n=0
while [ ! -e "$1/finish" ]; do
    sleep 0.02
    n=$((n + 1))
    if [ $n -ge 5 ] && kill -0 "$daemon" 2>/dev/null; then exit 0; fi
done
exec sleep 1000
"""
WORKERS = 4


def test_kill_9_at_random_instants_never_runs_a_job_or_worker_twice(
    cli: Cli, write_config, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "job.sh").write_text(JOB)
    (tmp_path / "worker.sh").write_text(WORKER)
    workers = "".join(
        f'[workers.keeper{n}]\ncommand = "sh {tmp_path}/worker.sh {work}"\nrestart_delay = "10ms"\n'
        for n in range(WORKERS)
    )
    write_config(
        f'[jobs.locked]\ncommand = "sh {tmp_path}/job.sh {work}"\nmax_attempts = 1000\n' + workers
    )
    cli.ok("add", "locked", "--batch", "-", input="{}\n" * JOBS)
    rng = random.Random(12)
    log = tmp_path / "daemon.log"
    kills = 0
    watch = Store.open(cli.db)
    with log.open("w") as stderr, contextlib.closing(watch):
        while kills < KILLS:
            daemon = _start(cli, stderr)
            _wait_until_registered(daemon, watch)
            # The random instant (not a wait for a condition): from its
            # registration, through its first pass, which starts the
            # workers and THREADS jobs, to a little after.
            time.sleep(rng.uniform(0, 0.25))
            daemon.kill()
            daemon.wait()
            kills += 1
        (work / "finish").touch()
        last = _start(cli, stderr)
        try:
            wait_for(
                lambda: states(cli) == {"succeeded": JOBS}, timeout=60, what="every job succeeded"
            )
            wait_for(
                lambda: all((work / f"worker-lock-keeper{n}").exists() for n in range(WORKERS)),
                what="the workers running",
            )
        finally:
            last.send_signal(signal.SIGTERM)
            last.send_signal(signal.SIGINT)
            assert last.wait(timeout=30) == 0
    overlaps = (work / "overlaps").read_text() if (work / "overlaps").exists() else ""
    assert overlaps == "", f"after {kills} kills, jobs ran twice at once:\n{overlaps}"
    worker_overlaps = _read(work / "worker-overlaps")
    assert worker_overlaps == "", f"after {kills} kills, two workers at once:\n{worker_overlaps}"
    ended = set(_read(work / "ended").split())
    assert len(ended) == JOBS
    text = log.read_text()
    print(
        f"{kills} kills: no overlap; processes found only by their run token:"
        f" {text.count('found by its run token')} of jobs,"
        f" {text.count('stopped process')} of the worker"
    )


def _start(cli: Cli, stderr) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*JOBCTL, "daemon", "--concurrency", str(THREADS), "--no-schedules"],
        cwd=cli.home,
        env=cli.env,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        start_new_session=True,
    )


def _wait_until_registered(daemon: subprocess.Popen[bytes], watch: Store) -> None:
    """Until this daemon's row is in the database: it starts jobs next."""
    sql = "SELECT count(*) FROM daemons WHERE pid = ? AND stopped_at IS NULL"
    deadline = time.monotonic() + 30
    while not watch.conn.execute(sql, (daemon.pid,)).fetchall()[0][0]:
        assert daemon.poll() is None, "the daemon exited"
        assert time.monotonic() < deadline, "the daemon did not start"
        time.sleep(0.002)


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""
