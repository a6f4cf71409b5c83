"""`jobctl parallel`: how many of a queue's jobs may run at once, at run time.

The limit is stored in the database (the queues table), so every daemon on
it obeys the change at its next claim, as it does a pause; jobs.toml's
`[queues.NAME] concurrency` is the value until one is set, and again after
`--reset`.
"""

from __future__ import annotations

from jobctl.api import Queue
from jobctl.errors import InputError
from jobctl.render import safe


def run_parallel(queue: Queue, name: str, limit: int | None, reset: bool) -> int:
    """Set (`limit`), forget (`reset`) or show the parallel limit of queue `name`."""
    if reset and limit is not None:
        raise InputError("give N or --reset, not both")
    if limit == 0:
        # 0 could mean "paused" or "no limit": neither is guessed.
        raise InputError(f"parallel must be 1 or more: to stop the queue, `jobctl pause {name}`")
    with queue:
        if limit is not None or reset:
            queue.set_parallel(name, limit)
        current = queue.parallel_limits().get(name)
    print(f"queue {safe(name)}: {describe(current)}")
    return 0


def describe(current: tuple[int, str] | None) -> str:
    """A queue's limit as a phrase, with where it comes from."""
    if current is None:
        return "no parallel limit (each daemon runs up to its --concurrency)"
    limit, source = current
    where = "set by `jobctl parallel`" if source == "database" else "from jobs.toml"
    return f"parallel {limit} ({where})"
