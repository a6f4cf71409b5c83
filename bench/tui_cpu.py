"""What the dashboard costs: its CPU use idle and while jobs flow, and how
soon a new job shows.  Run through `python bench/tui.py --cpu`.

A real daemon runs on a fresh SQLite database; the real `jobctl tui` runs
under a pseudo-terminal (120x40), its output read and dropped.  Its CPU time
(user + system, all threads, from /proc) is read over `windows` windows of
`window` seconds: first with the daemon idle, then while a feeder adds
`rate` jobs a second (`true`, through the Python API, on a timed schedule),
then idle again with a full page of jobs (the daemon's heartbeat still
commits every second).
Visibility: a headless dashboard (Textual's run_test) in another process;
a job is added and timed until its row is in the jobs table, idle and
under the same feed.

`tui_dir`: run that copy of the jobctl/tui package instead of the installed
one (a copy taken before a change), to measure before and after alike.
"""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

import jobctl

SIZE = (120, 40)
SETTLE = 5.0  # seconds before measuring: start-up
FILL = 12.0  # seconds of feeding before measuring: the jobs page (200) fills
VISIBLE_SAMPLES = 15

# Loads jobctl.tui from another folder when one is given, then runs argv.
SWAP = """
import importlib.util, sys
tui_dir = sys.argv[1]
if tui_dir:
    import jobctl
    spec = importlib.util.spec_from_file_location(
        "jobctl.tui", tui_dir + "/__init__.py", submodule_search_locations=[tui_dir])
    module = importlib.util.module_from_spec(spec)
    sys.modules["jobctl.tui"] = module
    spec.loader.exec_module(module)
"""
RUN_TUI = SWAP + "from jobctl.__main__ import main\nsys.exit(main(['tui']))\n"
VISIBLE = (
    SWAP
    + "sys.path.insert(0, sys.argv[2])\nimport tui_cpu\n"
    + "tui_cpu.visible_child(*sys.argv[3:])\n"
)


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", "rb") as file:
        fields = file.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_tui(env: dict[str, str], tui_dir: str) -> tuple[int, int]:
    """The real `jobctl tui` under a pty; its pid and the pty's master end."""
    pid, master = pty.fork()
    if pid == 0:
        try:
            cols, rows = SIZE
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
            os.execve(sys.executable, [sys.executable, "-c", RUN_TUI, tui_dir], env)
        finally:
            os._exit(127)

    def drain() -> None:
        try:
            while os.read(master, 65536):
                pass
        except OSError:
            pass  # the TUI is gone

    threading.Thread(target=drain, daemon=True).start()
    return pid, master


def stop_tui(pid: int, master: int) -> None:
    os.write(master, b"q")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if os.waitpid(pid, os.WNOHANG)[0]:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    os.close(master)


def windows_cpu(pid: int, window: float, windows: int) -> list[float]:
    """Percent of one core, per window."""
    shares = []
    for _ in range(windows):
        cpu, wall = cpu_seconds(pid), time.monotonic()
        time.sleep(window)
        shares.append(100 * (cpu_seconds(pid) - cpu) / (time.monotonic() - wall))
    return shares


class Feeder(threading.Thread):
    """Adds `rate` jobs a second on a timed schedule until stopped."""

    def __init__(self, db: Path, config: Path, rate: float) -> None:
        super().__init__(daemon=True)
        self.queue = jobctl.connect(db, config)
        self.rate = rate
        self.stop = threading.Event()
        self.added = 0

    def run(self) -> None:
        due = time.monotonic()
        while not self.stop.is_set():
            self.queue.add_id(command=["true"])
            self.added += 1
            due += 1 / self.rate
            self.stop.wait(max(0.0, due - time.monotonic()))


def visible(env: dict[str, str], tui_dir: str, db: Path, config: Path) -> list[float]:
    """Milliseconds from add to the row in a headless dashboard, per sample."""
    out = subprocess.run(
        [sys.executable, "-c", VISIBLE, tui_dir, str(Path(__file__).parent), str(db), str(config)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    ).stdout
    return [float(x) for x in out.split()]


def shown_keys(table: object) -> list[str]:
    """The jobs table's row keys, top first: the line-API table of now, or
    the DataTable of a copy of jobctl/tui from before it (--tui-dir)."""
    if hasattr(table, "row_keys"):
        return table.row_keys
    return [row.key.value for row in table.ordered_rows]  # type: ignore[attr-defined]


def visible_child(db: str, config: str) -> None:
    import asyncio

    from jobctl.tui import JobctlApp

    async def measure() -> None:
        adder = jobctl.connect(db, config)
        app = JobctlApp(jobctl.connect(db, config))
        async with app.run_test(size=SIZE) as pilot:
            table = app.query_one("#jobs-table")
            await pilot.pause(2.0)  # started, first read shown
            for _ in range(VISIBLE_SAMPLES):
                start = time.perf_counter()
                key = str(adder.add_id(command=["true"]))
                while key not in shown_keys(table):
                    await pilot.pause(0.002)
                print(f"{(time.perf_counter() - start) * 1000:.1f}", flush=True)
                await pilot.pause(0.3)  # added at different moments of the poll cycle

    asyncio.run(measure())


def report(label: str, shares: list[float]) -> None:
    print(
        f"{label}: median {statistics.median(shares):.2f}% of one core"
        f" (windows: {', '.join(f'{s:.2f}' for s in shares)})",
        flush=True,
    )


def report_visible(label: str, times: list[float]) -> None:
    print(
        f"{label}: add to row shown median {statistics.median(times):.0f} ms,"
        f" max {max(times):.0f} ms over {len(times)} jobs",
        flush=True,
    )


def run(rate: float, window: float, windows: int, tui_dir: str | None) -> None:
    tui_dir = str(Path(tui_dir).resolve()) if tui_dir else ""
    command = str(Path(sys.executable).with_name("jobctl"))
    print(f"dashboard: {tui_dir or 'installed jobctl.tui'}", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        config, db = home / "jobs.toml", home / "bench.db"
        config.write_text("")
        env = os.environ | {
            "JOBCTL_DB": str(db),
            "JOBCTL_CONFIG": str(config),
            "TERM": "xterm-256color",
        }
        jobctl.connect(db, config).stats()  # creates the database before the daemon opens it
        daemon = subprocess.Popen(
            [command, "daemon", "--concurrency", "8"],
            cwd=home,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        feeder = Feeder(db, config, rate)
        try:
            pid, master = start_tui(env, tui_dir)
            try:
                time.sleep(SETTLE)
                report("idle", windows_cpu(pid, window, windows))
                feeder.start()
                time.sleep(FILL)
                report(f"{rate:g} jobs/s", windows_cpu(pid, window, windows))
                feeder.stop.set()
                time.sleep(SETTLE)  # the last jobs run
                report("idle again, a full page", windows_cpu(pid, window, windows))
            finally:
                stop_tui(pid, master)
            feeder = Feeder(db, config, rate)
            feeder.start()
            time.sleep(SETTLE)
            report_visible(f"under {rate:g} jobs/s", visible(env, tui_dir, db, config))
            feeder.stop.set()
            feeder.join()
            time.sleep(SETTLE)
            report_visible("idle", visible(env, tui_dir, db, config))
        finally:
            feeder.stop.set()
            daemon.terminate()
            daemon.wait()
