"""`jobctl parallel N --queue Q`: a queue's limit set at run time, obeyed by a running daemon.

The jobs wait for a file the test creates, so how many run at once is
decided by the limit alone.  A daemon records an ended job and claims the
next in one transaction: once a released job shows as succeeded, the claim
that could have replaced it has been made (or not).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import BACKENDS, Cli, Daemons, fail_one_line, wait_for


def _add_gated(cli: Cli, count: int) -> list[str]:
    """`count` jobs in queue "slow", job i ending once the file gate-i exists."""
    ids = []
    for i in range(count):
        wait = f"while [ ! -e gate-{i} ]; do sleep 0.01; done"
        ids.append(cli.ok("add", "--queue", "slow", "--", "sh", "-c", wait).strip())
    return ids


def _running(cli: Cli) -> int:
    return cli.rows("SELECT count(*) FROM jobs WHERE state = 'running'")[0][0]


def _state(cli: Cli, job_id: str) -> str:
    return cli.rows("SELECT state FROM jobs WHERE id = ?", (int(job_id),))[0][0]


def _slow(cli: Cli) -> dict:
    return next(row for row in cli.json("stats") if row["queue"] == "slow")


def test_parallel_is_set_shown_and_obeyed_without_a_restart(
    cli: Cli, daemons: Daemons, write_config: Callable[[str], Path]
) -> None:
    write_config("[queues.slow]\nconcurrency = 2\n")
    ids = _add_gated(cli, 6)
    # jobs.toml gives the value until one is set.
    assert cli.ok("parallel", "--queue", "slow").strip() == (
        "queue slow: parallel 2 (from jobs.toml)"
    )
    assert (_slow(cli)["parallel"], _slow(cli)["parallel_source"]) == (2, "jobs.toml")
    for bad in ("0", "abc", "2 --reset", "99999999999", "-1"):
        fail_one_line(cli("parallel", *bad.split(), "--queue", "slow"), 2)
    fail_one_line(cli("parallel", "2", "--queue", "a\x1b[2Jb"), 2)
    assert cli.rows("SELECT count(*) FROM queues WHERE parallel IS NOT NULL") == [(0,)]

    daemons.start("--concurrency", "8")
    # One claim takes all it may: without the cap it would take all six at once.
    wait_for(lambda: _running(cli) == 2, what="the first two jobs")
    assert [_state(cli, i) for i in ids[:3]] == ["running", "running", "queued"]

    # Lowering kills nothing; the job that ends is not replaced.
    cli.ok("parallel", "1", "--queue", "slow")
    (cli.home / "gate-0").touch()
    wait_for(lambda: _state(cli, ids[0]) == "succeeded", what="job 0 to end")
    assert _running(cli) == 1 and _state(cli, ids[2]) == "queued"
    assert cli.json("show", ids[2])["why"] == "queue slow at its limit (1)"

    # Raising it starts queued jobs at once.
    out = cli.ok("parallel", "3", "--queue", "slow").strip()
    assert out == "queue slow: parallel 3 (set by `jobctl parallel`)"
    wait_for(lambda: _running(cli) == 3, timeout=5, what="three running")
    assert (_slow(cli)["parallel"], _slow(cli)["parallel_source"]) == (3, "database")
    assert "\t3 (database)" in cli.ok("stats")

    # --reset: jobs.toml's value again.
    out = cli.ok("parallel", "--queue", "slow", "--reset").strip()
    assert out == "queue slow: parallel 2 (from jobs.toml)"


@pytest.mark.parametrize("backend", BACKENDS[1:], indirect=True)
def test_postgres_daemon_hears_a_raised_limit(cli: Cli, daemons: Daemons) -> None:
    """On PostgreSQL the change reaches the daemon by NOTIFY, not by the file's commit."""
    cli.ok("parallel", "1", "--queue", "slow")  # a queue not in any jobs.toml
    _add_gated(cli, 3)
    daemons.start("--concurrency", "4")
    wait_for(lambda: _running(cli) == 1, what="one running")
    assert _slow(cli)["queued"] == 2
    cli.ok("parallel", "3", "--queue", "slow")
    wait_for(lambda: _running(cli) == 3, timeout=5, what="three running")


def test_dump_carries_the_limit_and_older_dumps_still_load(cli: Cli, tmp_path: Path) -> None:
    cli.ok("parallel", "4", "--queue", "slow")
    dump = cli.ok("dump")
    assert '{"queue":{"name":"slow","paused":0,"parallel":4}}' in dump
    (tmp_path / "target").mkdir()
    target = Cli(tmp_path / "target")
    target.ok("load", input=dump)
    assert (_slow(target)["parallel"], _slow(target)["parallel_source"]) == (4, "database")
    # A dump written before `jobctl parallel` has no such field: loaded as not set.
    (tmp_path / "older").mkdir()
    older = Cli(tmp_path / "older")
    older.ok("load", input=dump.replace(',"parallel":4', ""))
    assert all(row["parallel"] is None for row in older.json("stats"))
