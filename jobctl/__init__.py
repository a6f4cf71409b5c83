"""jobctl: background jobs for one host, in one SQLite file.

import jobctl
q = jobctl.connect()
job = q.add("email:send", {"to": "a@example.com"}, priority=10, delay="1h")
q.get(job.id).state
"""

from __future__ import annotations

from jobctl.errors import (
    ConfigError,
    DatabaseError,
    InputError,
    Interrupted,
    JobctlError,
    JobFailed,
    NoSuchJob,
    WaitTimeout,
    WrongState,
)

__version__ = "0.1.0"
__all__ = [
    "ConfigError",
    "DatabaseError",
    "InputError",
    "Interrupted",
    "Job",
    "JobFailed",
    "JobctlError",
    "NoSuchJob",
    "Queue",
    "State",
    "WaitTimeout",
    "WrongState",
    "connect",
]


# The API and the models load on first use, not on `import jobctl`: the
# `jobctl` command imports this package before main() runs, and a daemon
# must install its signal handlers as early as it can (see stop_signals.py).
_LAZY = {
    "Queue": "jobctl.api",
    "connect": "jobctl.api",
    "Job": "jobctl.models",
    "State": "jobctl.models",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'jobctl' has no attribute {name!r}")
