"""How long a reload takes, and whether reloads make the daemon grow.

    python bench/reload.py [--types 100] [--workers 20] [--reloads 1000]

A daemon serves a jobs.toml of `--types` types (every tenth with a cron
schedule) and `--workers` workers (`sleep`); it gets SIGHUP `--reloads`
times, each after it logged the last reload.  Prints the median and p95
time from SIGHUP to the "reloaded" log line, and the daemon's RSS before
the first and after the last.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import memory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--types", type=int, default=100)
    parser.add_argument("--workers", type=int, default=20)
    parser.add_argument("--reloads", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        run(Path(folder), args.types, args.workers, args.reloads)


def run(folder: Path, types: int, workers: int, reloads: int) -> None:
    config = folder / "jobs.toml"
    lines = []
    for n in range(types):
        lines.append(f'[jobs.t{n}]\ncommand = "echo {n}"\n')
        if n % 10 == 0:
            lines.append(f'cron = "{n % 60} 3 * * *"\n')
    for n in range(workers):
        lines.append(f'[workers.w{n}]\ncommand = "sleep {3600 + n}"\n')
    config.write_text("".join(lines))
    env = os.environ | {"JOBCTL_DB": str(folder / "jobs.db"), "JOBCTL_CONFIG": str(config)}
    log = folder / "daemon.log"
    with open(log, "w") as out:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "jobctl", "daemon"], env=env, stdout=out, stderr=out
        )
    try:
        wait_for_count(log, "started run", workers)
        before = memory(daemon.pid, "VmRSS")
        took = []
        for n in range(1, reloads + 1):
            start = time.monotonic()
            daemon.send_signal(signal.SIGHUP)
            wait_for_count(log, "reloaded", n)
            took.append(time.monotonic() - start)
        after = memory(daemon.pid, "VmRSS")
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait()
    took.sort()
    p95 = took[int(len(took) * 0.95)]
    print(
        f"{types} types, {workers} workers, {reloads} reloads: SIGHUP to 'reloaded' median"
        f" {statistics.median(took) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms;"
        f" daemon RSS {before / 2**20:.1f} MB before, {after / 2**20:.1f} MB after"
    )


def wait_for_count(log: Path, text: str, count: int) -> None:
    deadline = time.monotonic() + 60
    while log.read_text(errors="replace").count(text) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"no {count} x {text!r} in the log")
        time.sleep(0.001)


if __name__ == "__main__":
    main()
