"""One measurement on PostgreSQL, jobctl or procrastinate; `bench/run.py --postgres` runs these.

    python bench/procrastinate_side.py WORKLOAD SYSTEM on --url URL [--jobs N] [--idle S]

WORKLOAD: enqueue, bulk, drain or pickup, as in bench/workloads.py.
SYSTEM: jobctl (workloads.Jobctl with JOBCTL_DB at a fresh schema) or
procrastinate (installed only in the benchmark's own environment, never a
dependency of jobctl: an App with a PsycopgConnector whose search_path is a
fresh schema, `procrastinate_side` applying procrastinate's schema there).
"on": synchronous_commit, the server's default, for both.  Both keep
their own defaults otherwise; the only setting given is 4 at a time
(jobctl's `--concurrency 4`, procrastinate's `worker --concurrency 4`).
Both run the same task, workloads.TASKS' `stamp`: one fixed-width line per
job, so drain and pickup are counted the same way.  The schema is dropped
at the end.  Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import workloads
from workloads import THREADS, pickup, start_rate, wait_lines

PROCRASTINATE_APP = """
import procrastinate
import tasks

app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=CONNINFO))

@app.task(name="stamp")
def stamp(**payload):
    tasks.stamp(payload)
"""


def with_parameter(url: str, parameter: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{parameter}"


class Procrastinate:
    """procrastinate 3's documented API: App, PsycopgConnector, task.defer(),
    task.batch_defer(), and its `procrastinate worker` command."""

    def __init__(self, home: Path, url: str, schema: str) -> None:
        self.home = home
        conninfo = with_parameter(url, f"options=-csearch_path%3D{schema}")
        (home / "procapp.py").write_text(PROCRASTINATE_APP.replace("CONNINFO", repr(conninfo)))
        import procapp  # noqa: F401 - the module the worker loads too

        self.app = sys.modules["procapp"].app
        self.stamp = sys.modules["procapp"].stamp
        self.app.open()  # the synchronous pool that defer() uses
        self.app.schema_manager.apply_schema()  # outside the timing, as jobctl's

    def close(self) -> None:
        self.app.close()

    def enqueue(self, args: Any) -> dict[str, float]:
        count = args.jobs or 5_000
        defer = self.stamp.defer  # one job, one transaction
        start = time.perf_counter()
        for _ in range(count):
            defer()
        return {"per_second": count / (time.perf_counter() - start)}

    def bulk(self, args: Any) -> dict[str, float]:
        count = args.jobs or 100_000
        payloads = [{}] * count
        start = time.perf_counter()
        self.stamp.batch_defer(*payloads)
        return {"per_second": count / (time.perf_counter() - start)}

    def _worker(self) -> subprocess.Popen[bytes]:
        command = Path(sys.executable).with_name("procrastinate")
        return subprocess.Popen(
            [str(command), "--app=procapp.app", "worker", "--concurrency", str(THREADS)],
            cwd=self.home,
            env=os.environ | {"PYTHONPATH": str(self.home)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def _stop(self, worker: subprocess.Popen[bytes]) -> None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()

    def drain(self, args: Any) -> dict[str, float]:
        count = args.jobs or 20_000
        self.stamp.batch_defer(*[{}] * count)
        worker = self._worker()
        try:
            wait_lines(self.home / "out.txt", count)
        finally:
            self._stop(worker)
        return {"per_second": start_rate(self.home / "out.txt")}

    def pickup(self, args: Any) -> dict[str, float]:
        worker = self._worker()
        defer = self.stamp.defer
        try:
            return pickup(lambda payload: defer(**payload), worker.pid, self.home, args, None)
        finally:
            self._stop(worker)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("workload", choices=["enqueue", "bulk", "drain", "pickup"])
    parser.add_argument("system", choices=["jobctl", "procrastinate"])
    parser.add_argument("synchronous_commit", choices=["on"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--jobs", type=int)
    parser.add_argument("--idle", type=float, default=10.0)
    args = parser.parse_args()
    import psycopg

    schema = f"bench_{args.system}_{uuid.uuid4().hex[:12]}"
    try:
        with tempfile.TemporaryDirectory() as folder:
            home = Path(folder)
            (home / "tasks.py").write_text(workloads.TASKS)
            os.environ["BENCH_OUT"] = str(home / "out.txt")
            sys.path.insert(0, str(home))
            if args.system == "jobctl":
                db = with_parameter(args.url, f"schema={schema}")
                system: Any = workloads.Jobctl(home, "normal", db)  # durability: SQLite's only
                close = system.queue.close
            else:
                with psycopg.connect(args.url, autocommit=True) as conn:
                    conn.execute(f"CREATE SCHEMA {schema}")
                system = Procrastinate(home, args.url, schema)
                close = system.close
            try:
                result = getattr(system, args.workload)(args)
            finally:
                close()
    finally:
        with psycopg.connect(args.url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
