"""Opens a PostgreSQL database: a `postgresql://` URL, jobctl's schema, migrations.

The PostgreSQL twin of sqlite_db.py.  jobctl's tables live in one schema
(`?schema=NAME`, default `jobctl`), which is the connection's search_path, so
the named statements never spell it out and two jobctl installations can
share a database.  psycopg is imported only here, and only when a URL is
opened: SQLite users need not install it.
"""

from __future__ import annotations

import hashlib
import os
import re
from typing import TYPE_CHECKING
from urllib.parse import unquote

from jobctl.errors import DatabaseError, InputError
from jobctl.store.contract import is_postgres_url
from jobctl.store.named_sql import migrations

if TYPE_CHECKING:
    import psycopg

DEFAULT_SCHEMA = "jobctl"
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
# jobctl's own URL parameters, taken out before the rest goes to libpq.
_OWN_PARAMETERS = ("schema", "poll_only")

# Migration N brings <schema>.schema_version from N-1 to N.  Append, never edit.
_MIGRATION_FILES = ("001_schema.sql", "002_labels.sql", "003_queue_parallel.sql")
MIGRATIONS: list[str] = migrations("postgres", _MIGRATION_FILES)
SCHEMA_VERSION = len(MIGRATIONS)


def parse_url(url: str) -> tuple[str, str]:
    """(conninfo for libpq, schema): `url` without jobctl's own `schema=` parameter.

    Everything else goes to libpq as written, so its PG* environment
    variables, service files and parameters keep working.
    """
    if not is_postgres_url(url):
        raise InputError(f"not a PostgreSQL URL: {mask_url(url)}")
    base, question, rest = url.partition("?")
    query, hash_, fragment = rest.partition("#")
    kept: list[str] = []
    schemas: list[str] = []
    for part in query.split("&") if query else []:
        key, _, value = part.partition("=")
        if unquote(key) == "schema":
            schemas.append(unquote(value))
        elif unquote(key) not in _OWN_PARAMETERS:
            kept.append(part)
    if len(schemas) > 1:
        raise InputError(f"{mask_url(url)}: `schema=` is given {len(schemas)} times")
    schema = schemas[0] if schemas else DEFAULT_SCHEMA
    if not _SCHEMA_NAME.fullmatch(schema):
        raise InputError(
            f"schema {schema!r} in {mask_url(url)}: use 1-63 of a-z, 0-9 and _, not a digit first"
        )
    conninfo = base + ("?" + "&".join(kept) if kept else "") + hash_ + fragment
    return conninfo, schema


def poll_only(url: str) -> bool:
    """`?poll_only=true`: never LISTEN, for a pooler in transaction mode, which
    cannot keep a listening session: readers ask the server instead."""
    query = url.partition("?")[2].partition("#")[0]
    for part in query.split("&") if query else []:
        key, _, value = part.partition("=")
        if unquote(key) == "poll_only":
            if unquote(value).lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise InputError(f"poll_only={value!r} in {mask_url(url)}: use true or false")
            return unquote(value).lower() in ("true", "1", "yes")
    return False


# The password of `scheme://user:PASSWORD@host`: up to the last `@` before the
# path or query, since an unencoded `@` or `:` in a password is a common slip.
_USERINFO = re.compile(
    r"^(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:@/?#]*:)(?P<secret>[^?#]*)(?P<tail>@)"
)
# `password=` as a URL query parameter or a conninfo keyword (quoted or not).
_PASSWORD_PARAM = re.compile(
    r"(?P<head>(?:^|[?&\s])password\s*=\s*)(?P<secret>'(?:[^'\\]|\\.)*'?|[^&\s#]*)(?P<tail>)"
)


def mask_url(url: str) -> str:
    """`url` with every password it holds shown as `***`; never fails."""
    try:
        text = str(url)
        text = _USERINFO.sub(_masked, text, count=1)
        return _PASSWORD_PARAM.sub(_masked, text)
    except Exception:  # noqa: BLE001 - a message about a bad URL must not fail in turn
        return "<PostgreSQL URL>"


def _masked(match: re.Match[str]) -> str:
    # An empty password hides nothing, and `user:@host` (pgserver's) reads better kept.
    return match["head"] + ("***" if match["secret"] else "") + match["tail"]


