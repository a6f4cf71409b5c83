"""No-op handler jobs drained per second by one daemon with 4 threads.

    python bench/drain.py [--jobs 20000] [--threads 4] [--runs 3]

Throughput is measured from the first attempt's start to the last one's
(read back from the database), so daemon start-up is not counted.
"""

from __future__ import annotations

import argparse
import statistics

from timing import drain_once


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
    config = '[jobs.noop]\nhandler = "jobctl.examples:noop"\n'
    first, last_start, _, done = drain_once(config, "noop", jobs, threads)
    return (done - 1) / (last_start - first)


if __name__ == "__main__":
    main()
