"""What the dashboard reads and redraws (issue 18, item 13): only the view on
screen, only after a change, and a page that did not change is not redrawn."""

from __future__ import annotations

import asyncio
import math
import os
import socket
import time
from pathlib import Path
from typing import Any

from test_tui import finish, rows, until
from textual.app import App

import jobctl
from jobctl.store import Store
from jobctl.tui import JobctlApp
from jobctl.tui.app import PAGE
from jobctl.tui.cells import JOB_COLUMNS, job_cells
from jobctl.tui.jobs_table import JobsTable
from jobctl.tui.tables import JobRows


def test_only_the_view_on_screen_is_read_and_an_unchanged_page_is_not_redrawn(
    tmp_path: Path,
) -> None:
    db = tmp_path / "jobs.db"
    queue = jobctl.connect(db, None)
    # Ended jobs: with queued ones the no-daemon banner would come and go as
    # the daemon below registers, moving the table under the clicks.
    first, second = queue.add_id(command=["true"]), queue.add_id(command=["true"])
    finish(db, {first: ("succeeded", b""), second: ("succeeded", b"")})

    async def steps(app: JobctlApp, pilot: Any) -> None:
        feed = app.feed
        fills = []
        fill_jobs = app._fill_jobs

        def counted(*args: Any) -> None:
            fills.append(args)
            fill_jobs(*args)

        app._fill_jobs = counted  # type: ignore[method-assign]
        await until(pilot, lambda: rows(app) == [str(second), str(first)])
        # The other views are not on screen: not read.
        assert feed.reads["schedules"] == 0 and feed.reads["workers"] == 0
        # A commit that changes nothing on the page (a daemon registers, as
        # its heartbeat does each second): the page is read, not redrawn.
        read, drawn = feed.reads["jobs"], len(fills)
        store = Store.open(db)
        try:
            store.register_daemon(socket.gethostname(), os.getpid(), None, None, time.time())
            await until(pilot, lambda: feed.reads["jobs"] > read)
            assert len(fills) == drawn
        finally:
            store.close()
        # A new job shows.
        third = queue.add_id(command=["true"])
        finish(db, {third: ("succeeded", b"")})
        await until(pilot, lambda: rows(app) == [str(third), str(second), str(first)])
        # Drawn rows are reused when rows come in above them; a click still
        # finds the row now on that line (line 0 is the header).
        await pilot.pause(0.1)
        await pilot.click("#jobs-table", offset=(2, 3))
        await until(pilot, lambda: app.selected_job_id() == first)
        await pilot.click("#jobs-table", offset=(2, 2))
        await until(pilot, lambda: app.selected_job_id() == second)
        # Another view is read as soon as it is shown.
        await pilot.press("w")
        await until(pilot, lambda: feed.reads["workers"] == 1)
        assert feed.reads["schedules"] == 0

    async def run() -> None:
        app = JobctlApp(queue)
        async with app.run_test(size=(120, 30)) as pilot:
            await steps(app, pilot)

    asyncio.run(run())


def test_a_row_whose_age_moved_keeps_its_other_cells_and_rows_gone_are_removed(
    tmp_path: Path,
) -> None:
    queue = jobctl.connect(tmp_path / "jobs.db", None)
    ids = [queue.add_id(command=["true"], delay="1h") for _ in range(5)]
    jobs = queue.list(limit=None)
    why = queue.why_queued(jobs)
    made = JobRows(job_cells)
    now = math.ceil(time.time())
    first = made.page(jobs, now, set(), why)
    later = made.page(jobs, now + 65, set(), why)
    age = JOB_COLUMNS.index("age")
    for job in jobs:
        was, cells = first[str(job.id)], later[str(job.id)]
        # What job_cells makes at that time, its other cells the same objects.
        assert cells == job_cells(job, now + 65, False, why.get(job.id))
        assert cells[age] != was[age]
        assert all(a is b for i, (a, b) in enumerate(zip(was, cells, strict=True)) if i != age)
        assert made.page(jobs, now + 65, set(), why)[str(job.id)] is cells

    class Tables(App):
        def compose(self) -> Any:
            yield JobsTable(id="jobs-table")

    async def run() -> None:
        app = Tables()
        async with app.run_test() as pilot:
            table = app.query_one(JobsTable)
            drawn: list[str] = []
            draw_cell = table._draw_cell

            def counted(cell: Any, width: int) -> Any:
                drawn.append(cell.plain)
                return draw_cell(cell, width)

            table._draw_cell = counted  # type: ignore[method-assign]
            table.set_rows({key: later[key] for key in map(str, ids[2::-1])})
            table.move_cursor(row=2)  # on ids[0]
            await pilot.pause()
            assert len(drawn) >= 3 * len(JOB_COLUMNS)
            drawn.clear()
            # Two rows come in on top, one in the middle goes: only the new
            # rows are drawn, and the cursor stays on its job.
            table.set_rows({key: later[key] for key in map(str, ids[:2:-1] + [ids[2], ids[0]])})
            await pilot.pause()
            assert table.row_keys == [str(ids[4]), str(ids[3]), str(ids[2]), str(ids[0])]
            assert table.get_row_index(str(ids[0])) == 3 and table.cursor_key == str(ids[0])
            assert table.get_row_at(3) == later[str(ids[0])]
            # (Rows of the same age share their age cell, drawn once.)
            kept = {id(c) for k in ids[:3] for c in later[str(k)]}
            new = [c.plain for k in ids[3:] for c in later[str(k)] if id(c) not in kept]
            assert sorted(drawn) == sorted(new)

    asyncio.run(run())


