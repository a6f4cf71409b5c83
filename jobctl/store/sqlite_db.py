"""Opens an SQLite database: a private file, WAL, a busy timeout, the schema.

One apsw connection per thread.  Every write goes through `write()`, which
takes the write lock up front (BEGIN IMMEDIATE) so that two writers never
deadlock upgrading a read lock.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import apsw

from jobctl.errors import DatabaseBusy, DatabaseError, DiskFull
from jobctl.file_safety import check_database
from jobctl.store.named_sql import SQL_DIR, migrations, statements

BUSY_TIMEOUT_MS = 10_000
# Never through a symbolic link: a link planted at the path would point
# jobctl's tables (and its jobs' secrets) at someone else's file.
_OPEN_FLAGS = apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE | apsw.SQLITE_OPEN_NOFOLLOW
WAL_CHECKPOINT_PAGES = 4_000
_SQL_DIR = SQL_DIR / "sqlite"

Q = statements("sqlite")

# Migration N brings `PRAGMA user_version` from N-1 to N.  Append, never edit.
_MIGRATION_FILES = (
    "schema.sql",
    "002_jobs_due.sql",
    "003_attempt_pids.sql",
    "004_worker_holds.sql",
    "005_jobs_finished.sql",
    "006_drop_jobs_due.sql",
    "007_lean_jobs.sql",
    "008_run_tokens.sql",
    "009_output_pieces.sql",
    "010_log_levels.sql",
    "011_labels.sql",
    "012_queue_parallel.sql",
)
MIGRATIONS: list[str] = migrations("sqlite", _MIGRATION_FILES)
SCHEMA_VERSION = len(MIGRATIONS)


def open_db(path: Path, durability: str = "normal") -> apsw.Connection:
    """A connection to the database at `path`, created (0600, folder 0700) if missing.

    Refused (UnsafeFile) if another user could have written the database,
    its -wal or -shm file, or their folder: see file_safety.py.
    """
    check_database(path)
    _create_private(path)
    started = time.monotonic()
    try:
        conn = apsw.Connection(str(path), flags=_OPEN_FLAGS)
        conn.set_busy_timeout(BUSY_TIMEOUT_MS)
        conn.execute(f"PRAGMA synchronous = {'FULL' if durability == 'full' else 'NORMAL'}")
        # Checkpoint every 4,000 WAL pages (16 MB), not SQLite's 1,000: an
        # enqueue rewrites the same two hot pages, so a longer WAL copies
        # fewer distinct pages back per job and fsyncs less often.  One-call
        # enqueues went from 30,300 to 35,000/s (bench/workloads.py enqueue).
        conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}")
        _migrate(conn, started + BUSY_TIMEOUT_MS / 1000)
    except apsw.Error as exc:
        raise explain(exc, path, waited=time.monotonic() - started) from None
    return conn


def explain(exc: apsw.Error, path: Path | str, *, waited: float | None = None) -> DatabaseError:
    """A one-line DatabaseError for an apsw error; `waited`: the seconds spent trying."""
    if isinstance(exc, apsw.BusyError | apsw.LockedError):
        # SQLite sometimes answers "busy" at once, without calling the busy
        # handler (see _upgrade): claim a wait only when one was measured.
        if waited is None:
            how_long = f"busy timeout {BUSY_TIMEOUT_MS // 1000}s"
        elif waited < 1:
            how_long = f"waited {waited * 1000:.0f} ms"
        else:
            how_long = f"waited {waited:.1f}s"
        return DatabaseBusy(f"database {path} is locked by another process ({how_long})")
    if isinstance(exc, apsw.NotADBError | apsw.CorruptError):
        return DatabaseError(f"{path} is not a jobctl database, or it is corrupt")
    if isinstance(exc, apsw.CantOpenError | apsw.PermissionsError | apsw.ReadOnlyError):
        return DatabaseError(f"cannot open database {path} for writing")
    if isinstance(exc, apsw.FullError):
        return DiskFull(f"the disk holding {path} is full")
    return DatabaseError(f"database {path}: {exc}")


@contextmanager
def write(conn: apsw.Connection) -> Iterator[apsw.Connection]:
    """A write transaction: BEGIN IMMEDIATE, COMMIT, or ROLLBACK on any error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")  # may fail too (a full disk): then it is still open
    except BaseException:
        # SQLite ends the transaction itself on some errors (SQLITE_FULL in
        # the middle of a statement): a ROLLBACK then would fail, and hide
        # the error that matters.
        if not conn.get_autocommit():
            conn.execute("ROLLBACK")
        raise


def _create_private(path: Path) -> None:
    if path.exists():
        return
    folder = path.parent
    try:
        if not folder.exists():
            folder.mkdir(mode=0o700, parents=True)
        # Create the file ourselves so it is 0600 from its first moment; SQLite
        # gives the -wal and -shm files the same mode as the database.
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_WRONLY, 0o600)
        os.close(fd)
    except FileExistsError:
        pass  # another process created it first
    except OSError as exc:
        raise DatabaseError(f"cannot create database {path}: {exc.strerror}") from None


def _migrate(conn: apsw.Connection, deadline: float) -> None:
    """Bring the schema up to date, retrying what SQLite refuses at once until `deadline`.

    On an up-to-date database this is one statement, and no retry.
    """
    pause = 0.0
    while True:
        try:
            version = conn.execute("PRAGMA user_version").get
            if version != SCHEMA_VERSION:
                _upgrade(conn, version)
            break
        except apsw.BusyError:
            # The busy handler covers most statements, but not all (see
            # _upgrade), so a "busy" may come at once: wait and retry, all
            # the attempts within the one busy timeout.  A statement that
            # did wait the whole timeout finds no time left.
            if not conn.get_autocommit():
                conn.execute("ROLLBACK")  # a COMMIT refused leaves its transaction open
            left = deadline - time.monotonic()
            if left <= 0:
                raise
            pause = min(pause * 2 or 0.001, 0.05, left)
            time.sleep(pause)
            conn.set_busy_timeout(max(1, int((left - pause) * 1000)))
    if pause:
        conn.set_busy_timeout(BUSY_TIMEOUT_MS)


def _upgrade(conn: apsw.Connection, version: int) -> None:
    if version > SCHEMA_VERSION:
        raise _too_new(version)
    # journal_mode cannot change inside a transaction; WAL then sticks to the file.
    # The switch reads the file header in a read transaction, then upgrades
    # it to a write one, and SQLite never calls the busy handler to upgrade a
    # read transaction: the writer in the way may be waiting for this very
    # read lock to go.  So while another process holds the write lock of the
    # still rollback-journal file (switching it to WAL itself), this fails
    # with SQLITE_BUSY at once, whatever the busy timeout: _migrate retries.
    conn.execute("PRAGMA journal_mode = WAL")
    with write(conn):
        # Another process may have migrated while we waited for the lock.
        version = conn.execute("PRAGMA user_version").get
        if version > SCHEMA_VERSION:
            raise _too_new(version)
        if version < SCHEMA_VERSION:
            for number in range(version, SCHEMA_VERSION):
                conn.execute(MIGRATIONS[number])
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _too_new(version: int) -> DatabaseError:
    return DatabaseError(
        f"the database has schema version {version}; this jobctl knows up to {SCHEMA_VERSION}"
    )
