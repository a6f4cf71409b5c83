"""A daemon left running while jobs.toml changes: SIGHUP and edits reload
it, an invalid edit keeps the config in use, running jobs keep their
definition, workers follow the file, and a type no config knows fails once."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import Cli, process_running, wait_for

from jobctl.config import load_config
from jobctl.config_watch import ConfigWatch
from jobctl.errors import ConfigError
from jobctl.models import NewJob

# Waits for the file `go` in the test's folder: a job the test ends when it wants.
GATED = "while [ ! -e go ]; do sleep 0.02; done"
TYPE_A = f"[jobs.a]\ncommand = \"sh -c '{GATED}'\"\n"
TYPE_B = '[jobs.b]\ncommand = "echo b ran"\n'


@pytest.fixture(autouse=True)
def no_leftovers():
    yield
    found = subprocess.run(["pgrep", "-f", "sleep 96"], capture_output=True, text=True).stdout
    for pid in map(int, found.split()):
        os.kill(pid, signal.SIGKILL)


def state(cli: Cli, job_id: str) -> str:
    return cli.json("show", job_id)["state"]


def log_of(daemons, number: int = 0) -> str:
    return daemons.log_path(number).read_text(errors="replace")


def add_by_store(cli: Cli, type: str) -> int:
    """Add a job without reading jobs.toml (the CLI checks the type against it)."""
    store = cli.store()
    try:
        [job_id] = store.add_jobs([NewJob(type=type, payload="{}", max_attempts=3)], time.time())
        return job_id
    finally:
        store.close()


def test_sighup_reloads_and_never_kills_running_jobs_go_on(cli: Cli, write_config, daemons) -> None:
    write_config(TYPE_A)
    first = cli.ok("add", "a").strip()
    daemon = daemons.start()
    wait_for(lambda: state(cli, first) == "running", what="a running")
    write_config(TYPE_A.replace("sh -c", "false && sh -c") + TYPE_B)  # a changed, b added
    second = cli.ok("add", "b").strip()
    daemon.send_signal(signal.SIGHUP)
    wait_for(lambda: state(cli, second) == "succeeded", what="b, added with the new file")
    assert "reloaded" in log_of(daemons)
    (cli.home / "go").touch()
    # The running job ends under the definition it started with.
    wait_for(lambda: state(cli, first) == "succeeded", what="a finished as it began")
    for _ in range(3):
        daemon.send_signal(signal.SIGHUP)
    wait_for(lambda: log_of(daemons).count("SIGHUP") >= 1, what="SIGHUP noticed")
    assert process_running(daemon.pid)
    # New claims use the new definition: `a` is now `false && ...`.
    third = cli.ok("add", "a").strip()

    def first_outcome() -> str | None:
        attempts = cli.json("show", third)["attempts"]
        return attempts[0]["outcome"] if attempts else None

    wait_for(lambda: first_outcome() not in (None, "running"), what="a's new definition ran")
    assert first_outcome() == "failed"


def test_an_invalid_edit_is_logged_once_and_the_old_config_serves(
    cli: Cli, write_config, daemons
) -> None:
    write_config(TYPE_B)
    daemon = daemons.start()
    wait_for(lambda: "started" in log_of(daemons), what="start")
    write_config(TYPE_B + "[jobs.broken]\ncommand = 42\n")
    wait_for(lambda: "not reloaded" in log_of(daemons), what="the refusal logged")
    job_id = add_by_store(cli, "b")  # the CLI refuses to read the broken file

    def stored_state() -> str:
        store = cli.store()
        try:
            return store.get(job_id).state
        finally:
            store.close()

    wait_for(lambda: stored_state() == "succeeded", what="b under the old config")
    assert process_running(daemon.pid)


def test_an_invalid_version_is_refused_once_and_sighup_says_it_again(tmp_path: Path) -> None:
    path = tmp_path / "jobs.toml"
    path.write_text(TYPE_B)
    watch = ConfigWatch(str(path), load_config(path))
    assert watch.load() is None  # unchanged
    path.write_text(TYPE_B + "[jobs.broken]\ncommand = 42\n")
    with pytest.raises(ConfigError, match="broken"):
        watch.load()
    assert watch.load() is None  # the same version: said once
    with pytest.raises(ConfigError):
        watch.load(force=True)  # SIGHUP: said again
    path.write_text(TYPE_B + '[jobs.c]\ncommand = "true"\n')
    assert set(watch.load().jobs) == {"b", "c"}
    assert watch.load() is None and not watch.changed()


def test_a_type_added_to_the_file_runs_without_a_signal(cli: Cli, write_config, daemons) -> None:
    write_config(TYPE_B)
    daemons.start()
    wait_for(lambda: "started" in log_of(daemons), what="start")
    write_config(TYPE_B + '[jobs.c]\ncommand = "echo c"\n')
    job_id = cli.ok("add", "c").strip()
    wait_for(lambda: state(cli, job_id) == "succeeded", timeout=10, what="c")


def test_a_type_no_config_knows_fails_once_without_retries(cli: Cli, write_config, daemons) -> None:
    write_config(TYPE_B)
    job_id = str(add_by_store(cli, "nosuch"))
    daemons.start()
    wait_for(lambda: state(cli, job_id) == "failed", what="failed")
    job = cli.json("show", job_id)
    assert len(job["attempts"]) == 1 and "not in jobs.toml" in job["error"]


def test_workers_follow_the_file(cli: Cli, write_config, daemons) -> None:
    write_config('[workers.w1]\ncommand = "sleep 961"\n')
    daemons.start()
    wait_for(lambda: workers(cli).get("w1") == "running", what="w1 running")
    write_config('[workers.w1]\ncommand = "sleep 962"\n[workers.w2]\ncommand = "sleep 963"\n')
    wait_for(lambda: running_commands() >= {"sleep 962", "sleep 963"}, what="w1 changed, w2 added")
    assert "sleep 961" not in running_commands()
    write_config('[workers.w2]\ncommand = "sleep 963"\n')
    wait_for(lambda: "sleep 962" not in running_commands(), what="w1 removed and stopped")
    assert "sleep 963" in running_commands()


def workers(cli: Cli) -> dict[str, str]:
    return {w["name"]: w["state"] for w in cli.json("workers")["workers"]}


def running_commands() -> set[str]:
    found = subprocess.run(["pgrep", "-af", "sleep 96"], capture_output=True, text=True).stdout
    return {line.split(" ", 1)[1] for line in found.splitlines()}


HANDLERS = """
import pathlib, time
import jobctl

