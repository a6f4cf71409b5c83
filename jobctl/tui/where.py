"""The header's "where": the database (its password masked) and the config file."""

from __future__ import annotations

import os

from jobctl.store import describe_db

ELLIPSIS = "…"


def cut(text: str, width: int) -> str:
    """`text` in at most `width` characters, its middle replaced by "…" if it
    must be: a path keeps its root and its file name."""
    if len(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    head = (width - 1) // 2  # the file name's end matters most: the tail gets the odd one
    tail = width - 1 - head
    return text[:head] + ELLIPSIS + text[len(text) - tail :]


def where(db: str | os.PathLike[str], config: str | None, width: int) -> str:
    """ "db: … · config: …" in at most `width` characters, each path cut to fit."""
    shown_db = describe_db(db)
    shown_config = config or "none"
    frame = len("db: ") + len(" · config: ")
    room = max(2, width - frame)
    if len(shown_db) + len(shown_config) > room:
        # The shorter keeps all it needs of half the room; the other the rest.
        half = room // 2
        if len(shown_config) <= half:
            shown_db = cut(shown_db, room - len(shown_config))
        elif len(shown_db) <= half:
            shown_config = cut(shown_config, room - len(shown_db))
        else:
            shown_db = cut(shown_db, room - half)
            shown_config = cut(shown_config, half)
    return f"db: {shown_db} · config: {shown_config}"
