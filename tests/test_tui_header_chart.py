"""The dashboard's chart of finished jobs, its header (where it is) and its
"no daemon serves this" banner, driven headless like tests/test_tui.py."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from test_tui import finish, until

import jobctl
from jobctl.models import NewJob
from jobctl.store import Store, describe_db
from jobctl.tui import JobctlApp
from jobctl.tui.chart import EIGHTHS, GUTTER, ROWS, FinishedChart, bar_heights
from jobctl.tui.where import cut, where


def run(
    queue: jobctl.Queue, size: tuple[int, int], steps: Callable[[JobctlApp, Any], Awaitable[None]]
) -> None:
    async def go() -> None:
        app = JobctlApp(queue)
        async with app.run_test(size=size) as pilot:
            await steps(app, pilot)

    asyncio.run(go())


def add(db: Path | str, count: int) -> list[int]:
    store = Store.open(db)
    try:
        return store.add_jobs(
            [
                NewJob(type=None, payload="null", command=["true"], max_attempts=1)
                for _ in range(count)
            ],
            time.time(),
        )
    finally:
        store.close()


# -- the chart ------------------------------------------------------------------


def test_bar_heights_share_one_scale_and_an_empty_minute_has_none() -> None:
    full = ROWS * 8
    assert bar_heights([200, 20, 0, 1], 200) == [full, round(full / 10), 0, 1]
    assert bar_heights([0, 0], 0) == [0, 0]


def column_eighths(lines: list[str], column: int) -> int:
    return sum(EIGHTHS.index(line[column]) for line in lines)


def test_failures_stand_a_tenth_as_tall_as_ten_times_the_successes(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    ids = add(db, 220)
    kinds = {job_id: ("succeeded" if n < 200 else "failed", b"") for n, job_id in enumerate(ids)}
    finish(db, kinds)
    # finish() records them 2s ahead: a clock past that keeps them in the hour.
    queue = jobctl.connect(db, None, clock=lambda: time.time() + 5)

    async def steps(app: JobctlApp, pilot: Any) -> None:
        await pilot.press("o")
        chart = app.query_one("#chart", FinishedChart)
        await until(pilot, lambda: sum(chart.succeeded) == 200 and sum(chart.failed) == 20)
        minute = chart.succeeded.index(200)
        assert chart.failed[minute] == 20
        lines = str(chart.render()).splitlines()
        ok_rows = [line[GUTTER:] for line in lines[:ROWS]]
        fail_rows = [line[GUTTER:] for line in lines[ROWS : 2 * ROWS]]
        ok, failed = column_eighths(ok_rows, minute), column_eighths(fail_rows, minute)
        assert ok == ROWS * 8
        assert 0.07 <= failed / ok <= 0.13, (ok, failed)
        for column in range(60):  # every other minute: no bar at all
            if column != minute:
                assert {row[column] for row in ok_rows + fail_rows} == {" "}
        assert lines[0][:GUTTER].strip().startswith("200")  # the scale, shared
        assert lines[ROWS][:GUTTER].strip().startswith("200")
        axis = lines[2 * ROWS]
        assert axis[GUTTER:].startswith("-60m") and axis.rstrip().endswith("now")
        assert "200 ok 20 failed" in chart.counts_line()
        await pilot.hover("#chart", offset=(GUTTER + minute, 1))
        await until(pilot, lambda: chart.hovered == minute)
        assert chart.counts_line().endswith(": 200 succeeded, 20 failed")

    run(queue, (140, 45), steps)


def test_an_empty_hour_draws_no_bars(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    add(db, 1)  # queued, not finished

    async def steps(app: JobctlApp, pilot: Any) -> None:
        await pilot.press("o")
        chart = app.query_one("#chart", FinishedChart)
        await until(pilot, lambda: app.query_one("#counts").row_count == 1)
        lines = str(chart.render()).splitlines()
        assert all(not line[GUTTER:].strip() for line in lines[: 2 * ROWS])
        assert chart.counts_line() == "no job finished in the last hour"

    run(jobctl.connect(db, None), (100, 40), steps)


# -- the header -----------------------------------------------------------------


def test_cut_keeps_both_ends_and_where_masks_a_password() -> None:
    assert cut("/srv/data/jobctl/jobs.db", 12) == "/srv/…obs.db"
    assert len(cut("x" * 100, 30)) == 30
    shown = where("postgresql://jobctl:s3cret@db.example/jobs", None, 200)
    assert "s3cret" not in shown and "db.example/jobs" in shown
    assert shown.endswith("config: none")


def header_text(app: JobctlApp) -> str:
    from textual.widgets._header import HeaderTitle

    return str(app.screen.query_one(HeaderTitle).render())


def check_header(text: str, db: str, config: str, width: int) -> None:
    assert len(text) <= width - 8  # beside the header's icon
    shown_db = text.split("db: ", 1)[1].split(" · config: ")[0]
    shown_config = text.split(" · config: ", 1)[1]
    for shown, full in ((shown_db, db), (shown_config, config)):
        if shown != full:
            head, tail = shown.split("…")
            assert full.startswith(head) and full.endswith(tail), (shown, full)
            assert len(head) >= 3 and len(tail) >= 3


def test_the_header_says_which_database_and_config(any_db: Path | str, tmp_path: Path) -> None:
    db = any_db
    if not isinstance(db, str):
        db = tmp_path / ("a-rather-long-folder-name-" * 3) / "jobs.db"
        db.parent.mkdir()
    config = tmp_path / "jobs.toml"
    config.write_text("")
    queue = jobctl.connect(db, config)
    for width, height in ((80, 24), (120, 40)):

        async def steps(app: JobctlApp, pilot: Any, width: int = width) -> None:
            await until(pilot, lambda: "db: " in header_text(app))
            text = header_text(app)
            check_header(text, describe_db(db), str(config), width)
            password = urlsplit(db).password if isinstance(db, str) else None
            assert not password or password not in text

        run(queue, (width, height), steps)
    # Wide enough, nothing is cut.
    assert "…" not in where(db, str(config), 400)


# -- the banner ---------------------------------------------------------------


def test_a_banner_while_no_daemon_serves_queued_jobs(any_db: Path | str) -> None:
    db = any_db
    queue = jobctl.connect(db, None)

    async def steps(app: JobctlApp, pilot: Any) -> None:
        banner = app.query_one("#unserved")
        await until(pilot, lambda: app.query_one("#counts").row_count == 1)
        await pilot.pause(1.2)  # a look at the daemons has been taken: nothing queued
        assert not banner.has_class("shown")
        queue.add_id(command=["true"])
        await until(pilot, lambda: banner.has_class("shown"))
        assert 'no daemon is serving queue "default"' in str(banner.render())
        store = Store.open(db)  # a daemon comes up, as `jobctl daemon` registers
        try:
            daemon = store.register_daemon(
                socket.gethostname(), os.getpid(), None, None, time.time()
            )
            await until(pilot, lambda: not banner.has_class("shown"))
            store.daemon_stopped(daemon, time.time())
            await until(pilot, lambda: banner.has_class("shown"))
        finally:
            store.close()

    run(queue, (100, 30), steps)
