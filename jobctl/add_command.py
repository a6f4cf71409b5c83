"""`jobctl add`, shared by the fast parser (fastadd.py) and the typer command.

Both parsers produce the same AddRequest of raw strings; every conversion
and check happens here, so both give the same errors.  This module must stay
cheap to import: no typer, no textual, no croniter.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from typing import Any, TextIO

from jobctl.api import connect
from jobctl.errors import InputError


class AddRequest:
    """`jobctl add` as typed: option values still strings, as the user wrote them.

    A plain class, not a dataclass: see models.py on import time.
    """

    def __init__(
        self,
        type: str | None = None,
        command: list[str] | None = None,
        shell: str | None = None,
        data: str | None = None,
        data_file: str | None = None,
        queue: str | None = None,
        priority: str | None = None,
        delay: str | None = None,  # --in
        at: str | None = None,
        max_attempts: str | None = None,
        timeout: str | None = None,
        unique: str | None = None,
        after: list[str] | None = None,
        labels: list[str] | None = None,  # --label, repeated
        batch: str | None = None,
        wait: bool = False,
        json: bool = False,
        db: str | None = None,
        config: str | None = None,
    ) -> None:
        self.type = type
        self.command = command or []
        self.shell = shell
        self.data = data
        self.data_file = data_file
        self.queue = queue
        self.priority = priority
        self.delay = delay
        self.at = at
        self.max_attempts = max_attempts
        self.timeout = timeout
        self.unique = unique
        self.after = after or []
        self.labels = labels or []
        self.batch = batch
        self.wait = wait
        self.json = json
        self.db = db
        self.config = config

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AddRequest) and vars(self) == vars(other)

    def __repr__(self) -> str:
        return f"AddRequest({vars(self)!r})"


def run_add(request: AddRequest, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    """Add the job(s) and print the id(s); the exit status."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    options = _options(request)
    if request.batch is not None:
        if request.type is None:
            raise InputError("--batch needs a job type: jobctl add TYPE --batch FILE")
        if request.data is not None or request.data_file is not None:
            raise InputError("give --batch or --data, not both")
    queue = connect(request.db, request.config)
    with queue:
        if request.batch is not None:
            ids = queue.add_json_lines(request.type, _batch_lines(request.batch, stdin), **options)
        else:
            if request.type is None and (request.data is not None or request.data_file is not None):
                raise InputError("--data is for typed jobs; a command gets its input from its argv")
            ids = [queue.add_id(request.type, _payload(request, stdin), **options)]
        if not request.json:
            # The ids first, so `id=$(jobctl add --wait ...)` still works.
            _write_ids(ids, stdout, "", "\n", "\n")
            stdout.flush()
        if request.wait:
            from jobctl.waiting import wait_for_jobs

            try:
                wait_for_jobs(queue, ids, None, stdout=stdout)
            finally:
                if request.json:
                    _print_json(queue, ids, request.batch is not None, stdout)
        elif request.json:
            _print_json(queue, ids, request.batch is not None, stdout)
    return 0


def _print_json(queue: Any, ids: Sequence[int], batch: bool, stdout: TextIO) -> None:
    if batch:
        # A batch can be millions of jobs: ids only, as json.dumps() would
        # write the list, but a block at a time.
        _write_ids(ids, stdout, "[", ", ", "]\n")
    else:
        from jobctl.render import json_text

        stdout.write(json_text(queue.get(ids[0]).to_json()) + "\n")


# _write_ids writes this many ids at a time.
IDS_PER_WRITE = 50_000


def _write_ids(ids: Sequence[int], stdout: TextIO, start: str, sep: str, end: str) -> None:
    """`start`, the ids joined by `sep`, then `end`: in blocks, so that a range
    of millions never becomes one string."""
    stdout.write(start)
    for first in range(0, len(ids), IDS_PER_WRITE):
        block = sep.join(map(str, ids[first : first + IDS_PER_WRITE]))
        stdout.write(block if first == 0 else sep + block)
    stdout.write(end)


def _options(request: AddRequest) -> dict[str, Any]:
    return {
        "command": request.command or None,
        "shell": request.shell,
        "queue": request.queue,
        "priority": _int(request.priority, "--priority"),
        "delay": request.delay,
        "at": request.at,
        "max_attempts": _int(request.max_attempts, "--max-attempts"),
        "timeout": request.timeout,
        "unique": request.unique,
        "after": [_job_id(a) for value in request.after for a in value.split(",") if a.strip()],
        "labels": request.labels,
    }


def _int(text: str | None, flag: str) -> int | None:
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise InputError(f'{flag}: "{text}" is not a whole number') from None


def _job_id(text: str) -> int:
    number = _int(text.strip(), "--after")
    if number is None or number < 1:
        raise InputError(f'--after: "{text}" is not a job id')
    return number


def _payload(request: AddRequest, stdin: TextIO) -> Any:
    if request.data is not None and request.data_file is not None:
        raise InputError("give --data or --data-file, not both")
    if request.data_file is not None:
        try:
            with open(request.data_file, encoding="utf-8") as file:
                text, source = file.read(), request.data_file
        except OSError as exc:
            raise InputError(
                f"--data-file: cannot read {request.data_file}: {exc.strerror}"
            ) from None
        except UnicodeDecodeError:
            raise InputError(f"--data-file: {request.data_file} is not UTF-8 text") from None
    elif request.data == "-":
        text, source = stdin.read(), "stdin"
    elif request.data is not None:
        text, source = request.data, "--data"
    else:
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InputError(f"{source}: invalid JSON: {exc}") from None
    except RecursionError:
        raise InputError(f"{source}: nested too deep") from None


def _batch_lines(source: str, stdin: TextIO) -> Iterator[str]:
    if source == "-":
        yield from stdin
        return
    try:
        with open(source, encoding="utf-8") as file:
            yield from file
    except OSError as exc:
        raise InputError(f"--batch: cannot read {source}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(f"--batch: {source} is not UTF-8 text") from None
