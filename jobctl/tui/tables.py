"""Filling a DataTable in place: any change to a DataTable redraws every row
on screen, so a table whose rows did not change is left alone, and one
whose rows did gets only its changed cells rewritten."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.segment import Segment
from rich.style import Style
from textual.widgets import DataTable

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


class KeptCells(DataTable):
    """A DataTable that draws a row, or a cell, again only when it changed.

    DataTable keys its drawing caches on a counter that any change moves,
    so one new row redraws every cell on screen, and drawing is costly (rich
    lays out each cell, textual styles each line).  Here each drawn line of
    a row is kept by the cell objects it shows, and each drawn cell by its
    cell object: a row moved by rows added above it is reused with only its
    row number (which a click reports) put right, and a row with one new
    cell (its age) draws only that cell.  For row cursors only; cells must
    be replaced, never changed in place (update_cell replaces them).
    """

    KEEP = 4000  # drawn rows and cells kept, each: a few screens' worth

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._drawn: dict[tuple[Any, ...], tuple[Any, int, Any]] = {}
        self._drawn_rows: dict[tuple[Any, ...], tuple[Any, int, Any]] = {}

    def remove_row(self, row_key: Any) -> None:
        # DataTable.remove_row lays the whole screen out again, every widget
        # redrawn.  Not needed: the table's size is worked out when it is
        # idle, and a size that changed lays the screen out then.
        self._no_layout = True
        try:
            super().remove_row(row_key)
        finally:
            self._no_layout = False

    def refresh(
        self, *regions: Any, repaint: bool = True, layout: bool = False, recompose: bool = False
    ) -> Any:
        layout = layout and not getattr(self, "_no_layout", False)
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def notify_style_update(self) -> None:
        # A new theme or focus style: everything looks different.
        self._drawn.clear()
        self._drawn_rows.clear()
        super().notify_style_update()

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
        pair = _reuse(self._drawn_rows, key, cells, row_index)
        if pair is None:
            pair = draw(row_key, line_no, base_style, cursor_location, hover_location)
        _keep(self._drawn_rows, self.KEEP, key, cells, row_index, pair)
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
        lines = _reuse(self._drawn, key, (cell,), row_index)
        if lines is None:
            lines = draw(row_index, column_index, base_style, width, cursor, hover)
        _keep(self._drawn, self.KEEP, key, (cell,), row_index, lines)
        return lines


def _reuse(kept: dict[Any, Any], key: Any, cells: tuple[Any, ...], row_index: int) -> Any:
    """What was drawn for `key`, its row number put right; None if not kept.
    The very cell objects are checked: the id of a cell gone may be reused."""
    found = kept.get(key)
    if found is None or any(a is not b for a, b in zip(found[0], cells, strict=True)):
        return None
    if found[1] == row_index:
        return found[2]
    return _renumber(found[2], Style.from_meta({"row": row_index}))


def _renumber(drawn: Any, where: Style) -> Any:
    """Lines of segments (or lists of them) with `where` laid over each style."""
    if isinstance(drawn, Segment):
        return Segment(drawn.text, drawn.style + where if drawn.style else where, drawn.control)
    if isinstance(drawn, tuple):
        return tuple(_renumber(part, where) for part in drawn)
    return [_renumber(part, where) for part in drawn]


def _keep(
    kept: dict[Any, Any], most: int, key: Any, cells: Any, row_index: int, drawn: Any
) -> None:
    if len(kept) >= most and key not in kept:
        kept.clear()
    kept[key] = (cells, row_index, drawn)
