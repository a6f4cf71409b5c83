"""The SQLite store: one file in WAL mode, through apsw.

What both stores share is in sql_store.py; here is what SQLite does its own
way: one writer at a time (BEGIN IMMEDIATE, see sqlite_db.py), bulk inserts
that learn their ids from last_insert_rowid(), claims and listings that name
the partial index to use, and a data_version counter that an inotify watch
on the folder wakes (wakeup.py).

A SqliteStore wraps one apsw connection and so belongs to one thread.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import apsw

from jobctl import type_globs
from jobctl.models import Job, NewJob, State, loads_json
from jobctl.store.rows import JOB_COLUMNS, job_from_row, job_params, like_pattern, line_chunks
from jobctl.store.sql_base import DuplicateJob
from jobctl.store.sql_store import SqlStore
from jobctl.store.sqlite_db import Q, explain, open_db, write

if TYPE_CHECKING:
    from jobctl.wakeup import CommitWatcher

# `ls` leaves out what a listing never shows and can be large; the page's
# payloads and results are read on their own (SqliteStore._with_payloads).
_LIST_COLUMNS = (
    JOB_COLUMNS.replace("env,", "NULL,").replace("payload,", "'null',").replace("result,", "NULL,")
)
# What job_marks reads: a job's columns that change after it is added.
_MARKS = (
    "SELECT id, queue, priority, state, run_at, started_at, finished_at, attempt,"
    " attempts_total, max_attempts, waiting, error, cancel_requested, daemon_id"
    " FROM jobs ORDER BY id DESC LIMIT ?"
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
# the newest rows (see SqliteStore.list).
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


def _select_where(where: list[str]) -> str:
    """`ls`'s SELECT with `where` joined by AND."""
    return f"SELECT {_LIST_COLUMNS} FROM jobs" + (" WHERE " + " AND ".join(where) if where else "")


class SqliteStore(SqlStore):
    """Jobs, attempts, events and queues in one SQLite file."""

    def __init__(self, conn: apsw.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        self.where = str(path)
        # `--type` globs of ls, retry and purge (see type_globs.py).
        conn.create_scalar_function(
            "jobctl_type_glob", type_globs.sql_function, 2, deterministic=True
        )
        self._joining = False  # inside transaction(): writes share one transaction
        self._begun = False  # ... which the first of them began

    @classmethod
    def open(cls, path: Path, durability: str = "normal") -> SqliteStore:
        return cls(open_db(Path(path), durability), Path(path))

    def watcher(self, poll: float, eager: bool = True) -> CommitWatcher:
        # Imported here: wakeup.py loads ctypes, which `jobctl add` never needs.
        from jobctl.wakeup import CommitWatcher

        return CommitWatcher(self.path, poll, eager)

    # -- the primitives of SqlBase ---------------------------------------------

    def _all(self, name: str, params: Any = None) -> list[tuple[Any, ...]]:
        return self._rows(Q[name], params)

    def _exec(self, name: str, params: Any = None) -> int:
        conn = self.conn
        conn.execute(Q[name], params)
        return conn.changes()

    def _insert_id(self, name: str, params: Any) -> int:
        try:
            self.conn.execute(Q[name], params)
        except apsw.ConstraintError:
            raise DuplicateJob from None
        return self.conn.last_insert_rowid()

    def _exec_many(self, name: str, rows: list[dict[str, Any]]) -> None:
        if rows:
            try:
                self.conn.executemany(Q[name], rows)
            except apsw.Error as exc:
                raise explain(exc, self.path) from None

    @contextmanager
    def _reading(self) -> Iterator[None]:
        # A deferred BEGIN: the snapshot is taken by the first read, and
        # held (WAL mode) while writers go on, until the COMMIT.
        try:
            self.conn.execute("BEGIN")
        except apsw.Error as exc:
            raise explain(exc, self.path) from None
        try:
            yield
        finally:
            if not self.conn.get_autocommit():
                self.conn.execute("COMMIT")

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

    def add_job(self, job: NewJob, now: float) -> int:
        """Insert one job; its id.  `jobctl add` and Queue.add come here.

        A job with neither a unique key nor parents is one INSERT in
        autocommit mode: SQLite makes the statement its own transaction, and
        takes the write lock (waiting on the busy timeout) before reading, as
        BEGIN IMMEDIATE would.  Skipping BEGIN, COMMIT and the context
        managers saves about a fifth of an enqueue's time.
        """
        if job.unique_key is not None or job.after or job.labels or self._joining:
            return self.add_jobs([job], now)[0]  # labels: a second insert, one transaction
        conn = self.conn
        try:
            conn.execute(Q["insert_job"], job_params(job, now, 0, None))
            return conn.last_insert_rowid()
        except apsw.Error as exc:
            raise explain(exc, self.path) from None

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
        params = list(job_params(template, now, 0, None))
        count = 0
        with self._writing():
            for piece in line_chunks(payloads, BATCH_CHUNK_BYTES):
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
            # throughout, so the new ids are the consecutive ones up to the
            # last: a range, which takes no memory however many there are.
            ids = range(last - count + 1, last + 1)
            self._add_labels(ids, template.labels)
        return ids

    def _insert(self, jobs: Sequence[NewJob], now: float) -> list[int]:
        if any(job.unique_key is not None or job.after for job in jobs):
            return super()._insert(jobs, now)
        # The bulk path: one prepared statement run for every row.
        conn = self.conn
        conn.executemany(Q["insert_job"], (job_params(j, now, 0, None) for j in jobs))
        last = conn.last_insert_rowid()
        ids = list(range(last - len(jobs) + 1, last + 1))
        for job_id, job in zip(ids, jobs, strict=True):
            if job.labels:
                self._add_labels([job_id], job.labels)
        return ids

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
            filter_params.append(like_pattern(text))
        for label in labels or ():
            # One seek in job_labels' primary key per label: all of them.
            filters.append("id IN (SELECT job_id FROM job_labels WHERE label = ?)")
            filter_params.append(label)
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
                return self._with_labels(self._with_payloads(found))
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
        return self._with_labels(self._with_payloads(self._rows(sql, params)))

    def job_marks(self, most: int) -> list[tuple[Any, ...]]:
        return self._rows(_MARKS, (most,))

    def _with_payloads(self, rows: list[Any]) -> list[Job]:
        """list()'s jobs, with the payload and result of the page's rows only:
        read with the rows, the large values of every row looked at (up to
        RECENT_ROWS) would be copied along."""
        jobs = [job_from_row(row) for row in rows]
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
