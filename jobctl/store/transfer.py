"""`jobctl dump` and `jobctl load`: a whole queue out as JSON lines, and back in.

The format, and the check of every line, are in dump_format.py; here is the
SQL side, alike on both dialects (named statements in sql/<dialect>/transfer.sql).

Memory stays bounded whatever the size of the database: dump reads a page
of jobs at a time, with their children by id range (output in pieces of
about OUTPUT_CHUNK_BYTES), and load inserts a page at a time.

What is carried: every column of jobs, attempts, job_deps, job_labels, events,
job_logs and attempt_output (the last three without their own row ids, which the
target gives anew in the same order); every daemon, with its id, since
running jobs and open attempts name theirs (recovery joins on it); the
schedules' last fires, the queues, and whether each worker is held.  Not
carried: workers' runs, output and owner, which belong to the processes of
the source's hosts (a daemon on the target starts the workers afresh).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from jobctl.errors import InputError
from jobctl.store.dump_format import (
    CHILDREN,
    END_FIELDS,
    JOB_FIELDS,
    RECORD_FIELDS,
    header_line,
    job_line,
    line,
    parse_header,
    parse_line,
)
from jobctl.store.sql_base import SqlBase

PAGE_JOBS = 1_000  # jobs read, or inserted, at a time
PAGE_BYTES = 16 << 20  # ... or fewer, when their lines are this large
OUTPUT_CHUNK_BYTES = 16 << 20  # output read at a time (one job's may be more)
TAKEN_IDS_CHUNK = 10_000

# Each child list: its statements and the names of its fields.
_CHILD_STATEMENTS = {
    "attempts": ("dump_attempts", "load_attempt"),
    "events": ("dump_events", "load_event"),
    "logs": ("dump_logs", "load_log"),
    "output": ("dump_output", "load_output"),
}
_OTHERS = (("daemon", "dump_daemons"), ("schedule", "dump_schedules"))
_OTHERS += (("queue", "dump_queues"), ("worker", "dump_workers"))


def dump(store: SqlBase, now: float) -> Iterator[str]:
    """Store.dump: the database as the lines of a dump (without newlines), from one snapshot."""
    with store._reading():
        yield header_line(now)
        counts = dict.fromkeys(END_FIELDS, 0)
        after = 0
        while rows := store._all("dump_jobs", {"after": after, "limit": PAGE_JOBS}):
            yield from _dump_page(store, rows)
            counts["jobs"] += len(rows)
            after = rows[-1][0]
        for kind, statement in _OTHERS:
            names = tuple(RECORD_FIELDS[kind])
            for row in store._all(statement):
                yield line(kind, dict(zip(names, row, strict=True)))
                counts[kind + "s"] += 1
        yield line("end", counts)


def _dump_page(store: SqlBase, rows: list[tuple[Any, ...]]) -> Iterator[str]:
    span = {"lo": rows[0][0], "hi": rows[-1][0]}
    parents: dict[int, list[int]] = defaultdict(list)
    for job_id, parent_id in store._all("dump_deps", span):
        parents[job_id].append(parent_id)
    labels: dict[int, list[str]] = defaultdict(list)
    for job_id, label in store._all("dump_labels", span):
        labels[job_id].append(label)
    children = {
        name: _by_job(store._all(statement, span), CHILDREN[name])
        for name, (statement, _) in _CHILD_STATEMENTS.items()
        if name != "output"
    }
    # Output is read in ranges of jobs of about OUTPUT_CHUNK_BYTES each,
    # the next range once the jobs reach it.
    ranges = _ranges(store._all("dump_output_sizes", span), OUTPUT_CHUNK_BYTES)
    output: dict[int, list[dict[str, Any]]] = {}
    names = tuple(JOB_FIELDS)
    for row in rows:
        job_id = row[0]
        if ranges and job_id >= ranges[0][0]:
            lo, hi = ranges.pop(0)
            output = _by_job(store._all("dump_output", {"lo": lo, "hi": hi}), CHILDREN["output"])
        own = {name: found.get(job_id, []) for name, found in children.items()}
        own["output"] = output.get(job_id, [])
        record = dict(zip(names, row, strict=True))
        yield job_line(record, parents.get(job_id, []), own, labels.get(job_id, []))


def load(store: SqlBase, lines: Iterable[str | bytes]) -> dict[str, int]:
    """Store.load: insert a dump's records, keeping their ids, in one transaction.

    Any bad line (see dump_format.py), a job or daemon id the database
    already has, or a dump cut short changes nothing: InputError naming
    the line.  Returns how many of each kind were loaded.
    """
    numbered = enumerate(lines, 1)
    first = next(numbered, None)
    if first is None:
        raise InputError("the input is empty: not a jobctl dump")
    parse_header(first[1])
    counts = dict.fromkeys(END_FIELDS, 0)
    with store._writing():
        page = _Page(store)
        number, end = 1, None
        for number, text in numbered:
            if end is not None:
                raise InputError(f"line {number}: more after the dump's last line")
            kind, record = parse_line(text, number)
            if kind == "end":
                page.flush()
                end = record
            elif kind == "job":
                page.add(number, record, len(text))
            else:
                page.flush()  # first, so that errors come in the order of the lines
                _load_other(store, kind, number, record)
            if kind != "end":
                counts[kind + "s"] += 1
        page.flush()
        if end is None:
            raise InputError(f"line {number + 1}: the dump stops before its last line")
        if end != counts:
            said = ", ".join(f"{n} {kind}" for kind, n in end.items())
            raise InputError(f"line {number}: the last line counts {said}: lines are missing")
        store._all("load_move_ids")
    return counts


def _load_other(store: SqlBase, kind: str, number: int, record: dict[str, Any]) -> None:
    if kind == "daemon" and store._value("load_daemon_taken", {"id": record["id"]}):
        raise InputError(f"line {number}: daemon {record['id']} is already in the database")
    store._exec("load_" + kind, record)


class _Page:
    """Jobs read but not yet inserted: inserted together, a page at a time."""

    def __init__(self, store: SqlBase) -> None:
        self.store = store
        self.jobs: list[tuple[int, dict[str, Any]]] = []  # (line number, job)
        self.bytes = 0
        self.last_id = 0

    def add(self, number: int, job: dict[str, Any], size: int) -> None:
        if job["id"] <= self.last_id:
            raise InputError(
                f"line {number}: job {job['id']} comes after job {self.last_id}: "
                "a dump lists jobs by id, each once"
            )
        self.last_id = job["id"]
        self.jobs.append((number, job))
        self.bytes += size
        if len(self.jobs) >= PAGE_JOBS or self.bytes >= PAGE_BYTES:
            self.flush()

    def flush(self) -> None:
        if not self.jobs:
            return
        self._check_free()
        jobs = [job for _, job in self.jobs]
        store = self.store
        store._exec_many("load_job", [{name: job[name] for name in JOB_FIELDS} for job in jobs])
        deps = [{"job_id": j["id"], "parent_id": p} for j in jobs for p in j["parents"]]
        store._exec_many("load_dep", deps)
        labels = [{"job_id": j["id"], "label": label} for j in jobs for label in j["labels"]]
        store._exec_many("load_label", labels)
        for name, (_, statement) in _CHILD_STATEMENTS.items():
            rows = [dict(child, job_id=job["id"]) for job in jobs for child in job[name]]
            store._exec_many(statement, rows)
        self.jobs, self.bytes = [], 0

    def _check_free(self) -> None:
        """InputError for the first job whose id the database already has."""
        lines = {job["id"]: number for number, job in self.jobs}
        after, hi = self.jobs[0][1]["id"] - 1, self.jobs[-1][1]["id"]
        while taken := self.store._all(
            "load_taken_ids", {"after": after, "hi": hi, "limit": TAKEN_IDS_CHUNK}
        ):
            for (job_id,) in taken:
                if job_id in lines:
                    raise InputError(
                        f"line {lines[job_id]}: job {job_id} is already in the database"
                    )
            after = taken[-1][0]


def _by_job(rows: list[tuple[Any, ...]], fields: Iterable[str]) -> dict[int, list[dict]]:
    """Rows of (job id, *fields) as {job id: [{field: value}]}, in order."""
    names = tuple(fields)
    found: dict[int, list[dict]] = defaultdict(list)
    for row in rows:
        found[row[0]].append(dict(zip(names, row[1:], strict=True)))
    return found


def _ranges(sizes: list[tuple[Any, ...]], most: int) -> list[tuple[int, int]]:
    """Consecutive (first, last) job ids whose output adds up to about `most`."""
    ranges, first, total = [], None, 0
    for job_id, size in sizes:
        if first is None:
            first, total = job_id, 0
        total += size
        if total >= most:
            ranges.append((first, job_id))
            first = None
    if first is not None:
        ranges.append((first, sizes[-1][0]))
    return ranges
