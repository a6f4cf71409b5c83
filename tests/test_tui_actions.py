"""Issue 18, item 12: r and c in the detail view, pause asking first and
naming its queue, a paused queue shown in the jobs view, and the / filter
going to its newest match; driven headless like tests/test_tui.py."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from test_tui import finish, rows, until

import jobctl
from jobctl.tui import JobctlApp
from jobctl.tui.screens import ConfirmScreen, DetailScreen

LABEL = "[red]x[/] [/]"  # markup in job text: must stay literal everywhere


def run(
    db: Path | str, size: tuple[int, int], steps: Callable[[JobctlApp, Any], Awaitable[None]]
) -> None:
    async def go() -> None:
        app = JobctlApp(jobctl.connect(db, None))
        async with app.run_test(size=size) as pilot:
            await steps(app, pilot)

    asyncio.run(go())


def toasts(app: JobctlApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


def question(app: JobctlApp) -> str:
    return str(app.screen.query("Static").first().render())


def summary(app: JobctlApp) -> str:
    return str(app.screen.query_one("#summary").render())


def test_retry_and_cancel_in_the_detail_view_ask_first(any_db: Path | str) -> None:
    db = any_db
    queue = jobctl.connect(db, None)
    job_id = queue.add_id(command=["echo", LABEL], max_attempts=1)
    finish(db, {job_id: ("failed", b"")})
    label = queue.get(job_id).label  # shell-quoted: echo '[red]x[/] [/]'
    assert LABEL in label

    async def steps(app: JobctlApp, pilot: Any) -> None:
        await until(pilot, lambda: rows(app) == [str(job_id)])
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        detail = app.screen
        await until(pilot, lambda: "failed" in summary(app))

        await pilot.press("c")  # a failed job cannot be cancelled: no question
        await until(pilot, lambda: any("only a queued or running" in t for t in toasts(app)))
        assert app.screen is detail

        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert question(app) == f"Retry job {job_id} ({label})?"  # literal
        await pilot.press("n")
        await until(pilot, lambda: app.screen is detail)
        await pilot.pause(0.2)
        assert queue.get(job_id).state == "failed"  # it asked, and the answer was no

        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: queue.get(job_id).state == "queued")
        await until(pilot, lambda: f"job {job_id}  queued" in summary(app))  # refreshed
        assert f"job {job_id} ({label}) queued again" in toasts(app)

        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert question(app) == f"Cancel job {job_id} ({label})?"
        await pilot.press("y")
        await until(pilot, lambda: queue.get(job_id).state == "cancelled")
        await until(pilot, lambda: f"job {job_id}  cancelled" in summary(app))
        assert f"job {job_id} ({label}) cancelled" in toasts(app)
        assert app.screen is detail

    run(db, (80, 24), steps)


def test_pause_asks_names_the_queue_and_the_jobs_view_shows_it(any_db: Path | str) -> None:
    db = any_db
    queue = jobctl.connect(db, None)
    mail = queue.add_id(command=["true"], queue="email")
    other = queue.add_id(command=["true"])

    def cell(app: JobctlApp, job_id: int) -> str:
        return str(app.query_one("#jobs-table").get_cell(str(job_id), "queue"))

    async def steps(app: JobctlApp, pilot: Any) -> None:
        await until(pilot, lambda: rows(app) == [str(other), str(mail)])
        app.query_one("#jobs-table").move_cursor(row=1)
        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert question(app) == "Pause queue email?"
        await pilot.press("n")
        await pilot.pause(0.2)
        assert queue.paused_queues() == []  # it asked first

        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: queue.paused_queues() == ["email"])
        await until(pilot, lambda: "queue email paused" in toasts(app))
        await until(pilot, lambda: cell(app, mail) == "email (paused)")
        assert cell(app, other) == "default"

        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert question(app) == "Resume queue email?"
        await pilot.press("y")
        await until(pilot, lambda: "queue email resumed" in toasts(app))
        await until(pilot, lambda: cell(app, mail) == "email")
        assert queue.paused_queues() == []

        queue.pause("email")  # from elsewhere, as `jobctl pause` would
        await until(pilot, lambda: cell(app, mail) == "email (paused)")

    run(db, (120, 40), steps)


def test_a_long_paused_queue_name_keeps_its_marker(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    queue = jobctl.connect(db, None)
    job_id = queue.add_id(command=["true"], queue="[b]notifications")
    queue.pause("[b]notifications")

    async def steps(app: JobctlApp, pilot: Any) -> None:
        await until(pilot, lambda: rows(app) == [str(job_id)])
        table = app.query_one("#jobs-table")
        await until(pilot, lambda: "(paused)" in str(table.get_cell(str(job_id), "queue")))
        assert str(table.get_cell(str(job_id), "queue")) == "[b]not… (paused)"  # 16 columns

    run(db, (80, 24), steps)


def test_the_text_filter_goes_to_the_newest_match(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    queue = jobctl.connect(db, None)
    ids = [queue.add_id(command=["echo", "needle" if n % 10 == 3 else "hay"]) for n in range(100)]
    needles = [job_id for n, job_id in enumerate(ids) if n % 10 == 3]

    async def steps(app: JobctlApp, pilot: Any) -> None:
        table = app.query_one("#jobs-table")
        await until(pilot, lambda: len(rows(app)) == 100)
        # The cursor far down, on a job the filter keeps: it must not stay there.
        table.move_cursor(row=rows(app).index(str(needles[0])))
        await until(pilot, lambda: table.scroll_y > 0)
        await pilot.press("slash", *"needle", "enter")
        await until(pilot, lambda: len(rows(app)) == len(needles))
        await until(pilot, lambda: app.selected_job_id() == needles[-1])
        assert table.cursor_row == 0
        await until(pilot, lambda: table.scroll_y == 0)

    run(db, (80, 24), steps)


def test_labels_in_the_jobs_view_and_detail_and_parallel_limits_in_the_overview(
    tmp_path: Path,
) -> None:
    db = tmp_path / "jobs.db"
    queue = jobctl.connect(db, None)
    job_id = queue.add_id(command=["true"], queue="email", labels=["nightly", "db"])
    queue.set_parallel("email", 3)

    def job_cell(app: JobctlApp) -> str:
        return str(app.query_one("#jobs-table").get_cell(str(job_id), "job"))

    def limit(app: JobctlApp) -> str:
        return str(app.query_one("#queues").get_row("email")[-1])

    async def steps(app: JobctlApp, pilot: Any) -> None:
        await until(pilot, lambda: rows(app) == [str(job_id)])
        assert job_cell(app) == "true #db #nightly"
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        await until(pilot, lambda: "labels db nightly" in summary(app))
        await pilot.press("escape")
        await pilot.press("o")
        await until(pilot, lambda: limit(app) == "3")
        queue.set_parallel("email", 5)  # from elsewhere, as `jobctl parallel` would
        await until(pilot, lambda: limit(app) == "5")

    run(db, (120, 40), steps)
