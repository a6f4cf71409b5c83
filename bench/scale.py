"""`jobctl stats` and `jobctl ls --limit 50` on a database of N jobs.

    python bench/scale.py [--jobs 1000000] [--runs 11]

The database is built once through the store (90% succeeded, 5% failed,
4% queued, 1% cancelled over three queues) and kept in bench/results/.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from timing import summary, wall_times

from jobctl.models import NewJob
from jobctl.store import Store

RESULTS = Path(__file__).parent / "results"


def build(path: Path, count: int) -> None:
    store = Store.open(path)
    now = time.time() - 86400
    chunk = 100_000
    for start in range(0, count, chunk):
        jobs = [
            NewJob(type="bench", payload=f'{{"n":{n}}}', queue=("a", "b", "c")[n % 3])
            for n in range(start, min(count, start + chunk))
        ]
        store.add_jobs(jobs, now)
    # Finish most of them, as a database that has been in use for a while.
    store.conn.execute(
        "UPDATE jobs SET state = CASE WHEN id % 100 < 90 THEN 'succeeded'"
        " WHEN id % 100 < 95 THEN 'failed' WHEN id % 100 < 96 THEN 'cancelled'"
        " ELSE 'queued' END, finished_at = CASE WHEN id % 100 < 96 THEN created_at + 1 END"
    )
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"scale-{args.jobs}.db"
    if not path.exists():
        start = time.perf_counter()
        build(path, args.jobs)
        print(f"built {args.jobs} jobs in {time.perf_counter() - start:.1f} s")
    jobctl = str(Path(sys.executable).with_name("jobctl"))
    env = os.environ | {"JOBCTL_DB": str(path)}
    for argv in (["stats"], ["ls", "--limit", "50"], ["ls", "--state", "failed", "--limit", "50"]):
        print(f"jobctl {' '.join(argv):<36} {summary(wall_times([jobctl, *argv], args.runs, env))}")


if __name__ == "__main__":
    main()
