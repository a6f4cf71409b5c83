"""Filling a DataTable in place: any change to a DataTable redraws every row
on screen, so a table whose rows did not change is left alone, and one
whose rows did gets only its changed cells rewritten."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from rich.style import Style
from textual import events
from textual._two_way_dict import TwoWayDict
from textual.widgets import DataTable
from textual.widgets._data_table import CellKey

from jobctl.tui.cells import JOB_COLUMNS, clock_texts, fit

if TYPE_CHECKING:
    from jobctl.models import Job

Row = tuple[str, Sequence[Any]]  # (key, cells)


def set_rows(table: DataTable, rows: Sequence[Row]) -> bool:
    """Make `table` hold `rows`, in order; True if anything changed.

    The same keys in the same order: only the cells that differ are
    rewritten.  Other keys or another order: the rows are put in afresh."""
    if [row.key.value for row in table.ordered_rows] != [key for key, _ in rows]:
        table.clear()
        for key, cells in rows:
            table.add_row(*cells, key=key)
        return True
    columns = [column.key for column in table.ordered_columns]
    changed = False
    for key, cells in rows:
        for column, was, value in zip(columns, table.get_row(key), cells, strict=True):
            if was != value:
                table.update_cell(key, column, value)
                changed = True
    return changed


AGE, TOOK = JOB_COLUMNS.index("age"), JOB_COLUMNS.index("took")


class JobRows:
    """The jobs table's cells, per job, made again only when what they show
    changed.  At 20 jobs a second every row on the page is under ten seconds
    old, so every row's age changes each second while the rest of it does
    not: such a row keeps its other cell objects (whose drawing KeptCells
    then reuses) and gets new age and took cells only.  A row where nothing
    shown changed keeps the very same cells, and is not compared again."""

    def __init__(self, make: Callable[[Job, float, bool, str | None], list[Any]]) -> None:
        self.make = make  # cells.job_cells
        self.rows: dict[int, tuple[Any, tuple[str, str], list[Any]]] = {}

    def page(
        self, jobs: Iterable[Job], now: float, paused: set[str], why: dict[int, str]
    ) -> dict[str, list[Any]]:
        """{row key: cells} of `jobs`, in their order, at `now` (whole seconds)."""
        made = {}
        for job in jobs:
            source = (job, job.queue in paused, why.get(job.id))
            clock = clock_texts(job, now)
            old = self.rows.get(job.id)
            if old is None or old[0] != source:
                cells = self.make(job, now, source[1], source[2])
            elif old[1] != clock:
                cells = list(old[2])
                for index, text, was in zip((AGE, TOOK), clock, old[1], strict=True):
                    if text != was:
                        cells[index] = clock_cell(text)
            else:
                cells = old[2]
            made[job.id] = (source, clock, cells)
        self.rows = made
        return {str(job_id): cells for job_id, (_, _, cells) in made.items()}


@functools.lru_cache(maxsize=512)
def clock_cell(text: str) -> Any:
    """One cell object per age text ("3s"), shared by the rows that show it:
    cells are never changed in place, and KeptCells keys drawings by row too."""
    return fit(text)


def fill_page(table: KeptCells, wanted: dict[str, list[Any]]) -> None:
    """Make the jobs table hold `wanted` (newest first): rows gone removed,
    new ones added, cells that are not the very objects shown compared and
    rewritten when they differ."""
    present = {key.value for key in table.rows}
    if present and not present & wanted.keys():
        table.clear()  # another page or filter: nothing to keep
        present = set()
    table.remove_rows(present - wanted.keys())
    data = table._data
    added = False
    for key, cells in wanted.items():
        if key not in present:
            table.add_row(*cells, key=key)
            added = True
            continue
        shown = data[key]  # type: ignore[index]
        for column, value in zip(JOB_COLUMNS, cells, strict=True):
            was = shown[column]  # type: ignore[index]
            if was is not value and was != value:
                table.update_cell(key, column, value)
    if added and present:  # rows came in among kept ones: newest first again
        table.sort("id", key=lambda cell: int(cell.plain), reverse=True)


class KeptCells(DataTable):
    """A DataTable that draws a row, or a cell, again only when it changed.

    DataTable keys its drawing caches on a counter that any change moves,
    so one new row redraws every cell on screen, and drawing is costly (rich
    lays out each cell, textual styles each line).  Here each drawn line of
    a row is kept by the cell objects it shows, and each drawn cell by its
    cell object: a row moved by rows added above it is reused as it is (a
    click or hover works out its row from the line, not from the row number
    drawn in), and a row with one new cell (its age) draws only that cell.
    For row cursors and one-line rows only; cells must be replaced, never
    changed in place (update_cell replaces them).
    """

    KEEP = 4000  # drawn rows and cells kept, each: a few screens' worth

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._drawn: dict[tuple[Any, ...], tuple[Any, int, Any]] = {}
        self._drawn_rows: dict[tuple[Any, ...], tuple[Any, int, Any]] = {}
        self._strips: dict[tuple[Any, ...], tuple[Any, int, Any]] = {}

    def remove_row(self, row_key: Any) -> None:
        # DataTable.remove_row lays the whole screen out again, every widget
        # redrawn.  Not needed: the table's size is worked out when it is
        # idle, and a size that changed lays the screen out then.
        self._no_layout = True
        try:
            super().remove_row(row_key)
        finally:
            self._no_layout = False

    def remove_rows(self, keys: Iterable[str]) -> None:
        """remove_row for many rows at once: remove_row numbers every row
        again for each row it removes (at 20 jobs a second, seven rows go
        from a page of 200 at each read)."""
        gone = {key for key in keys if key in self._row_locations}
        if not gone:
            return
        order = sorted(self._row_locations, key=self._row_locations.get)
        kept = [key for key in order if key.value not in gone]
        self._row_locations = TwoWayDict({key: index for index, key in enumerate(kept)})
        for key in gone:
            for column_key in self._data[key]:
                self._updated_cells.discard(CellKey(key, column_key))
            del self.rows[key]  # type: ignore[arg-type]
            del self._data[key]  # type: ignore[arg-type]
        # As remove_row does, but no layout of the whole screen (see remove_row).
        self._require_update_dimensions = True
        self.check_idle()
        self.cursor_coordinate = self.cursor_coordinate
        self.hover_coordinate = self.hover_coordinate
        self._update_count += 1
        self.refresh()

    def refresh(
        self, *regions: Any, repaint: bool = True, layout: bool = False, recompose: bool = False
    ) -> Any:
        layout = layout and not getattr(self, "_no_layout", False)
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def _on_click(self, event: events.Click) -> None:
        self._row_under(event)  # then DataTable's own handler, next in the MRO

    def _on_mouse_move(self, event: events.MouseMove) -> None:
        self._row_under(event)

    def _row_under(self, event: events.MouseEvent) -> None:
        """A drawn row is reused wherever it moves, so the row number DataTable
        put in its style may be another line's: the row under the pointer is
        worked out from the line instead (every row is one line high)."""
        meta = event.style.meta
        offset = event.get_content_offset(self)
        if offset is None or meta.get("row", -1) < 0:  # the header, or no row there
            return
        row = offset.y + int(self.scroll_y) - (self.header_height if self.show_header else 0)
        if row < self.row_count:
            event.style = event.style + Style.from_meta({"row": row})

    def notify_style_update(self) -> None:
        # A new theme or focus style: everything looks different.
        self._drawn.clear()
        self._drawn_rows.clear()
        self._strips.clear()
        super().notify_style_update()

    def _render_line(self, y: int, x1: int, x2: int, base_style: Style) -> Any:
        # The line as the compositor takes it (a Strip, cropped to the scroll
        # position), kept by the drawn row it is made of.
        try:
            row_key, line_no = self._get_offsets(y)
        except LookupError:
            return super()._render_line(y, x1, x2, base_style)
        pair = self._render_line_in_row(
            row_key,
            line_no,
            base_style,
            cursor_location=self.cursor_coordinate,
            hover_location=self.hover_coordinate,
        )
        key = (id(pair), x1, x2, self.size.width, base_style)
        strip = _reuse(self._strips, key, (pair,))
        if strip is None:
            strip = super()._render_line(y, x1, x2, base_style)
        _keep(self._strips, self.KEEP, key, (pair,), strip)
        return strip

    def _render_line_in_row(
        self,
        row_key: Any,
        line_no: int,
        base_style: Style,
        cursor_location: Any,
        hover_location: Any,
    ) -> Any:
        draw = super()._render_line_in_row
        row_index = self._row_locations.get(row_key)
        if (
            row_index is None  # the header
            or self.cursor_type != "row"
            or (self._labelled_row_exists and self.show_row_labels)
        ):
            return draw(row_key, line_no, base_style, cursor_location, hover_location)
        cells = tuple(self._data[row_key].values())
        key = (
            row_key,
            line_no,
            tuple(map(id, cells)),
            base_style,
            row_index == cursor_location.row,
            row_index == hover_location.row,
            row_index < self.fixed_rows,
            row_index % 2 if self.zebra_stripes else 0,
            tuple(column.get_render_width(self) for column in self.ordered_columns),
            self.size.width,
            self.fixed_columns,
            self.show_cursor,
            self._show_hover_cursor,
            self._pseudo_class_state,
        )
        pair = _reuse(self._drawn_rows, key, cells)
        if pair is None:
            pair = draw(row_key, line_no, base_style, cursor_location, hover_location)
        _keep(self._drawn_rows, self.KEEP, key, cells, pair)
        return pair

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> Any:
        draw = super()._render_cell
        if row_index < 0 or column_index < 0:  # the header, row labels
            return draw(row_index, column_index, base_style, width, cursor, hover)
        row_key = self._row_locations.get_key(row_index)
        column_key = self._column_locations.get_key(column_index)
        cell = self._data[row_key][column_key]
        key = (
            id(cell),
            row_key,
            column_key,
            base_style,
            width,
            cursor,
            hover,
            row_index < self.fixed_rows,
            self.show_cursor,
            self._show_hover_cursor,
            self._pseudo_class_state,
            self.rows[row_key].height,
        )
        lines = _reuse(self._drawn, key, (cell,))
        if lines is None:
            lines = draw(row_index, column_index, base_style, width, cursor, hover)
        _keep(self._drawn, self.KEEP, key, (cell,), lines)
        return lines


def _reuse(kept: dict[Any, Any], key: Any, cells: tuple[Any, ...]) -> Any:
    """What was drawn for `key`; None if not kept.  The very cell objects are
    checked: the id of a cell gone may be reused."""
    found = kept.get(key)
    if found is None or any(a is not b for a, b in zip(found[0], cells, strict=True)):
        return None
    return found[2]


def _keep(kept: dict[Any, Any], most: int, key: Any, cells: Any, drawn: Any) -> None:
    if len(kept) >= most and key not in kept:
        kept.clear()
    kept[key] = (cells, None, drawn)
