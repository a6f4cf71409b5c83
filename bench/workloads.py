"""One measurement of one workload on one system; bench/run.py runs these.

    python bench/workloads.py WORKLOAD SYSTEM DURABILITY [--jobs N] [--idle S] [--size N]

WORKLOAD: enqueue, bulk, drain, pickup (SYSTEM jobctl or huey: Huey's
SqliteHuey, installed only in the benchmark's own environment); commands
(jobctl or xargs); add (jobctl or python); scale (jobctl, with --size jobs
already in the database).  DURABILITY: normal or full, the value of PRAGMA
synchronous for both.  Prints one JSON object.  Every run uses a fresh
folder and database.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import commands
from timing import median_ms, memory, wall_times

THREADS = 4
RESULTS = Path(__file__).resolve().parent / "results"

# The task both systems run: append one fixed-width line, the time it
# started and (for pickup) how long after it was enqueued.
TASKS = """
import os, time

def stamp(payload, ctx=None):
    now = time.time()
    sent = payload.get("sent") if isinstance(payload, dict) else None
    line = "%.6f %12.6f\\n" % (now, (now - sent) if sent else 0.0)
    fd = os.open(os.environ["BENCH_OUT"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.write(fd, line.encode())
    os.close(fd)
"""

HUEY_APP = '''
import sqlite3
from huey import SqliteHuey
from huey.storage import SqliteStorage
import tasks

class Storage(SqliteStorage):
    """SqliteHuey with PRAGMA synchronous set as the benchmark asks."""
    def _create_connection(self):
        conn = super()._create_connection()
        conn.execute("pragma synchronous=%s" % SYNCHRONOUS)
        return conn

huey = SqliteHuey("bench", filename=DB, storage_class=Storage)

@huey.task()
def stamp(payload):
    tasks.stamp(payload)
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "workload", choices=["enqueue", "bulk", "drain", "pickup", "commands", "add", "scale"]
    )
    parser.add_argument("system", choices=["jobctl", "huey", "xargs", "python"])
    parser.add_argument("durability", choices=["normal", "full"])
    parser.add_argument("--jobs", type=int)
    parser.add_argument("--idle", type=float, default=60.0)
    parser.add_argument("--size", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        (home / "tasks.py").write_text(TASKS)
        os.environ["BENCH_OUT"] = str(home / "out.txt")
        sys.path.insert(0, str(home))
        if args.workload in ("commands", "add", "scale"):
            result = globals()[f"{args.workload}_{args.system}"](home, args)
        else:
            system = Jobctl(home, args.durability) if args.system == "jobctl" else Huey(home, args)
            result = getattr(system, args.workload)(args)
    print(json.dumps(result))


def stamps(path: Path) -> list[tuple[float, float]]:
    if not path.exists():
        return []
    return [tuple(map(float, line.split())) for line in path.read_text().splitlines()]


def wait_lines(path: Path, count: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.stat().st_size >= count * 31:  # fixed-width lines
            return
        time.sleep(0.02)
    raise SystemExit(f"only {len(stamps(path))} of {count} jobs ran")


def start_rate(path: Path) -> float:
    starts = sorted(t for t, _ in stamps(path))
    return (len(starts) - 1) / (starts[-1] - starts[0])


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", "rb") as file:
        fields = file.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def at(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    return {"p50": at(50), "p95": at(95), "p99": at(99)}


class Jobctl:
    def __init__(self, home: Path, durability: str, db: str | Path | None = None) -> None:
        """`db`: an SQLite file in `home` unless given (a postgresql:// URL)."""
        self.home = home
        self.config = home / "jobs.toml"
        self.config.write_text(
            f'durability = "{durability}"\n[jobs.stamp]\nhandler = "tasks:stamp"\n'
        )
        self.db = db or home / "jobs.db"
        self.env = os.environ | {"JOBCTL_DB": str(self.db), "JOBCTL_CONFIG": str(self.config)}
        import jobctl

        self.queue = jobctl.connect(self.db, self.config)
        self.queue.stats()  # creates the database outside the timing

    def enqueue(self, args: Any) -> dict[str, float]:
        count = args.jobs or 20_000
        add = self.queue.add  # returns the Job, as the workload 1 asks
        start = time.perf_counter()
        for _ in range(count):
            add("stamp", {})
        return {"per_second": count / (time.perf_counter() - start)}

    def bulk(self, args: Any) -> dict[str, float]:
        count = args.jobs or 100_000
        payloads = [{}] * count
        start = time.perf_counter()
        self.queue.add_many("stamp", payloads)
        return {"per_second": count / (time.perf_counter() - start)}

    def _daemon(self, *extra: str) -> subprocess.Popen[bytes]:
        command = Path(sys.executable).with_name("jobctl")
        return subprocess.Popen(
            [str(command), "daemon", "--concurrency", str(THREADS), *extra],
            cwd=self.home,
            env=self.env,
            stderr=subprocess.DEVNULL,
        )

    def drain(self, args: Any) -> dict[str, float]:
        count = args.jobs or 20_000
        self.queue.add_many("stamp", [{}] * count)
        daemon = self._daemon("--drain")
        daemon.wait()
        wait_lines(self.home / "out.txt", count)
        return {"per_second": start_rate(self.home / "out.txt")}

    def pickup(self, args: Any) -> dict[str, float]:
        daemon = self._daemon()
        try:
            return pickup(self.queue.add_id, daemon.pid, self.home, args, lambda p: ("stamp", p))
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait()


class Huey:
    def __init__(self, home: Path, args: Any) -> None:
        self.home = home
        synchronous = 2 if args.durability == "full" else 1
        app = HUEY_APP.replace("DB", repr(str(home / "huey.db"))).replace(
            "SYNCHRONOUS", str(synchronous)
        )
        (home / "hueyapp.py").write_text(app)
        import hueyapp  # noqa: F401 - the module the consumer loads too

        self.app = sys.modules["hueyapp"]
        self.app.huey.storage.enqueued_items()  # creates the database outside the timing

    def enqueue(self, args: Any) -> dict[str, float]:
        count = args.jobs or 20_000
        stamp = self.app.stamp
        start = time.perf_counter()
        for _ in range(count):
            stamp({})
        return {"per_second": count / (time.perf_counter() - start)}

    def bulk(self, args: Any) -> dict[str, float]:
        # Huey has no bulk enqueue: task.map() enqueues one by one.
        count = args.jobs or 100_000
        start = time.perf_counter()
        self.app.stamp.map([({},)] * count)
        return {"per_second": count / (time.perf_counter() - start)}

    def _consumer(self) -> subprocess.Popen[bytes]:
        command = Path(sys.executable).with_name("huey_consumer")
        return subprocess.Popen(
            [str(command), "hueyapp.huey", "-w", str(THREADS), "-k", "thread", "-q"],
            cwd=self.home,
            env=os.environ | {"PYTHONPATH": str(self.home)},
            stderr=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )

    def drain(self, args: Any) -> dict[str, float]:
        count = args.jobs or 20_000
        stamp = self.app.stamp
        for _ in range(count):
            stamp({})
        consumer = self._consumer()
        try:
            wait_lines(self.home / "out.txt", count)
        finally:
            consumer.send_signal(signal.SIGINT)
            consumer.wait()
        return {"per_second": start_rate(self.home / "out.txt")}

    def pickup(self, args: Any) -> dict[str, float]:
        consumer = self._consumer()
        stamp = self.app.stamp
        try:
            return pickup(lambda payload: stamp(payload), consumer.pid, self.home, args, None)
        finally:
            consumer.send_signal(signal.SIGINT)
            consumer.wait()


def pickup(add: Any, pid: int, home: Path, args: Any, typed: Any) -> dict[str, float]:
    """Idle for args.idle seconds (CPU measured over it), then 200 jobs 20 ms apart."""
    time.sleep(1.0)  # start-up is not idling
    cpu, wall = cpu_seconds(pid), time.monotonic()
    time.sleep(args.idle)
    idle_cpu = (cpu_seconds(pid) - cpu) / (time.monotonic() - wall) * 100
    count = args.jobs or 200
    next_add = time.monotonic()
    for _ in range(count):
        payload = {"sent": time.time()}
        if typed:
            add(*typed(payload))
        else:
            add(payload)
        next_add += 0.02
        time.sleep(max(0.0, next_add - time.monotonic()))
    wait_lines(home / "out.txt", count, timeout=120)
    delays = [delay * 1000 for _, delay in stamps(home / "out.txt")]
    return {"idle_cpu_percent": idle_cpu} | {f"{k}_ms": v for k, v in percentiles(delays).items()}


# -- command jobs against xargs (Huey has no command jobs) -------------------


def commands_jobctl(home: Path, args: Any) -> dict[str, float]:
    """`true` as a command job: first attempt's start to last one's end."""
    return {"per_second": commands.jobctl_rate(args.jobs or 2000, THREADS)}


def commands_xargs(home: Path, args: Any) -> dict[str, float]:
    return {"per_second": commands.xargs_rate(args.jobs or 2000, THREADS)}


# -- one `jobctl add` against starting Python at all --------------------------


def _add_env(home: Path) -> dict[str, str]:
    env = os.environ | {"JOBCTL_DB": str(home / "add.db")}
    env.pop("JOBCTL_CONFIG", None)
    return env


def add_jobctl(home: Path, args: Any) -> dict[str, float]:
    argv = [str(Path(sys.executable).with_name("jobctl")), "add", "--", "true"]
    wall_times(argv, 2, _add_env(home))  # the database exists before the timing
    return {"median_ms": median_ms(wall_times(argv, args.jobs or 21, _add_env(home)))}


def add_python(home: Path, args: Any) -> dict[str, float]:
    # The interpreter itself, not a `python3` found on PATH (pyenv's is a shell script).
    times = wall_times([sys.executable, "-c", "pass"], args.jobs or 21, _add_env(home))
    return {"median_ms": median_ms(times)}


# -- scale: the same work on a small and on a large database ------------------


def scale_jobctl(home: Path, args: Any) -> dict[str, float]:
    """With args.size jobs already in the database (90% succeeded, 5% failed,
    4% queued in other queues, 1% cancelled): `stats` and `ls --limit 50`
    times, then 20,000 no-op jobs claimed and finished by a daemon with 4
    threads, and that daemon's peak RSS."""
    db = home / "jobs.db"
    shutil.copyfile(scale_database(args.size), db)
    config = home / "jobs.toml"
    config.write_text('[jobs.stamp]\nhandler = "tasks:stamp"\nqueue = "bench"\n')
    env = os.environ | {"JOBCTL_DB": str(db), "JOBCTL_CONFIG": str(config)}
    jobctl = str(Path(sys.executable).with_name("jobctl"))
    median = {
        name: median_ms(wall_times([jobctl, *argv], 7, env))
        for name, argv in (("stats", ["stats"]), ("ls", ["ls", "--limit", "50"]))
    }
    import jobctl as api

    count = args.jobs or 20_000
    api.connect(db, config).add_many("stamp", [{}] * count)
    daemon = subprocess.Popen(
        [jobctl, "daemon", "--concurrency", str(THREADS), "--queues", "bench"],
        cwd=home,
        env=env,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_lines(home / "out.txt", count)
        peak = memory(daemon.pid)
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait()
    return {
        "per_second": start_rate(home / "out.txt"),
        "stats_ms": median["stats"],
        "ls_ms": median["ls"],
        "rss_mb": peak / 2**20,
    }


def scale_database(size: int) -> Path:
    """bench/results/scale-SIZE.db, built once and kept (the runs copy it)."""
    from jobctl.models import NewJob
    from jobctl.store import Store

    path = RESULTS / f"scale-{size}.db"
    if path.exists():
        store = Store.open(path)  # brought to this jobctl's schema once, not in each copy
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        store.close()
        return path

    RESULTS.mkdir(exist_ok=True)
    partial = path.with_suffix(".part")
    store = Store.open(partial)
    now = time.time() - 86400
    for start in range(0, size, 100_000):
        store.add_jobs(
            [
                NewJob(type="old", payload=f'{{"n":{n}}}', queue=("a", "b", "c")[n % 3])
                for n in range(start, min(size, start + 100_000))
            ],
            now,
        )
    store.conn.execute(
        "UPDATE jobs SET state = CASE WHEN id % 100 < 90 THEN 'succeeded'"
        " WHEN id % 100 < 95 THEN 'failed' WHEN id % 100 < 96 THEN 'cancelled'"
        " ELSE 'queued' END, finished_at = CASE WHEN id % 100 < 96 THEN created_at + 1 END"
    )
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    store.close()
    partial.rename(path)
    return path


if __name__ == "__main__":
    main()
