"""Human and machine output for the CLI: tables, key/value blocks, JSON.

On a terminal: aligned tables, local times, colour unless NO_COLOR is set.
Piped: tab-separated rows with a header line and ISO 8601 UTC times, so
`cut -f1` and `awk -F'\\t'` work.  No rich here: it costs ~30 ms to import,
more than a whole `jobctl ls` should take.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import unicodedata
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TextIO

from jobctl.durations import format_duration
from jobctl.models import iso

_STATE_COLOURS = {
    "queued": "36",  # cyan
    "running": "33",  # yellow
    "succeeded": "32",  # green
    "failed": "31",  # red
    "cancelled": "2",  # dim
}


class Output:
    """Where and how to write: a terminal gets tables and colour, a pipe gets TSV."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty()
        self.colour = (
            self.tty and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"
        )

    def line(self, text: str = "") -> None:
        self.stream.write(text + "\n")

    def json(self, value: Any) -> None:
        self.stream.write(json_text(value, indent=2) + "\n")

    def state(self, state: str) -> str:
        code = _STATE_COLOURS.get(state)
        return f"\x1b[{code}m{state}\x1b[0m" if self.colour and code else state

    def time(self, ts: float | None) -> str:
        """Local and short on a terminal; ISO 8601 UTC when piped."""
        if ts is None:
            return "-" if self.tty else ""
        if not self.tty:
            return iso(ts) or ""
        moment = datetime.fromtimestamp(ts)
        if moment.date() == datetime.now().date():
            return moment.strftime("%H:%M:%S")
        return moment.strftime("%Y-%m-%d %H:%M")

    def ago(self, ts: float | None, now: float | None = None) -> str:
        if ts is None:
            return "-"
        delta = (now or time.time()) - ts
        return f"in {format_duration(-delta)}" if delta < 0 else f"{format_duration(delta)} ago"

    def table(
        self,
        headers: Sequence[str],
        rows: Sequence[Sequence[Any]],
        state_column: int | None = None,
    ) -> None:
        """An aligned table on a terminal; tab-separated lines when piped.

        Every cell is made safe (see `safe`); the cells of `state_column` are
        coloured afterwards, so colour never comes from user text.
        """
        cells = [[safe(cell) for cell in row] for row in rows]
        if not self.tty:
            self.line("\t".join(h.lower() for h in headers))
            for row in cells:
                self.line("\t".join(row))
            return
        widths = [max([len(h)] + [_width(row[i]) for row in cells]) for i, h in enumerate(headers)]
        self.line("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
        for row in cells:
            padded = []
            for i, (cell, width) in enumerate(zip(row, widths, strict=True)):
                pad = " " * (width - _width(cell))
                padded.append((self.state(cell) if i == state_column else cell) + pad)
            self.line("  ".join(padded).rstrip())

    def fields(self, pairs: Sequence[tuple[str, Any]]) -> None:
        """`key: value` lines, keys aligned; the value of "state" coloured."""
        width = max(len(k) for k, _ in pairs)
        for key, value in pairs:
            text = safe(value)
            self.line(f"{key + ':':<{width + 1}} {self.state(text) if key == 'state' else text}")


def safe(value: Any) -> str:
    """A cell as text with control characters made visible: user text must not
    move the cursor or recolour the terminal."""
    text = "" if value is None else str(value)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _visible(ch) for ch in text)


# What json.dumps(ensure_ascii=False) leaves raw that must not reach a
# terminal or an encoder: DEL and the C1 controls (U+009B starts an escape
# sequence like ESC [), lone surrogates (not UTF-8 at all), line separators.
_RAW_IN_JSON = re.compile("[\x7f-\x9f\ud800-\udfff\u2028\u2029]")


def json_text(value: Any, **options: Any) -> str:
    """JSON with non-ASCII text kept readable, and every control escaped."""
    text = json.dumps(value, ensure_ascii=False, **options)
    return _RAW_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def shorten(text: str | None, width: int) -> str:
    if not text:
        return ""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= width else line[: width - 1] + "…"


def _visible(ch: str) -> str:
    if ch == "\n":
        return "⏎"
    if ch == "\t":
        return " "
    return f"\\x{ord(ch):02x}" if ord(ch) < 256 else f"\\u{ord(ch):04x}"


def _width(text: str) -> int:
    """Terminal columns: wide East Asian characters take two."""
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def printable_output(data: bytes) -> str:
    """Stored job output for a terminal: undecodable bytes and control
    sequences shown escaped, newlines and tabs kept."""
    return printable_text(data.decode("utf-8", errors="backslashreplace"))


def printable_text(text: str) -> str:
    """Text with control characters (terminal escape sequences) shown escaped."""
    if text.isprintable():  # nearly always: no need to look at each character
        return text
    return "".join(ch if ch.isprintable() or ch in "\n\t" else _visible(ch) for ch in text)
