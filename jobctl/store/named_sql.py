"""Named SQL: each dialect's statements, loaded from `jobctl/sql/<dialect>/`.

A file of statements is a series of blocks, each headed `-- name: NAME` and
running up to the next.  Both dialects name the same statements alike, take
the same parameters and give rows of the same shape, so the code shared by
the two stores (sql_store.py and its parts) runs either.  Migrations are the
files whose names begin with a digit; the rest hold named statements.

Statements are written with SQLite's parameters, `:name` and `?`; for
PostgreSQL they are turned into psycopg's `%(name)s` and `%s` once, here.
"""

from __future__ import annotations

import re
from pathlib import Path

SQL_DIR = Path(__file__).parent.parent / "sql"

# A `:name` that is not half of a `::type` cast.
_NAMED = re.compile(r"(?<!:):(?!:)([A-Za-z_]\w*)")
# A comment to the end of the line (jobctl's statements hold no "--" in strings).
_COMMENT = re.compile(r"(^|\s)--.*$")


def load_named(path: Path) -> dict[str, str]:
    """The `-- name: NAME` blocks of a .sql file, each up to the next one."""
    blocks = re.split(r"^-- name: (\w+)\s*$", path.read_text(encoding="utf-8"), flags=re.M)
    return {name: body.strip() for name, body in zip(blocks[1::2], blocks[2::2], strict=True)}


def statements(dialect: str) -> dict[str, str]:
    """Every named statement of `dialect` ("sqlite" or "postgres"), ready to run."""
    found: dict[str, str] = {}
    for path in sorted((SQL_DIR / dialect).glob("*.sql")):
        if not path.name[0].isdigit() and path.name != "schema.sql":
            found |= load_named(path)
    if dialect == "postgres":
        found = {name: to_psycopg(sql) for name, sql in found.items()}
    return found


def to_psycopg(sql: str) -> str:
    """`sql` with SQLite's parameters as psycopg's, and literal `%` doubled.

    Comments go first: psycopg would take a `:name` in one for a parameter.
    """
    sql = "\n".join(_COMMENT.sub("", line) for line in sql.splitlines() if line.strip())
    sql = sql.replace("%", "%%").replace("?", "%s")
    return _NAMED.sub(r"%(\1)s", sql)


def migrations(dialect: str, names: tuple[str, ...]) -> list[str]:
    """The texts of a dialect's migration files, in the order given."""
    return [(SQL_DIR / dialect / name).read_text(encoding="utf-8") for name in names]
