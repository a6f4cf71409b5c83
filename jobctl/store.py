"""The job store: the only code that runs SQL.

One method per operation, each in one transaction, each returning models.
Time is always a parameter (`now`, Unix seconds), so tests inject a clock.
State changes are compare-and-set UPDATEs (`WHERE state IN (...)`): a row
that was not in the expected state changes nothing, and the caller hears so.

A Store wraps one apsw connection and so belongs to one thread.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import apsw

from jobctl import type_globs
from jobctl.db import Q, explain, open_db, write
from jobctl.errors import NoSuchJob, WrongState
from jobctl.models import (
    Attempt,
    Claimed,
    Event,
    Job,
    LogLine,
    NewJob,
    Outcome,
    State,
    iso,
    loads_json,
)

# The columns a Job is built from, in Job's field order (parents come apart).
_JOB_COLUMNS = (
    "id, type, command, shell, cwd, env, payload, queue, priority, state, run_at, created_at,"
    " started_at, finished_at, attempt, attempts_total, max_attempts, timeout, unique_key,"
    " waiting, result, error, cancel_requested, daemon_id, schedule"
)
_GET_JOB = f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?"
_ATTEMPTS_TOTAL = 15  # its place in _JOB_COLUMNS
# The jobs claim_jobs just claimed, as one JSON row (see claim_jobs).
_CLAIMED_JOBS = (
    f"SELECT json_group_array(json_array({_JOB_COLUMNS})) FROM jobs"
    " WHERE id IN (SELECT value FROM json_each(:ids))"
    " AND state = 'running' AND daemon_id = :daemon_id AND started_at = :now"
)
# `ls` leaves out what a listing never shows and can be large; the page's
# payloads and results are read on their own (Store._with_payloads).
_LIST_COLUMNS = (
    _JOB_COLUMNS.replace("env,", "NULL,").replace("payload,", "'null',").replace("result,", "NULL,")
)
_PAYLOADS_OF = (
    "SELECT id, payload, result FROM jobs WHERE id IN (SELECT value FROM json_each(:ids))"
)

# add_batch reads its payloads from the spool and sends them to SQLite as
# JSON arrays made of pieces of about this size: few enough statements to be
# fast, small enough that memory does not grow with the batch (and SQLite
# refuses values over 1 GB).
BATCH_CHUNK_BYTES = 4 << 20

# `ls --state queued|running` first looks for its page among this many of
# the newest rows (see Store.list).
RECENT_ROWS = 5_000

# The partial indexes that hold jobs by state (see migration 7).
_ENDED = "('succeeded', 'failed', 'cancelled')"
_UNENDED_INDEXES = {
    State.QUEUED: [
        ("jobs_ready", "state = 'queued' AND waiting = 0"),
        ("jobs_waiting", "state = 'queued' AND waiting != 0"),
    ],
    State.RUNNING: [("jobs_running", "state = 'running'")],
}


# Stored output: (where the piece begins in all that was written, its bytes).
Piece = tuple[int, bytes]

# A worker keeps the output of this many of its latest runs (restarting in
# a loop, it would otherwise add up to output_limit per run for ever).
WORKER_RUNS_WITH_OUTPUT = 20

# What a worker's last owner started: (pid, pid start time, host, run token).
LastRun = tuple[int | None, float | None, str | None, str | None]


class PurgeBatch(NamedTuple):
    """What one Store.purge_batch did."""

    deleted: int  # jobs deleted, with their history
    scanned: int  # jobs looked at: the limit, if there may be more
    last: tuple[float, int] | None  # (finished_at, id) of the last looked at: go on after it
    held: int | None  # the newest job, which would have gone: pass it back next time


def _select_where(where: list[str]) -> str:
    """`ls`'s SELECT with `where` joined by AND."""
    return f"SELECT {_LIST_COLUMNS} FROM jobs" + (" WHERE " + " AND ".join(where) if where else "")


