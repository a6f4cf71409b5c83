"""`jobctl dump` and `jobctl load`: SQLite -> PostgreSQL -> SQLite, all or nothing.

Real databases only: state is built through the store, moved through the
store or the real CLI, and compared table by table.
"""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import JOBCTL, Cli, fail_one_line
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobctl.errors import InputError
from jobctl.models import NewJob, Outcome
from jobctl.store import Store
from jobctl.store.dump_format import parse_header, parse_line

NOW = 1_700_000_000.123456789

# Each table, with the columns a dump keeps (events, logs and output get new
# row ids in the target, in the same order), in a stable order.
TABLES = {
    "jobs": "SELECT * FROM jobs ORDER BY id",
    "job_deps": "SELECT job_id, parent_id FROM job_deps ORDER BY job_id, parent_id",
    "attempts": "SELECT * FROM attempts ORDER BY job_id, number",
    "events": "SELECT job_id, at, kind, attempt, detail FROM events ORDER BY job_id, id",
    "job_logs": "SELECT job_id, attempt, at, message, data, level FROM job_logs"
    " ORDER BY job_id, id",
    "attempt_output": "SELECT job_id, number, start, data FROM attempt_output"
    " ORDER BY job_id, number, start",
    "daemons": "SELECT * FROM daemons ORDER BY id",
    "schedules": "SELECT * FROM schedules ORDER BY name",
    "queues": "SELECT * FROM queues ORDER BY name",
    "workers": "SELECT name, held FROM workers ORDER BY name",
}


def tables(store: Any) -> dict[str, list[tuple[Any, ...]]]:
    return {
        name: [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row) for row in rows]
        for name, sql in TABLES.items()
        for rows in [store.conn.execute(sql).fetchall()]
    }


def no_delay(job: Any, outcome: Any) -> float:
    return 0.0


def rich(store: Store) -> None:
    """A database with every feature a dump carries."""
    job = NewJob
    ids = store.add_jobs(
        [
            job(type="email", payload='{"to": "\u00e9t\u00e9@x", "n": 1.5}', priority=5),
            job(type=None, payload="null", command=["sh", "-c", "x"], cwd="/", env={"A": "1"}),
            job(type="fail", payload="{}", max_attempts=2, timeout=2.5),
            job(type="keyed", payload="{}", unique_key="user-7"),
            job(type="later", payload="[1, 2]", run_at=NOW + 3600.25, queue="slow"),
        ],
        NOW,
    )
    [child] = store.add_jobs([job(type="child", payload="{}", after=(ids[0], ids[4]))], NOW)
    store.cancel([ids[3]], NOW + 1)
    daemon = store.register_daemon("host-a", 4242, 12.5, ["default"], NOW, token="tok")
    # Attempt 1 of "email" and "fail" fail, with output (binary, not UTF-8)
    # and log lines; attempt 2 of "email" succeeds, of "fail" fails for good.
    for n, when in ((1, NOW + 2), (2, NOW + 4)):
        claimed = store.claim(daemon, 2, when, when + 30, types=["email", "fail"])
        assert {c.job.id for c in claimed} == {ids[0], ids[2]}
        outcomes = [
            Outcome(ids[0], n, "succeeded" if n == 2 else "failed", 0 if n == 2 else 1,
                    result='{"ok": true}' if n == 2 else None),
            Outcome(ids[2], n, "failed", None, 9, error="killed"),
        ]  # fmt: skip
        outputs = [
            (ids[0], n, 0, b"\xff\xfe\x00 not utf-8 \x80"),
            (ids[0], n, 11, b"second piece\n"),
            (ids[2], n, 0, bytes(range(256))),
        ]
        logs = [(ids[0], n, when + 0.5, "sending", '{"k": [1]}', "warning")]
        store.record(outcomes, outputs, logs, when + 1, 1 << 20, no_delay)
    store.claim(daemon, 1, NOW + 10, NOW + 40, types=[""])  # the command: stays running
    store.fire_schedule(
        "nightly",
        lambda last: ([NOW - 86400.5], NOW - 86400.5),
        lambda due: job(type="nightly", payload="{}", schedule="nightly", due_at=due),
        "allow",
        NOW,
    )
    store.set_paused("slow", True)
    store.set_paused("default", False)
    store.add_workers({"held-one": False, "free-one": True})
    states = {j.state for j in store.list(limit=None)}
    assert states == {"queued", "running", "succeeded", "failed", "cancelled"}, states
    assert store.get(child).waiting == 1


