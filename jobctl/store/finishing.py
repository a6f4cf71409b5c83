"""Ending attempts: what the daemon reports after each pass, in one transaction."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from jobctl.models import Job, Outcome, State
from jobctl.store.sql_base import SqlBase


class Finishing(SqlBase):
    def record(
        self,
        outcomes: Sequence[Outcome],
        outputs: Sequence[tuple[int, int, int, bytes]],
        logs: Sequence[tuple[int, int, float, str, str | None, str]],
        now: float,
        output_limit: int,
        retry_delay: Callable[[Job, Outcome], float],
        pids: Sequence[tuple[int, int, int, float | None]] = (),
        retries: dict[int, float] | None = None,
    ) -> list[Job]:
        failed_for_good = []
        with self._writing():
            for job_id, number, pid, pid_started in pids:
                params = {"id": job_id, "number": number, "pid": pid, "pid_started": pid_started}
                self._exec("set_attempt_pid", params)
            for job_id, number, start, data in outputs:
                params = {"id": job_id, "number": number, "start": start, "data": data}
                self._exec("add_output", params)
                cut = start + len(data) - output_limit
                if cut > 0:  # pieces wholly before the last output_limit bytes go
                    self._exec("trim_output", {"id": job_id, "number": number, "cut": cut})
            for job_id, number, at, message, data, *level in logs:  # level: "info" if left out
                params = {"id": job_id, "attempt": number, "at": at, "message": message}
                params |= {"data": data, "level": level[0] if level else "info"}
                self._exec("add_log_line", params)
            succeeded = [o for o in outcomes if o.outcome == "succeeded"]
            if succeeded:
                self._finish_succeeded(succeeded, now)
            for outcome in outcomes:
                if outcome.outcome != "succeeded":
                    job = self._finish_attempt(outcome, now, retry_delay, retries)
                    if job is not None:
                        failed_for_good.append(job)
        return failed_for_good

    def _finish_succeeded(self, outcomes: Sequence[Outcome], now: float) -> None:
        batch = json.dumps([[o.job_id, o.attempt, o.exit_status, o.result] for o in outcomes])
        params = {"batch": batch, "now": now}
        if not self._exec("end_attempts_succeeded", params):
            return
        self._exec("jobs_succeeded", params)
        parents = self._all("succeeded_parents", params)[0][0]
        if parents != "[]":
            self._exec("release_children_of_all", {"ids": parents})

    def _finish_attempt(
        self,
        outcome: Outcome,
        now: float,
        retry_delay: Callable[[Job, Outcome], float],
        retries: dict[int, float] | None = None,
    ) -> Job | None:
        job_id, number, kind = outcome.job_id, outcome.attempt, outcome.outcome
        ended = self._exec(
            "end_attempt",
            {
                "id": job_id,
                "number": number,
                "now": now,
                "outcome": kind,
                "exit_status": outcome.exit_status,
                "signal": outcome.signal,
                "error": outcome.error,
            },
        )
        if not ended:
            return None  # already ended by recovery: the job is no longer this attempt's
        if kind != "cancelled":
            # A cancel asked for while the attempt ran wins over a retry or a
            # requeue: the job must not run again (claiming clears the flag).
            asked = self._all("cancel_asked", {"id": job_id})
            if asked and asked[0][0]:
                kind = "cancelled"
        if kind == "interrupted":
            params = {"id": job_id, "run_at": now, "error": outcome.error, "refund": 1}
            if self._exec("job_requeued", params):
                self._event(job_id, now, "interrupted", number, outcome.error)
            return None
        if kind == "cancelled":
            params = {
                "id": job_id,
                "now": now,
                "error": "cancelled by request",
                "state": "cancelled",
            }
            if self._exec("job_failed", params):
                self._event(job_id, now, "cancelled", number, "cancelled by request")
                self.cancel_dependents(job_id, now, f"job {job_id} cancelled")
            return None
        # failed, timed_out, recovered: the retry policy decides.
        job = self._get_in_txn(job_id)
        if job.state != State.RUNNING:
            return None
        if kind != "failed":
            self._event(job_id, now, kind, number, outcome.error)
        if job.attempt < job.max_attempts and not outcome.final:
            delay = retry_delay(job, outcome)
            params = {"id": job_id, "run_at": now + delay, "error": outcome.error, "refund": 0}
            self._exec("job_requeued", params)
            self._event(job_id, now, "retrying", number, f"in {delay:.1f}s: {outcome.error}")
            if retries is not None:
                retries[job_id] = now + delay
            return None
        params = {"id": job_id, "now": now, "error": outcome.error, "state": "failed"}
        self._exec("job_failed", params)
        self._event(job_id, now, "failed", number, outcome.error)
        self.cancel_dependents(job_id, now, f"job {job_id} failed")
        return self._get_in_txn(job_id)

    def _fail_unreadable(self, job_id: int, number: int, now: float, exc: Exception) -> None:
        error = f"the stored job cannot be read: {type(exc).__name__}"
        params = {"id": job_id, "number": number, "now": now, "outcome": "failed"}
        self._exec("end_attempt", params | {"exit_status": None, "signal": None, "error": error})
        self._exec("job_failed", {"id": job_id, "now": now, "error": error, "state": "failed"})
        self._event(job_id, now, "failed", number, error)
        self.cancel_dependents(job_id, now, f"job {job_id} failed")
