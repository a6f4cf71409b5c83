"""PostgreSQL beside SQLite: the same workloads, run alternately in one go.

    python bench/postgres.py [--rounds 3] [--idle 10] [--scale 1000000]

The server: $JOBCTL_BENCH_PG (a URL) if set, else a pgserver (PostgreSQL 16
from PyPI, as the tests use) on a unix socket of this host, its settings
as shipped.  Each round runs every workload once on SQLite and once on
PostgreSQL (a fresh file, a fresh schema), alternating which goes first;
the medians of the rounds are printed, with PostgreSQL's over SQLite's.

Workloads (bench/workloads.py's, with its handler job `stamp`):
- enqueue: Queue.add, one job per transaction (5,000);
- bulk:    Queue.add_many of 100,000 jobs in one call;
- drain:   20,000 no-op handler jobs, one daemon with 4 threads (starts/s);
- pickup:  a daemon idle --idle seconds, then 200 jobs 20 ms apart: the
           delay from enqueue to start, p50 and p99 (ms);
- scale:   `jobctl stats` and `jobctl ls --limit 50` (all, failed, queued)
           with --scale jobs in the database (90% succeeded, 5% failed,
           4% queued, 1% cancelled), medians of 7 runs each.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workloads  # noqa: E402 - after the path
from timing import median_ms, wall_times  # noqa: E402

# postgres-async: synchronous_commit=off, PostgreSQL's nearest to SQLite's
# durability = "normal" (a commit survives the client's crash, not the
# machine's; on PostgreSQL, not the server's crash either).
BACKENDS = ["sqlite", "postgres", "postgres-async"]
ROUNDS_OF = {"enqueue": 5_000, "bulk": 100_000, "drain": 20_000}


@contextlib.contextmanager
def server() -> Iterator[str]:
    if os.environ.get("JOBCTL_BENCH_PG"):
        yield os.environ["JOBCTL_BENCH_PG"]
        return
    import pgserver

    with tempfile.TemporaryDirectory() as folder:
        pg = pgserver.get_server(folder, cleanup_mode="stop")
        try:
            yield pg.get_uri()
        finally:
            pg.cleanup()


def fresh_schema(url: str) -> str:
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}schema=bench_{uuid.uuid4().hex[:12]}"


def one_run(workload: str, backend: str, url: str, args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        (home / "tasks.py").write_text(workloads.TASKS)
        os.environ["BENCH_OUT"] = str(home / "out.txt")
        if str(home) not in sys.path:
            sys.path.insert(0, str(home))
        sys.modules.pop("tasks", None)
        db = None
        if backend.startswith("postgres"):
            db = fresh_schema(url)
            if backend == "postgres-async":  # commits not flushed: SQLite normal's risk
                db += "&options=-c%20synchronous_commit%3Doff"
        system = workloads.Jobctl(home, "normal", db)
        options = SimpleNamespace(jobs=ROUNDS_OF.get(workload, 200), idle=args.idle)
        try:
            return getattr(system, workload)(options)
        finally:
            system.queue.close()


def scale(backend: str, url: str, size: int) -> dict[str, float]:
    """stats and ls times with `size` jobs in the database."""
    jobctl = str(Path(sys.executable).with_name("jobctl"))
    db = str(workloads.scale_database(size)) if backend == "sqlite" else scale_postgres(url, size)
    env = os.environ | {"JOBCTL_DB": db, "JOBCTL_CONFIG": ""}
    return {
        name: median_ms(wall_times([jobctl, *argv], 7, env))
        for name, argv in (
            ("stats_ms", ["stats"]),
            ("ls_ms", ["ls", "--limit", "50"]),
            ("ls_failed_ms", ["ls", "--state", "failed", "--limit", "50"]),
            ("ls_queued_ms", ["ls", "--state", "queued", "--limit", "50"]),
        )
    }


def scale_postgres(url: str, size: int) -> str:
    """A schema of `size` jobs like scale_database's, built in SQL, kept for the session."""
    import psycopg

    from jobctl.store import Store

    db = f"{url}{'&' if '?' in url else '?'}schema=scale_{size}"
    Store.open(db).close()  # creates the schema
    conninfo = url.replace("?", "?options=-csearch_path%3Dscale_" + str(size) + "&", 1)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        if conn.execute("SELECT count(*) FROM jobs").fetchone()[0] < size:
            now = time.time() - 86400
            conn.execute(
                "INSERT INTO jobs (type, payload, queue, state, run_at, created_at, finished_at)"
                " SELECT 'old', '{\"n\":' || n || '}', (ARRAY['a','b','c'])[n %% 3 + 1],"
                " CASE WHEN n %% 100 < 90 THEN 'succeeded' WHEN n %% 100 < 95 THEN 'failed'"
                " WHEN n %% 100 < 96 THEN 'cancelled' ELSE 'queued' END, %s, %s,"
                " CASE WHEN n %% 100 < 96 THEN %s END FROM generate_series(1, %s) n",
                (now, now, now + 1, size),
            )
            conn.execute("VACUUM ANALYZE jobs")
    return db


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--idle", type=float, default=10.0)
    parser.add_argument("--scale", type=int, default=1_000_000)
    parser.add_argument("--only", help="comma-separated workloads")
    args = parser.parse_args()
    chosen = (args.only or "enqueue,bulk,drain,pickup,scale").split(",")
    with server() as url:
        results: dict[tuple[str, str], list[dict]] = {}
        for round_number in range(args.rounds):
            order = BACKENDS[:: 1 if round_number % 2 == 0 else -1]
            for workload in chosen:
                for backend in order:
                    if workload == "scale":
                        if backend == "postgres-async":
                            continue  # reads: the same as postgres
                        result = scale(backend, url, args.scale)
                    else:
                        result = one_run(workload, backend, url, args)
                    results.setdefault((workload, backend), []).append(result)
                    print(f"round {round_number + 1} {workload:8} {backend:8} {result}", flush=True)
        print(f"\nmedians of {args.rounds} rounds; in brackets, over SQLite's:")
        for workload in chosen:
            sqlite = results[(workload, "sqlite")]
            for key in sqlite[0]:
                base = statistics.median(r[key] for r in sqlite)
                line = f"  {workload:8} {key:16} sqlite {base:10.1f}"
                for backend in BACKENDS[1:]:
                    if (workload, backend) in results:
                        value = statistics.median(r[key] for r in results[(workload, backend)])
                        line += f"  {backend} {value:10.1f} ({value / base:.2f})"
                print(line)


if __name__ == "__main__":
    main()
