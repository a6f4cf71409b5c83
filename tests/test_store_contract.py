"""The store contract (jobctl/store/contract.py) on both backends.

Every test taking `any_store` or `any_db` runs twice: on an SQLite file in
tmp_path and on a fresh PostgreSQL schema.  A test that passes on one and
fails on the other is a bug in a store, not in the test.  What only SQLite
has (PRAGMAs, WAL, query plans, file modes, its migrations) is tested in
test_store.py.
"""

from __future__ import annotations

import ast
import io
import json
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import Cli, imports_of, wait_for

import jobctl
from jobctl.api import Queue
from jobctl.errors import DatabaseBusy, NoSuchJob, WrongState
from jobctl.models import TRANSITIONS, Job, NewJob, Outcome, State
from jobctl.store import Store

NOW = 1_800_000_000.0


@pytest.fixture(params=["sqlite", "postgres"])
def any_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An SQLite file's path, or a `postgresql://` URL with a schema of its own."""
    if request.param == "sqlite":
        return str(tmp_path / "jobs.db")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def any_store(any_db: str) -> Iterator[Store]:
    store = Store.open(any_db)
    yield store
    store.close()


@pytest.fixture
def open_store(any_db: str) -> Iterator[Callable[[], Store]]:
    """Opens more stores on the same database (other connections), closed after."""
    opened: list[Store] = []

    def open_one() -> Store:
        opened.append(Store.open(any_db))
        return opened[-1]

    yield open_one
    for store in opened:
        store.close()


@pytest.fixture
def queue_on(any_db: str, tmp_path: Path) -> Iterator[Callable[[str], Queue]]:
    """A jobctl.Queue on the database, with the jobs.toml text given."""
    queues: list[Queue] = []

    def connect(toml: str) -> Queue:
        (tmp_path / "jobs.toml").write_text(toml)
        queues.append(jobctl.connect(any_db, tmp_path / "jobs.toml"))
        return queues[-1]

    yield connect
    for queue in queues:
        queue.close()


def job(**fields: object) -> NewJob:
    return NewJob(**({"type": None, "payload": "null", "command": ["true"]} | fields))


def typed(name: str, **fields: object) -> NewJob:
    return NewJob(**({"type": name, "payload": "null"} | fields))


def _no_delay(job: Job, outcome: Outcome) -> float:
    return 0.0


def daemon(store: Store, host: str = "h", pid: int = 1) -> int:
    return store.register_daemon(host, pid, None, None, NOW)


def claim_ids(store: Store, daemon_id: int, slots: int = 10, now: float = NOW, **kw) -> list[int]:
    return [c.job.id for c in store.claim(daemon_id, slots, now, now + 30, **kw)]


def succeed(store: Store, job_id: int, attempt: int, now: float = NOW) -> None:
    store.record(
        [Outcome(job_id, attempt, "succeeded", exit_status=0)], [], [], now, 1024, _no_delay
    )


def typed_values(job: Job) -> list[tuple[type, object]]:
    return [(type(value), value) for value in job]


# -- moved from test_store.py ------------------------------------------------------


def test_listing_and_counting_by_state_see_every_index(any_store: Store) -> None:
    store = any_store
    ids = store.add_jobs(
        [job(queue=q, priority=int(i in (1, 2))) for i, q in enumerate("aabbc")], NOW
    )
    [child] = store.add_jobs([job(queue="a", after=(ids[0],))], NOW)
    assert sorted(claim_ids(store, daemon(store), 2)) == [ids[1], ids[2]]
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


def test_cancel_and_retry_follow_the_transition_table(any_store: Store) -> None:
    store = any_store
    [a] = store.add_jobs([job()], NOW)
    assert State.CANCELLED in TRANSITIONS[State.QUEUED]
    store.cancel([a], NOW)
    assert State.QUEUED in TRANSITIONS[State.CANCELLED]
    store.retry([a], NOW)
    assert store.get(a).state == State.QUEUED
    with pytest.raises(WrongState):
        store.retry([a], NOW)  # queued -> queued is not an edge
    with pytest.raises(NoSuchJob):
        store.cancel([a, 999], NOW)  # all or nothing
    assert store.get(a).state == State.QUEUED


def test_a_running_job_is_only_asked_to_cancel(any_store: Store) -> None:
    store = any_store
    [a] = store.add_jobs([job()], NOW)
    d = daemon(store)
    assert claim_ids(store, d) == [a]
    assert store.cancel([a], NOW + 1) == {a: "cancelling"}
    assert store.get(a).state == State.RUNNING
    assert store.get(a).cancel_requested == NOW + 1
    assert store.cancel_requests(d) == [a]


def test_dependents_wait_and_cascade(any_store: Store) -> None:
    store = any_store
    [parent] = store.add_jobs([job()], NOW)
    [child] = store.add_jobs([job(after=(parent,))], NOW)
    [grandchild] = store.add_jobs([job(after=(child,))], NOW)
    assert store.get(child).waiting == 1
    assert store.get(child).parents == (parent,)
    store.cancel([parent], NOW)
    assert store.get(grandchild).state == State.CANCELLED
    assert store.get(grandchild).error == f"job {parent} cancelled"
    [late] = store.add_jobs([job(after=(parent,))], NOW)
    assert store.get(late).state == State.CANCELLED


def test_a_child_waits_until_its_parent_succeeds(any_store: Store) -> None:
    store = any_store
    [parent] = store.add_jobs([job()], NOW)
    [child] = store.add_jobs([job(after=(parent,))], NOW)
    d = daemon(store)
    assert claim_ids(store, d) == [parent]  # the child is not ready
    succeed(store, parent, 1)
    assert store.get(child).waiting == 0
    assert claim_ids(store, d) == [child]


def test_a_batch_is_one_transaction(any_store: Store) -> None:
    with pytest.raises(NoSuchJob):
        any_store.add_jobs([job(), job(after=(999,))], NOW)
    assert any_store.list() == []


