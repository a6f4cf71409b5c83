"""`jobctl add TYPE --batch` streams: its memory does not follow the batch's size.

The batch is checked and encoded line by line into an anonymous spool, then
inserted from it in pieces of a few MB in one transaction; the ids are
printed a block at a time.  The real command runs on a real database file.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import JOBCTL, Cli, fail_one_line

# About 100 MB of batch in lines of about 1 kB: big enough that holding the
# batch (the old code peaked at over 300 MB on it) cannot pass, few enough
# lines to take a few seconds.
LINES = 100_000
PAD = "x" * 1000
# The command alone (Python, apsw, jobctl) takes about 25 MB; streaming adds
# the spool's in-memory part and a piece or two in flight.
MOST_RSS_MB = 100


def write_batch(path: Path, lines: int, last: str | None = None) -> None:
    """`lines` lines of JSON (one blank), written a block at a time; `last` replaces the last."""
    with path.open("w", encoding="utf-8") as file:
        block = []
        for n in range(lines - (last is not None)):
            block.append(f'{{"n": {n}, "pad": "{PAD}"}}\n')
            if n == 10:
                block.append("\n")  # blank lines are skipped
            if len(block) >= 10_000:
                file.write("".join(block))
                block.clear()
        file.write("".join(block))
        if last is not None:
            file.write(last)


# Started from a small interpreter, not from pytest: Linux keeps a process's
# peak RSS across exec, so a child forked from the test process (over 100 MB
# with every test module loaded) would report that process's size as its own.
_MEASURE = """
import os, subprocess, sys
proc = subprocess.Popen(sys.argv[1:])
_, status, usage = os.wait4(proc.pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss, file=sys.stderr)
"""


def run_measured(cli: Cli, *args: str) -> tuple[int, str, str, float]:
    """Run jobctl; its exit status, stdout, stderr and peak RSS in MB (from wait4)."""
    out_path, err_path = cli.home / "stdout", cli.home / "stderr"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        subprocess.run(
            [sys.executable, "-c", _MEASURE, *JOBCTL, *args],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            cwd=cli.home,
            env=cli.env,
            check=True,
        )
    *stderr, last = err_path.read_text().splitlines()
    code, peak_kb = map(int, last.split())
    return code, out_path.read_text(), "\n".join(stderr), peak_kb / 1024  # kB on Linux


@pytest.fixture
def typed(cli: Cli, write_config) -> Cli:
    write_config('[jobs.t]\nhandler = "tasks:t"\n')
    return cli


def test_a_100_mb_batch_streams_in_bounded_memory(typed: Cli) -> None:
    batch = typed.home / "batch.jsonl"
    write_batch(batch, LINES)
    assert batch.stat().st_size > 100_000_000
    code, out, err, peak_mb = run_measured(typed, "add", "t", "--batch", str(batch))
    assert code == 0, err
    assert out.split() == [str(i) for i in range(1, LINES + 1)]
    assert peak_mb < MOST_RSS_MB, f"peak RSS {peak_mb:.0f} MB for a 100 MB batch"
    assert typed.count_jobs() == LINES
    store = typed.store()
    try:
        assert store.get(LINES).payload == {"n": LINES - 1, "pad": PAD}
    finally:
        store.close()


def test_a_bad_last_line_of_a_large_batch_adds_nothing(typed: Cli) -> None:
    batch = typed.home / "batch.jsonl"
    write_batch(batch, 30_000, last='{"n": 1, "pad": \n')
    result = typed("add", "t", "--batch", str(batch))
    message = fail_one_line(result, 2)
    # 29,999 good lines and one blank before it.
    assert message.startswith("jobctl: line 30001: invalid JSON"), message
    assert typed.count_jobs() == 0


def test_json_ids_of_a_batch_are_the_array_json_writes(typed: Cli) -> None:
    # More ids than the command writes at once (50,000).
    lines = "{}\n" * 120_000
    out = typed.ok("add", "t", "--batch", "-", "--json", input=lines)
    assert out == json.dumps(list(range(1, 120_001))) + "\n"


def test_stdin_is_read_without_holding_the_write_lock(typed: Cli) -> None:
    proc = subprocess.Popen(
        [*JOBCTL, "add", "t", "--batch", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=typed.home,
        env=typed.env,
        text=True,
    )
    try:
        # Far more than a pipe holds: once written, the command has read
        # (and checked) most of it, and is waiting for more.
        proc.stdin.write('{"n": 1}\n' * 200_000)
        proc.stdin.flush()
        # Another writer gets in while the producer is still writing.
        assert typed.ok("add", "--", "true").strip() == "1"
        out, err = proc.communicate('{"n": 2}\n', timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert out.split() == [str(i) for i in range(2, 200_003)]


def test_a_keyed_batch_goes_row_by_row_with_its_duplicates(cli: Cli, write_config) -> None:
    write_config('[jobs.k]\nhandler = "x:y"\nunique = "{key}"\n[jobs.p]\nhandler = "x:y"\n')
    [old] = cli.ok("add", "k", "--data", '{"key": "tab\\there"}').split()
    lines = "".join(
        json.dumps({"key": k}) + "\n" for k in ["a", "tab\there", "é\n", "a", "b", "é\n"]
    )
    ids = cli.ok("add", "k", "--batch", "-", input=lines).split()
    assert ids == ["2", old, "3", "2", "4", "3"]
    store = cli.store()
    try:
        assert store.get(3).unique_key == "é\n" and store.get(3).payload == {"key": "é\n"}
    finally:
        store.close()
    # Parents and a fixed key take the row-by-row path too.
    after = cli.ok("add", "p", "--after", "1", "--batch", "-", "--json", input="{}\n[]\n")
    assert json.loads(after) == [5, 6]
    assert cli.ok("add", "p", "--unique", "u", "--batch", "-", input="1\n2\n").split() == ["7"] * 2
    fail_one_line(cli("add", "p", "--after", "99", "--batch", "-", input="{}\n"), 3)
    assert cli.count_jobs() == 7


def test_add_many_keys_jobs_by_the_payloads_as_given(tmp_path: Path) -> None:
    import jobctl

    (tmp_path / "jobs.toml").write_text('[jobs.k]\nhandler = "x:y"\nunique = "{v}"\n')
    queue = jobctl.connect(tmp_path / "j.db", tmp_path / "jobs.toml")
    ids = queue.add_many("k", [{"v": (1, 2)}, {"v": [1, 2]}, {"v": (1, 2)}])
    assert isinstance(ids, list) and ids == [1, 2, 1]
    assert queue.get(1).unique_key == "(1, 2)" and queue.get(2).unique_key == "[1, 2]"
    assert queue.add_many("k", []) == []
