"""jobctl side by side with Huey's SQLite queue, on this machine, in one run.

    python bench/run.py [--quick] [--runs N]

Builds bench/.venv (this checkout of jobctl, non-editable, and huey: Huey
is never a dependency of jobctl), then runs every workload several times,
alternating jobctl and Huey and both durabilities (PRAGMA synchronous
NORMAL and FULL, set the same way for both), and prints one table of
medians with min-max.  The results also go to bench/results/run-*.json.
--quick is a short run with small counts (about a minute; the first one
also builds the scale workload's 100,000-job database).  Workloads without
a Huey counterpart compare jobctl with xargs (command jobs), with
`python -c pass` (one `jobctl add`), and with itself on a 10,000-job
database (scale).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
VENV = BENCH / ".venv"
PYTHON = VENV / "bin" / "python"
RESULTS = BENCH / "results"


def ensure_venv() -> None:
    """A fresh install of this checkout (and huey) for every run: measure what is here."""
    if not PYTHON.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(PYTHON), "-m", "pip", "install", "-q", "huey"], check=True)
    subprocess.run(
        [str(PYTHON), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(ROOT)],
        check=True,
        stderr=subprocess.DEVNULL,
    )
    subprocess.run(  # and jobctl's own dependencies, if new ones appeared
        [str(PYTHON), "-m", "pip", "install", "-q", str(ROOT)],
        check=True,
        stderr=subprocess.DEVNULL,
    )


def one(workload: str, system: str, durability: str, extra: list[str]) -> dict[str, float]:
    out = subprocess.run(
        [str(PYTHON), str(BENCH / "workloads.py"), workload, system, durability, *extra],
        check=True,
        capture_output=True,
        text=True,
        cwd="/tmp",
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


class Workload(NamedTuple):
    """One row group of the table: jobctl against `other`, in `durabilities`."""

    name: str
    metrics: tuple[str, ...]  # the first is the headline; "_ms", "cpu" and "rss": lower is better
    extra: list[str]
    other: str = "huey"  # what jobctl is compared with
    other_extra: tuple[str, ...] = ()  # scale: the same system on another database
    durabilities: tuple[str, ...] = ("normal", "full")


def plan(quick: bool) -> list[Workload]:
    def pick(small: str, full: str) -> str:
        return small if quick else full

    return [
        Workload("enqueue", ("per_second",), ["--jobs", pick("2000", "20000")]),
        Workload("bulk", ("per_second",), ["--jobs", pick("20000", "100000")]),
        Workload("drain", ("per_second",), ["--jobs", pick("3000", "20000")]),
        Workload(
            "pickup",
            ("p50_ms", "p95_ms", "p99_ms", "idle_cpu_percent"),
            ["--jobs", pick("30", "200"), "--idle", pick("2", "60")],
        ),
        # Neither xargs nor a bare interpreter writes a database: jobctl's
        # default durability only.
        Workload(
            "commands", ("per_second",), ["--jobs", pick("300", "2000")], "xargs", (), ("normal",)
        ),
        Workload("add", ("median_ms",), ["--jobs", pick("5", "21")], "python", (), ("normal",)),
        Workload(
            "scale",
            ("per_second", "stats_ms", "ls_ms", "rss_mb"),
            ["--jobs", pick("3000", "20000"), "--size", pick("100000", "1000000")],
            "jobctl",
            ("--size", "10000"),
            ("normal",),
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--runs", type=int)
    args = parser.parse_args()
    ensure_venv()
    runs = args.runs or (2 if args.quick else 5)
    workloads = plan(args.quick)
    results: dict[str, list[dict[str, float]]] = {}
    started = time.time()
    for work in workloads:
        for _ in range(runs):
            for durability in work.durabilities:
                # Alternating, so that the machine's drift hits both.
                for side, system, extra in (
                    ("jobctl", "jobctl", work.extra),
                    ("other", work.other, [*work.extra, *work.other_extra]),
                ):
                    key = f"{work.name}/{side}/{durability}"
                    result = one(work.name, system, durability, extra)
                    results.setdefault(key, []).append(result)
                    print(f"  {key} ({system}): {result}", file=sys.stderr)
    print_table(workloads, results, runs)
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(started))
    path = RESULTS / f"run-{stamp}{'-quick' if args.quick else ''}.json"
    path.write_text(json.dumps({"runs": runs, "quick": args.quick, "results": results}, indent=1))
    print(f"\nraw results: {path.relative_to(ROOT)}")


def _stats(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def _cell(values: tuple[float, float, float]) -> str:
    median, low, high = values
    return f"{median:,.1f} ({low:,.1f}-{high:,.1f})"


def print_table(workloads: list[Workload], results: dict, runs: int) -> None:
    print(f"\nmedian of {runs} runs (min-max); synchronous = NORMAL or FULL for both systems")
    header = (
        f"{'workload':<9} {'sync':<6} {'metric':<17} {'jobctl':>27}"
        f" {'other':<8} {'':>27} {'ratio':>6}"
    )
    print(header)
    print("-" * len(header))
    for work in workloads:
        other = work.other if not work.other_extra else "at " + work.other_extra[-1]
        for durability in work.durabilities:
            for metric in work.metrics:
                ours = _stats([r[metric] for r in results[f"{work.name}/jobctl/{durability}"]])
                theirs = _stats([r[metric] for r in results[f"{work.name}/other/{durability}"]])
                lower_is_better = metric.endswith(("_ms", "_mb")) or "cpu" in metric
                if ours[0] and theirs[0]:
                    ratio = theirs[0] / ours[0] if lower_is_better else ours[0] / theirs[0]
                    shown = f"{ratio:.2f}x"
                else:
                    shown = "-"  # a zero (no CPU measured) has no ratio
                print(
                    f"{work.name:<9} {durability:<6} {metric:<17} {_cell(ours):>27}"
                    f" {other:<8} {_cell(theirs):>27} {shown:>6}"
                )
    print(
        "ratio: how many times better jobctl is than the other (above 1: jobctl leads).\n"
        "scale: jobctl's column is at the large database, the other at 10,000 jobs."
    )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    main()
