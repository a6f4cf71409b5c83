"""Another local user must never get root's jobctl to run their code, nor to
write through their links: every command refuses what another user could
have written (see file_safety.py).

The other user is a uid with no account (no passwd entry is needed to own
files or to run a process); the attacks that need one run only as root.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import apsw
import pytest
from conftest import Cli, fail_one_line

from jobctl.store import Store

OTHER = 54321  # the hostile neighbour's uid
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: it plays a second user")


def _plant(path: Path, data: bytes) -> None:
    """Write `path` as the other user would: from a process running as that uid."""
    subprocess.run(
        ["/bin/sh", "-c", 'cat > "$0"', str(path)],
        input=data,
        user=OTHER,
        group=OTHER,
        check=True,
    )


@pytest.fixture
def reachable() -> Iterator[Path]:
    """A folder the other user can reach (pytest's own are private)."""
    base = Path(tempfile.mkdtemp(prefix="jobctl-neighbours-"))
    base.chmod(0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def _shared_folder(base: Path, name: str) -> Path:
    """A folder anyone may write, like /tmp: root-owned; made 1777 by the caller."""
    folder = base / name
    folder.mkdir()
    return folder


def _attacker_wal(tmp_path: Path, evidence: Path) -> bytes:
    """The -wal file of a jobctl database of the attacker's own, holding every
    page of it (never checkpointed), with one job: create `evidence`."""
    own = tmp_path / "attacker" / "jobs.db"
    store = Store.open(own)
    store.conn.execute("PRAGMA wal_autocheckpoint = 0")
    from jobctl.models import NewJob

    argv = ["/bin/sh", "-c", f"id > {evidence}"]
    store.add_job(NewJob(type=None, payload="null", command=argv, cwd="/"), 1.0)
    wal = Path(f"{own}-wal").read_bytes()
    store.close()
    return wal


@as_root
def test_a_planted_wal_file_is_refused_and_never_run(
    cli: Cli, tmp_path: Path, reachable: Path
) -> None:
    folder = _shared_folder(reachable, "shared")
    cli.db = folder / "jobs.db"
    cli.env["JOBCTL_DB"] = str(cli.db)
    cli.ok("add", "--", "true")  # root's database, made while the folder was private
    folder.chmod(0o1777)  # then kept in a folder others can write
    evidence = tmp_path / "pwned"
    _plant(Path(f"{cli.db}-wal"), _attacker_wal(tmp_path, evidence))
    for command in (("daemon", "--drain"), ("ls",), ("add", "--", "true")):
        line = fail_one_line(cli(*command), 1)
        assert "a folder writable by other users" in line and "chmod go-w" in line
    assert not evidence.exists()


@as_root
def test_a_planted_module_beside_the_config_is_never_imported(
    cli: Cli, tmp_path: Path, reachable: Path
) -> None:
    folder = _shared_folder(reachable, "etc")
    config = folder / "jobs.toml"
    config.write_text('[jobs.tick]\ncommand = "true"\nevery = "1h"\n')
    folder.chmod(0o1777)
    evidence = tmp_path / "pwned"
    _plant(folder / "croniter.py", f"open({str(evidence)!r}, 'w').write('root')\n".encode())
    line = fail_one_line(cli("daemon", "--drain", "--config", str(config)), 1)
    assert "a folder writable by other users" in line
    assert not evidence.exists()


def test_handlers_import_after_the_standard_library(cli: Cli, write_config, daemons) -> None:
    """A private config folder still never shadows Python's own modules."""
    (cli.home / "json.py").write_text("raise SystemExit('the planted json was imported')\n")
    (cli.home / "tasks.py").write_text("def ok(payload, ctx):\n    return 'fine'\n")
    write_config(
        '[jobs.thread]\nhandler = "tasks:ok"\n'
        '[jobs.child]\nhandler = "tasks:ok"\nisolation = "process"\n'
    )
    thread = cli.ok("add", "thread").strip()
    child = cli.ok("add", "child").strip()
    assert daemons.start("--drain").wait(timeout=60) == 0
    for job_id in (thread, child):
        assert cli.json("show", job_id)["result"] == "fine"


@as_root
def test_every_command_refuses_a_database_another_user_owns(cli: Cli) -> None:
    cli.db.parent.mkdir(mode=0o700)
    cli.db.touch(mode=0o666)
    os.chown(cli.db, OTHER, OTHER)
    for command in (("ls",), ("stats",), ("add", "--", "true"), ("daemon", "--drain")):
        line = fail_one_line(cli(*command), 1)
        assert "belongs to user id 54321" in line
    assert cli.db.stat().st_size == 0  # nothing written


def test_every_command_refuses_a_database_others_can_write(cli: Cli) -> None:
    cli.ok("add", "--", "true")
    cli.db.chmod(0o666)
    for command in (("ls",), ("add", "--", "true"), ("show", "1")):
        line = fail_one_line(cli(*command), 1)
        assert "writable by other users" in line and "chmod go-w" in line


def test_a_link_at_the_database_path_is_never_followed(cli: Cli, tmp_path: Path) -> None:
    other_program = tmp_path / "other.sqlite"
    conn = apsw.Connection(str(other_program))
    conn.execute("CREATE TABLE notes (text)")
    conn.close()
    before = other_program.read_bytes()
    cli.db.parent.mkdir(mode=0o700)
    cli.db.symlink_to(other_program)
    dangling = tmp_path / "nowhere.db"
    for target in (cli.db, tmp_path / "state" / "dangling.db"):
        if target != cli.db:
            target.symlink_to(dangling)
        cli.env["JOBCTL_DB"] = str(target)
        line = fail_one_line(cli("add", "--", "true"), 1)
        assert "symbolic link" in line
    assert other_program.read_bytes() == before  # no jobctl tables in it
    assert not dangling.exists()  # nothing made where the link points


def test_init_writes_no_config_through_a_link(cli: Cli, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.toml"
    (cli.home / "jobs.toml").symlink_to(elsewhere)
    fail_one_line(cli("init"), 2)
    assert not elsewhere.exists()


@as_root
def test_a_config_another_user_owns_is_refused(cli: Cli, write_config) -> None:
    config = write_config('[jobs.hello]\ncommand = "echo hi"\n')
    os.chown(config, OTHER, OTHER)
    for command in (("ls",), ("add", "hello"), ("check",)):
        line = fail_one_line(cli(*command), 1)
        assert "jobs.toml: it belongs to user id 54321" in line


def test_a_group_writable_file_of_ones_own_group_is_fine(cli: Cli, write_config) -> None:
    """umask 002 systems: a group of one's own is no neighbour."""
    import grp
    import pwd

    me = pwd.getpwuid(os.geteuid())
    group = grp.getgrgid(me.pw_gid)
    others = set(group.gr_mem) - {me.pw_name} or any(
        p.pw_gid == me.pw_gid and p.pw_uid != me.pw_uid for p in pwd.getpwall()
    )
    if others:
        pytest.skip(f"group {group.gr_name} has other members here")
    config = write_config('[jobs.hello]\ncommand = "echo hi"\n')
    config.chmod(0o664)
    assert cli.ok("add", "hello").strip() == "1"
