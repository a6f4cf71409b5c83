"""{field} templates filled from a payload: a command's arguments, a unique key.

Two dangers a payload brings with it.  A value that begins with "-" fills
an argument the command reads as an option (`sort {file}` with
`--output=/etc/x` writes that file): refused unless the type says
`allow_dash_values = true`.  A format spec such as `{x:>999999999}` asks
for a gigabyte of padding: widths and precisions are bounded.
"""

from __future__ import annotations

import re
import string

from jobctl.errors import InputError

MAX_SPEC_NUMBER = 4096  # the widest width or precision a template may ask for
_NUMBER = re.compile(r"\d+")


def check_template(template: str) -> None:
    """Refuse a template whose format specs ask for more than MAX_SPEC_NUMBER."""
    if "{" not in template:
        return
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise InputError(f'"{template}" is not a template: {exc}') from None
    for _, _, spec, _ in parts:
        if spec and any(int(n) > MAX_SPEC_NUMBER for n in _NUMBER.findall(spec)):
            raise InputError(f'"{template}" asks for a width or precision over {MAX_SPEC_NUMBER}')


def fields(text: str) -> list[str]:
    """The {field} names of a template; none if it is not one."""
    try:
        return [name for _, name, _, _ in string.Formatter().parse(text) if name]
    except ValueError:
        return []


def nul_field(part: str, filled: str, type_name: str | None) -> None:
    """Refuse an argument holding a NUL byte: no program can be given one."""
    if "\0" in filled:
        raise InputError(
            f'the payload field "{_first(part)}" holds a NUL byte,'
            f" which no argument of the command of {type_name} can"
        )


def dash_field(part: str, filled: str, type_name: str | None) -> None:
    """Refuse an argument that a {field} made begin with "-"."""
    if filled.startswith("-") and not part.startswith("-"):
        field = _first(part)
        raise InputError(
            f'the payload field "{field}" makes an argument that begins with "-"'
            f" ({filled[:40]!r}), which the command would read as an option"
            f" (set allow_dash_values = true in [jobs.{type_name}] to allow it)"
        )


def _first(part: str) -> str:
    names = fields(part)
    return names[0] if names else "?"
