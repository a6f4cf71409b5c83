"""Job type filters: shell-style globs (fnmatch.fnmatchcase) over type names.

Used by `jobctl daemon --types` (and $JOBCTL_TYPES) and by the `--type`
option of `ls`, `retry --failed` and `purge`.  An ad hoc command has no
type: it matches the pattern `-` (reserved, no type can be named so), and
any pattern that matches the empty name, such as `*` (so `*` is "every job",
as no filter at all).  `email:*` therefore leaves ad hoc commands out;
`email:*,-` takes email jobs and ad hoc commands.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from fnmatch import fnmatchcase
from functools import lru_cache

ADHOC = "-"  # the pattern that stands for ad hoc commands (type NULL)
ADHOC_NAME = ""  # how an ad hoc command's type is matched, and listed to the claim


def parse(values: str | Iterable[str] | None) -> list[str] | None:
    """Comma-separated (or repeated) patterns; None when there are none."""
    if values is None:
        return None
    if isinstance(values, str):
        values = [values]
    patterns = [p.strip() for value in values for p in value.split(",") if p.strip()]
    return patterns or None


def matches(type_name: str | None, patterns: Sequence[str]) -> bool:
    """Whether a job of `type_name` (None: an ad hoc command) is one of `patterns`."""
    if type_name is None:
        return any(p == ADHOC or fnmatchcase(ADHOC_NAME, p) for p in patterns)
    return any(p != ADHOC and fnmatchcase(type_name, p) for p in patterns)


def resolve(patterns: Sequence[str], known: Iterable[str]) -> list[str]:
    """The names of `known` types that match, sorted, and "" if ad hoc commands do."""
    names = sorted(name for name in known if matches(name, patterns))
    return [*names, ADHOC_NAME] if matches(None, patterns) else names


def sql_function(type_name: str | None, patterns_json: str) -> int:
    """`jobctl_type_glob(type, :patterns)` in SQL (see Store.__init__)."""
    return int(matches(type_name, _patterns(patterns_json)))


@lru_cache(maxsize=64)
def _patterns(patterns_json: str) -> tuple[str, ...]:
    return tuple(json.loads(patterns_json))