def test_round_trip_sqlite_postgres_sqlite_keeps_everything(tmp_path: Path, pg_url: str) -> None:
    source = Store.open(tmp_path / "source.db")
    rich(source)
    first = list(source.dump(NOW))
    pg = Store.open(pg_url)
    assert pg.load(first) == {"jobs": 7, "daemons": 1, "schedules": 1, "queues": 2, "workers": 2}
    second = list(pg.dump(NOW + 1))
    back = Store.open(tmp_path / "back.db")
    back.load(second)
    third = list(back.dump(NOW + 2))
    expected = tables(source)
    assert tables(pg) == expected
    assert tables(back) == expected
    assert first[1:] == second[1:] == third[1:]  # all but the header's time
    # Binary output survived, and new rows get ids past the loaded ones.
    assert pg.output(1, 1)[0] == (0, b"\xff\xfe\x00 not utf-8 \x80")
    last = max(row[0] for row in expected["jobs"])
    for store in (pg, back):
        assert store.add_job(NewJob(type="new", payload="{}"), NOW) == last + 1
        assert store.register_daemon("h", 1, None, None, NOW) == 2
    for store in (source, pg, back):
        store.close()


def build_many(db: Path, count: int) -> None:
    """`count` jobs: 1,000 that failed once then succeeded, 1,000 that failed for good."""
    store = Store.open(db)
    payloads = io.BytesIO(b"".join(b'{"n":%d}\n' % i for i in range(count)))
    store.add_batch(NewJob(type="bulk", payload="{}", max_attempts=3), payloads, NOW)
    daemon = store.register_daemon("h", 1, None, None, NOW)
    # Retried at NOW, as the jobs not yet run: claims take the lowest ids again.
    for outcome, final in (("failed", False), ("succeeded", False), ("failed", True)):
        claimed = store.claim(daemon, 1000, NOW, NOW + 99)
        outcomes = [Outcome(c.job.id, c.attempt, outcome, 1, final=final) for c in claimed]
        outputs = [(c.job.id, c.attempt, 0, b"out %d\xff" % c.job.id) for c in claimed]
        store.record(outcomes, outputs, [], NOW, 1 << 20, no_delay)
    store.close()


