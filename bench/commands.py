"""`true` as a command job, against `xargs -P4 -n1 true` on the same machine.

    python bench/commands.py [--jobs 2000] [--threads 4] [--runs 3]

jobctl: the jobs are queued first, then one `daemon --drain` runs them;
the rate is counted from the first attempt's start to the last one's end,
read back from the database, so start-up is left out.  xargs: the wall time
of `xargs -P4 -n1 true` over as many lines.  Each run alternates the two;
medians are printed.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time

from timing import drain_once


def jobctl_rate(jobs: int, threads: int) -> float:
    first, _, last_finish, done = drain_once(
        '[jobs.true]\ncommand = "true"\n', "true", jobs, threads
    )
    return done / (last_finish - first)


def xargs_rate(jobs: int, threads: int) -> float:
    start = time.perf_counter()
    subprocess.run(
        ["xargs", f"-P{threads}", "-n1", "true"],
        input=b"x\n" * jobs,
        check=True,
    )
    return jobs / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    ours, theirs = [], []
    for _ in range(args.runs):
        ours.append(jobctl_rate(args.jobs, args.threads))
        theirs.append(xargs_rate(args.jobs, args.threads))
    a, b = statistics.median(ours), statistics.median(theirs)
    print(
        f"{args.jobs} `true` jobs, {args.threads} at a time, median of {args.runs}:"
        f" jobctl {a:,.0f}/s (min {min(ours):,.0f}, max {max(ours):,.0f}),"
        f" xargs -P{args.threads} {b:,.0f}/s (min {min(theirs):,.0f}, max {max(theirs):,.0f});"
        f" ratio {a / b:.2f}"
    )


if __name__ == "__main__":
    main()
