"""Job labels (issue 18, item 4): `add --label`, shown by ls/show, and the
--label filters of ls, retry --failed, cancel and purge; kept by restart and
by dump/load, on both backends; migration 11 on an older database."""

from __future__ import annotations

import json
from pathlib import Path

import apsw
from conftest import Cli, fail_one_line, wait_for

from jobctl.store.sqlite_db import MIGRATIONS


def other_cli(tmp_path: Path, name: str, db: str | None = None) -> Cli:
    """A second jobctl with its own home (and database)."""
    (tmp_path / name).mkdir()
    return Cli(tmp_path / name, db=db)


def ids(cli: Cli, *args: str) -> list[int]:
    return [job["id"] for job in cli.json("ls", *args)]


def test_labels_are_added_shown_and_filtered_with_all_of_them(cli: Cli) -> None:
    # Repeated, as --label=X too, and a duplicate folded.
    first = int(cli.ok("add", "--label", "nightly", "--label", "db", "--label", "db", "--", "true"))
    second = int(cli.ok("add", "--label=nightly", "--in", "1h", "--", "echo", "hi"))
    plain = int(cli.ok("add", "--in", "1h", "--", "true"))
    assert cli.json("show", str(first))["labels"] == ["db", "nightly"]
    assert ids(cli, "--label", "nightly") == [second, first]
    assert ids(cli, "--label", "nightly", "--label", "db") == [first]  # AND
    assert ids(cli, "--label", "nope") == []
    # ls: a LABELS column (tab-separated when piped), only when a job has labels.
    header, *rows = cli.ok("ls").splitlines()
    assert header.split("\t")[-2:] == ["labels", "why"]
    assert rows[-1].split("\t")[-2] == "db,nightly"
    assert "labels:   db nightly" in cli.ok("show", str(first))
    # A unique key that matches gives the existing job, whose labels stay.
    keyed = cli.json("add", "--unique", "k", "--label", "a", "--in", "1h", "--", "true")
    again = cli.json("add", "--unique", "k", "--label", "b", "--in", "1h", "--", "true")
    assert again["id"] == keyed["id"] and again["labels"] == ["a"]
    # restart keeps them.
    cli.ok("cancel", str(second))
    restarted = cli.json("restart", str(second))
    assert restarted["labels"] == ["nightly"] and restarted["id"] > plain


def test_a_batch_gets_the_labels_of_its_command_line(cli: Cli, write_config) -> None:
    write_config('[jobs."mail"]\ncommand = "true"\n')
    out = cli.ok("add", "mail", "--batch", "-", "--label", "bulk", input="{}\n{}\n")
    batch = [int(line) for line in out.split()]
    assert ids(cli, "--label", "bulk") == batch[::-1]


def test_a_bad_label_is_one_line_and_adds_nothing(cli: Cli) -> None:
    for bad in ("a b", "", "x" * 65, "\x1b[31mred"):
        line = fail_one_line(cli("add", "--label", "ok", "--label", bad, "--", "true"), 2)
        assert "is not a label" in line and "\x1b" not in line
    many = [arg for n in range(21) for arg in ("--label", f"l{n}")]
    assert "at most 20" in fail_one_line(cli("add", *many, "--", "true"), 2)
    assert cli.count_jobs() == 0
    fail_one_line(cli("ls", "--label", "a/b"), 2)
    cli.ok("add", *many[:40], "--", "true")  # 20 is fine


