"""Shared fixtures: a private home for each test and a way to run the real CLI."""

from __future__ import annotations

import ast
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from jobctl.store import Store, is_postgres_url

# Property tests draw the same examples every run, so the suite is
# deterministic and a failure repeats; JOBCTL_HYPOTHESIS=explore varies them
# by hand.  No deadline: a loaded 2-core machine is not a slow function.
settings.register_profile("deterministic", derandomize=True, deadline=None, database=None)
settings.register_profile("explore", deadline=None)
settings.load_profile(os.environ.get("JOBCTL_HYPOTHESIS", "deterministic"))

# The console script pip installed next to this interpreter: the real command.
_SCRIPT = Path(sys.executable).with_name("jobctl")
JOBCTL = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "jobctl"]


class Cli:
    """Runs `jobctl` in a subprocess with the test's own database and folders."""

    def __init__(self, home: Path, db: str | None = None) -> None:
        self.home = home
        # An SQLite file by default; a `postgresql://` URL for the PostgreSQL runs.
        self.db: Any = db if db is not None else home / "state" / "jobctl.db"
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("JOBCTL_", "XDG_"))
        } | {
            "JOBCTL_DB": str(self.db),
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_STATE_HOME": str(home / "xdg-state"),
            "NO_COLOR": "1",
        }

    def __call__(
        self, *args: str, input: str | None = None, cwd: Path | None = None, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*JOBCTL, *args],
            input=input,
            capture_output=True,
            text=True,
            cwd=cwd or self.home,
            env=self.env,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"jobctl {' '.join(args)} failed: {result.stderr}")
        return result

    def ok(self, *args: str, input: str | None = None) -> str:
        """stdout of a command that must succeed."""
        return self(*args, input=input, check=True).stdout

    def json(self, *args: str) -> Any:
        """Parsed --json output; the flag goes before any `--`."""
        cut = args.index("--") if "--" in args else len(args)
        return json.loads(self.ok(*args[:cut], "--json", *args[cut:]))

    @property
    def postgres(self) -> bool:
        return is_postgres_url(self.db)

    def store(self) -> Store:
        return Store.open(self.db)

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """A read-only query with `?` placeholders, on either backend: the rows."""
        store = self.store()
        try:
            if self.postgres:
                sql = sql.replace("?", "%s")
            return [tuple(row) for row in store.conn.execute(sql, params).fetchall()]
        finally:
            store.close()

    def count_jobs(self) -> int:
        if not self.postgres and not self.db.exists():
            return 0
        return self.rows("SELECT count(*) FROM jobs")[0][0]


BACKENDS = ["sqlite", "postgres"]
# Runs a test once per backend: its `cli` (and so `daemons`) uses that database.
both_backends = pytest.mark.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """The test's backend: sqlite, unless the test is marked with both_backends."""
    return getattr(request, "param", "sqlite")


@pytest.fixture
def cli(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> Cli:
    if backend == "postgres":
        return Cli(tmp_path, db=request.getfixturevalue("pg_url"))
    return Cli(tmp_path)


@pytest.fixture(params=["sqlite", "postgres"])
def any_db(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """A database of either kind, for tests that open it themselves (the
    dashboard's): an SQLite file's path, or a URL with a schema of its own."""
    if request.param == "postgres":
        return request.getfixturevalue("pg_url")
    return tmp_path / "jobs.db"


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[str], Path]:
    """Writes jobs.toml into the test's folder, where the CLI will find it."""

    def write(text: str) -> Path:
        path = tmp_path / "jobs.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


def fail_one_line(result: subprocess.CompletedProcess[str], code: int) -> str:
    """Assert the documented error style; the message."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("jobctl: ")
    assert "Traceback" not in result.stderr
    return lines[0]


# -- daemons ------------------------------------------------------------------


def wait_for(condition: Callable[[], object], timeout: float = 20.0, what: str = "") -> object:
    """Poll `condition` until it is truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or condition}")


class Daemons:
    def __init__(self, cli: Cli) -> None:
        self.cli = cli
        self.procs: list[subprocess.Popen[str]] = []

    def start(self, *args: str) -> subprocess.Popen[str]:
        # The log goes to a file: an unread pipe would fill and block the daemon.
        log = open(self.log_path(len(self.procs)), "w")  # noqa: SIM115 - closed by the child's exit
        proc = subprocess.Popen(
            [*JOBCTL, "daemon", *args],
            cwd=self.cli.home,
            env=self.cli.env,
            stdout=subprocess.DEVNULL,
            stderr=log,
            text=True,
            start_new_session=True,
        )
        log.close()
        self.procs.append(proc)
        return proc

    def log_path(self, number: int) -> Path:
        return self.cli.home / f"daemon-{number}.log"

    def stop_all(self) -> None:
        # A second signal stops a daemon at once, and it kills its jobs'
        # process groups: a kill -9 alone would leave their commands running.
        # Two different signals, because the kernel merges a pending signal
        # with a second one of the same kind.
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.send_signal(signal.SIGINT)
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()


@pytest.fixture
def daemons(cli: Cli) -> Iterator[Daemons]:
    group = Daemons(cli)
    yield group
    group.stop_all()


def process_running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            return file.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:  # gone: reading a process that just ended fails with ESRCH too
        return False


def states(cli: Cli) -> dict[str, int]:
    return dict(cli.rows("SELECT state, count(*) FROM jobs GROUP BY state"))


def read_line(stream: Any, timeout: float = 20.0) -> str:
    """The next line from a pipe, failing (not hanging) after `timeout` seconds."""
    import threading

    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not got:
        raise AssertionError(f"no line within {timeout:g}s")
    return got[0]


def copies(marker: str) -> list[int]:
    """Live (not zombie) processes whose command line contains `marker`."""
    found = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout
    pids = []
    for pid in map(int, found.split()):
        try:
            with open(f"/proc/{pid}/stat", "rb") as file:
                if file.read().rsplit(b")", 1)[1].split()[0] != b"Z":
                    pids.append(pid)
        except OSError:  # ended meanwhile (ENOENT or ESRCH)
            pass
    return pids


def worker(cli: Cli, name: str) -> dict:
    """The `jobctl workers --json` entry of one worker."""
    return next(w for w in cli.json("workers")["workers"] if w["name"] == name)


def imports_of(cli: Cli, argv: list[str], packages: tuple[str, ...]) -> tuple[int, list[str]]:
    """Run `jobctl ARGV` in a fresh interpreter: its exit status, and which
    modules of `packages` it imported (the fast paths must import none)."""
    code = (
        "import sys\n"
        "from jobctl.__main__ import main\n"
        f"rc = main({argv!r})\n"
        f"print(rc, sorted(m for m in sys.modules if m.split('.')[0] in {packages!r}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=cli.env, cwd=cli.home
    )
    rc, _, modules = out.stdout.splitlines()[-1].partition(" ")
    return int(rc), ast.literal_eval(modules)


# -- PostgreSQL ---------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A PostgreSQL server for the whole session: $JOBCTL_TEST_PG, or a pgserver started once."""
    from pg_server import session_server

    with session_server() as url:
        yield url


@pytest.fixture
def pg_url(pg_server_url: str) -> Iterator[str]:
    """A `postgresql://` URL whose `schema=` is this test's own, dropped after it."""
    from pg_server import private_schema

    with private_schema(pg_server_url) as url:
        yield url