def test_between_whole_reads_only_the_rows_in_sight_are_read(tmp_path: Path) -> None:
    queue = jobctl.connect(tmp_path / "jobs.db", None)
    with queue.store.transaction():  # one commit
        for _ in range(80):
            queue.add_id(command=["true"], delay="1h")

    async def run() -> None:
        app = JobctlApp(queue)
        limits: list[int] = []
        read_jobs = app.feed.read_jobs

        def counted(view: Any, limit: int) -> Any:
            limits.append(limit)
            return read_jobs(view, limit)

        app.feed.read_jobs = counted
        async with app.run_test(size=(120, 30)) as pilot:
            await until(pilot, lambda: len(rows(app)) == 80)
            assert limits == [PAGE]
            # A new job: the top of the page is read, the rows below kept.
            new = queue.add_id(command=["true"], delay="1h")
            await until(pilot, lambda: rows(app)[0] == str(new))
            assert PAGE > limits[-1] >= 28 and len(rows(app)) == 81
            # Scrolled past the rows read: read down to the rows now in sight,
            # the database unchanged.
            app.query_one("#jobs-table", JobsTable).scroll_end(animate=False)
            await until(pilot, lambda: limits[-1] > 81)

    asyncio.run(run())


def test_a_heartbeat_keeps_the_page_read_and_a_change_to_it_still_shows(tmp_path: Path) -> None:
    from jobctl.tui.cells import with_reasons
    from jobctl.tui.feed import MIN_GAP, NEWEST, Feed

    db = tmp_path / "jobs.db"
    queue = jobctl.connect(db, None)
    ok, bad = queue.add_id(command=["true"]), queue.add_id(command=["false"])
    finish(db, {ok: ("succeeded", b""), bad: ("failed", b"")})
    read: list[int] = []

    def read_jobs(view: Any, limit: int) -> Any:
        read.append(limit)
        return with_reasons(queue, queue.list(limit=limit))

    feed = Feed(queue, time.time, read_jobs, PAGE, lambda: 10)

    def look() -> Any:
        # As if a second had passed: not held back by MIN_GAP, and far enough
        # from the last read to look at the marks.  No waiting here.
        feed.last_read = feed.jobs_read_at = float("-inf")
        return feed.next("jobs", NEWEST)

    assert [job.id for job in look()["jobs"][1]] == [bad, ok]
    store = Store.open(db)
    try:
        daemon_id = store.register_daemon("host", 1, None, None, time.time())
        store.heartbeat(daemon_id, time.time(), time.time() + 30)
        reads = len(read)
        assert look() is None  # the commits moved data_version, no job changed
        assert len(read) == reads and feed.reads["kept"] >= 1
    finally:
        store.close()
    jobctl.connect(db, None).retry(bad)  # on the page (another connection, as the UI's)
    assert [job.state.value for job in look()["jobs"][1]] == ["queued", "succeeded"]
    # A slow part held back for long does not stop commits waking the reader.
    feed.wake = time.monotonic() + 3 * MIN_GAP
    assert not feed.held_back
    feed.wake = time.monotonic() + MIN_GAP / 2
    assert feed.held_back


def test_a_poke_after_close_writes_nothing(tmp_path: Path) -> None:
    # An action's thread may poke as the poller closes the pipe on quitting.
    from jobctl.tui.poke import Poke

    poke = Poke()
    poke.set()
    poke.clear()
    poke.close()
    # New files take the closed pipe's fd numbers, as a new connection's might.
    files = [os.open(tmp_path / f"file{n}", os.O_WRONLY | os.O_CREAT) for n in range(2)]
    try:
        poke.set()
        poke.close()
        assert all((tmp_path / f"file{n}").read_bytes() == b"" for n in range(2))
    finally:
        for fd in files:
            os.close(fd)
