"""No-op handler jobs drained per second by one daemon with 4 threads.

    python bench/drain.py [--jobs 20000] [--threads 4] [--runs 3]

Throughput is measured from the first attempt's start to the last one's
(read back from the database), so daemon start-up is not counted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from jobctl.store import Store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rates = [drain_rate(args.jobs, args.threads) for _ in range(args.runs)]
    print(
        f"{args.jobs} no-op jobs, {args.threads} threads, median of {args.runs}:"
        f" {statistics.median(rates):,.0f} jobs/s (min {min(rates):,.0f}, max {max(rates):,.0f})"
    )


def drain_rate(jobs: int, threads: int) -> float:
    jobctl = str(Path(sys.executable).with_name("jobctl"))
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        (home / "jobs.toml").write_text('[jobs.noop]\nhandler = "jobctl.examples:noop"\n')
        env = os.environ | {"JOBCTL_DB": str(home / "bench.db"), "JOBCTL_CONFIG": ""}
        lines = "{}\n" * jobs
        subprocess.run(
            [jobctl, "add", "noop", "--batch", "-"],
            input=lines.encode(),
            cwd=home,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        subprocess.run(
            [jobctl, "daemon", "--drain", "--concurrency", str(threads)],
            cwd=home,
            env=env,
            check=True,
            stderr=subprocess.DEVNULL,
        )
        store = Store.open(home / "bench.db")
        first, last, done = store.conn.execute(
            "SELECT min(started_at), max(started_at), count(*) FROM attempts"
        ).fetchall()[0]
    assert done == jobs, f"{done} of {jobs} ran"
    return (done - 1) / (last - first)


if __name__ == "__main__":
    main()
