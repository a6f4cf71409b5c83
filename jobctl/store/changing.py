"""Changing jobs by request: cancel, retry, purge, pause; and firing schedules."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence

from jobctl.errors import WrongState
from jobctl.models import NewJob, State, iso
from jobctl.store.contract import PurgeBatch
from jobctl.store.sql_base import DuplicateJob, SqlBase

_CANCELLABLE = (State.QUEUED, State.RUNNING)

# `jobctl purge` deletes this many jobs per transaction: SQLite's write lock
# is held for a moment at a time, and PostgreSQL's autovacuum keeps up.
PURGE_BATCH = 10_000


class Changing(SqlBase):
    def cancel(self, job_ids: Iterable[int], now: float) -> dict[int, str]:
        with self._writing():
            return self._cancel(list(job_ids), now)

    def cancel_labelled(self, labels: Sequence[str], now: float) -> dict[int, str]:
        with self._writing():
            found = self.labelled_ids(labels, list(_CANCELLABLE))
            # Locked, and looked at again: on PostgreSQL another host may end
            # one between the look and its lock (cancel reads again, cheaply).
            return self._cancel([i for i in found if self._state(i) in _CANCELLABLE], now)

    def _cancel(self, job_ids: list[int], now: float) -> dict[int, str]:
        outcome: dict[int, str] = {}
        # Read (on PostgreSQL: lock) in id order, whatever the order given:
        # two cancels of the same jobs never wait on each other in a cycle.
        before = {job_id: self._state(job_id) for job_id in sorted(set(job_ids))}
        for job_id in job_ids:
            state = self._state(job_id)
            if state == State.CANCELLED and before[job_id] == State.QUEUED:
                outcome[job_id] = "cancelled"  # with a job earlier in the set
            elif state == State.QUEUED:
                self._cancel_queued(job_id, now, "cancelled by request")
                outcome[job_id] = "cancelled"
            elif state == State.RUNNING:
                self._exec("request_cancel", {"id": job_id, "now": now})
                self._event(job_id, now, "cancel_requested", None, None)
                outcome[job_id] = "cancelling"
            else:
                raise WrongState(f"job {job_id} is already {state}")
        return outcome

    def _cancel_queued(self, job_id: int, now: float, reason: str) -> None:
        if self._exec("cancel_queued", {"id": job_id, "now": now, "reason": reason}) != 1:
            raise WrongState(f"job {job_id} is no longer queued")
        self._event(job_id, now, "cancelled", None, reason)
        self.cancel_dependents(job_id, now, f"job {job_id} cancelled")

    def cancel_dependents(self, job_id: int, now: float, reason: str) -> None:
        pending = [job_id]
        while pending:
            parent = pending.pop()
            for (child,) in self._all("children_of", {"id": parent}):
                params = {"id": child, "now": now, "reason": reason}
                if self._exec("cancel_queued", params) == 1:
                    self._event(child, now, "cancelled", None, reason)
                    pending.append(child)

    def retry(self, job_ids: Iterable[int], now: float) -> list[int]:
        done = []
        job_ids = list(job_ids)
        with self._writing():
            for job_id in sorted(set(job_ids)):  # locked in id order, as cancel does
                self._state(job_id)
            for job_id in job_ids:
                state = self._state(job_id)
                if state not in (State.FAILED, State.CANCELLED):
                    raise WrongState(
                        f"job {job_id} is {state}; only failed or cancelled jobs can be retried"
                    )
                waiting = self._all("unsucceeded_parents", {"id": job_id})
                self._exec("requeue_finished", {"id": job_id, "now": now, "waiting": waiting[0][0]})
                self._event(job_id, now, "retried", None, f"was {state}")
                done.append(job_id)
        return done

    def failed_ids(
        self,
        *,
        type: str | None = None,
        queue: str | None = None,
        types: Sequence[str] | None = None,
        labels: Sequence[str] | None = None,
    ) -> list[int]:
        if types:
            params = {"types": json.dumps(list(types)), "queue": queue}
            ids = [row[0] for row in self._all("retryable_ids_types", params)]
        else:
            ids = [row[0] for row in self._all("retryable_ids", {"type": type, "queue": queue})]
        if labels:
            labelled = set(self.labelled_ids(labels, [State.FAILED]))
            ids = [job_id for job_id in ids if job_id in labelled]
        return ids

    def purge(
        self,
        cutoff: float,
        states: Sequence[str],
        types: Sequence[str] | None = None,
        labels: Sequence[str] | None = None,
    ) -> int:
        params = {"states": json.dumps(list(states)), "cutoff": cutoff, "limit": PURGE_BATCH}
        select = _purge_statement("purge_select", params, types, labels)
        total = 0
        while True:
            with self._writing():
                self._exec("purge_prepare")
                count = self._exec(select, params)
                self._exec("purge_delete")
            total += count
            if count < PURGE_BATCH:
                return total

    def purge_count(
        self,
        cutoff: float,
        states: Sequence[str],
        types: Sequence[str] | None = None,
        labels: Sequence[str] | None = None,
    ) -> dict[str, int]:
        params = {"states": json.dumps(list(states)), "cutoff": cutoff}
        return dict(self._all(_purge_statement("purge_count", params, types, labels), params))

    def purge_batch(
        self,
        cutoff: float,
        limit: int,
        after: tuple[float, int] = (float("-inf"), 0),
        *,
        type: str | None = None,
        others: Sequence[str] = (),
        held: int | None = None,
    ) -> PurgeBatch:
        row = self._all(
            "retention_scan",
            {
                "cutoff": cutoff,
                "at": after[0],
                "id": after[1],
                "limit": limit,
                "type": type,
                "others": json.dumps(list(others)),
            },
        )[0]
        scanned, last_at, last_id, ids, newest = row[0], row[1], row[2], json.loads(row[3]), row[4]
        if held is not None:
            ids.append(held)
        kept = newest if newest in ids else None
        ids = [job_id for job_id in ids if job_id != newest]
        deleted = 0
        if ids:
            with self._writing():
                self._exec("purge_prepare")
                params = {"ids": json.dumps(ids), "cutoff": cutoff}
                deleted = self._exec("retention_take", params)
                self._exec("purge_delete")
        last = (last_at, last_id) if scanned else None
        return PurgeBatch(deleted, scanned, last, kept)

    def set_paused(self, queue: str, paused: bool) -> None:
        with self._writing():
            self._exec("set_paused", {"name": queue, "paused": int(paused)})

    def set_parallel(self, queue: str, limit: int | None) -> None:
        with self._writing():
            self._exec("set_parallel", {"name": queue, "parallel": limit})

    def fire_schedule(
        self,
        name: str,
        decide: Callable[[float | None], tuple[list[float], float | None]],
        make_job: Callable[[float], NewJob],
        overlap: str,
        now: float,
    ) -> list[tuple[float, int | None]]:
        fired: list[tuple[float, int | None]] = []
        with self._writing():
            due_times, new_last = decide(self._value("schedule_last_due_locked", {"name": name}))
            last_job = None
            busy = []
            if overlap == "skip" and due_times:
                busy = self._all("schedule_busy", {"name": name})
            for due in due_times:
                if busy:
                    job_id, state = busy[0]
                    detail = f"the run due {iso(due)} was skipped: this one is still {state}"
                    self._event(job_id, now, "skipped", None, detail)
                    fired.append((due, None))
                    continue
                try:
                    last_job = self._insert_one(make_job(due), now, {})
                except DuplicateJob:
                    continue  # another daemon enqueued this due time first
                fired.append((due, last_job))
            if new_last is not None:
                self._exec(
                    "schedule_advanced",
                    {
                        "name": name,
                        "last_due": new_last,
                        "job_id": last_job,
                        "fired_at": now if last_job is not None else None,
                    },
                )
        return fired


def _purge_statement(
    name: str, params: dict, types: Sequence[str] | None, labels: Sequence[str] | None
) -> str:
    """Which of purge_select/purge_count's forms fits the filters; their
    parameters added to `params`.  With labels, one form takes the types too
    (:types null for any): two filters are rare enough for one statement."""
    if labels:
        params["labels"] = json.dumps(list(labels))
        params["types"] = json.dumps(list(types)) if types else None
        return name + "_labels"
    if types:
        params["types"] = json.dumps(list(types))
        return name + "_types"
    return name
