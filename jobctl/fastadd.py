"""A small argv parser for `jobctl add`, the one command on the hot path.

Importing typer (and click) costs about 45 ms here, most of a `jobctl add`.
This parser understands exactly the `add` options that cli.py declares and
returns None for anything else (--help, an unknown or malformed option), so
that typer parses it again and reports the error in its usual way.
tests/test_fastadd.py checks that both parsers agree.
"""

from __future__ import annotations

from jobctl.add_command import AddRequest

# option -> (AddRequest field, takes a value)
OPTIONS: dict[str, tuple[str, bool]] = {
    "--shell": ("shell", True),
    "--data": ("data", True),
    "--data-file": ("data_file", True),
    "--queue": ("queue", True),
    "--priority": ("priority", True),
    "--in": ("delay", True),
    "--at": ("at", True),
    "--max-attempts": ("max_attempts", True),
    "--timeout": ("timeout", True),
    "--unique": ("unique", True),
    "--after": ("after", True),
    "--label": ("labels", True),
    "--batch": ("batch", True),
    "--wait": ("wait", False),
    "--json": ("json", False),
    "--db": ("db", True),
    "--config": ("config", True),
}


# Options `jobctl` takes before any command (cli.py's app callback), as
# (name, takes a value); only these may come before `add` on the fast path.
GLOBALS: dict[str, bool] = {"--db": True, "--config": True}


def command_index(args: list[str]) -> int:
    """Where the command's name is in `args`: after any leading --db/--config."""
    i = 0
    while i < len(args):
        name, has_inline, _ = args[i].partition("=")
        if name not in GLOBALS:
            break
        i += 1 if has_inline else 2
    return i


def parse_add(args: list[str]) -> AddRequest | None:
    """The AddRequest for `jobctl add ARGS`, or None to let typer handle it."""
    request = AddRequest()
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            request.command = args[i:]
            break
        if not arg.startswith("-") or arg == "-":
            if request.type is not None:
                return None  # a second positional: typer explains
            request.type = arg
            continue
        name, has_inline, inline = arg.partition("=")
        spec = OPTIONS.get(name)
        if spec is None:
            return None
        dest, takes_value = spec
        if not takes_value:
            if has_inline:
                return None
            setattr(request, dest, True)
            continue
        if has_inline:
            value = inline
        elif i < len(args):
            value, i = args[i], i + 1
        else:
            return None  # missing value
        if dest in ("after", "labels"):  # repeatable
            getattr(request, dest).append(value)
        else:
            setattr(request, dest, value)  # given twice, the last wins, as in click
    return request
