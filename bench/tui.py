"""The TUI on a big database, headless: time to the first screen, and per page step.

    python bench/tui.py [--jobs 1000000] [--steps 20]
    python bench/tui.py --cpu [--rate 20] [--window 20] [--windows 3] [--tui-dir DIR]

Uses the database bench/scale.py uses (built here if missing).  The first
screen is ready when the jobs table holds its first page; a step is `]`
(the next, older page) until the table shows that page.  Then the same with
the failed-jobs filter.

--cpu: what the dashboard costs (see tui_cpu.py).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path

from tui_cpu import shown_keys
from workloads import scale_database

import jobctl
from jobctl.tui import JobctlApp
from jobctl.tui.app import PAGE


async def measure(db: Path, steps: int) -> None:
    started = time.perf_counter()
    app = JobctlApp(jobctl.connect(db, None))
    async with app.run_test(size=(160, 50)) as pilot:
        table = app.query_one("#jobs-table")

        async def until(condition) -> None:
            while not condition():
                await pilot.pause(0.005)

        def first_row() -> str | None:
            rows = shown_keys(table)
            return rows[0] if rows else None

        await until(lambda: table.row_count == PAGE)
        print(f"first screen ready: {(time.perf_counter() - started) * 1000:.0f} ms")
        for label, key in (("all jobs", None), ("failed only", "4")):
            if key:
                before = first_row()
                await pilot.press(key)
                await until(lambda b=before: first_row() not in (None, b))
            times = []
            for _ in range(steps):
                before = first_row()
                start = time.perf_counter()
                await pilot.press("right_square_bracket")
                await until(lambda b=before: first_row() not in (None, b))
                await until(lambda: table.row_count == PAGE)
                times.append((time.perf_counter() - start) * 1000)
            print(
                f"{label}: page step median {statistics.median(times):.0f} ms"
                f" (min {min(times):.0f}, max {max(times):.0f}) over {steps} steps"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--cpu", action="store_true", help="measure CPU use instead")
    parser.add_argument("--rate", type=float, default=20.0, help="--cpu: jobs added per second")
    parser.add_argument("--window", type=float, default=20.0, help="--cpu: seconds per window")
    parser.add_argument("--windows", type=int, default=3, help="--cpu: windows per case")
    parser.add_argument("--tui-dir", help="--cpu: run this copy of jobctl/tui (e.g. an old one)")
    args = parser.parse_args()
    if args.cpu:
        import tui_cpu

        tui_cpu.run(args.rate, args.window, args.windows, args.tui_dir)
        return
    db = scale_database(args.jobs)  # built, or brought to this schema, outside the timing
    asyncio.run(measure(db, args.steps))


if __name__ == "__main__":
    main()
