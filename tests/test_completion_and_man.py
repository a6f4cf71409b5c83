"""`jobctl completion bash|zsh|fish` and `jobctl man`, through the real command.

The bash script is sourced into a real bash and its function called as bash
calls it (COMP_WORDS, COMP_CWORD); zsh and fish are exercised when installed.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import typer
from conftest import JOBCTL, Cli, fail_one_line, imports_of

from jobctl.cli import app

CONFIG = """\
[jobs."email:send"]
command = "echo {to}"
queue = "mail"

[jobs.report]
command = "echo report"

[queues.bulk]
concurrency = 2
"""

# Each case: the words so far (the last is the one being completed).
CASES = [
    [""],
    ["a"],
    ["ls", "--state", ""],
    ["purge", "--state", "f"],
    ["ls", "--queue", ""],
    ["pause", ""],
    ["add", "e"],
    ["add", "email", ":", "s"],  # bash splits at ":" (COMP_WORDBREAKS)
    ["ls", "--type", "=", "r"],
    ["--config", "other.toml", "resume", ""],
    ["daemon", "--log-format", ""],
    ["ls", "--"],
    ["--"],
]


def complete_in_bash(script: str, cases: list[list[str]], cwd: Path, env: dict[str, str]) -> list:
    """COMPREPLY for each case, from one bash that sourced the script."""
    program = [script, "_show() { printf '%s\\x1f' \"${COMPREPLY[@]}\"; printf '\\n'; }"]
    for words in cases:
        quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in [JOBCTL[-1], *words])
        program.append(f"COMP_WORDS=({quoted}); COMP_CWORD={len(words)}; _jobctl; _show")
    result = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", "\n".join(program)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return [set(filter(None, line.split("\x1f"))) for line in result.stdout.splitlines()]


def test_bash_completes_commands_options_states_and_config_names(cli: Cli) -> None:
    (cli.home / "jobs.toml").write_text(CONFIG)
    (cli.home / "other.toml").write_text('[jobs.other]\ncommand = "true"\nqueue = "elsewhere"\n')
    script = cli.ok("completion", "bash")
    replies = complete_in_bash(script, CASES, cli.home, cli.env)
    commands, a, states, finished, queues, paused, types, after_colon = replies[:8]
    typed_eq, other_config, log_formats, ls_options, global_options = replies[8:]
    assert {"add", "ls", "pause", "completion", "man"} <= commands
    assert a == {"add"}
    assert states == {"queued", "running", "succeeded", "failed", "cancelled"}
    assert finished == {"failed"}
    assert queues == paused == {"default", "mail", "bulk"}
    assert types == {"email:send"}
    assert after_colon == {"send"}  # bash replaces only what follows the ":"
    assert typed_eq == {"report"}
    assert other_config == {"default", "elsewhere"}  # --config on the line is read
    assert log_formats == {"text", "json"}
    assert {"--state", "--queue", "--type", "--json", "--db", "--help"} <= ls_options
    assert {"--db", "--config", "--version"} <= global_options

    # Every option of every command, as the live click tree has it (another
    # command or option added later is there without edits).
    root = typer.main.get_command(app)
    for name, command in root.commands.items():  # type: ignore[attr-defined]
        if command.hidden:
            continue
        assert name in commands
        options = {
            opt for p in command.params if not getattr(p, "hidden", False) for opt in p.opts
        } - {p.name for p in command.params}
        assert options <= complete_in_bash(script, [[name, "-"]], cli.home, cli.env)[0], name


def test_names_from_jobs_toml_are_never_run_by_the_shell(cli: Cli) -> None:
    hostile = "$(touch pwned)"
    (cli.home / "jobs.toml").write_text(f'[queues."{hostile}"]\nconcurrency = 1\n')
    script = cli.ok("completion", "bash")
    [queues] = complete_in_bash(script, [["ls", "--queue", ""]], cli.home, cli.env)
    assert queues == {"default", "\\$\\(touch\\ pwned\\)"}  # quoted as the shell needs
    assert not (cli.home / "pwned").exists()


def test_values_callback_is_silent_on_any_problem(cli: Cli) -> None:
    (cli.home / "jobs.toml").write_text("[jobs.x\n")  # invalid TOML
    for args in (
        ("--values", "queues"),
        ("--values", "types", "--config", str(cli.home / "missing.toml")),
        ("--values", "nonsense"),
    ):
        result = cli("completion", *args)
        assert (result.returncode, result.stdout, result.stderr) == (0, "", ""), args
    fail_one_line(cli("completion", "tcsh"), 2)
    fail_one_line(cli("completion"), 2)


def test_a_tab_on_names_loads_neither_typer_nor_click(cli: Cli) -> None:
    (cli.home / "jobs.toml").write_text('[jobs.mail]\ncommand = "true"\nqueue = "email"\n')
    for argv in (["completion", "--values", "queues"], ["completion", "--values", "types"]):
        rc, modules = imports_of(cli, argv, ("typer", "click", "rich"))
        assert (rc, modules) == (0, []), argv
    assert cli.ok("completion", "--values", "queues") == "default\nemail\n"


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_script_loads_and_completes(cli: Cli) -> None:
    (cli.home / "jobs.toml").write_text(CONFIG)
    path = cli.home / "_jobctl"
    path.write_text(cli.ok("completion", "zsh"))
    # bashcompinit calls the function under `emulate -L sh`, with zsh's words.
    program = (
        f"autoload -U compinit && compinit -u -d {cli.home}/zcompdump; source {path}; "
        "f() { emulate -L sh; setopt kshglob noshglob braceexpand; "
        f"COMP_WORDS=({JOBCTL[-1]} ls --queue m); COMP_CWORD=3; _jobctl; "
        'print -r -- "${COMPREPLY[@]}"; }; f'
    )
    result = subprocess.run(
        ["zsh", "-f", "-c", program], capture_output=True, text=True, cwd=cli.home, env=cli.env
    )
    assert (result.returncode, result.stdout) == (0, "mail\n"), result.stderr


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_script_loads_and_completes(cli: Cli) -> None:
    (cli.home / "jobs.toml").write_text(CONFIG)
    path = cli.home / "jobctl.fish"
    path.write_text(cli.ok("completion", "fish"))
    env = cli.env | {"PATH": f"{Path(JOBCTL[-1]).parent}:{cli.env.get('PATH', '')}"}
    result = subprocess.run(
        [
            "fish",
            "--no-config",
            "-c",
            f"source {path}; complete -C 'jobctl ls --state '; complete -C 'jobctl pause '",
        ],
        capture_output=True,
        text=True,
        cwd=cli.home,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == {
        "queued",
        "running",
        "succeeded",
        "failed",
        "cancelled",
        "default",
        "mail",
        "bulk",
    }


def test_man_page_is_valid_roff_with_every_command(cli: Cli) -> None:
    page = cli.ok("man")
    assert page.startswith(".TH JOBCTL 1 ")
    assert "\n.SH NAME\njobctl \\- " in page
    root = typer.main.get_command(app)
    for name, command in root.commands.items():  # type: ignore[attr-defined]
        if not command.hidden:
            assert f"\n.SS {name}\n" in page
    assert "\\fB\\-\\-older\\-than\\fR \\fIDURATION\\fR" in page  # purge's option
    assert "jobctl ls \\-\\-state failed \\-\\-limit 20" in page  # an example, kept as written
    assert "--values" not in page and "\\-\\-values" not in page  # hidden stays hidden
    if shutil.which("groff"):
        shown = subprocess.run(
            ["groff", "-man", "-Tutf8", "-ww"], input=page, capture_output=True, text=True
        )
        assert shown.returncode == 0 and shown.stderr == "", shown.stderr
        assert "Add a job and print its id." in shown.stdout


def test_roff_control_characters_are_escaped() -> None:
    from jobctl.manpage import _text

    assert _text(".so /etc/passwd") == "\\&.so /etc/passwd"
    assert _text("'br") == "\\&'br"
    assert _text("a\\fB-b") == "a\\efB\\-b"
