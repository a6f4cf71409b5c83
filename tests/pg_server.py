"""A PostgreSQL server for the tests, and a fresh schema in it per test.

The server is `$JOBCTL_TEST_PG` (the URL of one that runs already) if set,
else a pgserver instance (PostgreSQL 16 binaries from PyPI) started once per
test session in a temporary folder and stopped at the end; it listens on a
unix socket only, with trust authentication.  Each test gets a schema of its
own, so tests never see each other's rows and need no cleanup between them
beyond dropping that schema.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from jobctl.store.postgres_db import parse_url


@contextmanager
def session_server() -> Iterator[str]:
    """The URL of a running server, for as long as the block lasts."""
    given = os.environ.get("JOBCTL_TEST_PG")
    if given:
        yield given
        return
    # platformdirs warns that XDG_RUNTIME_DIR is unset (as it is under root
    # and in containers) when pgserver picks the folder of its lock file.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

        folder = tempfile.mkdtemp(prefix="jobctl-pg-")
        # Under root pgserver runs PostgreSQL as its own `pgserver` user.
        server = pgserver.get_server(os.path.join(folder, "data"), cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


def with_schema(url: str, schema: str) -> str:
    """`url` with jobctl's `schema=` parameter set to `schema`."""
    conninfo, _ = parse_url(url)
    base, _, fragment = conninfo.partition("#")
    return f"{base}{'&' if '?' in base else '?'}schema={schema}" + (
        f"#{fragment}" if fragment else ""
    )


@contextmanager
def private_schema(server_url: str) -> Iterator[str]:
    """A URL naming a schema no other test uses; the schema is dropped afterwards."""
    import psycopg

    schema = f"test_{uuid.uuid4().hex[:16]}"
    try:
        yield with_schema(server_url, schema)
    finally:
        conninfo, _ = parse_url(server_url)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            # A connection the test left inside a transaction would make
            # the DROP wait for ever: fail instead.
            conn.execute("SET lock_timeout = '10s'")
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