def patient(payload, ctx):
    pathlib.Path("began-" + payload["name"]).touch()
    while not ctx.shutting_down():
        time.sleep(0.01)
    pathlib.Path("saw-" + payload["name"]).touch()
    raise jobctl.Interrupted("wrapping up")
"""


def test_handlers_see_the_first_sigterm_and_can_give_the_job_back(
    cli: Cli, write_config, daemons
) -> None:
    (cli.home / "tasks.py").write_text(HANDLERS)
    write_config(
        'shutdown_grace = "600s"\n'
        '[jobs.thread]\nhandler = "tasks:patient"\n'
        '[jobs.process]\nhandler = "tasks:patient"\nisolation = "process"\n'
    )
    ids = [
        cli.ok("add", kind, "--data", f'{{"name": "{kind}"}}').strip()
        for kind in ("thread", "process")
    ]
    daemon = daemons.start()
    wait_for(lambda: all((cli.home / f"began-{k}").exists() for k in ("thread", "process")))
    daemon.send_signal(signal.SIGTERM)
    # Long before shutdown_grace (600 s) runs out: from the first signal.
    wait_for(lambda: all((cli.home / f"saw-{k}").exists() for k in ("thread", "process")))
    assert daemon.wait(timeout=30) == 0
    for job_id in ids:
        job = cli.json("show", job_id)
        assert job["state"] == "queued" and job["attempt"] == 0, job
        assert "given back by the handler: wrapping up" in job["attempts"][-1]["error"]
