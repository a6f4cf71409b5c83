"""The jobs table: a line-API widget that keeps each row's drawn line.

Not a DataTable: at 20 jobs a second new rows push every row down about
2.5 times a second, and DataTable lays out and styles every visible
cell again each time (more than half of the dashboard's CPU).  Here a row
is drawn once for the cell objects it shows (tables.JobRows hands back the
very same list while nothing shown changed, and the same cell objects for
the cells that did not), and a line on screen is that drawing cropped to
the sideways scroll, with the cursor's or the pointer's style on top.  A
shift redraws no row; a row whose age moved draws that one cell again.

Line 0 is the header; row i is virtual line i + 1, so the scroll offset
counts rows.  The id column stays on the left while the rest scrolls
sideways.  Cells are cut with "…" to their column (cells.cut), the one
rule the rest of the dashboard follows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from jobctl.tui.cells import JOB_COLUMNS, LABELS, PADDING, cut, job_widths

Cells = Sequence[Text]
KEEP_CELLS = 4000  # drawn cells kept: a few screens' worth
HEADER = ""  # the header line's key among the rows' (job ids)


class JobsTable(ScrollView, can_focus=True):
    """Rows of job cells, newest first, with a row cursor."""

    DEFAULT_CSS = """
    JobsTable {
        background: $surface;
        color: $foreground;
        &:focus {
            background-tint: $foreground 5%;
            & > .jobs-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
        }
        & > .jobs-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        & > .jobs-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        & > .jobs-table--hover {
            background: $block-hover-background;
        }
    }
    """
    COMPONENT_CLASSES = {"jobs-table--header", "jobs-table--cursor", "jobs-table--hover"}
    BINDINGS = [
        Binding("up", "cursor(-1)", show=False),
        Binding("down", "cursor(1)", show=False),
        Binding("pageup", "cursor_page(-1)", show=False),
        Binding("pagedown", "cursor_page(1)", show=False),
        Binding("home", "cursor_to(0)", show=False),
        Binding("end", "cursor_to(-1)", show=False),
        Binding("left", "sideways(-1)", show=False),
        Binding("right", "sideways(1)", show=False),
    ]

    # Rows from the top that the user sees, for the poller: kept here by the
    # UI, since a widget's geometry cannot be asked for from the poller's
    # thread (it needs the app's context, gone as a screen changes).
    in_sight: int | None = None

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._keys: list[str] = []
        self._cells: dict[str, Cells] = {}
        self._index: dict[str, int] = {}
        self.cursor_row = 0
        self.hover_row = -1
        self._widths = self._column_widths(120)
        # Drawn rows: key -> (the cells drawn, that drawing, whole width).
        self._drawn: dict[str, tuple[Cells, Strip]] = {}
        # Drawn cells: id(cell) -> (cell, width, segments); the very cell
        # object is kept and checked, since the id of a cell gone is reused.
        self._drawn_cells: dict[int, tuple[Text, int, list[Segment]]] = {}
        # Lines on screen: key -> (the drawn row, how it is shown, the line).
        self._lines: dict[str, tuple[Strip, tuple[Any, ...], Strip]] = {}
        self._header: Strip | None = None

    # -- what it holds ---------------------------------------------------------

    @property
    def row_keys(self) -> list[str]:
        """The rows' keys (job ids), top to bottom."""
        return list(self._keys)

    @property
    def row_count(self) -> int:
        return len(self._keys)

    @property
    def cursor_key(self) -> str | None:
        """The key of the row under the cursor; None when there are no rows."""
        return self._keys[self.cursor_row] if self._keys else None

    def get_row_at(self, index: int) -> Cells:
        return self._cells[self._keys[index]]

    def get_row_index(self, key: str) -> int:
        return self._index[key]

    def get_cell(self, key: str, column: str) -> Text:
        return self._cells[key][JOB_COLUMNS.index(column)]

    def column_widths(self) -> list[tuple[str, int]]:
        """(column, width on screen with its padding), left to right."""
        return list(zip(JOB_COLUMNS, self._widths, strict=True))

    def set_rows(self, rows: Mapping[str, Cells]) -> None:
        """Hold `rows` ({key: cells}, top to bottom).  The cursor stays on its
        row's key while that row is still there, wherever it moved to; the
        lines drawn again are those whose row changed or moved."""
        keys = list(rows)
        selected = self.cursor_key
        moved = keys != self._keys
        changed = [key for key in keys if not moved and rows[key] is not self._cells.get(key)]
        self._keys, self._cells = keys, dict(rows)
        if moved:
            self._index = {key: index for index, key in enumerate(keys)}
            for kept in (self._drawn, self._lines):
                for key in [key for key in kept if key not in self._cells and key != HEADER]:
                    del kept[key]
            self.virtual_size = Size(sum(self._widths), len(keys) + 1)
            if selected in self._index:
                self.cursor_row = self._index[selected]
            self.cursor_row = max(0, min(self.cursor_row, len(keys) - 1))
            if self.hover_row >= len(keys):  # the pointer is over no row now
                self.hover_row = -1
            self.refresh()
            return
        for key in changed:
            self.refresh_line(self._index[key] + 1)

    def clear(self) -> None:
        self.set_rows({})

    # -- the cursor ------------------------------------------------------------

    def move_cursor(self, *, row: int, animate: bool = False, scroll: bool = True) -> None:
        """Put the cursor on row `row` (clamped to the rows there are);
        `scroll`: scroll it into sight."""
        if not self._keys:
            return
        row = max(0, min(row, len(self._keys) - 1))
        if row != self.cursor_row:
            self.refresh_line(self.cursor_row + 1)
            self.cursor_row = row
            self.refresh_line(row + 1)
        if scroll:
            self._scroll_into_sight(row, animate)

    def _rows_in_view(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)  # the header's line

    def _scroll_into_sight(self, row: int, animate: bool) -> None:
        top, rows = int(self.scroll_y), self._rows_in_view()
        if row < top:
            self.scroll_to(y=row, animate=animate)
        elif row >= top + rows:
            self.scroll_to(y=row - rows + 1, animate=animate)

    def action_cursor(self, step: int) -> None:
        self.move_cursor(row=self.cursor_row + step)

    def action_cursor_page(self, step: int) -> None:
        self.move_cursor(row=self.cursor_row + step * self._rows_in_view())

    def action_cursor_to(self, row: int) -> None:
        self.move_cursor(row=row if row >= 0 else len(self._keys) - 1)

    def action_sideways(self, step: int) -> None:
        """One column to the right or left (the id column stays)."""
        starts, x = [0], 0
        for width in self._widths[1:]:
            x += width
            starts.append(x)
        now = int(self.scroll_x)
        if step > 0:
            target = next((s for s in starts if s > now), now)
        else:
            target = max((s for s in starts if s < now), default=0)
        self.scroll_to(x=min(target, self.max_scroll_x), animate=False)

    # -- the pointer -----------------------------------------------------------

    def _row_at(self, event: events.MouseEvent) -> int | None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1:  # outside, or the header
            return None
        row = offset.y - 1 + int(self.scroll_y)
        return row if row < len(self._keys) else None

    def on_click(self, event: events.Click) -> None:
        row = self._row_at(event)
        if row is not None:
            self.move_cursor(row=row, scroll=False)

    def on_mouse_move(self, event: events.MouseMove) -> None:
        self._hover(self._row_at(event))

    def on_leave(self, event: events.Leave) -> None:
        self._hover(None)

    def _hover(self, row: int | None) -> None:
        row = -1 if row is None else row
        if row != self.hover_row:
            self.refresh_line(self.hover_row + 1)
            self.hover_row = row
            self.refresh_line(row + 1)

    # -- geometry --------------------------------------------------------------

    @staticmethod
    def _column_widths(table_width: int) -> list[int]:
        widths = job_widths(table_width)
        return [widths[column] + 2 * PADDING for column in JOB_COLUMNS]

    def on_resize(self, event: events.Resize) -> None:
        """Job and error share the width the fixed columns leave: the cells
        are cut again to their new widths when drawn."""
        widths = self._column_widths(event.size.width)
        if widths != self._widths:
            self._widths = widths
            self._forget_drawings()
        self.virtual_size = Size(sum(self._widths), len(self._keys) + 1)
        self._sight(int(self.scroll_y) + self._rows_in_view())

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._sight(int(new_value) + self._rows_in_view())

    def _sight(self, rows: int) -> None:
        grew = rows > (self.in_sight or 0)
        self.in_sight = rows
        if grew:
            self.sight_grew()

    def sight_grew(self) -> None:
        """More rows came into sight (a scroll, a taller window): for the
        app, which may have read only the top of the page."""

    def notify_style_update(self) -> None:
        super().notify_style_update()  # a new theme: everything looks different
        self._forget_drawings()

    def _forget_drawings(self) -> None:
        self._drawn.clear()
        self._drawn_cells.clear()
        self._lines.clear()
        self._header = None
        self.refresh()

    # -- drawing ---------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.visual_style.rich_style  # kept by Textual until the styles change
        if y == 0:
            key, role = HEADER, ""
            drawn = self._header_line()
        else:
            row = y - 1 + int(self.scroll_y)
            if row >= len(self._keys):
                return Strip.blank(width, base)
            key = self._keys[row]
            drawn = self._row_line(key)
            role = "cursor" if row == self.cursor_row else "hover" if row == self.hover_row else ""
        # The very same Strip as last time when nothing about the line
        # changed: the compositor keeps its cuts of a Strip it has seen.
        shown = (role, int(self.scroll_x), width, base)
        kept = self._lines.get(key)
        if kept is not None and kept[0] is drawn and kept[1] == shown:
            return kept[2]
        line = self._on_screen(drawn, *shown)
        self._lines[key] = (drawn, shown, line)
        return line

    def _on_screen(self, line: Strip, role: str, scroll_x: int, width: int, base: Style) -> Strip:
        """A drawn row as a line on screen: the widget's style under its
        cells', the pointer's under them or the cursor's over them; the id
        column, then the rest from the sideways scroll on, as wide as the widget."""
        if role == "hover":  # a background under the cells' colours
            line = line.apply_style(base + self.get_component_rich_style("jobs-table--hover"))
        else:
            line = line.apply_style(base)
        if role == "cursor":  # over the cells' colours, as DataTable's cursor
            over = self.get_component_rich_style("jobs-table--cursor")
            line = Strip(Segment.apply_style(line, post_style=over), line.cell_length)
        if scroll_x:
            fixed = self._widths[0]
            start = fixed + scroll_x
            line = Strip.join([line.crop(0, fixed), line.crop(start, start + width - fixed)])
        return line.crop_extend(0, width, base)

    def _header_line(self) -> Strip:
        if self._header is None:
            style = self.get_component_rich_style("jobs-table--header")
            labels = [Text(LABELS.get(column, column)) for column in JOB_COLUMNS]
            segments = self._segments(labels)
            self._header = Strip(segments, sum(self._widths)).apply_style(style)
        return self._header

    def _row_line(self, key: str) -> Strip:
        cells = self._cells[key]
        kept = self._drawn.get(key)
        if kept is not None and kept[0] is cells:
            return kept[1]
        line = Strip(self._segments(cells), sum(self._widths))
        self._drawn[key] = (cells, line)
        return line

    def _segments(self, cells: Iterable[Text]) -> list[Segment]:
        """A row's segments, runs of one style joined: Textual styles, filters
        and cuts every line on screen segment by segment at each refresh,
        so a row of 8 segments costs a third of one of 24."""
        segments: list[Segment] = []
        kept = self._drawn_cells
        for cell, width in zip(cells, self._widths, strict=True):
            found = kept.get(id(cell))
            if found is None or found[0] is not cell or found[1] != width:
                if len(kept) >= KEEP_CELLS:
                    kept.clear()
                found = kept[id(cell)] = (cell, width, self._draw_cell(cell, width))
            segments.extend(found[2])
        return list(Segment.simplify(segments))

    def _draw_cell(self, cell: Text, width: int) -> list[Segment]:
        """`cell` in `width` cells: padding, its text cut with "…", spaces after.
        The spaces take the style of the text beside them when that looks the
        same on a space (a colour, bold), so that they join its segment."""
        inner = width - 2 * PADDING
        text = cut(cell, inner)
        drawn = [
            Segment(seg.text, seg.style or NO_STYLE)
            for seg in text.render(self.app.console)
            if seg.text
        ]
        used = sum(seg.cell_length for seg in drawn)
        left = _blank_alike(drawn[0].style) if drawn else NO_STYLE
        right = _blank_alike(drawn[-1].style) if drawn else NO_STYLE
        return [
            Segment(" " * PADDING, left),
            *drawn,
            Segment(" " * (inner - used + PADDING), right),
        ]


NO_STYLE = Style()


def _blank_alike(style: Style | None) -> Style:
    """`style` if spaces drawn in it look like unstyled ones, else no style."""
    if style is None or style.bgcolor is not None or style.reverse:
        return NO_STYLE
    if any(
        (style.underline, style.strike, style.overline, style.underline2, style.frame)
        + (style.encircle, style.link)
    ):
        return NO_STYLE
    return style
