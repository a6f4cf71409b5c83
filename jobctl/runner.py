"""Runs one attempt of one job: a command in its own process group, or a
Python handler in this thread.  No SQL: output, log lines and the outcome go
back to the daemon through callbacks.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import select
import signal
import subprocess
import time
import traceback
from collections.abc import Callable
from typing import Any

from jobctl.errors import InputError, Interrupted
from jobctl.models import Job, JobType, Outcome
from jobctl.processes import RUN_ENV, WORKER_ENV, signal_group
from jobctl.systemd import NOTIFY_VARIABLES
from jobctl.templates import dash_field

PAYLOAD_ENV_LIMIT = 64 * 1024
POLL = 0.05  # seconds between checks for timeout, cancel and shutdown


class Attempt:
    """What a runner needs to know and tell while one attempt runs."""

    def __init__(
        self,
        job: Job,
        number: int,
        job_type: JobType | None,
        *,
        output: Callable[[bytes], None],
        log: Callable[[str, dict[str, Any] | None, str], None],  # message, data, level
        stop_reason: Callable[[], str | None],
        kill_grace: float,
        config_dir: str | None,
        started: Callable[[int], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        run_token: str = "",
        shutting_down: Callable[[], bool] | None = None,
    ) -> None:
        self.job = job
        self.number = number
        self.job_type = job_type
        self.output = output
        self.log = log
        self.stop_reason = stop_reason  # None, "cancelled" or "interrupted"
        self.kill_grace = kill_grace
        self.config_dir = config_dir
        self.started = started  # told the pid of the process group it starts
        self.clock = clock
        self.run_token = run_token  # the daemon's: in the environment of what it starts
        # ctx.shutting_down(): from the daemon's first stop signal, or a stop of this job.
        self.shutting_down = shutting_down or (lambda: stop_reason() is not None)
        self.each_poll: Callable[[], None] | None = None  # called while a process runs

    def outcome(self, kind: str, **fields: Any) -> Outcome:
        return Outcome(self.job.id, self.number, kind, **fields)


def run(attempt: Attempt) -> Outcome:
    """Run the attempt to its end; never raises for a problem of the job's own."""
    job_type = attempt.job_type
    if job_type is not None and job_type.handler is not None:
        if job_type.isolation == "process":
            return run_handler_in_process(attempt, job_type.handler)
        return run_handler(attempt, job_type.handler)
    try:
        argv = command_argv(attempt.job, job_type)
    except (ValueError, KeyError, IndexError, InputError) as exc:
        return attempt.outcome("failed", error=f"cannot build the command: {exc}")
    return run_command(attempt, argv)


def command_argv(job: Job, job_type: JobType | None) -> list[str]:
    if job_type is None:
        return list(job.command or [])
    import shlex

    parts = shlex.split(job_type.command or "")
    if isinstance(job.payload, dict):
        # {field} is filled per argument after splitting: a payload value can
        # never become two arguments, or reach a shell; nor an option, unless
        # the type allows it (checked at add already: this is for older jobs).
        filled = [p.format_map(job.payload) if "{" in p else p for p in parts]
        if not job_type.allow_dash_values:
            for part, argument in zip(parts, filled, strict=True):
                if "{" in part:
                    dash_field(part, argument, job_type.name)
        parts = filled
    return parts


def job_environment(job: Job, number: int, run_token: str = "") -> dict[str, str]:
    env = dict(job.env) if job.env is not None else dict(os.environ)
    payload = json.dumps(job.payload)
    # A job added from inside a worker must not pass for that worker when a
    # dead daemon's processes are sorted out (see processes.tagged_processes).
    env.pop(WORKER_ENV, None)
    for name in NOTIFY_VARIABLES:  # recorded by an `add` that another service ran
        env.pop(name, None)
    env.update(
        {RUN_ENV: run_token},
        JOBCTL_JOB_ID=str(job.id),
        JOBCTL_JOB_TYPE=job.type or "",
        JOBCTL_ATTEMPT=str(number),
        JOBCTL_QUEUE=job.queue,
    )
    if len(payload) < PAYLOAD_ENV_LIMIT:
        env["JOBCTL_PAYLOAD"] = payload
    else:
        env.pop("JOBCTL_PAYLOAD", None)
    return env


def run_command(
    attempt: Attempt,
    argv: list[str],
    stdin_data: bytes | None = None,
    pass_fds: tuple[int, ...] = (),
) -> Outcome:
    job = attempt.job
    cwd = job.cwd if job.type is None else attempt.config_dir
    if stdin_data is None:
        stdin_data = json.dumps(job.payload).encode() if job.type is not None else b""
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=job_environment(job, attempt.number, attempt.run_token),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=pass_fds,
            # Our fds are all close-on-exec: left for the kernel to close at
            # exec, they keep the daemon's run mark until the run token shows
            # in the new program's environment (see processes.py).
            close_fds=bool(pass_fds),
            start_new_session=True,  # its own process group, which we signal as a whole
        )
    except FileNotFoundError:
        return attempt.outcome("failed", error=f"command not found: {argv[0] if argv else ''}")
    except PermissionError:
        return attempt.outcome("failed", error=f"permission denied: {argv[0]}")
    except OSError as exc:
        return attempt.outcome("failed", error=f"cannot start {argv[0]}: {exc.strerror}")
    except ValueError as exc:  # a NUL byte in an argument, the environment or the folder
        return attempt.outcome("failed", error=f"cannot start {argv[0] if argv else ''}: {exc}")
    if attempt.started is not None:
        attempt.started(proc.pid)
    _feed_stdin(proc, stdin_data)
    return _supervise(attempt, proc)


