"""Median wall time of `jobctl add -- true` against `python -c pass`.

    python bench/add_latency.py [--runs 21]

Uses the jobctl next to this interpreter and a throwaway database.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from timing import summary, wall_times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    jobctl = str(Path(sys.executable).with_name("jobctl"))
    with tempfile.TemporaryDirectory() as folder:
        env = os.environ | {"JOBCTL_DB": str(Path(folder) / "bench.db")}
        env.pop("JOBCTL_CONFIG", None)
        wall_times([jobctl, "add", "--", "true"], 3, env)  # create the database first
        base = wall_times([sys.executable, "-c", "pass"], args.runs, env)
        add = wall_times([jobctl, "add", "--", "true"], args.runs, env)
    print(f"python -c pass        {summary(base)}")
    print(f"jobctl add -- true    {summary(add)}")


if __name__ == "__main__":
    main()
