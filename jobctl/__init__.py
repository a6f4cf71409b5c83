"""jobctl: background jobs for one host, in one SQLite file.

import jobctl
q = jobctl.connect()
job = q.add("email:send", {"to": "a@example.com"}, priority=10, delay="1h")
q.get(job.id).state
"""

from __future__ import annotations

from jobctl.api import Queue, connect
from jobctl.errors import (
    ConfigError,
    DatabaseError,
    InputError,
    JobctlError,
    JobFailed,
    NoSuchJob,
    WaitTimeout,
    WrongState,
)
from jobctl.models import Job, State

__version__ = "0.1.0"
__all__ = [
    "ConfigError",
    "DatabaseError",
    "InputError",
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
