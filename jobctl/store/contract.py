"""The store contract: every operation jobctl's daemon, API, scheduler,
supervisor and TUI ask of a database, one method each, with what it promises.

Two stores keep it: SqliteStore (one file, the default) and PostgresStore
(one server, many hosts).  Nothing above the stores imports apsw or psycopg
(tests/test_store_contract.py checks), and nothing above them writes SQL.

What every method promises, on either backend:
- Each write is one transaction: all of it happens, or none of it.
- Time is a parameter (`now`, Unix seconds), never read from a clock here,
  so that tests inject one.
- State changes are compare-and-set (`WHERE state IN (...)`): a row that was
  not in the expected state changes nothing, and the caller hears so.
- Errors are JobctlErrors with one line of text (a DatabaseError for the
  database itself), never a driver's exception, and never a password.

A store belongs to one thread (one connection, one transaction at a time).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple, Protocol

from jobctl.models import Attempt, Claimed, Event, Job, LogLine, NewJob, Outcome

# Stored output: (where the piece begins in all that was written, its bytes).
Piece = tuple[int, bytes]

# What a worker's last owner started: (pid, pid start time, host, run token).
LastRun = tuple[int | None, float | None, str | None, str | None]

# A worker keeps the output of this many of its latest runs (restarting in
# a loop, it would otherwise add up to output_limit per run for ever).
WORKER_RUNS_WITH_OUTPUT = 20


def is_postgres_url(db: object) -> bool:
    """Whether `db` names a PostgreSQL database rather than an SQLite file."""
    return isinstance(db, str) and db.startswith(("postgresql://", "postgres://"))


def describe_db(db: str | os.PathLike[str]) -> str:
    """`db` as jobctl shows it: a path, or a URL with its password masked."""
    if is_postgres_url(db):
        from jobctl.store.postgres_db import mask_url

        return mask_url(str(db))
    return os.fspath(db)


class PurgeBatch(NamedTuple):
    """What one Store.purge_batch did."""

    deleted: int  # jobs deleted, with their history
    scanned: int  # jobs looked at: the limit, if there may be more
    last: tuple[float, int] | None  # (finished_at, id) of the last looked at: go on after it
    held: int | None  # the newest job, which would have gone: pass it back next time


class ChangeWatcher(Protocol):
    """Sleeps until the database may have changed (Store.watcher)."""

    @property
    def live(self) -> bool:
        """True when changes wake wait(): a caller may then sleep long."""

    def wait(self, timeout: float, also: tuple[int, ...] = ()) -> None:
        """Sleep up to `timeout`, less if the database may have changed or an
        fd in `also` (a signal wake-up fd) is readable."""

    def settle(self) -> None:
        """The caller has seen the change it was woken for: wait() need not
        look again for it (SQLite looks again shortly after a file event,
        in case the commit was not yet visible: see wakeup.py)."""

    def close(self) -> None: ...


class Store:
    """The operations on one jobctl database (see the module's docstring)."""

    @classmethod
    def open(cls, db: str | os.PathLike[str], durability: str = "normal") -> Store:
        """The store for `db`: a `postgresql://` URL, else an SQLite file's path.

        Each backend is imported only when it is chosen: `jobctl add` on
        SQLite never loads psycopg, nor PostgreSQL code apsw.
        """
        if is_postgres_url(db):
            from jobctl.store.postgres import PostgresStore

            return PostgresStore.open(str(db), durability)
        from jobctl.store.sqlite import SqliteStore

        return SqliteStore.open(Path(db), durability)

    # What a user sees of the database: a path, or a URL without its password.
    where: str

    def watcher(self, poll: float, eager: bool = True) -> ChangeWatcher:
        """Something that sleeps until another connection may have changed the
        database (see ChangeWatcher); data_version() says whether one did.
        `eager` False: a commit may be seen some 64 ms late, for fewer
        wake-ups (SQLite: see wakeup.py; a dashboard, not a daemon).

        SQLite: an inotify watch on the database's folder (wakeup.py).
        PostgreSQL: LISTEN on the schema's channel, which triggers notify once
        per transaction and queue.
        """
        raise NotImplementedError

    def checkpoint_often(self) -> None:
        """Checkpoint this connection's commits every 100 WAL pages, not every 4,000.

        For a daemon whose disk filled up once: a WAL allowed 16 MB grows
        back into whatever space is freed, until neither a commit nor a
        checkpoint (which must grow the database file) finds room.
        """
        raise NotImplementedError

    def shrink_wal(self) -> bool:
        """Copy the WAL into the database and empty it; False if that failed.

        A daemon on a full disk calls this: the WAL is only emptied by a
        checkpoint after a commit that grew it past WAL_CHECKPOINT_PAGES,
        so once the disk is full no commit succeeds and the WAL never
        shrinks, even after space is freed, unless something checkpoints.
        """
        raise NotImplementedError

    def data_version(self) -> int:
        """A counter that moves whenever another connection commits.

        The pragma, not apsw's Connection.data_version(): that file control
        only notices other processes' commits once this connection has
        started a new read transaction, which an idle poller never does.
        The pragma reads the WAL index header: a few microseconds.
        """
        raise NotImplementedError

    def close(self) -> None:
        """Close the connection(s); the store is not used again."""
        raise NotImplementedError

    def add_jobs(self, jobs: Sequence[NewJob], now: float) -> list[int]:
        """Insert `jobs` in one transaction; their ids, in order.

        A job whose (type, unique_key) matches a queued or running job is not
        inserted: its id is that job's (whose labels stay as they are).  A
        new job's labels are inserted with it.  Any error inserts nothing.
        """
        raise NotImplementedError

    def add_job(self, job: NewJob, now: float) -> int:
        """Insert one job; its id.  `jobctl add` and Queue.add come here.

        A job with neither a unique key nor parents is one INSERT in
        autocommit mode: SQLite makes the statement its own transaction, and
        takes the write lock (waiting on the busy timeout) before reading, as
        BEGIN IMMEDIATE would.  Skipping BEGIN, COMMIT and the context
        managers saves about a fifth of an enqueue's time.
        """
        raise NotImplementedError

    def add_and_get(self, job: NewJob, now: float) -> Job:
        """Insert one job; the job, as get() would return it.

        A job without a unique key or parents is known without reading it
        back: nothing but this insert has touched its row yet.
        """
        raise NotImplementedError

    def add_batch(self, template: NewJob, payloads: BinaryIO, now: float) -> Sequence[int]:
        """Insert one job like `template` per payload; their ids, in order.

        `payloads`: a binary file of the payloads' JSON texts, one a line, as
        Queue's encoder writes them (ASCII, compact: no control characters),
        read from where it stands in pieces, so memory does not grow with
        the batch.  One transaction.  A template with a unique key or
        parents takes the row-by-row path, which checks those.
        """
        raise NotImplementedError

    def add_each(self, jobs: Iterable[NewJob], now: float) -> list[int]:
        """Insert `jobs` row by row in one transaction, as add_jobs does; their ids.

        `jobs` is read as it is inserted (a batch streamed from a spool):
        unique keys and parents are checked for each.  Any error inserts
        nothing.
        """
        raise NotImplementedError

    def get(self, job_id: int) -> Job:
        """The job with its parents; NoSuchJob if there is none."""
        raise NotImplementedError

    def list(
        self,
        *,
        state: str | None = None,
        queue: str | None = None,
        type: str | None = None,
        limit: int | None = 50,
        before_id: int | None = None,
        after_id: int | None = None,
        text: str | None = None,
        types: Sequence[str] | None = None,
        labels: Sequence[str] | None = None,
    ) -> list[Job]:
        """Jobs newest first, filtered, with their labels; `before_id` pages
        backwards, `after_id` forwards.

        `text` matches the type, the command and the error (case-insensitive);
        `types` are globs over the type (see type_globs.py); `labels`: only
        jobs that have every one of them.
        """
        raise NotImplementedError

    def labelled_ids(self, labels: Sequence[str], states: Sequence[str]) -> list[int]:
        """The ids of the jobs in `states` that have every one of `labels`, in order."""
        raise NotImplementedError

    def finished_per_minute(self, since: float) -> list[tuple[int, str, int]]:
        """(minute, state, count) of jobs that succeeded or failed since `since`."""
        raise NotImplementedError

    def attempts(self, job_id: int) -> list[Attempt]:
        """The job's attempts, oldest first, each with the size of all it wrote."""
        raise NotImplementedError

    def events(self, job_id: int) -> list[Event]:
        """The job's history, oldest first (created and started come from its rows)."""
        raise NotImplementedError

    def latest_attempt(self, job_id: int) -> int | None:
        """The number of the job's latest attempt; None if it never started."""
        raise NotImplementedError

    def output(self, job_id: int, attempt: int) -> list[Piece]:
        """The kept output of one attempt, as (start, bytes) pieces in order."""
        raise NotImplementedError

    def output_after(self, job_id: int, attempt: int, seen: int) -> list[Piece]:
        """The kept pieces of an attempt's output that end past byte `seen`."""
        raise NotImplementedError

    def attempt_ended(self, job_id: int, attempt: int) -> bool | None:
        """Whether the attempt has ended; None if it has not begun."""
        raise NotImplementedError

    def log_lines(self, job_id: int, attempt: int, after: int = 0) -> list[LogLine]:
        """The ctx.log() lines of one attempt with ids above `after`, oldest first."""
        raise NotImplementedError

    def stats(self) -> dict[str, dict[str, int]]:
        """{queue: {state: count}} over every job."""
        raise NotImplementedError

    def paused_queues(self) -> list[str]:
        """The names of the paused queues."""
        raise NotImplementedError

    def job_marks(self, most: int) -> list[tuple[Any, ...]] | None:
        """What may change of the `most` newest jobs (their ids, states,
        times, attempts, errors), newest first: a cheap look at whether the
        newest jobs changed since they were last read, for a commit that may
        have changed only other tables (a daemon's heartbeat, every second).

        None where a daemon's heartbeat is not heard at all (PostgreSQL:
        the triggers that notify are on jobs, queues, workers and output,
        not on daemons), so that a change heard is worth a read.
        """
        return None

    def queue_parallel(self) -> dict[str, int]:
        """{queue: limit} set by `jobctl parallel`; queues without one are left out."""
        raise NotImplementedError

    def cancel(self, job_ids: Iterable[int], now: float) -> dict[int, str]:
        """Cancel jobs: queued ones at once, running ones by request to their daemon.

        All or nothing: an unknown id or a finished job changes nothing.
        Returns {id: "cancelled" | "cancelling"}.  Queued jobs waiting on a
        cancelled job are cancelled with it, so a set may hold a job and
        one waiting on it in either order: each job's state is read before
        any is cancelled.
        """
        raise NotImplementedError

    def cancel_labelled(self, labels: Sequence[str], now: float) -> dict[int, str]:
        """Cancel every queued or running job that has all of `labels`, as
        cancel() does, in one transaction: a job that ends meanwhile (on
        another host) is left out, not an error.  Returns as cancel() does.
        """
        raise NotImplementedError

    def cancel_dependents(self, job_id: int, now: float, reason: str) -> None:
        """Cancel the queued jobs held by `job_id` (which will never succeed), and theirs."""
        raise NotImplementedError

    def retry(self, job_ids: Iterable[int], now: float) -> list[int]:
        """Queue failed or cancelled jobs again: same ids, history kept, a fresh budget.

        All or nothing, like cancel.
        """
        raise NotImplementedError

    def failed_ids(
        self,
        *,
        type: str | None = None,
        queue: str | None = None,
        types: Sequence[str] | None = None,
        labels: Sequence[str] | None = None,
    ) -> list[int]:
        """Failed jobs' ids; `types`: globs over the type (see type_globs.py);
        `labels`: only jobs that have every one of them."""
        raise NotImplementedError

    def purge(
        self,
        cutoff: float,
        states: Sequence[str],
        types: Sequence[str] | None = None,
        labels: Sequence[str] | None = None,
    ) -> int:
        """Delete jobs in `states` that finished before `cutoff`, with their history
        and labels (of the types the globs in `types` match, and with every
        one of `labels`, if given); how many.

        Oldest first, in batches, each its own transaction: an interrupted
        purge has deleted fewer jobs, never half of one.  The newest job
        stays, whatever its age: SQLite gives max(id) + 1 as the next id."""
        raise NotImplementedError

    def purge_count(
        self,
        cutoff: float,
        states: Sequence[str],
        types: Sequence[str] | None = None,
        labels: Sequence[str] | None = None,
    ) -> dict[str, int]:
        """What purge() would delete, per state: `purge --dry-run`."""
        raise NotImplementedError

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
        """One batch of retention (see retention.py): look at the next `limit`
        jobs at most that ended before `cutoff`, in the order they ended from
        `after` (finished_at, id) on, and delete those of `type` (None: of
        any type but `others`, or none), with their history.

        The look is a read; the write lock is taken, for a few milliseconds,
        only if something goes.  Deleting what another daemon deleted first
        deletes nothing.  The newest job stays, as in purge(): it comes back
        as `held`, for the next call to pass back once it is not the newest.
        """
        raise NotImplementedError

    def set_paused(self, queue: str, paused: bool) -> None:
        """Pause a queue (no new claims from it) or resume it; running jobs go on."""
        raise NotImplementedError

    def set_parallel(self, queue: str, limit: int | None) -> None:
        """How many of `queue`'s jobs may run at once over every daemon (>= 1);
        None: forget it, so that jobs.toml's concurrency applies again.
        Claims obey it from their next pass: it overrides their queue_caps."""
        raise NotImplementedError

    def register_daemon(
        self,
        host: str,
        pid: int,
        pid_started: float | None,
        queues: list[str] | None,
        now: float,
        token: str | None = None,
    ) -> int:
        """A new daemon row; its id.  `token` marks every process it will start
        (see processes.RUN_ENV): committed here, before it starts any."""
        raise NotImplementedError

    def heartbeat(self, daemon_id: int, now: float, lease_until: float) -> bool:
        """Renew this daemon's leases; False if it has been declared dead meanwhile."""
        raise NotImplementedError

    def daemon_stopped(self, daemon_id: int, now: float) -> None:
        """Record that a daemon stopped cleanly (its jobs were requeued or ended first)."""
        raise NotImplementedError

    def other_daemons(self, daemon_id: int) -> list[tuple[int, str, int, float | None, float]]:
        """(id, host, pid, pid_started, heartbeat_at) of daemons not known to have stopped."""
        raise NotImplementedError

    def mark_daemons_dead(
        self, daemon_ids: Iterable[int], now: float, stale_before: float | None = None
    ) -> list[int]:
        """Record that these daemons are gone; those it did record.

        With `stale_before` (their lease ran out), only those whose last
        heartbeat is still older than that: compare-and-set, so that one
        committed since the caller looked keeps its daemon alive.  Without
        (their process is dead on this host), all of them."""
        raise NotImplementedError

    def orphaned_jobs(self, daemon_id: int) -> list[tuple[int, int]]:
        """(job id, attempt number) of the running jobs of daemons other than
        `daemon_id` that are known dead (mark_daemons_dead)."""
        raise NotImplementedError

    def orphaned_processes(
        self, attempts: Sequence[tuple[int, int]]
    ) -> list[tuple[int, int | None, float | None, str, str | None]]:
        """(job id, pid, pid start time, host, run token) of what those open
        attempts may have started; the pid is None if it was never recorded."""
        raise NotImplementedError

    def dead_tokens(self, host: str) -> set[str]:
        """The run tokens of the daemons on `host` that stopped or were declared dead."""
        raise NotImplementedError

    def schedule_rows(
        self,
    ) -> dict[str, tuple[float | None, int | None, float | None, float | None]]:
        """{schedule: (last due time, last job id, when it last fired, the due
        time of its latest run: None if it never ran)}."""
        raise NotImplementedError

    def schedule_last_due(self, name: str) -> float | None:
        """The latest due time the schedule enqueued or skipped; None if it never fired."""
        raise NotImplementedError

    def fire_schedule(
        self,
        name: str,
        decide: Callable[[float | None], tuple[list[float], float | None]],
        make_job: Callable[[float], NewJob],
        overlap: str,
        now: float,
    ) -> list[tuple[float, int | None]]:
        """Enqueue what a schedule owes, once however many daemons call this.

        In one write transaction: read the schedule's last due time, let
        `decide(last_due)` say which due times to enqueue and the new last
        due time, insert a job per due time (the unique index on (schedule,
        due_at) backs this up), and move last_due forward.  With overlap
        "skip", a due time whose previous run is still queued or running is
        recorded as a `skipped` event on that run instead.  "Previous" means
        from before this call: the runs one call owes (catch_up = "all") are
        all enqueued, oldest first (the daemon runs them one at a time).
        Returns [(due time, job id or None when skipped)].
        """
        raise NotImplementedError

    def add_workers(self, autostart: dict[str, bool]) -> None:
        """A row for each configured worker not seen before (held unless autostart)."""
        raise NotImplementedError

    def worker_takeable(
        self, name: str, daemon_id: int, host: str, now: float
    ) -> tuple[int | None, LastRun] | None:
        """If `daemon_id` may take worker `name` (free, its own, or its owner
        is gone or silent): (the owner's id, what it last started: pid, pid
        start time, host, run token).  None when a live daemon has it."""
        raise NotImplementedError

    def take_worker(
        self,
        name: str,
        daemon_id: int,
        owner: int | None,
        host: str,
        now: float,
        lease_until: float,
    ) -> tuple[str, bool, int] | None:
        """Become the daemon that runs worker `name`, if `owner` (read by
        worker_takeable) still has it and it is still takeable.

        Returns (state, held, restarts), or None when something changed.
        """
        raise NotImplementedError

    def release_workers(self, daemon_id: int) -> None:
        """Let go of every worker this daemon owns (it is stopping): another may take them."""
        raise NotImplementedError

    def release_worker(self, name: str, daemon_id: int) -> None:
        """Let go of one worker (removed from jobs.toml), if still ours."""
        raise NotImplementedError

    def worker_started(
        self, name: str, daemon_id: int, pid: int, pid_started: float | None, now: float
    ) -> int | None:
        """Record a new run of a worker; its number, or None (and nothing
        written) if `daemon_id` no longer owns the worker."""
        raise NotImplementedError

    def worker_output(self, pieces: Sequence[tuple[str, int, int, bytes]], limit: int) -> None:
        """Store pieces of workers' output: (worker, run, start, bytes) each
        (see record() for jobs)."""
        raise NotImplementedError

    def worker_ended(
        self,
        name: str,
        daemon_id: int,
        number: int,
        exit_status: int | None,
        signal: int | None,
        now: float,
        *,
        state: str,
        restarts: int,
        held: bool,
        next_start_at: float | None,
    ) -> None:
        """End a worker's run (its exit status, or the signal that killed it)
        and settle the worker's state, in one transaction."""
        raise NotImplementedError

    def set_worker(
        self,
        name: str,
        daemon_id: int,
        state: str,
        *,
        held: bool,
        restarts: int,
        next_start_at: float | None,
    ) -> None:
        """A worker's state, if `daemon_id` still owns it (else nothing changes)."""
        raise NotImplementedError

    def owned_workers(self, daemon_id: int) -> set[str]:
        """The workers `daemon_id` owns now: another daemon may have taken one over."""
        raise NotImplementedError

    def worker_requests(self, daemon_id: int) -> list[tuple[str, str]]:
        """Pending start/stop/restart requests for this daemon's workers, now taken."""
        raise NotImplementedError

    def request_worker(self, name: str, requested: str) -> bool:
        """Ask the owning daemon to start, stop or restart a worker; False if unknown."""
        raise NotImplementedError

    def worker_rows(self) -> list[tuple[Any, ...]]:
        """Every worker's row, as api.WorkerInfo takes it."""
        raise NotImplementedError

    def live_daemons(self) -> list[tuple[Any, ...]]:
        """The daemons not known to have stopped, as api.DaemonInfo takes them."""
        raise NotImplementedError

    def latest_worker_run(self, name: str) -> int | None:
        """The number of the worker's latest run; None if it never ran."""
        raise NotImplementedError

    def worker_output_after(self, name: str, number: int, seen: int) -> list[Piece]:
        """Like output_after, for one run of a worker."""
        raise NotImplementedError

    def worker_run_ended(self, name: str, number: int) -> bool | None:
        """Like attempt_ended, for one run of a worker."""
        raise NotImplementedError

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
        raise NotImplementedError

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
        raise NotImplementedError

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
        """Store process ids, output, log lines and finished attempts in one transaction.

        `retry_delay(job, outcome)` says how long a failed attempt waits
        before the next one.  Returns the jobs that failed for good; the
        jobs that will be tried again go into `retries`, {id: run_at}.
        """
        raise NotImplementedError

    def cancel_requests(self, daemon_id: int) -> list[int]:
        """The ids of running jobs of this daemon whose cancel was asked for."""
        raise NotImplementedError

    def dump(self, now: float) -> Iterator[str]:
        """Every job with its parents, attempts, events, log lines and output,
        then the daemons, schedules, queues and workers, as the lines of a
        `jobctl dump` (see dump_format.py), without their newlines.

        One read transaction: a snapshot, whatever commits meanwhile.  Read a
        page of jobs at a time, so memory does not grow with the database.
        """
        raise NotImplementedError

    def load(self, lines: Iterable[str | bytes]) -> dict[str, int]:
        """Insert the records of a dump's `lines`, keeping their ids; how many
        of each kind ({"jobs": N, "daemons": N, "schedules": N, ...}).

        One transaction: a bad line, a job or daemon id already here, or a
        dump cut short raises InputError naming the line and changes nothing.
        Afterwards new jobs get ids above every loaded one.
        """
        raise NotImplementedError

    def transaction(self) -> AbstractContextManager[None]:
        """Let every write inside share one transaction, and one commit.

        The transaction begins at the first write, so a block that ends up
        writing nothing (an idle daemon's loop) costs no lock and no commit.
        """
        raise NotImplementedError