def _passwords(url: str) -> list[str]:
    """Every password `url` (and PGPASSWORD) holds, as written and decoded."""
    found = [os.environ.get("PGPASSWORD", "")]
    for pattern in (_USERINFO, _PASSWORD_PARAM):
        for match in pattern.finditer(url):
            secret = match.group("secret")
            found += [secret, unquote(secret), secret.strip("'")]
    return sorted({s for s in found if s}, key=len, reverse=True)


def explain_pg(exc: Exception, url: str) -> DatabaseError:
    """A one-line DatabaseError for a psycopg error, naming `url` with no password."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    message = f"PostgreSQL {mask_url(url)}: {text}"
    # A server may echo what it was sent (a database name, an option), and
    # a password may sit elsewhere in the URL too: none leaves this function.
    for secret in _passwords(url):
        message = message.replace(secret, "***")
    return DatabaseError(message)


def open_pg(url: str) -> psycopg.Connection:
    """An autocommit connection to `url`, its schema created or migrated if need be.

    On an up-to-date database this costs one query and takes no lock.
    """
    conninfo, schema = parse_url(url)
    try:
        import psycopg
    except ImportError:
        raise DatabaseError("PostgreSQL needs psycopg: pip install 'jobctl[postgres]'") from None
    try:
        conn = psycopg.connect(conninfo, autocommit=True, options=_options(conninfo, schema))
        try:
            _migrate(conn, schema)
        except BaseException:
            conn.close()
            raise
    except psycopg.Error as exc:
        raise explain_pg(exc, url) from None
    return conn


def _options(conninfo: str, schema: str) -> str:
    """The `options` startup parameter: the URL's own (or $PGOPTIONS), then the search_path.

    A startup parameter, not a SET: behind pgbouncer in transaction mode a SET
    stays on whichever server connection ran it, and then serves other
    clients, while a pooler that honours the startup parameter applies it to
    every server connection it lends this client.  One that drops it is
    caught by _check_search_path.  An explicit `options` replaces the one
    libpq would have taken from the environment, so that one is kept in front.
    """
    from psycopg.conninfo import conninfo_to_dict

    given = conninfo_to_dict(conninfo).get("options") or os.environ.get("PGOPTIONS", "")
    return f"{given} -c search_path={schema}".strip()


def _migrate(conn: psycopg.Connection, schema: str) -> None:
    import psycopg

    try:
        found, version = conn.execute(
            f"SELECT current_schema(), (SELECT max(version) FROM {schema}.schema_version)"
        ).fetchone()
    except psycopg.errors.UndefinedTable:
        found, version = None, None  # a new database, or a new schema in it
    if version is not None and version > SCHEMA_VERSION:
        raise _too_new(version)
    if version == SCHEMA_VERSION:
        _check_search_path(found, schema)
        return
    with conn.transaction():
        # Several hosts may start at once: one migrates, the others wait here
        # and then find the work done.  The lock ends with the transaction.
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [_lock_key(schema)])
        # CREATE SCHEMA IF NOT EXISTS would still need the right to create
        # schemas, which a user given only a ready schema lacks.
        if not conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema]).fetchone():
            conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {schema}.schema_version (version bigint NOT NULL)"
        )
        version = conn.execute(f"SELECT max(version) FROM {schema}.schema_version").fetchone()[0]
        version = version or 0
        if version > SCHEMA_VERSION:
            raise _too_new(version)
        for number in range(version, SCHEMA_VERSION):
            conn.execute(MIGRATIONS[number])
        if version < SCHEMA_VERSION:
            conn.execute(f"DELETE FROM {schema}.schema_version")
            conn.execute(
                f"INSERT INTO {schema}.schema_version (version) VALUES (%s)", [SCHEMA_VERSION]
            )
        _check_search_path(conn.execute("SELECT current_schema()").fetchone()[0], schema)


def _check_search_path(found: str | None, schema: str) -> None:
    # Without it every statement would run against another schema's tables
    # (public's, say): fail now, not with "no such table" later.
    if found != schema:
        raise DatabaseError(
            f"the search_path is {found or 'empty'}, not {schema}: "
            "a connection pooler may drop the `options` startup parameter"
        )


def _lock_key(schema: str) -> int:
    """The advisory lock of `schema`'s migrations: a signed 64-bit key, stable across versions."""
    digest = hashlib.sha256(f"jobctl migrate {schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _too_new(version: int) -> DatabaseError:
    return DatabaseError(
        f"the database has schema version {version}; this jobctl knows up to {SCHEMA_VERSION}"
    )
