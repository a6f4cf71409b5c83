"""A payload value must not become an option of the command it fills (issue 13,
item 9), nor ask for unbounded padding through a format spec."""

from __future__ import annotations

from conftest import Cli, fail_one_line

SORT = '[jobs.sort]\ncommand = "sort --output={out} {file}"\n'


def test_a_value_that_would_be_an_option_is_refused_naming_the_field(
    cli: Cli, write_config
) -> None:
    write_config(SORT)
    line = fail_one_line(
        cli("add", "sort", "--data", '{"out": "/dev/null", "file": "--output=/tmp/x"}'), 2
    )
    assert '"file"' in line and "allow_dash_values" in line
    fail_one_line(cli("add", "sort", "--batch", "-", input='{"out": "o", "file": "-"}\n'), 2)
    assert cli.count_jobs() == 0  # nothing written
    # Inside an argument that is an option already, a "-" is only its value.
    assert cli.ok("add", "sort", "--data", '{"out": "-x", "file": "a"}').strip() == "1"


def test_a_type_may_allow_such_values(cli: Cli, write_config) -> None:
    write_config(SORT + "allow_dash_values = true\n")
    assert cli.ok("add", "sort", "--data", '{"out": "o", "file": "-r"}').strip() == "1"


def test_format_specs_are_bounded(cli: Cli, write_config) -> None:
    write_config('[jobs.pad]\ncommand = "echo {x:>999999999}"\n')
    assert "width or precision" in fail_one_line(cli("ls"), 2)
    write_config('[jobs.key]\ncommand = "true"\nunique = "{x:>999999999}"\n')
    assert "width or precision" in fail_one_line(cli("ls"), 2)
    write_config('[jobs.key]\ncommand = "true"\n')
    line = fail_one_line(cli("add", "key", "--data", '{"x": 1}', "--unique", "{x:>99999999}"), 2)
    assert "width or precision" in line


def test_a_nul_byte_for_an_argument_is_refused_at_add(cli: Cli, write_config) -> None:
    write_config('[jobs.echo]\ncommand = "echo {x}"\n')
    line = fail_one_line(cli("add", "echo", "--data", '{"x": "a\\u0000b"}'), 2)
    assert '"x"' in line and "NUL" in line
    assert cli.count_jobs() == 0
