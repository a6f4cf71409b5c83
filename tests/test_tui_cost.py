"""What the dashboard reads and redraws (issue 18, item 13): only the view on
screen, only after a change, and a page that did not change is not redrawn."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from pathlib import Path
from typing import Any

from test_tui import rows, until

import jobctl
from jobctl.store import Store
from jobctl.tui import JobctlApp


def test_only_the_view_on_screen_is_read_and_an_unchanged_page_is_not_redrawn(
    tmp_path: Path,
) -> None:
    db = tmp_path / "jobs.db"
    queue = jobctl.connect(db, None)
    first = queue.add_id(command=["true"], delay="1h")
    second = queue.add_id(command=["true"], delay="1h")

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
        third = queue.add_id(command=["true"], delay="1h")
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
