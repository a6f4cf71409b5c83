"""The store on a real database file: privacy, schema, guarded transitions."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import apsw
import pytest

from jobctl.store.sqlite_db import MIGRATIONS, SCHEMA_VERSION, Q
from jobctl.errors import DatabaseError, WrongState
from jobctl.models import TRANSITIONS, NewJob, Outcome, State
from jobctl.store import Store

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


def test_a_batch_goes_to_sqlite_in_pieces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import jobctl

    monkeypatch.setattr("jobctl.store.sqlite.BATCH_CHUNK_BYTES", 40)
    (tmp_path / "jobs.toml").write_text('[jobs.t]\nhandler = "x:y"\n')
    queue = jobctl.connect(tmp_path / "j.db", tmp_path / "jobs.toml")
    payloads = [{"n": n, "pad": "x" * (n % 7)} for n in range(50)]
    ids = queue.add_many("t", payloads)
    assert ids == list(range(1, 51))
    assert [queue.get(i).payload for i in ids] == payloads


def test_listing_and_counting_by_state_see_every_index(store: Store) -> None:
    ids = store.add_jobs([job(queue=q) for q in "aabbc"], NOW)
    [child] = store.add_jobs([job(queue="a", after=(ids[0],))], NOW)
    store.conn.execute("UPDATE jobs SET state = 'running' WHERE id IN (?, ?)", (ids[1], ids[2]))
    store.cancel([ids[4]], NOW)
    assert [j.id for j in store.list(state="running")] == [ids[2], ids[1]]
    assert [j.id for j in store.list(state="queued")] == [child, ids[3], ids[0]]
    assert [j.id for j in store.list(state="queued", limit=1)] == [child]
    assert [j.id for j in store.list(state="cancelled")] == [ids[4]]
    assert store.stats() == {
        "a": {"queued": 2, "running": 1},
        "b": {"queued": 1, "running": 1},
        "c": {"cancelled": 1},
    }


def test_cancel_and_retry_follow_the_transition_table(store: Store) -> None:
    [a] = store.add_jobs([job()], NOW)
    assert State.CANCELLED in TRANSITIONS[State.QUEUED]
    store.cancel([a], NOW)
    assert State.QUEUED in TRANSITIONS[State.CANCELLED]
    store.retry([a], NOW)
    assert store.get(a).state == State.QUEUED
    with pytest.raises(WrongState):
        store.retry([a], NOW)  # queued -> queued is not an edge


def test_a_running_job_is_only_asked_to_cancel(store: Store) -> None:
    [a] = store.add_jobs([job()], NOW)
    store.conn.execute("UPDATE jobs SET state = 'running' WHERE id = ?", (a,))
    assert store.cancel([a], NOW + 1) == {a: "cancelling"}
    assert store.get(a).state == State.RUNNING
    assert store.get(a).cancel_requested == NOW + 1


def test_dependents_wait_and_cascade(store: Store) -> None:
    [parent] = store.add_jobs([job()], NOW)
    [child] = store.add_jobs([job(after=(parent,))], NOW)
    [grandchild] = store.add_jobs([job(after=(child,))], NOW)
    assert store.get(child).waiting == 1
    store.cancel([parent], NOW)
    assert store.get(grandchild).state == State.CANCELLED
    assert store.get(grandchild).error == f"job {parent} cancelled"
    [late] = store.add_jobs([job(after=(parent,))], NOW)
    assert store.get(late).state == State.CANCELLED


def test_a_batch_is_one_transaction(store: Store) -> None:
    with pytest.raises(Exception):  # noqa: B017 - any failure must roll back
        store.add_jobs([job(), job(after=(999,))], NOW)
    assert store.list() == []


def test_a_locked_database_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    holder = Store.open(path)
    holder.conn.execute("BEGIN EXCLUSIVE")
    other = Store.open(path)
    other.conn.set_busy_timeout(100)
    with pytest.raises(DatabaseError, match="locked"):
        other.add_jobs([job()], NOW)
    holder.conn.execute("ROLLBACK")


# -- recovery: found in review ---------------------------------------------------


def _no_delay(job, outcome) -> float:
    return 0.0


def test_a_paused_daemon_on_this_host_keeps_its_jobs_past_its_lease(store: Store) -> None:
    [job_id] = store.add_jobs([job()], NOW)
    here = store.register_daemon("this-host", 100, None, None, NOW)
    there = store.register_daemon("other-host", 200, None, None, NOW)
    store.claim(here, 1, NOW, NOW + 30)
    late = NOW + 3600  # long past the lease
    # Asked from its own host: its pid decides, not the lease.
    assert store.orphaned_jobs(there, "this-host", late) == []
    # Asked from another host, the lease is all there is.
    assert store.orphaned_jobs(there, "other-host", late) == [(job_id, 1)]
    assert store.orphaned_jobs(there, "other-host", NOW + 1) == []


def test_recovering_an_attempt_twice_never_ends_the_next_one(store: Store) -> None:
    [job_id] = store.add_jobs([job()], NOW)
    daemon = store.register_daemon("h", 1, None, None, NOW)
    store.claim(daemon, 1, NOW, NOW + 30)
    recovered = Outcome(job_id, 1, "recovered", error="daemon died")
    store.record([recovered], [], [], NOW + 1, 1024, _no_delay)
    [again] = store.claim(daemon, 1, NOW + 2, NOW + 32)
    assert again.attempt == 2
    store.record([recovered], [], [], NOW + 3, 1024, _no_delay)  # a second, late recovery
    assert store.get(job_id).state == State.RUNNING
    assert [a.outcome for a in store.attempts(job_id)] == ["recovered", None]


def test_a_cancel_asked_while_running_wins_over_recovery(store: Store) -> None:
    [job_id] = store.add_jobs([job()], NOW)
    daemon = store.register_daemon("h", 1, None, None, NOW)
    store.claim(daemon, 1, NOW, NOW + 30)
    assert store.cancel([job_id], NOW + 1) == {job_id: "cancelling"}
    store.record(
        [Outcome(job_id, 1, "recovered", error="daemon died")], [], [], NOW + 2, 1024, _no_delay
    )
    assert store.get(job_id).state == State.CANCELLED
    assert store.claim(daemon, 1, NOW + 3, NOW + 33) == []


def test_next_run_at_skips_paused_and_unserved_queues(store: Store) -> None:
    store.add_jobs([job(queue="a", run_at=NOW), job(queue="b", run_at=NOW + 10)], NOW)
    assert store.next_run_at() == NOW
    assert store.next_run_at(["b"]) == NOW + 10
    store.set_paused("a", True)
    assert store.next_run_at() == NOW + 10
    assert store.next_run_at(["a"]) is None


def test_every_migration_file_is_applied() -> None:
    from jobctl.store.sqlite_db import _SQL_DIR

    numbered = sorted(p.name for p in _SQL_DIR.glob("[0-9][0-9][0-9]_*.sql"))
    assert 1 + len(numbered) == SCHEMA_VERSION
    assert [int(name[:3]) for name in numbered] == list(range(2, SCHEMA_VERSION + 1))


def test_a_batch_keeps_every_payload_exactly_and_in_order(tmp_path: Path) -> None:
    import json

    import jobctl

    payloads = [
        0.1 + 0.2, 1e-300, 2**70, -0.0, "é\u2028\"\\\n", "", None, True, [],
        {"nested": {"list": [1.5, "x"], "t": False}}, "[1]", "null",
    ]  # fmt: skip
    (tmp_path / "jobs.toml").write_text('[jobs.t]\nhandler = "x:y"\n')
    queue = jobctl.connect(tmp_path / "j.db", tmp_path / "jobs.toml")
    ids = queue.add_many("t", payloads)
    assert ids == list(range(ids[0], ids[0] + len(payloads)))
    for job_id, payload in zip(ids, payloads, strict=True):
        stored = queue.store.conn.execute("SELECT payload FROM jobs WHERE id = ?", (job_id,))
        assert stored.fetchall()[0][0] == json.dumps(payload, separators=(",", ":"))
        assert repr(queue.get(job_id).payload) == repr(payload)
    assert queue.add_many("t", []) == []


def test_add_returns_the_job_as_get_reads_it(tmp_path: Path) -> None:
    import jobctl

    (tmp_path / "jobs.toml").write_text(
        '[jobs.t]\nhandler = "x:y"\ntimeout = "90s"\npriority = 3\nqueue = "q"\n'
    )
    queue = jobctl.connect(tmp_path / "j.db", tmp_path / "jobs.toml")
    added = [
        queue.add("t", {"a": [1, 2.5, "é"]}),
        queue.add("t", None, delay="10m", max_attempts=7, timeout=2),
        queue.add(command=["echo", "hi"], cwd="/", env={"A": "1"}),
        queue.add(shell="echo $HOME", priority=-1, queue="other"),
        queue.add("t", 1, unique="k"),
        queue.add("t", 2, unique="k"),  # the existing job
    ]
    parent = added[0].id
    added.append(queue.add("t", 3, after=[parent]))
    for job in added:
        assert job == queue.get(job.id)
    assert added[5].id == added[4].id and added[6].parents == (parent,)


def test_a_full_disk_mid_statement_is_told_as_a_full_disk(tmp_path: Path) -> None:
    """SQLite rolls the transaction back itself on SQLITE_FULL: write() must
    not hide that under a failed ROLLBACK (the daemon waits a full disk out)."""
    from jobctl.store.sqlite_db import explain, open_db, write
    from jobctl.errors import DiskFull

    conn = open_db(tmp_path / "small.db")
    conn.execute("PRAGMA max_page_count = 60")
    with pytest.raises(apsw.FullError) as caught, write(conn):
        conn.execute("CREATE TABLE big (x)")
        for _ in range(100):
            conn.execute("INSERT INTO big VALUES (randomblob(4000))")
    assert isinstance(explain(caught.value, "small.db"), DiskFull)
    assert conn.get_autocommit()  # nothing left open
