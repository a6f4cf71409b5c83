"""Several processes opening a brand-new database at once (issue 12, point 5).

The first open creates the file, switches it to WAL and writes the schema.
Every process that opens it meanwhile must wait for that within the busy
timeout, and never fail with "locked".

Each process signals that it is ready and then blocks on a shared gate
(a pipe whose write end the test closes), so that all of a round's processes
are released at the same moment: started one after another, a process often
finds the work already done.  No sleeps, no mocks: real processes, real
SQLite locks.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import JOBCTL, Cli

from jobctl.store import Store

ROUNDS = 35  # each releases six processes at once on a new database

# argv: gate fd, ready fd, then the command to exec once the gate opens.
_EXEC_AT_GATE = (
    "import os, sys; os.write(int(sys.argv[2]), b'.'); os.read(int(sys.argv[1]), 1); "
    "os.execv(sys.argv[3], sys.argv[3:])"
)

# argv: gate fd, ready fd, database path.  Imports first, so that the
# processes reach open_db() within microseconds of each other.
_OPEN_AT_GATE = """
import os, sys
from pathlib import Path
from jobctl.store.sqlite_db import open_db
from jobctl.errors import DatabaseError
os.write(int(sys.argv[2]), b".")
os.read(int(sys.argv[1]), 1)
try:
    conn = open_db(Path(sys.argv[3]))
    conn.execute("SELECT count(*) FROM jobs").fetchall()
except DatabaseError as exc:
    sys.exit(f"jobctl: {exc}")
"""


def _race(
    argvs: list[tuple[str, list[str]]], cwd: Path, env: dict[str, str]
) -> list[subprocess.Popen[str]]:
    """Start every argv behind one gate; open it once all of them wait there."""
    gate_read, gate_write = os.pipe()
    ready_read, ready_write = os.pipe()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(gate_read), str(ready_write), *argv],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            pass_fds=(gate_read, ready_write),
        )
        for script, argv in argvs
    ]
    os.close(gate_read)
    os.close(ready_write)
    ready = 0
    while ready < len(procs):
        got = os.read(ready_read, 64)
        if not got:
            break  # a process died before the gate: its exit status will say so
        ready += len(got)
    os.close(ready_read)
    os.close(gate_write)  # every process blocked on the gate reads EOF now
    return procs


def _finish(proc: subprocess.Popen[str]) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
        return stdout, stderr + "\n(killed: still running after 60s)"


def test_commands_racing_on_a_new_database_all_succeed(cli: Cli) -> None:
    commands = [
        ["daemon", "--drain"],
        ["ls"],
        ["stats"],
        ["add", "--", "true"],
        ["add", "--", "true"],
        ["add", "--", "true"],
    ]
    failures: list[str] = []
    for number in range(ROUNDS):
        folder = cli.home / f"round-{number}"
        folder.mkdir()
        failed_before = len(failures)
        db = folder / "state" / "jobctl.db"
        env = cli.env | {"JOBCTL_DB": str(db)}
        procs = _race([(_EXEC_AT_GATE, [*JOBCTL, *args]) for args in commands], folder, env)
        for args, proc in zip(commands, procs, strict=True):
            _, stderr = _finish(proc)
            if args[0] == "daemon":
                # The daemon logs its normal lines on stderr; only errors count.
                bad = [
                    line
                    for line in stderr.splitlines()
                    if line.startswith("jobctl:") or "Traceback" in line or "killed" in line
                ]
            else:
                bad = stderr.splitlines()
            if proc.returncode != 0 or bad:
                failures.append(
                    f"round {number}: `jobctl {' '.join(args)}` exited {proc.returncode}: "
                    + " | ".join(bad or stderr.splitlines()[-3:])
                )
        if db.exists():
            store = Store.open(db)
            try:
                added = store.conn.execute("SELECT count(*) FROM jobs").fetchall()[0][0]
            finally:
                store.close()
            if added != 3 and len(failures) == failed_before:
                failures.append(f"round {number}: {added} jobs in the database, not 3")
    assert not failures, f"{len(failures)} failure(s):\n" + "\n".join(failures)


def test_openers_released_together_on_a_new_database_all_succeed(tmp_path: Path) -> None:
    """Six processes calling open_db() at the same instant, a tighter race than the CLI's.

    Every other round the file already exists, empty, as a process that has
    created it but not yet written the schema leaves it.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBCTL_")}
    failures: list[str] = []
    for number in range(ROUNDS):
        db = tmp_path / f"round-{number}" / "jobctl.db"
        if number % 2:
            db.parent.mkdir(mode=0o700)
            db.touch(mode=0o600)
        procs = _race([(_OPEN_AT_GATE, [str(db)])] * 6, tmp_path, env)
        for proc in procs:
            _, stderr = _finish(proc)
            if proc.returncode != 0 or stderr:
                failures.append(f"round {number}: exited {proc.returncode}: {stderr.strip()}")
    assert not failures, f"{len(failures)} failure(s):\n" + "\n".join(failures)
