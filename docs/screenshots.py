"""Regenerate the TUI screenshots in docs/: `python docs/screenshots.py`.

Builds a throwaway database with the example config: the demo's jobs, run by
a real daemon (which also fires the example's schedules and starts its
worker), a few failures, then photographs each view headless.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jobctl
from jobctl.tui import JobctlApp
from jobctl.tui.screens import DetailScreen

DOCS = Path(__file__).parent
EXAMPLE = Path(jobctl.__file__).with_name("jobs.toml.example")


def populate(home: Path) -> Path:
    db = home / "jobctl.db"
    env = os.environ | {"JOBCTL_DB": str(db), "JOBCTL_CONFIG": str(EXAMPLE)}
    jobctl_command = [sys.executable, "-m", "jobctl"]
    queue = jobctl.connect(db, EXAMPLE)
    for name in ("Ada", "Grace", "Linus", "Guido"):
        queue.add_id("demo:echo", {"name": name})
        queue.add_id("demo:greet", {"name": name})
    queue.add_id("demo:flaky", {})
    queue.add_id(command=["sh", "-c", "echo starting; ls /nonexistent"], max_attempts=1)
    queue.add_id(command=["sleep", "300"])
    queue.add_id(shell="pg_dump db | gzip > db.gz", delay="2h")
    daemon = subprocess.Popen(
        [*jobctl_command, "daemon"], env=env, cwd=home, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        states = queue.stats().get("default", {})
        if states.get("succeeded", 0) >= 9:
            break
        time.sleep(0.2)
    return db, daemon


async def photograph(db: Path) -> None:
    app = JobctlApp(jobctl.connect(db, EXAMPLE))
    async with app.run_test(size=(132, 40)) as pilot:
        table = app.query_one("#jobs-table")
        while table.row_count == 0:
            await pilot.pause(0.1)
        await pilot.pause(0.5)
        app.save_screenshot(str(DOCS / "tui-jobs.svg"))
        for key, name in (("o", "overview"), ("s", "schedules"), ("w", "workers")):
            await pilot.press(key)
            await pilot.pause(0.5)
            app.save_screenshot(str(DOCS / f"tui-{name}.svg"))
        await pilot.press("j")
        flaky = next(j.id for j in app.queue.list(limit=50) if j.type == "demo:flaky")
        table.move_cursor(row=table.get_row_index(str(flaky)))
        await pilot.press("enter")
        while not isinstance(app.screen, DetailScreen):
            await pilot.pause(0.1)
        await pilot.pause(0.8)
        app.save_screenshot(str(DOCS / "tui-detail.svg"))
        await pilot.press("escape", "question_mark")
        await pilot.pause(0.3)
        app.save_screenshot(str(DOCS / "tui-help.svg"))


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        db, daemon = populate(Path(folder))
        try:
            asyncio.run(photograph(db))
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.send_signal(signal.SIGINT)
            daemon.wait()
    print("wrote", ", ".join(sorted(p.name for p in DOCS.glob("tui-*.svg"))))


if __name__ == "__main__":
    main()
