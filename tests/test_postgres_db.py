"""Opening a PostgreSQL database: URLs, migrations, notifications, errors.

Against a real server (tests/pg_server.py): each test has a schema of its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobctl import type_globs
from jobctl.errors import DatabaseError, InputError
from jobctl.store import postgres_db
from jobctl.store.postgres_db import SCHEMA_VERSION, explain_pg, mask_url, open_pg, parse_url
from jobctl.store.sqlite_db import open_db

# -- URLs -----------------------------------------------------------------------


def test_parse_url_takes_out_the_schema_and_keeps_the_rest() -> None:
    url = "postgresql://u@h:5433/db?sslmode=require&schema=jobs_2&application_name=x%20y"
    assert parse_url(url) == (
        "postgresql://u@h:5433/db?sslmode=require&application_name=x%20y",
        "jobs_2",
    )
    assert parse_url("postgres://") == ("postgres://", "jobctl")
    assert parse_url("postgresql:///db?schema=s") == ("postgresql:///db", "s")


@pytest.mark.parametrize(
    "query",
    [
        "schema=Jobctl",
        "schema=1st",
        "schema=a-b",
        f"schema={'a' * 64}",
        "schema=",
        "schema=a&schema=b",
    ],
)
def test_bad_schema_is_one_line_input_error(query: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_url(f"postgresql://u:hunter2@h/db?{query}")
    assert "\n" not in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_is_postgres_url() -> None:
    assert postgres_db.is_postgres_url("postgresql://h/db")
    assert postgres_db.is_postgres_url("postgres://")
    assert not postgres_db.is_postgres_url("/var/lib/jobctl.db")
    assert not postgres_db.is_postgres_url("postgresql.db")


_PLACE = "\x00"  # where the password goes in a template, then *** in the expected mask
_USER = st.text("abcdefghijklmnopqrstuvwxyz0123456789._-", min_size=1, max_size=10)
# No lone surrogates: a URL is UTF-8 text, and quote() cannot encode them.
_PASSWORD_CHARS = st.characters(exclude_characters="\x00", exclude_categories=("Cs",))
_RAW_PASSWORD_CHARS = st.characters(exclude_characters="\x00?#", exclude_categories=("Cs",))
_HOST = st.sampled_from(["db.example.com", "10.0.0.1:5432", "h1,h2:5433", "", "[::1]"])


@st.composite
def _url_with_password(draw: st.DrawFn) -> tuple[str, str, str]:
    """(url, the same URL with *** for the password, the password)."""
    password = draw(st.text(_PASSWORD_CHARS, min_size=1))
    user, host = draw(_USER), draw(_HOST)
    form = draw(st.sampled_from(["encoded", "raw", "query", "conninfo"]))
    tail = draw(st.sampled_from(["", "/db", "/db?sslmode=require", "?host=/tmp/x&schema=s"]))
    if form == "raw":  # a password pasted in unencoded: everything up to the last `@`
        password = draw(st.text(_RAW_PASSWORD_CHARS, min_size=1))
        template, written = f"postgresql://{user}:{_PLACE}@{host}{tail}", password
    elif form == "encoded":
        template, written = f"postgres://{user}:{_PLACE}@{host}{tail}", quote(password, safe="")
    elif form == "query":
        sep = "&" if "?" in tail else "?"
        template = f"postgresql://{user}@{host}{tail}{sep}password={_PLACE}&connect_timeout=5"
        written = quote(password, safe="")
    else:  # libpq's keyword=value form, which a message might carry
        escaped = password.replace("\\", "\\\\").replace("'", "\\'")
        template, written = f"host=h user={user} password={_PLACE} dbname=db", f"'{escaped}'"
    return template.replace(_PLACE, written), template.replace(_PLACE, "***"), password


@given(_url_with_password())
def test_mask_url_hides_every_password(case: tuple[str, str, str]) -> None:
    url, masked, _ = case
    assert mask_url(url) == masked


@given(st.text())
def test_mask_url_never_fails(text: str) -> None:
    assert isinstance(mask_url(text), str)


def test_mask_url_keeps_a_url_without_password() -> None:
    url = "postgresql://postgres:@/postgres?host=/tmp/x&schema=s"
    assert mask_url(url) == url


@given(st.text("abcdefghijklmnopqrstuvwxyz0123456789!$%&'()+,/:;=@[]^_`{|}~", min_size=8))
def test_an_error_never_shows_the_password(password: str) -> None:
    # pgserver trusts every local connection, so a real failed login cannot
    # be had: the server's message is made up, echoing the password as a
    # careless server or proxy might.
    url = f"postgresql://u:{quote(password, safe='')}@h/db?password={quote(password, safe='')}"
    exc = psycopg.OperationalError(
        f'connection failed: FATAL:  password authentication failed for user "u"\n'
        f"DETAIL: got {password} and {quote(password, safe='')}"
    )
    message = str(explain_pg(exc, url))
    assert "\n" not in message
    assert password not in message
    assert quote(password, safe="") not in message


def test_a_server_message_echoing_the_password_is_scrubbed(pg_server_url: str) -> None:
    # A real message from the server that repeats what it was sent: the
    # database name, here the same as the password (trust auth ignores it).
    secret = "s3cret-Pass-77"
    sep = "&" if "?" in pg_server_url else "?"
    url = f"{pg_server_url}{sep}password={secret}&dbname={secret}"
    with pytest.raises(DatabaseError) as caught:
        open_pg(url)
    message = str(caught.value)
    assert "\n" not in message
    assert secret not in message
    assert "does not exist" in message or "authentication" in message


def test_a_refused_connection_names_the_masked_url() -> None:
    with pytest.raises(DatabaseError) as caught:
        open_pg("postgresql://u:s3cret-Pass-77@127.0.0.1:1/db?connect_timeout=5")
    message = str(caught.value)
    assert "\n" not in message
    assert "s3cret-Pass-77" not in message
    assert "postgresql://u:***@127.0.0.1:1/db" in message


def test_missing_psycopg_is_one_line(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "sys.modules['psycopg'] = None\n"
        "from jobctl.errors import DatabaseError\n"
        "from jobctl.store.postgres_db import open_pg\n"
        "try:\n"
        "    open_pg('postgresql://u:pw@h/db')\n"
        "except DatabaseError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stderr == ""
    assert out.stdout == "PostgreSQL needs psycopg: pip install 'jobctl[postgres]'\n"


# -- opening and migrating ------------------------------------------------------


def _schema(url: str) -> str:
    return parse_url(url)[1]


def test_open_creates_the_schema_at_the_current_version(pg_url: str) -> None:
    schema = _schema(pg_url)
    with open_pg(pg_url) as conn:
        assert conn.autocommit
        assert conn.execute("SHOW search_path").fetchone() == (schema,)
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    with open_pg(pg_url) as conn:  # again: nothing to do
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]


_PG_TYPES = {"INTEGER": "bigint", "REAL": "double precision", "TEXT": "text", "BLOB": "bytea"}


def test_tables_columns_and_indexes_are_sqlites(pg_url: str, tmp_path: Path) -> None:
    lite = open_db(tmp_path / "jobctl.db")
    try:
        names = [r[0] for r in lite.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")]
        sqlite_tables = {
            name: [(c[1], _PG_TYPES[c[2]]) for c in lite.execute(f"PRAGMA table_info({name})")]
            for name in names
            if not name.startswith("sqlite_")
        }
        sqlite_indexes = {
            r[0]
            for r in lite.execute(
                "SELECT name FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL"
            )
        }
    finally:
        lite.close()
    with open_pg(pg_url) as conn:
        rows = conn.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = %s AND table_name <> 'schema_version'"
            " ORDER BY table_name, ordinal_position",
            [_schema(pg_url)],
        ).fetchall()
        pg_indexes = {
            r[0]
            for r in conn.execute(
                "SELECT indexname FROM pg_indexes"
                " WHERE schemaname = %s AND indexname NOT LIKE '%%pkey'",
                [_schema(pg_url)],
            )
        }
    pg_tables: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in rows:
        pg_tables.setdefault(table, []).append((column, data_type))
    assert pg_tables == sqlite_tables
    assert pg_indexes == sqlite_indexes


def test_many_opening_at_once_migrate_once(pg_url: str) -> None:
    # A second run of the migration would fail (the tables exist): every
    # opener succeeding shows that exactly one migrated.
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def opener() -> None:
        start.wait()
        try:
            open_pg(pg_url).close()
        except BaseException as exc:  # noqa: BLE001 - reported by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with open_pg(pg_url) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]


def test_processes_opening_at_once_migrate_once(pg_url: str, tmp_path: Path) -> None:
    go = tmp_path / "go"
    code = (
        "import os, sys, time\n"
        "from jobctl.store.postgres_db import open_pg\n"
        "while not os.path.exists(sys.argv[2]):\n"
        "    time.sleep(0.002)\n"
        "open_pg(sys.argv[1]).close()\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, pg_url, str(go)], stderr=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    go.touch()
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err


def test_an_up_to_date_database_opens_without_the_migration_lock(pg_url: str) -> None:
    # The URL's own options are kept beside the search_path: a lock timeout
    # makes waiting for the migration lock an error rather than a hang.
    url = pg_url + "&options=-c%20lock_timeout%3D1000"
    schema = _schema(pg_url)
    with psycopg.connect(parse_url(pg_url)[0], autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", [postgres_db._lock_key(schema)])
        with pytest.raises(DatabaseError, match="lock timeout"):
            open_pg(url)  # a new schema must be migrated, under the lock
        holder.execute("SELECT pg_advisory_unlock_all()")
        open_pg(url).close()
        holder.execute("SELECT pg_advisory_lock(%s)", [postgres_db._lock_key(schema)])
        with open_pg(url) as conn:
            assert conn.execute("SHOW lock_timeout").fetchone() == ("1s",)
            assert conn.execute("SHOW search_path").fetchone() == (schema,)


def test_a_newer_database_is_refused(pg_url: str) -> None:
    with open_pg(pg_url) as conn:
        conn.execute("UPDATE schema_version SET version = %s", [SCHEMA_VERSION + 1])
    with pytest.raises(DatabaseError) as caught:
        open_pg(pg_url)
    assert str(caught.value) == (
        f"the database has schema version {SCHEMA_VERSION + 1};"
        f" this jobctl knows up to {SCHEMA_VERSION}"
    )


# -- notifications --------------------------------------------------------------


def _heard(listener: psycopg.Connection, writer: psycopg.Connection, *sql: str) -> list[str]:
    """The payloads `listener` hears when `writer` runs `sql` in one transaction."""
    schema = _schema_of(writer)
    with writer.transaction():
        for statement in sql:
            writer.execute(statement)
    # Notifications arrive in commit order: the marker comes after all of them.
    writer.execute("SELECT pg_notify(%s, 'end-marker')", [schema])
    heard = []
    for note in listener.notifies(timeout=20):
        assert note.channel == schema
        if note.payload == "end-marker":
            return heard
        heard.append(note.payload)
    raise AssertionError(f"no end marker; heard {heard}")


def _schema_of(conn: psycopg.Connection) -> str:
    return conn.execute("SELECT current_schema()").fetchone()[0]


_JOB = "INSERT INTO jobs (queue, command, run_at, created_at) VALUES ('{}', '[\"true\"]', 0, 0)"


def test_each_transaction_notifies_each_queue_it_touched_once(pg_url: str) -> None:
    with open_pg(pg_url) as listener, open_pg(pg_url) as writer:
        listener.execute(f"LISTEN {_schema(pg_url)}")
        hundred = (
            "INSERT INTO jobs (queue, command, run_at, created_at)"
            " SELECT 'a', '[\"true\"]', 0, 0 FROM generate_series(1, 100)"
        )
        assert _heard(listener, writer, hundred) == ["a"]
        assert sorted(_heard(listener, writer, *[_JOB.format("b")] * 100, _JOB.format("c"))) == [
            "b",
            "c",
        ]
        assert _heard(listener, writer, "UPDATE jobs SET priority = 1 WHERE false") == []
        moved = sorted(_heard(listener, writer, "UPDATE jobs SET queue = 'd' WHERE queue = 'a'"))
        assert moved == ["a", "d"]
        assert _heard(listener, writer, "DELETE FROM jobs WHERE queue = 'd'") == ["d"]
        assert _heard(listener, writer, "INSERT INTO queues (name, paused) VALUES ('b', 1)") == [""]
        assert _heard(
            listener,
            writer,
            "INSERT INTO workers (name) VALUES ('w')",
            "UPDATE workers SET held = 1",
        ) == [""]


def test_another_schema_does_not_wake_this_one(pg_url: str, pg_server_url: str) -> None:
    from pg_server import private_schema

    with (
        private_schema(pg_server_url) as other_url,
        open_pg(other_url) as other,
        open_pg(pg_url) as listener,
        open_pg(pg_url) as writer,
    ):
        listener.execute(f"LISTEN {_schema(pg_url)}")
        other.execute(_JOB.format("a"))
        assert _heard(listener, writer, _JOB.format("b")) == ["b"]


# -- type globs -----------------------------------------------------------------

# The characters fnmatch treats specially, a range's worth of letters, one
# beyond ASCII, and a newline (which `*` and `?` match too).
_GLOB_CHARS = "ab-z!^[]*?\\:é\n"
# Bracket expressions are where translations go wrong: make many of them.
_BRACKET = st.builds("[{}{}]".format, st.sampled_from(["", "!"]), st.text("ab-z]^\\é!", max_size=5))
_PIECE = st.one_of(st.text(_GLOB_CHARS, max_size=3), _BRACKET)
_GLOB = st.one_of(st.just("-"), st.lists(_PIECE, max_size=3).map("".join))
_TYPE = st.one_of(st.none(), st.text(_GLOB_CHARS.replace("*", ""), max_size=6))


def test_type_glob_is_type_globs_matches(pg_url: str) -> None:
    with open_pg(pg_url) as conn:

        @settings(max_examples=400, deadline=None)
        @given(patterns=st.lists(_GLOB, max_size=3), names=st.lists(_TYPE, min_size=1, max_size=8))
        def agree(patterns: list[str], names: list[str | None]) -> None:
            found = conn.execute(
                "SELECT jobctl_type_glob(t, %s) FROM unnest(%s::text[]) WITH ORDINALITY AS n(t, i)"
                " ORDER BY i",
                [json.dumps(patterns), names],
            ).fetchall()
            expected = [int(type_globs.matches(name, patterns)) for name in names]
            assert [row[0] for row in found] == expected, (patterns, names)

        agree()


def test_type_glob_examples(pg_url: str) -> None:
    with open_pg(pg_url) as conn:

        def glob(name: str | None, *patterns: str) -> int:
            return conn.execute(
                "SELECT jobctl_type_glob(%s, %s)", [name, json.dumps(patterns)]
            ).fetchone()[0]

        assert glob("email:send", "email:*") == 1
        assert glob(None, "email:*") == 0
        assert glob(None, "email:*", "-") == 1
        assert glob(None, "*") == 1
        assert glob("-", "-") == 0
        assert glob("x", "[z-a]") == 0
        assert glob("a", "[a-a]") == 1
        assert glob("x", "[!b-a]") == 1
        assert glob("b", "[!a-c]") == 0
        assert glob("a", "[[:alpha:]]") == 0  # no POSIX classes in fnmatch
        assert glob("a") == 0