class Store:
    """Jobs, attempts, events and queues in one SQLite file."""

    def __init__(self, conn: apsw.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        # `--type` globs of ls, retry and purge (see type_globs.py).
        conn.create_scalar_function(
            "jobctl_type_glob", type_globs.sql_function, 2, deterministic=True
        )
        self._joining = False  # inside transaction(): writes share one transaction
        self._begun = False  # ... which the first of them began

    @classmethod
    def open(cls, path: Path, durability: str = "normal") -> Store:
        return cls(open_db(path, durability), path)

    def checkpoint_often(self) -> None:
        """Checkpoint this connection's commits every 100 WAL pages, not every 4,000.

        For a daemon whose disk filled up once: a WAL allowed 16 MB grows
        back into whatever space is freed, until neither a commit nor a
        checkpoint (which must grow the database file) finds room.
        """
        self.conn.execute("PRAGMA wal_autocheckpoint = 100")

    def shrink_wal(self) -> bool:
        """Copy the WAL into the database and empty it; False if that failed.

        A daemon on a full disk calls this: the WAL is only emptied by a
        checkpoint after a commit that grew it past WAL_CHECKPOINT_PAGES,
        so once the disk is full no commit succeeds and the WAL never
        shrinks, even after space is freed, unless something checkpoints.
        """
        try:
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except apsw.Error:
            return False
        return True

    def data_version(self) -> int:
        """A counter that moves whenever another connection commits.

        The pragma, not apsw's Connection.data_version(): that file control
        only notices other processes' commits once this connection has
        started a new read transaction, which an idle poller never does.
        The pragma reads the WAL index header: a few microseconds.
        """
        return self.conn.execute("PRAGMA data_version").fetchall()[0][0]

    def close(self) -> None:
        self.conn.close()

    def _rows(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        try:
            return self.conn.execute(sql, params).fetchall()
        except apsw.Error as exc:
            raise explain(exc, self.path) from None

    def _value(self, sql: str, params: Any = None) -> Any:
        rows = self._rows(sql, params)
        return rows[0][0] if rows else None

    # -- adding ------------------------------------------------------------

    def add_jobs(self, jobs: Sequence[NewJob], now: float) -> list[int]:
        """Insert `jobs` in one transaction; their ids, in order.

        A job whose (type, unique_key) matches a queued or running job is not
        inserted: its id is that job's.  Any error inserts nothing.
        """
        with self._writing():
            return self._insert(jobs, now)

    def add_job(self, job: NewJob, now: float) -> int:
        """Insert one job; its id.  `jobctl add` and Queue.add come here.

        A job with neither a unique key nor parents is one INSERT in
        autocommit mode: SQLite makes the statement its own transaction, and
        takes the write lock (waiting on the busy timeout) before reading, as
        BEGIN IMMEDIATE would.  Skipping BEGIN, COMMIT and the context
        managers saves about a fifth of an enqueue's time.
        """
        if job.unique_key is not None or job.after or self._joining:
            return self.add_jobs([job], now)[0]
        conn = self.conn
        try:
            conn.execute(Q["insert_job"], _job_params(job, now, 0, None))
            return conn.last_insert_rowid()
        except apsw.Error as exc:
            raise explain(exc, self.path) from None

    def add_and_get(self, job: NewJob, now: float) -> Job:
        """Insert one job; the job, as get() would return it.

        A job without a unique key or parents is known without reading it
        back: nothing but this insert has touched its row yet.
        """
        job_id = self.add_job(job, now)
        if job.unique_key is not None or job.after:
            return self.get(job_id)  # perhaps an existing job; its parents
        return _inserted(job_id, job, now)

    def add_batch(self, template: NewJob, payloads: BinaryIO, now: float) -> Sequence[int]:
        """Insert one job like `template` per payload; their ids, in order.

        `payloads`: a binary file of the payloads' JSON texts, one a line, as
        Queue's encoder writes them (ASCII, compact: no control characters),
        read from where it stands in pieces, so memory does not grow with
        the batch.  One transaction.  A template with a unique key or
        parents takes the row-by-row path, which checks those.
        """
        if template.unique_key is not None or template.after:
            rows = (template._replace(payload=line[:-1].decode("ascii")) for line in payloads)
            return self.add_each(rows, now)
        params = list(_job_params(template, now, 0, None))
        count = 0
        with self._writing():
            for piece in _chunks(payloads, BATCH_CHUNK_BYTES):
                count += piece.count(b"\n")
                # Each line as a JSON string: quotes and backslashes escaped
                # (the texts hold no control characters), lines joined by ",".
                escaped = piece[:-1].replace(b"\\", b"\\\\").replace(b'"', b'\\"')
                array = b'["' + escaped.replace(b"\n", b'","') + b'"]'
                del escaped
                params[5] = array.decode("ascii")  # the payload column's place: see insert_batch
                del array
                self.conn.execute(Q["insert_batch"], params)
            last = self.conn.last_insert_rowid()
        # json_each yields each array in order, and we hold the write lock
        # throughout, so the new ids are the consecutive ones up to the last:
        # a range, which takes no memory however many there are.
        return range(last - count + 1, last + 1)

    def add_each(self, jobs: Iterable[NewJob], now: float) -> list[int]:
        """Insert `jobs` row by row in one transaction, as add_jobs does; their ids.

        `jobs` is read as it is inserted (a batch streamed from a spool):
        unique keys and parents are checked for each.  Any error inserts
        nothing.
        """
        ids: list[int] = []
        with self._writing():
            parent_states: dict[int, str] = {}
            for job in jobs:
                unknown = {p for p in job.after if p not in parent_states}
                if unknown:
                    parent_states.update(self._parent_states(unknown))
                ids.append(self._insert_one(job, now, parent_states))
        return ids

    def _insert(self, jobs: Sequence[NewJob], now: float) -> list[int]:
        conn = self.conn
        parent_states = self._parent_states({p for job in jobs for p in job.after})
        simple = not any(job.unique_key is not None or job.after for job in jobs)
        if simple:
            # The bulk path: one prepared statement run for every row.
            conn.executemany(Q["insert_job"], (_job_params(j, now, 0, None) for j in jobs))
            last = conn.last_insert_rowid()
            return list(range(last - len(jobs) + 1, last + 1))
        return [self._insert_one(job, now, parent_states) for job in jobs]

    def _insert_one(self, job: NewJob, now: float, parent_states: dict[int, str]) -> int:
        conn = self.conn
        if job.unique_key is not None:
            existing = conn.execute(
                Q["find_unique"], {"type": job.type, "unique_key": job.unique_key}
            ).fetchall()
            if existing:
                return existing[0][0]
        waiting = sum(1 for p in job.after if parent_states[p] != State.SUCCEEDED)
        dead = [p for p in job.after if parent_states[p] in (State.FAILED, State.CANCELLED)]
        reason = f"job {dead[0]} {parent_states[dead[0]]}" if dead else None
        conn.execute(Q["insert_job"], _job_params(job, now, waiting, reason))
        job_id = conn.last_insert_rowid()
        if reason:
            self._event(job_id, now, "cancelled", None, reason)
        for parent in job.after:
            conn.execute(Q["insert_dep"], {"parent_id": parent, "job_id": job_id})
        return job_id

    def _parent_states(self, parents: set[int]) -> dict[int, str]:
        states = {}
        for parent in sorted(parents):
            rows = self.conn.execute(Q["job_state"], {"id": parent}).fetchall()
            if not rows:
                raise NoSuchJob(parent)
            states[parent] = rows[0][0]
        return states

    # -- reading -----------------------------------------------------------

    def get(self, job_id: int) -> Job:
        rows = self._rows(_GET_JOB, (job_id,))
        if not rows:
            raise NoSuchJob(job_id)
        parents = tuple(r[0] for r in self._rows(Q["parents_of"], {"id": job_id}))
        return _job(rows[0], parents)

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
    ) -> list[Job]:
        """Jobs newest first, filtered; `before_id` pages backwards, `after_id` forwards.

        `text` matches the type, the command and the error (case-insensitive);
        `types` are globs over the type (see type_globs.py).
        """
        # Only the filters given become SQL, so that the planner can use the
        # (state, id) index: `? IS NULL OR state = ?` would defeat it.
        filters, filter_params = [], []
        for name, value in (("queue", queue), ("type", type)):
            if value is not None:
                filters.append(f"{name} = ?")
                filter_params.append(value)
        if types:
            filters.append("jobctl_type_glob(type, ?)")
            filter_params.append(json.dumps(list(types)))
        if text:
            filters.append(
                "(coalesce(type, '') || ' ' || coalesce(command, '') || ' '"
                " || coalesce(error, '')) LIKE ? ESCAPE '\\'"
            )
            escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            filter_params.append(f"%{escaped}%")
        bounds, bound_params = [], []
        if before_id is not None:
            bounds.append("id < ?")
            bound_params.append(before_id)
        if after_id is not None:
            bounds.append("id > ?")
            bound_params.append(after_id)
        where, params = filters + bounds, filter_params + bound_params
        # Paging forwards reads the oldest of the newer jobs first.
        order = " ORDER BY id" if after_id is not None else " ORDER BY id DESC"
        tail, tail_params = (order + " LIMIT ?", [limit]) if limit is not None else (order, [])
        if state in (State.QUEUED, State.RUNNING) and limit is not None:
            # Jobs not yet ended are mostly the newest ones: look among the
            # RECENT_ROWS next rows in paging order first.  If a whole page
            # is there, it is the page; the indexes below would have to read
            # every queued job to sort them by id.
            recent = "SELECT * FROM jobs" + (" WHERE " + " AND ".join(bounds) if bounds else "")
            sql = (
                f"SELECT {_LIST_COLUMNS} FROM ({recent}{order} LIMIT ?) WHERE "
                + " AND ".join(["state = ?", *filters])
                + tail
            )
            found = self._rows(sql, [*bound_params, RECENT_ROWS, state, *filter_params, limit])
            if len(found) == limit:
                return self._with_payloads(found)
        if state in (State.QUEUED, State.RUNNING):
            # Jobs not yet ended are in other indexes than jobs_state_id
            # (migration 7).  Take the newest ids from each (covering, unless
            # a type or text filter needs the rows), then those ids' rows.
            arms = [
                f"SELECT id FROM (SELECT id FROM jobs INDEXED BY {index} WHERE "
                + " AND ".join([condition, *where])
                + f"{tail})"
                for index, condition in _UNENDED_INDEXES[state]
            ]
            newest_ids = " UNION ALL ".join(arms)
            sql = _select_where([f"id IN ({newest_ids})"]) + tail
            params = (params + tail_params) * len(arms) + tail_params
        else:
            if state is not None:
                # Repeats the partial jobs_state_id index's condition.
                where[:0] = [f"state = ? AND state IN {_ENDED}"]
                params[:0] = [state]
            sql = _select_where(where) + tail
            params += tail_params
        return self._with_payloads(self._rows(sql, params))

    def _with_payloads(self, rows: list[Any]) -> list[Job]:
        """list()'s jobs, with the payload and result of the page's rows only:
        read with the rows, the large values of every row looked at (up to
        RECENT_ROWS) would be copied along."""
        jobs = [_job(row) for row in rows]
        if not jobs:
            return jobs
        ids = json.dumps([job.id for job in jobs])
        found = {
            job_id: (payload, result)
            for job_id, payload, result in self._rows(_PAYLOADS_OF, {"ids": ids})
        }
        return [
            job._replace(payload=loads_json(found[job.id][0]), result=loads_json(found[job.id][1]))
            if job.id in found
            else job
            for job in jobs
        ]

    def finished_per_minute(self, since: float) -> list[tuple[int, str, int]]:
        """(minute, state, count) of jobs that succeeded or failed since `since`."""
        return [tuple(r) for r in self._rows(Q["finished_per_minute"], {"since": since})]

    def attempts(self, job_id: int) -> list[Attempt]:
        return [Attempt(*row) for row in self._rows(Q["attempts_of"], {"id": job_id})]

    def events(self, job_id: int) -> list[Event]:
        return [Event(*row) for row in self._rows(Q["events_of"], {"id": job_id})]

    def latest_attempt(self, job_id: int) -> int | None:
        return self._value(Q["latest_attempt"], {"id": job_id})

    def output(self, job_id: int, attempt: int) -> list[Piece]:
        """The kept output of one attempt, as (start, bytes) pieces in order."""
        return self.output_after(job_id, attempt, 0)

    def output_after(self, job_id: int, attempt: int, seen: int) -> list[Piece]:
        """The kept pieces of an attempt's output that end past byte `seen`."""
        params = {"id": job_id, "number": attempt, "seen": seen}
        return [(start, bytes(data)) for start, data in self._rows(Q["output_after"], params)]

    def attempt_ended(self, job_id: int, attempt: int) -> bool | None:
        """Whether the attempt has ended; None if it has not begun."""
        rows = self._rows(Q["attempt_ended"], {"id": job_id, "number": attempt})
        return bool(rows[0][0]) if rows else None

    def log_lines(self, job_id: int, attempt: int, after: int = 0) -> list[LogLine]:
        rows = self._rows(Q["log_lines_of"], {"id": job_id, "attempt": attempt, "after": after})
        return [LogLine(r[0], r[1], r[2], r[3], loads_json(r[4]), r[5]) for r in rows]

    def stats(self) -> dict[str, dict[str, int]]:
        """{queue: {state: count}} over every job."""
        counts: dict[str, dict[str, int]] = {}
        for queue, state, count in self._rows(Q["stats"]):
            per_state = counts.setdefault(queue, {})
            per_state[state] = per_state.get(state, 0) + count
        return counts

    def paused_queues(self) -> list[str]:
        return [row[0] for row in self._rows(Q["paused_queues"])]

    # -- changing ----------------------------------------------------------

    def cancel(self, job_ids: Iterable[int], now: float) -> dict[int, str]:
        """Cancel jobs: queued ones at once, running ones by request to their daemon.

        All or nothing: an unknown id or a finished job changes nothing.
        Returns {id: "cancelled" | "cancelling"}.  Queued jobs waiting on a
        cancelled job are cancelled with it, so a set may hold a job and
        one waiting on it in either order: each job's state is read before
        any is cancelled.
        """
        outcome: dict[int, str] = {}
        job_ids = list(job_ids)
        with self._writing():
            before = {job_id: self._state(job_id) for job_id in job_ids}
            for job_id in job_ids:
                state = self._state(job_id)
                if state == State.CANCELLED and before[job_id] == State.QUEUED:
                    outcome[job_id] = "cancelled"  # with a job earlier in the set
                elif state == State.QUEUED:
                    self._cancel_queued(job_id, now, "cancelled by request")
                    outcome[job_id] = "cancelled"
                elif state == State.RUNNING:
                    self.conn.execute(Q["request_cancel"], {"id": job_id, "now": now})
                    self._event(job_id, now, "cancel_requested", None, None)
                    outcome[job_id] = "cancelling"
                else:
                    raise WrongState(f"job {job_id} is already {state}")
        return outcome

    def _cancel_queued(self, job_id: int, now: float, reason: str) -> None:
        self.conn.execute(Q["cancel_queued"], {"id": job_id, "now": now, "reason": reason})
        if self.conn.changes() != 1:
            raise WrongState(f"job {job_id} is no longer queued")
        self._event(job_id, now, "cancelled", None, reason)
        self.cancel_dependents(job_id, now, f"job {job_id} cancelled")

    def cancel_dependents(self, job_id: int, now: float, reason: str) -> None:
        """Cancel the queued jobs held by `job_id` (which will never succeed), and theirs."""
        pending = [job_id]
        while pending:
            parent = pending.pop()
            for (child,) in self.conn.execute(Q["children_of"], {"id": parent}).fetchall():
                self.conn.execute(Q["cancel_queued"], {"id": child, "now": now, "reason": reason})
                if self.conn.changes() == 1:
                    self._event(child, now, "cancelled", None, reason)
                    pending.append(child)

    def retry(self, job_ids: Iterable[int], now: float) -> list[int]:
        """Queue failed or cancelled jobs again: same ids, history kept, a fresh budget.

        All or nothing, like cancel.
        """
        done = []
        with self._writing():
            for job_id in job_ids:
                state = self._state(job_id)
                if state not in (State.FAILED, State.CANCELLED):
                    raise WrongState(
                        f"job {job_id} is {state}; only failed or cancelled jobs can be retried"
                    )
                waiting = self.conn.execute(Q["unsucceeded_parents"], {"id": job_id}).fetchall()
                self.conn.execute(
                    Q["requeue_finished"], {"id": job_id, "now": now, "waiting": waiting[0][0]}
                )
                self._event(job_id, now, "retried", None, f"was {state}")
                done.append(job_id)
        return done

    def failed_ids(
        self,
        *,
        type: str | None = None,
        queue: str | None = None,
        types: Sequence[str] | None = None,
    ) -> list[int]:
        """Failed jobs' ids; `types`: globs over the type (see type_globs.py)."""
        if types:
            params = {"types": json.dumps(list(types)), "queue": queue}
            return [row[0] for row in self._rows(Q["retryable_ids_types"], params)]
        return [row[0] for row in self._rows(Q["retryable_ids"], {"type": type, "queue": queue})]

    def purge(
        self, cutoff: float, states: Sequence[str], types: Sequence[str] | None = None
    ) -> int:
        """Delete jobs in `states` that finished before `cutoff`, with their history
        (of the types the globs in `types` match, if given)."""
        with self._writing():
            self.conn.execute(Q["purge_prepare"])
            params = {"states": json.dumps(list(states)), "cutoff": cutoff}
            if types:
                params["types"] = json.dumps(list(types))
            self.conn.execute(Q["purge_select_types" if types else "purge_select"], params)
            count = self.conn.changes()
            self.conn.execute(Q["purge_delete"])
        return count

    def purge_count(
        self, cutoff: float, states: Sequence[str], types: Sequence[str] | None = None
    ) -> dict[str, int]:
        """What purge() would delete, per state: `purge --dry-run`."""
        params = {"states": json.dumps(list(states)), "cutoff": cutoff}
        if types:
            params["types"] = json.dumps(list(types))
        return dict(self._rows(Q["purge_count_types" if types else "purge_count"], params))

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
        row = self._rows(
            Q["retention_scan"],
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
                self.conn.execute(Q["purge_prepare"])
                self.conn.execute(Q["retention_take"], {"ids": json.dumps(ids), "cutoff": cutoff})
                deleted = self.conn.changes()
                self.conn.execute(Q["purge_delete"])
        last = (last_at, last_id) if scanned else None
        return PurgeBatch(deleted, scanned, last, kept)

    def set_paused(self, queue: str, paused: bool) -> None:
        with self._writing():
            self.conn.execute(Q["set_paused"], {"name": queue, "paused": int(paused)})

    # -- the daemon --------------------------------------------------------

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
        with self._writing():
            self.conn.execute(
                Q["register_daemon"],
                {
                    "host": host,
                    "pid": pid,
                    "pid_started": pid_started,
                    "now": now,
                    "queues": json.dumps(queues) if queues else None,
                    "token": token,
                },
            )
            return self.conn.last_insert_rowid()

    def heartbeat(self, daemon_id: int, now: float, lease_until: float) -> bool:
        """Renew this daemon's leases; False if it has been declared dead meanwhile."""
        with self._writing():
            self.conn.execute(Q["heartbeat"], {"id": daemon_id, "now": now})
            if not self.conn.changes():
                return False
            self.conn.execute(Q["extend_leases"], {"id": daemon_id, "lease_until": lease_until})
            params = {"id": daemon_id, "lease_until": lease_until}
            self.conn.execute(Q["extend_worker_leases"], params)
        return True

    def daemon_stopped(self, daemon_id: int, now: float) -> None:
        with self._writing():
            self.conn.execute(Q["daemon_stopped"], {"id": daemon_id, "now": now})

    def other_daemons(self, daemon_id: int) -> list[tuple[int, str, int, float | None, float]]:
        """(id, host, pid, pid_started, heartbeat_at) of daemons not known to have stopped."""
        return self._rows(Q["other_live_daemons"], {"id": daemon_id})

    def mark_daemons_dead(self, daemon_ids: Iterable[int], now: float) -> None:
        with self._writing():
            for daemon_id in daemon_ids:
                self.conn.execute(Q["mark_daemon_dead"], {"id": daemon_id, "now": now})

    def orphaned_jobs(self, daemon_id: int, host: str, now: float) -> list[tuple[int, int]]:
        """(job id, attempt number) of running jobs whose daemon is gone."""
        params = {"id": daemon_id, "host": host, "now": now}
        return [(r[0], r[1]) for r in self._rows(Q["orphaned_jobs"], params)]

    def orphaned_processes(
        self, attempts: Sequence[tuple[int, int]]
    ) -> list[tuple[int, int | None, float | None, str, str | None]]:
        """(job id, pid, pid start time, host, run token) of what those open
        attempts may have started; the pid is None if it was never recorded."""
        params = {"attempts": json.dumps([list(a) for a in attempts])}
        return [tuple(r) for r in self._rows(Q["orphaned_processes"], params)]

    # -- schedules ---------------------------------------------------------

    def schedule_rows(
        self,
    ) -> dict[str, tuple[float | None, int | None, float | None, float | None]]:
        """{schedule: (last due time, last job id, when it last fired, the due
        time of its latest run: None if it never ran)}."""
        return {r[0]: (r[1], r[2], r[3], r[4]) for r in self._rows(Q["schedule_rows"])}

    def schedule_last_due(self, name: str) -> float | None:
        return self._value(Q["schedule_last_due"], {"name": name})

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
        fired: list[tuple[float, int | None]] = []
        with self._writing():
            conn = self.conn
            due_times, new_last = decide(self._value(Q["schedule_last_due"], {"name": name}))
            last_job = None
            busy = []
            if overlap == "skip" and due_times:
                busy = conn.execute(Q["schedule_busy"], {"name": name}).fetchall()
            for due in due_times:
                if busy:
                    job_id, state = busy[0]
                    detail = f"the run due {iso(due)} was skipped: this one is still {state}"
                    self._event(job_id, now, "skipped", None, detail)
                    fired.append((due, None))
                    continue
                try:
                    last_job = self._insert_one(make_job(due), now, {})
                except apsw.ConstraintError:
                    continue  # another daemon enqueued this due time first
                fired.append((due, last_job))
            if new_last is not None:
                conn.execute(
                    Q["schedule_advanced"],
                    {
                        "name": name,
                        "last_due": new_last,
                        "job_id": last_job,
                        "fired_at": now if last_job is not None else None,
                    },
                )
        return fired

    # -- workers -------------------------------------------------------------

    def add_workers(self, autostart: dict[str, bool]) -> None:
        """A row for each configured worker not seen before (held unless autostart)."""
        with self._writing():
            for name, start in autostart.items():
                self.conn.execute(Q["add_worker"], {"name": name, "held": int(not start)})

    def worker_takeable(
        self, name: str, daemon_id: int, host: str, now: float
    ) -> tuple[int | None, LastRun] | None:
        """If `daemon_id` may take worker `name` (free, its own, or its owner
        is gone or silent): (the owner's id, what it last started: pid, pid
        start time, host, run token).  None when a live daemon has it."""
        params = {"name": name, "id": daemon_id, "now": now, "host": host}
        rows = self._rows(Q["worker_takeable"], params)
        if not rows:
            return None
        owner, pid, pid_started, owner_host, token = rows[0]
        return owner, (pid, pid_started, owner_host, token)

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
        with self._writing():
            params = {
                "name": name,
                "id": daemon_id,
                "owner": owner,
                "now": now,
                "lease_until": lease_until,
                "host": host,
            }
            taken = self.conn.execute(Q["take_worker"], params).fetchall()
        if not taken:
            return None
        state, held, restarts = taken[0]
        return state, bool(held), restarts

    def release_workers(self, daemon_id: int) -> None:
        with self._writing():
            self.conn.execute(Q["release_workers"], {"id": daemon_id})

    def release_worker(self, name: str, daemon_id: int) -> None:
        """Let go of one worker (removed from jobs.toml), if still ours."""
        with self._writing():
            self.conn.execute(Q["release_worker"], {"name": name, "id": daemon_id})

    def worker_started(
        self, name: str, daemon_id: int, pid: int, pid_started: float | None, now: float
    ) -> int | None:
        """Record a new run of a worker; its number, or None (and nothing
        written) if `daemon_id` no longer owns the worker."""
        with self._writing():
            self.conn.execute(
                Q["worker_running"],
                {
                    "name": name,
                    "pid": pid,
                    "pid_started": pid_started,
                    "now": now,
                    "daemon_id": daemon_id,
                },
            )
            if not self.conn.changes():
                return None
            params = {"name": name, "daemon_id": daemon_id, "pid": pid, "now": now}
            number = self.conn.execute(Q["worker_run_started"], params).fetchall()[0][0]
            params = {"name": name, "number": number, "keep": WORKER_RUNS_WITH_OUTPUT}
            self.conn.execute(Q["forget_old_worker_output"], params)
            return number

    def worker_output(self, pieces: Sequence[tuple[str, int, int, bytes]], limit: int) -> None:
        """Store pieces of workers' output: (worker, run, start, bytes) each
        (see record() for jobs)."""
        with self._writing():
            for name, number, start, data in pieces:
                params = {"name": name, "number": number, "start": start, "data": data}
                self.conn.execute(Q["add_worker_output"], params)
                cut = start + len(data) - limit
                if cut > 0:
                    params = {"name": name, "number": number, "cut": cut}
                    self.conn.execute(Q["trim_worker_output"], params)

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
        with self._writing():
            conn = self.conn
            params = {
                "name": name,
                "number": number,
                "now": now,
                "exit_status": exit_status,
                "signal": signal,
            }
            conn.execute(Q["worker_run_ended"], params)
            conn.execute(
                Q["worker_settled"],
                {
                    "name": name,
                    "state": state,
                    "restarts": restarts,
                    "last_exit": exit_status if signal is None else -signal,
                    "now": now,
                    "held": int(held),
                    "next_start_at": next_start_at,
                    "daemon_id": daemon_id,
                },
            )

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
        with self._writing():
            params = {
                "daemon_id": daemon_id,
                "name": name,
                "state": state,
                "held": int(held),
                "restarts": restarts,
                "next_start_at": next_start_at,
            }
            self.conn.execute(Q["worker_set"], params)

    def owned_workers(self, daemon_id: int) -> set[str]:
        """The workers `daemon_id` owns now: another daemon may have taken one over."""
        return {r[0] for r in self._rows(Q["owned_workers"], {"id": daemon_id})}

    def worker_requests(self, daemon_id: int) -> list[tuple[str, str]]:
        """Pending start/stop/restart requests for this daemon's workers, now taken."""
        rows = self._rows(Q["worker_requests"], {"id": daemon_id})
        if rows:
            with self._writing():
                for name, requested in rows:
                    params = {"name": name, "requested": requested}
                    self.conn.execute(Q["clear_worker_request"], params)
        return [tuple(r) for r in rows]

    def request_worker(self, name: str, requested: str) -> bool:
        """Ask the owning daemon to start, stop or restart a worker; False if unknown."""
        with self._writing():
            self.conn.execute(Q["request_worker"], {"name": name, "requested": requested})
            return self.conn.changes() > 0

    def worker_rows(self) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self._rows(Q["worker_rows"])]

    def live_daemons(self) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self._rows(Q["live_daemons"])]

    def latest_worker_run(self, name: str) -> int | None:
        return self._value(Q["latest_worker_run"], {"name": name})

    def worker_output_after(self, name: str, number: int, seen: int) -> list[Piece]:
        """Like output_after, for one run of a worker."""
        params = {"name": name, "number": number, "seen": seen}
        return [(s, bytes(d)) for s, d in self._rows(Q["worker_output_after"], params)]

    def worker_run_ended(self, name: str, number: int) -> bool | None:
        """Like attempt_ended, for one run of a worker."""
        rows = self._rows(Q["worker_run_ended_yet"], {"name": name, "number": number})
        return bool(rows[0][0]) if rows else None

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
        paused = {r[0] for r in self._rows(Q["paused_names"])}
        soonest = None
        for (queue,) in self._rows(Q["ready_queues"]):
            if queue in paused or (queues is not None and queue not in queues):
                continue
            if types is not None:  # type is not in jobs_ready: one scan of the queue
                params = {"queue": queue, "types": json.dumps(list(types))}
                run_at = self._value(Q["first_run_at_types"], params) if types else None
                if run_at is not None and (soonest is None or run_at < soonest):
                    soonest = run_at
                continue
            level = self._value(Q["top_priority"], {"queue": queue})
            while level is not None:
                run_at = self._value(Q["first_run_at"], {"queue": queue, "priority": level})
                if run_at is not None and (soonest is None or run_at < soonest):
                    soonest = run_at
                level = self._value(Q["priority_below"], {"queue": queue, "below": level})
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
        `types`: only jobs of these type names ("" for ad hoc commands).
        """
        if types is not None and not types:
            return []
        claimed: list[Claimed] = []
        with self._writing():
            conn = self.conn
            paused = {r[0] for r in conn.execute(Q["paused_names"]).fetchall()}
            names = [r[0] for r in conn.execute(Q["ready_queues"]).fetchall()]
            names = [n for n in names if n not in paused and (queues is None or n in queues)]
            if not names:
                return claimed
            room_in_queue = {}
            if queue_caps:
                running = dict(conn.execute(Q["running_per_queue"]).fetchall())
                room_in_queue = {q: cap - running.get(q, 0) for q, cap in queue_caps.items()}
            room_for_type = {}
            if type_caps:
                running = dict(conn.execute(Q["running_per_type"]).fetchall())
                room_for_type = {t: cap - running.get(t, 0) for t, cap in type_caps.items()}
            candidates = []
            for name in names:
                limit = min(slots, room_in_queue.get(name, slots))
                if limit <= 0:
                    continue
                params = {"queue": name, "now": now, "limit": limit + (slots if type_caps else 0)}
                query = Q["ready_in_queue"]
                if types is not None:
                    params["types"] = json.dumps(types)
                    query = Q["ready_in_queue_types"]
                rows = json.loads(conn.execute(query, params).fetchall()[0][0])
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
            conn.execute(Q["claim_jobs"], params)
            conn.execute(Q["insert_attempts"], params)
            rows = json.loads(conn.execute(_CLAIMED_JOBS, params).fetchall()[0][0])
            jobs = {}
            for row in rows:
                try:
                    jobs[row[0]] = _job(row)
                except (ValueError, TypeError, RecursionError) as exc:
                    # Stored by an older jobctl, or by hand: fail it alone,
                    # rather than the whole claim, and the daemon with it.
                    self._fail_unreadable(row[0], row[_ATTEMPTS_TOTAL], now, exc)
            claimed = [Claimed(jobs[i], jobs[i].attempts_total) for i in chosen if i in jobs]
        return claimed

    def _fail_unreadable(self, job_id: int, number: int, now: float, exc: Exception) -> None:
        """Fail a just-claimed job whose stored fields cannot be decoded."""
        error = f"the stored job cannot be read: {type(exc).__name__}"
        params = {"id": job_id, "number": number, "now": now, "outcome": "failed"}
        self.conn.execute(
            Q["end_attempt"], params | {"exit_status": None, "signal": None, "error": error}
        )
        self.conn.execute(
            Q["job_failed"], {"id": job_id, "now": now, "error": error, "state": "failed"}
        )
        self._event(job_id, now, "failed", number, error)
        self.cancel_dependents(job_id, now, f"job {job_id} failed")

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
        failed_for_good = []
        with self._writing():
            conn = self.conn
            for job_id, number, pid, pid_started in pids:
                params = {"id": job_id, "number": number, "pid": pid, "pid_started": pid_started}
                conn.execute(Q["set_attempt_pid"], params)
            for job_id, number, start, data in outputs:
                params = {"id": job_id, "number": number, "start": start, "data": data}
                conn.execute(Q["add_output"], params)
                cut = start + len(data) - output_limit
                if cut > 0:  # pieces wholly before the last output_limit bytes go
                    conn.execute(Q["trim_output"], {"id": job_id, "number": number, "cut": cut})
            for job_id, number, at, message, data, *level in logs:  # level: "info" if left out
                params = {"id": job_id, "attempt": number, "at": at, "message": message}
                params |= {"data": data, "level": level[0] if level else "info"}
                conn.execute(Q["add_log_line"], params)
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
        """Successes in three statements however many: the daemon's hot path.

        Their events come from the attempts rows (see events_of).
        """
        conn = self.conn
        batch = json.dumps([[o.job_id, o.attempt, o.exit_status, o.result] for o in outcomes])
        params = {"batch": batch, "now": now}
        conn.execute(Q["end_attempts_succeeded"], params)
        if not conn.changes():
            return
        conn.execute(Q["jobs_succeeded"], params)
        parents = conn.execute(Q["succeeded_parents"], params).fetchall()[0][0]
        if parents != "[]":
            conn.execute(Q["release_children_of_all"], {"ids": parents})

    def _finish_attempt(
        self,
        outcome: Outcome,
        now: float,
        retry_delay: Callable[[Job, Outcome], float],
        retries: dict[int, float] | None = None,
    ) -> Job | None:
        conn = self.conn
        job_id, number, kind = outcome.job_id, outcome.attempt, outcome.outcome
        conn.execute(
            Q["end_attempt"],
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
        if not conn.changes():
            return None  # already ended by recovery: the job is no longer this attempt's
        if kind != "cancelled":
            # A cancel asked for while the attempt ran wins over a retry or a
            # requeue: the job must not run again (claiming clears the flag).
            asked = conn.execute(Q["cancel_asked"], {"id": job_id}).fetchall()
            if asked and asked[0][0]:
                kind = "cancelled"
        if kind == "interrupted":
            params = {"id": job_id, "run_at": now, "error": outcome.error, "refund": 1}
            conn.execute(Q["job_requeued"], params)
            if conn.changes():
                self._event(job_id, now, "interrupted", number, outcome.error)
            return None
        if kind == "cancelled":
            params = {
                "id": job_id,
                "now": now,
                "error": "cancelled by request",
                "state": "cancelled",
            }
            conn.execute(Q["job_failed"], params)
            if conn.changes():
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
            conn.execute(Q["job_requeued"], params)
            self._event(job_id, now, "retrying", number, f"in {delay:.1f}s: {outcome.error}")
            if retries is not None:
                retries[job_id] = now + delay
            return None
        params = {"id": job_id, "now": now, "error": outcome.error, "state": "failed"}
        conn.execute(Q["job_failed"], params)
        self._event(job_id, now, "failed", number, outcome.error)
        self.cancel_dependents(job_id, now, f"job {job_id} failed")
        return self._get_in_txn(job_id)

    def cancel_requests(self, daemon_id: int) -> list[int]:
        return [r[0] for r in self._rows(Q["cancel_requests"], {"id": daemon_id})]

    # -- helpers -----------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Let every write inside share one transaction, and one commit.

        The transaction begins at the first write, so a block that ends up
        writing nothing (an idle daemon's loop) costs no lock and no commit.
        """
        self._joining = True
        try:
            yield
            if self._begun:
                try:
                    self.conn.execute("COMMIT")
                except apsw.Error as exc:
                    raise explain(exc, self.path) from None
        except BaseException:
            if self._begun and not self.conn.get_autocommit():
                self.conn.execute("ROLLBACK")
            raise
        finally:
            self._joining = self._begun = False

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """A write transaction whose SQLite errors become one-line DatabaseErrors."""
        try:
            if self._joining:
                if not self._begun:
                    self.conn.execute("BEGIN IMMEDIATE")
                    self._begun = True
                yield  # transaction() commits, or rolls back on an error
                return
            with write(self.conn):
                yield
        except apsw.Error as exc:
            raise explain(exc, self.path) from None

    def _get_in_txn(self, job_id: int) -> Job:
        return _job(self.conn.execute(_GET_JOB, (job_id,)).fetchall()[0])

    def _state(self, job_id: int) -> State:
        rows = self.conn.execute(Q["job_state"], {"id": job_id}).fetchall()
        if not rows:
            raise NoSuchJob(job_id)
        return State(rows[0][0])

    def _event(
        self, job_id: int, at: float, kind: str, attempt: int | None, detail: str | None
    ) -> None:
        self.conn.execute(
            Q["add_event"],
            {"job_id": job_id, "at": at, "kind": kind, "attempt": attempt, "detail": detail},
        )


