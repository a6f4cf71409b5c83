"""Finds, reads and validates jobs.toml.

Every problem is reported with the file, the table and the key, e.g.
`jobs.toml:12: [jobs.email] timeout: "5 minutes" is not a duration (use 30s,
5m, 2h)`; `load_config` raises one ConfigError listing all of them.
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jobctl import limits
from jobctl.durations import DURATION_HINT, parse_duration
from jobctl.errors import ConfigError, InputError
from jobctl.file_safety import check_config
from jobctl.models import Config, JobType, QueueSpec, WorkerSpec
from jobctl.store.contract import is_postgres_url
from jobctl.templates import check_template

MIB = 1024 * 1024
MAX_SECONDS = 10 * 365 * 86400  # any duration in jobs.toml: at most 10 years
HOOKS = ("on_failure", "on_success", "on_finish")  # top level, and per job type
_SIZE = re.compile(r"(\d+)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "k": 1024, "m": MIB, "g": 1024 * MIB}
_HANDLER = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")


def find_config(explicit: str | None = None, cwd: Path | None = None) -> Path | None:
    """The config file to use, or None when there is none (which is valid).

    --config, else $JOBCTL_CONFIG, else ./jobs.toml, else
    $XDG_CONFIG_HOME/jobctl/jobs.toml.  A file named explicitly must exist.
    """
    named = explicit or os.environ.get("JOBCTL_CONFIG")
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            raise InputError(f"config file {named} not found")
        return path
    local = (cwd or Path.cwd()) / "jobs.toml"
    if local.is_file():
        return local
    xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    user = Path(xdg) / "jobctl" / "jobs.toml"
    return user if user.is_file() else None


def find_db(explicit: str | None, config: Config) -> Path | str:
    """--db, else $JOBCTL_DB, else `db =` in the config, else the XDG state folder.

    An SQLite file's Path, or a `postgresql://` URL as it was given.
    """
    named = explicit or os.environ.get("JOBCTL_DB")
    if named:
        return named if is_postgres_url(named) else Path(named).expanduser()
    if config.db:
        return config.db if is_postgres_url(config.db) else Path(config.db)
    xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(xdg) / "jobctl" / "jobctl.db"


def load_config(path: Path | None) -> Config:
    """The validated Config in `path`; an empty Config when `path` is None."""
    if path is None:
        return Config()
    check_config(path)  # before reading: it says what the daemon will run
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read config {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    # Imported here, not above: most `jobctl add` calls have no config file,
    # and tomllib costs them about 3 ms (see README, Performance notes).
    import tomllib

    try:
        data = tomllib.loads(text)
    except ValueError as exc:  # TOMLDecodeError, or an integer of over 4,300 digits
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except RecursionError:  # arrays or tables nested a thousand deep
        raise ConfigError(f"{path}: invalid TOML: nested too deep") from None
    checker = _Checker(path, text)
    config = checker.config(data)
    if checker.problems:
        raise ConfigError(checker.problems)
    return config


def describe(config: Config) -> str:
    """What `jobctl check` says about a valid config."""
    types = len(config.jobs)
    return (
        f"{config.path or 'no config file'}: {types} job type(s), "
        f"{len(config.schedules)} schedule(s), {len(config.workers)} worker(s), "
        f"{len(config.queues)} queue setting(s)"
    )


# How long `jobctl check` lets a handler's module take to import.
IMPORT_TIMEOUT = 5.0

# Run by `jobctl check` in a child process for each handler: imports its
# module as the daemon would (the config's folder on sys.path after the
# standard library) and looks up its function; what the module prints goes
# nowhere, the verdict goes to the first stdout as a JSON line.
_IMPORT_CHECK = """\
import json, os, sys
verdict = os.fdopen(os.dup(1), "w")
quiet = os.open(os.devnull, os.O_WRONLY)
os.dup2(quiet, 1)
os.dup2(quiet, 2)
module, _, function = sys.argv[2].partition(":")
try:
    from jobctl.file_safety import put_handlers_on_path
    put_handlers_on_path(sys.argv[1])
    import importlib
    loaded = importlib.import_module(module)
