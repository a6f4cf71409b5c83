"""Job labels (`jobctl add --label nightly`): what a label may be.

A label is a short name, so that it fits a column of `ls`, needs no quoting
in a shell or escaping on a terminal, and a filter on it is an exact match.
Checked where labels come in: add (the API and the command line), the
filters of ls/retry/cancel/purge, and `jobctl load`.  Cheap to import: it is
on `jobctl add`'s path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from jobctl.errors import InputError

MAX_LENGTH = 64
MAX_PER_JOB = 20
_LABEL = re.compile(rf"[A-Za-z0-9_.:-]{{1,{MAX_LENGTH}}}")


def is_label(text: object) -> bool:
    return isinstance(text, str) and _LABEL.fullmatch(text) is not None


def check(values: Iterable[str] | None, what: str = "--label") -> tuple[str, ...]:
    """`values` as a job stores them: checked, duplicates folded, sorted
    (the order they are read back in, whatever the order given)."""
    if not values:
        return ()
    if isinstance(values, str):
        values = (values,)  # labels="nightly" from Python: one label, not 7
    found = set()
    for value in values:
        if not is_label(value):
            shown = value[:40] + "..." if isinstance(value, str) and len(value) > 40 else value
            raise InputError(
                f"{what}: {shown!r} is not a label (1-{MAX_LENGTH} of letters, digits and - _ . :)"
            )
        found.add(value)
    if len(found) > MAX_PER_JOB:
        raise InputError(f"{what}: {len(found)} labels; a job has at most {MAX_PER_JOB}")
    return tuple(sorted(found))
