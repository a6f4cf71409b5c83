"""`jobctl daemon`: claim jobs, run them on a thread pool, record how they end.

One coordinator thread (the main thread) owns the database connection: it
claims in batches, writes output and finished attempts in batches, heartbeats
and recovers jobs of dead daemons.  Worker threads never touch the database;
they run one attempt each and hand back bytes and outcomes through queues.
Idling is a poll of SQLite's data_version counter every few milliseconds,
which tells whether any other connection committed: no query of the jobs
table until something changed.  Signal handlers only set flags.
"""

from __future__ import annotations

import json
import os
import queue
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jobctl import runner
from jobctl.errors import JobctlError
from jobctl.models import Config, Job, JobType, Outcome, iso
from jobctl.store import Store

POLL_SECONDS = 0.005  # idle poll of data_version: ~200 cheap calls a second
HEARTBEAT_SECONDS = 1.0
LEASE_SECONDS = 30.0
_DEFAULT_TYPE = JobType(
    name=""
)  # a daemon on another host is presumed dead this long after its heartbeat


class UnsafeFiles(JobctlError):
    """Refusing to run jobs from files other users can write."""


def process_start_time(pid: int) -> float | None:
    """When `pid` started (clock ticks since boot, from /proc), to tell a reused pid."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            fields = file.read().rsplit(b")", 1)[1].split()
        return float(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def pid_alive(pid: int, started: float | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    return started is None or process_start_time(pid) in (None, started)


def check_private(paths: list[Path]) -> None:
    """Refuse files (or their folders) that other users could write."""
    for path in paths:
        for target in (path, path.parent):
            try:
                info = target.stat()
            except FileNotFoundError:
                continue
            if info.st_uid != os.geteuid() and info.st_uid != 0:
                raise UnsafeFiles(
                    f"refusing to run jobs: {target} belongs to another user"
                    " (chown it, or run as its owner)"
                )
            if target is path and info.st_mode & 0o022:
                raise UnsafeFiles(
                    f"refusing to run jobs: {target} is writable by other users"
                    f" (fix: chmod go-w {target})"
                )


class Running:
    """A job a worker thread is running."""

    def __init__(self, job: Job, number: int) -> None:
        self.job = job
        self.number = number
        self.stop_reason: str | None = None
        self.attempt: runner.Attempt | None = None
        self.started = time.monotonic()


class Daemon:
    def __init__(
        self,
        config: Config,
        db_path: Path,
        *,
        concurrency: int | None = None,
        queues: list[str] | None = None,
        drain: bool = False,
        log_format: str = "text",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.db_path = db_path
        self.concurrency = concurrency or config.concurrency or max(4, os.cpu_count() or 1)
        self.queues = queues
        self.drain = drain
        self.log_format = log_format
        self.clock = clock
        self.config_dir = str(Path(config.path).parent) if config.path else None
        self.todo: queue.Queue[Running | None] = queue.Queue()
        self.outputs: queue.Queue[tuple[int, int, bytes]] = queue.Queue()
        self.logs: queue.Queue[tuple[int, int, float, str, str | None]] = queue.Queue()
        self.done: queue.Queue[tuple[Running, Outcome]] = queue.Queue()
        self.running: dict[int, Running] = {}
        self.wake = threading.Event()
        self.signals = 0
        self.host = socket.gethostname()

    # -- signals: flags only ---------------------------------------------------

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.signals += 1
        self.wake.set()

    # -- the coordinator -----------------------------------------------------

    def run(self) -> int:
        paths = [self.db_path] + ([Path(self.config.path)] if self.config.path else [])
        check_private(paths)
        if self.config_dir and self.config_dir not in sys.path:
            sys.path.insert(0, self.config_dir)  # handlers import relative to jobs.toml
        store = Store.open(self.db_path, self.config.durability)
        self.store = store
        pid = os.getpid()
        now = self.clock()
        self.id = store.register_daemon(self.host, pid, process_start_time(pid), self.queues, now)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)
        threads = [
            threading.Thread(target=self._worker, name=f"jobctl-worker-{n}", daemon=True)
            for n in range(self.concurrency)
        ]
        for thread in threads:
            thread.start()
        self._log(None, f"daemon {self.id} started: pid {pid}, {self.concurrency} threads")
        try:
            self._loop()
        finally:
            for _ in threads:
                self.todo.put(None)
            store.daemon_stopped(self.id, self.clock())
            self._log(None, f"Stopped {len(threads)} worker(s)")
            store.close()
        return 0

    def _loop(self) -> None:
        store = self.store
        conn = store.conn
        last_version = None
        next_heartbeat = 0.0
        next_due: float | None = 0.0
        stop_deadline: float | None = None
        hard_deadline: float | None = None
        self._recover(self.clock())
        while True:
            now = self.clock()
            finished = self._record(now)
            version = conn.data_version()
            changed = version != last_version
            last_version = version
            if now >= next_heartbeat:
                store.heartbeat(self.id, now, now + LEASE_SECONDS)
                self._recover(now)
                next_heartbeat = now + HEARTBEAT_SECONDS
                changed = True
            if changed and self.running:
                for job_id in store.cancel_requests(self.id):
                    item = self.running.get(job_id)
                    if item is not None and item.stop_reason is None:
                        item.stop_reason = "cancelled"
            # Shutdown: the first signal stops claiming and waits for
            # shutdown_grace; then (or at a second signal) jobs are stopped
            # and given back without using an attempt.
            if self.signals and stop_deadline is None:
                stop_deadline = now + self.config.shutdown_grace
                self._log(
                    None,
                    f"stopping: waiting up to {self.config.shutdown_grace:g}s"
                    f" for {len(self.running)} job(s)",
                )
            if stop_deadline is not None:
                if not self.running:
                    return
                if now >= stop_deadline or self.signals > 1:
                    for item in self.running.values():
                        if item.stop_reason is None:
                            item.stop_reason = "interrupted"
                        if self.signals > 1 and item.attempt is not None:
                            item.attempt.kill_grace = 0
                    if hard_deadline is None:
                        hard_deadline = now + self.config.kill_grace + 2
                    elif now >= hard_deadline:
                        self._abandon(now)  # handler threads that would not stop
                        return
            else:
                free = self.concurrency - len(self.running)
                due = next_due is not None and now >= next_due
                if free > 0 and (changed or due or finished):
                    claimed = self._claim(now, free)
                    next_due = store.next_run_at()
                    nothing_due = next_due is None or next_due > now
                    if self.drain and not claimed and not self.running and nothing_due:
                        return
            self.wake.wait(self._sleep_time(now, next_due))
            self.wake.clear()

    def _sleep_time(self, now: float, next_due: float | None) -> float:
        if next_due is not None and next_due - now < POLL_SECONDS:
            return max(0.0, next_due - now)
        return POLL_SECONDS

    def _claim(self, now: float, free: int) -> int:
        queue_caps = {n: q.concurrency for n, q in self.config.queues.items() if q.concurrency}
        type_caps = {n: t.concurrency for n, t in self.config.jobs.items() if t.concurrency}
        claimed = self.store.claim(
            self.id,
            free,
            now,
            now + LEASE_SECONDS,
            queues=self.queues,
            queue_caps=queue_caps,
            type_caps=type_caps,
        )
        for item in claimed:
            running = Running(item.job, item.attempt)
            self.running[item.job.id] = running
            self._log(item.job, "started", item.attempt)
            self.todo.put(running)
        return len(claimed)

    def _record(self, now: float) -> int:
        """Write what the workers produced since the last call; how many attempts ended."""
        outputs = _drain(self.outputs)
        logs = _drain(self.logs)
        done = _drain(self.done)
        if not (outputs or logs or done):
            return 0
        failed = self.store.record(
            [outcome for _, outcome in done],
            outputs,
            logs,
            now,
            self.config.output_limit,
            self._retry_delay,
        )
        for item, outcome in done:
            self.running.pop(item.job.id, None)
            took = time.monotonic() - item.started
            what = outcome.outcome + (
                f": {outcome.error}" if outcome.error and outcome.outcome != "succeeded" else ""
            )
            self._log(item.job, what, item.number, took)
        for job in failed:
            self._on_failure(job)
        return len(done)

    def _retry_delay(self, job: Job, outcome: Outcome) -> float:
        if outcome.outcome == "recovered":
            return 0.0  # the job did nothing wrong: run it again at once
        # An ad hoc command follows the defaults a job type has.
        policy = self._job_type(job) or _DEFAULT_TYPE
        delay = min(
            policy.retry_max_delay,
            policy.retry_delay * policy.retry_backoff ** max(0, job.attempt - 1),
        )
        return delay * random.uniform(0.9, 1.1)

    def _job_type(self, job: Job) -> JobType | None:
        return self.config.jobs.get(job.type) if job.type else None

    def _recover(self, now: float) -> None:
        """Give back the running jobs of daemons that are gone."""
        dead = []
        for daemon_id, host, pid, pid_started, heartbeat_at in self.store.other_daemons(self.id):
            gone_here = host == self.host and not pid_alive(pid, pid_started)
            if gone_here or now - heartbeat_at > LEASE_SECONDS:
                dead.append(daemon_id)
        if dead:
            self.store.mark_daemons_dead(dead, now)
        orphans = self.store.orphaned_jobs(self.id, now)
        if not orphans:
            return
        outcomes = []
        for job_id in orphans:
            job = self.store.get(job_id)
            outcomes.append(Outcome(job_id, job.attempts_total, "recovered", error="daemon died"))
            self._log(job, "recovered: its daemon died", job.attempts_total)
        failed = self.store.record(
            outcomes, [], [], now, self.config.output_limit, self._retry_delay
        )
        for job in failed:
            self._on_failure(job)

    def _abandon(self, now: float) -> None:
        outcomes = [
            Outcome(item.job.id, item.number, "interrupted", error="daemon stopped")
            for item in self.running.values()
        ]
        self.store.record(
            outcomes, _drain(self.outputs), [], now, self.config.output_limit, self._retry_delay
        )
        self.running.clear()

    def _on_failure(self, job: Job) -> None:
        job_type = self._job_type(job)
        if job_type is None or not job_type.on_failure:
            return
        import shlex

        argv = shlex.split(job_type.on_failure)
        data = json.dumps(job.to_json()).encode()

        def run_hook() -> None:
            try:
                subprocess.run(
                    argv,
                    input=data,
                    cwd=self.config_dir,
                    timeout=300,
                    check=False,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                self._log(job, f"on_failure did not run: {exc}")

        threading.Thread(target=run_hook, daemon=True).start()

    # -- worker threads --------------------------------------------------------

    def _worker(self) -> None:
        while True:
            item = self.todo.get()
            if item is None:
                return
            job = item.job
            job_type = self._job_type(job)
            number = item.number
            attempt = runner.Attempt(
                job,
                number,
                job_type,
                output=lambda chunk, j=job.id, n=number: self.outputs.put((j, n, chunk)),
                log=lambda msg, data, j=job.id, n=number: self.logs.put(
                    (j, n, time.time(), msg, json.dumps(data, default=str) if data else None)
                ),
                stop_reason=lambda item=item: item.stop_reason,
                kill_grace=job_type.kill_grace if job_type else self.config.kill_grace,
                config_dir=self.config_dir,
            )
            item.attempt = attempt
            if job.type is not None and job_type is None:
                outcome = attempt.outcome(
                    "failed", error=f'job type "{job.type}" is not in jobs.toml'
                )
            else:
                try:
                    outcome = runner.run(attempt)
                except Exception as exc:  # the daemon never dies of one job
                    outcome = attempt.outcome("failed", error=f"internal error: {exc!r}")
            self.done.put((item, outcome))
            self.wake.set()

    # -- logging -----------------------------------------------------------------

    def _log(
        self, job: Job | None, what: str, attempt: int | None = None, took: float | None = None
    ) -> None:
        now = self.clock()
        if self.log_format == "json":
            record = {"at": iso(now), "event": what, "daemon": getattr(self, "id", None)}
            if job is not None:
                record |= {"job": job.id, "type": job.type or job.label, "attempt": attempt}
            if took is not None:
                record["seconds"] = round(took, 3)
            line = json.dumps(record)
        else:
            parts = [time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(now))]
            if job is not None:
                parts += [f"job {job.id}", job.type or _short(job.label)]
                if attempt is not None:
                    parts.append(f"attempt {attempt}")
            parts.append(what)
            if took is not None:
                parts.append(f"({took:.3f}s)")
            line = " ".join(parts)
        try:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:39] + "…"


def _drain(q: queue.Queue) -> list:
    items = []
    while True:
        try:
            items.append(q.get_nowait())
        except queue.Empty:
            return items
