"""Log levels from handlers (ctx.log.error(...)), and print() and logging
inside a handler captured into its attempt's output, for both isolations."""

from __future__ import annotations

import pytest
from conftest import Cli, wait_for

HANDLERS = """
import logging, sys, threading

def talk(payload, ctx):
    print("p")
    logging.warning("w")
    logging.getLogger("mine").error("named")
    print("to stderr", file=sys.stderr)
    ctx.log("plain", step=1)
    ctx.log.debug("quiet")
    ctx.log.info("said")
    ctx.log.warning("careful", n=2)
    ctx.log.error("e")
    return "done"

def other_thread(payload, ctx):
    # A thread the handler starts is not the attempt's: its print goes
    # where the daemon's standard output goes.
    seen = threading.Thread(target=lambda: print("from another thread"))
    seen.start()
    seen.join()
    print("mine")
    return "done"
"""


def _run(cli: Cli, write_config, daemons, isolation: str, name: str = "talk") -> str:
    (cli.home / "work.py").write_text(HANDLERS)
    write_config(f'[jobs.{name}]\nhandler = "work:{name}"\nisolation = "{isolation}"\n')
    job_id = cli.ok("add", name).strip()
    daemons.start()
    wait_for(lambda: cli.json("show", job_id)["state"] == "succeeded", what=name)
    return job_id


@pytest.mark.parametrize("isolation", ["thread", "process"])
def test_print_logging_and_levels_show_in_logs(cli: Cli, write_config, daemons, isolation) -> None:
    job_id = _run(cli, write_config, daemons, isolation)
    shown = cli.ok("logs", job_id)
    lines = shown.splitlines()
    assert "p" in lines
    assert "WARNING:root:w" in lines
    assert "ERROR:mine:named" in lines
    assert "to stderr" in lines
    kept = [line.split("] ", 1)[1] for line in lines if line.startswith("[")]
    assert kept == [
        "INFO plain step=1",
        "DEBUG quiet",
        "INFO said",
        "WARNING careful n=2",
        "ERROR e",
    ]
    log = cli.json("show", job_id)["log"]
    assert [(entry["message"], entry["level"]) for entry in log] == [
        ("plain", "info"),
        ("quiet", "debug"),
        ("said", "info"),
        ("careful", "warning"),
        ("e", "error"),
    ]
    assert log[0]["data"] == {"step": 1}
    text = cli.ok("show", job_id).splitlines()
    assert [line.split()[-2:] for line in text if line.split()[-1:] == ["e"]] == [["ERROR", "e"]]
    # The attempt's output, not the daemon's own log.
    daemon_log = daemons.log_path(0).read_text()
    assert "WARNING:root:w" not in daemon_log and "named" not in daemon_log
    assert "to stderr" not in daemon_log
    attempts = cli.json("show", job_id)["attempts"]
    assert attempts[-1]["output_bytes"] > 0


def test_only_the_attempts_own_thread_is_captured(cli: Cli, write_config, daemons) -> None:
    job_id = _run(cli, write_config, daemons, "thread", "other_thread")
    lines = cli.ok("logs", job_id).splitlines()
    assert lines == ["mine"]


def test_capture_routes_only_routed_threads_and_restores() -> None:
    import logging
    import sys

    from jobctl import capture

    real_out, real_err = sys.stdout, sys.stderr
    got: list[bytes] = []
    capture.install()
    try:
        assert sys.stdout is not real_out
        with capture.routed_to(got.append):
            print("in")
            sys.stdout.buffer.write(b"raw\n")
            logging.getLogger("x").warning("careful")
    finally:
        capture.restore()
    assert sys.stdout is real_out and sys.stderr is real_err
    assert b"".join(got) == b"in\nraw\nWARNING:x:careful\n"
    assert not any(
        isinstance(h, logging.Handler) and "Attempt" in type(h).__name__
        for h in logging.getLogger().handlers
    )
