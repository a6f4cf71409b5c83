"""`jobctl stats` and `jobctl ls --limit 50` on a database of N jobs.

    python bench/scale.py [--jobs 1000000] [--runs 11]

The database is built once through the store (90% succeeded, 5% failed,
4% queued, 1% cancelled over three queues) and kept in bench/results/;
bench/workloads.py's scale workload, which bench/run.py runs, uses the same.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from timing import summary, wall_times
from workloads import scale_database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()
    path = scale_database(args.jobs)
    jobctl = str(Path(sys.executable).with_name("jobctl"))
    env = os.environ | {"JOBCTL_DB": str(path)}
    for argv in (
        ["stats"],
        ["ls", "--limit", "50"],
        ["ls", "--state", "failed", "--limit", "50"],
        ["ls", "--state", "queued", "--limit", "50"],
    ):
        print(f"jobctl {' '.join(argv):<36} {summary(wall_times([jobctl, *argv], args.runs, env))}")


if __name__ == "__main__":
    main()
