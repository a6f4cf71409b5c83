"""`jobctl completion --values queues|types`: the names a Tab press offers.

The one part of completion that runs at Tab time, so __main__ reaches it
without typer or click (about a fifth of a second less per press): it only
reads the jobs.toml the user's command would read.
"""

from __future__ import annotations

import sys


def fast_values(args: list[str]) -> bool:
    """Answer `completion --values KIND [--config FILE]` and say so; False
    for any other argv, which then goes through the typer app as usual."""
    if args[:2] != ["completion", "--values"] or len(args) not in (3, 5):
        return False
    if len(args) == 5 and args[3] != "--config":
        return False
    print_values(args[2], args[4] if len(args) == 5 else None)
    return True


def print_values(which: str, config: str | None) -> None:
    """Queue or type names from the jobs.toml the user's command would read, one a line.

    Any problem (no such file, invalid TOML, an unknown `which`) prints
    nothing: the shell then just offers no names.
    """
    try:
        from jobctl.config import find_config, load_config

        loaded = load_config(find_config(config))
        if which == "queues":
            names = {"default", *loaded.queues, *(t.queue for t in loaded.jobs.values())}
        elif which == "types":
            names = set(loaded.jobs)
        else:
            return
    except Exception:  # noqa: BLE001 - see the docstring
        return
    # One name a line: a name with a line break or control character could
    # not be told apart from two, nor be typed; such names are left out.
    sys.stdout.write("".join(f"{n}\n" for n in sorted(names) if n.isprintable()))
