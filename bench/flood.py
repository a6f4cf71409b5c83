"""Jobs that print without pause: the daemon's memory, other commands beside
it, and how soon it acts on SIGTERM.

    python bench/flood.py [--jobs 4] [--size 1000000000] [--python PYTHON]

Four jobs each print `--size` bytes (`head -c SIZE /dev/zero`) on a daemon
with four threads.  While they run, `jobctl add -- true` runs again and
again: its latency (median, max) and how many failed.  Then the same four
jobs print without end (`yes`), and the daemon gets SIGTERM with
shutdown_grace = 0: the time until it logs "stopping" and until it exits.
Last, a control: `jobctl add` beside five busy processes and no daemon.
`--python` runs another jobctl (an older checkout's venv) for a side-by-side
comparison.
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
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--size", type=int, default=1_000_000_000)
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        bench = Flood(Path(folder), args.python)
        bench.flood(args.jobs, args.size)
    with tempfile.TemporaryDirectory() as folder:
        Flood(Path(folder), args.python).sigterm(args.jobs)
    with tempfile.TemporaryDirectory() as folder:
        Flood(Path(folder), args.python).control(args.jobs)


class Flood:
    def __init__(self, folder: Path, python: str) -> None:
        self.folder = folder
        self.python = python
        config = folder / "jobs.toml"
        config.write_text('shutdown_grace = "0s"\n')
        self.env = os.environ | {"JOBCTL_DB": str(folder / "jobs.db"), "JOBCTL_CONFIG": str(config)}

    def jobctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.python, "-m", "jobctl", *args],
            env=self.env,
            cwd=self.folder,
            capture_output=True,
            text=True,
        )

    def start_daemon(self, jobs: int) -> tuple[subprocess.Popen[str], Path]:
        log = self.folder / "daemon.log"
        with open(log, "w") as out:
            daemon = subprocess.Popen(
                [self.python, "-m", "jobctl", "daemon", "--concurrency", str(jobs)],
                env=self.env,
                cwd=self.folder,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
            )
        return daemon, log

    def flood(self, jobs: int, size: int) -> None:
        for _ in range(jobs):
            self.jobctl("add", "--", "head", "-c", str(size), "/dev/zero")
        daemon, _ = self.start_daemon(jobs)
        began = time.monotonic()
        latencies, failures = [], 0
        while self.count("succeeded") < jobs:
            start = time.monotonic()
            result = self.jobctl("add", "--queue", "side", "--", "true")
            latencies.append(time.monotonic() - start)
            failures += result.returncode != 0
        took = time.monotonic() - began
        peak = memory(daemon.pid)
        daemon.send_signal(signal.SIGTERM)
        daemon.wait()
        print(
            f"{jobs} jobs x {size:,} bytes: done in {took:.1f}s; daemon peak RSS"
            f" {peak / 2**20:.1f} MB; `jobctl add` beside it: {len(latencies)} runs,"
            f" median {statistics.median(latencies) * 1000:.0f} ms,"
            f" max {max(latencies) * 1000:.0f} ms, {failures} failed"
        )

    def sigterm(self, jobs: int) -> None:
        for _ in range(jobs):
            self.jobctl("add", "--", "yes", "flooding")
        daemon, log = self.start_daemon(jobs)
        while self.count("running") < jobs:
            time.sleep(0.05)
        time.sleep(3)  # let the flood build up
        peak = memory(daemon.pid)
        sent = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        noticed = None
        while daemon.poll() is None:
            if noticed is None and "stopping" in log.read_text(errors="replace"):
                noticed = time.monotonic() - sent
            time.sleep(0.005)
        exited = time.monotonic() - sent
        noticed = noticed if noticed is not None else exited
        print(
            f"{jobs} jobs printing without end: daemon peak RSS {peak / 2**20:.1f} MB;"
            f" SIGTERM to 'stopping' {noticed * 1000:.0f} ms, to exit {exited * 1000:.0f} ms"
        )

    def control(self, jobs: int) -> None:
        """`jobctl add` beside as many busy processes, and no daemon: how much
        of its time beside a flood is only the CPU the flood takes (2 cores)."""
        self.jobctl("add", "--", "true")  # the database exists
        busy = [
            subprocess.Popen(["cat", "/dev/zero"], stdout=subprocess.DEVNULL)
            for _ in range(jobs + 1)
        ]
        latencies = []
        try:
            for _ in range(5):
                start = time.monotonic()
                self.jobctl("add", "--", "true")
                latencies.append(time.monotonic() - start)
        finally:
            for proc in busy:
                proc.kill()
                proc.wait()
        print(
            f"control, no daemon, {jobs + 1} busy processes: `jobctl add`"
            f" median {statistics.median(latencies) * 1000:.0f} ms"
        )

    def count(self, state: str) -> int:
        result = self.jobctl("ls", "--state", state, "--json", "--limit", "1000")
        if result.returncode != 0:
            return 0
        return result.stdout.count('"id"')


if __name__ == "__main__":
    main()
