"""jobctl side by side with Huey's SQLite queue, on this machine, in one run.

    python bench/run.py [--quick] [--runs N]

Builds bench/.venv (this checkout of jobctl, non-editable, and huey: Huey
is never a dependency of jobctl), then runs every workload several times,
alternating jobctl and Huey and both durabilities (PRAGMA synchronous
NORMAL and FULL, set the same way for both), and prints one table of
medians with min-max.  The results also go to bench/results/run-*.json.
--quick is a one-minute run with small counts.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--runs", type=int)
    args = parser.parse_args()
    ensure_venv()
    runs = args.runs or (2 if args.quick else 5)
    quick = args.quick
    plan = [
        ("enqueue", "per_second", "jobs/s", ["--jobs", "3000" if quick else "20000"]),
        ("bulk", "per_second", "jobs/s", ["--jobs", "20000" if quick else "100000"]),
        ("drain", "per_second", "jobs/s", ["--jobs", "5000" if quick else "20000"]),
        (
            "pickup",
            "p50_ms",
            "ms",
            ["--jobs", "50" if quick else "200", "--idle", "3" if quick else "60"],
        ),
    ]
    results: dict[str, list[dict[str, float]]] = {}
    started = time.time()
    for workload, _, _, extra in plan:
        for _ in range(runs):
            for durability in ("normal", "full"):
                for system in ("jobctl", "huey"):  # alternating, so drift hits both
                    key = f"{workload}/{system}/{durability}"
                    results.setdefault(key, []).append(one(workload, system, durability, extra))
                    print(f"  {key}: {results[key][-1]}", file=sys.stderr)
    rows = []
    for workload, metric, unit, _ in plan:
        for durability in ("normal", "full"):
            cells = {}
            for system in ("jobctl", "huey"):
                values = [r[metric] for r in results[f"{workload}/{system}/{durability}"]]
                cells[system] = (statistics.median(values), min(values), max(values))
            rows.append((workload, durability, metric, unit, cells))
            if workload == "pickup":
                for extra_metric in ("p99_ms", "idle_cpu_percent"):
                    cells = {}
                    for system in ("jobctl", "huey"):
                        values = [
                            r[extra_metric] for r in results[f"{workload}/{system}/{durability}"]
                        ]
                        cells[system] = (statistics.median(values), min(values), max(values))
                    rows.append((workload, durability, extra_metric, "", cells))
    print_table(rows, runs)
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(started))
    path = RESULTS / f"run-{stamp}{'-quick' if quick else ''}.json"
    path.write_text(json.dumps({"runs": runs, "quick": quick, "results": results}, indent=1))
    print(f"\nraw results: {path.relative_to(ROOT)}")


def _cell(values: tuple[float, float, float]) -> str:
    median, low, high = values
    return f"{median:,.1f} ({low:,.1f}-{high:,.1f})"


def print_table(rows: list, runs: int) -> None:
    print(f"\nmedian of {runs} runs (min-max); synchronous = NORMAL or FULL for both systems")
    header = f"{'workload':<10} {'sync':<6} {'metric':<18} {'jobctl':>26} {'huey':>26} {'ratio':>6}"
    print(header)
    print("-" * len(header))
    for workload, durability, metric, unit, cells in rows:
        ours, theirs = cells["jobctl"][0], cells["huey"][0]
        lower_is_better = metric.endswith("_ms") or metric.startswith("idle")
        if ours and theirs:
            ratio = f"{theirs / ours if lower_is_better else ours / theirs:.2f}x"
        else:
            ratio = "-"  # a zero (no CPU measured) has no ratio
        label = f"{metric} {unit}".strip()
        print(
            f"{workload:<10} {durability:<6} {label:<18} {_cell(cells['jobctl']):>26}"
            f" {_cell(cells['huey']):>26} {ratio:>6}"
        )
    print("ratio: how many times better jobctl is (higher is better for jobctl)")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    main()
