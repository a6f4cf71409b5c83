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


def median_ms(times: Sequence[float]) -> float:
    """The median of wall_times() results, in milliseconds."""
    return statistics.median(times) * 1000


def summary(times: Sequence[float]) -> str:
    ms = sorted(t * 1000 for t in times)
    return f"median {median_ms(times):.1f} ms (min {ms[0]:.1f}, max {ms[-1]:.1f})"


def drain_once(
    config: str, job_type: str, jobs: int, threads: int
) -> tuple[float, float, float, int]:
    """Queue `jobs` jobs of `job_type` (declared in `config`, a jobs.toml text)
    in a fresh database, run one `jobctl daemon --drain` on them; (first
    start, last start, last finish, jobs that succeeded), from the database."""
    import os
    import sys
    import tempfile
    from pathlib import Path

    from jobctl.store import Store

    jobctl = str(Path(sys.executable).with_name("jobctl"))
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        (home / "jobs.toml").write_text(config)
        env = os.environ | {"JOBCTL_DB": str(home / "bench.db"), "JOBCTL_CONFIG": ""}
        subprocess.run(
            [jobctl, "add", job_type, "--batch", "-"],
            input=b"{}\n" * jobs,
            cwd=home,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        subprocess.run(
            [jobctl, "daemon", "--drain", "--concurrency", str(threads)],
            cwd=home,
            env=env,
            check=True,
            stderr=subprocess.DEVNULL,
        )
        store = Store.open(home / "bench.db")
        try:
            row = store.conn.execute(
                "SELECT min(started_at), max(started_at), max(finished_at), count(*)"
                " FROM attempts WHERE outcome = 'succeeded'"
            ).fetchall()[0]
        finally:
            store.close()
    first, last_start, last_finish, done = row
    assert done == jobs, f"{done} of {jobs} succeeded"
    return first, last_start, last_finish, done


def memory(pid: int, field: str = "VmHWM") -> int:
    """A field of /proc/PID/status in bytes: VmHWM, the peak RSS, or VmRSS, the RSS now."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0
