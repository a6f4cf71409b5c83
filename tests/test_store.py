"""The SQLite store on a real database file: privacy, schema, indexes, locks.

What both stores promise (contract.py) is tested on both in test_store_contract.py.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import apsw
import pytest

from jobctl.errors import DatabaseError
from jobctl.models import NewJob, State
from jobctl.store import Store
from jobctl.store.sqlite_db import MIGRATIONS, SCHEMA_VERSION, Q

NOW = 1_800_000_000.0


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "new" / "jobs.db")


def job(**fields: object) -> NewJob:
    return NewJob(type=None, payload="null", command=["true"], **fields)


def test_database_and_folder_are_private(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "jobs.db"
    Store.open(path).close()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700


def test_schema_is_versioned_wal_and_strict(store: Store) -> None:
    conn = store.conn
    assert conn.execute("PRAGMA user_version").fetchall()[0][0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchall()[0][0] == "wal"
    with pytest.raises(apsw.ConstraintError):  # STRICT: no text in an INTEGER column
        conn.execute("INSERT INTO jobs (run_at, created_at, priority) VALUES (0, 0, 'high')")


def test_reopening_does_not_migrate_again(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    first = Store.open(path)
    first.add_jobs([job()], NOW)
    first.close()
    again = Store.open(path)
    assert again.get(1).state == State.QUEUED


def test_migration_7_keeps_a_purged_newest_id_used(tmp_path: Path) -> None:
    # A database at version 6 whose newest job (id 3) was purged: AUTOINCREMENT
    # remembered 3, a plain rowid table would give 3 again.
    path = tmp_path / "old.db"
    conn = apsw.Connection(str(path))
    conn.execute("PRAGMA journal_mode = WAL")
    for migration in MIGRATIONS[:6]:
        conn.execute(migration)
    for _ in range(3):
        conn.execute("INSERT INTO jobs (command, run_at, created_at) VALUES ('[\"true\"]', 0, 0)")
    conn.execute("DELETE FROM jobs WHERE id = 3")
    conn.execute("PRAGMA user_version = 6")
    conn.close()
    store = Store.open(path)
    assert [j.id for j in store.list()] == [3, 2, 1]
    assert store.get(3).state == State.CANCELLED and "placeholder" in (store.get(3).error or "")
    assert store.add_jobs([job()], NOW) == [4]


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    Store.open(path).conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(DatabaseError, match="schema version"):
        Store.open(path)


def test_claiming_counting_and_listing_use_indexes(store: Store) -> None:
    def plan(sql: str, params: Any = ()) -> str:
        return " ".join(row[3] for row in store.conn.execute("EXPLAIN QUERY PLAN " + sql, params))

    claim = plan(
        "SELECT id FROM jobs WHERE queue = 'default' AND state = 'queued' AND waiting = 0 "
        "AND run_at <= 0 ORDER BY priority DESC, run_at, id LIMIT 10"
    )
    assert "jobs_ready" in claim and "TEMP B-TREE" not in claim
    stats = plan(Q["stats"])
    for index in ("jobs_state_queue", "jobs_ready"):
        assert f"COVERING INDEX {index}" in stats
    assert "jobs_waiting" in stats
    assert "jobs_state_id" in plan(Q["retryable_ids"], {"type": None, "queue": None})
    assert "jobs_running" in plan(Q["running_per_queue"])

    # The SQL `ls --state` runs, caught on its way to SQLite.
    listed: list[str] = []
    store._rows = lambda sql, params=(): listed.append(plan(sql, params)) or []  # type: ignore[method-assign]
    store.list(state="failed")
    store.list(state="queued")
    store.list(state="running")
    # queued and running: first a look among the newest rows, then (as the
    # interception returns no page) their indexes.
    failed, _, queued, _, running = listed
    assert "INDEX jobs_state_id" in failed and "SCAN jobs" not in failed
    assert "COVERING INDEX jobs_ready" in queued and "jobs_waiting" in queued
    assert "COVERING INDEX jobs_running" in running
    for plan_text in (queued, running):
        assert "SCAN jobs " not in plan_text.replace("SCAN jobs USING", "")


def test_listing_queued_jobs_finds_old_ones_beyond_the_recent_rows(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("jobctl.store.sqlite.RECENT_ROWS", 3)
    old = store.add_jobs([job(), job()], NOW)
    store.add_jobs([job() for _ in range(5)], NOW)
    newest = store.list(limit=None)
    store.cancel([j.id for j in newest[:5]], NOW)
    assert [j.id for j in store.list(state="queued")] == old[::-1]
    assert [j.id for j in store.list(state="queued", limit=1)] == [old[1]]
    [recent] = store.add_jobs([job()], NOW)
    assert [j.id for j in store.list(state="queued", limit=1)] == [recent]
    assert [j.id for j in store.list(state="queued", after_id=old[0], limit=1)] == [old[1]]
    assert [j.id for j in store.list(state="queued", before_id=recent, limit=5)] == old[::-1]


def test_a_locked_database_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    holder = Store.open(path)
    holder.conn.execute("BEGIN EXCLUSIVE")
    other = Store.open(path)
    other.conn.set_busy_timeout(100)
    with pytest.raises(DatabaseError, match="locked"):
        other.add_jobs([job()], NOW)
    holder.conn.execute("ROLLBACK")


def test_every_migration_file_is_applied() -> None:
    from jobctl.store.sqlite_db import _SQL_DIR

    numbered = sorted(p.name for p in _SQL_DIR.glob("[0-9][0-9][0-9]_*.sql"))
    assert 1 + len(numbered) == SCHEMA_VERSION
    assert [int(name[:3]) for name in numbered] == list(range(2, SCHEMA_VERSION + 1))


def test_a_full_disk_mid_statement_is_told_as_a_full_disk(tmp_path: Path) -> None:
    """SQLite rolls the transaction back itself on SQLITE_FULL: write() must
    not hide that under a failed ROLLBACK (the daemon waits a full disk out)."""
    from jobctl.errors import DiskFull
    from jobctl.store.sqlite_db import explain, open_db, write

    conn = open_db(tmp_path / "small.db")
    conn.execute("PRAGMA max_page_count = 60")
    with pytest.raises(apsw.FullError) as caught, write(conn):
        conn.execute("CREATE TABLE big (x)")
        for _ in range(100):
            conn.execute("INSERT INTO big VALUES (randomblob(4000))")
    assert isinstance(explain(caught.value, "small.db"), DiskFull)
    assert conn.get_autocommit()  # nothing left open


def test_a_batch_stores_each_payload_as_compact_json_text(tmp_path: Path) -> None:
    """The text in the file (what `jobctl dump` and other readers see), not
    only what get() parses: test_store_contract.py checks the values."""
    import json

    import jobctl

    payloads = [0.1 + 0.2, 1e-300, 2**70, -0.0, 'é\u2028"\\\n', None, {"n": {"l": [1.5]}}]
    (tmp_path / "jobs.toml").write_text('[jobs.t]\nhandler = "x:y"\n')
    with jobctl.connect(tmp_path / "j.db", tmp_path / "jobs.toml") as queue:
        ids = queue.add_many("t", payloads)
        for job_id, payload in zip(ids, payloads, strict=True):
            stored = queue.store.conn.execute("SELECT payload FROM jobs WHERE id = ?", (job_id,))
            assert stored.fetchall()[0][0] == json.dumps(payload, separators=(",", ":"))
