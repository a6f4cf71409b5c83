"""SIGTERM and SIGINT (and SIGHUP) for `jobctl daemon`, counted from the program's first line.

A daemon spends its first fraction of a second importing and opening the
database.  A stop signal then must neither kill it (status -15, jobs
half-registered) nor be lost: `jobctl daemon` installs this counter before
anything else (see __main__.py), and the daemon reads it once start-up is
done, so a signal during start-up is honoured then.  The handler only
counts: a handler that took a lock could deadlock with the code it
interrupts.  SIGHUP asks for a reload of jobs.toml: counted too, from the
first line, so that no SIGHUP ever kills a daemon (its default action).
"""

from __future__ import annotations

import signal
from typing import Any

received = 0  # stop signals so far: 1 stops gracefully, 2 at once
reloads = 0  # SIGHUPs so far
_before: dict[int, Any] = {}  # the handlers install() replaced


def _count(signum: int, frame: Any) -> None:
    global received
    received += 1


def _count_reload(signum: int, frame: Any) -> None:
    global reloads
    reloads += 1


def install() -> None:
    """Count SIGTERM, SIGINT and SIGHUP from now on (a second call changes nothing)."""
    for signum, handler in (
        (signal.SIGTERM, _count),
        (signal.SIGINT, _count),
        (signal.SIGHUP, _count_reload),
    ):
        if signum not in _before:
            _before[signum] = signal.signal(signum, handler)


def restore() -> None:
    """The handlers from before install(), and a count from zero: for a
    program that runs a daemon in-process and goes on."""
    global received, reloads
    for signum, handler in _before.items():
        signal.signal(signum, handler)
    _before.clear()
    received = reloads = 0
