"""`retention`: a running daemon purges old ended jobs, a batch at a time;
`purge --dry-run`; `check` refuses a bad retention."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import Cli, fail_one_line, wait_for

from jobctl import retention
from jobctl.models import Config, JobType, NewJob
from jobctl.retention import BATCH_SIZE, Retention
from jobctl.store import Store

NOW = 1_800_000_000.0
DAY = 86_400.0
HISTORY = ("attempts", "attempt_output", "events", "job_logs")


def query(cli: Cli, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
    store = cli.store()
    try:
        return store.conn.execute(sql, params).fetchall()
    finally:
        store.close()


def job_ids(cli: Cli) -> set[int]:
    return {row[0] for row in query(cli, "SELECT id FROM jobs")}


def state_of(cli: Cli, job_id: str) -> str | None:
    rows = query(cli, "SELECT state FROM jobs WHERE id = ?", (int(job_id),))
    return rows[0][0] if rows else None


def history_of(cli: Cli, ids: list[str]) -> int:
    """Rows left in the history tables for these jobs."""
    rows = 0
    for table in HISTORY:
        sql = f"SELECT count(*) FROM {table} WHERE job_id IN (SELECT value FROM json_each(?))"
        rows += query(cli, sql, (f"[{','.join(ids)}]",))[0][0]
    return rows


def purge_lines(cli: Cli) -> list[str]:
    log = (cli.home / "daemon-0.log").read_text()
    return [line for line in log.splitlines() if "purged " in line]


def add(cli: Cli, *args: str) -> str:
    return cli.ok("add", *args).strip()


# -- a running daemon ------------------------------------------------------------


def test_a_daemon_purges_ended_jobs_and_never_queued_or_running_ones(
    cli: Cli, write_config, daemons
) -> None:
    write_config('retention = "1s"\n')
    cli.ok("pause", "hold")
    running = add(cli, "--", "sleep", "60")
    succeeded = add(cli, "--", "echo", "some output")
    failed = add(cli, "--", "false")
    cancelled = add(cli, "--queue", "hold", "--", "true")
    cli.ok("cancel", cancelled)
    paused = add(cli, "--queue", "hold", "--", "true")
    later = add(cli, "--in", "1h", "--", "true")
    ended = [succeeded, failed, cancelled]
    daemons.start()

    wait_for(lambda: state_of(cli, running) == "running", what="the sleep running")
    wait_for(lambda: not job_ids(cli) & {int(i) for i in ended}, what="ended jobs purged")
    assert history_of(cli, ended) == 0  # attempts, output, events went with them
    assert history_of(cli, [running]) > 0
    wait_for(lambda: sum(purged_counts(cli)) == 3, what="the purge logged")
    assert all(re.search(r"purged \d+ jobs? older than 1s$", line) for line in purge_lines(cli))

    # More passes, now that the others are well past the retention too.
    again = add(cli, "--", "true")
    newest = add(cli, "--queue", "hold", "--", "true")  # the newest job always stays
    wait_for(lambda: int(again) not in job_ids(cli), what="a later ended job purged")
    assert state_of(cli, running) == "running"
    assert (state_of(cli, paused), state_of(cli, later), state_of(cli, newest)) == (
        "queued",
        "queued",
        "queued",
    )


def purged_after_the_others_ended(cli: Cli, *args: str) -> None:
    """Add a job that the retention covers, then a newer one (the newest stays),
    and wait until the first is purged: a purge ran once the others were old."""
    again = add(cli, *args)
    add(cli, "--in", "1h", "--", "true")
    wait_for(lambda: int(again) not in job_ids(cli), what="a later job purged")


def test_a_type_retention_wins_over_the_top_level_one(cli: Cli, write_config, daemons) -> None:
    write_config(
        'retention = "1s"\n'
        '[jobs.keep]\ncommand = "true"\nretention = "1h"\n'
        '[jobs.plain]\ncommand = "true"\n'
    )
    kept = [add(cli, "keep"), add(cli, "keep")]
    gone = [add(cli, "plain"), add(cli, "--", "true")]  # ad hoc: the top level
    add(cli, "--in", "1h", "--", "true")
    daemons.start()
    wait_for(lambda: not job_ids(cli) & {int(i) for i in gone}, what="1s jobs purged")
    wait_for(lambda: [state_of(cli, i) for i in kept] == ["succeeded"] * 2, what="kept ended")
    purged_after_the_others_ended(cli, "plain")
    assert [state_of(cli, i) for i in kept] == ["succeeded"] * 2


def test_a_type_retention_alone_purges_only_that_type(cli: Cli, write_config, daemons) -> None:
    # No top-level retention: everything else is kept.
    write_config(
        '[jobs.quick]\ncommand = "true"\nretention = "1s"\n[jobs.other]\ncommand = "true"\n'
    )
    quick = [add(cli, "quick") for _ in range(3)]
    others = [add(cli, "other"), add(cli, "--", "true")]
    daemons.start()
    wait_for(lambda: not job_ids(cli) & {int(i) for i in quick}, what="quick jobs purged")
    wait_for(lambda: [state_of(cli, i) for i in others] == ["succeeded"] * 2, what="others ended")
    purged_after_the_others_ended(cli, "quick")
    assert [state_of(cli, i) for i in others] == ["succeeded"] * 2
    wait_for(lambda: sum(purged_counts(cli)) == 4, what="the purges logged")
    assert all(
        re.search(r"purged \d+ quick jobs? older than 1s$", line) for line in purge_lines(cli)
    )


def old_ended_jobs(store: Store, count: int, finished_at: float, **fields: Any) -> list[int]:
    """`count` jobs that ended at `finished_at`, each with an attempt and an event."""
    new = NewJob(**({"type": None, "payload": "null", "command": ["true"]} | fields))
    ids = store.add_jobs([new] * count, finished_at - 10)
    span = {"first": ids[0], "last": ids[-1], "at": finished_at}
    store.conn.execute("BEGIN")
    store.conn.execute(
        "UPDATE jobs SET state = 'succeeded', finished_at = :at WHERE id BETWEEN :first AND :last",
        span,
    )
    store.conn.execute(
        "INSERT INTO attempts (job_id, number, started_at, finished_at, outcome)"
        " SELECT id, 1, :at, :at, 'succeeded' FROM jobs WHERE id BETWEEN :first AND :last",
        span,
    )
    store.conn.execute(
        "INSERT INTO events (job_id, at, kind, attempt)"
        " SELECT id, :at, 'succeeded', 1 FROM jobs WHERE id BETWEEN :first AND :last",
        span,
    )
    store.conn.execute("COMMIT")
    return ids


def add_newest(store: Store, at: float = NOW) -> int:
    """A queued job: the newest, so that every older one may go."""
    return store.add_jobs([NewJob(type=None, payload="null", command=["true"])], at)[0]


def purged_counts(cli: Cli) -> list[int]:
    return [int(line.split("purged ")[1].split()[0]) for line in purge_lines(cli)]


def test_a_daemon_purges_a_backlog_in_batches(cli: Cli, write_config, daemons) -> None:
    write_config('retention = "1d"\n')
    store = cli.store()
    try:
        old_ended_jobs(store, 2_500, time.time() - 2 * DAY)
    finally:
        store.close()
    newest = add(cli, "--in", "1h", "--", "true")
    daemons.start()
    wait_for(lambda: job_ids(cli) == {int(newest)}, what="the backlog purged")
    for table in HISTORY:
        assert query(cli, f"SELECT count(*) FROM {table}") == [(0,)]
    # One transaction per batch: 1,000, 1,000, 500 (a pass logs when it ends).
    wait_for(lambda: sum(purged_counts(cli)) == 2_500, what="three purge lines")
    assert purged_counts(cli) == [BATCH_SIZE, BATCH_SIZE, 500]


# -- the store's batch and the daemon's walk ---------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened = Store.open(tmp_path / "jobs.db")
    yield opened
    opened.close()


def test_one_batch_deletes_at_most_its_limit(store: Store) -> None:
    ids = old_ended_jobs(store, 2_500, NOW - 2 * DAY)
    add_newest(store)  # the newest
    cutoff = NOW - DAY
    first = store.purge_batch(cutoff, BATCH_SIZE)
    assert (first.deleted, first.scanned, first.held) == (BATCH_SIZE, BATCH_SIZE, None)
    assert first.last == (NOW - 2 * DAY, ids[BATCH_SIZE - 1])
    second = store.purge_batch(cutoff, BATCH_SIZE, first.last)
    third = store.purge_batch(cutoff, BATCH_SIZE, second.last)
    assert (second.deleted, third.deleted, third.scanned) == (BATCH_SIZE, 500, 500)
    assert store.conn.execute("SELECT count(*) FROM jobs").fetchall() == [(1,)]
    # Another daemon doing the same finds nothing left to delete.
    assert store.purge_batch(cutoff, BATCH_SIZE).deleted == 0


def test_a_batch_keeps_the_newest_job_until_a_newer_one_comes(store: Store) -> None:
    [only] = old_ended_jobs(store, 1, NOW - 2 * DAY)
    batch = store.purge_batch(NOW - DAY, BATCH_SIZE)
    assert (batch.deleted, batch.held) == (0, only)
    add_newest(store)
    later = store.purge_batch(NOW - DAY, BATCH_SIZE, (NOW - DAY, 0), held=batch.held)
    assert (later.deleted, later.held) == (1, None)


def test_a_batch_deletes_only_the_rule_s_jobs(store: Store) -> None:
    mine = old_ended_jobs(store, 3, NOW - 2 * DAY, type="mine")
    adhoc = old_ended_jobs(store, 2, NOW - 2 * DAY)
    theirs = old_ended_jobs(store, 2, NOW - 2 * DAY, type="theirs")
    add_newest(store)
    assert store.purge_batch(NOW - DAY, BATCH_SIZE, type="mine").deleted == 3
    assert store.purge_batch(NOW - DAY, BATCH_SIZE, others=["theirs"]).deleted == 2
    left = {
        row[0] for row in store.conn.execute("SELECT id FROM jobs WHERE id <= ?", (theirs[-1],))
    }
    assert left == set(theirs) and not left & {*mine, *adhoc}


def test_a_retried_job_is_not_purged(store: Store) -> None:
    ids = old_ended_jobs(store, 2, NOW - 2 * DAY)
    store.conn.execute("UPDATE jobs SET state = 'failed' WHERE id = ?", (ids[0],))
    store.retry([ids[0]], NOW)
    add_newest(store)
    assert store.purge_batch(NOW - DAY, BATCH_SIZE).deleted == 1
    assert store.get(ids[0]).state == "queued"


def test_the_walk_goes_on_at_the_next_pass_while_batches_are_full(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "BATCH_SIZE", 10)
    old_ended_jobs(store, 25, NOW - 2 * DAY)
    add_newest(store)
    config, walk, lines = Config(retention=DAY), Retention(), []
    assert walk.purge(store, config, NOW, lines.append) == NOW  # full: more at the next pass
    assert walk.purge(store, config, NOW, lines.append) == NOW
    assert walk.purge(store, config, NOW, lines.append) == NOW + retention.EVERY_SECONDS
    assert walk.purge(store, config, NOW + 1, lines.append) == NOW + retention.EVERY_SECONDS
    assert lines == [f"purged {n} jobs older than 1d" for n in (10, 10, 5)]


def test_a_caught_up_walk_reads_only_what_ended_since(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    starts: list[tuple[float, int]] = []  # where each batch began its walk
    batch = store.purge_batch
    monkeypatch.setattr(store, "purge_batch", lambda *a, **k: starts.append(a[2]) or batch(*a, **k))
    config = Config(retention=DAY, jobs={"t": JobType("t", retention=2 * DAY)})
    walk, lines = Retention(), []
    adhoc = old_ended_jobs(store, 3, NOW - 1.5 * DAY)  # the top level's 1d: gone
    typed = old_ended_jobs(store, 3, NOW - 1.5 * DAY, type="t")  # its own 2d: kept for now
    add_newest(store)

    def left() -> set[int]:
        return {row[0] for row in store.conn.execute("SELECT id FROM jobs")}

    assert walk.purge(store, config, NOW, lines.append) == NOW  # the other rule is due too
    assert walk.purge(store, config, NOW, lines.append) == NOW + retention.EVERY_SECONDS
    assert set(typed) <= left() and not set(adhoc) & left()
    assert lines == ["purged 3 jobs older than 1d"]
    # A minute later each rule goes on from its cutoff of before, not from the oldest job.
    later = NOW + retention.EVERY_SECONDS
    walk.purge(store, config, later, lines.append)
    walk.purge(store, config, later, lines.append)
    assert sorted(starts[2:]) == [(NOW - 2 * DAY, 0), (NOW - DAY, 0)]
    # A day later the type's jobs go; after that, each walk starts from the oldest again.
    day = NOW + DAY
    walk.purge(store, config, day, lines.append)
    walk.purge(store, config, day, lines.append)
    assert not set(typed) & left() and lines[1:] == ["purged 3 t jobs older than 2d"]
    walk.purge(store, config, day + retention.EVERY_SECONDS, lines.append)
    walk.purge(store, config, day + retention.EVERY_SECONDS, lines.append)
    assert starts[-2:] == [(float("-inf"), 0)] * 2
    # A rule that changed starts over too.
    walk.purge(store, config._replace(retention=3 * DAY), day + 61, lines.append)
    assert starts[-1] == (float("-inf"), 0) and len(starts) == 9


def test_no_retention_purges_nothing(store: Store) -> None:
    old_ended_jobs(store, 5, NOW - 400 * DAY)
    add_newest(store)
    lines: list[str] = []
    Retention().purge(store, Config(), NOW, lines.append)
    assert lines == [] and store.conn.execute("SELECT count(*) FROM jobs").fetchall() == [(6,)]


# -- the commands ------------------------------------------------------------------


def test_purge_dry_run_counts_per_state_and_deletes_nothing(cli: Cli) -> None:
    ids = [add(cli, "--", "true") for _ in range(4)]
    cli.ok("cancel", ids[0], ids[1])
    store = cli.store()
    try:
        store.conn.execute(
            "UPDATE jobs SET state = 'failed', finished_at = 1 WHERE id = ?", (int(ids[2]),)
        )
    finally:
        store.close()
    out = cli.ok("purge", "--older-than", "0s", "--dry-run")
    assert out == "would purge 3 job(s): 2 cancelled, 1 failed\n"
    assert len(job_ids(cli)) == 4
    assert cli.ok("purge", "--older-than", "1h", "--dry-run") == "would purge 1 job(s): 1 failed\n"
    assert cli.ok("purge", "--older-than", "0s", "--state", "failed", "--dry-run").startswith(
        "would purge 1 job(s)"
    )
    fail_one_line(cli("purge", "--older-than", "soon", "--dry-run"), 2)
    assert cli.ok("purge", "--older-than", "0s") == "purged 3 job(s)\n"
    assert cli.ok("purge", "--older-than", "0s", "--dry-run") == "would purge 0 job(s)\n"


NOT_A_DURATION = "not a duration (use 30s, 5m, 2h)"
TOO_SHORT = "is too short for a retention (at least 1s)"
TYPE_A = '[jobs.a]\ncommand = "true"\n'


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('retention = "soon"\n', f'jobs.toml:1: retention: "soon" is {NOT_A_DURATION}'),
        ('retention = "0s"\n', f"jobs.toml:1: retention: '0s' {TOO_SHORT}"),
        ('retention = "500ms"\n', f"jobs.toml:1: retention: '500ms' {TOO_SHORT}"),
        ("retention = true\n", f"jobs.toml:1: retention: True is {NOT_A_DURATION}"),
        (f'{TYPE_A}retention = "soon"\n', f'3: [jobs.a] retention: "soon" is {NOT_A_DURATION}'),
        (f'{TYPE_A}retention = "0s"\n', f"jobs.toml:3: [jobs.a] retention: '0s' {TOO_SHORT}"),
    ],
)  # fmt: skip
def test_check_refuses_a_bad_retention(cli: Cli, write_config, text: str, problem: str) -> None:
    write_config(text)
    result = cli("check")
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == "" and "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    assert line.endswith(problem), line


def test_check_accepts_a_retention(cli: Cli, write_config) -> None:
    write_config('retention = "30d"\n[jobs.a]\ncommand = "true"\nretention = "1s"\n')
    assert "1 job type(s)" in cli.ok("check")
