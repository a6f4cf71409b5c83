"""Output in bounded memory and in pieces that are never rewritten: the
OutputTail a running job writes to, the store's pieces, and the readers."""

from __future__ import annotations

from pathlib import Path

import apsw
from hypothesis import given, settings
from hypothesis import strategies as st

from jobctl.api import OutputFollower
from jobctl.models import NewJob, Outcome
from jobctl.output_tail import OutputTail
from jobctl.store import Store
from jobctl.store.sqlite_db import MIGRATIONS

NOW = 1_800_000_000.0
LIMIT = 100


def _claimed_attempt(store: Store) -> tuple[int, int]:
    [job_id] = store.add_jobs([NewJob(type=None, payload="null", command=["true"])], NOW)
    daemon = store.register_daemon("h", 1, None, None, NOW)
    [claimed] = store.claim(daemon, 1, NOW, NOW + 30)
    return job_id, claimed.attempt


def _record_output(store: Store, job_id: int, number: int, start: int, data: bytes) -> None:
    store.record([], [(job_id, number, start, data)], [], NOW, LIMIT, lambda *_: 0.0)


def _pieces(store: Store) -> list[tuple[int, int, bytes]]:
    return store.conn.execute("SELECT id, start, data FROM attempt_output ORDER BY id").fetchall()


def test_pieces_are_added_and_deleted_never_rewritten(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "j.db")
    job_id, number = _claimed_attempt(store)
    written = b""
    seen: dict[int, tuple[int, bytes]] = {}
    for n in range(30):
        data = bytes([65 + n % 26]) * (7 + n * 3)
        _record_output(store, job_id, number, len(written), data)
        written += data
        for row_id, start, stored in _pieces(store):
            # A piece, once stored, is the same piece for as long as it is kept.
            assert seen.setdefault(row_id, (start, stored)) == (start, stored)
        kept = b"".join(piece for _, piece in store.output(job_id, number))
        assert written.endswith(kept) and len(kept) >= min(LIMIT, len(written))
        assert len(kept) < LIMIT + len(data) + 100  # the limit and about a piece more
    [attempt] = store.attempts(job_id)
    assert attempt.output_size == len(written)


def test_a_gap_is_reported_to_followers_as_bytes_lost(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "j.db")
    job_id, number = _claimed_attempt(store)
    follower = OutputFollower(
        lambda: number,
        lambda n: store.attempt_ended(job_id, n),
        lambda n, seen: store.output_after(job_id, n, seen),
        number,
    )
    _record_output(store, job_id, number, 0, b"first ")
    assert follower.read() == [(number, 0, b"first ")]
    # 500 bytes were dropped in memory (the database could not be written).
    _record_output(store, job_id, number, 506, b"after the gap")
    assert follower.read() == [(number, 500, b"after the gap")]
    assert follower.read() == []
    store.record([Outcome(job_id, number, "succeeded", exit_status=0)], [], [], NOW, LIMIT, None)
    assert follower.read() == [] and follower.attempt_ended


def test_migration_9_keeps_stored_output(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = apsw.Connection(str(path))
    conn.execute("PRAGMA journal_mode = WAL")
    for migration in MIGRATIONS[:8]:
        conn.execute(migration)
    conn.execute("INSERT INTO jobs (command, run_at, created_at) VALUES ('[\"true\"]', 0, 0)")
    conn.execute(
        "INSERT INTO attempts (job_id, number, started_at, output, output_size)"
        " VALUES (1, 1, 0, x'6b657074', 1000), (1, 2, 0, x'', 0)"
    )
    conn.execute(
        "INSERT INTO worker_runs (worker, number, started_at, output, output_size)"
        " VALUES ('w', 1, 0, x'7461696c', 4)"
    )
    conn.execute("PRAGMA user_version = 8")
    conn.close()
    store = Store.open(path)
    assert store.output(1, 1) == [(996, b"kept")]
    assert store.output(1, 2) == []
    assert [a.output_size for a in store.attempts(1)] == [1000, 0]
    assert store.worker_output_after("w", 1, 0) == [(0, b"tail")]


def test_a_restarting_worker_keeps_the_output_of_its_latest_runs(tmp_path: Path) -> None:
    from jobctl.store import WORKER_RUNS_WITH_OUTPUT

    store = Store.open(tmp_path / "j.db")
    store.add_workers({"w": True})
    daemon = store.register_daemon("h", 1, None, None, NOW, "token")
    store.take_worker("w", daemon, None, "h", NOW, NOW + 30)
    for _ in range(WORKER_RUNS_WITH_OUTPUT + 5):
        number = store.worker_started("w", daemon, 1, None, NOW)
        store.worker_output([("w", number, 0, b"x" * 10)], LIMIT)
    runs = store.conn.execute("SELECT DISTINCT number FROM worker_output").fetchall()
    assert len(runs) == WORKER_RUNS_WITH_OUTPUT


# -- OutputTail --------------------------------------------------------------

_writes = st.lists(
    st.one_of(
        st.binary(min_size=1, max_size=3 * LIMIT),
        st.just("take"),
        st.just("take-and-give-back"),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(_writes)
def test_a_tail_keeps_the_last_limit_bytes_in_bounded_memory(steps: list) -> None:
    tail = OutputTail(LIMIT)
    written = bytearray()
    stored: list[tuple[int, bytes]] = []
    for step in steps:
        if isinstance(step, bytes):
            tail.write(step)
            written += step
        else:
            piece = tail.take()
            if piece is not None and step == "take-and-give-back":
                tail.give_back(*piece)
            elif piece is not None:
                stored.append(piece)
        assert len(tail._pending) <= 2 * LIMIT + 3 * LIMIT  # the cut comes at each write
    piece = tail.take()
    if piece is not None:
        stored.append(piece)
    end = 0
    for start, data in stored:
        assert start >= end and len(data) <= LIMIT  # in order; gaps are what was dropped
        assert written[start : start + len(data)] == data
        end = start + len(data)
    assert end == len(written)  # everything is accounted for
    # Whatever was dropped, the last `limit` bytes written were all kept.
    kept = b"".join(data for start, data in stored if start + len(data) > len(written) - LIMIT)
    assert kept.endswith(bytes(written[-LIMIT:]))
