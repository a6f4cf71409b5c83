"""Filling tables in place: a DataTable redraws every row on screen after
any change, so a table whose rows did not change is left alone, and one
whose rows did gets only its changed cells rewritten (set_rows).  The jobs
table's cells are made again only when what they show changed (JobRows):
jobs_table.JobsTable draws a row again only for new cell objects."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from textual.widgets import DataTable

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
    not: such a row keeps its other cell objects (whose drawing JobsTable
    then reuses) and gets new age and took cells only.  A row where nothing
    shown changed keeps the very same cells, and is not compared again."""

    def __init__(self, make: Callable[[Job, float, bool, str | None], list[Any]]) -> None:
        self.make = make  # cells.job_cells
        self.rows: dict[int, Made] = {}

    def page(
        self, jobs: Iterable[Job], now: float, paused: set[str], why: dict[int, str]
    ) -> dict[str, list[Any]]:
        """{row key: cells} of `jobs`, in their order, at `now` (whole seconds)."""
        made: dict[int, Made] = {}
        for job in jobs:
            is_paused, waits = job.queue in paused, why.get(job.id)
            old = self.rows.get(job.id)
            if old is None:
                cells, clock = self.make(job, now, is_paused, waits), clock_texts(job, now)
                made[job.id] = (job, is_paused, waits, now, clock, cells, str(job.id))
                continue
            job_was, paused_was, why_was, now_was, clock_was, cells_was, key = old
            if job_was is job and now_was == now and (paused_was, why_was) == (is_paused, waits):
                # The page's older rows are the very Job objects read before
                # (feed.py): at the same second nothing else is looked at.
                made[job.id] = old
                continue
            clock = clock_texts(job, now)
            if (job_was, paused_was, why_was) != (job, is_paused, waits):
                cells = self.make(job, now, is_paused, waits)
            elif clock_was != clock:
                cells = list(cells_was)
                for index, text, was in zip((AGE, TOOK), clock, clock_was, strict=True):
                    if text != was:
                        cells[index] = clock_cell(text)
            else:
                cells = cells_was
            made[job.id] = (job, is_paused, waits, now, clock, cells, key)
        self.rows = made
        return {row[6]: row[5] for row in made.values()}


# What a row was made from, and what it is: (job, paused, why, now, its
# clock_texts, cells, row key).  A plain tuple: a page makes 200 of them.
Made = tuple[Any, bool, "str | None", float, tuple[str, str], list[Any], str]


@functools.lru_cache(maxsize=512)
def clock_cell(text: str) -> Any:
    """One cell object per age text ("3s"), shared by the rows that show it:
    cells are never changed in place, and JobsTable keys drawings by cell object."""
    return fit(text)
