"""Median wall time of `jobctl add -- true` against `python -c pass`, and their ratio.

    python bench/add_latency.py [--runs 21] [--here]

Measures what a user gets: bench/.venv, a non-editable install of this
checkout with its .pyc files, refreshed as bench/run.py does.  --here uses
the jobctl next to this interpreter instead: in an editable (development)
install both columns pay the editable finder's imports, and with
PYTHONDONTWRITEBYTECODE set jobctl is compiled again on every run.  The two
commands alternate, so that the machine's drift hits both; a throwaway
database.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from timing import median_ms, summary, wall_times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--here", action="store_true", help="this interpreter's jobctl")
    args = parser.parse_args()
    if args.here:
        python = sys.executable
        if sys.flags.dont_write_bytecode:
            print("note: PYTHONDONTWRITEBYTECODE is set: an editable jobctl compiles every run")
    else:
        from run import PYTHON, ensure_venv

        ensure_venv()
        python = str(PYTHON)
    base_argv = [python, "-c", "pass"]
    add_argv = [str(Path(python).with_name("jobctl")), "add", "--", "true"]
    with tempfile.TemporaryDirectory() as folder:
        env = os.environ | {"JOBCTL_DB": str(Path(folder) / "bench.db")}
        env.pop("JOBCTL_CONFIG", None)
        wall_times(add_argv, 3, env)  # create the database first
        base: list[float] = []
        add: list[float] = []
        for _ in range(args.runs):
            base += wall_times(base_argv, 1, env)
            add += wall_times(add_argv, 1, env)
    print(f"python -c pass        {summary(base)}")
    print(f"jobctl add -- true    {summary(add)}")
    print(f"ratio                 {median_ms(add) / median_ms(base):.2f}x (goal: at most 2.5x)")


if __name__ == "__main__":
    main()