def test_jobs_are_recovered_only_from_a_daemon_declared_dead_and_a_fresh_heartbeat_keeps_it(
    any_store: Store,
) -> None:
    store = any_store
    [job_id] = store.add_jobs([job()], NOW)
    here = store.register_daemon("this-host", 100, None, None, NOW)
    there = store.register_daemon("other-host", 200, None, None, NOW)
    store.claim(here, 1, NOW, NOW + 30)
    late = NOW + 3600  # long past the lease
    assert store.orphaned_jobs(there) == []  # silent, but not declared dead
    # Another host looked (the heartbeat was old), then a heartbeat committed:
    # the compare-and-set keeps the daemon alive.
    assert store.heartbeat(here, late - 1, late + 29)
    assert store.mark_daemons_dead([here], late, stale_before=late - 30) == []
    assert store.orphaned_jobs(there) == []
    assert store.mark_daemons_dead([here], late + 60, stale_before=late + 30) == [here]
    assert store.orphaned_jobs(there) == [(job_id, 1)]
    # Declared dead, it claims nothing: those jobs would be recovered, and run, at once.
    store.add_jobs([job()], NOW)
    assert store.claim(here, 1, late, late + 30) == []
    assert store.claim(there, 1, late, late + 30) != []


def test_recovering_an_attempt_twice_never_ends_the_next_one(any_store: Store) -> None:
    store = any_store
    [job_id] = store.add_jobs([job()], NOW)
    d = daemon(store)
    store.claim(d, 1, NOW, NOW + 30)
    recovered = Outcome(job_id, 1, "recovered", error="daemon died")
    store.record([recovered], [], [], NOW + 1, 1024, _no_delay)
    [again] = store.claim(d, 1, NOW + 2, NOW + 32)
    assert again.attempt == 2
    store.record([recovered], [], [], NOW + 3, 1024, _no_delay)  # a second, late recovery
    assert store.get(job_id).state == State.RUNNING
    assert [a.outcome for a in store.attempts(job_id)] == ["recovered", None]


def test_a_cancel_asked_while_running_wins_over_recovery(any_store: Store) -> None:
    store = any_store
    [job_id] = store.add_jobs([job()], NOW)
    d = daemon(store)
    store.claim(d, 1, NOW, NOW + 30)
    assert store.cancel([job_id], NOW + 1) == {job_id: "cancelling"}
    store.record(
        [Outcome(job_id, 1, "recovered", error="daemon died")], [], [], NOW + 2, 1024, _no_delay
    )
    assert store.get(job_id).state == State.CANCELLED
    assert store.claim(d, 1, NOW + 3, NOW + 33) == []


def test_next_run_at_skips_paused_and_unserved_queues(any_store: Store) -> None:
    store = any_store
    assert store.next_run_at() is None
    store.add_jobs([job(queue="a", run_at=NOW), job(queue="b", run_at=NOW + 10)], NOW)
    store.add_jobs([typed("t", queue="b", run_at=NOW + 5)], NOW)
    assert store.next_run_at() == NOW
    assert store.next_run_at(["b"]) == NOW + 5
    assert store.next_run_at(["b"], types=[""]) == NOW + 10
    assert store.next_run_at(types=["t"]) == NOW + 5
    assert store.next_run_at(types=[]) is None
    store.set_paused("a", True)
    assert store.next_run_at() == NOW + 5
    assert store.next_run_at(["a"]) is None


def test_a_batch_keeps_every_payload_exactly_and_in_order(queue_on) -> None:
    payloads = [
        0.1 + 0.2, 1e-300, 2**70, -0.0, "é\u2028\"\\\n", "", None, True, [],
        {"nested": {"list": [1.5, "x"], "t": False}}, "[1]", "null",
    ]  # fmt: skip
    queue = queue_on('[jobs.t]\nhandler = "x:y"\n')
    ids = queue.add_many("t", payloads)
    assert ids == sorted(set(ids)) and len(ids) == len(payloads)
    for job_id, payload in zip(ids, payloads, strict=True):
        assert repr(queue.get(job_id).payload) == repr(payload)
    listed = {j.id: j.payload for j in queue.store.list(limit=None)}
    assert [repr(listed[i]) for i in ids] == [repr(p) for p in payloads]
    assert queue.add_many("t", []) == []


def test_a_batch_goes_to_the_database_in_pieces(queue_on, monkeypatch: pytest.MonkeyPatch) -> None:
    queue = queue_on('[jobs.t]\nhandler = "x:y"\n')
    monkeypatch.setattr(sys.modules[type(queue.store).__module__], "BATCH_CHUNK_BYTES", 40)
    payloads = [{"n": n, "pad": "x" * (n % 7)} for n in range(50)]
    ids = queue.add_many("t", payloads)
    assert ids == sorted(set(ids)) and len(ids) == 50
    assert [queue.get(i).payload for i in ids] == payloads


def test_add_returns_the_job_as_get_reads_it(queue_on) -> None:
    queue = queue_on('[jobs.t]\nhandler = "x:y"\ntimeout = "90s"\npriority = 3\nqueue = "q"\n')
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
        assert typed_values(job) == typed_values(queue.get(job.id))
    assert added[5].id == added[4].id and added[6].parents == (parent,)


def test_a_transaction_commits_all_or_nothing(any_store: Store) -> None:
    store = any_store
    with pytest.raises(NoSuchJob), store.transaction():
        store.add_job(job(), NOW)
        store.set_paused("q", True)
        store.cancel([999], NOW)
    assert store.list() == [] and store.paused_queues() == []
    with store.transaction():
        a = store.add_job(job(), NOW)
        store.cancel([a], NOW)
    assert store.get(a).state == State.CANCELLED
    with store.transaction():
        assert store.list(state="queued") == []  # reads only: nothing to commit