def _feed_stdin(proc: subprocess.Popen[bytes], data: bytes) -> None:
    assert proc.stdin is not None
    if len(data) <= 60_000:  # fits the pipe: cannot block
        try:
            proc.stdin.write(data)
            proc.stdin.close()
        except BrokenPipeError:
            pass
        return
    import threading

    def feed() -> None:
        try:
            proc.stdin.write(data)  # type: ignore[union-attr]
            proc.stdin.close()  # type: ignore[union-attr]
        except (BrokenPipeError, ValueError):
            pass

    threading.Thread(target=feed, daemon=True).start()


def watch_process(
    proc: subprocess.Popen[bytes],
    output: Callable[[bytes], None],
    stop_reason: Callable[[], str | None],
    kill_grace: Callable[[], float],
    timeout: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    each_poll: Callable[[], None] | None = None,
) -> tuple[int, str | None]:
    """Pass a process group's output on until it ends; (exit status, why we stopped it).

    A stop reason (or the timeout, as "timed_out") sends SIGTERM to the
    group, SIGKILL after kill_grace() (read each time: a second signal to
    the daemon makes it 0).  Used for job commands and long-running workers.
    """
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    start = clock()
    stopping: str | None = None  # why we signalled the group
    term_sent_at: float | None = None
    exited_at: float | None = None
    while True:
        ready, _, _ = select.select([fd], [], [], POLL)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                break  # every holder of the pipe is gone
            output(chunk)
        if each_poll is not None:
            each_poll()
        now = clock()
        if stopping is None:
            reason = stop_reason()
            if reason is None and timeout is not None and now - start >= timeout:
                reason = "timed_out"
            if reason is not None:
                stopping, term_sent_at = reason, now
                signal_group(proc.pid, signal.SIGTERM)
        elif term_sent_at is not None and now - term_sent_at >= kill_grace():
            signal_group(proc.pid, signal.SIGKILL)
            term_sent_at = None
        if proc.poll() is not None:
            # The command is done; a background child of it may still hold the
            # pipe.  Give it a moment to flush, then end the whole group.
            exited_at = exited_at or now
            if now - exited_at > 0.2:
                signal_group(proc.pid, signal.SIGKILL)
                break
    status = proc.wait()
    proc.stdout.close()
    signal_group(proc.pid, signal.SIGKILL)  # nothing of it outlives it
    return status, stopping


def _supervise(attempt: Attempt, proc: subprocess.Popen[bytes]) -> Outcome:
    status, stopping = watch_process(
        proc,
        attempt.output,
        attempt.stop_reason,
        lambda: attempt.kill_grace,
        attempt.job.timeout,
        attempt.clock,
        attempt.each_poll,
    )
    if stopping == "timed_out":
        # A timeout is no requested stop but a verdict on the job: it stays
        # timed_out even if the process exits 0 after the SIGTERM.
        limit = attempt.job.timeout or 0
        return attempt.outcome(
            "timed_out", signal=-status if status < 0 else None, error=f"timed out after {limit:g}s"
        )
    if status == 0:
        # Exit 0 is succeeded whatever stop (cancel, shutdown) was asked for
        # meanwhile: the work is done, and a requeue would do it twice.
        return attempt.outcome("succeeded", exit_status=0)
    if stopping is not None:
        return attempt.outcome(stopping, signal=-status if status < 0 else None, error=stopping)
    if status < 0:
        name = signal.Signals(-status).name
        return attempt.outcome("failed", signal=-status, error=f"killed by {name}")
    return attempt.outcome("failed", exit_status=status, error=f"exit status {status}")


LOG_LEVELS = ("debug", "info", "warning", "error")


class HandlerLog:
    """`ctx.log`: ctx.log(message, **data) keeps an info line with the attempt
    (`jobctl logs`, `show` and the TUI show it); ctx.log.debug(...),
    .info(...), .warning(...) and .error(...) one of that level."""

    __slots__ = ("_keep",)

    def __init__(self, keep: Callable[[str, dict[str, Any] | None, str], None]) -> None:
        self._keep = keep  # (message, data or None, level)

    def __call__(self, message: str, **data: Any) -> None:
        self._keep(str(message), data or None, "info")

    def debug(self, message: str, **data: Any) -> None:
        self._keep(str(message), data or None, "debug")

    def info(self, message: str, **data: Any) -> None:
        self._keep(str(message), data or None, "info")

    def warning(self, message: str, **data: Any) -> None:
        self._keep(str(message), data or None, "warning")

    def error(self, message: str, **data: Any) -> None:
        self._keep(str(message), data or None, "error")


