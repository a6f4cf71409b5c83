"""Jobs to rows and back: what both stores write and read the same way."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, BinaryIO

from jobctl.models import Job, NewJob, State, loads_json

# The columns a Job is built from, in Job's field order (parents come apart).
JOB_COLUMNS = (
    "id, type, command, shell, cwd, env, payload, queue, priority, state, run_at, created_at,"
    " started_at, finished_at, attempt, attempts_total, max_attempts, timeout, unique_key,"
    " waiting, result, error, cancel_requested, daemon_id, schedule"
)
ATTEMPTS_TOTAL = 15  # its place in JOB_COLUMNS
# insert_job's parameters, in job_params' order.
INSERT_COLUMNS = (
    "type", "command", "shell", "cwd", "env", "payload", "queue", "priority", "state",
    "run_at", "created_at", "max_attempts", "timeout", "unique_key", "waiting", "error",
    "finished_at", "schedule", "due_at",
)  # fmt: skip


def job_params(job: NewJob, now: float, waiting: int, cancelled_reason: str | None) -> tuple:
    """insert_job's parameters, in the order its VALUES lists them."""
    return (
        job.type,
        json.dumps(job.command) if job.command is not None else None,
        int(job.shell),
        job.cwd,
        json.dumps(job.env) if job.env is not None else None,
        job.payload,
        job.queue,
        job.priority,
        "cancelled" if cancelled_reason else "queued",
        job.run_at or now,
        now,
        job.max_attempts,
        job.timeout,
        job.unique_key,
        waiting,
        cancelled_reason,
        now if cancelled_reason else None,
        job.schedule,
        job.due_at,
    )


def inserted(job_id: int, job: NewJob, now: float) -> Job:
    """The Job get() reads back from the row job_params made of `job` (no
    parents, no unique key); a test compares the two."""
    timeout = job.timeout
    return Job(
        job_id, job.type, None if job.command is None else list(job.command), job.shell,
        job.cwd, None if job.env is None else dict(job.env), json.loads(job.payload),
        job.queue, job.priority, State.QUEUED, float(job.run_at or now), float(now), None,
        None, 0, 0, job.max_attempts, None if timeout is None else float(timeout), None, 0,
        None, None, None, None, job.schedule, labels=tuple(sorted(set(job.labels))),
    )  # fmt: skip


def job_from_row(
    row: tuple[Any, ...], parents: tuple[int, ...] = (), labels: tuple[str, ...] = ()
) -> Job:
    values = list(row)
    values[2] = loads_json(values[2])  # command
    values[3] = bool(values[3])  # shell
    values[5] = loads_json(values[5])  # env
    values[6] = loads_json(values[6])  # payload
    values[9] = State(values[9])
    values[20] = loads_json(values[20])  # result
    return Job(*values, parents=parents, labels=labels)


def like_pattern(text: str) -> str:
    """A LIKE pattern (ESCAPE '\\') matching `text` anywhere, its % and _ literal."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def line_chunks(lines: BinaryIO, most_bytes: int) -> Iterator[bytes]:
    """The file's lines in consecutive pieces of about `most_bytes`, each whole
    lines (a single line may be more): add_batch's reading, on either store."""
    while piece := lines.read(most_bytes):
        if not piece.endswith(b"\n"):
            piece += lines.readline()
        yield piece
