"""The overview's chart of jobs finished per minute over the last hour.

Succeeded and failed are drawn as two rows of bars on one scale (the
busiest minute of either), so that 20 failures stand a tenth as tall as 200
successes; an empty minute has no bar at all.  Under the bars: the minutes
("-60m … now") and the counts of the minute under the mouse, or else of the
latest minutes that had any.
"""

from __future__ import annotations

from rich.text import Text
from textual.events import Leave, MouseMove
from textual.widget import Widget

ROWS = 4  # lines per series
EIGHTHS = " ▁▂▃▄▅▆▇█"
GUTTER = 6  # the scale's label and the axis, left of the bars
MARKS = ((0, "-60m"), (15, "-45m"), (30, "-30m"), (45, "-15m"))


def bar_heights(counts: list[int], scale: int, rows: int = ROWS) -> list[int]:
    """Each count's bar height in eighths of a line, on `scale` (the count a
    full bar of `rows` lines stands for).  Zero stays zero; any other count
    gets at least one eighth, so that one failure is not drawn as none."""
    full = rows * 8
    if scale <= 0:
        return [0] * len(counts)
    return [0 if c <= 0 else max(1, min(full, round(c * full / scale))) for c in counts]


def bar_lines(heights: list[int], rows: int = ROWS) -> list[str]:
    """The bars as `rows` lines of text, top line first."""
    lines = []
    for row in range(rows):
        floor = (rows - 1 - row) * 8  # eighths below this line
        lines.append("".join(EIGHTHS[max(0, min(8, h - floor))] for h in heights))
    return lines


def minute_label(ago: int) -> str:
    return "now" if ago == 0 else f"-{ago}m"


class FinishedChart(Widget):
    """Bars of succeeded (green) over failed (red) per minute, one scale."""

    DEFAULT_CSS = f"""
    FinishedChart {{
        height: {2 * ROWS + 2};
    }}
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.succeeded: list[int] = [0] * 60
        self.failed: list[int] = [0] * 60
        self.hovered: int | None = None  # index into the series, under the mouse

    def show(self, succeeded: list[int], failed: list[int]) -> None:
        if (succeeded, failed) == (self.succeeded, self.failed):
            return  # a redraw costs more than this look
        self.succeeded, self.failed = list(succeeded), list(failed)
        self.refresh()

    @property
    def scale(self) -> int:
        return max([*self.succeeded, *self.failed, 0])

    def _shown(self) -> int:
        """How many of the latest minutes fit in the width."""
        return max(1, min(len(self.succeeded), self.size.width - GUTTER))

    def render(self) -> Text:
        shown = self._shown()
        first = len(self.succeeded) - shown
        scale = self.scale
        out = Text(no_wrap=True, overflow="ellipsis")
        for name, series, style in (
            ("ok", self.succeeded, "green"),
            ("fail", self.failed, "red"),
        ):
            lines = bar_lines(bar_heights(series[first:], scale))
            for row, line in enumerate(lines):
                label = f"{scale:>5}" if row == 0 else f"{name:>5}" if row == ROWS - 1 else ""
                out.append(f"{label:>5}│", style="dim")
                out.append(line, style=style)
                out.append("\n")
        out.append(" " * GUTTER + self._axis(shown, first) + "\n", style="dim")
        out.append(self.counts_line())
        return out

    def _axis(self, shown: int, first: int) -> str:
        axis = [" "] * shown
        for at, label in (*MARKS, (len(self.succeeded) - 3, "now")):
            at -= first
            if at >= 0 and at + len(label) <= shown:
                axis[at : at + len(label)] = label
        return "".join(axis)

    def counts_line(self) -> str:
        """The counts of the minute under the mouse; else of the latest minutes with any."""
        total = len(self.succeeded)
        if self.hovered is not None:
            i = self.hovered
            return (
                f"{minute_label(total - 1 - i)}: {self.succeeded[i]} succeeded,"
                f" {self.failed[i]} failed"
            )
        parts = [
            f"{minute_label(total - 1 - i)} {self.succeeded[i]} ok {self.failed[i]} failed"
            for i in reversed(range(total))
            if self.succeeded[i] or self.failed[i]
        ]
        if not parts:
            return "no job finished in the last hour"
        return "per minute, newest first: " + " · ".join(parts)

    def on_mouse_move(self, event: MouseMove) -> None:
        shown = self._shown()
        column = event.x - GUTTER
        hovered = len(self.succeeded) - shown + column if 0 <= column < shown else None
        if hovered != self.hovered:
            self.hovered = hovered
            self.refresh()

    def on_leave(self, event: Leave) -> None:
        if self.hovered is not None:
            self.hovered = None
            self.refresh()
