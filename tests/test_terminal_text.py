"""Nothing raw reaches a terminal: user text in errors, --json and the daemon's
log has its control characters escaped (issue 13, item 8; the TUI and the
tables are tested with them)."""

from __future__ import annotations

from conftest import Cli, fail_one_line

OSC = "\x1b]0;pwned\x07"  # retitles a terminal
CSI_C1 = "\x9b2J"  # clears it: U+009B is ESC [ in one character


def test_an_error_quoting_user_text_escapes_it(cli: Cli) -> None:
    line = fail_one_line(cli("add", f"nosuch{OSC}type"), 2)
    assert "\x1b" not in line and "\x07" not in line
    assert "\\x1b]0;pwned\\x07" in line


def test_json_escapes_c1_controls_and_lone_surrogates(cli: Cli, write_config) -> None:
    write_config('[jobs.t]\ncommand = "true"\n')
    data = '{"clear": "\\u009b2J", "half": "\\ud800"}'
    added = cli("add", "t", "--data", data, "--json")
    assert added.returncode == 0, added.stderr
    for text in (added.stdout, cli.ok("show", "1", "--json")):
        assert "\x9b" not in text
        assert "\\u009b2J" in text and "\\ud800" in text
    assert '"id": 1' in cli.ok("ls", "--json")


def test_the_daemon_log_escapes_a_commands_controls(cli: Cli, daemons) -> None:
    cli.ok("add", "--", "true", OSC, CSI_C1)
    assert daemons.start("--drain").wait(timeout=60) == 0
    log = daemons.log_path(0).read_text()
    assert "succeeded" in log
    assert "\x1b" not in log and "\x9b" not in log and "\x07" not in log
