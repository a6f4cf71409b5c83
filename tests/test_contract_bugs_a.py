"""Issue 15, items 8, 12, 13, 14: catch_up = "all", the TUI's Workers keys,
a closed pipe, and what `jobctl schedules` shows."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

from conftest import JOBCTL, Cli

import jobctl
from jobctl.config import load_config
from jobctl.scheduler import Scheduler
from jobctl.store import Store
from jobctl.tui import JobctlApp

HOUR = 3600.0
T0 = 1_790_000_000.0 // HOUR * HOUR  # on the hour


def scheduler_at(home: Path, db: Path, text: str) -> tuple[Scheduler, Store, list[str]]:
    (home / "jobs.toml").write_text(text)
    config = load_config(home / "jobs.toml")
    db.parent.mkdir(parents=True, exist_ok=True)
    store = Store.open(db)
    lines: list[str] = []
    return Scheduler(config, db, store, log=lines.append), store, lines


def scheduled(store: Store) -> list[tuple[int, float, str]]:
    rows = store.conn.execute(
        "SELECT id, due_at, state FROM jobs WHERE schedule IS NOT NULL ORDER BY id"
    ).fetchall()
    return [tuple(row) for row in rows]


# -- 8: catch_up = "all" queues every owed run ----------------------------------


def test_catch_up_all_with_overlap_skip_queues_every_owed_run(tmp_path: Path) -> None:
    scheduler, store, lines = scheduler_at(
        tmp_path,
        tmp_path / "jobs.db",
        '[jobs.hourly]\ncommand = "true"\nevery = "1h"\ncatch_up = "all"\ncatch_up_limit = 3\n',
    )
    try:
        scheduler.tick(T0 + 10)  # first seen: owes nothing
        assert scheduled(store) == []
        # Five hours asleep: the three most recent due times, all queued, oldest first.
        scheduler.tick(T0 + 5 * HOUR + 600)
        jobs = scheduled(store)
        assert [due for _, due, _ in jobs] == [T0 + 3 * HOUR, T0 + 4 * HOUR, T0 + 5 * HOUR]
        assert all(state == "queued" for _, _, state in jobs)
        assert not any("skipped" in line for line in lines), lines
        # They are still queued at the next due time: that one is skipped.
        scheduler.tick(T0 + 6 * HOUR + 1)
        assert len(scheduled(store)) == 3
        assert any("skipped (overlap = skip)" in line for line in lines), lines
    finally:
        scheduler.close()
        store.close()


def test_the_daemon_runs_owed_runs_one_at_a_time(tmp_path: Path) -> None:
    from jobctl.daemon import Daemon
    from jobctl.models import Config, JobType

    def caps(**fields: object) -> dict[str, int]:
        kind = JobType(name="t", command="true", every=60.0, **fields)  # type: ignore[arg-type]
        return Daemon(Config(jobs={"t": kind}), tmp_path / "jobs.db")._type_caps

    assert caps(catch_up="all", overlap="skip") == {"t": 1}
    assert caps(catch_up="all", overlap="queue") == {"t": 1}
    assert caps(catch_up="all", overlap="allow") == {}


# -- 12: the Workers view keeps the app's keys ---------------------------------


def test_view_and_quit_keys_work_in_the_workers_view(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    Store.open(db).close()

    async def run() -> None:
        app = JobctlApp(jobctl.connect(db, None))
        async with app.run_test(size=(140, 45)) as pilot:
            views = app.query_one("#views")
            for key, view in (("o", "overview"), ("s", "schedules"), ("j", "jobs")):
                await pilot.press("w")
                await pilot.pause()
                assert views.active == "workers"
                assert app.focused is app.query_one("#workers-table")
                await pilot.press(key)
                await pilot.pause()
                assert views.active == view, key
            await pilot.press("w")
            await pilot.pause()
            await pilot.press("q")
            await pilot.pause(0.2)
            assert not app.is_running

    asyncio.run(asyncio.wait_for(run(), 30))


# -- 13: a closed pipe is no error ----------------------------------------------


def test_a_reader_closing_the_pipe_early_exits_0(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "jobs.toml").write_text('[jobs.t]\ncommand = "true"\n')
    lines = "".join(f'{{"n": {n}}}\n' for n in range(5000))
    cli.ok("add", "t", "--batch", "-", input=lines)
    for _ in range(8):
        proc = subprocess.Popen(
            [*JOBCTL, "ls", "--limit", "5000"],
            cwd=cli.home,
            env=cli.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline()
        proc.stdout.close()  # `| head -1`
        error = proc.stderr.read()
        assert proc.wait(timeout=60) == 0, error
        assert error == b""


# -- 14: `jobctl schedules` shows real runs only -----------------------------------


def test_schedules_show_never_for_a_schedule_that_never_ran(cli: Cli, tmp_path: Path) -> None:
    text = '[jobs.hourly]\ncommand = "true"\nevery = "1h"\n'
    scheduler, store, _ = scheduler_at(tmp_path, cli.db, text)
    try:
        scheduler.tick(time.time() - 5 * HOUR)  # first seen hours ago, never run
    finally:
        scheduler.close()
        store.close()
    now = time.time()
    (shown,) = cli.json("schedules")
    assert shown["last_due"] is None and shown["last_job_id"] is None
    assert shown["next_run"] is not None
    next_run = cli.store()
    try:
        assert next_run.conn.execute("SELECT count(*) FROM jobs").fetchall()[0][0] == 0
    finally:
        next_run.close()
    from datetime import datetime

    assert datetime.fromisoformat(shown["next_run"]).timestamp() > now - 1
    row = [r for r in cli.ok("schedules").splitlines() if r.startswith("hourly\t")][0]
    assert row.split("\t")[5] == "never", row


def test_schedules_last_is_the_latest_run_not_a_skipped_due_time(cli: Cli, tmp_path: Path) -> None:
    text = '[jobs.hourly]\ncommand = "true"\nevery = "1h"\n'
    scheduler, store, _ = scheduler_at(tmp_path, cli.db, text)
    base = (time.time() - 10 * HOUR) // HOUR * HOUR
    try:
        scheduler.tick(base + 10)
        scheduler.tick(base + HOUR + 5)  # queued, and still queued:
        scheduler.tick(base + 2 * HOUR + 5)  # skipped (overlap = skip)
        assert [due for _, due, _ in scheduled(store)] == [base + HOUR]
    finally:
        scheduler.close()
        store.close()
    (shown,) = cli.json("schedules")
    from jobctl.models import iso

    assert shown["last_due"] == iso(base + HOUR) and shown["last_job_id"] is not None
