"""CommitWatcher: a commit by another connection ends a wait early."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from jobctl import wakeup
from jobctl.models import NewJob
from jobctl.store import Store


def test_a_commit_wakes_a_waiter_long_before_its_timeout(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    store = Store.open(db)
    watcher = wakeup.CommitWatcher(db, poll=0.01)
    if not watcher.live:
        pytest.skip("no inotify here: waiters poll instead")
    started = threading.Event()

    def wait() -> None:
        started.set()
        watcher.wait(60)  # only a commit can end this within the test's deadline

    waiter = threading.Thread(target=wait, daemon=True)
    waiter.start()
    started.wait(10)
    other = Store.open(db)
    other.add_jobs([NewJob(type=None, payload="null", command=["true"])], 0.0)
    waiter.join(timeout=10)
    assert not waiter.is_alive()
    watcher.close()
    store.close()
    other.close()


def test_without_inotify_wait_is_a_short_sleep(tmp_path: Path, monkeypatch) -> None:
    def unavailable(folder: Path) -> int:
        raise OSError(38, "inotify_init1")

    monkeypatch.setattr(wakeup, "_watch", unavailable)
    watcher = wakeup.CommitWatcher(tmp_path / "jobs.db", poll=0.001)
    assert not watcher.live
    watcher.wait(60)  # returns after `poll`, so callers fall back to polling


def test_after_an_event_the_next_waits_look_again_soon(tmp_path: Path) -> None:
    # A commit at synchronous=FULL is written (the event), then fsynced, and
    # only then visible: a waiter that found nothing new must look again
    # shortly instead of sleeping until the next commit.
    watcher = wakeup.CommitWatcher(tmp_path / "jobs.db", poll=0.01)
    if not watcher.live:
        pytest.skip("no inotify here: waiters poll instead")
    (tmp_path / "jobs.db-wal").write_bytes(b"frames")
    done = threading.Event()

    def wait() -> None:
        for _ in wakeup._LOOK_AGAIN:
            watcher.wait(60)  # the first ends at the event, the rest at their short caps
        done.set()

    threading.Thread(target=wait, daemon=True).start()
    assert done.wait(10)
    watcher.close()


def test_a_dashboard_looks_once_more_after_an_event_and_not_once_it_has_seen_the_commit(
    tmp_path: Path,
) -> None:
    # eager=False (jobctl tui): a wait ends 2 ms after the event (the commit
    # is visible by then), and one look follows, not six, for each daemon
    # heartbeat; settle() (the commit was seen) drops it.
    watcher = wakeup.CommitWatcher(tmp_path / "jobs.db", poll=0.01, eager=False)
    if not watcher.live:
        pytest.skip("no inotify here: waiters poll instead")
    (tmp_path / "jobs.db-wal").write_bytes(b"frames")
    done = threading.Event()

    def wait() -> None:
        watcher.wait(60)  # ends at the event
        for _ in wakeup._LOOK_ONCE_MORE:
            watcher.wait(60)  # end at their short caps
        done.set()

    threading.Thread(target=wait, daemon=True).start()
    assert done.wait(10)
    assert len(wakeup._LOOK_ONCE_MORE) < len(wakeup._LOOK_AGAIN)
    (tmp_path / "jobs.db-wal").write_bytes(b"more frames")
    watcher.wait(60)
    assert watcher._look_again  # looks to come
    watcher.settle()
    assert not watcher._look_again
    watcher.close()
