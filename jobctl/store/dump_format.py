"""The format of `jobctl dump`: JSON lines, and the check of each line `load` reads.

    {"jobctl_dump": 1, "created_at": 1767225600.5, "source": "sqlite"}
    {"job": {"id": 1, ...every jobs column..., "parents": [], "attempts": [...],
             "events": [...], "logs": [...], "output": [...]}}        one per job, by id
             (and "labels": ["nightly"] when it has any: a dump without
             labels reads as before, in older jobctls too)
    {"daemon": {...every daemons column...}}
    {"schedule": {"name": ..., "last_due": ..., "last_job_id": ..., "last_fired_at": ...}}
    {"queue": {"name": ..., "paused": 1, "parallel": 3}}      parallel: null if not set
    {"worker": {"name": ..., "held": 0}}
    {"end": {"jobs": N, "daemons": N, "schedules": N, "queues": N, "workers": N}}

Columns keep their names and their stored values: the JSON columns (command,
env, payload, result, a log line's data, a daemon's queues) stay JSON text,
so that a payload comes back byte for byte; output is base64.  The last line
counts what came before it, so a truncated dump is refused, not half-loaded.

Pure: no SQL here.  `parse_line` turns any text into a checked record or an
InputError naming the line, never another exception.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable, Sequence
from typing import Any

from jobctl import labels as job_labels
from jobctl.errors import InputError
from jobctl.limits import MAX_PARALLEL

FORMAT_VERSION = 1
KINDS = ("job", "daemon", "schedule", "queue", "worker")
STATES = ("queued", "running", "succeeded", "failed", "cancelled")
_INT64 = 1 << 63

Check = Callable[[Any], Any]


class Bad(ValueError):
    """What is wrong with one value (parse_line adds the line and the field)."""


def _short(value: Any) -> str:
    """`value` as an error message quotes it: short, one line."""
    if isinstance(value, list | dict):
        return "a list" if isinstance(value, list) else "an object"
    text = repr(value) if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _int(value: Any) -> int:
    if type(value) is not int:
        raise Bad(f"{_short(value)} is not an integer")
    if not -_INT64 <= value < _INT64:
        raise Bad(f"{_short(value)} is out of range")
    return value


def _id(value: Any) -> int:
    if _int(value) < 1:
        raise Bad(f"{value} is not an id (1 or more)")
    return value


def _flag(value: Any) -> int:
    if _int(value) not in (0, 1):
        raise Bad(f"{value} is not 0 or 1")
    return value


def _parallel(value: Any) -> int | None:
    if value is not None and not 1 <= _int(value) <= MAX_PARALLEL:
        raise Bad(f"{value} is not a parallel limit (1 to {MAX_PARALLEL}, or null)")
    return value


def _real(value: Any) -> float:
    if type(value) is int:
        value = float(_int(value))
    if type(value) is not float or math.isnan(value):
        raise Bad(f"{_short(value)} is not a number")
    return value


def _text(value: Any) -> str:
    if type(value) is not str:
        raise Bad(f"{_short(value)} is not a string")
    if "\x00" in value:  # PostgreSQL's text cannot hold it
        raise Bad("holds a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise Bad("is not valid Unicode (a lone surrogate)") from None
    return value


def _json_text(value: Any) -> str:
    try:
        json.loads(_text(value), parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise Bad(f"{_short(value)} is not JSON text") from None
    return value


def _state(value: Any) -> str:
    if type(value) is not str or value not in STATES:
        raise Bad(f"{_short(value)} is not a state ({', '.join(STATES)})")
    return value


def _base64(value: Any) -> bytes:
    try:
        return base64.b64decode(_text(value).encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise Bad(f"{_short(value)} is not base64") from None


def _nullable(check: Check) -> Check:
    return lambda value: None if value is None else check(value)


INT_N, REAL_N, TEXT_N, JSON_N = map(_nullable, (_int, _real, _text, _json_text))

JOB_FIELDS: dict[str, Check] = {
    "id": _id, "type": TEXT_N, "command": JSON_N, "shell": _flag, "cwd": TEXT_N,
    "env": JSON_N, "payload": _json_text, "queue": _text, "priority": _int, "state": _state,
    "run_at": _real, "created_at": _real, "started_at": REAL_N, "finished_at": REAL_N,
    "attempt": _int, "attempts_total": _int, "max_attempts": _int, "timeout": REAL_N,
    "unique_key": TEXT_N, "waiting": _int, "result": JSON_N, "error": TEXT_N,
    "cancel_requested": REAL_N, "daemon_id": INT_N, "lease_until": REAL_N,
    "schedule": TEXT_N, "due_at": REAL_N,
}  # fmt: skip
ATTEMPT_FIELDS: dict[str, Check] = {
    "number": _id, "daemon_id": INT_N, "started_at": _real, "finished_at": REAL_N,
    "outcome": TEXT_N, "exit_status": INT_N, "signal": INT_N, "error": TEXT_N,
    "pid": INT_N, "pid_started": REAL_N,
}  # fmt: skip
EVENT_FIELDS: dict[str, Check] = {"at": _real, "kind": _text, "attempt": INT_N, "detail": TEXT_N}
LOG_FIELDS: dict[str, Check] = {
    "attempt": _int, "at": _real, "message": _text, "data": JSON_N, "level": _text,
}  # fmt: skip
OUTPUT_FIELDS: dict[str, Check] = {"number": _id, "start": _int, "data": _base64}
DAEMON_FIELDS: dict[str, Check] = {
    "id": _id, "host": _text, "pid": _int, "pid_started": REAL_N, "started_at": _real,
    "heartbeat_at": _real, "stopped_at": REAL_N, "queues": JSON_N, "token": TEXT_N,
}  # fmt: skip
RECORD_FIELDS: dict[str, dict[str, Check]] = {
    "daemon": DAEMON_FIELDS,
    "schedule": {"name": _text, "last_due": REAL_N, "last_job_id": INT_N, "last_fired_at": REAL_N},
    "queue": {"name": _text, "paused": _flag, "parallel": _parallel},
    "worker": {"name": _text, "held": _flag},
}
# A job's lists of children: their fields, and the JSON values they are dumped from.
CHILDREN: dict[str, dict[str, Check]] = {
    "attempts": ATTEMPT_FIELDS,
    "events": EVENT_FIELDS,
    "logs": LOG_FIELDS,
    "output": OUTPUT_FIELDS,
}
END_FIELDS: dict[str, Check] = {kind + "s": _int for kind in KINDS}


def _no_constant(name: str) -> None:
    if name == "NaN":
        raise ValueError("NaN")
    return None  # Infinity and -Infinity: json's own floats, which REAL columns hold


def _fields(value: Any, fields: dict[str, Check], where: str) -> dict[str, Any]:
    """`value` checked against `fields`: every field present, no other."""
    if type(value) is not dict:
        raise Bad(f"{where}: {_short(value)} is not an object")
    missing = [name for name in fields if name not in value]
    if missing:
        raise Bad(f"{where}: no field {missing[0]!r}")
    extra = [name for name in value if name not in fields]
    if extra:
        raise Bad(f"{where}: unknown field {_short(extra[0])}")
    out = {}
    for name, check in fields.items():
        try:
            out[name] = check(value[name])
        except Bad as exc:
            raise Bad(f"{where}.{name}: {exc}") from None
    return out


def _job(value: Any) -> dict[str, Any]:
    fields = JOB_FIELDS | dict.fromkeys(("parents", *CHILDREN), _list)
    # Labels are optional: only jobs that have some carry the field.
    labels = value.pop("labels", []) if type(value) is dict else []
    job = _fields(value, fields, "job")
    job["labels"] = _labels(labels)
    for name, child_fields in CHILDREN.items():
        job[name] = [
            _fields(item, child_fields, f"job.{name}[{i}]") for i, item in enumerate(job[name])
        ]
    parents = job["parents"]
    for i, parent in enumerate(parents):
        try:
            _id(parent)
        except Bad as exc:
            raise Bad(f"job.parents[{i}]: {exc}") from None
    if len(set(parents)) != len(parents):
        raise Bad("job.parents: an id is given twice")
    return job


def _labels(value: Any) -> list[str]:
    for i, label in enumerate(_list_of(value, "job.labels")):
        if not job_labels.is_label(label):
            raise Bad(f"job.labels[{i}]: {_short(label)} is not a label")
    if len(value) > job_labels.MAX_PER_JOB:
        raise Bad(f"job.labels: over {job_labels.MAX_PER_JOB} labels")
    return value


def _list_of(value: Any, where: str) -> list[Any]:
    try:
        return _list(value)
    except Bad as exc:
        raise Bad(f"{where}: {exc}") from None


def _list(value: Any) -> list[Any]:
    if type(value) is not list:
        raise Bad(f"{_short(value)} is not a list")
    return value


def parse_header(line: str | bytes, number: int = 1) -> dict[str, Any]:
    """The first line's header; InputError if it is not a dump's we can read."""
    value = _decode(line, number)
    if type(value) is not dict or "jobctl_dump" not in value:
        raise InputError(f"line {number}: not a jobctl dump (no header line)")
    version = value["jobctl_dump"]
    if version != FORMAT_VERSION or type(version) is not int:
        raise InputError(
            f"line {number}: a dump of format version {_short(version)}; "
            f"this jobctl reads version {FORMAT_VERSION}"
        )
    return value


def parse_line(line: str | bytes, number: int) -> tuple[str, dict[str, Any]]:
    """(kind, record) of one line after the header; InputError naming the line."""
    value = _decode(line, number)
    try:
        if type(value) is not dict or len(value) != 1:
            raise Bad(f"not a record ({{kind: fields}} with one of {', '.join(KINDS)}, end)")
        ((kind, body),) = value.items()
        if kind == "job":
            return kind, _job(body)
        if kind == "end":
            return kind, _fields(body, END_FIELDS, "end")
        if kind not in RECORD_FIELDS:
            raise Bad(f"unknown record kind {_short(kind)}")
        if kind == "queue" and type(body) is dict:
            body = {"parallel": None} | body  # dumps from before `jobctl parallel` lack it
        return kind, _fields(body, RECORD_FIELDS[kind], kind)
    except Bad as exc:
        raise InputError(f"line {number}: {exc}") from None


def _decode(line: str | bytes, number: int) -> Any:
    try:
        text = line.decode("utf-8") if isinstance(line, bytes) else line
        return json.loads(text, parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise InputError(f"line {number}: not UTF-8 text") from None
    except (ValueError, RecursionError):
        raise InputError(f"line {number}: not JSON") from None


def header_line(now: float) -> str:
    return json.dumps({"jobctl_dump": FORMAT_VERSION, "created_at": now}, separators=(",", ":"))


def job_line(
    row: dict[str, Any],
    parents: list[int],
    children: dict[str, list[dict[str, Any]]],
    labels: Sequence[str] = (),
) -> str:
    """One job's line: `row` its columns, `children` its lists (output data as bytes)."""
    record = dict(row, parents=parents, **children)
    if labels:
        record["labels"] = list(labels)
    record["output"] = [
        dict(piece, data=base64.b64encode(piece["data"]).decode("ascii"))
        for piece in children["output"]
    ]
    return json.dumps({"job": record}, separators=(",", ":"))


def line(kind: str, fields: dict[str, Any]) -> str:
    return json.dumps({kind: fields}, separators=(",", ":"))