def test_add_each_and_keyed_batches_check_every_row(any_store: Store) -> None:
    store = any_store
    [parent] = store.add_jobs([job()], NOW)
    rows = iter([typed("t", unique_key="k"), typed("t", unique_key="k"), job(after=(parent,))])
    first, same, child = store.add_each(rows, NOW)
    assert first == same and store.get(child).waiting == 1
    with pytest.raises(NoSuchJob):
        store.add_each(iter([typed("t", unique_key="new"), job(after=(999,))]), NOW)
    assert store.list(limit=None, type="t") == [store.get(first)._replace(parents=())]
    payloads = io.BytesIO(b'{"n":1}\n{"n":2}\n')
    ids = store.add_batch(typed("t", unique_key="k"), payloads, NOW)
    assert list(ids) == [first, first]  # the key is taken: the batch adds nothing
    got = store.add_and_get(job(after=(parent,)), NOW)
    assert got == store.get(got.id) and got.parents == (parent,)


def test_events_and_process_ids_of_an_attempt(any_store: Store) -> None:
    store = any_store
    [j] = store.add_jobs([job()], NOW)
    store.claim(daemon(store), 1, NOW + 1, NOW + 31)
    store.record([], [], [], NOW + 1, 1024, _no_delay, pids=[(j, 1, 4321, 99.5)])
    [(job_id, pid, started, host, token)] = store.orphaned_processes([(j, 1)])
    assert (job_id, pid, started, host) == (j, 4321, 99.5, "h") and token is None
    store.cancel([j], NOW + 2)
    store.record([Outcome(j, 1, "cancelled", signal=15)], [], [], NOW + 3, 1024, _no_delay)
    kinds = [(e.kind, e.at) for e in store.events(j)]
    assert kinds[:2] == [("created", NOW), ("started", NOW + 1)]
    assert ("cancel_requested", NOW + 2) in kinds and kinds[-1] == ("cancelled", NOW + 3)
    assert store.attempts(j)[0].signal == 15


# -- claiming ----------------------------------------------------------------------


def test_claim_takes_by_priority_then_run_at_then_id(any_store: Store) -> None:
    store = any_store
    ids = store.add_jobs(
        [
            job(run_at=NOW - 5),
            job(priority=2, run_at=NOW - 1, queue="other"),
            job(run_at=NOW - 10),
            job(priority=2, run_at=NOW - 1),
            job(run_at=NOW + 60),  # not due
            job(priority=-1, run_at=NOW - 100),
        ],
        NOW,
    )
    d = daemon(store)
    order = [ids[1], ids[3], ids[2], ids[0], ids[5]]
    one_by_one = [claim_ids(store, d, 1) for _ in range(6)]
    assert one_by_one == [[i] for i in order] + [[]]
    assert claim_ids(store, d, 10, now=NOW + 60) == [ids[4]]


def test_several_claimed_at_once_come_in_claim_order(any_store: Store) -> None:
    store = any_store
    ids = store.add_jobs(
        [job(queue="a"), job(queue="b", priority=5), job(queue="a", priority=1), job(queue="c")],
        NOW,
    )
    claimed = store.claim(daemon(store), 3, NOW, NOW + 30)
    assert [c.job.id for c in claimed] == [ids[1], ids[2], ids[0]]
    for c in claimed:
        assert c.attempt == 1 and c.job.state == State.RUNNING and c.job.attempt == 1
        # The claimed job is what get() reads, to the type of every value.
        assert typed_values(c.job) == typed_values(store.get(c.job.id))


def test_paused_queues_are_not_claimed(any_store: Store) -> None:
    store = any_store
    [a, b] = store.add_jobs([job(queue="a"), job(queue="b")], NOW)
    d = daemon(store)
    store.set_paused("a", True)
    assert store.paused_queues() == ["a"]
    assert claim_ids(store, d) == [b]
    assert claim_ids(store, d) == []
    store.set_paused("a", False)
    assert store.paused_queues() == []
    assert claim_ids(store, d, queues=["b"]) == []  # only the queues asked for
    assert claim_ids(store, d, queues=["a"]) == [a]


def test_queue_and_type_caps_count_every_daemon(any_store: Store) -> None:
    store = any_store
    capped = store.add_jobs([job(queue="q") for _ in range(4)], NOW)
    t_jobs = store.add_jobs([typed("t") for _ in range(3)], NOW)
    u_jobs = store.add_jobs([typed("u") for _ in range(2)], NOW)
    caps = {"queue_caps": {"q": 2}, "type_caps": {"t": 1}}
    first, second = daemon(store, "h1"), daemon(store, "h2")
    got = claim_ids(store, first, **caps)
    assert sorted(got) == sorted(capped[:2] + t_jobs[:1] + u_jobs)
    assert claim_ids(store, second, **caps) == []  # the caps count the first daemon's jobs
    succeed(store, capped[0], 1)
    succeed(store, t_jobs[0], 1)
    assert sorted(claim_ids(store, second, **caps)) == [capped[2], t_jobs[1]]
    assert claim_ids(store, second, 1, queue_caps={"q": 3}) == [capped[3]]


def test_claim_only_the_types_asked_for(any_store: Store) -> None:
    store = any_store
    [adhoc, t, u] = store.add_jobs([job(), typed("t"), typed("u")], NOW)
    d = daemon(store)
    assert claim_ids(store, d, types=[]) == []
    assert claim_ids(store, d, types=["u"]) == [u]
    assert claim_ids(store, d, types=["", "x"]) == [adhoc]
    assert claim_ids(store, d, types=["t"]) == [t]


# -- recording attempts ------------------------------------------------------------


def test_output_is_trimmed_to_the_limit_a_piece_at_a_time(any_store: Store) -> None:
    store = any_store
    [j] = store.add_jobs([job()], NOW)
    store.claim(daemon(store), 1, NOW, NOW + 30)
    assert store.attempt_ended(j, 1) is False and store.attempt_ended(j, 2) is None
    pieces = [(j, 1, 0, b"a" * 10), (j, 1, 10, b"b" * 10), (j, 1, 20, b"c" * 10)]
    store.record([], pieces, [], NOW, 15, _no_delay)
    # The first piece ends before the last 15 bytes: gone; the second is kept whole.
    assert store.output(j, 1) == [(10, b"b" * 10), (20, b"c" * 10)]
    assert store.output_after(j, 1, 20) == [(20, b"c" * 10)]
    assert store.output_after(j, 1, 19) == [(10, b"b" * 10), (20, b"c" * 10)]
    assert store.output_after(j, 1, 30) == []
    succeed(store, j, 1, NOW + 1)
    [attempt] = store.attempts(j)
    assert attempt.output_size == 30 and attempt.outcome == "succeeded"
    assert store.attempt_ended(j, 1) is True and store.latest_attempt(j) == 1


