"""The things jobctl deals in: job states, jobs, job types, queues, workers.

Immutable records with no behaviour beyond presentation helpers; the store
builds them from rows, the config builds the declared ones from jobs.toml.

They are NamedTuples rather than frozen dataclasses because `jobctl add`
must start fast: here a NamedTuple class costs ~0.1 ms to create, a frozen
dataclass ~1.3 ms, and importing `dataclasses` (inspect, ast, dis) ~6 ms;
with dataclasses this module alone was a fifth of a `jobctl add`.
"""

from __future__ import annotations

import json
import shlex
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, NamedTuple


class State(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in FINISHED


FINISHED = frozenset({State.SUCCEEDED, State.FAILED, State.CANCELLED})

# Which state may follow which.  The store's UPDATEs guard the same edges in
# SQL (`WHERE state IN (...)`); tests/test_store_contract.py checks they agree.
TRANSITIONS: dict[State, frozenset[State]] = {
    State.QUEUED: frozenset({State.RUNNING, State.CANCELLED}),
    # running -> queued: a retry after a failed attempt, or a graceful shutdown.
    State.RUNNING: frozenset({State.SUCCEEDED, State.FAILED, State.CANCELLED, State.QUEUED}),
    State.SUCCEEDED: frozenset(),
    # `jobctl retry` gives a finished job a fresh attempt budget.
    State.FAILED: frozenset({State.QUEUED}),
    State.CANCELLED: frozenset({State.QUEUED}),
}


def iso(ts: float | None) -> str | None:
    """An epoch time as ISO 8601 UTC, second precision, or None."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class Job(NamedTuple):
    id: int
    type: str | None
    command: list[str] | None
    shell: bool
    cwd: str | None
    env: dict[str, str] | None
    payload: Any
    queue: str
    priority: int
    state: State
    run_at: float
    created_at: float
    started_at: float | None
    finished_at: float | None
    attempt: int
    attempts_total: int
    max_attempts: int
    timeout: float | None
    unique_key: str | None
    waiting: int
    result: Any
    error: str | None
    cancel_requested: float | None
    daemon_id: int | None
    schedule: str | None
    parents: tuple[int, ...] = ()
    labels: tuple[str, ...] = ()  # sorted (see labels.py); `label` below is not one

    @property
    def label(self) -> str:
        """The type, or the command line of an ad hoc job."""
        if self.type is not None:
            return self.type
        if self.shell and self.command:
            return self.command[-1]
        return shlex.join(self.command or [])

    def to_json(self) -> dict[str, Any]:
        """The flat --json form, documented in the README."""
        return {
            "id": self.id,
            "type": self.type,
            "command": self.label if self.type is None else None,
            "argv": self.command,
            "shell": self.shell,
            "queue": self.queue,
            "priority": self.priority,
            "state": str(self.state),
            "attempt": self.attempt,
            "max_attempts": self.max_attempts,
            "attempts_total": self.attempts_total,
            "run_at": iso(self.run_at),
            "created_at": iso(self.created_at),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "timeout": self.timeout,
            "unique_key": self.unique_key,
            "after": list(self.parents),
            "labels": list(self.labels),
            "waiting_on": self.waiting,
            "cancel_requested": self.cancel_requested is not None,
            "schedule": self.schedule,
            "cwd": self.cwd,
            "payload": self.payload,
            "result": self.result,
            "error": self.error,
        }


class Attempt(NamedTuple):
    job_id: int
    number: int
    started_at: float
    finished_at: float | None
    outcome: str | None
    exit_status: int | None
    signal: int | None
    error: str | None
    output_size: int

    def to_json(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "number": self.number,
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "outcome": self.outcome,
            "exit_status": self.exit_status,
            "signal": self.signal,
            "error": self.error,
            "output_bytes": self.output_size,
        }


class Event(NamedTuple):
    job_id: int
    at: float
    kind: str
    attempt: int | None
    detail: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "at": iso(self.at),
            "kind": self.kind,
            "attempt": self.attempt,
            "detail": self.detail,
        }


class LogLine(NamedTuple):
    """A line a handler kept with ctx.log(message, **data), or ctx.log.error(...) etc."""

    job_id: int
    attempt: int
    at: float
    message: str
    data: dict[str, Any] | None
    level: str = "info"  # debug, info, warning or error

    def text(self) -> str:
        extra = " ".join(f"{k}={v}" for k, v in (self.data or {}).items())
        return f"{self.message} {extra}" if extra else self.message

    def labelled(self) -> str:
        """As `jobctl logs`, `show` and the TUI show it: "ERROR message k=v"."""
        return f"{self.level.upper()} {self.text()}"

    def to_json(self) -> dict[str, Any]:
        return {"attempt": self.attempt, "at": iso(self.at), "message": self.message} | {
            "data": self.data,
            "level": self.level,
        }


class JobType(NamedTuple):
    """A `[jobs.NAME]` table: how jobs of one type run."""

    name: str
    command: str | None = None
    handler: str | None = None
    isolation: str = "thread"
    allow_dash_values: bool = False  # a {field} may fill an argument that begins with "-"
    queue: str = "default"
    priority: int = 0
    timeout: float | None = None
    kill_grace: float = 10.0
    max_attempts: int = 3
    retry_delay: float = 5.0
    retry_backoff: float = 2.0
    retry_max_delay: float = 3600.0
    concurrency: int | None = None
    unique: bool | str = False
    on_failure: str | None = None  # hooks: the job as JSON on stdin, once per job end
    on_success: str | None = None
    on_finish: str | None = None  # after any final state: succeeded, failed, cancelled
    retention: float | None = None  # seconds: overrides the top-level retention
    cron: str | None = None
    every: float | None = None
    cron_data: Any = None
    timezone: str | None = None
    catch_up: str = "once"
    catch_up_limit: int = 100
    overlap: str = "skip"

    @property
    def scheduled(self) -> bool:
        return self.cron is not None or self.every is not None


class QueueSpec(NamedTuple):
    name: str
    concurrency: int | None = None


class WorkerSpec(NamedTuple):
    """A `[workers.NAME]` table: a long-running process the daemon supervises."""

    name: str
    command: str | None = None
    handler: str | None = None
    autostart: bool = True
    restart: str = "always"
    restart_delay: float = 5.0
    restart_max_delay: float = 300.0
    max_restarts: int = 0
    reset_after: float = 60.0
    kill_grace: float = 10.0


class Config(NamedTuple):
    """Everything jobs.toml says, with defaults filled in."""

    path: str | None = None
    db: str | None = None
    durability: str = "normal"
    output_limit: int = 1024 * 1024
    max_payload: int = 1024 * 1024
    concurrency: int | None = None
    shutdown_grace: float = 30.0
    kill_grace: float = 10.0
    lease: float = 30.0  # a daemon on another host is presumed dead this long after its heartbeat
    retention: float | None = None  # seconds: purge ended jobs older than this; None: keep
    timeout: float | None = None  # seconds: of a job whose type (or `add`) sets none
    command_max_attempts: int = 1  # of an ad hoc command without --max-attempts
    # Shared empty defaults are safe: nothing ever mutates a Config.
    jobs: dict[str, JobType] = {}
    queues: dict[str, QueueSpec] = {}
    workers: dict[str, WorkerSpec] = {}
    # Hooks for ad hoc commands, and the defaults of job types that set none.
    on_failure: str | None = None
    on_success: str | None = None
    on_finish: str | None = None

    @property
    def schedules(self) -> list[JobType]:
        return [t for t in self.jobs.values() if t.scheduled]


def storable(text: str) -> str:
    """Text SQLite can store: lone surrogates (from a handler's error or
    ctx.log(), or a payload's "\\ud800") written as \\udXXX, not refused."""
    if text.isascii():
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def loads_json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


class NewJob(NamedTuple):
    """A job about to be inserted, every default already resolved by the API."""

    type: str | None
    payload: str  # JSON text
    queue: str = "default"
    priority: int = 0
    run_at: float = 0.0
    max_attempts: int = 3
    timeout: float | None = None
    unique_key: str | None = None
    command: list[str] | None = None
    shell: bool = False
    cwd: str | None = None
    env: dict[str, str] | None = None
    after: tuple[int, ...] = ()
    schedule: str | None = None
    due_at: float | None = None
    labels: tuple[str, ...] = ()  # checked and sorted (labels.check)


class Outcome(NamedTuple):
    """How one attempt ended, as the daemon reports it to the store."""

    job_id: int
    attempt: int  # the attempt's number over the job's life
    outcome: str  # succeeded, failed, timed_out, cancelled, interrupted, recovered
    exit_status: int | None = None
    signal: int | None = None
    error: str | None = None
    result: str | None = None  # JSON text
    final: bool = False  # failed for good, whatever attempts are left (an unknown type)


class Claimed(NamedTuple):
    """A job a daemon has claimed, with the number of the attempt it starts."""

    job: Job
    attempt: int
