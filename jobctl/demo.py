"""`jobctl demo`: a newcomer's first minute.

Queues sample jobs of the types in jobs.toml.example (a command, a Python
handler, one that fails twice and then succeeds, an ad hoc command), runs a
real daemon on them with `--drain`, shows live progress, then the results.
The jobs go to their own queue, "demo", and the daemon serves only that
queue, so the demo never runs anyone else's jobs in the same database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jobctl.api import Queue, connect
from jobctl.config import find_config, find_db, load_config
from jobctl.models import Job
from jobctl.render import Output, shorten
from jobctl.store import describe_db

EXAMPLE = Path(__file__).with_name("jobs.toml.example")
DEMO_QUEUE = "demo"
STATES = ("queued", "running", "succeeded", "failed", "cancelled")


def run_demo(db: str | None, config: str | None) -> int:
    # The database the user's own commands use; the job types of the example.
    db_path = find_db(db, load_config(find_config(config)))
    queue = connect(db_path, EXAMPLE)
    out = Output()
    ids = _queue_samples(queue)
    out.line(f"Queued {len(ids)} demo jobs in {describe_db(db_path)}; running them with a daemon:")
    with tempfile.TemporaryFile() as log:
        daemon = subprocess.Popen(
            [
                *_jobctl(),
                "daemon",
                "--drain",
                "--queues",
                DEMO_QUEUE,
                "--config",
                str(EXAMPLE),
                "--no-schedules",
                "--no-workers",
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
            # Not `--db` on its argv, which `ps` shows: a URL may hold a password.
            env=os.environ | {"JOBCTL_DB": str(db_path)},
        )
        try:
            _show_progress(queue, ids, daemon, out)
        finally:
            if daemon.poll() is None:
                daemon.terminate()
                daemon.wait()
        if daemon.returncode != 0:
            log.seek(0)
            sys.stderr.write(log.read().decode("utf-8", "replace"))
            return 1
    jobs = [queue.get(i) for i in ids]
    out.line()
    _results(queue, jobs, out)
    out.line()
    out.line("Next: jobctl show ID, jobctl logs ID, jobctl ls; `jobctl init` writes a jobs.toml.")
    return 0 if all(job.state == "succeeded" for job in jobs) else 1


def _jobctl() -> list[str]:
    return [sys.executable, "-m", "jobctl"]


def _queue_samples(queue: Queue) -> list[int]:
    options = {"queue": DEMO_QUEUE}
    return [
        queue.add_id("demo:echo", {"name": "Ada"}, **options),
        queue.add_id("demo:echo", {"name": "Linus"}, **options),
        queue.add_id("demo:greet", {"name": "Grace"}, **options),
        queue.add_id("demo:greet", {"name": "Guido"}, **options),
        queue.add_id("demo:flaky", {}, **options),
        queue.add_id(command=["sh", "-c", "sleep 1; uname -sr"], **options),
    ]


def _show_progress(
    queue: Queue, ids: list[int], daemon: subprocess.Popen[bytes], out: Output
) -> None:
    """One line, redrawn on a terminal; a new line per change when piped."""
    last = ""

    def draw() -> bool:
        nonlocal last
        jobs = [queue.get(i) for i in ids]
        counts = {state: sum(job.state == state for job in jobs) for state in STATES}
        retries = sum(max(0, job.attempts_total - 1) for job in jobs)
        text = "  ".join(f"{out.state(s)} {n}" for s, n in counts.items() if n)
        text += f"  (retries {retries})"
        if text != last:
            if out.tty:
                out.stream.write("\r\x1b[K" + text)
            else:
                out.line(text)
            out.stream.flush()
            last = text
        return daemon.poll() is not None

    while not draw():  # until the daemon has drained the demo queue and exited
        time.sleep(0.05)
    if out.tty:
        out.line()


def _results(queue: Queue, jobs: list[Job], out: Output) -> None:
    rows = []
    for job in jobs:
        took = f"{job.finished_at - job.created_at:.1f}s" if job.finished_at else ""
        if job.result is not None:
            result = job.result
            outcome = result if isinstance(result, str) else json.dumps(result, ensure_ascii=False)
        elif job.state == "succeeded":  # a command: its first line of output
            outcome = queue.output(job.id)[1].decode("utf-8", "replace").strip()
        else:
            outcome = job.error or ""
        row = (job.id, shorten(job.label, 32), job.state, job.attempts_total, took, outcome)
        rows.append(row[:-1] + (shorten(outcome, 48),))
    out.table(["ID", "JOB", "STATE", "ATTEMPTS", "DONE IN", "RESULT"], rows, state_column=2)
