"""print() and logging inside a thread handler go to its attempt's output.

The daemon's threads share sys.stdout and sys.stderr: `install()` puts a
proxy in their place that sends what a thread running a handler attempt
writes to that attempt's output (see runner.run_handler, which marks the
thread with `routed_to`), and what any other thread writes to the real
stream, so the daemon's own log lines (daemon_log.py, written by the
coordinator) go where they always did.  A handler on the root logger does
the same for log records: formatted LEVEL:name:message, as logging's
default.  `restore()` puts the real streams back (the daemon's last step).
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any, TextIO

Output = Callable[[bytes], None]

_current = threading.local()  # .output: the attempt's, while its handler runs
_lock = threading.Lock()
_installed: list[tuple[TextIO, TextIO, logging.Handler]] = []  # at most one; counted below
_users = 0  # daemons in this process that installed (tests run some in-process)


def current_output() -> Output | None:
    return getattr(_current, "output", None)


@contextlib.contextmanager
def routed_to(output: Output) -> Iterator[None]:
    """What this thread prints or logs meanwhile goes to `output`."""
    previous = current_output()
    _current.output = output
    try:
        yield
    finally:
        _current.output = previous


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "backslashreplace")


class _RoutedBuffer:
    """sys.stdout.buffer of the proxy, while in a routed thread."""

    def __init__(self, output: Output) -> None:
        self._output = output

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._output(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass


class RoutedStream:
    """sys.stdout or sys.stderr while a daemon runs (see the module's text)."""

    def __init__(self, real: TextIO) -> None:
        self._real = real

    def write(self, text: str) -> int:
        output = current_output()
        if output is None:
            return self._real.write(text)
        output(_encode(str(text)))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if current_output() is None:
            self._real.flush()

    @property
    def buffer(self) -> Any:
        output = current_output()
        return self._real.buffer if output is None else _RoutedBuffer(output)

    def __getattr__(self, name: str) -> Any:  # fileno, isatty, encoding, ...
        return getattr(self._real, name)


class _AttemptLogHandler(logging.Handler):
    """On the root logger: records of a routed thread go to its attempt's output."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter(logging.BASIC_FORMAT))  # LEVEL:name:message

    def emit(self, record: logging.LogRecord) -> None:
        output = current_output()
        if output is not None:
            try:
                output(_encode(self.format(record) + "\n"))
            except Exception:
                self.handleError(record)
            return
        # Another thread: as if this handler were not there.  Python's last
        # resort writes to stderr when no handler is configured at all.
        last = logging.lastResort
        alone = all(h is self for h in logging.getLogger().handlers)
        if alone and last is not None and record.levelno >= last.level:
            last.handle(record)


def install() -> None:
    """Route the streams and the root logger; once per process, counted."""
    global _users
    with _lock:
        _users += 1
        if _installed:
            return
        out, err = sys.stdout, sys.stderr
        handler = _AttemptLogHandler()
        sys.stdout, sys.stderr = RoutedStream(out), RoutedStream(err)  # type: ignore[assignment]
        logging.getLogger().addHandler(handler)
        _installed.append((out, err, handler))


def restore() -> None:
    """Undo install() once the last daemon that installed it stops."""
    global _users
    with _lock:
        _users = max(0, _users - 1)
        if _users or not _installed:
            return
        out, err, handler = _installed.pop()
        logging.getLogger().removeHandler(handler)
        # Left alone if something else replaced them meanwhile.
        if isinstance(sys.stdout, RoutedStream) and sys.stdout._real is out:
            sys.stdout = out
        if isinstance(sys.stderr, RoutedStream) and sys.stderr._real is err:
            sys.stderr = err
