"""The `jobctl` command: dispatch, and the one place errors become exit codes.

`jobctl add` takes a fast path that never imports typer (see fastadd.py);
everything else goes through the typer app in cli.py.
"""

from __future__ import annotations

import os
import sys

from jobctl.errors import JobctlError


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    debug, args = _take_debug(args)
    if args[:1] == ["daemon"]:
        from jobctl import stop_signals

        stop_signals.install()  # first: a SIGTERM during start-up must not kill it
    try:
        code = _dispatch(args)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's last flush
        return code
    except JobctlError as exc:
        if debug:
            raise
        _error(exc.message)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`jobctl ls | head`): not an error, exit 0,
        # whichever command (typer's own handling, exit 1, is bypassed: see
        # cli.run).  Point stdout at /dev/null so the interpreter's final
        # flush stays quiet (the Python docs' signal page, "Note on SIGPIPE").
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        if debug:
            raise
        _error(f"internal error: {exc!r} (run again with --debug for the traceback)")
        return 1


def _dispatch(args: list[str]) -> int:
    from jobctl.fastadd import command_index, parse_add

    # `jobctl --db X add ...` too: the leading globals are `add` options as well
    # (given twice, the later one, after `add`, wins).
    at = command_index(args)
    if args[at : at + 1] == ["add"]:
        request = parse_add(args[:at] + args[at + 1 :])
        if request is not None:
            from jobctl.add_command import run_add

            return run_add(request)
    from jobctl.completion_values import fast_values

    if fast_values(args):
        return 0
    from jobctl.cli import run

    return run(args)


def _take_debug(args: list[str]) -> tuple[bool, list[str]]:
    """--debug anywhere before `--` (or JOBCTL_DEBUG=1) shows tracebacks."""
    debug = os.environ.get("JOBCTL_DEBUG", "") not in ("", "0")
    end = args.index("--") if "--" in args else len(args)
    if "--debug" in args[:end]:
        args = [a for a in args[:end] if a != "--debug"] + args[end:]
        debug = True
    return debug, args


def _error(message: str) -> None:
    # One line, whatever the message holds: it may quote user text (a type
    # name, a command, a job's error), whose control characters are shown
    # escaped rather than sent to the terminal.
    from jobctl.render import safe

    sys.stderr.write("jobctl: " + safe(" ".join(message.split("\n"))) + "\n")


if __name__ == "__main__":
    sys.exit(main())
