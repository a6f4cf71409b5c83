"""The child process of a handler with `isolation = "process"`.

    python -m jobctl.handler_process MODULE:FUNCTION REPORT_FD
    python -m jobctl.handler_process --worker MODULE:FUNCTION

Reads {"job": ..., "payload": ...} from stdin, calls the handler, and
reports on REPORT_FD as JSON lines: {"log": ..., "data": ..., "level": ...}
for each ctx.log() or ctx.log.error() etc., then {"result": JSON text} or
{"error": message}.  What the handler prints (logging too: on stderr, which
is the same pipe) is the attempt's output, as for a command.  SIGUSR1 (the
daemon begins to stop) and SIGTERM (a timeout, a cancel, the end of
shutdown_grace) make ctx.shutting_down() true; SIGKILL follows SIGTERM
after kill_grace.  A handler that raises jobctl.Interrupted reports
{"interrupted": message}: its job is given back.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback
from typing import Any, TextIO

from jobctl.file_safety import put_handlers_on_path


class _StopsOnSigterm:
    """shutting_down() turns true at SIGUSR1 (the daemon begins to stop) or
    SIGTERM (a timeout, a cancel, a shutdown); SIGKILL follows SIGTERM after
    kill_grace."""

    def __init__(self) -> None:
        self._stopping = False
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGUSR1, self._on_term)

    def _on_term(self, signum: int, frame: Any) -> None:
        self._stopping = True

    def shutting_down(self) -> bool:
        """True once the daemon wants this handler to stop."""
        return self._stopping


class ProcessContext(_StopsOnSigterm):
    """The `ctx` a handler receives, in its own process."""

    def __init__(self, channel: TextIO) -> None:
        from jobctl.runner import HandlerLog

        super().__init__()
        self.job: Any = None  # set once read from stdin
        self._channel = channel
        self.log = HandlerLog(self._keep)

    def _keep(self, message: str, data: dict[str, Any] | None, level: str) -> None:
        """A line kept with this attempt: `jobctl logs` and the TUI show it."""
        line = {"log": message, "data": data, "level": level}
        self._channel.write(json.dumps(line, default=str) + "\n")


class WorkerContext(_StopsOnSigterm):
    """The `ctx` of a handler run as a long-running worker: no job, logs to stdout."""

    job = None

    def __init__(self) -> None:
        from jobctl.runner import HandlerLog

        super().__init__()
        self.log = HandlerLog(self._print)

    def _print(self, message: str, data: dict[str, Any] | None, level: str) -> None:
        extra = "".join(f" {k}={v}" for k, v in (data or {}).items())
        label = "" if level == "info" else f"{level.upper()} "
        print(f"{label}{message}{extra}", flush=True)


def _job_view(job: dict[str, Any], payload: Any) -> Any:
    from jobctl.runner import _JobView

    return _JobView(job["id"], job["type"], job["attempt"], payload, job["queue"])


def worker_main(spec: str) -> int:
    sys.stdout.reconfigure(line_buffering=True)
    put_handlers_on_path(os.getcwd())  # jobs.toml's folder: handlers import from it
    from jobctl.runner import load_handler

    load_handler(spec)(None, WorkerContext())
    return 0


def main(argv: list[str]) -> int:
    if argv[0] == "--worker":
        return worker_main(argv[1])
    spec, report_fd = argv[0], int(argv[1])
    channel = os.fdopen(report_fd, "w", buffering=1)

    def report(**message: Any) -> None:
        channel.write(json.dumps(message) + "\n")
        channel.flush()

    ctx = ProcessContext(channel)  # SIGUSR1 and SIGTERM handled from here on
    report(listening=os.getpid())  # the daemon may now say it is stopping (see runner.py)
    sys.stdout.reconfigure(line_buffering=True)  # output shows up as it is printed
    given = json.load(sys.stdin)
    put_handlers_on_path(os.getcwd())  # jobs.toml's folder: handlers import from it
    ctx.job = _job_view(given["job"], given["payload"])

    from jobctl.runner import load_handler

    try:
        function = load_handler(spec)
    except Exception as exc:
        report(error=f"cannot load handler {spec}: {exc!r}")
        return 1
    from jobctl.errors import Interrupted

    try:
        value = function(given["payload"], ctx)
    except Interrupted as exc:
        report(interrupted=str(exc))
        return 1
    except Exception as exc:
        traceback.print_exc()
        report(error=f"{type(exc).__name__}: {exc}")
        return 1
    try:
        result = json.dumps(value)
    except (TypeError, ValueError) as exc:
        report(error=f"the handler's return value is not JSON-serializable: {exc}")
        return 1
    report(result=result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
