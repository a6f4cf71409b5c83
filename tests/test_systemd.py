"""Under systemd: the notify protocol, journald's lines, the unit file.

Real daemons talk to a datagram socket the test binds, as systemd's would be;
the pure parts (parsing the environment, the unit's text) are tested alone.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import JOBCTL, Cli, wait_for

from jobctl import systemd
from jobctl.config import load_config
from jobctl.daemon_log import ERROR, INFO, WARNING, priority

STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


class Listener:
    """The service manager's end of $NOTIFY_SOCKET: every message received."""

    def __init__(self, sock: socket.socket, address: str) -> None:
        self.sock = sock
        self.address = address  # as $NOTIFY_SOCKET says it
        self.messages: list[list[str]] = []

    def wait_for(self, field: str, count: int = 1, timeout: float = 20.0) -> None:
        """Receive until `count` messages hold `field`; fail after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while self.count(field) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{count} x {field} not received: {self.messages}")
            self.sock.settimeout(left)
            with contextlib.suppress(TimeoutError):
                self.messages.append(self.sock.recv(65536).decode().split("\n"))

    def count(self, field: str) -> int:
        return sum(field in message for message in self.messages)


@pytest.fixture(params=["path", "abstract"])
def listener(request: pytest.FixtureRequest) -> Iterator[Listener]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if request.param == "abstract":
        name = f"jobctl-test-{uuid.uuid4().hex}"
        sock.bind(b"\0" + name.encode())
        folder = None
        address = "@" + name
    else:
        # Not in tmp_path: a unix socket's path must fit in 108 bytes.
        folder = tempfile.mkdtemp(prefix="jobctl-notify-")
        address = os.path.join(folder, "notify")
        sock.bind(address)
    yield Listener(sock, address)
    sock.close()
    if folder is not None:
        shutil.rmtree(folder)


def job_state(cli: Cli, job_id: str) -> str:
    store = cli.store()
    try:
        return store.get(int(job_id)).state
    finally:
        store.close()


def registered_pids(cli: Cli) -> list[int]:
    store = cli.store()
    try:
        rows = store.conn.execute("SELECT pid FROM daemons WHERE stopped_at IS NULL").fetchall()
        return [pid for (pid,) in rows]
    finally:
        store.close()


def stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=30)


# -- the notify protocol, with real daemons ------------------------------------


def test_ready_once_it_serves_and_stopping_at_sigterm(
    cli: Cli, daemons, listener: Listener
) -> None:
    job_id = cli.ok("add", "--", "true").strip()
    cli.env["NOTIFY_SOCKET"] = listener.address
    proc = daemons.start()
    listener.wait_for("READY=1")
    # Registered before it says so: a client that waits for READY finds it.
    assert proc.pid in registered_pids(cli)
    assert listener.messages[0][:2] == ["READY=1", f"MAINPID={proc.pid}"]
    wait_for(lambda: job_state(cli, job_id) == "succeeded", what="the job queued before start")
    assert listener.count("STOPPING=1") == 0
    proc.send_signal(signal.SIGTERM)
    listener.wait_for("STOPPING=1")
    assert proc.wait(timeout=30) == 0
    assert listener.count("READY=1") == 1 and listener.count("STOPPING=1") == 1


def test_watchdog_is_fed_at_half_its_interval(cli: Cli, daemons, listener: Listener) -> None:
    cli.env |= {"NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "200000"}
    proc = daemons.start()
    # Idle, the loop wakes once a second for its heartbeat: five pings in a
    # row without a job to run come from the watchdog's own wake-ups.
    listener.wait_for("WATCHDOG=1", count=5)
    assert stop(proc) == 0


def test_a_watchdog_meant_for_another_process_is_not_fed(
    cli: Cli, daemons, listener: Listener
) -> None:
    job_id = cli.ok("add", "--", "sleep", "0.5").strip()
    cli.env |= {"NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "100000", "WATCHDOG_PID": "1"}
    proc = daemons.start()
    listener.wait_for("READY=1")
    wait_for(lambda: job_state(cli, job_id) == "succeeded", what="the job")
    proc.send_signal(signal.SIGTERM)
    listener.wait_for("STOPPING=1")
    assert proc.wait(timeout=30) == 0
    # Half a second of running a job: a fed watchdog would have had five pings.
    assert listener.count("WATCHDOG=1") == 0


def test_jobs_and_workers_do_not_inherit_the_notify_socket(
    cli: Cli, write_config, daemons, listener: Listener
) -> None:
    seen = cli.home / "worker-env.txt"
    write_config(
        '[jobs.env]\ncommand = "env"\n'
        f"[workers.env]\ncommand = \"sh -c 'env > {seen}; exec sleep 60'\"\n"
    )
    typed = cli.ok("add", "env").strip()
    # An ad hoc job keeps the environment of its `add`: here, another
    # service's, which had a notify socket too.
    cli.env |= {"NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "30000000"}
    adhoc = cli.ok("add", "--", "env").strip()
    proc = daemons.start()
    listener.wait_for("READY=1")
    for job_id in (typed, adhoc):
        wait_for(lambda job_id=job_id: job_state(cli, job_id) == "succeeded", what="env")
        output = cli.ok("logs", job_id)
        assert f"JOBCTL_JOB_ID={job_id}" in output
        assert "NOTIFY_SOCKET" not in output and "WATCHDOG_" not in output
    wait_for(lambda: seen.exists() and "JOBCTL_WORKER" in seen.read_text(), what="worker env")
    assert "NOTIFY_SOCKET" not in seen.read_text() and "WATCHDOG_" not in seen.read_text()
    assert stop(proc) == 0


def test_a_notify_socket_that_is_not_there_does_not_stop_the_daemon(cli: Cli, daemons) -> None:
    gone = cli.home / "no-such-folder" / "notify"
    cli.env |= {"NOTIFY_SOCKET": str(gone), "WATCHDOG_USEC": "100000"}
    proc = daemons.start()
    job_id = cli.ok("add", "--", "sleep", "0.3").strip()
    wait_for(lambda: job_state(cli, job_id) == "succeeded", what="the job")
    assert proc.poll() is None
    assert stop(proc) == 0
    log = daemons.log_path(0).read_text()
    # Said once, not at every one of the watchdog's tries.
    assert log.count(f"cannot notify systemd at {gone}") == 1, log
    assert "Traceback" not in log


# -- journald -------------------------------------------------------------------


def _run_two_jobs(cli: Cli, daemons, journal_stream: str | None) -> list[str]:
    """A daemon that runs one job that succeeds and one that fails; its log lines."""
    log = daemons.log_path(0)
    log.touch()  # its inode now, for $JOURNAL_STREAM: the daemon's stderr opens it again
    info = log.stat()
    if journal_stream is not None:
        cli.env["JOURNAL_STREAM"] = journal_stream.format(dev=info.st_dev, ino=info.st_ino)
    good = cli.ok("add", "--", "true").strip()
    bad = cli.ok("add", "--", "false").strip()
    proc = daemons.start()
    wait_for(lambda: job_state(cli, bad) == "failed" and job_state(cli, good) == "succeeded")
    assert stop(proc) == 0
    return log.read_text().splitlines()


def test_under_journald_lines_carry_a_priority_and_no_timestamp(cli: Cli, daemons) -> None:
    lines = _run_two_jobs(cli, daemons, "{dev}:{ino}")
    assert lines and all(re.match(r"<[346]>\S", line) for line in lines), lines
    assert not any(STAMP.search(line) for line in lines), lines
    assert any(line.startswith("<6>daemon ") and " started: pid " in line for line in lines)
    assert any(re.match(r"<4>job \d+ false attempt 1 failed: exit status 1", ln) for ln in lines)
    assert any(re.match(r"<6>job \d+ true attempt 1 succeeded", line) for line in lines)


def test_a_journal_stream_that_is_not_our_stderr_changes_nothing(cli: Cli, daemons) -> None:
    # What a redirected stderr inherits from a service: the variable, not the stream.
    lines = _run_two_jobs(cli, daemons, "{dev}:{ino}1")
    assert lines and all(STAMP.match(line) for line in lines), lines
    assert not any(line.startswith("<") for line in lines)


def test_priorities_of_the_daemons_own_lines() -> None:
    assert priority(None, "daemon 3 started: pid 7, 4 threads") == INFO
    assert priority(None, "the database /x.db was removed or replaced: stopping") == ERROR
    assert priority(None, "disk is full: retrying until it can write again") == WARNING
    assert priority(None, "jobs.toml not reloaded, the config in use goes on: x") == WARNING
    assert priority(None, "worker mail: cannot start: No such file or directory") == ERROR
    assert priority(None, "worker mail: run 3 ended (exit status 0) after 1.0s") == INFO
    assert priority(None, "schedule a:b: queued job 12 for 2026-01-01T00:00:00Z") == INFO
    assert priority(None, "schedule a:b: run due 2026-01-01 skipped (overlap = skip)") == INFO
    assert priority(None, 'schedule a:b: job type "a:b" is not in jobs.toml') == ERROR


# -- the notifier alone ------------------------------------------------------------


def test_the_environment_is_read_once_and_emptied() -> None:
    env = {"NOTIFY_SOCKET": "@bus", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "42", "HOME": "/"}
    notifier = systemd.Notifier.from_environment(env, pid=42)
    assert env == {"HOME": "/"}
    assert notifier.enabled and notifier.watchdog_every == 15.0
    other = systemd.Notifier.from_environment(
        {"NOTIFY_SOCKET": "/run/n", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "41"}, pid=42
    )
    assert other.enabled and other.watchdog_every is None
    assert not systemd.Notifier.from_environment({}, pid=42).enabled
    said: list[str] = []
    relative = systemd.Notifier.from_environment({"NOTIFY_SOCKET": "run/n"}, on_error=said.append)
    assert not relative.enabled and not relative.send("READY=1") and len(said) == 1


def test_the_watchdog_is_due_every_half_interval(listener: Listener) -> None:
    notifier = systemd.Notifier(listener.address, watchdog_usec=2_000_000)
    notifier.watchdog(now=100.0)  # the first pass: at once
    assert notifier.watchdog_pause(now=100.4) == pytest.approx(0.6)
    notifier.watchdog(now=100.5)  # not yet
    notifier.watchdog(now=101.0)
    assert notifier.watchdog_pause(now=101.0) == pytest.approx(1.0)
    listener.wait_for("WATCHDOG=1", count=2)
    notifier.close()
    assert listener.count("WATCHDOG=1") == 2


def test_reloading_then_ready(listener: Listener) -> None:
    notifier = systemd.Notifier(listener.address)
    assert notifier.reloading() and notifier.ready()
    listener.wait_for("READY=1")
    reloading, ready = listener.messages
    assert reloading[0] == "RELOADING=1" and re.fullmatch(r"MONOTONIC_USEC=\d+", reloading[1])
    assert ready[0] == "READY=1"
    assert notifier.stopping() and not notifier.stopping()  # said once
    notifier.close()


def test_a_send_that_fails_returns_false_and_is_said_once(tmp_path: Path) -> None:
    said: list[str] = []
    notifier = systemd.Notifier(str(tmp_path / "none"), on_error=said.append)
    assert notifier.send("READY=1") is False
    assert notifier.send("WATCHDOG=1") is False
    assert len(said) == 1 and "cannot notify systemd" in said[0]


def test_journal_stream_must_match_stderr(tmp_path: Path) -> None:
    with open(tmp_path / "err", "w") as file:
        info = os.fstat(file.fileno())
        stream = f"{info.st_dev}:{info.st_ino}"
        assert systemd.stderr_is_journal({"JOURNAL_STREAM": stream}, file.fileno())
        assert not systemd.stderr_is_journal({"JOURNAL_STREAM": stream + "0"}, file.fileno())
        assert not systemd.stderr_is_journal({"JOURNAL_STREAM": "junk"}, file.fileno())
        assert not systemd.stderr_is_journal({}, file.fileno())


# -- the unit file -----------------------------------------------------------------


def _unit_lines(text: str) -> dict[str, str]:
    lines = [line for line in text.splitlines() if "=" in line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def _exec_start_argv(value: str) -> list[str]:
    """ExecStart= as systemd splits it (for what _exec_quote writes)."""
    return shlex.split(value.replace("$$", "$").replace("%%", "%"))


def test_print_systemd_unit_for_this_config_and_database(cli: Cli, write_config) -> None:
    config = write_config(
        'shutdown_grace = "100s"\nkill_grace = "20s"\n'
        '[jobs.slow]\ncommand = "true"\nkill_grace = "50s"\n'
    )
    options = ["--db", "state/sub/jobs.db", "--config", "jobs.toml", "--concurrency", "3"]
    result = cli("daemon", "--print-systemd-unit", *options)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    unit = _unit_lines(result.stdout)
    db = cli.home / "state" / "sub" / "jobs.db"
    command = [os.path.abspath(JOBCTL[0]), *JOBCTL[1:]]
    expected = ["daemon", "--db", str(db), "--config", str(config), "--concurrency", "3"]
    assert _exec_start_argv(unit["ExecStart"]) == [*command, *expected]
    assert unit["Type"] == "notify" and unit["NotifyAccess"] == "main"
    assert unit["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert unit["KillMode"] == "mixed" and unit["Restart"] == "on-failure"
    assert unit["WatchdogSec"] == "30"
    # shutdown_grace + the longest kill_grace + 45 s (hooks, the last writes).
    assert unit["TimeoutStopSec"] == "195"
    root = os.geteuid() == 0
    assert unit["WantedBy"] == ("multi-user.target" if root else "default.target")
    assert "User" not in unit  # root's own folder, or a user unit
    # Printing is all it does: no database, no daemon.
    assert not db.exists() and not db.parent.exists()


def test_a_unit_without_a_config_has_no_config_option(cli: Cli) -> None:
    unit = _unit_lines(cli.ok("daemon", "--print-systemd-unit"))
    argv = _exec_start_argv(unit["ExecStart"])
    assert argv[-3:] == ["daemon", "--db", str(cli.db)] and "--config" not in argv
    assert unit["TimeoutStopSec"] == str(30 + 10 + 45)
    assert not cli.db.exists()


def test_system_and_user_units(tmp_path: Path) -> None:
    config = load_config(None)
    db = tmp_path / 'we ird%$x"' / "jobs.db"
    system = systemd.unit_file(config, db, None, system=True, user="jobs", command=["/j"])
    user = systemd.unit_file(config, db, None, ["--no-workers"], system=False, command=["/j"])
    s, u = _unit_lines(system), _unit_lines(user)
    assert s["User"] == "jobs" and s["WantedBy"] == "multi-user.target"
    assert "User" not in u and u["WantedBy"] == "default.target"
    assert "systemctl --user enable --now jobctl.service" in user
    assert _exec_start_argv(u["ExecStart"]) == ["/j", "daemon", "--db", str(db), "--no-workers"]
    with pytest.raises(systemd.InputError):
        systemd.unit_file(config, Path("/a\nb"), None, system=False, command=["/j"])


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_a_system_unit_runs_as_the_owner_of_the_database(tmp_path: Path) -> None:
    folder = tmp_path / "jobs"
    folder.mkdir()
    os.chown(folder, 65534, 65534)
    name = systemd.service_user(folder / "not-yet.db")
    assert name is not None and name in ("nobody", "65534")
    assert systemd.service_user(tmp_path / "x.db") is None  # root's


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_reads_the_unit_without_complaint(cli: Cli, tmp_path: Path) -> None:
    unit = tmp_path / "jobctl.service"
    unit.write_text(cli.ok("daemon", "--print-systemd-unit"))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and "jobctl.service" not in result.stderr, result.stderr


def test_the_readme_shows_what_it_prints() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    section = readme.split("## Running under systemd", 1)[1].split("\n## ", 1)[0]
    user, system = re.findall(r"```ini\n(.*?)```", section, flags=re.S)
    config = load_config(None)
    home = Path("/home/ada")
    assert user == systemd.unit_file(
        config,
        home / ".local/state/jobctl/jobctl.db",
        home / ".config/jobctl/jobs.toml",
        system=False,
        command=[str(home / ".local/bin/jobctl")],
    )
    assert system == systemd.unit_file(
        config,
        Path("/srv/jobs/jobctl.db"),
        Path("/srv/jobs/jobs.toml"),
        system=True,
        user="jobs",
        command=["/opt/jobctl/bin/jobctl"],
    )
