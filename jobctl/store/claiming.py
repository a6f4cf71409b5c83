"""Claiming: which due jobs a daemon takes next, and when the next is due."""

from __future__ import annotations

import json
from collections.abc import Sequence

from jobctl.models import Claimed
from jobctl.store.rows import ATTEMPTS_TOTAL, job_from_row
from jobctl.store.sql_base import SqlBase


class Claiming(SqlBase):
    def _claim_lock(self, capped: bool) -> None:
        """Keep concurrency caps exact while claiming (SQLite's write lock already does)."""

    def next_run_at(
        self, queues: Sequence[str] | None = None, types: Sequence[str] | None = None
    ) -> float | None:
        """When the next job due in an unpaused queue (of `queues`, if given) is due;
        with `types` (type names, "" for ad hoc commands), the next of those types.

        A skip-scan of jobs_ready: per queue, per priority level, the first
        entry is that level's earliest run_at.  A few seeks for the usual
        handful of queues and levels, and no index of its own to keep up
        on every enqueue.
        """
        paused = {r[0] for r in self._all("paused_names")}
        soonest = None
        for (queue,) in self._all("ready_queues"):
            if queue in paused or (queues is not None and queue not in queues):
                continue
            if types is not None:  # type is not in jobs_ready: one scan of the queue
                params = {"queue": queue, "types": json.dumps(list(types))}
                run_at = self._value("first_run_at_types", params) if types else None
                if run_at is not None and (soonest is None or run_at < soonest):
                    soonest = run_at
                continue
            level = self._value("top_priority", {"queue": queue})
            while level is not None:
                run_at = self._value("first_run_at", {"queue": queue, "priority": level})
                if run_at is not None and (soonest is None or run_at < soonest):
                    soonest = run_at
                level = self._value("priority_below", {"queue": queue, "below": level})
        return soonest

    def claim(
        self,
        daemon_id: int,
        slots: int,
        now: float,
        lease_until: float,
        *,
        queues: list[str] | None = None,
        queue_caps: dict[str, int] | None = None,
        type_caps: dict[str, int] | None = None,
        types: list[str] | None = None,
    ) -> list[Claimed]:
        """Claim up to `slots` due jobs, by priority, then run_at, then id.

        Paused queues are skipped, and so are queues and types at their
        concurrency cap (counted over every daemon on the database).
        `queue_caps` are jobs.toml's; a queue's limit set by set_parallel
        takes the place of its entry there.
        `types`: only jobs of these type names ("" for ad hoc commands).
        """
        if types is not None and not types:
            return []
        claimed: list[Claimed] = []
        with self._writing():
            # Read at every claim, like the paused flags: a daemon obeys
            # `jobctl pause` and `jobctl parallel` at its next pass, which
            # the change's own commit (or NOTIFY) wakes it for.
            settings = self._all("claim_settings")
            paused = {name for name, flag, _ in settings if flag}
            queue_caps = dict(queue_caps or {})
            queue_caps |= {name: int(limit) for name, _, limit in settings if limit is not None}
            self._claim_lock(bool(queue_caps or type_caps))
            names = [r[0] for r in self._all("ready_queues")]
            names = [n for n in names if n not in paused and (queues is None or n in queues)]
            if not names:
                return claimed
            room_in_queue = {}
            if queue_caps:
                running = dict(self._all("running_per_queue"))
                room_in_queue = {q: cap - running.get(q, 0) for q, cap in queue_caps.items()}
            room_for_type = {}
            if type_caps:
                running = dict(self._all("running_per_type"))
                room_for_type = {t: cap - running.get(t, 0) for t, cap in type_caps.items()}
            candidates = []
            for name in names:
                limit = min(slots, room_in_queue.get(name, slots))
                if limit <= 0:
                    continue
                params = {"queue": name, "now": now, "limit": limit + (slots if type_caps else 0)}
                query = "ready_in_queue"
                if types is not None:
                    params["types"] = json.dumps(types)
                    query = "ready_in_queue_types"
                rows = json.loads(self._value(query, params))
                candidates += [(-r[2], r[3], r[0], r[1], name) for r in rows]
            candidates.sort()
            chosen: list[int] = []
            taken_in_queue: dict[str, int] = {}
            for _, _, job_id, job_type, name in candidates:
                if len(chosen) >= slots:
                    break
                if taken_in_queue.get(name, 0) >= room_in_queue.get(name, slots):
                    continue
                if job_type in room_for_type:
                    if room_for_type[job_type] <= 0:
                        continue
                    room_for_type[job_type] -= 1
                taken_in_queue[name] = taken_in_queue.get(name, 0) + 1
                chosen.append(job_id)
            if not chosen:
                return claimed
            params = {
                "ids": json.dumps(chosen),
                "daemon_id": daemon_id,
                "lease_until": lease_until,
                "now": now,
            }
            self._exec("claim_jobs", params)
            self._exec("insert_attempts", params)
            rows = json.loads(self._value("claimed_jobs", params))
            jobs = {}
            for row in rows:
                try:
                    jobs[row[0]] = job_from_row(row)
                except (ValueError, TypeError, RecursionError) as exc:
                    # Stored by an older jobctl, or by hand: fail it alone,
                    # rather than the whole claim, and the daemon with it.
                    self._fail_unreadable(row[0], row[ATTEMPTS_TOTAL], now, exc)
            claimed = [Claimed(jobs[i], jobs[i].attempts_total) for i in chosen if i in jobs]
        return claimed
