"""Adding jobs, row by row: unique keys, --after parents, their checks.

The bulk paths, which each dialect makes fast its own way, are in the stores.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from jobctl.errors import NoSuchJob
from jobctl.models import Job, NewJob, State
from jobctl.store.rows import inserted, job_params
from jobctl.store.sql_base import DuplicateJob, SqlBase

# _add_labels sends the ids of a batch in JSON arrays of this many.
LABEL_IDS_CHUNK = 10_000


class Adding(SqlBase):
    def add_jobs(self, jobs: Sequence[NewJob], now: float) -> list[int]:
        with self._writing():
            return self._insert(jobs, now)

    def add_job(self, job: NewJob, now: float) -> int:
        return self.add_jobs([job], now)[0]

    def _insert(self, jobs: Sequence[NewJob], now: float) -> list[int]:
        """Insert `jobs` in the current transaction; their ids (the stores
        replace this with their bulk path when no job has a key or parents)."""
        parent_states = self._parent_states({p for job in jobs for p in job.after})
        return [self._insert_one(job, now, parent_states) for job in jobs]

    def add_and_get(self, job: NewJob, now: float) -> Job:
        job_id = self.add_job(job, now)
        if job.unique_key is not None or job.after:
            return self.get(job_id)  # perhaps an existing job; its parents
        return inserted(job_id, job, now)

    def add_each(self, jobs: Iterable[NewJob], now: float) -> list[int]:
        ids: list[int] = []
        with self._writing():
            parent_states: dict[int, str] = {}
            for job in jobs:
                unknown = {p for p in job.after if p not in parent_states}
                if unknown:
                    parent_states.update(self._parent_states(unknown))
                ids.append(self._insert_one(job, now, parent_states))
        return ids

    def _insert_one(self, job: NewJob, now: float, parent_states: dict[int, str]) -> int:
        if job.unique_key is not None and (existing := self._find_unique(job)) is not None:
            return existing
        waiting = sum(1 for p in job.after if parent_states[p] != State.SUCCEEDED)
        dead = [p for p in job.after if parent_states[p] in (State.FAILED, State.CANCELLED)]
        reason = f"job {dead[0]} {parent_states[dead[0]]}" if dead else None
        try:
            job_id = self._insert_id("insert_job", job_params(job, now, waiting, reason))
        except DuplicateJob:
            # On PostgreSQL another host may add the same key between our
            # look and our insert (SQLite's write lock rules that out): its
            # job is the answer, as if we had found it.
            if job.unique_key is None or (existing := self._find_unique(job)) is None:
                raise
            return existing
        if reason:
            self._event(job_id, now, "cancelled", None, reason)
        for parent in job.after:
            self._exec("insert_dep", {"parent_id": parent, "job_id": job_id})
        if job.labels:
            self._add_labels([job_id], job.labels)
        return job_id

    def _add_labels(self, ids: Sequence[int], labels: Sequence[str]) -> None:
        """Give each of `ids` every one of `labels`, in the current transaction
        (the bulk paths call this for a batch's ids, a range of any size)."""
        if not labels:
            return
        labels_json = json.dumps(list(labels))
        for first in range(0, len(ids), LABEL_IDS_CHUNK):
            chunk = json.dumps(list(ids[first : first + LABEL_IDS_CHUNK]))
            self._exec("insert_labels", {"ids": chunk, "labels": labels_json})

    def _find_unique(self, job: NewJob) -> int | None:
        """The queued or running job with `job`'s type and unique key."""
        return self._value("find_unique", {"type": job.type, "unique_key": job.unique_key})

    def _parent_states(self, parents: set[int]) -> dict[int, str]:
        states = {}
        for parent in sorted(parents):
            rows = self._all("job_state", {"id": parent})
            if not rows:
                raise NoSuchJob(parent)
            states[parent] = rows[0][0]
        return states
