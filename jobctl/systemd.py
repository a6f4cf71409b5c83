"""systemd: the notify protocol, journald's stderr, a unit file for `jobctl daemon`.

No dependency.  The notify protocol (sd_notify(3)) is one datagram per
message, sent to the unix socket named in $NOTIFY_SOCKET: "READY=1" once the
daemon serves, "STOPPING=1" when it begins to stop, "WATCHDOG=1" at half of
$WATCHDOG_USEC.  A send never blocks and never raises: a socket that is gone
costs one log line, not the daemon.

The daemon reads $NOTIFY_SOCKET and $WATCHDOG_* once and removes them from
its environment, which its jobs and workers inherit: a job must not be able
to tell systemd that the service is ready, or feed its watchdog.
"""

from __future__ import annotations

import math
import os
import pwd
import socket
import sys
import time
from collections.abc import Callable, MutableMapping, Sequence
from pathlib import Path

from jobctl.errors import InputError
from jobctl.models import Config
from jobctl.store import describe_db, is_postgres_url

NOTIFY_VARIABLES = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")

# TimeoutStopSec beyond shutdown_grace and the longest kill_grace: the
# daemon's last look at handler threads (2 s, see Daemon._stop_jobs_after_grace),
# its wait for on_failure hooks (HOOK_WAIT_SECONDS, 30 s), and slack for a
# last write held up by the busy timeout (10 s) and the rest.
STOP_MARGIN_SECONDS = 45
# At most this long between two passes of the coordinator's loop, in the
# worst case that is not a fault: a write waiting out the busy timeout (10 s)
# and a worker's leftover processes given up to 5 s to stop.  A watchdog
# three times that is not fooled by a slow pass, and still catches a loop
# that is stuck for good.
WATCHDOG_SECONDS = 30


class Notifier:
    """Messages to the service manager; does nothing when there is none."""

    def __init__(
        self,
        address: str | None,
        watchdog_usec: int | None = None,
        on_error: Callable[[str], object] | None = None,
    ) -> None:
        self.address = address  # as given in $NOTIFY_SOCKET, for messages
        self._target = _socket_address(address) if address else None
        # Half the interval, as sd_watchdog_enabled(3) advises.
        self.watchdog_every = watchdog_usec / 2e6 if address and watchdog_usec else None
        self._next_watchdog = 0.0  # time.monotonic(): the first pass sends one at once
        self.on_error = on_error
        self._socket: socket.socket | None = None
        self._reported = False  # a failed send is said once, not every watchdog period
        self._stopping = False
        if address and self._target is None:
            self._report(f"ignoring NOTIFY_SOCKET={address}: not a unix socket path")

    @classmethod
    def from_environment(
        cls,
        environ: MutableMapping[str, str] | None = None,
        pid: int | None = None,
        on_error: Callable[[str], object] | None = None,
    ) -> Notifier:
        """The notifier $NOTIFY_SOCKET asks for; the variables are removed from `environ`.

        $WATCHDOG_USEC counts only when $WATCHDOG_PID is unset or our pid:
        otherwise it was meant for the process that started us.
        """
        environ = os.environ if environ is None else environ
        address, usec, for_pid = (environ.pop(name, None) for name in NOTIFY_VARIABLES)
        pid = os.getpid() if pid is None else pid
        watchdog = None
        if usec and (not for_pid or for_pid.strip() == str(pid)):
            try:
                watchdog = int(usec)
            except ValueError:
                watchdog = None
            if watchdog is not None and watchdog <= 0:
                watchdog = None
        return cls(address or None, watchdog, on_error)

    @property
    def enabled(self) -> bool:
        return self._target is not None

    def send(self, *fields: str) -> bool:
        """Send one message ("KEY=value" fields); False if it could not be sent."""
        if self._target is None:
            return False
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._socket.setblocking(False)  # a full queue drops a message, not the loop
            self._socket.sendto("\n".join(fields).encode(), self._target)
        except OSError as exc:
            self._report(f"cannot notify systemd at {self.address}: {exc.strerror or exc}")
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        """The daemon serves: at start, and again once a reload is over."""
        fields = ["READY=1", f"MAINPID={os.getpid()}"]
        if status:
            fields.append(f"STATUS={_one_line(status)}")
        return self.send(*fields)

    def reloading(self) -> bool:
        """A reload begins (SIGHUP, jobs.toml changed): call ready() when it is
        over, whether the new configuration was taken or refused.

        MONOTONIC_USEC is what Type=notify-reload units require with it.
        """
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.send("RELOADING=1", f"MONOTONIC_USEC={usec}")

    def stopping(self) -> bool:
        """The daemon begins to stop (a signal, or a fatal error): said once."""
        if self._stopping:
            return False
        self._stopping = True
        return self.send("STOPPING=1")

    def watchdog(self, now: float | None = None) -> None:
        """From every pass of the loop: "WATCHDOG=1" when one is due; a clock
        read otherwise.  `now`: time.monotonic()."""
        if self.watchdog_every is None:
            return
        now = time.monotonic() if now is None else now
        if now >= self._next_watchdog:
            self._next_watchdog = now + self.watchdog_every
            self.send("WATCHDOG=1")

    def watchdog_pause(self, now: float | None = None) -> float:
        """How long an idle loop may sleep before the next "WATCHDOG=1" is due."""
        if self.watchdog_every is None:
            return math.inf
        now = time.monotonic() if now is None else now
        return max(0.0, self._next_watchdog - now)

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def _report(self, message: str) -> None:
        if self._reported or self.on_error is None:
            return
        self._reported = True
        self.on_error(message + " (going on without it)")


