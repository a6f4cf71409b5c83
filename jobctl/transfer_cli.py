"""`jobctl dump` and `jobctl load`: the files and streams around Queue.dump/load.

A dump holds what jobs hold, their environments and payloads included, so
a dump written to a file is private to its owner (0600), as the database is.
"""

from __future__ import annotations

import os
import sys
from typing import BinaryIO

from jobctl.api import Queue
from jobctl.errors import InputError


def run_dump(queue: Queue, output: str | None) -> int:
    """Write the dump to `output` (a new or emptied private file), or stdout."""
    with queue:
        if output in (None, "-"):
            _write(queue, sys.stdout.buffer)
            return 0
        try:
            # O_NOFOLLOW: never through a link planted at the path.
            fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        except OSError as exc:
            raise InputError(f"cannot write {output}: {exc.strerror}") from None
        with os.fdopen(fd, "wb") as file:
            _write(queue, file)
    return 0


def _write(queue: Queue, out: BinaryIO) -> None:
    batch: list[str] = []
    for line in queue.dump():
        batch.append(line)
        if len(batch) >= 256:
            out.write(("\n".join(batch) + "\n").encode("utf-8"))
            batch.clear()
    if batch:
        out.write(("\n".join(batch) + "\n").encode("utf-8"))
    out.flush()


def run_load(queue: Queue, source: str | None) -> int:
    """Load the dump in `source` (a file, or stdin for None or -); one line of counts."""
    if source in (None, "-"):
        stream = sys.stdin.buffer
    else:
        try:
            stream = open(source, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise InputError(f"cannot read {source}: {exc.strerror}") from None
    with queue, stream:
        counts = queue.load(stream)
    found = [_count(counts["jobs"], "job"), _count(counts["schedules"], "schedule")]
    found += [_count(counts[kind + "s"], kind) for kind in ("queue", "worker", "daemon")]
    print("loaded " + ", ".join(found))
    return 0


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
