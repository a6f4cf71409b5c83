"""The TUI, driven headless with App.run_test() and Pilot, on a real database file."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import jobctl
from jobctl.models import Outcome
from jobctl.store import Store
from jobctl.tui import JobctlApp
from jobctl.tui.screens import ConfirmScreen, DetailScreen

MARKUP = b"[red]x[/] [/] [bold]not bold"


def finish(db: Path | str, outcomes: dict[int, tuple[str, bytes]]) -> None:
    """Run the given queued jobs to an end the way a daemon records it."""
    store = Store.open(db)
    try:
        now = time.time()
        daemon = store.register_daemon("test", 1, None, None, now)
        claimed = store.claim(daemon, 1000, now + 1, now + 60)
        numbers = {c.job.id: c.attempt for c in claimed}
        store.record(
            [
                Outcome(job_id, numbers[job_id], kind, error=_error(kind))
                for job_id, (kind, _) in outcomes.items()
            ],
            [(job_id, numbers[job_id], 0, data) for job_id, (_, data) in outcomes.items() if data],
            [],
            now + 2,
            1 << 20,
            lambda job, outcome: 0.0,
        )
    finally:
        store.close()


def _error(kind: str) -> str | None:
    return None if kind == "succeeded" else "boom [red]x[/]"


def scenario(db: Path | str, steps: Callable[[JobctlApp, Any], Awaitable[None]]) -> None:
    async def run() -> None:
        app = JobctlApp(jobctl.connect(db, None))
        async with app.run_test(size=(140, 45)) as pilot:
            await steps(app, pilot)

    asyncio.run(run())


async def until(pilot: Any, condition: Callable[[], object], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the screen")
        await pilot.pause(0.05)


def rows(app: JobctlApp) -> list[str]:
    table = app.query_one("#jobs-table")
    return table.row_keys


def test_filter_failed_retry_and_cancel_with_confirmation(any_db: Path | str) -> None:
    db = any_db
    queue = jobctl.connect(db, None)
    ok = queue.add_id(command=["true"])
    bad = queue.add_id(command=["false"], max_attempts=1)
    finish(db, {ok: ("succeeded", b""), bad: ("failed", b"")})
    waiting = queue.add_id(command=["sleep", "1"], delay="1h")

    async def steps(app: JobctlApp, pilot: Any) -> None:
        await until(pilot, lambda: len(rows(app)) == 3)
        await pilot.press("4")  # failed only
        await until(pilot, lambda: rows(app) == [str(bad)])
        await pilot.press("r")
        await until(pilot, lambda: queue.get(bad).state == "queued")
        await pilot.press("0")
        await until(pilot, lambda: len(rows(app)) == 3)
        await until(pilot, lambda: app.selected_job_id() is not None)
        app.query_one("#jobs-table").move_cursor(row=rows(app).index(str(waiting)))
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert queue.get(waiting).state == "queued"  # it asks first
        await pilot.press("n")
        await pilot.pause(0.2)
        assert queue.get(waiting).state == "queued"
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: queue.get(waiting).state == "cancelled")

    scenario(db, steps)


def test_detail_shows_payload_events_and_output_literally(
    any_db: Path | str, tmp_path: Path
) -> None:
    db = any_db
    (tmp_path / "jobs.toml").write_text('[jobs.report]\ncommand = "echo {week}"\n')
    queue = jobctl.connect(db, tmp_path / "jobs.toml")
    job_id = queue.add_id("report", {"week": 47, "note": "[b]bold?[/b]"})
    finish(db, {job_id: ("succeeded", MARKUP + b"\n")})

    async def steps(app: JobctlApp, pilot: Any) -> None:
        await until(pilot, lambda: rows(app) == [str(job_id)])
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        screen = app.screen
        await until(pilot, lambda: "47" in str(screen.query_one("#payload").render()))
        payload = str(screen.query_one("#payload").render())
        assert '"note": "[b]bold?[/b]"' in payload  # shown as typed
        events = screen.query_one("#events")
        await until(pilot, lambda: events.row_count >= 3)
        kinds = [str(events.get_row_at(i)[1]) for i in range(events.row_count)]
        assert kinds[:3] == ["created", "started", "succeeded"]
        output = screen.query_one("#output")
        await until(pilot, lambda: any("[red]x[/] [/]" in line for line in output.lines))
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, DetailScreen))

    scenario(db, steps)


def test_a_job_added_elsewhere_appears_and_the_cursor_stays(any_db: Path | str) -> None:
    db = any_db
    queue = jobctl.connect(db, None)
    first = queue.add_id(command=["true"])
    second = queue.add_id(command=["true"])

    async def steps(app: JobctlApp, pilot: Any) -> None:
        await until(pilot, lambda: rows(app) == [str(second), str(first)])
        app.query_one("#jobs-table").move_cursor(row=1)  # on `first`
        other = Store.open(db)  # another connection, as `jobctl add` would be
        try:
            [third] = other.add_jobs(
                [jobctl.models.NewJob(type=None, payload="null", command=["true"])], time.time()
            )
        finally:
            other.close()
        await until(pilot, lambda: str(third) in rows(app), timeout=2.0)
        assert rows(app)[0] == str(third)  # newest first
        assert app.selected_job_id() == first  # the cursor stayed on its job

    scenario(db, steps)


def test_markup_in_job_text_is_shown_literally_everywhere(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    queue = jobctl.connect(db, None)
    job_id = queue.add_id(command=["echo", "[red]x[/] [/]"])
    finish(db, {job_id: ("failed", MARKUP)})

    async def steps(app: JobctlApp, pilot: Any) -> None:
        await until(pilot, lambda: rows(app) == [str(job_id)])
        table = app.query_one("#jobs-table")
        assert "[red]x[/] [/]" in str(table.get_cell(str(job_id), "job"))
        for view in ("o", "s", "w", "j"):
            await pilot.press(view)
            await pilot.pause(0.1)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        output = app.screen.query_one("#output")
        await until(pilot, lambda: any("[red]x[/] [/]" in line for line in output.lines))
        await pilot.press("escape", "question_mark")
        await pilot.pause(0.1)
        await pilot.press("escape")

    scenario(db, steps)  # any markup error would raise out of run_test


def test_pages_and_the_text_filter(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    store = Store.open(db)
    try:
        store.add_jobs(
            [
                jobctl.models.NewJob(
                    type=None, payload="null", command=["echo", "needle" if n == 7 else "hay"]
                )
                for n in range(450)
            ],
            time.time(),
        )
    finally:
        store.close()

    async def steps(app: JobctlApp, pilot: Any) -> None:
        await until(pilot, lambda: len(rows(app)) == 200)
        assert rows(app)[0] == "450"
        await pilot.press("right_square_bracket")
        await until(pilot, lambda: rows(app)[:1] == ["250"])
        await pilot.press("right_square_bracket")
        await until(pilot, lambda: rows(app)[:1] == ["50"] and len(rows(app)) == 50)
        await pilot.press("right_square_bracket")  # the oldest page: stays
        await pilot.press("left_square_bracket")
        await until(pilot, lambda: rows(app)[:1] == ["250"])
        await pilot.press("slash")
        await pilot.press(*"needle", "enter")
        await until(pilot, lambda: rows(app) == ["8"])
        await pilot.press("slash", "escape")
        await until(pilot, lambda: len(rows(app)) == 200 and rows(app)[0] == "450")

    scenario(db, steps)


def test_changes_while_a_detail_or_dialog_is_open_do_not_crash(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    queue = jobctl.connect(db, None)
    job_id = queue.add_id(command=["true"])

    async def steps(app: JobctlApp, pilot: Any) -> None:
        await until(pilot, lambda: rows(app) == [str(job_id)])
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        newer = queue.add_id(command=["true"])  # a snapshot arrives under the detail
        await pilot.press("escape")
        await until(pilot, lambda: rows(app)[:1] == [str(newer)])
        await pilot.press("c")  # the confirmation dialog, then another change
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        third = queue.add_id(command=["true"])
        await pilot.pause(0.5)
        await pilot.press("n")
        await until(pilot, lambda: rows(app)[:1] == [str(third)])

    scenario(db, steps)


def test_control_characters_in_job_text_are_shown_escaped(tmp_path: Path) -> None:
    """An OSC sequence in a command or an error must not retitle or clear the
    terminal the TUI runs in: cells and the detail view show it escaped."""
    db = tmp_path / "jobs.db"
    queue = jobctl.connect(db, None)
    job_id = queue.add_id(command=["echo", "\x1b]0;pwned\x07", "\x9b2J"])
    finish(db, {job_id: ("failed", b"bad \x1b[2J news")})

    async def steps(app: JobctlApp, pilot: Any) -> None:
        await until(pilot, lambda: rows(app) == [str(job_id)])
        table = app.query_one("#jobs-table")
        cells = str(table.get_cell(str(job_id), "job")) + str(table.get_cell(str(job_id), "error"))
        assert "\x1b" not in cells and "\x9b" not in cells and "\x07" not in cells
        assert "\\x1b]0;pwned\\x07" in cells
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        summary = app.screen.query_one("#summary")
        await until(pilot, lambda: "pwned" in str(summary.render()))
        assert "\x1b" not in str(summary.render())

    scenario(db, steps)
