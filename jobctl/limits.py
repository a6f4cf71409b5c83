"""The ranges jobctl accepts, checked where input comes in (README: Limits).

SQLite stores integers in 64 bits and jobctl shows times as ISO 8601: a
number or a time beyond these would be accepted and then fail to store,
to compare or to show.  Refusing it at the edge keeps the promise that
bad input gets exit 2 and one line, and changes nothing.
"""

from __future__ import annotations

from jobctl.errors import InputError

MAX_ID = 2**63 - 1  # job ids: SQLite's largest integer
PRIORITY = (-(10**9), 10**9)
MAX_ATTEMPTS = 10**6
MAX_PARALLEL = 10**6  # a queue's `jobctl parallel` limit
MAX_LIMIT = 10**6  # rows a listing may ask for
MAX_THREADS = 1024  # a daemon's concurrency: each is a thread, and a process when it runs
MAX_DEPTH = 100  # nesting of a payload's lists and objects: deeper ones break json.loads
LATEST_TIME = 253402300799.0  # 9999-12-31T23:59:59Z: the last time ISO 8601 shows in 4 digits


def in_range(value: int, low: int, high: int, what: str) -> int:
    if not low <= value <= high:
        raise InputError(f"{what}: {value} is out of range ({low} to {high})")
    return value


def moment(seconds: float, what: str) -> float:
    """A time (Unix seconds) between 1970 and the end of 9999."""
    if not 0 <= seconds <= LATEST_TIME:
        raise InputError(f"{what}: the time is out of range (1970 to 9999)")
    return seconds


def check_depth(payload: object, text: str) -> None:
    """Refuse a payload nested over MAX_DEPTH: a daemon decodes it deeper in
    its stack than `add` did, and Python's decoder would overflow there."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return  # cannot be that deep: the common case costs two C scans
    stack = [(payload, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children = list(value.values())
        elif isinstance(value, list | tuple):
            children = list(value)
        else:
            continue
        if depth > MAX_DEPTH:
            raise InputError(f"the payload is nested over {MAX_DEPTH} levels deep")
        stack.extend((child, depth + 1) for child in children)
