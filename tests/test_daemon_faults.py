"""A daemon under faults around it: its database removed, a signal during
start-up, a full disk."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path

import pytest
from conftest import Cli, Daemons, process_running, states, wait_for

from jobctl.store import Store


def test_removing_the_database_stops_the_daemon_with_one_line(
    cli: Cli, daemons: Daemons, tmp_path: Path
) -> None:
    cli.ok("add", "--", "sleep", "60")
    daemon = daemons.start()
    wait_for(lambda: states(cli).get("running") == 1, what="the job running")
    sleeper = _attempt_pid(cli)
    for path in cli.db.parent.glob(cli.db.name + "*"):
        path.unlink()
    cli.ok("add", "--", "true")  # a new file at the same path
    assert daemon.wait(timeout=5) != 0
    log = daemons.log_path(0).read_text()
    assert log.count("removed or replaced") == 1, log
    assert "Traceback" not in log
    # Its job does not outlive it: nothing could ever find it again.
    wait_for(lambda: not process_running(sleeper), timeout=5, what="the job's process gone")


def test_a_signal_during_start_up_is_honoured_once_it_has_started(
    cli: Cli, daemons: Daemons
) -> None:
    job_id = cli.ok("add", "--", "true").strip()
    # Hold the write lock, so that the daemon's start-up waits on it.
    blocker = Store.open(cli.db)
    blocker.conn.execute("BEGIN IMMEDIATE")
    try:
        daemon = daemons.start()
        wait_for(lambda: _catches(daemon.pid, signal.SIGTERM), what="SIGTERM handled")
        daemon.send_signal(signal.SIGTERM)
    finally:
        blocker.conn.execute("ROLLBACK")
        blocker.close()
    assert daemon.wait(timeout=20) == 0
    log = daemons.log_path(0).read_text()
    assert "Stopped" in log and "Traceback" not in log
    assert cli.json("show", job_id)["state"] == "queued"  # it claimed nothing


def test_a_full_disk_holds_the_daemon_until_there_is_space(
    cli: Cli, daemons: Daemons, tmp_path: Path
) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m,mode=0700", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a 3 MB tmpfs here: {mounted.stderr.strip()}")
    try:
        cli.db = disk / "jobs.db"
        cli.env["JOBCTL_DB"] = str(cli.db)
        go = tmp_path / "go"
        script = f'while [ ! -e {go} ]; do sleep 0.02; done; head -c 30000 /dev/zero | tr "\\0" x'
        for _ in range(30):
            cli.ok("add", "--shell", script)
        daemon = daemons.start("--concurrency", "4")
        wait_for(lambda: states(cli).get("running") == 4, what="4 jobs running")
        ballast = _fill(disk / "ballast")
        go.touch()  # the jobs print now: their output does not fit
        wait_for(lambda: "retrying until" in daemons.log_path(0).read_text(), what="disk full")
        assert daemon.poll() is None
        ballast.unlink()
        wait_for(lambda: states(cli) == {"succeeded": 30}, timeout=60, what="all 30 succeeded")
        assert daemon.poll() is None
        log = daemons.log_path(0).read_text()
        assert log.count("retrying until") == 1, log
        assert "writable again" in log
        outputs = {len(cli.ok("logs", str(job_id))) for job_id in range(1, 31)}
        assert outputs == {30000}  # nothing lost while the disk was full
    finally:
        daemons.stop_all()
        subprocess.run(["umount", "-l", str(disk)], check=False)


def _fill(path: Path) -> Path:
    """A file that takes all the space left on its file system."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, b"\0" * 4096)
    finally:
        os.close(fd)
    return path


def _attempt_pid(cli: Cli) -> int:
    def recorded() -> int | None:
        store = cli.store()
        try:
            return store.conn.execute("SELECT pid FROM attempts").fetchall()[0][0]
        finally:
            store.close()

    return wait_for(recorded, what="the pid recorded")


def _catches(pid: int, signum: int) -> bool:
    """Whether process `pid` has a handler installed for `signum` (SigCgt in /proc)."""
    with open(f"/proc/{pid}/status") as file:
        for line in file:
            if line.startswith("SigCgt:"):
                return bool(int(line.split()[1], 16) & (1 << (signum - 1)))
    return False
