"""The PostgreSQL store: one server, daemons on many hosts.

What both stores share is in sql_store.py; here is what PostgreSQL does its
own way.  Writers run side by side (READ COMMITTED), not one at a time as
on SQLite, so:
- claims lock the rows they read (FOR UPDATE SKIP LOCKED, in the named
  statements) and skip those another daemon holds;
- a unique key or a schedule's due time that another host inserted first
  is an `ON CONFLICT DO NOTHING` that returns no id (DuplicateJob);
- queue and type caps, counted over every daemon, take one advisory lock
  while claiming, so that two hosts never both see the last free place;
- changes are announced by triggers with NOTIFY (schema 001), which a
  listening connection turns into data_version() and wakes wait() with.

A PostgresStore wraps one connection (and, once asked, a second one that
listens) and so belongs to one thread.
"""

from __future__ import annotations

import json
import select
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, BinaryIO

import psycopg

from jobctl.errors import DatabaseBusy, DatabaseError
from jobctl.models import Job, NewJob
from jobctl.store.postgres_db import explain_pg, mask_url, open_pg, parse_url, poll_only
from jobctl.store.rows import (
    INSERT_COLUMNS,
    JOB_COLUMNS,
    job_from_row,
    job_params,
    like_pattern,
    line_chunks,
)
from jobctl.store.sql_base import DuplicateJob
from jobctl.store.sql_store import SqlStore

_PASSING = (
    psycopg.errors.DeadlockDetected,
    psycopg.errors.SerializationFailure,
    psycopg.errors.LockNotAvailable,
    psycopg.OperationalError,
)

Q: dict[str, str] = {}  # named statements, loaded with the first store (see _statements)

# add_batch sends payloads in arrays of about this many bytes.
BATCH_CHUNK_BYTES = 4 << 20

# Without LISTEN (poll_only), data_version() is a query: wait() sleeps this
# long at least between two, whatever poll a caller asks for.
POLL_ONLY_SECONDS = 0.05
# A listening connection that could not be opened is tried again after this.
LISTEN_RETRY_SECONDS = 1.0

_ENDED = ("succeeded", "failed", "cancelled")
_FLOAT_COLUMNS = {"run_at", "created_at", "timeout", "finished_at", "due_at"}
# What `ls` reads of each job: as SQLite's listing, not the environment a
# command was added with (nothing lists it); payloads and results, which a
# PostgreSQL row holds anyway, come with it.
_LIST_COLUMNS = JOB_COLUMNS.replace("env,", "NULL,")


def _statements() -> dict[str, str]:
    if not Q:
        from jobctl.store.named_sql import statements

        Q.update(statements("postgres"))
    return Q


