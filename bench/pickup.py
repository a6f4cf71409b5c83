"""Pickup latency after an idle spell, and the idle daemon's CPU use.

    python bench/pickup.py [--idle 60] [--jobs 200] [--gap 0.02]

Starts one daemon on an empty database, measures its CPU time over the idle
spell (from /proc), then adds `--jobs` no-op jobs `--gap` seconds apart
through the Python API, as another process would.  Pickup is each job's
first attempt start minus its creation, both read back from the database.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jobctl
from jobctl.store import Store


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", "rb") as file:
        fields = file.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--idle", type=float, default=60.0, help="seconds idle first")
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--gap", type=float, default=0.02, help="seconds between adds")
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    jobctl_command = str(Path(sys.executable).with_name("jobctl"))
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        config = home / "jobs.toml"
        config.write_text('[jobs.noop]\nhandler = "jobctl.examples:noop"\n')
        db = home / "bench.db"
        env = os.environ | {"JOBCTL_DB": str(db), "JOBCTL_CONFIG": str(config)}
        queue = jobctl.connect(db, config)
        queue.stats()  # creates the database before the daemon opens it
        daemon = subprocess.Popen(
            [jobctl_command, "daemon", "--concurrency", str(args.threads)],
            cwd=home,
            env=env,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(1.0)  # start-up is not idling
            cpu_before, wall_before = cpu_seconds(daemon.pid), time.monotonic()
            time.sleep(args.idle)
            cpu = cpu_seconds(daemon.pid) - cpu_before
            idle = time.monotonic() - wall_before
            ids = []
            next_add = time.monotonic()
            for _ in range(args.jobs):
                ids.append(queue.add_id("noop"))
                next_add += args.gap
                time.sleep(max(0.0, next_add - time.monotonic()))
            store = Store.open(db)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                (waiting,) = store.conn.execute(
                    "SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')"
                ).fetchall()[0]
                if not waiting:
                    break
                time.sleep(0.05)
            rows = store.conn.execute(
                "SELECT a.started_at - j.created_at FROM jobs j"
                " JOIN attempts a ON a.job_id = j.id AND a.number = 1"
            ).fetchall()
        finally:
            daemon.terminate()
            daemon.wait()
    delays = [row[0] * 1000 for row in rows]
    print(f"idle {idle:.0f}s: daemon CPU {cpu:.2f}s = {100 * cpu / idle:.2f}% of one core")
    print(
        f"pickup of {len(delays)} jobs added {args.gap * 1000:.0f} ms apart:"
        f" p50 {statistics.median(delays):.1f} ms, p95 {percentile(delays, 95):.1f} ms,"
        f" p99 {percentile(delays, 99):.1f} ms, max {max(delays):.1f} ms"
    )


if __name__ == "__main__":
    main()