except BaseException as exc:
    problem = f"cannot import {module} ({type(exc).__name__})"
else:
    found = getattr(loaded, function, None)
    if found is None:
        problem = f'module {module} has no function "{function}"'
    elif not callable(found):
        problem = f'{module}.{function} is not a function'
    else:
        problem = None
verdict.write(json.dumps(problem) + "\\n")
verdict.flush()
os._exit(0)
"""


def missing_handlers(config: Config, timeout: float = IMPORT_TIMEOUT) -> list[str]:
    """For `jobctl check` only: a problem for each handler that cannot be imported.

    Each handler's module is imported in a child process of its own (all at
    once, `python -P`, in the config's folder, which goes on sys.path after
    the standard library as for the daemon, see put_handlers_on_path), and
    its function looked up: user code can neither hang nor break `check`.
    One still importing after `timeout` seconds is killed and reported.
    """
    handlers = [(f"jobs.{n}", t.handler) for n, t in config.jobs.items() if t.handler]
    handlers += [(f"workers.{n}", w.handler) for n, w in config.workers.items() if w.handler]
    if not handlers or not config.path:
        return []
    import contextlib
    import signal
    import subprocess
    import sys
    import time

    path = Path(config.path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = ""  # changed since it was loaded: the messages go without line numbers
    checker = _Checker(path, text)
    folder = str(path.parent)
    children = [
        subprocess.Popen(
            [sys.executable, "-P", "-c", _IMPORT_CHECK, folder, handler],
            cwd=folder,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own group: a timeout kills what it started
            text=True,
        )
        for _, handler in handlers
    ]
    deadline = time.monotonic() + timeout
    for (table, handler), child in zip(handlers, children, strict=True):
        try:
            # A little time even past the deadline: one done must be read.
            out, _ = child.communicate(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError):
                os.killpg(child.pid, signal.SIGKILL)
            child.communicate()
            module = handler.partition(":")[0]
            checker.problem(
                table, "handler", f"importing {module} took over {timeout:g}s (timed out)"
            )
            continue
        try:
            problem = json.loads(out.splitlines()[0])
        except (IndexError, ValueError):  # killed, say: no verdict
            module = handler.partition(":")[0]
            problem = f"cannot import {module} (its check exited {child.returncode})"
        if problem:
            checker.problem(table, "handler", problem)
    return checker.problems


class _Checker:
    """Reads the parsed TOML into models, collecting every problem."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()
        self.problems: list[str] = []

    # -- reporting ---------------------------------------------------------

    def problem(self, table: str | None, key: str | None, message: str) -> None:
        line = self._line_of(table, key)
        where = f"{self.path}:{line}" if line else str(self.path)
        scope = f" [{table}]" if table else ""
        # cron_error() already says `cron "..."`; don't say "cron:" before it.
        field = f" {key}:" if key and not message.startswith(key) else ""
        self.problems.append(f"{where}:{scope}{field} {message}")

    def _line_of(self, table: str | None, key: str | None) -> int | None:
        """The line of `key` in `[table]`: a best effort, for the message only."""
        in_table = table is None
        header = None
        if table:
            head, _, name = table.partition(".")
            header = re.compile(
                rf"\[\s*{re.escape(head)}\s*\.\s*(\"{re.escape(name)}\"|'{re.escape(name)}'|{re.escape(name)})\s*\]"
                if name
                else rf"\[\s*{re.escape(head)}\s*\]"
            )
        table_line = None
        for number, raw in enumerate(self.lines, 1):
            stripped = raw.strip()
            if stripped.startswith("["):
                in_table = bool(header and header.fullmatch(stripped.split("#")[0].strip()))
                if in_table:
                    table_line = number
                continue
            if in_table and key and re.match(rf"[\"']?{re.escape(key)}[\"']?\s*=", stripped):
                return number
        return table_line

    def unknown_keys(self, table: str | None, data: dict[str, Any], known: set[str]) -> None:
        for key in data:
            if key not in known:
                from difflib import get_close_matches  # only on the error path

                close = get_close_matches(key, sorted(known), n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                self.problem(table, key, f"unknown key{hint}")

    # -- typed getters -------------------------------------------------------

    def get(
        self,
        table: str | None,
        data: dict[str, Any],
        key: str,
        default: Any,
        convert: Callable[[Any], Any],
    ) -> Any:
        if key not in data:
            return default
        try:
            return convert(data[key])
        except InputError as exc:
            self.problem(table, key, str(exc))
        except (TypeError, ValueError) as exc:
            self.problem(table, key, str(exc) or f"{data[key]!r} is not valid")
        return default

    # -- tables ------------------------------------------------------------

    def config(self, data: dict[str, Any]) -> Config:
        top = {
            "db",
            "durability",
            "output_limit",
            "max_payload",
            "concurrency",
            "shutdown_grace",
            "kill_grace",
            "lease",
            "retention",
            "timeout",
            "command_max_attempts",
            "jobs",
            "queues",
            "workers",
            *HOOKS,
        }
        self.unknown_keys(None, data, top)
        db = self.get(None, data, "db", None, _string)
        if db is not None and not is_postgres_url(db):
            db = str((self.path.parent / Path(db).expanduser()).resolve())
        kill_grace = self.get(None, data, "kill_grace", 10.0, _duration)
        # Top-level hooks: for ad hoc commands, and the defaults of job types.
        hooks = {key: self.get(None, data, key, None, _command) for key in HOOKS}
        config = Config(
            path=str(self.path),
            db=db,
            durability=self.get(None, data, "durability", "normal", _choice("normal", "full")),
            output_limit=self.get(None, data, "output_limit", MIB, _size),
            max_payload=self.get(None, data, "max_payload", MIB, _size),
            concurrency=self.get(None, data, "concurrency", None, _threads),
            shutdown_grace=self.get(None, data, "shutdown_grace", 30.0, _duration),
            kill_grace=kill_grace,
            lease=self.get(None, data, "lease", 30.0, _lease),
            retention=self.get(None, data, "retention", None, _retention),
            timeout=self.get(None, data, "timeout", None, _positive_duration),
            command_max_attempts=self.get(None, data, "command_max_attempts", 1, _command_attempts),
            jobs={
                name: self.job_type(name, body, kill_grace, hooks)
                for name, body in self.tables(data, "jobs").items()
            },
            queues={
                name: self.queue(name, body) for name, body in self.tables(data, "queues").items()
            },
            workers={
                name: self.worker(name, body, kill_grace)
                for name, body in self.tables(data, "workers").items()
            },
            **hooks,
        )
        return config

    def tables(self, data: dict[str, Any], section: str) -> dict[str, dict[str, Any]]:
        value = data.get(section, {})
        if not isinstance(value, dict):
            self.problem(None, section, "must be a table of tables, like [" + section + ".NAME]")
            return {}
        good = {}
        for name, body in value.items():
            if not name.isprintable() or not name.strip():
                # A NUL or an escape sequence in a name breaks the daemon,
                # the logs and the TUI that show it.
                self.problem(section, None, f"{name!r} is not a name (printable text)")
            elif isinstance(body, dict):
                good[name] = body
            else:
                self.problem(f"{section}.{name}", None, "must be a table")
        return good

    def job_type(
        self,
        name: str,
        body: dict[str, Any],
        kill_grace: float,
        hooks: dict[str, str | None] | None = None,
    ) -> JobType:
        table = f"jobs.{name}"
        self.unknown_keys(table, body, set(JobType._fields) - {"name"})
        get = self._getter(table, body)
        command = get("command", None, _command)
        handler = get("handler", None, _handler)
        if ("command" in body) == ("handler" in body):
            self.problem(table, None, "needs exactly one of command or handler")
        cron = get("cron", None, _cron)
        every = get("every", None, _every)
        if cron is not None and every is not None:
            self.problem(table, "every", "cannot be used together with cron")
        scheduled = cron is not None or every is not None
        for key in ("cron_data", "timezone", "catch_up", "catch_up_limit", "overlap"):
            if key in body and not scheduled:
                self.problem(table, key, "only applies with cron or every")
        return JobType(
            name=name,
            command=command,
            handler=handler,
            isolation=get("isolation", "thread", _choice("thread", "process")),
            allow_dash_values=get("allow_dash_values", False, _bool),
            queue=get("queue", "default", _name),
            priority=get("priority", 0, _priority),
            timeout=get("timeout", None, _positive_duration),
            kill_grace=get("kill_grace", kill_grace, _duration),
            max_attempts=get("max_attempts", 3, _attempts),
            retry_delay=get("retry_delay", 5.0, _duration),
            retry_backoff=get("retry_backoff", 2.0, _backoff),
            retry_max_delay=get("retry_max_delay", 3600.0, _duration),
            concurrency=get("concurrency", None, _positive_int),
            unique=get("unique", False, _unique),
            **{key: get(key, (hooks or {}).get(key), _command) for key in HOOKS},
            retention=get("retention", None, _retention),
            cron=cron,
            every=every,
            cron_data=get("cron_data", None, _cron_data),
            timezone=get("timezone", None, _timezone),
            catch_up=get("catch_up", "once", _choice("skip", "once", "all")),
            catch_up_limit=get("catch_up_limit", 100, _positive_int),
            overlap=get("overlap", "skip", _choice("skip", "queue", "allow")),
        )

    def queue(self, name: str, body: dict[str, Any]) -> QueueSpec:
        table = f"queues.{name}"
        self.unknown_keys(table, body, {"concurrency"})
        return QueueSpec(
            name=name, concurrency=self.get(table, body, "concurrency", None, _positive_int)
        )

    def worker(self, name: str, body: dict[str, Any], kill_grace: float) -> WorkerSpec:
        table = f"workers.{name}"
        self.unknown_keys(table, body, set(WorkerSpec._fields) - {"name"})
        get = self._getter(table, body)
        command = get("command", None, _command)
        handler = get("handler", None, _handler)
        if ("command" in body) == ("handler" in body):
            self.problem(table, None, "needs exactly one of command or handler")
        return WorkerSpec(
            name=name,
            command=command,
            handler=handler,
            autostart=get("autostart", True, _bool),
            restart=get("restart", "always", _choice("always", "on-failure", "never")),
            restart_delay=get("restart_delay", 5.0, _duration),
            restart_max_delay=get("restart_max_delay", 300.0, _duration),
            max_restarts=get("max_restarts", 0, _non_negative_int),
            reset_after=get("reset_after", 60.0, _duration),
            kill_grace=get("kill_grace", kill_grace, _duration),
        )

    def _getter(self, table: str, body: dict[str, Any]) -> Callable[..., Any]:
        return lambda key, default, convert: self.get(table, body, key, default, convert)


# -- value converters: return the value or raise InputError with the reason --


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise InputError(f"{value!r} is not a string")
    return value


def _name(value: Any) -> str:
    # Printable, as `add --queue` and the names of tables must be.
    if not isinstance(value, str) or not value.strip() or not value.isprintable():
        raise InputError(f"{value!r} is not a name (printable text)")
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise InputError(f"{value!r} is not true or false")
    return value


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{value!r} is not a whole number")
    return value


def _positive_int(value: Any) -> int:
    if _int(value) < 1:
        raise InputError(f"{value} must be at least 1")
    return value


def _non_negative_int(value: Any) -> int:
    if _int(value) < 0:
        raise InputError(f"{value} must not be negative")
    return value


def _backoff(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 1:
        raise InputError(f"{value!r} is not a multiplier of at least 1")
    if value > 1e300 or not math.isfinite(value):  # float(10**400) would raise
        raise InputError(f"{value!r} is out of range (at most 1e300)")
    return float(value)


def _duration(value: Any) -> float:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        try:
            seconds = parse_duration(value)
        except (InputError, OverflowError):  # OverflowError: an integer of 400 digits
            seconds = math.nan
        if math.isfinite(seconds):  # not nan, nor inf (a float, or "999...9s" past 1e308)
            if seconds > MAX_SECONDS:
                # A retry so far off is past what a date can show (year 9999).
                raise InputError(f"{value!r} is out of range (at most 10 years)")
            return seconds
    shown = f'"{value}"' if isinstance(value, str) else repr(value)
    raise InputError(f"{shown} is not a duration ({DURATION_HINT})")


def _positive_duration(value: Any) -> float:
    seconds = _duration(value)
    if seconds <= 0:
        raise InputError(f"{value!r} must be longer than zero")
    return seconds


def _priority(value: Any) -> int:
    return limits.in_range(_int(value), *limits.PRIORITY, "priority")


def _attempts(value: Any) -> int:
    return limits.in_range(_positive_int(value), 1, limits.MAX_ATTEMPTS, "max_attempts")


def _command_attempts(value: Any) -> int:
    return limits.in_range(_positive_int(value), 1, limits.MAX_ATTEMPTS, "command_max_attempts")


def _threads(value: Any) -> int:
    return limits.in_range(_positive_int(value), 1, limits.MAX_THREADS, "concurrency")


def _every(value: Any) -> float:
    seconds = _duration(value)
    # Due times are multiples of the interval since the epoch: under a
    # second they are too many to serve, and past ten years too far to show.
    if not 1 <= seconds <= 10 * 365 * 86400:
        raise InputError(f"{value!r} is out of range (1s to 10 years)")
    return seconds


def _lease(value: Any) -> float:
    seconds = _duration(value)
    # Heartbeats come every second: a shorter lease would let a daemon on
    # another host be taken for dead between two of them.
    if seconds < 3:
        raise InputError(f"{value!r} is too short for a lease (at least 3s)")
    return seconds


def _retention(value: Any) -> float:
    seconds = _duration(value)
    # "0s" would delete each job the moment it ends, before anyone sees it.
    if not seconds >= 1:  # nan too
        raise InputError(f"{value!r} is too short for a retention (at least 1s)")
    return seconds


def _size(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = _SIZE.fullmatch(value.strip()) if isinstance(value, str) else None
    if not match:
        raise InputError(f"{value!r} is not a size (use 1048576, 512KiB or 1MiB)")
    unit = (match.group(2) or "b")[0].lower()
    size = int(match.group(1)) * _SIZE_UNITS[unit]
    if size < 1:  # "0KiB", as 0 is: no payload would fit, no output be kept
        raise InputError(f"{value!r} must be at least 1 byte")
    return size


def _choice(*choices: str) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        if value not in choices:
            shown = json.dumps(value) if isinstance(value, str) else repr(value)
            raise InputError(f"{shown} is not one of " + ", ".join(f'"{c}"' for c in choices))
        return value

    return convert


def _command(value: Any) -> str:
    text = _string(value)
    if "\0" in text:
        raise InputError("holds a NUL byte, which no argument can")
    try:
        argv = shlex.split(text)
    except ValueError as exc:
        raise InputError(f"{text!r} cannot be split into arguments: {exc}") from None
    if not argv:
        raise InputError("is empty")
    for part in argv:
        check_template(part)
    return text


def _handler(value: Any) -> str:
    text = _string(value)
    if not _HANDLER.fullmatch(text):
        raise InputError(f'"{text}" is not a handler (use "package.module:function")')
    return text


def _cron_data(value: Any) -> Any:
    """The payload of scheduled runs: JSON, as a payload must be (a TOML date, nan
    or inf is not; each run would fail)."""
    try:
        text = json.JSONEncoder(allow_nan=False).encode(value)
    except (TypeError, ValueError) as exc:
        raise InputError(f"is not JSON: {exc}") from None
    except RecursionError:
        raise InputError(f"is nested over {limits.MAX_DEPTH} levels deep") from None
    limits.check_depth(value, text)  # over 100 levels: the daemon could not decode it
    return value


def _cron(value: Any) -> str:
    from jobctl.cron_syntax import cron_error  # only a config with schedules needs it

    problem = cron_error(_string(value))
    if problem:
        raise InputError(problem)
    return value


def _unique(value: Any) -> bool | str:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value:
        check_template(value)
        return value
    raise InputError(f'{value!r} is not true, false or a key template like "{{user_id}}"')


def _timezone(value: Any) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    text = _string(value)
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f'"{text}" is not an IANA time zone (like "Europe/Berlin")') from None
    return text