def _socket_address(value: str) -> str | bytes | None:
    """$NOTIFY_SOCKET as an AF_UNIX address: a path, or "@name" for an abstract one.

    Anything else (a relative path, systemd's "vsock:" form) is not used,
    as sd_notify(3) does.
    """
    if value.startswith("@") and len(value) > 1:
        return b"\0" + os.fsencode(value[1:])
    if value.startswith("/"):
        return value
    return None


def _one_line(text: str) -> str:
    return " ".join(text.split())


# -- journald ---------------------------------------------------------------


def stderr_is_journal(environ: MutableMapping[str, str] | None = None, fd: int = 2) -> bool:
    """True when our stderr is the journal's stream, as systemd.exec(5) says to tell:
    $JOURNAL_STREAM holds "device:inode" of it, which fstat() must match (a
    redirected stderr inherits the variable, but not the stream)."""
    environ = os.environ if environ is None else environ
    device, _, inode = environ.get("JOURNAL_STREAM", "").partition(":")
    try:
        info = os.fstat(fd)
        return (int(device), int(inode)) == (info.st_dev, info.st_ino)
    except (OSError, ValueError):
        return False


# -- a unit file ------------------------------------------------------------


def jobctl_command() -> list[str]:
    """How this jobctl was started, absolute: its console script, else `python -m jobctl`."""
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if script is not None and script.name == "jobctl" and os.access(script, os.X_OK):
        return [os.path.abspath(script)]
    return [os.path.abspath(sys.executable), "-m", "jobctl"]


def stop_timeout(config: Config) -> int:
    """TimeoutStopSec for `config`: a graceful stop must never be cut short."""
    graces = [config.kill_grace]
    graces += [t.kill_grace for t in config.jobs.values()]
    graces += [w.kill_grace for w in config.workers.values()]
    return math.ceil(config.shutdown_grace + max(graces) + STOP_MARGIN_SECONDS)


def service_user(db_path: Path) -> str | None:
    """For a system unit: the owner of the database (or, before it exists,
    of the folder it goes in), unless that is root.

    jobctl refuses a database that belongs to another user, root excepted,
    so the daemon has to run as its owner; root's own files need no User=.
    """
    for path in (db_path, *db_path.parents):
        try:
            uid = path.stat().st_uid
        except OSError:
            continue
        if uid == 0:
            return None
        try:
            return pwd.getpwuid(uid).pw_name
        except KeyError:
            return str(uid)
    return None