class PostgresStore(SqlStore):
    """Jobs, attempts, events and queues in one PostgreSQL schema."""

    def __init__(self, conn: psycopg.Connection, url: str) -> None:
        self.conn = conn
        self.url = url
        self.where = mask_url(url)
        self.q = _statements()
        self._joining = False  # inside transaction(): writes share one transaction
        self._begun = False  # ... which the first of them began
        self._in_transaction = False  # a BEGIN not yet ended: never reconnect inside one
        self.poll_only = poll_only(url)
        self._listener: psycopg.Connection | None = None
        self._listen_again_at = 0.0  # time.monotonic(): when to try to listen again
        self._version = 0  # data_version(): changes heard of so far
        self._own_pid = conn.info.backend_pid  # our own commits are not news

    @classmethod
    def open(cls, url: str, durability: str = "normal") -> PostgresStore:
        # `durability` is SQLite's synchronous setting; a PostgreSQL commit
        # is as durable as the server is set up to make it.
        return cls(open_pg(url), url)

    def close(self) -> None:
        for conn in (self._listener, self.conn):
            if conn is not None:
                conn.close()
        self._listener = None

    # -- the primitives of SqlBase ---------------------------------------------

    def _connected(self) -> psycopg.Connection:
        """The connection, opened again if it broke (a server restart, a
        network cut) between transactions.  Inside one the transaction is
        lost with it: the caller hears DatabaseBusy and runs it again."""
        conn = self.conn
        if not conn.broken and not conn.closed:
            return conn
        if self._in_transaction:
            raise DatabaseBusy(f"PostgreSQL {self.where}: the connection was lost")
        try:
            self.conn = open_pg(self.url)
        except DatabaseError as exc:
            raise DatabaseBusy(str(exc)) from None
        self._own_pid = self.conn.info.backend_pid
        return self.conn

    def _cursor(self, name: str, params: Any) -> psycopg.Cursor:
        if isinstance(params, tuple | list) and name == "insert_job":
            params = dict(zip(INSERT_COLUMNS, params, strict=True))
        try:
            return self._connected().execute(self.q[name], params)
        except psycopg.Error as exc:
            raise self._explain(exc) from None

    def _explain(self, exc: psycopg.Error) -> DatabaseError:
        """A one-line error, with no password; DatabaseBusy for what passes
        (a deadlock broken, a lock wait, the server away), which the daemon
        waits out as it does SQLite's busy database."""
        error = explain_pg(exc, self.url)
        if isinstance(exc, _PASSING):
            return DatabaseBusy(str(error))
        return error

    def _all(self, name: str, params: Any = None) -> list[tuple[Any, ...]]:
        cursor = self._cursor(name, params)
        return cursor.fetchall() if cursor.description else []

    def _exec(self, name: str, params: Any = None) -> int:
        return self._cursor(name, params).rowcount

    def _insert_id(self, name: str, params: Any) -> int:
        rows = self._all(name, params)
        if not rows:  # ON CONFLICT DO NOTHING: a unique index holds another row
            raise DuplicateJob
        return rows[0][0]

    def _exec_many(self, name: str, rows: list[dict[str, Any]]) -> None:
        if rows:  # psycopg pipelines executemany: one round trip, not one per row
            try:
                with self.conn.cursor() as cursor:
                    cursor.executemany(self.q[name], rows)
            except psycopg.Error as exc:
                raise self._explain(exc) from None

    def _reading(self) -> AbstractContextManager[None]:
        return self._between("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    @contextmanager
    def _between(self, begin: str) -> Iterator[None]:
        """`begin`, then COMMIT, or ROLLBACK on any error."""
        self._finish(begin)
        try:
            yield
        except BaseException:
            self._finish("ROLLBACK")
            raise
        self._finish("COMMIT")

    def _run(self, sql: str, params: Any) -> list[tuple[Any, ...]]:
        try:
            return self._connected().execute(sql, params).fetchall()
        except psycopg.Error as exc:
            raise self._explain(exc) from None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self._joining = True
        try:
            yield
            if self._begun:
                self._finish("COMMIT")
        except BaseException:
            if self._begun:
                self._finish("ROLLBACK")
            raise
        finally:
            self._joining = self._begun = False

    @contextmanager
    def _writing(self) -> Iterator[None]:
        if self._joining:
            if not self._begun:
                self._finish("BEGIN")
                self._begun = True
            yield  # transaction() commits, or rolls back on an error
            return
        with self._between("BEGIN"):
            yield

    def _finish(self, statement: str) -> None:
        """BEGIN (on a connection opened again if it broke), COMMIT or ROLLBACK."""
        if statement.startswith("BEGIN"):
            conn = self._connected()
            try:
                conn.execute(statement)
            except psycopg.Error as exc:
                raise self._explain(exc) from None
            self._in_transaction = True
            return
        self._in_transaction = False
        try:
            self.conn.execute(statement)
        except psycopg.Error as exc:
            if statement != "ROLLBACK":  # a rollback's own failure would hide the error
                raise self._explain(exc) from None

    # -- what SQLite does its own way ------------------------------------------

    def checkpoint_often(self) -> None:
        """Nothing to do: PostgreSQL's WAL is the server's."""

    def shrink_wal(self) -> bool:
        return True

    def _claim_lock(self, capped: bool) -> None:
        if capped:
            self._exec("claim_cap_lock")

    def add_job(self, job: NewJob, now: float) -> int:
        if job.unique_key is not None or job.after or job.labels or self._joining:
            return self.add_jobs([job], now)[0]  # labels: a second insert, one transaction
        return self._insert_id("insert_job", job_params(job, now, 0, None))

    def _insert(self, jobs: Sequence[NewJob], now: float) -> list[int]:
        if any(job.unique_key is not None or job.after for job in jobs):
            return super()._insert(jobs, now)
        # One statement for them all: each column an array, unnested together.
        rows = (job_params(job, now, 0, None) for job in jobs)
        columns = [list(column) for column in zip(*rows, strict=True)]  # lists: arrays
        for name, column in zip(INSERT_COLUMNS, columns, strict=True):
            if name in _FLOAT_COLUMNS:  # psycopg types an array by its first value: 5, 2.5
                column[:] = [None if value is None else float(value) for value in column]
        params = dict(zip(INSERT_COLUMNS, columns, strict=True))
        ids = [row[0] for row in self._all("insert_jobs", params)]
        for job_id, job in zip(ids, jobs, strict=True):
            if job.labels:
                self._add_labels([job_id], job.labels)
        return ids

    def add_batch(self, template: NewJob, payloads: BinaryIO, now: float) -> Sequence[int]:
        if template.unique_key is not None or template.after:
            rows = (template._replace(payload=line[:-1].decode("ascii")) for line in payloads)
            return self.add_each(rows, now)
        params = dict(zip(INSERT_COLUMNS, job_params(template, now, 0, None), strict=True))
        ids: list[int] = []
        with self._writing():
            for piece in line_chunks(payloads, BATCH_CHUNK_BYTES):
                params["payload"] = piece.decode("ascii").splitlines()
                ids += [row[0] for row in self._all("insert_batch", params)]
            self._add_labels(ids, template.labels)
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
        where, params = [], []
        for column, value in (("state", state), ("queue", queue), ("type", type)):
            if value is not None:
                where.append(f"{column} = %s")
                params.append(value)
        if state in _ENDED:
            # Repeats the partial jobs_state_id index's condition, so that
            # the planner sees it may use it.
            where.append("state IN ('succeeded', 'failed', 'cancelled')")
        if types:
            where.append("jobctl_type_glob(type, %s) = 1")
            params.append(json.dumps(list(types)))
        if text:
            where.append(
                "(coalesce(type, '') || ' ' || coalesce(command, '') || ' '"
                " || coalesce(error, '')) ILIKE %s ESCAPE '\\'"
            )
            params.append(like_pattern(text))
        for label in labels or ():
            where.append("id IN (SELECT job_id FROM job_labels WHERE label = %s)")
            params.append(label)
        if before_id is not None:
            where.append("id < %s")
            params.append(before_id)
        if after_id is not None:
            where.append("id > %s")
            params.append(after_id)
        sql = f"SELECT {_LIST_COLUMNS} FROM jobs"
        sql += " WHERE " + " AND ".join(where) if where else ""
        sql += " ORDER BY id" if after_id is not None else " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT %s"
            params.append(limit)
        return self._with_labels([job_from_row(row) for row in self._run(sql, params)])

    # -- hearing of changes ----------------------------------------------------

    def data_version(self) -> int:
        """A counter that moves when another connection may have committed.

        With LISTEN: the notifications heard (the triggers send one per
        transaction and queue), less our own.  poll_only: the server's
        snapshot of finished transactions, which any commit moves.
        """
        if self.poll_only:
            return hash(self._run("SELECT pg_current_snapshot()::text", None)[0][0])
        try:
            listener = self._listen()
        except DatabaseError:  # the server is away: a change, as far as we know
            self._version += 1
            return self._version
        try:
            listener.pgconn.consume_input()
            while (notice := listener.pgconn.notifies()) is not None:
                if notice.be_pid != self._own_pid:
                    self._version += 1
        except psycopg.Error:
            self._lost_listener()
        return self._version

    def watcher(self, poll: float, eager: bool = True) -> _NotifyWatcher:
        if self.poll_only:
            return _NotifyWatcher(None, max(poll, POLL_ONLY_SECONDS))
        return _NotifyWatcher(self, poll)

    def _listen(self) -> psycopg.Connection:
        """The connection that listens, opened (and LISTENing) on first use:
        before the caller's first read, so no change after it goes unheard."""
        if self._listener is None:
            # While the server is away, try again once a second, not at every
            # wait (the daemon's waits are 10 ms apart when it cannot listen).
            if time.monotonic() < self._listen_again_at:
                raise DatabaseBusy(f"PostgreSQL {self.where}: not listening yet")
            self._listen_again_at = time.monotonic() + LISTEN_RETRY_SECONDS
            listener = open_pg(self.url)
            _, schema = parse_url(self.url)
            try:
                listener.execute(f'LISTEN "{schema}"')
            except psycopg.Error as exc:
                listener.close()
                raise self._explain(exc) from None
            self._listener = listener
            self._version += 1  # what happened before we listened is news to the caller
        return self._listener

    def _lost_listener(self) -> None:
        """The listening connection broke (a server restart): listen again at the
        next data_version(), and count this as a change, since some may be lost."""
        if self._listener is not None:
            self._listener.close()
        self._listener = None
        self._version += 1


class _NotifyWatcher:
    """Store.watcher for PostgreSQL: select() on the listening connection."""

    def __init__(self, store: PostgresStore | None, poll: float) -> None:
        self.store = store
        self.poll = poll

    @property
    def live(self) -> bool:
        return self.store is not None

    def wait(self, timeout: float, also: tuple[int, ...] = ()) -> None:
        timeout = max(0.0, timeout)
        fds = list(also)
        listener = None
        if self.store is None:
            timeout = min(timeout, self.poll)
        else:
            try:
                listener = self.store._listen()
                fds.append(listener.pgconn.socket)
            except Exception:  # the server is away: poll until it is back
                timeout = min(timeout, self.poll)
        if not fds:
            time.sleep(timeout)
            return
        ready, _, _ = select.select(fds, [], [], timeout)
        if listener is not None and listener.pgconn.socket in ready:
            try:
                listener.pgconn.consume_input()  # data_version() takes the notices
            except psycopg.Error:
                self.store._lost_listener()

    def settle(self) -> None:
        """Nothing to settle: a notification is sent at commit."""

    def close(self) -> None:
        """The listener belongs to the store, which closes it."""
