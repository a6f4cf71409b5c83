"""Writes of many rows on either backend: purge in batches, add_jobs in one statement."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobctl.models import NewJob, Outcome
from jobctl.store import Store


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path):
    db = request.getfixturevalue("pg_url") if request.param == "postgres" else tmp_path / "j.db"
    opened = Store.open(db)
    yield opened
    opened.close()


def test_purge_goes_in_batches_and_deletes_them_all(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("jobctl.store.changing.PURGE_BATCH", 3)
    job = NewJob(type=None, payload="null", command=["true"])
    ids = store.add_jobs([job] * 11, 100.0)
    claimed = store.claim(store.register_daemon("h", 1, None, None, 100.0), 11, 100.0, 200.0)
    outcomes = [Outcome(c.job.id, c.attempt, "succeeded", 0) for c in claimed]
    store.record(outcomes, [], [], 101.0, 1 << 20, lambda job, outcome: 0.0)

    # A batch is a transaction: count them by the purge_select statements run.
    batches = []
    real_exec = type(store)._exec

    def counting_exec(self, name, params=None):
        if name == "purge_select":
            batches.append(name)
        return real_exec(self, name, params)

    monkeypatch.setattr(type(store), "_exec", counting_exec)
    assert store.purge(200.0, ["succeeded"]) == 10  # the newest job stays
    assert len(batches) == 4  # 3 + 3 + 3 + 1
    assert [job.id for job in store.list(limit=None)] == [ids[-1]]


def test_add_jobs_keeps_mixed_numbers_and_order(store: Store) -> None:
    jobs = [
        NewJob(type=None, payload=f'{{"n":{n}}}', command=["true"], timeout=t, run_at=r)
        for n, (t, r) in enumerate([(5, 100), (2.5, 100.5), (None, None)])
    ]
    ids = store.add_jobs(jobs, 50.0)
    got = [store.get(i) for i in ids]
    assert [(j.payload["n"], j.timeout, j.run_at) for j in got] == [
        (0, 5.0, 100.0),
        (1, 2.5, 100.5),
        (2, None, 50.0),
    ]