def test_a_hundred_thousand_jobs_move_through_the_cli(cli: Cli, pg_url: str) -> None:
    build_many(cli.db, 100_000)
    pipe = subprocess.run(
        f'{" ".join(JOBCTL)} dump | {" ".join(JOBCTL)} load --db "$TARGET"',
        shell=True,
        env=cli.env | {"TARGET": pg_url},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert pipe.returncode == 0, pipe.stderr
    assert pipe.stdout == "loaded 100000 jobs, 0 schedules, 0 queues, 0 workers, 1 daemon\n"
    source, target = cli.store(), Store.open(pg_url)
    try:
        assert tables(target) == tables(source)
        counts = target.conn.execute("SELECT state, count(*) FROM jobs GROUP BY state").fetchall()
        assert dict(counts) == {"queued": 98_000, "succeeded": 1000, "failed": 1000}
        assert target.conn.execute("SELECT count(*) FROM attempts").fetchall() == [(3000,)]
    finally:
        source.close()
        target.close()


# -- bad input changes nothing ------------------------------------------------


def edit_job(lines: list[str], number: int, change: Any) -> list[str]:
    record = json.loads(lines[number - 1])
    change(record["job"])
    return lines[: number - 1] + [json.dumps(record)] + lines[number:]


BAD = {
    "not JSON": lambda ls: ls[:2] + ["{not json"] + ls[3:],
    "missing field": lambda ls: edit_job(ls, 3, lambda j: j.pop("state")),
    "mistyped field": lambda ls: edit_job(ls, 3, lambda j: j.update(priority="high")),
    "state not allowed": lambda ls: edit_job(ls, 3, lambda j: j.update(state="done")),
    "bad base64": lambda ls: edit_job(ls, 3, lambda j: j["output"].append(
        {"number": 1, "start": 99, "data": "%%%"})),
    "unknown kind": lambda ls: ls[:2] + ['{"jbo": {}}'] + ls[2:],
    "unknown version": lambda ls: ['{"jobctl_dump": 99}'] + ls[1:],
    "no header": lambda ls: ls[1:],
    "truncated at a line": lambda ls: ls[:-1],
    "truncated in a line": lambda ls: ls[:-1] + [ls[-1][:10]],
    "a line lost": lambda ls: ls[:2] + ls[3:],
    "job ids out of order": lambda ls: [ls[0], ls[2], ls[1], *ls[3:]],
}  # fmt: skip


def dump_lines(tmp_path: Path) -> list[str]:
    store = Store.open(tmp_path / "dumped.db")
    rich(store)
    lines = list(store.dump(NOW))
    store.close()
    return lines


@pytest.mark.parametrize("badness", BAD)
def test_a_bad_line_changes_nothing(cli: Cli, tmp_path: Path, badness: str) -> None:
    cli.ok("add", "--", "true")  # the target has a job of its own
    before = tables(cli.store())
    file = tmp_path / "bad.jsonl"
    file.write_text("\n".join(BAD[badness](dump_lines(tmp_path))) + "\n")
    message = fail_one_line(cli("load", str(file)), 2)
    assert message.startswith("jobctl: line "), message
    assert tables(cli.store()) == before


@pytest.mark.parametrize("target", ["sqlite", "postgres"])
def test_an_id_the_target_has_changes_nothing(
    cli: Cli, tmp_path: Path, pg_url: str, target: str
) -> None:
    db = pg_url if target == "postgres" else str(cli.db)
    for _ in range(3):
        cli.ok("add", "--db", db, "--", "true")  # ids 1-3: the dump's job 3 collides
    store = Store.open(db)
    before = tables(store)
    file = tmp_path / "dump.jsonl"
    file.write_text("\n".join(dump_lines(tmp_path)) + "\n")
    message = fail_one_line(cli("load", str(file), "--db", db), 2)
    assert message == "jobctl: line 2: job 1 is already in the database"
    assert tables(store) == before
    store.close()


def test_empty_input_is_refused(cli: Cli) -> None:
    assert "empty" in fail_one_line(cli("load", input=""), 2)


# -- the record check ---------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
VALID_JOB = json.loads(
    '{"id": 1, "type": "t", "command": null, "shell": 0, "cwd": null, "env": null,'
    ' "payload": "{}", "queue": "q", "priority": 0, "state": "queued", "run_at": 1.5,'
    ' "created_at": 1.5, "started_at": null, "finished_at": null, "attempt": 0,'
    ' "attempts_total": 0, "max_attempts": 3, "timeout": null, "unique_key": null,'
    ' "waiting": 0, "result": null, "error": null, "cancel_requested": null,'
    ' "daemon_id": null, "lease_until": null, "schedule": null, "due_at": null,'
    ' "parents": [], "attempts": [], "events": [], "logs": [], "output": []}'
)


@st.composite
def near_records(draw: st.DrawFn) -> Any:
    """A valid job record with one field replaced by any JSON value, or any value."""
    if draw(st.booleans()):
        return draw(json_values)
    job = dict(VALID_JOB)
    job[draw(st.sampled_from(sorted(job)))] = draw(json_values)
    return {draw(st.sampled_from(["job", "end", "queue", "daemon"])): job}


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(value=near_records(), raw=st.binary(max_size=40), use_raw=st.booleans())
def test_any_line_is_a_record_or_one_line_error(value: Any, raw: bytes, use_raw: bool) -> None:
    line = raw if use_raw else json.dumps(value)
    for parse in (lambda text: parse_line(text, 7), lambda text: parse_header(text, 7)):
        try:
            parse(line)
        except InputError as exc:
            assert str(exc).startswith("line 7: ")
            assert "\n" not in str(exc)


def test_the_valid_job_record_is_valid() -> None:
    kind, record = parse_line(json.dumps({"job": VALID_JOB}), 2)
    assert kind == "job" and record["state"] == "queued"
