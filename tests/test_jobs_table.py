"""The jobs table widget (tui/jobs_table.py): its keys, its cursor, its
sideways scroll, in a real (headless) Textual app."""

from __future__ import annotations

import asyncio
from typing import Any

from rich.text import Text
from textual.app import App

from jobctl.tui.cells import JOB_COLUMNS, fit
from jobctl.tui.jobs_table import JobsTable


def cells(n: int) -> list[Text]:
    return [Text(str(n)), *(fit(f"{column} of {n}") for column in JOB_COLUMNS[1:])]


class OneTable(App):
    def compose(self) -> Any:
        yield JobsTable(id="jobs-table")


def run(steps: Any, size: tuple[int, int] = (80, 12)) -> None:
    async def go() -> None:
        app = OneTable()
        async with app.run_test(size=size) as pilot:
            table = app.query_one(JobsTable)
            table.focus()
            await steps(app, table, pilot)

    asyncio.run(go())


def test_keys_move_the_cursor_and_keep_it_in_sight() -> None:
    async def steps(app: Any, table: JobsTable, pilot: Any) -> None:
        table.set_rows({str(n): cells(n) for n in range(100, 0, -1)})
        await pilot.pause()
        assert table.cursor_key == "100"
        await pilot.press("down", "down")
        assert table.cursor_key == "98"
        await pilot.press("end")
        await pilot.pause()
        assert table.cursor_key == "1"
        # In sight: the last row is on the screen's last line.
        assert table.scroll_y == table.max_scroll_y
        await pilot.press("pageup")
        assert table.cursor_row == 99 - (12 - 1 - 1)  # a screen of rows, less the header
        await pilot.press("home")
        await pilot.pause()
        assert table.cursor_key == "100" and table.scroll_y == 0
        await pilot.press("up")  # stays on the first row
        assert table.cursor_row == 0

    run(steps)


def test_right_and_left_move_a_column_at_a_time_with_the_id_kept() -> None:
    async def steps(app: Any, table: JobsTable, pilot: Any) -> None:
        table.set_rows({str(n): cells(n) for n in (2, 1)})
        await pilot.pause()
        widths = dict(table.column_widths())
        assert table.max_scroll_x > 0  # 80 columns: the last ones are off screen
        await pilot.press("right")
        await pilot.pause()
        assert table.scroll_x == widths["state"]
        await pilot.press("right")
        await pilot.pause()
        assert table.scroll_x == min(widths["state"] + widths["job"], table.max_scroll_x)
        line = "".join(segment.text for segment in table.render_line(1))
        assert line.startswith(" 2 ")  # the id column, whatever the scroll
        assert "job of 2" not in line
        await pilot.press("left", "left")
        await pilot.pause()
        assert table.scroll_x == 0

    run(steps)


def test_the_cursor_follows_its_row_and_a_row_gone_moves_it_within_the_rows() -> None:
    async def steps(app: Any, table: JobsTable, pilot: Any) -> None:
        table.set_rows({str(n): cells(n) for n in (3, 2, 1)})
        table.move_cursor(row=1)  # on 2
        table.set_rows({str(n): cells(n) for n in (5, 4, 3, 2, 1)})
        assert table.cursor_key == "2"
        table.set_rows({str(n): cells(n) for n in (5, 4)})  # 2 is gone
        assert table.cursor_key in {"5", "4"}
        table.clear()
        assert table.cursor_key is None and table.row_count == 0
        await pilot.press("down")  # no rows: nothing to move

    run(steps)


def test_a_changed_row_is_drawn_again_and_an_unchanged_one_is_the_same_line() -> None:
    async def steps(app: Any, table: JobsTable, pilot: Any) -> None:
        rows = {str(n): cells(n) for n in (2, 1)}
        table.set_rows(rows)
        await pilot.pause()
        first, second = table.render_line(1), table.render_line(2)
        assert table.render_line(1) is first  # kept: the compositor's cuts of it too
        changed = list(rows["1"])
        changed[JOB_COLUMNS.index("state")] = fit("failed", "red")
        table.set_rows({"2": rows["2"], "1": changed})
        assert table.render_line(1) is first
        assert table.render_line(2) is not second
        assert "failed" in "".join(segment.text for segment in table.render_line(2))

    run(steps)


def test_more_rows_in_sight_tell_the_app_and_a_hover_over_no_row_is_dropped() -> None:
    grew: list[int] = []

    class Telling(JobsTable):
        def sight_grew(self) -> None:
            grew.append(self.in_sight or 0)

    class TellingApp(App):
        def compose(self) -> Any:
            yield Telling(id="jobs-table")

    async def go() -> None:
        app = TellingApp()
        async with app.run_test(size=(80, 12)) as pilot:
            table = app.query_one(Telling)
            table.set_rows({str(n): cells(n) for n in range(100, 0, -1)})
            await pilot.pause()
            told = len(grew)
            table.scroll_to(y=50, animate=False)  # the app reads rows it may not have
            await pilot.pause()
            assert len(grew) == told + 1 and grew[-1] > 50
            table.scroll_to(y=0, animate=False)  # fewer: nothing to read
            await pilot.pause()
            assert len(grew) == told + 1
            table.hover_row = 8
            table.set_rows({str(n): cells(n) for n in (3, 2, 1)})
            assert table.hover_row == -1

    asyncio.run(go())
