"""Regenerate the TUI screenshots in docs/: `python docs/screenshots.py`.

Builds a throwaway database with the example config: the demo's jobs, run by
a real daemon (which also fires the example's schedules and starts its
worker), a few failures, then photographs each view headless: the jobs
and the overview at 80x24 and at 120x40, a running job's detail at 80x24,
the other views at 120x40.
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
    # Running while photographed: its detail shows the output as it comes.
    queue.add_id(shell='for i in $(seq 1 400); do echo "copied batch $i of 400"; sleep 0.1; done')
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


async def photograph(db: Path, size: tuple[int, int]) -> None:
    app = JobctlApp(jobctl.connect(db, EXAMPLE))
    small = size == (80, 24)
    suffix = f"-{size[0]}x{size[1]}"
    async with app.run_test(size=size) as pilot:
        table = app.query_one("#jobs-table")
        while table.row_count == 0:
            await pilot.pause(0.1)
        await pilot.pause(0.5)
        app.save_screenshot(str(DOCS / f"tui-jobs{suffix}.svg"))
        await pilot.press("o")
        await pilot.pause(1.2)  # the overview's parts are read once it shows
        app.save_screenshot(str(DOCS / f"tui-overview{suffix}.svg"))
        if not small:
            for key, name in (("s", "schedules"), ("w", "workers")):
                await pilot.press(key)
                await pilot.pause(0.5)
                app.save_screenshot(str(DOCS / f"tui-{name}.svg"))
        await pilot.press("j")
        jobs = app.queue.list(limit=50)
        if small:  # the running job that prints: its output at 80x24
            shown = next(j.id for j in jobs if "copied batch" in j.label)
        else:
            shown = next(j.id for j in jobs if j.type == "demo:flaky")
        table.move_cursor(row=table.get_row_index(str(shown)))
        await pilot.press("enter")
        while not isinstance(app.screen, DetailScreen):
            await pilot.pause(0.1)
        await pilot.pause(1.5)
        app.save_screenshot(str(DOCS / ("tui-detail-80x24.svg" if small else "tui-detail.svg")))
        if not small:
            await pilot.press("escape", "question_mark")
            await pilot.pause(0.3)
            app.save_screenshot(str(DOCS / "tui-help.svg"))


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        db, daemon = populate(Path(folder))
        try:
            for size in ((80, 24), (120, 40)):
                asyncio.run(photograph(db, size))
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.send_signal(signal.SIGINT)
            daemon.wait()
    print("wrote", ", ".join(sorted(p.name for p in DOCS.glob("tui-*.svg"))))


if __name__ == "__main__":
    main()
