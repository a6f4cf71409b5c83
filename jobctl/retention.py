"""`retention`: the daemon deletes jobs that ended long enough ago, a batch at a time.

`retention = "30d"` at the top of jobs.toml covers every job; a type's own
`retention` covers its jobs instead (ad hoc commands, and jobs of a type
jobs.toml no longer declares, follow the top level).  No retention, the
default, keeps everything.  Each rule walks the jobs in the order they
ended (the jobs_finished index), BATCH_SIZE at a time, one batch per pass
of the daemon's loop, and deletes those it covers as `jobctl purge` does
(Store.purge_batch).  A full batch means there may be more: the next comes
at the next pass; otherwise the rule looks again EVERY_SECONDS later (or
after its retention, if shorter: a job stays at most twice as long).

A rule remembers where its walk stands, so that each ended job is looked
at about once, not once a minute: with a short rule for one type, the
jobs the other rules keep would otherwise be read again and again.  It
starts over once a day (and when the daemon starts), for a job that
ended at a time the walk had passed (a clock set back).

Several daemons on one database may all purge: what one deleted, the
other finds gone.  Only the coordinator thread calls this, with its store.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from jobctl.models import Config
from jobctl.store import Store

BATCH_SIZE = 1_000  # jobs looked at, so deleted at most, per transaction
EVERY_SECONDS = 60.0  # a rule that caught up looks again this much later, at most
RESTART_SECONDS = 86_400.0  # and walks from the oldest job again this often
_START = (float("-inf"), 0)


class Rule(NamedTuple):
    seconds: float
    type: str | None  # None: jobs of no type in `others` (the top-level rule)
    others: tuple[str, ...] = ()


def rules(config: Config) -> list[Rule]:
    typed = {name: t.retention for name, t in config.jobs.items() if t.retention is not None}
    found = [Rule(seconds, name) for name, seconds in sorted(typed.items())]
    if config.retention is not None:
        found.append(Rule(config.retention, None, tuple(sorted(typed))))
    return found


class _Walk:
    def __init__(self, now: float) -> None:
        self.after = _START  # (finished_at, id): looked at up to there
        self.due = now  # when its next batch is
        self.started = now  # when it last set out from the oldest job
        self.held: int | None = None  # the newest job, kept for now (see Store.purge_batch)


class Retention:
    def __init__(self) -> None:
        self.walks: dict[Rule, _Walk] = {}

    def purge(self, store: Store, config: Config, now: float, log: Callable[[str], None]) -> float:
        """One batch of the rule most due, if one is; when to come back."""
        # Rules come and go with the config: a new one starts from the oldest job.
        self.walks = {rule: self.walks.get(rule) or _Walk(now) for rule in rules(config)}
        if not self.walks:
            return now + EVERY_SECONDS
        rule, walk = min(self.walks.items(), key=lambda item: item[1].due)
        if walk.due > now:
            return walk.due
        if walk.after == _START:
            walk.started = now
        batch = store.purge_batch(
            now - rule.seconds,
            BATCH_SIZE,
            walk.after,
            type=rule.type,
            others=rule.others,
            held=walk.held,
        )
        walk.held = batch.held
        if batch.deleted:
            of = f" {rule.type}" if rule.type is not None else ""
            jobs = "job" if batch.deleted == 1 else "jobs"
            log(f"purged {batch.deleted}{of} {jobs} older than {_short(rule.seconds)}")
        if batch.scanned >= BATCH_SIZE and batch.last is not None:
            walk.after, walk.due = batch.last, now  # more, maybe: at the next pass
        else:
            # Everything that ended before the cutoff has been looked at.
            caught_up = now - rule.seconds
            walk.after = _START if now - walk.started >= RESTART_SECONDS else (caught_up, 0)
            walk.due = now + min(EVERY_SECONDS, rule.seconds)
        return min(w.due for w in self.walks.values())


def _short(seconds: float) -> str:
    """30d, 12h, 90m, 1s: a retention as it was most likely written."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
