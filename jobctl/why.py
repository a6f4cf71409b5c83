"""Why a queued job is not running yet: one short sentence, for `ls`, `show` and the TUI.

Pure: the facts (paused queues, running counts, caps, parents' states, the
queues no daemon serves) are gathered once per page by `Queue.why_queued`,
and `now` is passed in, so the same facts give the same sentence.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import NamedTuple

from jobctl.durations import format_duration
from jobctl.models import Config, Job, State

READY = "ready"


class Situation(NamedTuple):
    """What holds queued jobs back, over the whole database, at one moment."""

    paused: Collection[str] = ()
    running_per_type: Mapping[str, int] = {}
    running_per_queue: Mapping[str, int] = {}
    type_caps: Mapping[str, int] = {}
    queue_caps: Mapping[str, int] = {}
    unserved: Collection[str] = ()  # queues no live daemon serves


def caps(config: Config) -> tuple[dict[str, int], dict[str, int]]:
    """(queue caps, type caps) as the daemon applies them when it claims."""
    queue_caps = {n: q.concurrency for n, q in config.queues.items() if q.concurrency}
    type_caps = {n: t.concurrency for n, t in config.jobs.items() if t.concurrency}
    for name, job_type in config.jobs.items():
        one_at_a_time = job_type.overlap == "queue" or (
            job_type.overlap == "skip" and job_type.catch_up == "all"
        )
        if job_type.scheduled and one_at_a_time:
            # Runs that overlap wait in the queue: one of the type at a time
            # (with "skip", the runs catch_up = "all" owes, queued together).
            type_caps[name] = 1
    return queue_caps, type_caps


def why_queued(
    job: Job,
    now: float,
    situation: Situation,
    parent_states: Mapping[int, str] | None = None,
) -> str | None:
    """Why `job` is not running, or None if it is not queued.

    In this order: unfinished parents, a paused queue, a retry's delay, a
    later run_at, a type or queue at its concurrency cap, no daemon serving
    the queue; else READY (a daemon will take it at once).  `parent_states`:
    {parent id: state}, in the job's order, for some or all of its parents:
    the first two not succeeded are named, the rest (job.waiting) counted.
    """
    if job.state != State.QUEUED:
        return None
    if job.waiting > 0:
        return _waiting(job, parent_states or {})
    if job.queue in situation.paused:
        return f"queue {job.queue} paused"
    left = job.run_at - now
    if left > 0 and job.attempt > 0:
        return f"retry {job.attempt + 1}/{job.max_attempts} in {_left(left)}"
    if left > 0:
        return f"due in {_left(left)}"
    if job.type is not None:
        cap = situation.type_caps.get(job.type)
        if cap is not None and situation.running_per_type.get(job.type, 0) >= cap:
            return f"type {job.type} at its limit ({cap})"
    cap = situation.queue_caps.get(job.queue)
    if cap is not None and situation.running_per_queue.get(job.queue, 0) >= cap:
        return f"queue {job.queue} at its limit ({cap})"
    if job.queue in situation.unserved:
        return f"no daemon serves queue {job.queue}"
    return READY


def _waiting(job: Job, parent_states: Mapping[int, str]) -> str:
    named = [f"#{p}" for p, state in parent_states.items() if state != State.SUCCEEDED][:2]
    if not named:
        return f"waiting on {job.waiting} job(s)"
    more = job.waiting - len(named)
    if more > 0:
        return f"waiting on {', '.join(named)} and {more} more"
    return f"waiting on {' and '.join(named)}"


def _left(seconds: float) -> str:
    # Rounded up: a job due in 0.3s is not "due in 0ms".
    whole = math.ceil(seconds)
    return f"{whole}s" if whole < 60 else format_duration(whole)
