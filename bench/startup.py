"""What a short command costs, start-up included, side by side with another jobctl.

    python bench/startup.py [--runs 31] [--other OTHER/bin/python]

Runs `jobctl add -- true`, `jobctl ls --limit 50` and `jobctl stats` on a
database of one job, alternating with `--other` (an older checkout's venv)
when given, and prints the medians and their ratio.  On a database this
small the time is nearly all start-up: imports and opening the file.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=31)
    parser.add_argument("--other", help="another jobctl's python, to compare with")
    args = parser.parse_args()
    pythons = {"this": sys.executable} | ({"other": args.other} if args.other else {})
    with tempfile.TemporaryDirectory() as folder:
        env = {n: os.environ | {"JOBCTL_DB": f"{folder}/{n}.db"} for n in pythons}
        for name, python in pythons.items():
            jobctl(python, env[name], ["add", "--", "true"])
        for command in (["add", "--", "true"], ["ls", "--limit", "50"], ["stats"]):
            times: dict[str, list[float]] = {name: [] for name in pythons}
            for _ in range(args.runs):
                for name, python in pythons.items():
                    start = time.perf_counter()
                    jobctl(python, env[name], command)
                    times[name].append(time.perf_counter() - start)
            medians = {name: statistics.median(t) * 1000 for name, t in times.items()}
            line = ", ".join(f"{name} {ms:.1f} ms" for name, ms in medians.items())
            if "other" in medians:
                line += f" (ratio {medians['this'] / medians['other']:.3f})"
            print(f"jobctl {' '.join(command):<20} median of {args.runs}: {line}")


def jobctl(python: str, env: dict[str, str], command: list[str]) -> None:
    subprocess.run(
        [python, "-m", "jobctl", *command], env=env, stdout=subprocess.DEVNULL, check=True
    )


if __name__ == "__main__":
    main()