def test_log_lines_keep_their_levels_and_data(any_store: Store) -> None:
    store = any_store
    [j] = store.add_jobs([job()], NOW)
    store.claim(daemon(store), 1, NOW, NOW + 30)
    logs = [
        (j, 1, NOW, "hello", None, "info"),
        (j, 1, NOW + 1, "bad", json.dumps({"k": 1, "s": "é"}), "error"),
        (j, 1, NOW + 2, "older daemon", None),  # no level: info
    ]
    store.record([], [], logs, NOW + 3, 1024, _no_delay)
    lines = store.log_lines(j, 1)
    assert [(x.message, x.data, x.level, x.at) for x in lines] == [
        ("hello", None, "info", NOW),
        ("bad", {"k": 1, "s": "é"}, "error", NOW + 1),
        ("older daemon", None, "info", NOW + 2),
    ]
    assert store.log_lines(j, 2) == []


def test_a_success_stores_the_result_and_frees_the_children(any_store: Store) -> None:
    store = any_store
    [j] = store.add_jobs([job()], NOW)
    [child] = store.add_jobs([job(after=(j,))], NOW)
    store.claim(daemon(store), 1, NOW, NOW + 30)
    ok = Outcome(j, 1, "succeeded", exit_status=0, result=json.dumps({"x": [1, 2.5]}))
    assert store.record([ok], [], [], NOW + 4, 1024, _no_delay) == []
    done = store.get(j)
    assert (done.state, done.result, done.finished_at) == (
        State.SUCCEEDED,
        {"x": [1, 2.5]},
        NOW + 4,
    )
    assert store.get(child).waiting == 0
    assert store.finished_per_minute(NOW - 60) == [(int((NOW + 4) // 60), "succeeded", 1)]


def test_failures_retry_after_the_delay_then_fail_for_good(any_store: Store) -> None:
    store = any_store
    [j] = store.add_jobs([typed("t", max_attempts=2)], NOW)
    [child] = store.add_jobs([job(after=(j,))], NOW)
    d = daemon(store)

    def seven(job: Job, outcome: Outcome) -> float:
        assert job.id == j and outcome.error == "boom"
        return 7.0

    store.claim(d, 1, NOW, NOW + 30)
    retries: dict[int, float] = {}
    failed = Outcome(j, 1, "failed", exit_status=1, error="boom")
    assert store.record([failed], [], [], NOW + 1, 1024, seven, retries=retries) == []
    assert retries == {j: NOW + 8}
    after = store.get(j)
    assert (after.state, after.run_at, after.error) == (State.QUEUED, NOW + 8, "boom")
    assert claim_ids(store, d, now=NOW + 7) == []  # not due yet
    [again] = store.claim(d, 1, NOW + 8, NOW + 38)
    assert again.attempt == 2
    [gone] = store.record(
        [failed._replace(attempt=2)], [], [], NOW + 9, 1024, seven, retries=retries
    )
    assert gone.id == j and gone.state == State.FAILED and gone.finished_at == NOW + 9
    assert store.get(child).state == State.CANCELLED
    kinds = [e.kind for e in store.events(j)]
    assert kinds.count("retrying") == 1 and kinds[-1] == "failed", kinds
    assert store.failed_ids() == [j]
    assert store.failed_ids(types=["t*"]) == [j] and store.failed_ids(types=["u"]) == []
    assert store.failed_ids(type="t", queue="default") == [j]
    assert store.failed_ids(queue="other") == []


def test_a_final_failure_skips_the_retries(any_store: Store) -> None:
    store = any_store
    [j] = store.add_jobs([typed("gone", max_attempts=5)], NOW)
    store.claim(daemon(store), 1, NOW, NOW + 30)
    final = Outcome(j, 1, "failed", error="unknown type", final=True)
    [failed] = store.record([final], [], [], NOW + 1, 1024, _no_delay)
    assert failed.state == State.FAILED and failed.attempt == 1


def test_an_interrupted_attempt_is_refunded(any_store: Store) -> None:
    store = any_store
    [j] = store.add_jobs([job(max_attempts=1)], NOW)
    d = daemon(store)
    store.claim(d, 1, NOW, NOW + 30)
    interrupted = Outcome(j, 1, "interrupted", error="daemon stopped")
    assert store.record([interrupted], [], [], NOW + 1, 1024, _no_delay) == []
    back = store.get(j)
    assert (back.state, back.attempt, back.attempts_total) == (State.QUEUED, 0, 1)
    [again] = store.claim(d, 1, NOW + 2, NOW + 32)
    assert (again.attempt, again.job.attempt) == (2, 1)  # the budget of 1 is still whole
    assert [a.outcome for a in store.attempts(j)] == ["interrupted", None]


# -- unique keys -------------------------------------------------------------------


def test_a_unique_key_is_taken_until_its_job_ends(any_store: Store) -> None:
    store = any_store
    first = store.add_job(typed("t", unique_key="k"), NOW)
    assert store.add_job(typed("t", unique_key="k", payload="1"), NOW) == first
    assert store.add_jobs([typed("t", unique_key="k2"), typed("t", unique_key="k2")], NOW) == [
        (k2 := store.list(limit=1)[0].id),
        k2,
    ]
    assert store.add_job(typed("u", unique_key="k"), NOW) not in (first, k2)  # another type
    adhoc = store.add_job(job(unique_key="k"), NOW)
    assert store.add_job(job(unique_key="k"), NOW) == adhoc
    assert store.add_and_get(typed("t", unique_key="k"), NOW).id == first
    d = daemon(store)
    assert first in claim_ids(store, d)
    assert store.add_job(typed("t", unique_key="k"), NOW) == first  # running holds it too
    succeed(store, first, 1)
    fresh = store.add_job(typed("t", unique_key="k"), NOW)
    assert fresh != first
    store.cancel([fresh], NOW)
    assert store.add_job(typed("t", unique_key="k"), NOW) not in (first, fresh)


# -- schedules ---------------------------------------------------------------------


def scheduled(due: float, name: str = "s") -> NewJob:
    return NewJob(type=name, payload="null", schedule=name, due_at=due)


def test_a_schedule_fires_once_per_due_time(any_store: Store) -> None:
    store = any_store
    seen: list[float | None] = []

    def owe(*due: float) -> Callable[[float | None], tuple[list[float], float | None]]:
        def decide(last: float | None) -> tuple[list[float], float | None]:
            seen.append(last)
            return list(due), max(due) if due else None

        return decide

    assert store.schedule_last_due("s") is None
    [(due, first)] = store.fire_schedule("s", owe(NOW), scheduled, "allow", NOW)
    assert due == NOW and store.get(first).schedule == "s"
    assert store.schedule_last_due("s") == NOW
    # A decide that owes the same due time again: the unique index holds.
    assert store.fire_schedule("s", owe(NOW), scheduled, "allow", NOW + 1) == []
    assert seen == [None, NOW]
    assert [j.id for j in store.list(type="s")] == [first]
    # Nothing owed changes nothing.
    assert store.fire_schedule("s", owe(), scheduled, "allow", NOW + 2) == []
    assert store.schedule_rows() == {"s": (NOW, first, NOW, NOW)}
    # Two owed at once, oldest first, both queued even with overlap = skip.
    make_t = lambda due: scheduled(due, "t")  # noqa: E731
    fired = store.fire_schedule("t", owe(NOW, NOW + 60), make_t, "skip", NOW + 61)
    assert [d for d, _ in fired] == [NOW, NOW + 60] and all(i is not None for _, i in fired)


def test_overlap_skip_records_a_skipped_event_on_the_run_still_going(any_store: Store) -> None:
    store = any_store
    [(_, first)] = store.fire_schedule("s", lambda last: ([NOW], NOW), scheduled, "skip", NOW)
    fired = store.fire_schedule(
        "s", lambda last: ([NOW + 60], NOW + 60), scheduled, "skip", NOW + 60
    )
    assert fired == [(NOW + 60, None)]
    assert store.schedule_last_due("s") == NOW + 60
    assert "skipped" in [e.kind for e in store.events(first)]
    assert store.schedule_rows()["s"] == (NOW + 60, first, NOW, NOW)
    store.cancel([first], NOW + 61)
    [(_, second)] = store.fire_schedule(
        "s", lambda last: ([NOW + 120], NOW + 120), scheduled, "skip", NOW + 120
    )
    assert second is not None
    assert store.schedule_rows()["s"] == (NOW + 120, second, NOW + 120, NOW + 120)


# -- daemons and workers -----------------------------------------------------------


def test_daemons_heartbeat_stop_and_die(any_store: Store) -> None:
    store = any_store
    a = store.register_daemon("h1", 10, 1.5, ["q"], NOW, token="tok")
    b = store.register_daemon("h2", 20, None, None, NOW)
    assert [row[0] for row in store.other_daemons(a)] == [b]
    assert [row[0] for row in store.live_daemons()] == [a, b]
    assert store.heartbeat(a, NOW + 1, NOW + 31) is True
    store.mark_daemons_dead([b], NOW + 2)
    assert store.heartbeat(b, NOW + 3, NOW + 33) is False
    assert store.other_daemons(a) == []
    store.daemon_stopped(a, NOW + 4)
    assert store.live_daemons() == []


def test_a_worker_is_run_by_one_daemon_at_a_time(any_store: Store) -> None:
    store = any_store
    store.add_workers({"w": True, "held": False})
    store.add_workers({"w": False})  # seen before: unchanged
    rows = {row[0]: row for row in store.worker_rows()}
    assert set(rows) == {"held", "w"}
    assert (rows["w"][1], rows["w"][8], rows["held"][8]) == ("stopped", 0, 1)
    d1, d2 = daemon(store, "h1", 1), daemon(store, "h2", 2)
    assert store.worker_takeable("w", d1, "h1", NOW) == (None, (None, None, None, None))
    assert store.take_worker("w", d1, None, "h1", NOW, NOW + 30) == ("stopped", False, 0)
    assert store.worker_takeable("w", d2, "h2", NOW) is None  # a live daemon has it
    assert store.take_worker("w", d2, None, "h2", NOW, NOW + 30) is None
    assert store.owned_workers(d1) == {"w"} and store.owned_workers(d2) == set()

    assert store.worker_started("w", d2, 99, None, NOW) is None  # not d2's
    number = store.worker_started("w", d1, 4242, 12.5, NOW)
    assert number == 1 and store.latest_worker_run("w") == 1
    assert store.worker_run_ended("w", 1) is False and store.worker_run_ended("w", 2) is None
    store.worker_output([("w", 1, 0, b"a" * 10), ("w", 1, 10, b"b" * 10)], 15)
    store.worker_output([("w", 1, 20, b"c" * 10)], 15)  # the first piece ends before the last 15
    assert store.worker_output_after("w", 1, 0) == [(10, b"b" * 10), (20, b"c" * 10)]
    assert store.worker_output_after("w", 1, 20) == [(20, b"c" * 10)]
    # Its lease ran out and it is on another host: d2 may take it over.
    assert store.worker_takeable("w", d2, "h2", NOW + 60) == (d1, (4242, 12.5, "h1", None))
    store.worker_ended(
        "w", d1, 1, None, 9, NOW + 1, state="backoff", restarts=1, held=False, next_start_at=NOW + 5
    )
    assert store.worker_run_ended("w", 1) is True
    row = {r[0]: r for r in store.worker_rows()}["w"]
    assert (row[1], row[3], row[5], row[6], row[9], row[11]) == ("backoff", None, 1, -9, NOW + 5, 1)
    store.set_worker("w", d2, "running", held=True, restarts=7, next_start_at=None)  # not d2's
    assert {r[0]: r for r in store.worker_rows()}["w"][1] == "backoff"
    store.set_worker("w", d1, "stopped", held=True, restarts=0, next_start_at=None)
    assert {r[0]: r for r in store.worker_rows()}["w"][1:2] == ("stopped",)

    assert store.request_worker("w", "restart") is True
    assert store.request_worker("nope", "stop") is False
    assert store.worker_requests(d1) == [("w", "restart")]
    assert store.worker_requests(d1) == []  # taken

    store.release_worker("w", d2)  # not d2's: nothing
    assert store.owned_workers(d1) == {"w"}
    store.release_workers(d1)
    assert store.owned_workers(d1) == set()
    taken = store.worker_takeable("w", d2, "h2", NOW + 2)
    assert taken is not None and taken[0] is None
    assert store.take_worker("w", d2, None, "h2", NOW + 2, NOW + 32) == ("stopped", True, 0)


# -- purging -----------------------------------------------------------------------


def test_purge_deletes_old_finished_jobs_but_the_newest(any_store: Store) -> None:
    store = any_store
    old = store.add_jobs([typed("report.daily"), typed("mail"), job(), job()], NOW)
    store.cancel(old[:3], NOW)
    d = daemon(store)
    assert claim_ids(store, d) == [old[3]]
    succeed(store, old[3], 1, NOW + 1)
    [newest] = store.add_jobs([job()], NOW)
    store.cancel([newest], NOW)
    states = ["succeeded", "failed", "cancelled"]
    assert store.purge_count(NOW + 100, states) == {"cancelled": 3, "succeeded": 1}
    assert store.purge_count(NOW + 1, states) == {"cancelled": 3}
    assert store.purge_count(NOW + 100, states, types=["report.*"]) == {"cancelled": 1}
    assert store.purge(NOW + 100, states, types=["report.*"]) == 1
    with pytest.raises(NoSuchJob):
        store.get(old[0])
    assert store.events(old[0]) == []
    assert store.purge(NOW + 100, ["failed"]) == 0
    assert store.purge(NOW + 100, states) == 3
    assert store.attempts(old[3]) == []
    assert [j.id for j in store.list()] == [newest]  # the newest stays, however old


def test_purge_batch_goes_on_from_where_it_stopped(any_store: Store) -> None:
    store = any_store
    ids = store.add_jobs([typed("t"), typed("u"), job(), typed("t")], NOW)
    for n, job_id in enumerate(ids):
        store.cancel([job_id], NOW + n)
    cutoff = NOW + 100
    first = store.purge_batch(cutoff, 2, type="t")
    assert first.deleted == 1 and first.scanned == 2 and first.last == (NOW + 1, ids[1])
    assert first.held is None
    second = store.purge_batch(cutoff, 2, first.last, type="t")
    # ids[3] is the newest job: held, not deleted.
    assert (second.deleted, second.scanned, second.held) == (0, 2, ids[3])
    assert store.purge_batch(cutoff, 2, second.last, type="t").scanned == 0
    others = store.purge_batch(cutoff, 10, others=["t"])
    assert others.deleted == 2 and others.scanned == 3  # u and the ad hoc job
    [later] = store.add_jobs([job()], NOW + 200)
    again = store.purge_batch(cutoff, 10, second.last, type="t", held=ids[3])
    assert (again.deleted, again.scanned, again.held) == (1, 0, None)
    assert [j.id for j in store.list()] == [later]


# -- listing -----------------------------------------------------------------------


def test_list_filters_and_pages(any_store: Store) -> None:
    store = any_store
    assert store.list() == [] and store.stats() == {}
    a, b, c, d = store.add_jobs(
        [
            typed("report.daily", queue="q1"),
            typed("report.weekly"),
            job(command=["echo", "Needle"]),
            typed("mail.send", queue="q1"),
        ],
        NOW,
    )
    ids = lambda jobs: [j.id for j in jobs]  # noqa: E731
    assert ids(store.list()) == [d, c, b, a]
    assert ids(store.list(queue="q1")) == [d, a]
    assert ids(store.list(type="report.daily")) == [a]
    assert ids(store.list(types=["report.*"])) == [b, a]
    assert ids(store.list(types=["mail.send", "report.w*"])) == [d, b]
    assert ids(store.list(text="nEEDLE")) == [c]
    assert ids(store.list(text="_")) == []  # not LIKE's any-character
    assert ids(store.list(text="%")) == []
    assert ids(store.list(text="REPORT.")) == [b, a]
    assert ids(store.list(limit=2)) == [d, c]
    assert ids(store.list(limit=2, before_id=c)) == [b, a]
    assert ids(store.list(after_id=a, limit=2)) == [b, c]  # paging forwards: oldest first
    assert ids(store.list(after_id=a, before_id=d)) == [b, c]
    assert ids(store.list(limit=None, queue="q1", type="mail.send")) == [d]
    store.cancel([b], NOW)
    assert ids(store.list(state="cancelled")) == [b]
    assert ids(store.list(state="queued", types=["report.*"])) == [a]
    assert ids(store.list(text="by request")) == [b]  # the error
    assert store.stats() == {"q1": {"queued": 2}, "default": {"queued": 1, "cancelled": 1}}


# -- hearing of changes ------------------------------------------------------------


def test_data_version_moves_when_another_connection_commits(
    any_store: Store, open_store: Callable[[], Store]
) -> None:
    other = open_store()
    before = any_store.data_version()
    other.add_job(job(), NOW)
    wait_for(lambda: any_store.data_version() != before, 10, "data_version to move")
    seen = any_store.data_version()
    other.set_paused("q", True)
    wait_for(lambda: any_store.data_version() != seen, 10, "data_version to move again")


def test_a_commit_wakes_the_watcher(
    any_db: str, any_store: Store, open_store: Callable[[], Store]
) -> None:
    other = open_store()
    watcher = any_store.watcher(30.0)
    try:
        assert watcher.live
        before = any_store.data_version()  # the daemon looks, then waits
        other.add_job(job(), NOW)  # a commit between the look and the wait is not lost
        started = time.monotonic()
        watcher.wait(30.0)
        assert time.monotonic() - started < 20
        wait_for(lambda: any_store.data_version() != before, 10, "data_version to move")
    finally:
        watcher.close()
    # And a commit made while it waits, from another thread.
    watcher = any_store.watcher(30.0)
    try:
        before = any_store.data_version()
        ready = threading.Event()

        def commit() -> None:
            store = Store.open(any_db)
            try:
                ready.wait(10)
                store.add_job(job(), NOW)
            finally:
                store.close()

        writer = threading.Thread(target=commit)
        writer.start()
        ready.set()
        started = time.monotonic()
        watcher.wait(30.0)
        assert time.monotonic() - started < 20
        writer.join(10)
        wait_for(lambda: any_store.data_version() != before, 10, "data_version to move")
    finally:
        watcher.close()
    # A signal's wake-up fd (non-blocking, as signal.set_wakeup_fd wants it).
    read, write = os.pipe()
    os.set_blocking(read, False)
    watcher = any_store.watcher(30.0)
    try:
        os.write(write, b"x")
        started = time.monotonic()
        watcher.wait(30.0, also=(read,))
        assert time.monotonic() - started < 20
    finally:
        watcher.close()
        os.close(read)
        os.close(write)


# -- racing: where PostgreSQL (many writers) differs from SQLite (one) -------------


def _in_threads(count: int, work: Callable[[int], object]) -> list[object]:
    """Run work(0..count-1) in threads at once; their results, or their exception."""
    results: list[object] = [None] * count
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            results[n] = work(n)
        except BaseException as exc:  # noqa: BLE001 - raised in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    if errors:
        raise errors[0]
    return results


def _claim_retrying(store: Store, daemon_id: int, slots: int, **kw) -> list[int]:
    """claim(), waiting out DatabaseBusy (a deadlock broken) as the daemon does."""
    deadline = time.monotonic() + 30
    while True:
        try:
            return claim_ids(store, daemon_id, slots, **kw)
        except DatabaseBusy:
            if time.monotonic() > deadline:
                raise


def test_racing_claimers_claim_every_job_exactly_once(any_db: str, any_store: Store) -> None:
    ids = any_store.add_jobs([job() for _ in range(500)], NOW)
    start = threading.Barrier(4)

    def claimer(n: int) -> list[int]:
        store = Store.open(any_db)
        try:
            d = daemon(store, f"h{n}", n)
            start.wait(10)
            mine: list[int] = []
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                got = _claim_retrying(store, d, 5)
                mine += got
                if not got and not store.list(state="queued", limit=1):
                    return mine
            raise AssertionError("jobs still queued after 60 s")
        finally:
            store.close()

    claimed = [i for mine in _in_threads(4, claimer) for i in mine]  # type: ignore[union-attr]
    assert sorted(claimed) == ids
    running = any_store.list(state="running", limit=None)
    assert len(running) == 500 and {j.attempts_total for j in running} == {1}


def test_racing_adds_of_one_unique_key_make_one_job(any_db: str, any_store: Store) -> None:
    rounds = 15
    start = threading.Barrier(2)

    def adder(n: int) -> list[int]:
        store = Store.open(any_db)
        try:
            found = []
            for key in range(rounds):
                start.wait(10)
                found.append(store.add_job(typed("t", unique_key=f"k{key}"), NOW))
            return found
        finally:
            store.close()

    first, second = _in_threads(2, adder)
    assert first == second
    assert len(any_store.list(type="t", limit=None)) == rounds


def test_an_add_waiting_on_an_uncommitted_key_gets_its_id(any_db: str, any_store: Store) -> None:
    """The insert of a key another transaction holds (not yet committed) waits
    for it, then finds that job: PostgreSQL's ON CONFLICT path, not the look."""
    got: list[int] = []
    with any_store.transaction():
        mine = any_store.add_job(typed("t", unique_key="k"), NOW)

        def add() -> None:
            store = Store.open(any_db)
            try:
                got.append(store.add_job(typed("t", unique_key="k"), NOW))
            finally:
                store.close()

        other = threading.Thread(target=add)
        other.start()
        if any_db.startswith("postgresql"):
            wait_for(lambda: _waiting_on_a_lock(any_db), 10, "the other add to wait")
    other.join(30)
    assert got == [mine]
    assert len(any_store.list(type="t")) == 1


def _waiting_on_a_lock(url: str) -> bool:
    import psycopg

    from jobctl.store.postgres_db import parse_url

    with psycopg.connect(parse_url(url)[0], autocommit=True) as conn:
        query = (
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND query LIKE '%INSERT INTO jobs%'"
        )
        return conn.execute(query).fetchone()[0] > 0


def test_racing_schedulers_fire_a_due_time_once(any_db: str, any_store: Store) -> None:
    names = [f"s{n}" for n in range(10)]
    start = threading.Barrier(2)

    def owe_now(last: float | None) -> tuple[list[float], float | None]:
        return ([NOW], NOW) if last is None or last < NOW else ([], None)

    def scheduler(n: int) -> list[tuple[float, int | None]]:
        store = Store.open(any_db)
        try:
            fired = []
            for name in names:
                start.wait(10)
                make = lambda due, name=name: NewJob(  # noqa: E731
                    type=name, payload="null", schedule=name, due_at=due
                )
                fired += store.fire_schedule(name, owe_now, make, "skip", NOW)
            return fired
        finally:
            store.close()

    fired = [f for each in _in_threads(2, scheduler) for f in each]  # type: ignore[union-attr]
    assert len(fired) == len(names) and all(job_id is not None for _, job_id in fired)
    assert Counter(j.schedule for j in any_store.list(limit=None)) == dict.fromkeys(names, 1)


def test_racing_claimers_keep_a_queue_cap(any_db: str, any_store: Store) -> None:
    ids = any_store.add_jobs([job(queue="c") for _ in range(24)], NOW)
    start = threading.Barrier(4)
    most = [0]

    def claimer(n: int) -> list[int]:
        store = Store.open(any_db)
        try:
            d = daemon(store, f"h{n}", n)
            start.wait(10)
            mine: list[int] = []
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                got = _claim_retrying(store, d, 3, queue_caps={"c": 2})
                running = store.stats().get("c", {}).get("running", 0)
                most[0] = max(most[0], running)
                assert len(got) <= 2 and running <= 2, (got, running)
                for job_id in got:
                    succeed(store, job_id, 1)
                mine += got
                if not got and not store.list(state="queued", limit=1):
                    return mine
            raise AssertionError("jobs still queued after 60 s")
        finally:
            store.close()

    claimed = [i for mine in _in_threads(4, claimer) for i in mine]  # type: ignore[union-attr]
    assert sorted(claimed) == ids
    assert any_store.stats() == {"c": {"succeeded": 24}}


# -- the boundary: only the stores know the drivers --------------------------------

JOBCTL_DIR = Path(jobctl.__file__).parent
DRIVER_MODULES = {
    "jobctl/store/sqlite.py",
    "jobctl/store/sqlite_db.py",
    "jobctl/store/postgres.py",
    "jobctl/store/postgres_db.py",
}


def driver_imports(path: Path) -> list[str]:
    """What `path` imports of apsw or psycopg, in any form, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif (
            isinstance(node, ast.Call)
            and (
                getattr(node.func, "attr", None) == "import_module"
                or getattr(node.func, "id", None) in ("__import__", "import_module")
            )
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names = [str(node.args[0].value)]
        found += [n for n in names if n.split(".")[0] in ("apsw", "psycopg")]
    return found


def test_nothing_above_the_stores_imports_apsw_or_psycopg() -> None:
    modules = sorted(JOBCTL_DIR.rglob("*.py"))
    assert len(modules) > 30
    offenders = {}
    for path in modules:
        name = path.relative_to(JOBCTL_DIR.parent).as_posix()
        if name not in DRIVER_MODULES and (found := driver_imports(path)):
            offenders[name] = found
    assert offenders == {}
    # The check sees what the stores import (it could fail).
    assert driver_imports(JOBCTL_DIR / "store" / "sqlite.py") == ["apsw"]
    assert "psycopg" in driver_imports(JOBCTL_DIR / "store" / "postgres_db.py")


def test_the_import_check_sees_every_form(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import os, apsw\n"
        "from psycopg import sql\n"
        "def f():\n"
        "    import psycopg.errors as e\n"
        "    from apsw.ext import x\n"
        "    importlib.import_module('psycopg')\n"
        "from .psycopg import y\n"
    )
    assert driver_imports(sample) == ["apsw", "psycopg", "psycopg.errors", "apsw.ext", "psycopg"]


def unimplemented(store: type) -> list[str]:
    """The contract's operations (and SqlBase's primitives) that `store`
    reaches, through its MRO, only as their `raise NotImplementedError`."""
    from jobctl.store.contract import Store as Contract
    from jobctl.store.sql_base import SqlBase

    operations = [
        name
        for name, value in vars(Contract).items()
        if not name.startswith("_") and callable(getattr(value, "__func__", value))
    ]
    primitives = [n for n in vars(SqlBase) if n.startswith("_") and not n.startswith("__")]
    missing = []
    for name in operations + primitives:
        owner = next((k for k in store.__mro__ if name in vars(k)), None)
        if owner is None or _only_raises(vars(owner)[name]):
            missing.append(name)
    return missing


def test_both_stores_implement_every_operation() -> None:
    from jobctl.store.contract import Store as Contract
    from jobctl.store.postgres import PostgresStore
    from jobctl.store.sqlite import SqliteStore

    assert {"claim", "watcher", "transaction"} <= set(unimplemented(Contract))
    assert unimplemented(SqliteStore) == []
    assert unimplemented(PostgresStore) == []


def _only_raises(function: object) -> bool:
    """Whether `function`'s body is no more than a docstring and `raise NotImplementedError`."""
    import inspect
    import textwrap

    function = getattr(function, "__func__", function)
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))  # type: ignore[arg-type]
    body = tree.body[0].body  # type: ignore[attr-defined]
    body = [s for s in body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    return len(body) == 1 and isinstance(body[0], ast.Raise)


def test_jobctl_add_on_sqlite_does_not_import_psycopg(cli: Cli) -> None:
    rc, modules = imports_of(cli, ["add", "--", "true"], ("psycopg", "jobctl"))
    assert rc == 0
    assert not [m for m in modules if m.startswith("psycopg") or "postgres" in m], modules
    assert "jobctl.store.sqlite" in modules  # the check sees what was imported


def test_every_named_statement_is_defined_once() -> None:
    """A name given twice silently keeps the last file's statement."""
    from jobctl.store.named_sql import SQL_DIR, load_named

    for dialect in ("sqlite", "postgres"):
        seen: dict[str, str] = {}
        twice = []
        for path in sorted((SQL_DIR / dialect).glob("*.sql")):
            if path.name[0].isdigit() or path.name == "schema.sql":
                continue
            for name in load_named(path):
                if name in seen:
                    twice.append(f"{dialect}: {name} in {seen[name]} and {path.name}")
                seen[name] = path.name
        assert twice == []


def test_job_marks_move_with_the_newest_jobs_and_not_with_a_heartbeat(
    any_db: str, any_store: Store
) -> None:
    # The dashboard's look at whether the newest jobs changed (feed.py):
    # SQLite's data_version moves at every commit, a daemon's heartbeat too.
    store = any_store
    ids = store.add_jobs([job(), job(), job()], NOW)
    marks = store.job_marks(2)
    if any_db.startswith("postgresql://"):
        assert marks is None  # only changes to jobs notify: nothing to tell apart
        return
    assert [mark[0] for mark in marks] == [ids[2], ids[1]]
    store.heartbeat(daemon(store), NOW + 1, NOW + 30)
    assert store.job_marks(2) == marks
    store.cancel([ids[1]], NOW + 2)
    assert store.job_marks(2) != marks
