"""What one batch of `retention` costs (Store.purge_batch, retention.BATCH_SIZE jobs).

    python bench/retention.py [--jobs 200000] [--batches 20] [--output 200]

A throwaway database holds --jobs old ended jobs, each with an attempt,
two events and --output bytes of stored output, and a newer queued job.
Then, on the jobs that ended first: batches that delete BATCH_SIZE jobs
each (the whole call, and how long it held the write lock: BEGIN
IMMEDIATE to COMMIT); batches that look at BATCH_SIZE jobs and delete
none (another type's rule); and the look of a rule that has caught up.
Medians, in milliseconds.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import apsw

import jobctl.store.sqlite
from jobctl.models import NewJob
from jobctl.retention import BATCH_SIZE
from jobctl.store import Store

DAY = 86_400.0


def build(store: Store, jobs: int, output: int, now: float) -> None:
    new = NewJob(type=None, payload='{"n": 1}', command=["true"])
    step = 50_000
    for first in range(0, jobs, step):
        ids = store.add_jobs([new] * min(step, jobs - first), now - 30 * DAY)
        span = {"first": ids[0], "last": ids[-1], "old": now - 10 * DAY, "data": b"x" * output}
        conn = store.conn
        conn.execute("BEGIN")
        # Ended in order, a millisecond apart, as a busy daemon records them.
        conn.execute(
            "UPDATE jobs SET state = 'succeeded', started_at = :old, attempt = 1,"
            " attempts_total = 1, finished_at = :old + id / 1000.0"
            " WHERE id BETWEEN :first AND :last",
            span,
        )
        conn.execute(
            "INSERT INTO attempts (job_id, number, started_at, finished_at, outcome, exit_status)"
            " SELECT id, 1, :old, finished_at, 'succeeded', 0 FROM jobs"
            " WHERE id BETWEEN :first AND :last",
            span,
        )
        conn.execute(
            "INSERT INTO events (job_id, at, kind, attempt)"
            " SELECT jobs.id, :old, kind.value, 1 FROM jobs,"
            ' json_each(\'["started","succeeded"]\') AS kind'
            " WHERE jobs.id BETWEEN :first AND :last",
            span,
        )
        conn.execute(
            "INSERT INTO attempt_output (job_id, number, start, data)"
            " SELECT id, 1, 0, :data FROM jobs WHERE id BETWEEN :first AND :last",
            span,
        )
        conn.execute("COMMIT")
    store.add_jobs([new], now)  # the newest stays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=200_000)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--output", type=int, default=200, help="bytes of output per job")
    args = parser.parse_args()
    locked: list[float] = []
    real_write = jobctl.store.sqlite.write

    @contextlib.contextmanager
    def timed_write(conn: apsw.Connection) -> Iterator[apsw.Connection]:
        start = time.perf_counter()
        with real_write(conn) as inner:
            yield inner
        locked.append(time.perf_counter() - start)

    jobctl.store.sqlite.write = timed_write
    now = time.time()
    cutoff = now - DAY
    with tempfile.TemporaryDirectory() as folder:
        store = Store.open(Path(folder) / "bench.db")
        build(store, args.jobs, args.output, now)
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        locked.clear()  # the build's own writes

        whole: list[float] = []
        after = (float("-inf"), 0)
        for _ in range(args.batches):
            start = time.perf_counter()
            batch = store.purge_batch(cutoff, BATCH_SIZE, after)
            whole.append(time.perf_counter() - start)
            assert batch.deleted == BATCH_SIZE, batch
            after = batch.last
        looks: list[float] = []
        for _ in range(args.batches):
            start = time.perf_counter()
            batch = store.purge_batch(cutoff, BATCH_SIZE, after, type="no-such-type")
            looks.append(time.perf_counter() - start)
            assert batch.deleted == 0 and batch.scanned == BATCH_SIZE, batch
            after = batch.last
        idle: list[float] = []
        for _ in range(args.batches):
            start = time.perf_counter()
            store.purge_batch(cutoff - 20 * DAY, BATCH_SIZE, (cutoff - 20 * DAY, 0))
            idle.append(time.perf_counter() - start)
        store.close()

    def ms(values: list[float]) -> str:
        return f"{statistics.median(values) * 1000:7.2f} ms (max {max(values) * 1000:.2f})"

    print(f"{args.jobs} ended jobs, batches of {BATCH_SIZE}, median of {args.batches}:")
    print(f"  delete {BATCH_SIZE}: the call          {ms(whole)}")
    print(f"  delete {BATCH_SIZE}: write lock held   {ms(locked)}")
    print(f"  look at {BATCH_SIZE}, delete none     {ms(looks)}")
    print(f"  look, nothing new (caught up)   {ms(idle)}")


if __name__ == "__main__":
    main()
