"""jobs.toml: discovery, validation messages, `jobctl check` and `jobctl init`."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Cli, fail_one_line

from jobctl.config import find_config, find_db, load_config
from jobctl.errors import ConfigError, InputError
from jobctl.models import Config

EXAMPLE = Path(__file__).parent.parent / "jobctl" / "jobs.toml.example"


def test_the_example_loads_and_declares_every_key() -> None:
    config = load_config(EXAMPLE)
    assert config.jobs and config.workers and config.queues and config.schedules
    text = EXAMPLE.read_text()
    from jobctl.models import JobType, WorkerSpec

    keys = set(JobType._fields) | set(WorkerSpec._fields) | set(Config._fields)
    keys -= {"name", "path", "jobs", "queues", "workers"}
    for key in keys:
        assert f"\n{key} = " in text, f"jobs.toml.example does not show {key}"


def test_the_root_example_is_the_package_one() -> None:
    root = Path(__file__).parent.parent / "jobs.toml.example"
    assert root.read_text() == EXAMPLE.read_text()


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "jobs.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return caught.value.problems


def test_an_error_names_file_line_table_and_key(tmp_path: Path) -> None:
    text = '[jobs.email]\ncommand = "true"\ntimeout = "5 minutes"\n'
    assert problems(tmp_path, text) == [
        f'{tmp_path}/jobs.toml:3: [jobs.email] timeout: "5 minutes" is not a duration '
        "(use 30s, 5m, 2h)"
    ]


def test_unknown_keys_say_did_you_mean(tmp_path: Path) -> None:
    [problem] = problems(tmp_path, '[jobs.email]\ncommand = "true"\nmax_attempt = 3\n')
    assert "[jobs.email] max_attempt: unknown key (did you mean max_attempts?)" in problem


def test_every_problem_is_listed(tmp_path: Path) -> None:
    text = (
        'durability = "fast"\n'
        "[jobs.a]\n"
        'command = "true"\n'
        'cron = "61 * * * *"\n'
        "[jobs.b]\n"
        'handler = "nocolon"\n'
        "retry_backoff = 0.5\n"
        "[workers.w]\n"
        'command = "sleep 1"\n'
        'restart = "sometimes"\n'
        "[queues.q]\n"
        "concurrency = 0\n"
    )
    found = problems(tmp_path, text)
    assert len(found) == 6, found
    assert any('cron "61 * * * *": minute 61 is out of range 0-59' in p for p in found)
    assert any("[workers.w] restart:" in p for p in found)


def test_a_type_needs_command_or_handler(tmp_path: Path) -> None:
    [problem] = problems(tmp_path, "[jobs.a]\nqueue = 'x'\n")
    assert "needs exactly one of command or handler" in problem


def test_invalid_toml_is_one_problem(tmp_path: Path) -> None:
    [problem] = problems(tmp_path, "[jobs.a\n")
    assert "invalid TOML" in problem


def test_discovery_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JOBCTL_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert find_config(None, tmp_path) is None
    user = tmp_path / "xdg" / "jobctl" / "jobs.toml"
    user.parent.mkdir(parents=True)
    user.write_text("")
    assert find_config(None, tmp_path) == user
    (tmp_path / "jobs.toml").write_text("")
    assert find_config(None, tmp_path) == tmp_path / "jobs.toml"
    monkeypatch.setenv("JOBCTL_CONFIG", str(user))
    assert find_config(None, tmp_path) == user
    with pytest.raises(InputError):
        find_config(str(tmp_path / "missing.toml"), tmp_path)


def test_db_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JOBCTL_DB", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert find_db(None, Config()) == tmp_path / "state" / "jobctl" / "jobctl.db"
    (tmp_path / "jobs.toml").write_text('db = "data/my.db"\n')
    config = load_config(tmp_path / "jobs.toml")
    assert find_db(None, config) == tmp_path / "data" / "my.db"
    monkeypatch.setenv("JOBCTL_DB", "/x/env.db")
    assert find_db(None, config) == Path("/x/env.db")
    assert find_db("/x/flag.db", config) == Path("/x/flag.db")


def test_check_lists_every_problem_and_exits_2(cli: Cli, write_config) -> None:
    write_config('[jobs.a]\ncommand = "true"\ntimeout = "soon"\nmax_attempts = 0\n')
    result = cli("check")
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 2
    assert "Traceback" not in result.stderr


def test_check_says_what_it_found(cli: Cli) -> None:
    out = cli.ok("check", "--config", str(EXAMPLE))
    assert "5 job type(s), 2 schedule(s), 1 worker(s)" in out


def test_commands_refuse_an_invalid_config(cli: Cli, write_config) -> None:
    write_config('[jobs.a]\ncommand = "true"\nbogus = 1\n')
    message = fail_one_line(cli("ls"), 2)
    assert "bogus: unknown key" in message


def test_init_writes_the_example_and_the_database(cli: Cli) -> None:
    cli.env.pop("JOBCTL_DB")
    out = cli.ok("init")
    assert (cli.home / "jobs.toml").read_text() == EXAMPLE.read_text()
    assert (cli.home / "jobctl.db").exists()  # `db =` of the example, next to it
    assert "jobs.toml" in out
    fail_one_line(cli("init"), 2)
    assert (cli.home / "jobs.toml").read_text() == EXAMPLE.read_text()


def test_a_lease_shorter_than_three_heartbeats_is_refused(tmp_path: Path) -> None:
    (problem,) = problems(tmp_path, 'lease = "1s"\n')
    assert "lease" in problem and "at least 3s" in problem
    path = tmp_path / "ok.toml"
    path.write_text('lease = "10s"\n')
    assert load_config(path).lease == 10.0


# -- `jobctl check` and handler modules ------------------------------------------

# `check` imports each handler's module, in a child process of its own.
HANDLER = "open(__file__ + '.ran', 'w').close()\ndef fn(payload, ctx):\n    pass\n"


def test_check_reports_handlers_whose_module_cannot_be_imported(cli: Cli, write_config) -> None:
    write_config(
        '[jobs.a]\nhandler = "nosuchmodule:fn"\n\n'
        '[jobs.b]\nhandler = "pkg.missing:fn"\n\n'
        '[workers.w]\nhandler = "nosuchworker.tasks:run"\n'
    )
    (cli.home / "pkg").mkdir()
    (cli.home / "pkg" / "__init__.py").write_text("")
    result = cli("check")
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 3, result.stderr
    jobs_toml = cli.home / "jobs.toml"
    assert lines == [
        f"{jobs_toml}:2: [jobs.a] handler: cannot import nosuchmodule (ModuleNotFoundError)",
        f"{jobs_toml}:5: [jobs.b] handler: cannot import pkg.missing (ModuleNotFoundError)",
        f"{jobs_toml}:8: [workers.w] handler: cannot import nosuchworker.tasks"
        " (ModuleNotFoundError)",
    ]
    # Only check looks: adding a job of such a type imports nothing, and works.
    assert cli.ok("add", "a").strip().isdigit()


def test_check_imports_handlers_beside_jobs_toml_and_installed(cli: Cli, write_config) -> None:
    write_config(
        '[jobs.local]\nhandler = "tasks:fn"\n\n'
        '[jobs.nested]\nhandler = "pkg.sub.tasks:fn"\n\n'
        '[jobs.installed]\nhandler = "jobctl.examples:greet"\n\n'
        '[jobs.module-attribute]\nhandler = "os.path:join"\n'  # os is no package
    )
    (cli.home / "tasks.py").write_text(HANDLER)
    (cli.home / "pkg" / "sub").mkdir(parents=True)
    (cli.home / "pkg" / "__init__.py").write_text("")
    (cli.home / "pkg" / "sub" / "tasks.py").write_text(HANDLER)  # no __init__: a namespace
    result = cli("check")
    assert result.returncode == 0, result.stderr
    assert "4 job type(s)" in result.stdout
    # Imported, in the config's folder, from the config's folder.
    assert (cli.home / "tasks.py.ran").exists()
    assert (cli.home / "pkg" / "sub" / "tasks.py.ran").exists()