def _job_params(job: NewJob, now: float, waiting: int, cancelled_reason: str | None) -> tuple:
    """insert_job's parameters, in the order its VALUES lists them."""
    return (
        job.type,
        json.dumps(job.command) if job.command is not None else None,
        int(job.shell),
        job.cwd,
        json.dumps(job.env) if job.env is not None else None,
        job.payload,
        job.queue,
        job.priority,
        "cancelled" if cancelled_reason else "queued",
        job.run_at or now,
        now,
        job.max_attempts,
        job.timeout,
        job.unique_key,
        waiting,
        cancelled_reason,
        now if cancelled_reason else None,
        job.schedule,
        job.due_at,
    )


def _chunks(lines: BinaryIO, most_bytes: int) -> Iterator[bytes]:
    """The file's lines in consecutive pieces of about `most_bytes`, each whole
    lines (a single line may be more)."""
    while piece := lines.read(most_bytes):
        if not piece.endswith(b"\n"):
            piece += lines.readline()
        yield piece


def _inserted(job_id: int, job: NewJob, now: float) -> Job:
    """The Job get() reads back from the row _job_params made of `job` (no
    parents, no unique key); a test compares the two."""
    timeout = job.timeout
    return Job(
        job_id, job.type, None if job.command is None else list(job.command), job.shell,
        job.cwd, None if job.env is None else dict(job.env), json.loads(job.payload),
        job.queue, job.priority, State.QUEUED, float(job.run_at or now), float(now), None,
        None, 0, 0, job.max_attempts, None if timeout is None else float(timeout), None, 0,
        None, None, None, None, job.schedule,
    )  # fmt: skip


def _job(row: tuple[Any, ...], parents: tuple[int, ...] = ()) -> Job:
    values = list(row)
    values[2] = loads_json(values[2])  # command
    values[3] = bool(values[3])  # shell
    values[5] = loads_json(values[5])  # env
    values[6] = loads_json(values[6])  # payload
    values[9] = State(values[9])
    values[20] = loads_json(values[20])  # result
    return Job(*values, parents=parents)
