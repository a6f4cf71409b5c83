"""The child process of a handler with `isolation = "process"`.

    python -m jobctl.handler_process MODULE:FUNCTION REPORT_FD
    python -m jobctl.handler_process --worker MODULE:FUNCTION

Reads {"job": ..., "payload": ...} from stdin, calls the handler, and
reports on REPORT_FD as JSON lines: {"log": ..., "data": ...} for each
ctx.log(), then {"result": JSON text} or {"error": message}.  What the
handler prints is the attempt's output, as for a command.  SIGTERM (a
timeout, a cancel, a shutdown) makes ctx.shutting_down() true; SIGKILL
follows after kill_grace.
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
    """shutting_down() turns true at SIGTERM (a timeout, a cancel, a shutdown);
    SIGKILL follows after kill_grace."""

    def __init__(self) -> None:
        self._stopping = False
        signal.signal(signal.SIGTERM, self._on_term)

    def _on_term(self, signum: int, frame: Any) -> None:
        self._stopping = True

    def shutting_down(self) -> bool:
        """True once the daemon wants this handler to stop."""
        return self._stopping


class ProcessContext(_StopsOnSigterm):
    """The `ctx` a handler receives, in its own process."""

    def __init__(self, job: dict[str, Any], payload: Any, channel: TextIO) -> None:
        from jobctl.runner import _JobView

        super().__init__()
        self.job = _JobView(job["id"], job["type"], job["attempt"], payload, job["queue"])
        self._channel = channel

    def log(self, message: str, **data: Any) -> None:
        """Keep a line with this attempt: `jobctl logs` and the TUI show it."""
        line = {"log": str(message), "data": data or None}
        self._channel.write(json.dumps(line, default=str) + "\n")


class WorkerContext(_StopsOnSigterm):
    """The `ctx` of a handler run as a long-running worker: no job, logs to stdout."""

    job = None

    def log(self, message: str, **data: Any) -> None:
        extra = "".join(f" {k}={v}" for k, v in data.items())
        print(f"{message}{extra}", flush=True)


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
    sys.stdout.reconfigure(line_buffering=True)  # output shows up as it is printed
    given = json.load(sys.stdin)
    put_handlers_on_path(os.getcwd())  # jobs.toml's folder: handlers import from it
    ctx = ProcessContext(given["job"], given["payload"], channel)

    def report(**message: Any) -> None:
        channel.write(json.dumps(message) + "\n")
        channel.flush()

    from jobctl.runner import load_handler

    try:
        function = load_handler(spec)
    except Exception as exc:
        report(error=f"cannot load handler {spec}: {exc!r}")
        return 1
    try:
        value = function(given["payload"], ctx)
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
