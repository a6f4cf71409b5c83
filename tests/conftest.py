"""Shared fixtures: a private home for each test and a way to run the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from jobctl.store import Store

# The console script pip installed next to this interpreter: the real command.
_SCRIPT = Path(sys.executable).with_name("jobctl")
JOBCTL = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "jobctl"]


class Cli:
    """Runs `jobctl` in a subprocess with the test's own database and folders."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.db = home / "state" / "jobctl.db"
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

    def store(self) -> Store:
        return Store.open(self.db)

    def count_jobs(self) -> int:
        if not self.db.exists():
            return 0
        store = self.store()
        try:
            return store.conn.execute("SELECT count(*) FROM jobs").fetchall()[0][0]
        finally:
            store.close()


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


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
