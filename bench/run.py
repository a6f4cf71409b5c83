"""jobctl side by side with Huey's SQLite queue, on this machine, in one run.

    python bench/run.py [--quick] [--runs N] [--postgres]

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

--postgres: jobctl beside procrastinate (installed in bench/.venv too, never
a dependency of jobctl) on one PostgreSQL server, the same for both: a
pgserver (PostgreSQL 16 from PyPI) in a temporary folder, started once per
run, or $JOBCTL_BENCH_PG.  Enqueue, bulk, drain and pickup, each system
with its own default settings; see bench/procrastinate_side.py.
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


def ensure_venv(postgres: bool = False) -> None:
    """A fresh install of this checkout (and huey, or procrastinate) for every run:
    measure what is here."""
    if not PYTHON.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(PYTHON), "-m", "pip", "install", "-q", "huey"], check=True)
    if postgres and not (VENV / "bin" / "procrastinate").exists():
        subprocess.run([str(PYTHON), "-m", "pip", "install", "-q", "procrastinate"], check=True)
    subprocess.run(
        [str(PYTHON), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(ROOT)],
        check=True,
        stderr=subprocess.DEVNULL,
    )
    subprocess.run(  # and jobctl's own dependencies, if new ones appeared
        [str(PYTHON), "-m", "pip", "install", "-q", f"{ROOT}[postgres]" if postgres else str(ROOT)],
        check=True,
        stderr=subprocess.DEVNULL,
    )


def one(script: str, argv: list[str]) -> dict[str, float]:
    """One measurement in a fresh process: bench/SCRIPT WORKLOAD SYSTEM DURABILITY ..."""
    out = subprocess.run(
        [str(PYTHON), str(BENCH / script), *argv],
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


def plan_postgres(quick: bool) -> list[Workload]:
    """bench/procrastinate_side.py's workloads; "on": synchronous_commit, the default."""

    def work(name: str, metrics: tuple[str, ...], extra: list[str]) -> Workload:
        return Workload(name, metrics, extra, "procrastinate", (), ("on",))

    def pick(small: str, full: str) -> str:
        return small if quick else full

    return [
        work("enqueue", ("per_second",), ["--jobs", pick("1000", "5000")]),
        work("bulk", ("per_second",), ["--jobs", pick("10000", "100000")]),
        work("drain", ("per_second",), ["--jobs", pick("2000", "20000")]),
        work(
            "pickup",
            ("p50_ms", "p95_ms", "p99_ms", "idle_cpu_percent"),
            ["--jobs", pick("50", "200"), "--idle", pick("2", "10")],
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--runs", type=int)
    parser.add_argument("--postgres", action="store_true", help="jobctl beside procrastinate")
    args = parser.parse_args()
    ensure_venv(args.postgres)
    runs = args.runs or (2 if args.quick else 5)
    started = time.time()
    if args.postgres:
        from postgres import server

        workloads = plan_postgres(args.quick)
        with server() as url:
            results = measure(workloads, runs, "procrastinate_side.py", ["--url", url])
        heading = "one PostgreSQL 16 server, synchronous_commit = on (its default) for both"
    else:
        workloads = plan(args.quick)
        results = measure(workloads, runs, "workloads.py", [])
        heading = "synchronous = NORMAL or FULL for both systems"
    print_table(workloads, results, runs, heading)
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(started))
    kind = ("-postgres" if args.postgres else "") + ("-quick" if args.quick else "")
    path = RESULTS / f"run-{stamp}{kind}.json"
    path.write_text(
        json.dumps(
            {"runs": runs, "quick": args.quick, "postgres": args.postgres, "results": results},
            indent=1,
        )
    )
    print(f"\nraw results: {path.relative_to(ROOT)}")


def measure(
    workloads: list[Workload], runs: int, script: str, fixed: list[str]
) -> dict[str, list[dict[str, float]]]:
    """Every workload `runs` times, jobctl and the other in turn; `fixed` goes to every run."""
    results: dict[str, list[dict[str, float]]] = {}
    for work in workloads:
        for _ in range(runs):
            for durability in work.durabilities:
                # Alternating, so that the machine's drift hits both.
                for side, system, extra in (
                    ("jobctl", "jobctl", work.extra),
                    ("other", work.other, [*work.extra, *work.other_extra]),
                ):
                    key = f"{work.name}/{side}/{durability}"
                    result = one(script, [work.name, system, durability, *extra, *fixed])
                    results.setdefault(key, []).append(result)
                    print(f"  {key} ({system}): {result}", file=sys.stderr)
    return results


def _stats(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def _cell(values: tuple[float, float, float]) -> str:
    median, low, high = values
    return f"{median:,.1f} ({low:,.1f}-{high:,.1f})"


def print_table(workloads: list[Workload], results: dict, runs: int, heading: str) -> None:
    print(f"\nmedian of {runs} runs (min-max); {heading}")
    wide = max(8, *(len(work.other) for work in workloads))
    header = (
        f"{'workload':<9} {'sync':<6} {'metric':<17} {'jobctl':>31}"
        f" {'other':<{wide}} {'':>31} {'ratio':>6}"
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
                    f"{work.name:<9} {durability:<6} {metric:<17} {_cell(ours):>31}"
                    f" {other:<{wide}} {_cell(theirs):>31} {shown:>6}"
                )
    print("ratio: how many times better jobctl is than the other (above 1: jobctl leads).")
    if any(work.name == "scale" for work in workloads):
        print("scale: jobctl's column is at the large database, the other at 10,000 jobs.")
    if "add/jobctl/normal" in results:
        # The add row's goal (issue 18) is a multiple of the interpreter's start-up.
        ours = _stats([r["median_ms"] for r in results["add/jobctl/normal"]])[0]
        theirs = _stats([r["median_ms"] for r in results["add/other/normal"]])[0]
        print(f"add: jobctl add takes {ours / theirs:.2f}x python -c pass (goal: at most 2.5x).")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    main()