def unit_file(
    config: Config,
    db_path: Path,
    config_path: Path | None,
    daemon_args: Sequence[str] = (),
    *,
    system: bool,
    user: str | None = None,
    command: Sequence[str] | None = None,
) -> str:
    """A unit that runs `jobctl daemon` on `db_path` (and `config_path`) under systemd.

    `system`: a system unit (for root), else a user unit.  `daemon_args`:
    more options for `jobctl daemon` (--concurrency...), as given.
    """
    argv = [*(command or jobctl_command()), "daemon", "--db", str(db_path)]
    if config_path is not None:
        argv += ["--config", str(config_path)]
    argv += daemon_args
    kind = "system" if system else "user"
    name = "jobctl.service"
    if system:
        install = f"/etc/systemd/system/{name}"
        enable = f"systemctl daemon-reload && systemctl enable --now {name}"
    else:
        install = f"~/.config/systemd/user/{name}"
        enable = f"systemctl --user daemon-reload && systemctl --user enable --now {name}"
    lines = [
        f"# jobctl daemon as a systemd {kind} service: save as {install}, then",
        f"#   {enable}",
        f"# Logs: journalctl {'' if system else '--user '}-u {name}"
        f"   Reload jobs.toml: systemctl {'' if system else '--user '}reload {name}",
        "",
        "[Unit]",
        f"Description=jobctl daemon ({_escape_specifiers(str(db_path))})",
    ]
    if system:
        lines.append("After=network.target")
    lines += [
        "",
        "[Service]",
        "Type=notify",
        "NotifyAccess=main",
        "ExecStart=" + " ".join(_exec_quote(arg) for arg in argv),
        "ExecReload=/bin/kill -HUP $MAINPID",
        # SIGTERM to the daemon alone: it stops its jobs' process groups
        # itself, after shutdown_grace; systemd's SIGKILL comes only after
        # TimeoutStopSec, to whatever is left.
        "KillMode=mixed",
        f"TimeoutStopSec={stop_timeout(config)}",
        "Restart=on-failure",
        "RestartSec=5",
        # Exit status 2 is an invalid jobs.toml or option: a restart would not help.
        "RestartPreventExitStatus=2",
        f"WatchdogSec={WATCHDOG_SECONDS}",
    ]
    if system:
        if user is not None:
            lines.append(f"User={user}")
        else:
            lines += [
                "# As root, whose database this is.  For another account: User=NAME,",
                "# and chown the database's folder (and jobs.toml) to it.",
            ]
    lines += [
        "# Typed jobs run with this unit's environment, not your shell's: add",
        "# Environment=PATH=... or EnvironmentFile= for what their commands need.",
        "",
        "[Install]",
        f"WantedBy={'multi-user.target' if system else 'default.target'}",
    ]
    return "\n".join(lines) + "\n"


def unit_for(config: Config, db_path: Path | str, daemon_args: Sequence[str] = ()) -> str:
    """`jobctl daemon --print-systemd-unit`: the unit for this config and database,
    their paths made absolute (systemd starts the daemon in / or the home folder)."""
    if is_postgres_url(db_path):
        # A unit file is readable by every local user, and its ExecStart=
        # argv by `ps`: a password goes in ~/.pgpass or a service file.
        if describe_db(db_path) != db_path:
            raise InputError(
                "the PostgreSQL URL holds a password: put it in ~/.pgpass or"
                " PGPASSFILE, not in a unit file"
            )
        db = db_path
    else:
        db = Path(os.path.abspath(db_path))
    config_path = Path(os.path.abspath(config.path)) if config.path else None
    system = os.geteuid() == 0
    user = service_user(db) if system and isinstance(db, Path) else None
    return unit_file(config, db, config_path, daemon_args, system=system, user=user)


def _escape_specifiers(text: str) -> str:
    _check_one_line(text)
    return text.replace("%", "%%")


def _exec_quote(arg: str) -> str:
    """One ExecStart= word, read back by systemd as `arg`: its quoting,
    backslash escapes, $VARIABLE expansion and %-specifiers all turned off."""
    _check_one_line(arg)
    text = arg.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    if text and not any(c.isspace() or c in "'\"\\;" for c in arg):
        return text
    return f'"{text}"'


def _check_one_line(text: str) -> None:
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise InputError(f"cannot write {text!r} in a unit file: it holds a control character")
