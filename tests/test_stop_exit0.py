"""A job that exits 0 on its own while being stopped is `succeeded` (issue 12, point 4).

SPEC, "Trust": "A process that exits 0 on its own is `succeeded`, whatever
stop was requested."  Requeued instead, its work would be done twice.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest
from conftest import Cli, states, wait_for

# Works one item until SIGTERM, then finishes the item in hand: one line in the
# side-effect file, and exits with the status it was given.
FINISHES_ITS_ITEM = """
import signal, sys, time

side, marker, status = sys.argv[1], sys.argv[2], int(sys.argv[3])
stopping = False

def on_term(signum, frame):
    global stopping
    stopping = True

signal.signal(signal.SIGTERM, on_term)
with open(marker, "w") as file:
    file.write("started\\n")
while not stopping:
    time.sleep(0.02)
with open(side, "a") as file:
    file.write("done\\n")
sys.exit(status)
"""

# The SIGTERM handling above must have ended the job, never the SIGKILL after this.
CONFIG = 'shutdown_grace = "1s"\nkill_grace = "20s"\n'
ENDED = ("succeeded", "failed", "cancelled")


def _add(cli: Cli, status: int) -> tuple[str, Path, Path]:
    script = cli.home / "finish.py"
    script.write_text(FINISHES_ITS_ITEM)
    side, marker = cli.home / "side-effect.txt", cli.home / "started.txt"
    argv = [sys.executable, str(script), str(side), str(marker), str(status)]
    job_id = cli.ok("add", "--", *argv).strip()
    return job_id, side, marker


def _running_with_marker(cli: Cli, job_id: str, marker: Path) -> None:
    wait_for(lambda: cli.json("show", job_id)["state"] == "running", what="running")
    wait_for(marker.exists, what="the started marker")


def test_a_job_that_finishes_its_item_at_shutdown_succeeds_and_never_runs_again(
    cli: Cli, write_config, daemons
) -> None:
    write_config(CONFIG)
    job_id, side, marker = _add(cli, 0)
    daemon = daemons.start()
    _running_with_marker(cli, job_id, marker)
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=30) == 0
    job = cli.json("show", job_id)
    assert job["state"] == "succeeded"
    assert [a["outcome"] for a in job["attempts"]] == ["succeeded"]
    assert job["attempts_total"] == 1
    assert side.read_text() == "done\n"
    # A later daemon finds nothing left to do.
    assert daemons.start("--drain").wait(timeout=30) == 0
    assert states(cli) == {"succeeded": 1}
    assert cli.json("show", job_id)["attempts_total"] == 1
    assert side.read_text() == "done\n"


def test_a_cancelled_job_that_finishes_its_item_succeeds(cli: Cli, write_config, daemons) -> None:
    write_config(CONFIG)
    job_id, side, marker = _add(cli, 0)
    daemons.start()
    _running_with_marker(cli, job_id, marker)
    cli.ok("cancel", job_id)
    wait_for(lambda: cli.json("show", job_id)["state"] in ENDED, what="the job ended")
    job = cli.json("show", job_id)
    assert job["state"] == "succeeded"
    assert [a["outcome"] for a in job["attempts"]] == ["succeeded"]
    assert side.read_text() == "done\n"


def test_a_job_that_exits_non_zero_after_shutdown_is_still_requeued(
    cli: Cli, write_config, daemons
) -> None:
    write_config(CONFIG)
    job_id, side, marker = _add(cli, 3)
    daemon = daemons.start()
    _running_with_marker(cli, job_id, marker)
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=30) == 0
    job = cli.json("show", job_id)
    assert job["state"] == "queued" and job["attempt"] == 0  # no attempt used up
    assert [a["outcome"] for a in job["attempts"]] == ["interrupted"]
    assert "interrupted" in [e["kind"] for e in job["events"]]


HANDLERS = """
import time

def until_stopped(payload, ctx):
    open(payload["marker"], "w").close()
    while not ctx.shutting_down():
        time.sleep(0.02)
    with open(payload["side"], "a") as file:
        file.write("done\\n")
    return {"finished": True}
"""


def _handler_job(cli: Cli, write_config, isolation: str) -> tuple[str, Path, Path]:
    (cli.home / "work.py").write_text(HANDLERS)
    write_config(
        CONFIG + f'[jobs.item]\nhandler = "work:until_stopped"\nisolation = "{isolation}"\n'
    )
    side, marker = cli.home / "side-effect.txt", cli.home / "started.txt"
    job_id = cli.ok("add", "item", "--data", f'{{"side": "{side}", "marker": "{marker}"}}')
    return job_id.strip(), side, marker


@pytest.mark.parametrize("isolation", ["thread", "process"])
def test_a_cancelled_handler_that_returns_succeeds_with_its_result(
    cli: Cli, write_config, daemons, isolation: str
) -> None:
    job_id, side, marker = _handler_job(cli, write_config, isolation)
    daemons.start()
    _running_with_marker(cli, job_id, marker)
    cli.ok("cancel", job_id)
    wait_for(lambda: cli.json("show", job_id)["state"] in ENDED, what="the job ended")
    job = cli.json("show", job_id)
    assert job["state"] == "succeeded" and job["result"] == {"finished": True}
    assert [a["outcome"] for a in job["attempts"]] == ["succeeded"]
    assert side.read_text() == "done\n"