def test_retry_cancel_and_purge_take_only_the_labelled_jobs(cli: Cli, daemons) -> None:
    failing = [
        int(cli.ok("add", "--label", "nightly", "--label", "db", "--", "false")),
        int(cli.ok("add", "--label", "nightly", "--", "false")),
        int(cli.ok("add", "--", "false")),
    ]
    daemons.start()
    wait_for(lambda: len(ids(cli, "--state", "failed")) == 3, what="three failed jobs")
    # retry --failed --label: only the failed jobs with every label given.
    retried = cli("retry", "--failed", "--label", "db", "--label", "nightly", check=True)
    assert retried.stdout.split() == [str(failing[0])]
    wait_for(lambda: cli.json("show", str(failing[0]))["attempts_total"] == 2, what="rerun")
    wait_for(lambda: len(ids(cli, "--state", "failed")) == 3, what="failed again")
    assert [cli.json("show", str(i))["attempts_total"] for i in failing] == [2, 1, 1]
    assert fail_one_line(cli("retry", "1", "--label", "db"), 2).endswith("go with --failed")

    # cancel --label: queued and running jobs with it, no other.
    slow = int(cli.ok("add", "--label", "slow", "--", "sleep", "60"))
    later = int(cli.ok("add", "--label", "slow", "--in", "1h", "--", "true"))
    other = int(cli.ok("add", "--in", "1h", "--", "true"))
    wait_for(lambda: cli.json("show", str(slow))["state"] == "running", what="running")
    out = cli("cancel", "--label", "slow", check=True)
    assert out.stdout.splitlines() == [
        f"{slow} cancelling (its daemon will stop it)",
        f"{later} cancelled",
    ]
    wait_for(lambda: cli.json("show", str(slow))["state"] == "cancelled", what="cancelled")
    assert cli.json("show", str(other))["state"] == "queued"
    assert fail_one_line(cli("cancel"), 2) == "jobctl: give job ids or --label"
    assert cli("cancel", "--label", "none-such", check=True).stdout == ""

    # purge --label: only finished jobs with it, and their labels go with them.
    dry = cli.ok("purge", "--older-than", "0s", "--label", "nightly", "--dry-run")
    assert dry.strip() == "would purge 2 job(s): 2 failed"
    assert cli.ok("purge", "--older-than", "0s", "--label", "nightly").strip() == "purged 2 job(s)"
    gone = set(failing[:2])
    assert gone.isdisjoint(ids(cli, "--limit", "100"))
    assert cli.rows("SELECT count(*) FROM job_labels WHERE job_id IN (?, ?)", tuple(gone)) == [(0,)]
    assert ids(cli, "--label", "slow") == [later, slow]  # not finished-and-nightly: kept


def test_migration_11_gives_an_older_database_labels(cli: Cli) -> None:
    path = Path(cli.db)
    path.parent.mkdir(parents=True)
    conn = apsw.Connection(str(path))
    conn.execute("PRAGMA journal_mode = WAL")
    for migration in MIGRATIONS[:10]:
        conn.execute(migration)
    conn.execute("INSERT INTO jobs (command, run_at, created_at) VALUES ('[\"true\"]', 0, 0)")
    conn.execute("PRAGMA user_version = 10")
    conn.close()
    path.chmod(0o600)
    assert cli.json("show", "1")["labels"] == []
    new = int(cli.ok("add", "--label", "after", "--", "true"))
    assert ids(cli) == [new, 1] and ids(cli, "--label", "after") == [new]


def test_an_older_dump_without_labels_loads_and_bad_labels_are_refused(
    cli: Cli, tmp_path: Path
) -> None:
    cli.ok("add", "--label", "keep", "--", "true")
    lines = cli.ok("dump").splitlines()
    job = json.loads(lines[1])
    assert job["job"]["labels"] == ["keep"]
    del job["job"]["labels"]
    older = other_cli(tmp_path, "older")
    older.ok("load", input="\n".join([lines[0], json.dumps(job), *lines[2:]]) + "\n")
    assert older.json("show", "1")["labels"] == []
    job["job"]["labels"] = ["bad label"]
    bad = other_cli(tmp_path, "bad")
    text = "\n".join([lines[0], json.dumps(job), *lines[2:]]) + "\n"
    assert "job.labels[0]" in fail_one_line(bad("load", input=text), 2)
    assert bad.count_jobs() == 0


def test_labels_on_postgres_and_through_dump_and_load(
    cli: Cli, pg_url: str, tmp_path: Path
) -> None:
    cli.ok("add", "--label", "nightly", "--label", "db", "--in", "1h", "--", "true")
    cli.ok("add", "--label", "nightly", "--in", "1h", "--", "true")
    pg = other_cli(tmp_path, "pg", pg_url)
    pg.ok("load", input=cli.ok("dump"))  # SQLite -> PostgreSQL
    third = int(pg.ok("add", "--label", "db", "--in", "1h", "--", "true"))
    assert ids(pg, "--label", "db") == [third, 1]
    assert ids(pg, "--label", "db", "--label", "nightly") == [1]
    assert pg.ok("cancel", "--label", "db").split() == ["1", "cancelled", str(third), "cancelled"]
    assert pg.ok("purge", "--older-than", "0s", "--label", "nightly").strip() == "purged 1 job(s)"
    assert pg.rows("SELECT job_id, label FROM job_labels ORDER BY job_id, label") == [
        (2, "nightly"),
        (third, "db"),
    ]
    back = other_cli(tmp_path, "back")
    back.ok("load", input=pg.ok("dump"))  # PostgreSQL -> SQLite
    assert [(j["id"], j["labels"]) for j in back.json("ls")] == [(third, ["db"]), (2, ["nightly"])]
