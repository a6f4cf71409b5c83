"""kill -9 at random instants while a daemon starts jobs and a worker: never two copies.

Every job holds a lock file for its whole run, and runs until the test is
done killing; a copy that finds the lock taken writes an overlap line and
waits for it.  Each daemon starts THREADS jobs (and the worker) at once, so
the kills land while it is starting them.  The worker does the same
with one lock for all its copies, and writes when it waited and when it got
the lock.  A run that nothing could find (started just before its daemon
died, its pid not yet recorded) would hold its lock while the job or the
worker runs again.
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
from pathlib import Path

from conftest import JOBCTL, Cli, states, wait_for

KILLS = 200
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
exec 9>>"$1/worker-lock"
if ! flock -n 9; then
    echo "waited $(date +%s.%N)" >> "$1/worker-overlaps"
    flock 9
    echo "got $(date +%s.%N)" >> "$1/worker-overlaps"
fi
exec sleep 1000
"""


def test_kill_9_at_random_instants_never_runs_a_job_or_worker_twice(
    cli: Cli, write_config, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "job.sh").write_text(JOB)
    (tmp_path / "worker.sh").write_text(WORKER)
    write_config(
        f'[jobs.locked]\ncommand = "sh {tmp_path}/job.sh {work}"\nmax_attempts = 1000\n'
        f'[workers.keeper]\ncommand = "sh {tmp_path}/worker.sh {work}"\n'
        'restart_delay = "100ms"\n'
    )
    cli.ok("add", "locked", "--batch", "-", input="{}\n" * JOBS)
    rng = random.Random(12)
    log = tmp_path / "daemon.log"
    kills = 0
    with log.open("w") as stderr:
        while kills < KILLS:
            daemon = _start(cli, stderr)
            _wait_until_running(daemon, log)
            time.sleep(rng.uniform(0, 0.1))  # the random instant: not a wait for a condition
            daemon.kill()
            daemon.wait()
            kills += 1
        (work / "finish").touch()
        last = _start(cli, stderr)
        try:
            wait_for(
                lambda: states(cli) == {"succeeded": JOBS}, timeout=60, what="every job succeeded"
            )
            wait_for(lambda: (work / "worker-lock").exists(), what="the worker running")
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


def _wait_until_running(daemon: subprocess.Popen[bytes], log: Path) -> None:
    """Until this daemon has logged that it started (its pid is on the line)."""
    mark = f"pid {daemon.pid},".encode()
    deadline = time.monotonic() + 30
    while mark not in log.read_bytes():
        assert daemon.poll() is None, "the daemon exited"
        assert time.monotonic() < deadline, "the daemon did not start"
        time.sleep(0.002)


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""
