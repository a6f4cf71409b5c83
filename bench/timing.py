"""Helpers for the benchmarks: run a command many times, report the median."""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Sequence


def wall_times(
    argv: Sequence[str], runs: int = 21, env: dict[str, str] | None = None
) -> list[float]:
    """Wall-clock seconds of `runs` runs of argv (output discarded; a failure raises)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, env=env, check=True)
        times.append(time.perf_counter() - start)
    return times


def summary(times: Sequence[float]) -> str:
    ms = sorted(t * 1000 for t in times)
    return f"median {statistics.median(ms):.1f} ms (min {ms[0]:.1f}, max {ms[-1]:.1f})"