class Context:
    """The `ctx` a handler receives."""

    def __init__(self, attempt: Attempt) -> None:
        job = attempt.job
        self.job = _JobView(job.id, job.type, attempt.number, job.payload, job.queue)
        self._attempt = attempt
        self.log = HandlerLog(attempt.log)

    def shutting_down(self) -> bool:
        """True once the daemon wants this job to stop: from its first stop
        signal (before shutdown_grace runs out), or a cancel."""
        return self._attempt.shutting_down()


class _JobView:
    __slots__ = ("id", "type", "attempt", "payload", "queue")

    def __init__(self, id: int, type: str | None, attempt: int, payload: Any, queue: str) -> None:
        self.id, self.type, self.attempt, self.payload, self.queue = (
            id,
            type,
            attempt,
            payload,
            queue,
        )

    def __repr__(self) -> str:
        return f"Job(id={self.id}, type={self.type!r}, attempt={self.attempt})"


def load_handler(spec: str) -> Callable[..., Any]:
    module_name, _, function = spec.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, function)


def run_handler(attempt: Attempt, spec: str) -> Outcome:
    from jobctl.capture import routed_to

    # What this thread prints or logs meanwhile is the attempt's output (once
    # the daemon installed capture.py's streams; without, routed_to does nothing).
    with routed_to(attempt.output):
        return _run_handler(attempt, spec)


def _run_handler(attempt: Attempt, spec: str) -> Outcome:
    try:
        function = load_handler(spec)
    except Exception as exc:
        return attempt.outcome("failed", error=f"cannot load handler {spec}: {exc!r}")
    start = attempt.clock()
    try:
        value = function(attempt.job.payload, Context(attempt))
    except Interrupted as exc:
        return attempt.outcome("interrupted", error=_given_back(exc))
    except Exception as exc:
        attempt.output(traceback.format_exc().encode("utf-8", "backslashreplace"))
        return attempt.outcome("failed", error=f"{type(exc).__name__}: {exc}")
    timeout = attempt.job.timeout
    if timeout is not None and attempt.clock() - start > timeout:
        return attempt.outcome("timed_out", error=f"timed out after {timeout:g}s")
    # It returned: its work is done, so succeeded whatever stop (cancel,
    # shutdown) was asked for meanwhile, as for a process that exits 0.
    try:
        result = json.dumps(value)
    except (TypeError, ValueError) as exc:
        return attempt.outcome(
            "failed", error=f"the handler's return value is not JSON-serializable: {exc}"
        )
    return attempt.outcome("succeeded", result=result)


def run_handler_in_process(attempt: Attempt, spec: str) -> Outcome:
    """A handler in a child process (`isolation = "process"`), run like a command.

    Its own process group, so a timeout or a cancel can really stop it;
    what it prints is the attempt's output.  ctx.log() lines and the result
    come back as JSON lines on a pipe of their own (see handler_process.py).
    """
    import sys
    import threading

    job = attempt.job
    read_fd, write_fd = os.pipe()
    report: dict[str, Any] = {}

    def read_reports() -> None:
        with os.fdopen(read_fd, "rb") as channel:
            for line in channel:
                try:
                    message = json.loads(line)
                except ValueError:
                    continue
                if "log" in message:
                    level = message.get("level")
                    level = level if level in LOG_LEVELS else "info"
                    attempt.log(str(message["log"]), message.get("data"), level)
                else:
                    report.update(message)

    reader = threading.Thread(target=read_reports, daemon=True)
    reader.start()
    told: list[int] = []

    def tell_shutdown() -> None:
        # SIGUSR1 makes the child's ctx.shutting_down() true; only once it
        # listens (it says so first thing): before, the signal would kill it.
        if not told and "listening" in report and attempt.shutting_down():
            pid = report["listening"]
            told.append(pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGUSR1)

    attempt.each_poll = tell_shutdown
    view = {"id": job.id, "type": job.type, "attempt": attempt.number, "queue": job.queue}
    data = json.dumps({"job": view, "payload": job.payload}).encode()
    # -P: `python -m` would put the current folder (jobs.toml's) first on
    # sys.path, ahead of the standard library (see file_safety.put_handlers_on_path).
    argv = [sys.executable, "-P", "-m", "jobctl.handler_process", spec, str(write_fd)]
    try:
        outcome = run_command(attempt, argv, stdin_data=data, pass_fds=(write_fd,))
    finally:
        os.close(write_fd)  # the child has its own copy; EOF comes when it exits
    reader.join(timeout=5)
    if "interrupted" in report and outcome.outcome in ("succeeded", "failed"):
        return outcome._replace(
            outcome="interrupted", exit_status=None, error=_given_back(report["interrupted"])
        )
    if outcome.outcome == "succeeded" and "result" in report:
        return outcome._replace(exit_status=None, result=report["result"])
    if outcome.outcome in ("succeeded", "failed") and "error" in report:
        return outcome._replace(outcome="failed", exit_status=None, error=report["error"])
    return outcome


def _given_back(reason: object) -> str:
    """The error an attempt given back by jobctl.Interrupted is recorded with."""
    text = str(reason)
    return "given back by the handler" + (f": {text}" if text else "")
