"""The daemon's scheduler: enqueue what the `cron` and `every` types owe.

The math is in schedule.py; the once-only bookkeeping is in the store (one
write transaction per firing, a unique index on (schedule, due_at)).  This
module only decides when to look: at start, and at each schedule's next due
time, which the daemon's loop sleeps towards.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from jobctl.api import Queue
from jobctl.errors import DatabaseBusy, DiskFull, JobctlError
from jobctl.models import Config
from jobctl.schedule import Schedule, iso_local
from jobctl.store import Store


class Scheduler:
    def __init__(
        self, config: Config, db_path: Path | str, store: Store, log: Callable[[str], None]
    ) -> None:
        self.schedules = [Schedule(t) for t in config.jobs.values() if t.scheduled]
        self.jobs = Queue(config, db_path)  # builds the NewJob of a due time
        self.store = store
        self.log = log
        # Schedules whose due times the engine could not compute, set aside
        # (and logged) once for this config: a reload of jobs.toml tries again.
        self.set_aside: set[str] = set()

    def tick(self, now: float) -> float | None:
        """Enqueue every due run; when the next one is due (None: no schedules)."""
        soonest = None
        for schedule in self.schedules:
            if schedule.name in self.set_aside:
                continue
            try:
                self._fire(schedule, now)
            except (DiskFull, DatabaseBusy):
                raise  # the daemon waits these out and tries the pass again
            except JobctlError as exc:  # one bad schedule must not stop the others
                self.log(f"schedule {schedule.name}: {exc}")
            except Exception as exc:  # the engine failed (CroniterBadDateError, ...)
                self._set_aside(schedule, exc)
                continue
            after = max(now, self.store.schedule_last_due(schedule.name) or now)
            try:
                upcoming = schedule.next_after(after)
            except Exception as exc:
                self._set_aside(schedule, exc)
                continue
            soonest = upcoming if soonest is None else min(soonest, upcoming)
        return soonest

    def _set_aside(self, schedule: Schedule, exc: Exception) -> None:
        """Skip a schedule the engine cannot compute until jobs.toml is loaded again."""
        self.set_aside.add(schedule.name)
        self.log(
            f"schedule {schedule.name} ({schedule.expression}): its due times cannot be"
            f" computed ({type(exc).__name__}: {exc}); skipped until jobs.toml is reloaded"
        )

    def _fire(self, schedule: Schedule, now: float) -> None:
        # A read first: most ticks owe nothing, and need no write lock.
        last_due = self.store.schedule_last_due(schedule.name)
        due, new_last = schedule.to_enqueue(last_due, now)
        if not due and new_last == last_due:
            return
        fired = self.store.fire_schedule(
            schedule.name,
            lambda last: schedule.to_enqueue(last, now),
            lambda moment: self.jobs.scheduled_job(schedule.name, moment),
            schedule.overlap,
            now,
        )
        for moment, job_id in fired:
            when = iso_local(moment, schedule.zone)
            if job_id is None:
                self.log(f"schedule {schedule.name}: run due {when} skipped (overlap = skip)")
            else:
                self.log(f"schedule {schedule.name}: queued job {job_id} for {when}")

    def close(self) -> None:
        self.jobs.close()
