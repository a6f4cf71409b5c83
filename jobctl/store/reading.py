"""Reading: jobs, their history and output, daemons, workers, schedules."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from jobctl.errors import NoSuchJob
from jobctl.models import Attempt, Event, Job, LogLine, loads_json
from jobctl.store.contract import Piece
from jobctl.store.rows import job_from_row
from jobctl.store.sql_base import SqlBase


class Reading(SqlBase):
    def get(self, job_id: int) -> Job:
        rows = self._all("get_job", (job_id,))
        if not rows:
            raise NoSuchJob(job_id)
        parents = tuple(r[0] for r in self._all("parents_of", {"id": job_id}))
        labels = tuple(r[0] for r in self._all("labels_of", {"id": job_id}))
        return job_from_row(rows[0], parents, labels)

    def _with_labels(self, jobs: list[Job]) -> list[Job]:
        """A listing's jobs with their labels: one query for the page."""
        if not jobs:
            return jobs
        found: dict[int, list[str]] = defaultdict(list)
        ids = json.dumps([job.id for job in jobs])
        for job_id, label in self._all("labels_of_ids", {"ids": ids}):
            found[job_id].append(label)
        return [
            job._replace(labels=tuple(found[job.id])) if job.id in found else job for job in jobs
        ]

    def labelled_ids(self, labels: Sequence[str], states: Sequence[str]) -> list[int]:
        params = {"labels": json.dumps(list(labels)), "states": json.dumps(list(states))}
        return [row[0] for row in self._all("labelled_ids", params)]

    def finished_per_minute(self, since: float) -> list[tuple[int, str, int]]:
        return [tuple(r) for r in self._all("finished_per_minute", {"since": since})]

    def attempts(self, job_id: int) -> list[Attempt]:
        return [Attempt(*row) for row in self._all("attempts_of", {"id": job_id})]

    def events(self, job_id: int) -> list[Event]:
        return [Event(*row) for row in self._all("events_of", {"id": job_id})]

    def latest_attempt(self, job_id: int) -> int | None:
        return self._value("latest_attempt", {"id": job_id})

    def output(self, job_id: int, attempt: int) -> list[Piece]:
        return self.output_after(job_id, attempt, 0)

    def output_after(self, job_id: int, attempt: int, seen: int) -> list[Piece]:
        params = {"id": job_id, "number": attempt, "seen": seen}
        return [(start, bytes(data)) for start, data in self._all("output_after", params)]

    def attempt_ended(self, job_id: int, attempt: int) -> bool | None:
        rows = self._all("attempt_ended", {"id": job_id, "number": attempt})
        return bool(rows[0][0]) if rows else None

    def log_lines(self, job_id: int, attempt: int, after: int = 0) -> list[LogLine]:
        rows = self._all("log_lines_of", {"id": job_id, "attempt": attempt, "after": after})
        return [LogLine(r[0], r[1], r[2], r[3], loads_json(r[4]), r[5]) for r in rows]

    def stats(self) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {}
        for queue, state, count in self._all("stats"):
            per_state = counts.setdefault(queue, {})
            per_state[state] = per_state.get(state, 0) + count
        return counts

    def paused_queues(self) -> list[str]:
        return [row[0] for row in self._all("paused_queues")]

    def queue_parallel(self) -> dict[str, int]:
        return {name: int(limit) for name, limit in self._all("queue_parallel")}

    def cancel_requests(self, daemon_id: int) -> list[int]:
        return [r[0] for r in self._all("cancel_requests", {"id": daemon_id})]

    def dead_tokens(self, host: str) -> set[str]:
        return {row[0] for row in self._all("dead_tokens", {"host": host})}

    def schedule_rows(
        self,
    ) -> dict[str, tuple[float | None, int | None, float | None, float | None]]:
        return {r[0]: (r[1], r[2], r[3], r[4]) for r in self._all("schedule_rows")}

    def schedule_last_due(self, name: str) -> float | None:
        return self._value("schedule_last_due", {"name": name})

    def worker_rows(self) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self._all("worker_rows")]

    def live_daemons(self) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self._all("live_daemons")]

    def latest_worker_run(self, name: str) -> int | None:
        return self._value("latest_worker_run", {"name": name})

    def worker_output_after(self, name: str, number: int, seen: int) -> list[Piece]:
        params = {"name": name, "number": number, "seen": seen}
        return [(s, bytes(d)) for s, d in self._all("worker_output_after", params)]

    def worker_run_ended(self, name: str, number: int) -> bool | None:
        rows = self._all("worker_run_ended_yet", {"name": name, "number": number})
        return bool(rows[0][0]) if rows else None

    def other_daemons(self, daemon_id: int) -> list[tuple[int, str, int, float | None, float]]:
        return self._all("other_live_daemons", {"id": daemon_id})

    def orphaned_jobs(self, daemon_id: int) -> list[tuple[int, int]]:
        return [(r[0], r[1]) for r in self._all("orphaned_jobs", {"id": daemon_id})]

    def orphaned_processes(
        self, attempts: Sequence[tuple[int, int]]
    ) -> list[tuple[int, int | None, float | None, str, str | None]]:
        params = {"attempts": json.dumps([list(a) for a in attempts])}
        return [tuple(r) for r in self._all("orphaned_processes", params)]
