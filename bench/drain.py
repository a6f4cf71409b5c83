"""No-op handler jobs drained per second by one daemon with 4 threads.

    python bench/drain.py [--jobs 20000] [--threads 4]

Throughput is measured from the first attempt's start to the last one's
(read back from the database), so daemon start-up is not counted.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from jobctl.store import Store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    jobctl = str(Path(sys.executable).with_name("jobctl"))
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        (home / "jobs.toml").write_text('[jobs.noop]\nhandler = "jobctl.examples:noop"\n')
        env = os.environ | {"JOBCTL_DB": str(home / "bench.db"), "JOBCTL_CONFIG": ""}
        lines = "{}\n" * args.jobs
        subprocess.run(
            [jobctl, "add", "noop", "--batch", "-"],
            input=lines.encode(),
            cwd=home,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        subprocess.run(
            [jobctl, "daemon", "--drain", "--concurrency", str(args.threads)],
            cwd=home,
            env=env,
            check=True,
            stderr=subprocess.DEVNULL,
        )
        store = Store.open(home / "bench.db")
        first, last, done = store.conn.execute(
            "SELECT min(started_at), max(started_at), count(*) FROM attempts"
        ).fetchall()[0]
    rate = (done - 1) / (last - first) if last > first else float("inf")
    print(f"{done} no-op jobs, {args.threads} threads: {rate:,.0f} jobs/s")


if __name__ == "__main__":
    main()
